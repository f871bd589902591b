"""The rows a query selects from each source, and their merge over sources by priority.

- :class:`Selection`: the rows of one source at one (hp, epoch[, seed]): rows of several seeds
  are averaged (:func:`group_mean`), and a TSS index the source lacks reads its
  isomorphism-class representative's row.
- :class:`Merged`: the selections of several sources in priority order, merged per metric: the
  first source holding a value wins.

This is the one query path of :class:`bench.table.benchmark.Benchmark`: for one index or many,
each lookup is a gather from these arrays, whose cost follows the rows a selection holds, not the
size of the space. Everything here imports numpy; nothing imports pandas or torch.

Example:
    >>> import numpy as np, pandas as pd, tempfile
    >>> from bench.table.reader import Table
    >>> from bench.table.store import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.upsert(pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "nats",
    ...     "config": [0, 0, 3], "hp": 200, "epoch": 200, "seed": [777, 888, 777],
    ...     "test_acc": [0.5, 0.7, 0.9]}))
    >>> table = Table("tss", "cifar10", "nats", store.path_for("tss", "cifar10", "nats"))
    >>> merged = Merged([("nats", Selection(table, 200, 200, None))])
    >>> values, origin = merged.merge("test_acc", np.array([0, 3, 25, 1]))
    >>> values.round(3).tolist(), origin.tolist()   # 25 is isomorphic to 3; 1 has no row
    ([0.6, 0.9, 0.9, nan], [0, 0, 0, -1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.arch.spaces import get_space
from bench.table.reader import Table, as_floats
from bench.table.schema import is_value_column

if TYPE_CHECKING:  # imported where used: importing this module is cheap
    import numpy as np

__all__ = ["Selection", "Merged", "group_mean", "source_mask"]


def group_mean(config: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct config, the NaN-skipping mean of its rows of ``values``.

    Sums in row order with Kahan compensation, as pandas' ``groupby().mean()`` does, so the
    means are the ones pandas gives, bit for bit.

    Args:
        config: (rows,) config of each row.
        values: (rows, k) values (NaN: missing).

    Returns:
        (sorted distinct configs, (configs, k) means; NaN where a config has no value).

    Example:
        >>> import numpy as np
        >>> uniq, mean = group_mean(np.array([3, 0, 3]), np.array([[0.5], [0.2], [np.nan]]))
        >>> uniq.tolist(), mean.ravel().tolist()
        ([0, 3], [0.2, 0.5])
    """
    import numpy as np

    uniq, inverse = np.unique(config, return_inverse=True)
    inverse = inverse.ravel()
    g, k = len(uniq), values.shape[1]
    # rank of each row inside its group, in row order: groups are updated one rank at a time
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(g))
    rank = np.empty(len(inverse), dtype=np.int64)
    rank[order] = np.arange(len(inverse)) - starts[inverse[order]]
    total = np.zeros((g, k))
    comp = np.zeros((g, k))
    count = np.zeros((g, k))
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        at = rank == r
        grp = inverse[at]
        val = values[at]
        ok = ~np.isnan(val)
        y = np.where(ok, val - comp[grp], 0.0)
        t = total[grp] + y
        c = np.where(ok, (t - total[grp]) - y, comp[grp])
        comp[grp] = np.where(np.isnan(c), 0.0, c)
        total[grp] = np.where(ok, t, total[grp])
        count[grp] += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)
    return uniq, mean


