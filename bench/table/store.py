"""The benchmark store: a directory of zstd parquet files, one per (space, dataset, source).

Layout of a benchmark directory (default ``$CALNAS_HOME``, else ``~/.calnas``)::

    <root>/tables/<space>/<dataset>/<source>.parquet   the rows of one (space, dataset, source)
    <root>/tables/<space>/<dataset>/<source>.npcols    its sidecar (``bench.table.sidecar``)
    <root>/locks/<space>__<dataset>__<source>.lock     one file lock per table

A row is identified by the key (space, dataset, config, source, hp, epoch, seed) (``schema.KEY``).
``hp`` is part of the key because NATS-Bench's hp tags 12 and 200 are separate training runs
that both have an epoch 12; ``seed`` is -1 for a value that is not one seed's (a mean, unknown).

:meth:`Store.upsert` validates every row (``bench.table.validation.normalize``: types, ranges,
config in range for the space, arch matching config, no duplicate keys), then for each table it
takes the table's lock, reads the current file, merges (a row with an existing key replaces the
columns it brings and keeps the others; new keys are appended), and writes the parquet file and
its sidecar through ``bench.fileio.atomic_path`` (a temp file beside each, renamed over it).
Readers never see a half-written file, several writer processes never lose or duplicate a row,
an invalid frame writes nothing at all, and the files get the modes the umask gives. The temp
files of a writer killed mid-write are removed by the next writer of the table, under the lock.

The sidecar (``bench.table.sidecar``) holds the numeric columns as raw arrays that a reader
memory-maps with numpy alone; it is used only while it matches the parquet file.
:meth:`Store.read` goes through pyarrow and touches only the file and the columns (and row
groups, with ``filters``) asked for; rows are sorted by (hp, epoch, config, seed) so filters on
hp and epoch skip row groups.

Example:
    >>> import pandas as pd, tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> rows = pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "computed",
    ...                      "config": [0, 1], "hp": 200, "epoch": 200, "acc": [0.84, 0.93]})
    >>> store.upsert(rows).inserted
    2
    >>> store.read("tss", "cifar10", "computed", columns=["config", "acc"])["acc"].tolist()
    [0.84, 0.93]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bench.errors import InputError, MissingFileError
from bench.fileio import atomic_path, remove_stale_temps
from bench.table.schema import column_spec
from bench.table.sidecar import (
    Sidecar,
    parquet_identity,
    rebuild_sidecar,
    sidecar_path,
    write_sidecar,
)
from bench.table.tablefile import arrow_table, arrow_type, table_schema
from bench.table.validation import column_order, normalize

if TYPE_CHECKING:  # numpy, pandas and pyarrow are imported where used: a query needs none
    import pandas as pd
    from filelock import FileLock

__all__ = [
    "Store",
    "TableInfo",
    "UpsertReport",
    "default_path",
    "arrow_type",
    "table_schema",
    "TABLE_KEY",
]

#: Columns that identify a row inside one table (space, dataset and source are the file).
TABLE_KEY: tuple[str, ...] = ("config", "hp", "epoch", "seed")
_SORT = ("hp", "epoch", "config", "seed")
_ROW_GROUP = 131_072


def default_path() -> Path:
    """The user's benchmark directory: ``$CALNAS_HOME``, else ``~/.calnas``.

    Example:
        >>> default_path().is_absolute()
        True
    """
    env = os.environ.get("CALNAS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".calnas"


# TableInfo and UpsertReport are not dataclasses: importing dataclasses (it imports inspect)
# would be a third of a new process's cold query (see Benchmark.query)
class TableInfo(NamedTuple):
    """One parquet file of the store, described from its metadata alone (:meth:`Store.tables`).

    Example:
        >>> info = TableInfo("tss", "cifar10", "official", Path("official.parquet"), 2, ("acc",))
        >>> info.as_dict()["columns"]
        1
    """

    space: str
    dataset: str
    source: str
    path: Path
    rows: int
    columns: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The description as plain values (the column count, not the names; no path)."""
        return {
            "space": self.space,
            "dataset": self.dataset,
            "source": self.source,
            "rows": self.rows,
            "columns": len(self.columns),
        }


