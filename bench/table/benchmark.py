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

Every query takes one path: the selected rows of each source become dense numpy arrays indexed by
architecture (built once per selection, one column at a time, and cached), merged by priority.
Opening and querying never imports torch, nor pandas (only the methods that return a DataFrame
import it), nor, when the store's sidecars are fresh, pyarrow (see ``bench.table.sidecar``).

Example:
    >>> from bench.table.benchmark import Benchmark
    >>> bench = Benchmark.open("/path/to/bench")                       # doctest: +SKIP
    >>> bench.query("tss", "cifar10", 0, ["acc", "pre_ECE_15"])         # doctest: +SKIP
    {'index': 0, 'arch': '|avg_pool_3x3~0|+...', 'source': 'official', 'epoch': 200, ...}
    >>> bench.pareto_front("tss", "cifar10", ["acc", "pre_ECE_15"])     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bench.arch.spaces import SPACES, get_space
from bench.errors import InputError
from bench.table.schema import (
    DATASETS,
    NATS_EVAL_SETS,
    SOURCE_PRIORITY,
    TRAINING_COLUMNS,
    check_columns,
    column_spec,
    direction,
)
from bench.table.sidecar import Sidecar, parquet_identity
from bench.table.store import Store, TableInfo, default_path

if TYPE_CHECKING:  # imported where used: a single query needs none of them (see query)
    import numpy as np
    import pandas as pd

__all__ = ["Benchmark", "MissingEntry", "NATSBench", "NATSRun", "create", "DEMO_DIR"]

#: Where the embedded demo table lives (package data; may be absent).
DEMO_DIR = Path(__file__).resolve().parents[1] / "data"


class MissingEntry(InputError):
    """The benchmark holds no value for the requested architecture (or metric)."""


def _check_space_dataset(space: str, dataset: str) -> None:
    if space not in SPACES:
        raise InputError(f"unknown space {space!r}; accepted: {', '.join(SPACES)}")
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}")


def _value_column(name: str) -> bool:
    spec = column_spec(name)
    return spec.dtype == "float64" and spec.kind not in ("id", "provenance")


