"""Reading one table of the benchmark: a parquet file, through its sidecar when that is fresh.

:class:`Table` is one parquet file of one (space, dataset, source), read from its sidecar
(numpy, memory-mapped; ``bench.table.sidecar``) when that is fresh, else with pyarrow; the
embedded demo file is always read with pyarrow, filtered to its (space, dataset).
:func:`pick_run` says which (hp, epoch) of a table answers a request. Which rows a query then
takes, and how several sources merge, is ``bench.table.selection``.

Example:
    >>> import pandas as pd, tempfile
    >>> from bench.table.store import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.upsert(pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "nats",
    ...     "config": [0, 0, 3], "hp": [12, 200, 200], "epoch": [12, 200, 200],
    ...     "test_acc": [0.5, 0.7, 0.9]}))
    >>> table = Table("tss", "cifar10", "nats", store.path_for("tss", "cifar10", "nats"))
    >>> table.rows, table.schedule.tolist(), pick_run(table.schedule, None, None)
    (3, [[12, 12], [200, 200]], (200, 200))
    >>> table.arrays(["config", "test_acc"], hp=200)["test_acc"].tolist()
    [0.7, 0.9]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.arch.spaces import SPACES, get_space
from bench.errors import InputError
from bench.table.schema import DATASETS
from bench.table.sidecar import Sidecar

if TYPE_CHECKING:  # numpy and pandas are imported where used: importing this module is cheap
    import numpy as np
    import pandas as pd

    from bench.table.store import Store

__all__ = ["Table", "pick_run", "as_floats", "check_space_dataset"]


def check_space_dataset(space: str, dataset: str) -> None:
    """Refuse an unknown space or dataset, naming the accepted ones.

    Raises:
        InputError: ``space`` or ``dataset`` is not one calnas knows.

    Example:
        >>> check_space_dataset("tss", "cifar11")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        InputError: unknown dataset 'cifar11'; accepted: cifar10, ...
    """
    if space not in SPACES:
        raise InputError(f"unknown space {space!r}; accepted: {', '.join(SPACES)}")
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}")


class Table:
    """One readable parquet file of one (space, dataset, source); metadata is read lazily.

    A store table is read from its sidecar when that is fresh; a stale, absent or older-format
    sidecar is rebuilt when no writer holds the table's lock (``store`` given), else the parquet
    file is read with pyarrow. An embedded (demo) file may hold several spaces and datasets: it
    is read with pyarrow and filtered to this table's.

    Args:
        space, dataset, source: what the file holds.
        path: the parquet file.
        embedded: the file is package data (read-only, several tables in one file).
        store: the store the file belongs to, to rebuild its sidecar (None: never rebuilt).

    Example:
        >>> Table("tss", "cifar10", "official", Path("official.parquet")).source
        'official'
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
        self._schedule: np.ndarray | None = None
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
        """The file's column names (for an embedded file: of every table it holds)."""
        if self._columns is None:
            side = self.sidecar
            if side is not None:
                self._columns = side.names
            elif self.embedded:
                import pyarrow.parquet as pq

                self._columns = tuple(pq.read_schema(self.path).names)
            else:  # a file that is not a calnas table is refused here, by name
                from bench.table.tablefile import table_schema

                self._columns = table_schema(self.path)
        return self._columns

    @property
    def rows(self) -> int:
        """The number of rows of this table."""
        if self.embedded:
            return len(self.index["config"])
        side = self.sidecar
        if side is not None:
            return side.rows
        import pyarrow.parquet as pq

        self.columns  # noqa: B018  (checks that the file is a calnas table)
        return pq.read_metadata(self.path).num_rows

    @property
    def index(self) -> dict[str, np.ndarray]:
        """The small integer columns of every row (hp, epoch, config, seed, copied), cached."""
        import numpy as np

        if self._index is None:
            index = self.arrays(["hp", "epoch", "config", "seed", "copied"])
            _check_keys(self, index)
            n = len(index["config"])
            index.setdefault("seed", np.full(n, -1, dtype=np.int64))
            index.setdefault("copied", np.zeros(n, dtype=bool))
            self._index = index
        return self._index

    @property
    def schedule(self) -> np.ndarray:
        """The distinct (hp, epoch) pairs of the rows, sorted, as a (k, 2) int array (cached)."""
        import numpy as np

        if self._schedule is None:
            index = self.index
            # one int per pair, sorted: np.unique(axis=0) is slow and imports numpy.ma
            code = np.sort((index["hp"].astype(np.int64) << 32) | index["epoch"].astype(np.int64))
            code = code[np.concatenate(([True], code[1:] != code[:-1]))] if code.size else code
            self._schedule = np.stack([code >> 32, code & 0xFFFFFFFF], axis=1)
        return self._schedule

    def reliability(self) -> list[dict] | None:
        """The seed-reliability reports the file records for this table, or None (most tables).

        Reads only the file's footer (:func:`bench.table.tablefile.read_reliability`).
        """
        from bench.table.tablefile import read_reliability

        return read_reliability(self.path, self.space, self.dataset)

    def arrays(
        self,
        columns: Sequence[str],
        *,
        hp: int | None = None,
        epoch: int | None = None,
        seed: int | None = None,
        config: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Columns (those the table has) of the rows matching the given key values.

        Args:
            columns: the columns wanted; those the table lacks are left out of the answer.
            hp, epoch, seed, config: keep only the rows with these key values (None: any).

        Returns:
            Column name -> values, one per matching row, in file order.
        """
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

    def frame(self) -> pd.DataFrame:
        """Every row and column of this table as a DataFrame, read with pyarrow."""
        import pyarrow.parquet as pq

        filters = None
        if self.embedded:
            filters = [("space", "=", self.space), ("dataset", "=", self.dataset)]
        else:
            self.columns  # noqa: B018  (checks that the file is a calnas table)
        return pq.read_table(self.path, filters=filters).to_pandas()


def _check_keys(table: Table, index: dict[str, np.ndarray]) -> None:
    """Refuse a table whose key values are missing or configs out of its space's range (a file
    damaged or edited behind the store's back): they would index past the space's arrays."""
    size = get_space(table.space).size if table.space in SPACES else None
    for name in ("config", "hp", "epoch", "seed"):
        values = index.get(name)
        if values is None or values.size == 0:
            continue
        bad = values.dtype.kind not in "iu"
        if not bad and name == "config" and size is not None:
            bad = bool(values.min() < 0 or values.max() >= size)
        if bad:
            raise InputError(
                f"{table.path}: column {name!r} holds missing or out-of-range values (configs "
                f"must be 0..{(size or 1) - 1}): the table is damaged; see calnas bench validate, "
                "and import its data again"
            )


def pick_run(
    schedule: Iterable[Sequence[int]], hp: int | None, epoch: int | None
) -> tuple[int, int] | None:
    """The (hp, epoch) a source answers a request with, or None when it cannot.

    The longest schedule (hp) among those holding the requested ``hp`` and ``epoch``; without an
    ``epoch``, the end of that schedule (its last epoch when the schedule was cut short).

    Args:
        schedule: the source's (hp, epoch) pairs (:attr:`Table.schedule`).
        hp, epoch: what the request asks for (None: any).

    Example:
        >>> pick_run([(12, 1), (12, 12), (200, 199), (200, 200)], None, None)
        (200, 200)
        >>> pick_run([(12, 1), (12, 12), (200, 199), (200, 200)], None, 12)
        (12, 12)
    """
    pairs = [(int(h), int(e)) for h, e in schedule]
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


def as_floats(values: np.ndarray) -> np.ndarray:
    """A value column as float64 with NaN for missing (pyarrow gives None in object arrays).

    Example:
        >>> import numpy as np
        >>> as_floats(np.array([0.5, None], dtype=object)).tolist()
        [0.5, nan]
    """
    import numpy as np

    if values.dtype == object:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return values.astype(np.float64, copy=False)