class UpsertReport:
    """What an upsert did: rows inserted and updated, per table and in total.

    Example:
        >>> UpsertReport(2, 1, {("tss", "cifar10", "computed"): (2, 1)}).inserted
        2
    """

    def __init__(
        self,
        inserted: int = 0,
        updated: int = 0,
        tables: dict[tuple[str, str, str], tuple[int, int]] | None = None,
    ):
        self.inserted = inserted
        self.updated = updated
        self.tables: dict[tuple[str, str, str], tuple[int, int]] = {} if tables is None else tables

    def __repr__(self) -> str:
        return (
            f"UpsertReport(inserted={self.inserted!r}, updated={self.updated!r}, "
            f"tables={self.tables!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UpsertReport):
            return NotImplemented
        return (self.inserted, self.updated, self.tables) == (
            other.inserted,
            other.updated,
            other.tables,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __str__(self) -> str:
        parts = [
            f"{s}/{d}/{src}: +{i} new, {u} updated" for (s, d, src), (i, u) in self.tables.items()
        ]
        return f"{self.inserted} rows inserted, {self.updated} updated ({'; '.join(parts)})"


class Store:
    """A benchmark directory of parquet tables (see the module docstring for the layout).

    Args:
        path: the directory (created on the first write; default :func:`default_path`).
        lock_timeout: seconds to wait for another writer of the same table.

    Raises:
        InputError: ``path`` is a file.

    Example:
        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.path_for("tss", "cifar10", "official").relative_to(store.root).as_posix()
        'tables/tss/cifar10/official.parquet'
        >>> store.tables(), store.has("tss", "cifar10", "official")
        ([], False)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float = 600):
        self.root = Path(path).expanduser() if path is not None else default_path()
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{self.root} is a file, not a benchmark directory")
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- layout --------------------------------------------------------------------------------
    def path_for(self, space: str, dataset: str, source: str) -> Path:
        """The parquet file of one (space, dataset, source)."""
        return self.root / "tables" / space / dataset / f"{source}.parquet"

    def _lock(
        self, space: str, dataset: str, source: str, timeout: float | None = None
    ) -> FileLock:
        from filelock import FileLock

        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(
            str(locks / f"{space}__{dataset}__{source}.lock"),
            timeout=self.lock_timeout if timeout is None else timeout,
        )

    def tables(self) -> list[TableInfo]:
        """Every table of the store, from parquet metadata only (no data is read).

        Raises:
            InputError: a file of the store is not a calnas table (:func:`table_schema`).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        found: list[TableInfo] = []
        base = self.root / "tables"
        if not base.is_dir():
            return found
        for path in sorted(base.glob("*/*/*.parquet")):
            try:
                meta = pq.read_metadata(path)
            except (pa.ArrowException, OSError, ValueError) as err:
                raise InputError(
                    f"{path}: not a readable parquet file ({' '.join(str(err).split())}); "
                    "move it out of the store, or import its data again"
                ) from None
            names = table_schema(path, meta.schema.to_arrow_schema())
            found.append(
                TableInfo(
                    path.parent.parent.name, path.parent.name, path.stem, path, meta.num_rows, names
                )
            )
        return found

    def has(self, space: str, dataset: str, source: str) -> bool:
        """Whether the store holds a table of (space, dataset, source)."""
        return self.path_for(space, dataset, source).is_file()

    def columns(self, space: str, dataset: str, source: str) -> list[str]:
        """Column names of one table (empty when it does not exist)."""
        path = self.path_for(space, dataset, source)
        return list(table_schema(path)) if path.is_file() else []

    # -- reading -------------------------------------------------------------------------------
    def read(
        self,
        space: str,
        dataset: str,
        source: str,
        columns: Sequence[str] | None = None,
        filters: Any = None,
    ) -> pd.DataFrame:
        """Rows of one table, only ``columns`` (None: all) and rows passing pyarrow ``filters``.

        A column the table does not have comes back as missing values (NaN/None), so callers can
        ask several sources for the same columns.
        """
        import numpy as np
        import pyarrow.parquet as pq

        path = self.path_for(space, dataset, source)
        if not path.is_file():
            raise MissingFileError(f"{self.root}: no table for {space}/{dataset}/{source}")
        present = table_schema(path)
        wanted = None if columns is None else [c for c in dict.fromkeys(columns) if c in present]
        table = pq.read_table(path, columns=wanted, filters=filters)
        frame = table.to_pandas(types_mapper=None)
        if columns is not None:
            for c in columns:
                if c not in frame:
                    frame[c] = np.nan if column_spec(c).dtype == "float64" else None
            frame = frame[list(dict.fromkeys(columns))]
        return frame

    # -- writing -------------------------------------------------------------------------------
    def upsert(self, frame: pd.DataFrame) -> UpsertReport:
        """Insert or update rows by key; all rows are validated before any file is touched.

        Rows whose key exists replace the stored values of the columns they bring (other columns
        keep their stored values); rows with new keys are appended. A value column that is missing
        in every row of a table is not written to it.
        """
        rows = normalize(frame)
        report = UpsertReport()
        for (space, dataset, source), part in rows.groupby(["space", "dataset", "source"]):
            inserted, updated = self._upsert_table(space, dataset, source, part)
            report.tables[(space, dataset, source)] = (inserted, updated)
            report.inserted += inserted
            report.updated += updated
        return report

    def _upsert_table(
        self, space: str, dataset: str, source: str, new: pd.DataFrame
    ) -> tuple[int, int]:
        import pyarrow.parquet as pq
        from filelock import Timeout

        path = self.path_for(space, dataset, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock = self._lock(space, dataset, source)
            lock.acquire()
        except Timeout:
            raise TimeoutError(
                f"another process holds the lock of {space}/{dataset}/{source} for more than "
                f"{self.lock_timeout} s"
            ) from None
        try:
            _remove_stale_temps(path)
            # a frame spanning several tables carries every table's columns: drop the value
            # columns that hold nothing for this one (so an all-missing column never erases)
            empty = [
                c for c in new.columns if column_spec(c).dtype == "float64" and new[c].isna().all()
            ]
            new = new.drop(columns=empty).reset_index(drop=True)
            if path.is_file():
                table_schema(path)  # a foreign file there is refused, not merged with
                old = pq.read_table(path).to_pandas()
                merged, updated = _merge(old, new)
            else:
                merged, updated = new, 0
            merged = merged.sort_values(list(_SORT), kind="stable").reset_index(drop=True)
            merged = merged[column_order(merged.columns)]
            self._write(path, merged)
            return len(new) - updated, updated
        finally:
            lock.release()

    def _write(self, path: Path, frame: pd.DataFrame) -> None:
        """Write the parquet file and its sidecar (caller holds the table's lock).

        Both are written to temporary files first; the parquet file is renamed into place, then
        the sidecar. A reader between the two renames sees a sidecar whose recorded parquet
        identity no longer matches, and reads the parquet file instead.
        """
        import pyarrow.parquet as pq

        # entered sidecar first so that the parquet file is renamed first (exits run in reverse)
        with atomic_path(sidecar_path(path)) as side_tmp, atomic_path(path) as tmp:
            pq.write_table(arrow_table(frame), tmp, compression="zstd", row_group_size=_ROW_GROUP)
            with open(tmp, "rb") as fh:  # the identity survives the rename (inode, mtime kept)
                identity = parquet_identity(fh)
            arrays = {c: frame[c].to_numpy() for c in frame.columns}
            write_sidecar(side_tmp, identity, list(frame.columns), arrays, len(frame))

    # -- sidecars ------------------------------------------------------------------------------
    def sidecar(self, space: str, dataset: str, source: str) -> Sidecar | None:
        """The table's sidecar when it is present and matches the parquet file, else None."""
        return Sidecar.open(self.path_for(space, dataset, source))

    def rebuild_sidecar(self, space: str, dataset: str, source: str, *, wait: bool = True) -> bool:
        """Rewrite the sidecar of one table from its parquet file; True when one was written.

        Takes the table's lock (``wait=False``: gives up at once when a writer holds it, as
        readers do when they find a stale sidecar) and writes nothing when the sidecar is
        already fresh and of the current format (an older one is rewritten). A read-only
        benchmark directory gives False, not an error.

        Raises:
            MissingFileError: the store has no such table.

        Example:
            >>> import pandas as pd, tempfile
            >>> store = Store(tempfile.mkdtemp())
            >>> _ = store.upsert(pd.DataFrame({"space": "tss", "dataset": "cifar10",
            ...     "source": "computed", "config": [0], "hp": 200, "epoch": 200, "acc": [0.8]}))
            >>> store.rebuild_sidecar("tss", "cifar10", "computed")  # written with the upsert
            False
            >>> store.sidecar("tss", "cifar10", "computed").path.unlink()
            >>> store.rebuild_sidecar("tss", "cifar10", "computed")
            True
        """
        from filelock import Timeout

        path = self.path_for(space, dataset, source)
        if not path.is_file():
            raise MissingFileError(f"{self.root}: no table for {space}/{dataset}/{source}")
        table_schema(path)  # never a sidecar (nor a lock file) for a file that is not a table
        try:
            lock = self._lock(space, dataset, source, timeout=None if wait else 0)
            lock.acquire()
        except (Timeout, OSError):
            return False
        try:
            _remove_stale_temps(path)
            side = Sidecar.open(path)
            if side is not None and side.current:
                return False
            return rebuild_sidecar(path)
        finally:
            lock.release()


def _remove_stale_temps(path: Path) -> None:
    """Remove what writers of this table killed mid-write left (caller holds the table's lock).

    Every writer of a table holds its lock while its temp files exist, so under the lock a temp
    file of the parquet file or of its sidecar last modified before now is a dead writer's.
    """
    import time

    now = time.time()
    remove_stale_temps(path, before=now)
    remove_stale_temps(sidecar_path(path), before=now)


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows of ``old`` and ``new`` by TABLE_KEY; ``new`` wins for the columns it has."""
    import pandas as pd

    key = list(TABLE_KEY)
    old_idx = pd.MultiIndex.from_frame(old[key])
    new_idx = pd.MultiIndex.from_frame(new[key])
    matched = old_idx.isin(new_idx)
    updated = int(matched.sum())
    keep = old.loc[~matched]
    extra = [c for c in old.columns if c not in new.columns]
    if updated and extra:
        carried = old.loc[matched, key + extra]
        new = new.merge(carried, on=key, how="left", validate="one_to_one")
    # columns the new rows do not bring stay missing for brand-new keys; added in one step (a
    # column at a time fragments the frame: pandas warns, and every insert copies)
    absent = {c: _missing_like(old[c], len(new)) for c in extra if c not in new}
    if absent:
        new = pd.concat([new, pd.DataFrame(absent, index=new.index)], axis=1)
    lacking = {c: _missing_like(new[c], len(keep)) for c in new.columns if c not in keep}
    if lacking:
        keep = pd.concat([keep, pd.DataFrame(lacking, index=keep.index)], axis=1)
    merged = pd.concat([keep[new.columns], new], ignore_index=True)
    return merged, updated


def _missing_like(col: pd.Series, n: int) -> Any:
    import numpy as np
    import pandas as pd

    kind = column_spec(str(col.name)).dtype
    if kind == "float64":
        return np.full(n, math.nan)
    if kind == "bool":
        return np.zeros(n, dtype=bool)
    return pd.Series([None] * n, dtype=object).to_numpy()