class _Table:
    """One readable parquet file of one (space, dataset, source); metadata is read lazily.

    A store table is read from its sidecar (numpy, memory-mapped) when that is fresh; a stale
    or absent sidecar is rebuilt when no writer holds the table's lock, else the parquet file
    is read with pyarrow. Embedded (demo) tables are always read with pyarrow.
    """

    def __init__(
        self,
        space: str,
        dataset: str,
        source: str,
        path: Path,
        *,
        embedded: bool = False,
        store: Store | None = None,
    ):
        self.space, self.dataset, self.source, self.path = space, dataset, source, path
        self.embedded = embedded
        self.store = store
        self._columns: tuple[str, ...] | None = None
        self._index: dict[str, np.ndarray] | None = None
        self._side: Sidecar | None = None
        self._side_checked = False

    @property
    def sidecar(self) -> Sidecar | None:
        """The fresh sidecar (opened once: it pins one generation of the table), or None."""
        if not self._side_checked:
            self._side_checked = True
            if not self.embedded:
                self._side = Sidecar.open(self.path)
                # stale or absent (a crash between renames, an older calnas): rebuild it unless
                # a writer holds the lock, then the parquet file is read instead; a fresh one of
                # an older format is rewritten likewise, and used as it is when that fails
                outdated = self._side is None or not self._side.current
                stale = outdated and self.store is not None and self.path.is_file()
                if stale and self.store.rebuild_sidecar(
                    self.space, self.dataset, self.source, wait=False
                ):
                    self._side = Sidecar.open(self.path)
        return self._side

    @property
    def columns(self) -> tuple[str, ...]:
        if self._columns is None:
            side = self.sidecar
            if side is not None:
                self._columns = side.names
            else:
                import pyarrow.parquet as pq

                self._columns = tuple(pq.read_schema(self.path).names)
        return self._columns

    @property
    def rows(self) -> int:
        if self.embedded:
            return len(self.index["config"])
        side = self.sidecar
        if side is not None:
            return side.rows
        import pyarrow.parquet as pq

        return pq.read_metadata(self.path).num_rows

    @property
    def index(self) -> dict[str, np.ndarray]:
        """The small integer columns of every row (hp, epoch, config, seed, copied), cached."""
        import numpy as np

        if self._index is None:
            index = self.arrays(["hp", "epoch", "config", "seed", "copied"])
            n = len(index["config"])
            index.setdefault("seed", np.full(n, -1, dtype=np.int64))
            index.setdefault("copied", np.zeros(n, dtype=bool))
            self._index = index
        return self._index

    def arrays(
        self,
        columns: Sequence[str],
        *,
        hp: int | None = None,
        epoch: int | None = None,
        seed: int | None = None,
        config: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Columns (those the table has) of the rows matching the given key values."""
        present = [c for c in dict.fromkeys(columns) if c in self.columns]
        where = {"hp": hp, "epoch": epoch, "seed": seed, "config": config}
        where = {k: int(v) for k, v in where.items() if v is not None}
        side = self.sidecar
        if side is not None and all(side.has(c) for c in present):
            return self._from_sidecar(side, present, where)
        import pyarrow.parquet as pq

        extra = ["space", "dataset"] if self.embedded else []
        read = [c for c in dict.fromkeys([*present, *extra]) if c in self.columns]
        filters = [(k, "=", v) for k, v in where.items()] or None
        table = pq.read_table(self.path, columns=read, filters=filters)
        out = {c: table.column(c).to_numpy(zero_copy_only=False) for c in read}
        if self.embedded:  # one demo file may hold several spaces and datasets
            keep = (out["space"] == self.space) & (out["dataset"] == self.dataset)
            out = {c: out[c][keep] for c in present}
        return out

    def _from_sidecar(
        self, side: Sidecar, present: list[str], where: dict[str, int]
    ) -> dict[str, np.ndarray]:
        import numpy as np

        if not where:
            return {c: side.read(c) for c in present}
        index = self.index
        mask = np.ones(side.rows, dtype=bool)
        for k, v in where.items():
            mask &= index[k] == v
        rows = np.flatnonzero(mask)
        if rows.size and rows[-1] - rows[0] + 1 == rows.size:
            # rows are sorted by (hp, epoch, config, seed): a selection is usually one run
            lo, hi = int(rows[0]), int(rows[-1]) + 1
            return {c: side.read(c, lo, hi) for c in present}
        return {c: side.read(c)[rows] for c in present}

    def representatives(self) -> np.ndarray:
        """Every index's isomorphism-class representative: from the sidecar when it holds them
        (computing them costs a new process ~40 ms), else from the space."""
        side = self.sidecar
        reps = None if side is None else side.representatives()
        return get_space(self.space).representatives() if reps is None else reps

    def read(self, columns: Sequence[str], filters: Any = None) -> pd.DataFrame:
        """The columns as a DataFrame (pyarrow ``filters``), for callers that want one."""
        import pandas as pd
        import pyarrow.parquet as pq

        if filters is None:
            return pd.DataFrame(self.arrays(columns))
        extra = ["space", "dataset"] if self.embedded else []
        present = [c for c in dict.fromkeys([*columns, *extra]) if c in self.columns]
        frame = pq.read_table(self.path, columns=present, filters=filters).to_pandas()
        if self.embedded:
            keep = (frame["space"] == self.space) & (frame["dataset"] == self.dataset)
            frame = frame.loc[keep, [c for c in present if c not in extra or c in columns]]
        return frame


def _group_mean(config: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique configs, per-config NaN-skipping mean of ``values`` (rows, k)).

    Sums in row order with Kahan compensation, as pandas' ``groupby().mean()`` does, so the
    means are the ones pandas gives, bit for bit.
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


class _Slice:
    """The selected rows (one hp, epoch, seed choice) of one source.

    ``slot[i]`` is the position, among the selection's distinct configs, of the row answering for
    index ``i``: its own, else (TSS) its isomorphism-class representative's, else -1. Value
    columns are read on demand, only those asked for, averaged over seeds, and cached compactly:
    one value per distinct config, then a NaN, which slot -1 picks. A lookup costs the same for
    one index as for each of many: there is one way to answer a query.
    """

    def __init__(self, table: _Table, hp: int, epoch: int, seed: int | None):
        import numpy as np

        self.table, self.hp, self.epoch = table, hp, epoch
        self.seed = None if seed is None else int(seed)
        self.available = [c for c in table.columns if _value_column(c)]
        self._columns: dict[str, np.ndarray] = {}
        index = table.index
        mask = (index["hp"] == hp) & (index["epoch"] == epoch)
        if seed is not None:
            mask &= index["seed"] == int(seed)
        configs, inverse = np.unique(index["config"][mask].astype(np.int64), return_inverse=True)
        self.empty = len(configs) == 0
        # a config with several rows (seeds) is a copy only if every row is one; the trailing
        # entries answer slot -1
        copied = np.ones(len(configs) + 1, dtype=bool)
        np.logical_and.at(copied, inverse.ravel(), index["copied"][mask].astype(bool))
        copied[-1] = False
        self.configs = np.append(configs, -1)
        self.copied = copied
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
        values = {c: _floats(got[c]) for c in wanted}
        ordered = np.sort(config)
        if np.any(ordered[1:] == ordered[:-1]):  # several seeds: their mean
            config, means = _group_mean(config, np.stack([values[c] for c in wanted], axis=1))
            values = {c: means[:, i] for i, c in enumerate(wanted)}
        at = np.searchsorted(self.configs[:-1], config)
        for c in wanted:
            arr = np.full(len(self.configs), np.nan)
            arr[at] = values[c]
            self._columns[c] = arr

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Whether this source holds a row (its own or a copy) for each index of ``idx``."""
        return self.slot[idx] >= 0

    def own(self, index: int) -> bool:
        """Whether ``index`` has a row of its own here (not its representative's)."""
        return bool(self.configs[self.slot[index]] == index)

    def copied_at(self, idx: np.ndarray) -> np.ndarray:
        """Whether the row answering for each index of ``idx`` is a copy (False: no row)."""
        at = self.slot[idx]
        return self.copied[at] | ((at >= 0) & (self.configs[at] != idx))

    def lookup(self, name: str, idx: np.ndarray) -> np.ndarray | None:
        """Values of column ``name`` for the indices ``idx`` (NaN: no value), None if absent."""
        if name not in self.available:
            return None
        self.load([name])
        return self._columns[name][self.slot[idx]]


def _floats(values: np.ndarray) -> np.ndarray:
    """A value column as float64 with NaN for missing (pyarrow gives None in object arrays)."""
    import numpy as np

    if values.dtype == object:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return values.astype(np.float64, copy=False)


class _Resolved:
    """The merged view of one (space, dataset, selection) over its sources, in priority order.

    For a metric and an index, the first source (priority order) holding a value wins; a row's
    hp, epoch and ``copied`` come from the first source holding the row. :meth:`merge` answers
    for any indices; :meth:`value`, :meth:`origin` and :attr:`rows_all` cache the answer for
    every index, for the methods that look up many.
    """

    def __init__(self, slices: list[tuple[str, _Slice]], n: int):
        self.sources = tuple(s for s, _ in slices)
        self.slices = [sl for _, sl in slices]
        self.available = list(dict.fromkeys(c for sl in self.slices for c in sl.available))
        self.n = n
        self.cache: dict[Any, Any] = {}
        self._dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._rows_all: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def load(self, names: Sequence[str]) -> None:
        """Read the columns ``names`` of every source holding them."""
        for sl in self.slices:
            sl.load(names)

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hp, epoch, copied) of the row answering for each index (hp -1: no source has one)."""
        import numpy as np

        hp = np.full(len(idx), -1, dtype=np.int64)
        epoch = np.full(len(idx), -1, dtype=np.int64)
        copied = np.zeros(len(idx), dtype=bool)
        for sl in self.slices:
            first = sl.rows(idx) & (hp < 0)
            hp[first] = sl.hp
            epoch[first] = sl.epoch
            copied[first] = sl.copied_at(idx)[first]
        return hp, epoch, copied

    def merge(self, name: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, origin) of ``name`` for each index: origin indexes ``sources``, -1: none."""
        import numpy as np

        values = np.full(len(idx), np.nan)
        origin = np.full(len(idx), -1, dtype=np.int8)
        for i, sl in enumerate(self.slices):
            arr = sl.lookup(name, idx)
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


