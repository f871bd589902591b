"""Query the benchmark table: one row per architecture, vectorized lookups, Pareto fronts.

:meth:`Benchmark.open` combines the user's store (``$CALNAS_HOME``, else ``~/.calnas``, or the
path given) with the read-only demo table embedded in the package (``bench/data/*.parquet``,
source ``demo``) when it is present. Nothing is read at open time; the first query of a
(space, dataset) reads only that dataset's files.

**Selecting rows.** Every source keeps its own training schedules, so a query picks, per source:
``hp`` (length of the training schedule; default: the longest the source has, 200 for TSS and 90
for SSS in the published data) and ``epoch`` (default: the end of that schedule). Rows of several
seeds are averaged (``seed=`` picks one; -1 marks a value that is not one seed's).

**Source priority.** When several sources hold a value for the same (architecture, metric), the
first of ``official > robustness > computed > nats > nb201 > demo`` wins
(``schema.SOURCE_PRIORITY``); ``source=`` restricts a query to one source. The ``source``
column says where a row's values came from (``"official+computed"`` when they came from two).

**Isomorphic TSS cells.** Rows exist for all 15,625 TSS indices: an index that a source lacks is
filled from its isomorphism-class representative (``bench.arch.spaces`` ``representatives()``) when
the source holds that one, and the ``copied`` column says so.

Every query, of one architecture or of many, takes one path (``bench.table.selection``): each
source's selected rows, read once per selection and column and cached, then merged by priority.
Opening and querying import numpy, never torch, nor pandas (only the methods that return a
DataFrame import it), nor, when the store's sidecars are fresh, pyarrow (see
``bench.table.sidecar``). NATS-Bench's verbs are in ``bench.table.nats``.

Example (an empty store, so the embedded demo table, ``digits``, answers):
    >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
    >>> row = bench.query("tss", "digits", 0, ["acc", "pre_ECE_15"])
    >>> row["source"], sorted(row["values"])
    ('demo', ['acc', 'pre_ECE_15'])
    >>> front = bench.pareto_front("tss", "digits", ["acc", "pre_ECE_15"])
    >>> bool(front["acc"].is_monotonic_decreasing)
    True
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench.arch.spaces import SPACES, get_space
from bench.errors import InputError
from bench.table.catalog import Catalog, MissingEntry
from bench.table.embedded import DEMO_DIR
from bench.table.pareto import front_directions, pareto_front
from bench.table.reader import check_space_dataset, pick_run
from bench.table.schema import check_columns, direction
from bench.table.selection import Merged, Selection, source_mask
from bench.table.store import Store, default_path

if TYPE_CHECKING:  # imported where used: a query needs neither pandas nor the NATS facade
    import numpy as np
    import pandas as pd

    from bench.table.nats import NATSBench

__all__ = ["Benchmark"]

_V = TypeVar("_V")
#: selections kept per Benchmark: a loop over epochs or seeds would otherwise keep every one
_CACHED_SELECTIONS = 256


def _remember(cache: dict[Any, _V], key: Any, value: _V) -> _V:
    """``cache[key] = value``, dropping the oldest entries beyond :data:`_CACHED_SELECTIONS`."""
    cache[key] = value
    while len(cache) > _CACHED_SELECTIONS:
        del cache[next(iter(cache))]
    return value


class Benchmark(Catalog):
    """The benchmark table: the user's store plus the embedded demo table.

    Use :meth:`open` rather than the constructor. What the tables hold (``tables``, ``info``,
    ``sources``, ``columns``, ``epochs``, ``hps``) comes from :class:`~bench.table.catalog.Catalog`.

    Example:
        >>> bench = Benchmark.open("/tmp/calnas-doc-bench")  # an empty store, and the demo
        >>> [(t["space"], t["dataset"], t["source"]) for t in bench.info()]
        [('sss', 'digits', 'demo'), ('tss', 'digits', 'demo'), ('sss', 'fashion8', 'demo'),
         ('tss', 'fashion8', 'demo')]
    """

    def __init__(self, store: Store, *, demo_dir: Path | None = DEMO_DIR, space: str = "tss"):
        super().__init__(store, demo_dir)
        self.default_space = space
        self._selections: dict[tuple[Any, ...], Selection | None] = {}
        self._merged: dict[tuple[Any, ...], Merged] = {}
        self._facades: dict[str, NATSBench] = {}

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, demo: bool = True, space: str = "tss"
    ) -> Benchmark:
        """Open the benchmark at ``path`` (default ``$CALNAS_HOME``, else ``~/.calnas``).

        The directory need not exist yet (an empty benchmark, plus the demo table). ``demo=False``
        leaves out the embedded demo table; ``space`` is the default of the NATS-style methods.

        Example:
            >>> Benchmark.open("/tmp/calnas-doc-bench", demo=False).store.root.name
            'calnas-doc-bench'
        """
        if space not in SPACES:
            raise InputError(f"unknown space {space!r}; accepted: {', '.join(SPACES)}")
        store = Store(path if path is not None else default_path())
        return cls(store, demo_dir=DEMO_DIR if demo else None, space=space)

    def __repr__(self) -> str:
        return f"Benchmark({str(self.store.root)!r}, tables={len(self.tables())})"

    def refresh(self) -> None:
        """Forget cached tables and values (after writing to the store from this process)."""
        super().refresh()
        self._selections.clear()
        self._merged.clear()

    # -- selections ----------------------------------------------------------------------------
    def _selection(
        self,
        space: str,
        dataset: str,
        source: str,
        hp: int | None,
        epoch: int | None,
        seed: int | None,
    ) -> Selection | None:
        key = (space, dataset, source, hp, epoch, seed)
        if key not in self._selections:
            table = self.tables()[(space, dataset, source)]
            picked = pick_run(table.schedule, hp, epoch)
            sel = None if picked is None else Selection(table, *picked, seed)
            _remember(self._selections, key, None if sel is None or sel.empty else sel)
        return self._selections[key]

    def selection(
        self,
        space: str,
        dataset: str,
        source: str | None,
        hp: int | None,
        epoch: int | None,
        seed: int | None,
    ) -> Merged:
        """The rows a request selects, per source and merged by priority (cached).

        Args:
            space: the table's space.
            dataset: the table's dataset.
            source: one source, or None for all of them in priority order.
            hp: the training schedule (None: the longest one a source holds).
            epoch: the epoch (None: the end of the schedule).
            seed: one seed's rows (None: the mean over every seed).

        Raises:
            InputError: unknown space, dataset or source.
            MissingEntry: no source holds rows for that selection.

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> bench.selection("tss", "digits", None, None, None, None).sources
            ('demo',)
        """
        hp = None if hp is None else int(hp)
        epoch = None if epoch is None else int(epoch)
        seed = None if seed is None else int(seed)
        key = (space, dataset, source, hp, epoch, seed)
        if key in self._merged:
            return self._merged[key]
        names = self._select_sources(space, dataset, source)
        slices = [(s, self._selection(space, dataset, s, hp, epoch, seed)) for s in names]
        slices = [(s, sel) for s, sel in slices if sel is not None]
        if not slices:
            raise MissingEntry(
                f"no rows for {space}/{dataset} at hp={hp}, epoch={epoch}, seed={seed} "
                f"(sources: {', '.join(names)}; "
                f"epochs there: {self.epochs(space, dataset, source)})"
            )
        return _remember(self._merged, key, Merged(slices))

    def _metrics(self, res: Merged, metrics: Sequence[str] | str | None, where: str) -> list[str]:
        if metrics is None:
            names = list(res.available)
        else:
            if isinstance(metrics, str):
                metrics = [metrics]
            names = list(dict.fromkeys(check_columns(metrics)))
            absent = [m for m in names if m not in res.available]
            if absent:
                raise MissingEntry(
                    f"no source holds {', '.join(absent)} for {where}; available: "
                    f"{', '.join(sorted(res.available)) or 'nothing'}"
                )
        res.load(names)
        return names

    # -- queries -------------------------------------------------------------------------------
    def query(
        self,
        space: str,
        dataset: str,
        arch_or_index: str | int,
        metrics: Sequence[str] | str | None = None,
        source: str | None = None,
        epoch: int | None = None,
        *,
        hp: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Values of one architecture: ``{index, arch, source, hp, epoch, copied, values}``.

        A metric the row lacks maps to None; MissingEntry when the row has none of them.

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> row = bench.query("tss", "digits", 0, ["acc"])
            >>> sorted(row), row["source"]
            (['arch', 'copied', 'epoch', 'hp', 'index', 'source', 'values'], 'demo')
        """
        import numpy as np

        if metrics is not None and not isinstance(metrics, (str, list, tuple)):
            with contextlib.suppress(TypeError):  # a one-shot iterable is read once, here
                metrics = list(metrics)
        check_space_dataset(space, dataset)
        if isinstance(arch_or_index, str):
            index, arch = _resolve_arch(space, arch_or_index)
        else:  # the string comes from a table holding the row when it can (cheaper, same)
            index, arch = get_space(space).index(arch_or_index), None
        res = self.selection(space, dataset, source, hp, epoch, seed)
        names = self._metrics(res, metrics, f"{space}/{dataset}")
        if arch is None:
            arch = res.stored_arch(index) or _resolve_arch(space, index)[1]
        at = np.array([index])
        merged = {m: res.merge(m, at) for m in names}
        vals = {m: float(values[0]) for m, (values, _) in merged.items()}
        if all(math.isnan(v) for v in vals.values()):
            raise MissingEntry(
                f"no values of {', '.join(names[:5])}{'...' if len(names) > 5 else ''} for "
                f"{space} index {index} on {dataset} (sources: {', '.join(res.sources)})"
            )
        row_hp, row_epoch, copied = res.rows(at)
        return {
            "index": index,
            "arch": arch,
            "source": res.label(int(source_mask([o for _, o in merged.values()], 1)[0])),
            "hp": int(row_hp[0]),
            "epoch": int(row_epoch[0]),
            "copied": bool(copied[0]),
            "values": {m: (None if math.isnan(v) else v) for m, v in vals.items()},
        }

    def query_many(
        self,
        space: str,
        dataset: str,
        indices: Iterable[int] | np.ndarray,
        metrics: Sequence[str] | str | None = None,
        source: str | None = None,
        epoch: int | None = None,
        *,
        hp: int | None = None,
        seed: int | None = None,
        arch: bool = True,
    ) -> pd.DataFrame:
        """Values of many architectures at once (numpy indexing into a cached dense table).

        Returns one row per requested index, in request order (repeats allowed), with columns
        config, [arch], source, hp, epoch, copied and the metrics; absent values are NaN.

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> rows = bench.query_many("tss", "digits", [0, 11, 0], ["acc"])
            >>> rows["config"].tolist(), list(rows.columns)
            ([0, 11, 0], ['config', 'arch', 'source', 'hp', 'epoch', 'copied', 'acc'])
        """
        import numpy as np

        check_space_dataset(space, dataset)
        n = get_space(space).size
        idx = np.asarray(indices if not isinstance(indices, (int, np.integer)) else [indices])
        if idx.dtype.kind not in "iu":
            if idx.size == 0:
                idx = idx.astype(np.int64)
            else:
                raise InputError(f"indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64, copy=False).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise InputError(f"arch index {bad} is out of range; accepted: 0 <= index < {n}")
        import pandas as pd

        res = self.selection(space, dataset, source, hp, epoch, seed)
        names = self._metrics(res, metrics, f"{space}/{dataset}")
        out: dict[str, Any] = {"config": idx}
        if arch:
            out["arch"] = pd.Categorical.from_codes(idx, dtype=_arch_dtype(space))
        codes, labels = res.source_codes(names)
        key = ("source-dtype", tuple(names))
        if key not in res.cache:
            res.cache[key] = pd.CategoricalDtype(pd.Index(labels, dtype=object))
        out["source"] = pd.Categorical.from_codes(codes[idx], dtype=res.cache[key])
        row_hp, row_epoch, copied = res.rows_all
        out["hp"] = row_hp[idx]
        out["epoch"] = row_epoch[idx]
        out["copied"] = copied[idx]
        for m in names:
            out[m] = res.value(m)[idx]
        return pd.DataFrame(out, copy=False)

    def frame(
        self,
        space: str,
        dataset: str,
        metrics: Sequence[str] | str | None = None,
        *,
        source: str | None = None,
        epoch: int | None = None,
        hp: int | None = None,
        seed: int | None = None,
        complete: bool = False,
    ) -> pd.DataFrame:
        """One row per architecture holding any of ``metrics`` (all of them with ``complete``).

        Sorted by config; columns config, arch, source, hp, epoch, copied, <metrics>.

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> bench.frame("tss", "digits", ["acc", "pre_ECE_15"]).shape
            (15625, 8)
        """
        import numpy as np

        res = self.selection(space, dataset, source, hp, epoch, seed)
        names = self._metrics(res, metrics, f"{space}/{dataset}")
        have = np.stack([~np.isnan(res.value(m)) for m in names])
        keep = have.all(axis=0) if complete else have.any(axis=0)
        return self.query_many(
            space, dataset, np.flatnonzero(keep), names, source, epoch, hp=hp, seed=seed
        )

    def missing(
        self,
        space: str,
        dataset: str,
        metrics: Sequence[str] | str,
        *,
        source: str | None = None,
        epoch: int | None = None,
        hp: int | None = None,
        unique: bool = False,
    ) -> np.ndarray:
        """Sorted indices lacking at least one of ``metrics`` (isomorphic copies count as present).

        ``unique=True`` returns only class representatives (what a compute job needs to run).

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> bench.missing("tss", "digits", ["pre_ECE_15"], unique=True)
            array([], dtype=int64)
            >>> len(bench.missing("tss", "digits", ["auc_svhn"], unique=True))  # never measured
            6466
        """
        import numpy as np

        sp = get_space(space)
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        check_columns(names)
        check_space_dataset(space, dataset)
        lacking = np.zeros(sp.size, dtype=bool)
        try:
            res = self.selection(space, dataset, source, hp, epoch, None)
        except MissingEntry:
            lacking[:] = True
        else:
            for m in names:
                lacking |= np.isnan(res.value(m)) if m in res.available else True
        if unique:
            lacking &= sp.representatives() == np.arange(sp.size)
        return np.flatnonzero(lacking)

    def find_best(
        self,
        space: str,
        dataset: str,
        metric: str,
        *,
        maximize: bool | None = None,
        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
        source: str | None = None,
        epoch: int | None = None,
        hp: int | None = None,
    ) -> dict[str, Any]:
        """The architecture with the best ``metric`` (direction from the schema by default).

        ``bounds`` restricts the candidates, e.g. ``{"params_m": (None, 0.5)}``. Returns the
        :meth:`query` dict of the winner, with ``metric`` and the bounded columns.

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> best = bench.find_best("tss", "digits", "acc", bounds={"params_m": (None, 0.5)})
            >>> best["values"]["params_m"] <= 0.5
            True
        """
        import numpy as np

        bounds = dict(bounds or {})
        names = [metric, *bounds]
        frame = self.frame(space, dataset, names, source=source, epoch=epoch, hp=hp, complete=True)
        for col, (low, high) in bounds.items():
            if low is not None:
                frame = frame[frame[col] >= low]
            if high is not None:
                frame = frame[frame[col] <= high]
        if frame.empty:
            raise MissingEntry(f"no architecture of {space}/{dataset} has {metric} within {bounds}")
        up = direction(metric) == "max" if maximize is None else maximize
        values = frame[metric].to_numpy()
        row = int(np.argmax(values) if up else np.argmin(values))  # first index wins ties
        best = int(frame["config"].iloc[row])
        return self.query(space, dataset, best, names, source, epoch, hp=hp)

    def pareto_front(
        self,
        space: str,
        dataset: str,
        objectives: Sequence[str],
        directions: Sequence[str] | None = None,
        *,
        source: str | None = None,
        epoch: int | None = None,
        hp: int | None = None,
    ) -> pd.DataFrame:
        """Non-dominated architectures for ``objectives`` (rows lacking one are left out).

        ``directions`` ('max'/'min' per objective) default to the schema's. Sorted by the first
        objective, best first.

        Example:
            >>> bench = Benchmark.open("/tmp/calnas-doc-bench")
            >>> front = bench.pareto_front("tss", "digits", ["acc", "params_m"])
            >>> front["acc"].is_monotonic_decreasing, front["params_m"].is_monotonic_decreasing
            (True, True)
        """
        objectives = list(objectives)
        dirs = front_directions(objectives, directions)
        frame = self.frame(
            space, dataset, objectives, source=source, epoch=epoch, hp=hp, complete=True
        )
        return pareto_front(frame, objectives, dirs)

    # -- NATS-Bench-style facade -----------------------------------------------------------------
    def nats(self, space: str | None = None) -> NATSBench:
        """A NATS-Bench-like view of one space (``query_index_by_arch``, ``get_more_info``...)."""
        space = space or self.default_space
        if space not in self._facades:
            from bench.table.nats import NATSBench

            self._facades[space] = NATSBench(self, space)
        return self._facades[space]

    def query_index_by_arch(self, arch: str | int, space: str | None = None) -> int:
        """NATS-Bench's ``query_index_by_arch``: index of an arch string, -1 if not in the space."""
        return self.nats(space).query_index_by_arch(arch)

    def arch(self, index: int, space: str | None = None) -> str:
        """Arch string of an index (NATS-Bench's ``arch``)."""
        return self.nats(space).arch(index)

    def get_more_info(
        self,
        index: int,
        dataset: str,
        iepoch: int | None = None,
        hp: int | str | None = None,
        is_random: bool | int = False,
        space: str | None = None,
    ) -> dict[str, Any]:
        """NATS-Bench's ``get_more_info`` (see :meth:`NATSBench.get_more_info`)."""
        return self.nats(space).get_more_info(index, dataset, iepoch, hp, is_random)


def _resolve_arch(space: str, arch_or_index: str | int) -> tuple[int, str]:
    """(index, arch) of one architecture without building the whole string table (cold start)."""
    import numpy as np

    sp = get_space(space)
    if isinstance(arch_or_index, str):
        code = sp.parse_code(arch_or_index)  # ValueError naming the problem when malformed
        index = int(sp.code_indices(np.array([code]))[0])
        return index, arch_or_index
    index = sp.index(arch_or_index)  # type and range checks
    return index, sp.format_code(sp.codes()[index].tolist())


def _arch_dtype(space: str) -> pd.CategoricalDtype:
    """All arch strings of ``space`` as a categorical dtype: code == NATS index."""
    import pandas as pd

    cache = _ARCH_DTYPES.get(space)
    if cache is None:
        categories = pd.Index(get_space(space).archs(), dtype=object)
        cache = _ARCH_DTYPES[space] = pd.CategoricalDtype(categories)
    return cache


_ARCH_DTYPES: dict[str, pd.CategoricalDtype] = {}