class Selection:
    """The rows of one source at one (hp, epoch) and seed (None: every seed, averaged).

    ``slot[i]`` is the position, among the selection's distinct configs, of the row answering for
    index ``i``: its own, else (TSS) its isomorphism-class representative's, else -1. Value
    columns are read on demand, only those asked for, averaged over seeds, and cached compactly:
    one value per distinct config, then a NaN, which slot -1 picks. A lookup costs the same for
    one index as for each of many.

    Args:
        table: the source's table.
        hp, epoch: the run (see :func:`pick_run`).
        seed: one seed's rows, or None for the mean over the seeds.

    Example:
        >>> import numpy as np, pandas as pd, tempfile
        >>> from bench.table.store import Store
        >>> store = Store(tempfile.mkdtemp())
        >>> _ = store.upsert(pd.DataFrame({"space": "tss", "dataset": "cifar10",
        ...     "source": "computed", "config": [3], "hp": 200, "epoch": 200, "acc": [0.9]}))
        >>> path = store.path_for("tss", "cifar10", "computed")
        >>> sel = Selection(Table("tss", "cifar10", "computed", path), 200, 200, None)
        >>> idx = np.array([3, 25, 1])  # 25 is isomorphic to 3
        >>> sel.lookup("acc", idx).tolist(), sel.copied_at(idx).tolist()
        ([0.9, 0.9, nan], [False, True, False])
    """

    def __init__(self, table: Table, hp: int, epoch: int, seed: int | None):
        import numpy as np

        self.table, self.hp, self.epoch = table, hp, epoch
        self.seed = None if seed is None else int(seed)
        self.available = [c for c in table.columns if is_value_column(c)]
        self._columns: dict[str, np.ndarray] = {}
        index = table.index
        mask = (index["hp"] == hp) & (index["epoch"] == epoch)
        if seed is not None:
            mask &= index["seed"] == int(seed)
        configs, inverse = np.unique(index["config"][mask].astype(np.int64), return_inverse=True)
        #: whether the source has no row at all in this selection
        self.empty = len(configs) == 0
        # a config with several rows (seeds) is a copy only if every row is one; the trailing
        # entries answer slot -1
        copied = np.ones(len(configs) + 1, dtype=bool)
        np.logical_and.at(copied, inverse.ravel(), index["copied"][mask].astype(bool))
        copied[-1] = False
        self._configs = np.append(configs, -1)
        self._copied = copied
        n = get_space(table.space).size
        self.slot = np.full(n, -1, dtype=np.int64)
        self.slot[configs] = np.arange(len(configs))
        if table.space == "tss" and len(configs) < n:
            # an absent index reads its representative's row (a copy of the same function)
            reps = table.representatives()
            fill = (self.slot < 0) & (self.slot[reps] >= 0)
            self.slot[fill] = self.slot[reps[fill]]

    def load(self, names: Sequence[str]) -> None:
        """Read the value columns ``names`` (those this source has) into the cache."""
        import numpy as np

        wanted = [c for c in dict.fromkeys(names) if c in self.available and c not in self._columns]
        if not wanted:
            return
        got = self.table.arrays(["config", *wanted], hp=self.hp, epoch=self.epoch, seed=self.seed)
        config = got["config"].astype(np.int64)
        values = {c: as_floats(got[c]) for c in wanted}
        ordered = np.sort(config)
        if np.any(ordered[1:] == ordered[:-1]):  # several seeds: their mean
            config, means = group_mean(config, np.stack([values[c] for c in wanted], axis=1))
            values = {c: means[:, i] for i, c in enumerate(wanted)}
        at = np.searchsorted(self._configs[:-1], config)
        for c in wanted:
            arr = np.full(len(self._configs), np.nan)
            arr[at] = values[c]
            self._columns[c] = arr

    def has_row(self, idx: np.ndarray) -> np.ndarray:
        """Whether this source holds a row (its own or a copy) for each index of ``idx``."""
        return self.slot[idx] >= 0

    def own(self, index: int) -> bool:
        """Whether ``index`` has a row of its own here (not its representative's)."""
        return bool(self._configs[self.slot[index]] == index)

    def copied_at(self, idx: np.ndarray) -> np.ndarray:
        """Whether the row answering for each index of ``idx`` is a copy (False: no row)."""
        at = self.slot[idx]
        return self._copied[at] | ((at >= 0) & (self._configs[at] != idx))

    def lookup(self, name: str, idx: np.ndarray) -> np.ndarray | None:
        """Values of column ``name`` for the indices ``idx`` (NaN: no value), None if absent."""
        if name not in self.available:
            return None
        self.load([name])
        return self._columns[name][self.slot[idx]]