class Benchmark:
    """The benchmark table: the user's store plus the embedded demo table.

    Use :meth:`open` rather than the constructor.

    Example:
        >>> bench = Benchmark.open("/tmp/calnas-doc-bench", demo=False)
        >>> bench.info()
        []
    """

    def __init__(self, store: Store, *, demo_dir: Path | None = DEMO_DIR, space: str = "tss"):
        self.store = store
        self.demo_dir = demo_dir
        self.default_space = space
        self._tables: dict[tuple[str, str, str], _Table] | None = None
        self._epochs: dict[tuple[str, str, str], np.ndarray] = {}
        self._slices: dict[tuple[Any, ...], _Slice | None] = {}
        self._resolved: dict[tuple[Any, ...], _Resolved] = {}
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
        self._tables = None
        self._epochs.clear()
        self._slices.clear()
        self._resolved.clear()

    # -- tables --------------------------------------------------------------------------------
    def tables(self) -> dict[tuple[str, str, str], _Table]:
        """Readable tables by (space, dataset, source); user tables shadow embedded demo ones."""
        if self._tables is None:
            tables: dict[tuple[str, str, str], _Table] = {}
            if self.demo_dir is not None and self.demo_dir.is_dir():
                for path in sorted(self.demo_dir.glob("*.parquet")):
                    for space, dataset in _embedded_pairs(path):
                        tables[(space, dataset, "demo")] = _Table(
                            space, dataset, "demo", path, embedded=True
                        )
            # the file names say which tables exist: no file is opened until it is queried
            for path in sorted((self.store.root / "tables").glob("*/*/*.parquet")):
                space, dataset, source = path.parent.parent.name, path.parent.name, path.stem
                tables[(space, dataset, source)] = _Table(
                    space, dataset, source, path, store=self.store
                )
            self._tables = tables
        return self._tables

    def info(self) -> list[dict[str, Any]]:
        """One entry per table: space, dataset, source, rows, columns (and whether embedded)."""
        out = []
        for t in self.tables().values():
            d = TableInfo(t.space, t.dataset, t.source, t.path, t.rows, t.columns).as_dict()
            d["embedded"] = t.embedded
            out.append(d)
        return out

    def sources(self, space: str, dataset: str) -> list[str]:
        """Sources holding rows for (space, dataset), in priority order."""
        have = {s for (sp, ds, s) in self.tables() if sp == space and ds == dataset}
        return [s for s in SOURCE_PRIORITY if s in have]

    def columns(self, space: str, dataset: str, source: str | None = None) -> list[str]:
        """Value columns available for (space, dataset) (from one source, or any)."""
        names: dict[str, None] = {}
        for src in [source] if source else self.sources(space, dataset):
            table = self.tables().get((space, dataset, src))
            if table:
                names.update((c, None) for c in table.columns if _value_column(c))
        return list(names)

    def _select_sources(self, space: str, dataset: str, source: str | None) -> list[str]:
        _check_space_dataset(space, dataset)
        available = self.sources(space, dataset)
        if source is None:
            if not available:
                raise MissingEntry(
                    f"the benchmark at {self.store.root} holds nothing for {space}/{dataset}; "
                    "import data first (calnas bench import ...)"
                )
            return available
        if source not in SOURCE_PRIORITY:
            raise InputError(f"unknown source {source!r}; accepted: {', '.join(SOURCE_PRIORITY)}")
        if source not in available:
            raise MissingEntry(
                f"no {source!r} rows for {space}/{dataset}; sources present: "
                f"{', '.join(available) or 'none'}"
            )
        return [source]

    # -- fidelities ----------------------------------------------------------------------------
    def _schedule(self, table: _Table) -> np.ndarray:
        """The (hp, epoch) pairs a table holds, sorted, as an (k, 2) int array."""
        import numpy as np

        key = (table.space, table.dataset, table.source)
        if key not in self._epochs:
            index = table.index
            # one int per pair, sorted: np.unique(axis=0) is slow and imports numpy.ma
            code = np.sort((index["hp"].astype(np.int64) << 32) | index["epoch"].astype(np.int64))
            code = code[np.concatenate(([True], code[1:] != code[:-1]))] if code.size else code
            self._epochs[key] = np.stack([code >> 32, code & 0xFFFFFFFF], axis=1)
        return self._epochs[key]

    def epochs(
        self, space: str, dataset: str, source: str | None = None, hp: int | None = None
    ) -> list[int]:
        """Sorted epochs (fidelities) available for (space, dataset), optionally of one hp.

        Example:
            >>> Benchmark.open("/tmp/calnas-doc-bench", demo=False).epochs("tss", "cifar10")
            ... # doctest: +SKIP
            [200]
        """
        found: set[int] = set()
        for src in self._select_sources(space, dataset, source):
            sched = self._schedule(self.tables()[(space, dataset, src)])
            if hp is not None:
                sched = sched[sched[:, 0] == int(hp)]
            found.update(int(e) for e in sched[:, 1])
        return sorted(found)

    def hps(self, space: str, dataset: str, source: str | None = None) -> list[int]:
        """Sorted training-schedule lengths (hp) available for (space, dataset)."""
        found: set[int] = set()
        for src in self._select_sources(space, dataset, source):
            found.update(int(h) for h in self._schedule(self.tables()[(space, dataset, src)])[:, 0])
        return sorted(found)

    @staticmethod
    def _pick(
        sched: Iterable[Sequence[int]], hp: int | None, epoch: int | None
    ) -> tuple[int, int] | None:
        """The (hp, epoch) a source answers a request with, or None when it cannot.

        ``sched`` is the source's (hp, epoch) pairs (rows of :meth:`_schedule`, or a sidecar's
        runs): plain Python, shared by the numpy and the single-lookup paths.

        Example:
            >>> Benchmark._pick([(12, 1), (12, 12), (200, 199), (200, 200)], None, None)
            (200, 200)
        """
        pairs = [(int(h), int(e)) for h, e in sched]
        if hp is not None:
            pairs = [p for p in pairs if p[0] == hp]
        if epoch is not None:
            pairs = [p for p in pairs if p[1] == epoch]
        if not pairs:
            return None
        best_hp = max(h for h, _ in pairs)
        if epoch is not None:
            return best_hp, int(epoch)
        epochs = [e for h, e in pairs if h == best_hp]
        final = best_hp if best_hp in epochs else max(epochs)
        return best_hp, final

    # -- per-source slices ---------------------------------------------------------------------
    def _slice(
        self,
        space: str,
        dataset: str,
        source: str,
        hp: int | None,
        epoch: int | None,
        seed: int | None,
    ) -> _Slice | None:
        key = (space, dataset, source, hp, epoch, seed)
        if key not in self._slices:
            table = self.tables()[(space, dataset, source)]
            picked = self._pick(self._schedule(table), hp, epoch)
            sl = None if picked is None else _Slice(table, *picked, seed)
            self._slices[key] = None if sl is None or sl.empty else sl
        return self._slices[key]

    def _resolve(
        self,
        space: str,
        dataset: str,
        source: str | None,
        hp: int | None,
        epoch: int | None,
        seed: int | None,
    ) -> _Resolved:
        hp = None if hp is None else int(hp)
        epoch = None if epoch is None else int(epoch)
        seed = None if seed is None else int(seed)
        key = (space, dataset, source, hp, epoch, seed)
        if key in self._resolved:
            return self._resolved[key]
        names = self._select_sources(space, dataset, source)
        slices = [(s, self._slice(space, dataset, s, hp, epoch, seed)) for s in names]
        slices = [(s, sl) for s, sl in slices if sl is not None]
        if not slices:
            raise MissingEntry(
                f"no rows for {space}/{dataset} at hp={hp}, epoch={epoch}, seed={seed} "
                f"(sources: {', '.join(names)}; "
                f"epochs there: {self.epochs(space, dataset, source)})"
            )
        resolved = _Resolved(slices, get_space(space).size)
        self._resolved[key] = resolved
        return resolved

    def _metrics(
        self, res: _Resolved, metrics: Sequence[str] | str | None, where: str
    ) -> list[str]:
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

    def _row_sources(self, res: _Resolved, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per config, a code into labels of the sources its ``names`` values come from (cached)."""
        import numpy as np

        key = ("row-sources", tuple(names))
        cached = res.cache.get(key)
        if cached is None:
            mask = _origin_mask([res.origin(m) for m in names], res.n)
            uniq, codes = np.unique(mask, return_inverse=True)
            labels = np.array([res.label(int(m)) for m in uniq], dtype=object)
            cached = res.cache[key] = (codes.ravel(), labels)
        return cached

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
            >>> bench.query("tss", "cifar10", 0, ["acc"])["values"]   # doctest: +SKIP
            {'acc': 0.8427}
        """
        import numpy as np

        if metrics is not None and not isinstance(metrics, (str, list, tuple)):
            with contextlib.suppress(TypeError):  # a one-shot iterable is read once, here
                metrics = list(metrics)
        _check_space_dataset(space, dataset)
        if isinstance(arch_or_index, str):
            index, arch = _resolve_arch(space, arch_or_index)
        else:  # the string comes from a table holding the row when it can (cheaper, same)
            index, arch = get_space(space).index(arch_or_index), None
        res = self._resolve(space, dataset, source, hp, epoch, seed)
        names = self._metrics(res, metrics, f"{space}/{dataset}")
        if arch is None:
            arch = _stored_arch(res, index) or _resolve_arch(space, index)[1]
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
            "source": res.label(int(_origin_mask([o for _, o in merged.values()], 1)[0])),
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
            >>> bench.query_many("tss", "cifar10", [0, 11, 0], ["acc"])   # doctest: +SKIP
        """
        import numpy as np

        _check_space_dataset(space, dataset)
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

        res = self._resolve(space, dataset, source, hp, epoch, seed)
        names = self._metrics(res, metrics, f"{space}/{dataset}")
        out: dict[str, Any] = {"config": idx}
        if arch:
            out["arch"] = pd.Categorical.from_codes(idx, dtype=_arch_dtype(space))
        codes, labels = self._row_sources(res, names)
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
            >>> bench.frame("tss", "cifar10", ["acc", "pre_ECE_15"]).shape   # doctest: +SKIP
            (15625, 8)
        """
        import numpy as np

        res = self._resolve(space, dataset, source, hp, epoch, seed)
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
            >>> bench.missing("tss", "cifar10", ["pre_ECE_15"], unique=True)   # doctest: +SKIP
            array([], dtype=int64)
        """
        import numpy as np

        sp = get_space(space)
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        check_columns(names)
        _check_space_dataset(space, dataset)
        lacking = np.zeros(sp.size, dtype=bool)
        try:
            res = self._resolve(space, dataset, source, hp, epoch, None)
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
            >>> bench.find_best("tss", "cifar10", "acc", bounds={"params_m": (None, 0.5)})
            ... # doctest: +SKIP
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
            >>> bench.pareto_front("tss", "cifar10", ["acc", "pre_ECE_15"])   # doctest: +SKIP
        """
        import numpy as np

        objectives = list(objectives)
        if not objectives:
            raise InputError("pareto_front needs at least one objective")
        dirs = list(directions) if directions is not None else [direction(o) for o in objectives]
        if len(dirs) != len(objectives) or any(d not in ("max", "min") for d in dirs):
            raise InputError(f"directions must be 'max' or 'min', one per objective; got {dirs}")
        frame = self.frame(
            space, dataset, objectives, source=source, epoch=epoch, hp=hp, complete=True
        )
        signs = np.array([-1.0 if d == "max" else 1.0 for d in dirs])
        points = frame[objectives].to_numpy(dtype=np.float64) * signs
        keep = _non_dominated(points)
        front = frame.iloc[np.flatnonzero(keep)]
        return front.sort_values(
            objectives[0], ascending=dirs[0] == "min", kind="stable"
        ).reset_index(drop=True)

    # -- NATS-Bench-style facade -----------------------------------------------------------------
    def nats(self, space: str | None = None) -> NATSBench:
        """A NATS-Bench-like view of one space (``query_index_by_arch``, ``get_more_info``...)."""
        space = space or self.default_space
        if space not in self._facades:
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


def _cache_dir() -> Path:
    """Per-user cache directory (``$XDG_CACHE_HOME/calnas``, else ``~/.cache/calnas``)."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "calnas"


def _embedded_pairs(path: Path) -> list[tuple[str, str]]:
    """The (space, dataset) pairs an embedded parquet file holds, in order of appearance.

    Cached in the user's cache directory, keyed by the file's identity (inode, size, mtime,
    footer hash), so that opening a benchmark does not import pyarrow to learn that the demo
    table holds nothing for the queried dataset. A cache that cannot be written is skipped.
    """
    cache = _cache_dir() / "embedded-tables.json"
    try:
        with open(path, "rb") as fh:
            identity = parquet_identity(fh)
    except (OSError, ValueError):
        identity = None
    entries: dict[str, Any] = {}
    try:
        entries = json.loads(cache.read_text())
        entry = entries.get(str(path))
        if identity is not None and entry and entry.get("identity") == identity:
            return [(str(s), str(d)) for s, d in entry["pairs"]]
    except (OSError, ValueError, AttributeError, TypeError):
        entries = {}
    import pyarrow.parquet as pq

    ids = pq.read_table(path, columns=["space", "dataset"])
    pairs = list(
        dict.fromkeys(
            zip(ids.column("space").to_pylist(), ids.column("dataset").to_pylist(), strict=True)
        )
    )
    if identity is not None:
        entries = entries if isinstance(entries, dict) else {}
        entries[str(path)] = {"identity": identity, "pairs": pairs}
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(entries))
            os.replace(tmp, cache)
        except OSError:  # no cache then: the next open reads the file again
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return pairs


def _stored_arch(res: _Resolved, index: int) -> str | None:
    """The arch string of ``index`` as a table's sidecar stores it (the store checked it
    against the space on write), or None when no selected table holds that row."""
    for sl in res.slices:
        side = sl.table.sidecar
        if side is not None and sl.own(index):
            found = side.arch(index)
            if found is not None:
                return found
    return None


def _origin_mask(origins: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Per index (``n`` of them), the bit mask of the sources (bit i: ``sources[i]``) that the
    values of ``origins`` (one array of source positions per metric, -1: none) come from."""
    import numpy as np

    mask = np.zeros(n, dtype=np.int64)
    for o in origins:
        o = o.astype(np.int64)
        mask |= np.where(o >= 0, np.left_shift(1, np.maximum(o, 0)), 0)
    return mask


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


def _non_dominated(points: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``points`` (minimized) that no other row dominates."""
    import numpy as np

    n = len(points)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    order = np.lexsort(points.T[::-1])  # by first objective, then the next ones
    front: list[int] = []
    pts = points[order]
    for pos in range(n):
        p = pts[pos]
        if front:
            f = pts[front]
            # sorted order: only an earlier point can dominate; equal points are all kept
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
        front.append(pos)
    keep[order[front]] = True
    return keep


# -- NATS-Bench facade -----------------------------------------------------------------------------
#: Cumulative time columns, NATS-Bench's "all-time" of training and of each evaluation set.
_TIME_COLUMNS = ("train_time_s", "valid_time_s", "test_time_s", "valtest_time_s")
#: Datasets ``simulate_train_eval`` accepts (cifar10 searches read the cifar10-valid run).
_SIM_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def _nats_set(dataset: str, metric_on_set: str) -> tuple[str, str]:
    """(dataset key, column prefix) of NATS-Bench's ``(dataset, metric_on_set)``.

    Remapped as NATS-Bench's ``find_best`` does: ``('cifar10', 'valid')`` is cifar10-valid's
    x-valid, ``('cifar10', 'test')`` cifar10's ori-test, 'test' on cifar100/ImageNet16-120 x-test,
    'valid' elsewhere x-valid; 'train' is the training set. A set the dataset lacks is refused.
    """
    if dataset == "cifar10" and metric_on_set == "valid":
        dataset, metric_on_set = "cifar10-valid", "x-valid"
    elif dataset == "cifar10" and metric_on_set == "test":
        metric_on_set = "ori-test"
    elif dataset in ("cifar100", "ImageNet16-120") and metric_on_set == "test":
        metric_on_set = "x-test"
    elif metric_on_set == "valid":
        metric_on_set = "x-valid"
    if dataset not in NATS_EVAL_SETS:
        raise InputError(
            f"unknown NATS-Bench dataset {dataset!r}; accepted: {', '.join(NATS_EVAL_SETS)}"
        )
    if metric_on_set == "train":
        return dataset, "train"
    sets = NATS_EVAL_SETS[dataset]
    if metric_on_set not in sets:
        raise InputError(
            f"unknown evaluation set {metric_on_set!r} for {dataset}; accepted: train, "
            f"{', '.join(sets)} (and NATS-Bench's aliases valid, test)"
        )
    return dataset, sets[metric_on_set]


class NATSRun(NamedTuple):
    """One training run (dataset, seed, hp) with the fields of NATS-Bench's ``ResultsCount``.

    Accuracies are fractions; per-epoch mappings are keyed by NATS-Bench's 0-based epoch
    (``train_acc1es[11]``, ``eval_acc1es['x-valid@11']``); times are per epoch, in seconds.
    ``latency`` is the run's mean latency (NATS-Bench keeps the list), None when unknown;
    ``eval_names`` come in the order x-valid, x-test, ori-test (the archives' order varies).
    """

    name: str
    seed: int
    epochs: int
    params: float | None
    flop: float | None
    latency: float | None
    train_acc1es: dict[int, float]
    train_losses: dict[int, float]
    train_times: dict[int, float]
    eval_names: tuple[str, ...]
    eval_acc1es: dict[str, float]
    eval_losses: dict[str, float]
    eval_times: dict[str, float]


def _per_epoch(epochs: np.ndarray, cumulative: np.ndarray) -> dict[int, float]:
    """Per-epoch times (0-based keys) from cumulative ones, where the previous epoch is known."""
    out: dict[int, float] = {}
    total: dict[int, float] = {int(e): float(c) for e, c in zip(epochs, cumulative, strict=True)}
    for e, c in total.items():
        before = 0.0 if e == 1 else total.get(e - 1, math.nan)
        if c == c and before == before:  # neither is NaN (unknown)
            out[e - 1] = c - before
    return out


def _nats_run(
    dataset: str, hp: int, seed: int, epochs: np.ndarray, values: dict[str, np.ndarray]
) -> NATSRun:
    """One run's :class:`NATSRun` from its rows (sorted by epoch; NaN: no value)."""

    def series(name: str) -> dict[int, float]:
        col = values.get(name)
        if col is None:
            return {}
        return {int(e) - 1: float(x) for e, x in zip(epochs, col, strict=True) if x == x}

    def first(name: str) -> float | None:
        found = [float(x) for x in values.get(name, ()) if x == x]
        return found[0] if found else None

    def times(prefix: str) -> dict[int, float]:
        col = values.get(f"{prefix}_time_s")
        return {} if col is None else _per_epoch(epochs, col)

    names: list[str] = []
    eval_acc: dict[str, float] = {}
    eval_loss: dict[str, float] = {}
    eval_times: dict[str, float] = {}
    for set_name, prefix in NATS_EVAL_SETS.get(dataset, {}).items():
        acc, loss, spent = series(f"{prefix}_acc"), series(f"{prefix}_loss"), times(prefix)
        if not acc and not spent:
            continue
        names.append(set_name)
        eval_acc.update({f"{set_name}@{e}": a for e, a in acc.items()})
        eval_loss.update({f"{set_name}@{e}": x for e, x in loss.items()})
        eval_times.update({f"{set_name}@{e}": t for e, t in spent.items()})
    return NATSRun(
        name=dataset,
        seed=seed,
        epochs=int(hp),
        params=first("params_m"),
        flop=first("flops_m"),
        latency=first("latency_s"),
        train_acc1es=series("train_acc"),
        train_losses=series("train_loss"),
        train_times=times("train"),
        eval_names=tuple(names),
        eval_acc1es=eval_acc,
        eval_losses=eval_loss,
        eval_times=eval_times,
    )


class NATSBench:
    """NATS-Bench's query verbs over a calnas benchmark, for users coming from ``nats_bench``.

    Offers ``len``, ``[i]``/``arch``, ``query_index_by_arch``, ``get_more_info``,
    ``get_cost_info``, ``get_latency``, ``query_by_index``, ``find_best``,
    ``simulate_train_eval``, ``used_time``/``reset_time``, with NATS-Bench's keys and values
    (checked against ``nats_bench`` 1.8 in ``tests/bench/test_nats_compat.py``).

    Differences, on purpose: accuracies are fractions (not percent), ``hp`` defaults to the longest
    schedule held (NATS defaults to '12', a known trap), ``is_random`` defaults to False (the
    mean over seeds) and ``is_random=True`` draws with the facade's seeded generator;
    ``get_more_info`` adds ``epoch``, ``hp``, ``seed`` and ``source`` and has no ``comment``;
    ``query_by_index`` gives :class:`NATSRun` records; a ``find_best`` that nothing satisfies raises
    MissingEntry (NATS returns ``(-1, None)``). Nothing is read before the first query.

    Example:
        >>> from bench.table.benchmark import create
        >>> api = create("/tmp/calnas-doc-bench", "tss")
        >>> len(api), api.query_index_by_arch("not an arch")
        (15625, -1)
    """

    def __init__(self, bench: Benchmark, space: str, *, seed: int = 0):
        self.bench = bench
        self.space = space
        self.seed = seed
        self._sp = get_space(space)
        # built at the first draw: importing numpy would cost more than the whole creation
        self._rng: np.random.Generator | None = None
        self._used_time = 0.0

    def __len__(self) -> int:
        return self._sp.size

    def __getitem__(self, index: int) -> str:
        if isinstance(index, int) and -self._sp.size <= index < 0:
            index += self._sp.size  # a sequence's negative index, as nats_bench's list takes it
        return self.arch(index)

    def __repr__(self) -> str:
        return f"NATSBench({self.space}, {self._sp.size} architectures, {self.bench.store.root})"

    @property
    def used_time(self) -> float:
        """Simulated seconds charged by :meth:`simulate_train_eval` since the last reset."""
        return self._used_time

    def reset_time(self) -> None:
        """Set :attr:`used_time` back to 0."""
        self._used_time = 0.0

    def arch(self, index: int) -> str:
        """Arch string of ``index`` (ValueError out of range)."""
        return self._sp.arch(index)

    def query_index_by_arch(self, arch: str | int) -> int:
        """Index of ``arch``: an int in range is returned as is, an unknown string gives -1."""
        if isinstance(arch, str):
            try:
                return self._sp.index(arch)
            except ValueError:
                return -1
        if hasattr(arch, "tostr"):
            return self.query_index_by_arch(arch.tostr())
        return self._sp.index(arch)

    def _index(self, arch: Any) -> int:
        index = self.query_index_by_arch(arch)
        if index < 0:
            raise InputError(f"{arch!r} is not an architecture of the {self.space} space")
        return index

    def _seed(self, index: int, dataset: str, hp: int | None, epoch: int | None, is_random: Any):
        if is_random is False:
            return None
        if is_random is True:
            seeds = self.seeds(index, dataset, hp=hp, epoch=epoch)
            if not seeds:
                return None
            if self._rng is None:
                import numpy as np

                self._rng = np.random.default_rng(self.seed)
            return int(self._rng.choice(seeds))
        return int(is_random)

    def seeds(
        self, index: int, dataset: str, *, hp: int | None = None, epoch: int | None = None
    ) -> list[int]:
        """Seeds with rows for ``index`` on ``dataset`` (training sources nats/nb201/computed)."""
        import numpy as np

        found: set[int] = set()
        for src in self.bench.sources(self.space, dataset):
            table = self.bench.tables()[(self.space, dataset, src)]
            picked = self.bench._pick(self.bench._schedule(table), hp, epoch)
            if picked is None:
                continue
            got = table.arrays(["seed", "config"], hp=picked[0], epoch=picked[1], config=int(index))
            seeds = got.get("seed", np.full(len(got.get("config", [])), -1))
            found.update(int(s) for s in seeds)
        if not found and self.space == "tss":  # an isomorphic copy: its representative's seeds
            rep = int(self._sp.representatives()[index])
            if rep != index:
                return self.seeds(rep, dataset, hp=hp, epoch=epoch)
        return sorted(found)

    def _row(
        self,
        index: int,
        dataset: str,
        wanted: Sequence[str],
        hp: int | None,
        epoch: int | None,
        seed: int | None,
    ) -> dict[str, Any]:
        """:meth:`Benchmark.query` of the ``wanted`` columns the selection holds."""
        # _resolve also raises the clear errors (unknown dataset, no rows at that hp/epoch)
        available = self.bench._resolve(self.space, dataset, None, hp, epoch, seed).available
        names = [c for c in wanted if c in available]
        if not names:
            raise MissingEntry(
                f"no learning-curve or cost values for {self.space}/{dataset}; import "
                "NATS-Bench archives (calnas bench import nats PATH)"
            )
        return self.bench.query(self.space, dataset, index, names, None, epoch, hp=hp, seed=seed)

    def get_more_info(
        self,
        index: int | str,
        dataset: str,
        iepoch: int | None = None,
        hp: int | str | None = None,
        is_random: bool | int = False,
    ) -> dict[str, Any]:
        """Learning-curve values of one run, with NATS-Bench's keys (accuracies as fractions).

        ``iepoch`` is 0-based like NATS-Bench's (None: the last epoch); keys: ``train-loss``,
        ``train-accuracy``, ``train-per-time``, ``train-all-time``, and ``valid-*``, ``test-*``,
        ``valtest-*`` where the dataset has that evaluation set at that epoch; ``-all-time`` is the
        time spent up to the epoch, ``-per-time`` that divided by the epochs. Added: ``epoch``
        (1-based), ``hp``, ``seed`` (None: the mean over seeds) and ``source``.

        Example:
            >>> api.get_more_info(0, "cifar10", hp=200)["test-accuracy"]   # doctest: +SKIP
            0.85863
        """
        index = self._index(index)
        hp_int = None if hp is None else int(hp)
        epoch = None if iepoch is None else int(iepoch) + 1
        seed = self._seed(index, dataset, hp_int, epoch, is_random)
        wanted = [*TRAINING_COLUMNS, *_TIME_COLUMNS]
        row = self._row(index, dataset, wanted, hp_int, epoch, seed)
        v, ep = row["values"], row["epoch"]
        info: dict[str, Any] = {}
        for prefix in ("train", "valid", "test", "valtest"):
            acc, loss = v.get(f"{prefix}_acc"), v.get(f"{prefix}_loss")
            total = v.get(f"{prefix}_time_s")
            # NATS-Bench leaves out an evaluation set it holds no value of at that epoch (its
            # times are kept at every epoch: they do not count)
            if acc is None and loss is None and (prefix != "train" or total is None):
                continue
            info[f"{prefix}-loss"] = loss
            info[f"{prefix}-accuracy"] = acc
            info[f"{prefix}-per-time"] = None if total is None else total / ep
            info[f"{prefix}-all-time"] = total
        if not info:
            raise MissingEntry(
                f"no learning-curve values for {self.space} index {index} on {dataset}; import "
                "NATS-Bench archives (calnas bench import nats PATH)"
            )
        info["epoch"] = ep
        info["hp"] = row["hp"]
        info["seed"] = seed
        info["source"] = row["source"]
        return info

    def get_cost_info(
        self, index: int | str, dataset: str, hp: int | str | None = None
    ) -> dict[str, Any]:
        """NATS-Bench's cost dict: ``flops`` (M), ``params`` (M), ``latency`` (s, None when
        unknown), ``T-train@epoch``/``T-train@total`` and ``T-<set>@epoch``/``T-<set>@total`` for
        each evaluation set of the dataset (per-epoch mean and sum over the whole schedule)."""
        index = self._index(index)
        hp_int = None if hp is None else int(hp)
        wanted = ["flops_m", "params_m", "latency_s", *_TIME_COLUMNS]
        row = self._row(index, dataset, wanted, hp_int, None, None)
        v, ep = row["values"], row["epoch"]
        info: dict[str, Any] = {
            "flops": v.get("flops_m"),
            "params": v.get("params_m"),
            "latency": v.get("latency_s"),
        }
        names = [("train", "train"), *NATS_EVAL_SETS.get(dataset, {}).items()]
        for set_name, prefix in names:
            total = v.get(f"{prefix}_time_s")
            info[f"T-{set_name}@epoch"] = None if total is None else total / ep
            info[f"T-{set_name}@total"] = total
        return info

    def get_latency(self, index: int | str, dataset: str, hp: int | str | None = None) -> float:
        """Latency in seconds (NATS-Bench: of a batch of 256), None when unknown."""
        return self.get_cost_info(index, dataset, hp)["latency"]

    def query_by_index(
        self, arch_index: int | str, dataname: str | None = None, hp: int | str | None = None
    ) -> dict[Any, Any]:
        """Every run of one architecture: ``{seed: NATSRun}`` on ``dataname``, or, without it,
        ``{dataset: {seed: NATSRun}}`` (NATS-Bench gives its ArchResults then).

        Runs come from the first source (priority order) holding learning curves of the index at
        that hp (TSS: of its isomorphism-class representative when the index has none).
        """
        index = self._index(arch_index)
        hp_int = None if hp is None else int(hp)
        if dataname is not None:
            return self._runs(index, dataname, hp_int)
        found = {}
        for dataset in DATASETS:
            if self.bench.sources(self.space, dataset):
                with contextlib.suppress(MissingEntry):
                    found[dataset] = self._runs(index, dataset, hp_int)
        if not found:
            raise MissingEntry(f"no runs of {self.space} index {index} (hp={hp})")
        return found

    def _runs(self, index: int, dataset: str, hp: int | None) -> dict[int, NATSRun]:
        _check_space_dataset(self.space, dataset)
        columns = ["config", "seed", "epoch", *TRAINING_COLUMNS, *_TIME_COLUMNS]
        columns += ["params_m", "flops_m", "latency_s"]
        for src in self.bench.sources(self.space, dataset):
            table = self.bench.tables()[(self.space, dataset, src)]
            if not any(c in table.columns for c in TRAINING_COLUMNS):
                continue
            picked = self.bench._pick(self.bench._schedule(table), hp, None)
            if picked is None:
                continue
            got = table.arrays(columns, hp=picked[0], config=index)
            if not len(got["config"]) and self.space == "tss":
                rep = int(table.representatives()[index])
                if rep != index:
                    got = table.arrays(columns, hp=picked[0], config=rep)
            if len(got["config"]):
                return self._build_runs(dataset, picked[0], got)
        raise MissingEntry(f"no runs of {self.space} index {index} on {dataset} (hp={hp})")

    @staticmethod
    def _build_runs(dataset: str, hp: int, got: dict[str, np.ndarray]) -> dict[int, NATSRun]:
        import numpy as np

        seeds = got.get("seed", np.full(len(got["config"]), -1))
        runs: dict[int, NATSRun] = {}
        for seed in sorted({int(s) for s in seeds}):
            rows = np.flatnonzero(seeds == seed)
            rows = rows[np.argsort(got["epoch"][rows], kind="stable")]
            values = {c: _floats(got[c][rows]) for c in got if c not in ("config", "seed", "epoch")}
            epochs = got["epoch"][rows].astype(np.int64)
            runs[seed] = _nats_run(dataset, hp, seed, epochs, values)
        return runs

    def find_best(
        self,
        dataset: str,
        metric_on_set: str,
        flop_max: float | None = None,
        param_max: float | None = None,
        hp: int | str | None = None,
        enforce_all: bool | None = None,
    ) -> tuple[int, float]:
        """(index, accuracy) of the most accurate architecture on a set (the lowest index of ties).

        ``metric_on_set`` is 'train', 'valid', 'test' or a set of the dataset ('x-valid',
        'x-test', 'ori-test'), remapped as NATS-Bench does (``('cifar10', 'valid')`` reads the
        cifar10-valid run); ``flop_max``/``param_max`` bound FLOPs and params (M, inclusive).
        ``enforce_all`` is accepted for NATS-Bench's signature: every architecture the table holds
        is always considered. MissingEntry when none qualifies.

        Example:
            >>> api.find_best("cifar10", "test", hp=200)   # doctest: +SKIP
            (9930, 0.9437)
        """
        del enforce_all
        dataset, prefix = _nats_set(dataset, metric_on_set)
        bounds: dict[str, tuple[float | None, float | None]] = {}
        if flop_max is not None:
            bounds["flops_m"] = (None, float(flop_max))
        if param_max is not None:
            bounds["params_m"] = (None, float(param_max))
        metric = f"{prefix}_acc"
        best = self.bench.find_best(
            self.space, dataset, metric, bounds=bounds, hp=None if hp is None else int(hp)
        )
        return best["index"], best["values"][metric]

    def simulate_train_eval(
        self,
        arch: int | str,
        dataset: str,
        iepoch: int | None = None,
        hp: int | str | None = None,
        account_time: bool = True,
    ) -> tuple[float, float | None, float, float]:
        """Simulate training ``arch`` and validating it: ``(valid accuracy, latency, time cost,
        used time)``, NATS-Bench's semantics.

        The accuracy is one randomly drawn seed's (the facade's seeded generator); cifar10 reads
        the cifar10-valid run. The time cost is the training time up to epoch ``iepoch`` plus one
        validation pass; where the run keeps no validation accuracy at that epoch (TSS '200' on
        cifar100/ImageNet16-120) the ori-test (valtest) accuracy is given, as NATS-Bench does.
        With ``account_time`` the cost is added to :attr:`used_time`.

        Example:
            >>> api.simulate_train_eval(2, "cifar10", iepoch=24, hp=200)   # doctest: +SKIP
            (0.8224, 0.0144, 287.37, 287.37)
        """
        index = self._index(arch)
        if dataset not in _SIM_DATASETS:
            raise InputError(f"unknown dataset {dataset!r}; accepted: {', '.join(_SIM_DATASETS)}")
        key = "cifar10-valid" if dataset == "cifar10" else dataset
        info = self.get_more_info(index, key, iepoch, hp, is_random=True)
        if "valid-accuracy" in info:
            accuracy, valid_time = info["valid-accuracy"], info["valid-per-time"]
        elif "valtest-accuracy" in info:
            accuracy = info["valtest-accuracy"]
            valid_time = self.get_more_info(index, key, None, hp, is_random=True).get(
                "valid-per-time"
            )
        else:
            raise MissingEntry(f"no validation accuracy of {self.space} index {index} on {key}")
        train_time = info.get("train-all-time")
        if train_time is None or valid_time is None:
            raise MissingEntry(
                f"no simulated times of {self.space} index {index} on {key} (train time "
                f"{train_time}, validation time {valid_time}): import NATS-Bench archives"
            )
        cost = train_time + valid_time
        latency = self.get_latency(index, dataset, hp)
        if account_time:
            self._used_time += cost
        return accuracy, latency, cost, self._used_time


def create(
    path: str | os.PathLike[str] | None = None,
    search_space: str = "tss",
    fast_mode: bool = True,
    verbose: bool = False,
    *,
    seed: int = 0,
) -> NATSBench:
    """NATS-Bench's ``create``: a query object for one space over a calnas benchmark directory.

    ``search_space`` is 'tss'/'topology' or 'sss'/'size'. ``fast_mode`` and ``verbose`` are
    accepted so that NATS-Bench calls run unchanged: calnas always reads lazily (nothing before
    the first query) and prints nothing. ``seed`` seeds the ``is_random=True`` draws.

    Example:
        >>> api = create("/tmp/calnas-doc-bench", "sss")
        >>> api.arch(0)
        '8:8:8:8:8'
    """
    del fast_mode, verbose
    aliases = {"tss": "tss", "topology": "tss", "sss": "sss", "size": "sss"}
    if search_space not in aliases:
        raise InputError(f"unknown search space {search_space!r}; accepted: {', '.join(aliases)}")
    bench = Benchmark.open(path)
    facade = NATSBench(bench, aliases[search_space], seed=seed)
    bench._facades.setdefault(facade.space, facade)
    return facade