def source_mask(origins: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Per index, the bit mask of the sources its values come from (bit i: source i).

    Args:
        origins: one array per metric of the source position of each index's value (-1: none).
        n: the number of indices (the answer's length, also when ``origins`` is empty).

    Example:
        >>> import numpy as np
        >>> source_mask([np.array([0, 1, -1]), np.array([1, 1, -1])], 3).tolist()
        [3, 2, 0]
    """
    import numpy as np

    mask = np.zeros(n, dtype=np.int64)
    for o in origins:
        o = o.astype(np.int64)
        mask |= np.where(o >= 0, np.left_shift(1, np.maximum(o, 0)), 0)
    return mask


class Merged:
    """The selections of one (space, dataset) request over its sources, in priority order.

    For a metric and an index, the first source holding a value wins; a row's hp, epoch and
    ``copied`` come from the first source holding the row. :meth:`merge` and :meth:`rows` answer
    for any indices; :meth:`value`, :meth:`origin`, :attr:`rows_all` and :meth:`source_codes`
    cache the answer for every index, for the methods that look up many.

    Args:
        selections: (source name, its selection) pairs, highest priority first.

    Example:
        >>> import numpy as np, pandas as pd, tempfile
        >>> from bench.table.store import Store
        >>> store = Store(tempfile.mkdtemp())
        >>> for source, acc in (("official", [0.8, np.nan]), ("computed", [0.5, 0.6])):
        ...     _ = store.upsert(pd.DataFrame({"space": "sss", "dataset": "cifar10",
        ...         "source": source, "config": [0, 1], "hp": 90, "epoch": 90, "acc": acc}))
        >>> def select(source):
        ...     path = store.path_for("sss", "cifar10", source)
        ...     return source, Selection(Table("sss", "cifar10", source, path), 90, 90, None)
        >>> merged = Merged([select("official"), select("computed")])
        >>> values, origin = merged.merge("acc", np.array([0, 1]))
        >>> values.tolist(), [merged.sources[o] for o in origin]
        ([0.8, 0.6], ['official', 'computed'])
    """

    def __init__(self, selections: Sequence[tuple[str, Selection]]):
        self.sources = tuple(s for s, _ in selections)
        self.selections = [sel for _, sel in selections]
        self.available = list(dict.fromkeys(c for sel in self.selections for c in sel.available))
        first = self.selections[0] if self.selections else None
        self.n = 0 if first is None else len(first.slot)
        self._dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._rows_all: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._codes: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        #: per-request caches of the callers (pandas dtypes, ...)
        self.cache: dict[Any, Any] = {}

    def load(self, names: Sequence[str]) -> None:
        """Read the columns ``names`` of every source holding them."""
        for sel in self.selections:
            sel.load(names)

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hp, epoch, copied) of the row answering for each index (hp -1: no source has one)."""
        import numpy as np

        hp = np.full(len(idx), -1, dtype=np.int64)
        epoch = np.full(len(idx), -1, dtype=np.int64)
        copied = np.zeros(len(idx), dtype=bool)
        for sel in self.selections:
            first = sel.has_row(idx) & (hp < 0)
            hp[first] = sel.hp
            epoch[first] = sel.epoch
            copied[first] = sel.copied_at(idx)[first]
        return hp, epoch, copied

    def merge(self, name: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, origin) of ``name`` for each index: origin indexes ``sources``, -1: none."""
        import numpy as np

        values = np.full(len(idx), np.nan)
        origin = np.full(len(idx), -1, dtype=np.int8)
        for i, sel in enumerate(self.selections):
            arr = sel.lookup(name, idx)
            if arr is None:
                continue
            take = ~np.isnan(arr) & (origin < 0)
            values[take] = arr[take]
            origin[take] = i
        return values, origin

    def _all(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        if name not in self._dense:
            values, origin = self.merge(name, np.arange(self.n))
            values.flags.writeable = False
            self._dense[name] = values, origin
        return self._dense[name]

    def value(self, name: str) -> np.ndarray:
        """Values of ``name`` for every index (NaN: none), cached."""
        return self._all(name)[0]

    def origin(self, name: str) -> np.ndarray:
        """Source position of ``name``'s value for every index (-1: none), cached."""
        return self._all(name)[1]

    @property
    def rows_all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`rows` of every index, cached."""
        import numpy as np

        if self._rows_all is None:
            self._rows_all = self.rows(np.arange(self.n))
        return self._rows_all

    def label(self, mask: int) -> str:
        """The sources of a bit mask (bit i: ``sources[i]``) joined by '+'."""
        return "+".join(s for i, s in enumerate(self.sources) if mask >> i & 1)

    def source_codes(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per index, a code into labels of the sources its ``names`` values come from (cached).

        Returns:
            (codes: one per index, labels: the distinct labels in bit-mask order).
        """
        import numpy as np

        key = tuple(names)
        if key not in self._codes:
            mask = source_mask([self.origin(m) for m in names], self.n)
            uniq, codes = np.unique(mask, return_inverse=True)
            labels = np.array([self.label(int(m)) for m in uniq], dtype=object)
            self._codes[key] = (codes.ravel(), labels)
        return self._codes[key]

    def stored_arch(self, index: int) -> str | None:
        """The arch string of ``index`` as a selected table's sidecar stores it (the store
        checked it against the space on write), or None when no selection holds its own row."""
        for sel in self.selections:
            side = sel.table.sidecar
            if side is not None and sel.own(index):
                found = side.arch(index)
                if found is not None:
                    return found
        return None
