"""The benchmark store: a directory of zstd parquet files, one per (space, dataset, source).

Layout of a benchmark directory (default ``$CALNAS_HOME``, else ``~/.calnas``)::

    <root>/tables/<space>/<dataset>/<source>.parquet   the rows of one (space, dataset, source)
    <root>/tables/<space>/<dataset>/<source>.npcols    its sidecar: numeric columns (see Sidecar)
    <root>/locks/<space>__<dataset>__<source>.lock     one file lock per table

A row is identified by the key (space, dataset, config, source, hp, epoch, seed) (``schema.KEY``).
``hp`` is part of the key because NATS-Bench's hp tags 12 and 200 are separate training runs
that both have an epoch 12; ``seed`` is -1 for a value that is not one seed's (a mean, unknown).

:meth:`Store.upsert` validates every row against :mod:`bench.table.schema` (types, ranges, config in
range for the space, arch matching config, no duplicate keys), then for each table it takes the
table's lock, reads the current file, merges (a row with an existing key replaces the columns it
brings and keeps the others; new keys are appended), writes a temporary file beside it and
renames it over the old one with ``os.replace``. Readers never see a half-written file, several
writer processes never lose or duplicate a row, and an invalid frame writes nothing at all.

Each write also replaces the table's sidecar (:class:`Sidecar`), the numeric columns as raw
arrays that a reader memory-maps with numpy alone; it is used only while it matches the parquet
file. :meth:`Store.read` goes through pyarrow and touches only the file and the columns (and
row groups, with ``filters``) asked for; rows are sorted by (hp, epoch, config, seed) so filters
on hp and epoch skip row groups.

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

import bisect
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bench import __version__
from bench.errors import InputError, MissingFileError
from bench.table.schema import (
    DATASETS,
    KEY,
    PUBLISHED_COLUMNS,
    SOURCES,
    check_columns,
    column_spec,
)

if TYPE_CHECKING:  # numpy, pandas and pyarrow are imported where used: a query needs none
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from filelock import FileLock

__all__ = [
    "Store",
    "TableInfo",
    "UpsertReport",
    "default_path",
    "normalize",
    "arrow_type",
    "TABLE_KEY",
    "Sidecar",
    "sidecar_path",
]

#: Columns that identify a row inside one table (space, dataset and source are the file).
TABLE_KEY: tuple[str, ...] = ("config", "hp", "epoch", "seed")
_SORT = ("hp", "epoch", "config", "seed")
_REQUIRED = ("space", "dataset", "source", "config", "hp", "epoch")
_FIRST = ("space", "dataset", "source", "config", "arch", "hp", "epoch", "seed", "copied")
_ROW_GROUP = 131_072


def default_path() -> Path:
    """The user's benchmark directory: ``$CALNAS_HOME``, else ``~/.calnas``."""
    env = os.environ.get("CALNAS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".calnas"


def arrow_type(name: str) -> pa.DataType:
    """The arrow type a column is stored with."""
    import pyarrow as pa

    arrow = {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    return arrow[column_spec(name).dtype]


# TableInfo and UpsertReport are not dataclasses: importing dataclasses (it imports inspect)
# would be a third of a new process's cold query (see Benchmark.query)
class TableInfo(NamedTuple):
    """One parquet file of the store, described from its metadata alone."""

    space: str
    dataset: str
    source: str
    path: Path
    rows: int
    columns: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
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


def _column_order(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    published = {n: i for i, n in enumerate(PUBLISHED_COLUMNS)}
    first = [n for n in _FIRST if n in names]
    pub = sorted((n for n in names if n in published and n not in first), key=published.get)
    rest = sorted(n for n in names if n not in published and n not in first)
    return first + pub + rest


def _fail(column: str, mask: np.ndarray, frame: pd.DataFrame, what: str) -> None:
    import numpy as np

    rows = np.flatnonzero(mask)
    if rows.size:
        row = rows[0]
        value = frame[column].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise InputError(
            f"column {column!r}: {what} (row {row}: {value!r}; {rows.size} bad rows in all)"
        )


def _as_int(frame: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    col = frame[name]
    num = pd.to_numeric(col, errors="coerce")
    _fail(name, (num.isna() & col.notna()).to_numpy(), frame, "not a number")
    _fail(name, num.isna().to_numpy(), frame, "missing value in a column that needs one")
    values = num.to_numpy(dtype=np.float64)
    _fail(name, values != np.round(values), frame, "not an integer")
    return values.astype(np.int64)


def _as_float(frame: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    col = frame[name]
    if col.dtype == bool:
        raise InputError(f"column {name!r}: booleans are not measurements")
    num = pd.to_numeric(col, errors="coerce")
    _fail(name, (num.isna() & col.notna()).to_numpy(), frame, "not a number")
    return num.to_numpy(dtype=np.float64)


def _as_str(frame: pd.DataFrame, name: str, nullable: bool) -> np.ndarray:
    import numpy as np

    col = frame[name]
    values = col.to_numpy(dtype=object)
    missing = col.isna().to_numpy()
    if not nullable:
        _fail(name, missing, frame, "missing value in a column that needs one")
    bad = np.fromiter((not isinstance(v, str) for v in values), bool, len(values)) & ~missing
    _fail(name, bad, frame, "not a string")
    return values


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate rows against the schema and return them with the stored dtypes.

    Fills the defaults (``seed`` -1, ``copied`` False, ``arch`` from ``config``, ``created`` now,
    ``calnas_version``), checks names, types, ranges, spaces, datasets, sources, config ranges,
    arch strings and duplicate keys, and raises ValueError naming the first problem.
    """
    import numpy as np
    import pandas as pd

    from bench.arch.spaces import SPACES, get_space

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"rows must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise InputError(f"duplicate column names: {dup}")
    if len(frame) == 0:
        raise InputError("no rows to write")
    check_columns([str(c) for c in frame.columns])
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"rows lack required columns {missing} (required: {list(_REQUIRED)})")
    frame = frame.reset_index(drop=True)
    out: dict[str, Any] = {}
    n = len(frame)
    for name in frame.columns:
        spec = column_spec(name)
        if spec.dtype == "int64":
            values = _as_int(frame, name)
        elif spec.dtype == "float64":
            values = _as_float(frame, name)
        elif spec.dtype == "string":
            values = _as_str(frame, name, spec.nullable and name != "arch")
        elif spec.dtype == "bool":
            col = frame[name]
            ok = col.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
            _fail(name, ~ok, frame, "not a boolean")
            values = col.to_numpy(dtype=bool)
        else:  # timestamp
            try:
                values = pd.to_datetime(frame[name], utc=True)
            except (ValueError, TypeError) as err:
                raise InputError(f"column {name!r}: not a timestamp ({err})") from None
        if spec.dtype in ("int64", "float64"):
            finite = values[np.isfinite(values)] if spec.dtype == "float64" else values
            if spec.dtype == "float64":
                _fail(name, np.isinf(values), frame, "infinite value")
            if finite.size and (finite.min() < spec.low or finite.max() > spec.high):
                bad = (values < spec.low) | (values > spec.high)
                hint = ""
                if spec.is_fraction and 1 < np.nanmax(values) <= 100:
                    hint = "; it looks like a percentage: calnas stores fractions (divide by 100)"
                _fail(name, bad, frame, f"outside [{spec.low}, {spec.high}]{hint}")
        out[name] = values
    rows = pd.DataFrame(out)
    for name, allowed in (("space", SPACES), ("dataset", DATASETS), ("source", SOURCES)):
        bad = ~rows[name].isin(allowed).to_numpy()
        _fail(name, bad, rows, f"unknown value; accepted: {', '.join(allowed)}")
    if "seed" not in rows:
        rows["seed"] = np.full(n, -1, dtype=np.int64)
    if "copied" not in rows:
        rows["copied"] = np.zeros(n, dtype=bool)
    if "created" not in rows:
        rows["created"] = pd.Timestamp.now(tz="UTC").floor("us")
    if "calnas_version" not in rows:
        rows["calnas_version"] = __version__
    has_arch = "arch" in rows
    arch = rows["arch"].to_numpy(dtype=object) if has_arch else np.empty(n, dtype=object)
    for space_name, idx in rows.groupby("space").indices.items():
        space = get_space(space_name)
        config = rows["config"].to_numpy()[idx]
        out_of_range = np.zeros(n, dtype=bool)
        out_of_range[idx] = config >= space.size
        _fail("config", out_of_range, rows, f"out of range for {space_name} (< {space.size})")
        expected = np.asarray(space.archs(), dtype=object)[config]
        if has_arch:
            given = arch[idx]
            wrong = given != expected
            if wrong.any():
                row = idx[np.flatnonzero(wrong)[0]]
                raise InputError(
                    f"arch does not match config in row {row}: config {rows['config'].iloc[row]} "
                    f"is {space.arch(int(rows['config'].iloc[row]))!r} in {space_name}, the row "
                    f"says {rows['arch'].iloc[row]!r} ({int(wrong.sum())} mismatching rows)"
                )
        else:
            arch[idx] = expected
    if not has_arch:
        rows["arch"] = arch
    dup = rows.duplicated(list(KEY), keep=False).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        key = {k: rows[k].iloc[row] for k in KEY}
        key = {k: v.item() if isinstance(v, np.generic) else v for k, v in key.items()}
        raise InputError(f"duplicate key {key} ({int(dup.sum())} rows share a key)")
    return rows[_column_order(rows.columns)]


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    schema = pa.schema([pa.field(c, arrow_type(c)) for c in frame.columns])
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform opens directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """A benchmark directory of parquet tables (see the module docstring for the layout).

    ``lock_timeout`` (seconds) bounds the wait for another writer of the same table.
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
        """Every table of the store, from parquet metadata only (no data is read)."""
        import pyarrow.parquet as pq

        found: list[TableInfo] = []
        base = self.root / "tables"
        if not base.is_dir():
            return found
        for path in sorted(base.glob("*/*/*.parquet")):
            meta = pq.read_metadata(path)
            found.append(
                TableInfo(
                    path.parent.parent.name,
                    path.parent.name,
                    path.stem,
                    path,
                    meta.num_rows,
                    tuple(meta.schema.to_arrow_schema().names),
                )
            )
        return found

    def has(self, space: str, dataset: str, source: str) -> bool:
        return self.path_for(space, dataset, source).is_file()

    def columns(self, space: str, dataset: str, source: str) -> list[str]:
        """Column names of one table (empty when it does not exist)."""
        import pyarrow.parquet as pq

        path = self.path_for(space, dataset, source)
        return list(pq.read_schema(path).names) if path.is_file() else []

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
        present = pq.read_schema(path).names
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
            # a frame spanning several tables carries every table's columns: drop the value
            # columns that hold nothing for this one (so an all-missing column never erases)
            empty = [
                c for c in new.columns if column_spec(c).dtype == "float64" and new[c].isna().all()
            ]
            new = new.drop(columns=empty).reset_index(drop=True)
            if path.is_file():
                old = pq.read_table(path).to_pandas()
                merged, updated = _merge(old, new)
            else:
                merged, updated = new, 0
            merged = merged.sort_values(list(_SORT), kind="stable").reset_index(drop=True)
            merged = merged[_column_order(merged.columns)]
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
        import uuid

        import pyarrow.parquet as pq

        token = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp = path.with_name(f".{path.name}.{token}.tmp")
        side = sidecar_path(path)
        side_tmp = side.with_name(f".{side.name}.{token}.tmp")
        try:
            table = _arrow_table(frame)
            pq.write_table(table, tmp, compression="zstd", row_group_size=_ROW_GROUP)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
                identity = _parquet_identity(fh)
            arrays = {c: frame[c].to_numpy() for c in frame.columns}
            _write_sidecar(side_tmp, identity, list(frame.columns), arrays, len(frame))
            os.replace(tmp, path)
            os.replace(side_tmp, side)
            _fsync_dir(path.parent)
        finally:
            for t in (tmp, side_tmp):
                if t.exists():
                    t.unlink()

    # -- sidecars ------------------------------------------------------------------------------
    def sidecar(self, space: str, dataset: str, source: str) -> Sidecar | None:
        """The table's sidecar when it is present and matches the parquet file, else None."""
        return Sidecar.open(self.path_for(space, dataset, source))

    def rebuild_sidecar(self, space: str, dataset: str, source: str, *, wait: bool = True) -> bool:
        """Rewrite the sidecar of one table from its parquet file; True when one was written.

        Takes the table's lock (``wait=False``: gives up at once when a writer holds it, as
        readers do when they find a stale sidecar) and writes nothing when the sidecar is
        already fresh and of the current format (a version-1 sidecar is rewritten). A read-only
        benchmark directory gives False, not an error.

        Example:
            >>> store.rebuild_sidecar("tss", "cifar10", "computed")   # doctest: +SKIP
            False
        """
        from filelock import Timeout

        path = self.path_for(space, dataset, source)
        if not path.is_file():
            raise MissingFileError(f"{self.root}: no table for {space}/{dataset}/{source}")
        try:
            lock = self._lock(space, dataset, source, timeout=None if wait else 0)
            lock.acquire()
        except (Timeout, OSError):
            return False
        try:
            side = Sidecar.open(path)
            if side is not None and side.current:
                return False
            return _rebuild_sidecar(path)
        finally:
            lock.release()


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
    for c in extra:  # columns the new rows do not bring stay missing for brand-new keys
        if c not in new:
            new[c] = _missing_like(old[c], len(new))
    for c in new.columns:
        if c not in keep:
            keep = keep.assign(**{c: _missing_like(new[c], len(keep))})
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


# -- sidecars -------------------------------------------------------------------------------------
# Beside each table ``<source>.parquet`` the store keeps ``<source>.npcols``: the table's numeric
# columns (and its space/dataset/source as small codes) as raw little-endian arrays, so that a new
# process answers a query without pyarrow (importing it costs more than the read). Layout:
# 8 bytes magic, 8 bytes header length, a JSON header (the parquet file's identity, row count,
# column names, per stored column its dtype and byte offset, the table's runs), then the arrays,
# 64-byte aligned. The sidecar is a cache: it is rewritten with every upsert under the table's
# lock, is used only while the identity it records (inode, size, mtime, hash of the parquet
# footer) matches the parquet file, and is rebuilt from the parquet file when stale.
#
# Version 2 adds what a single lookup needs to be answered with the standard library alone
# (importing numpy costs several times the lookup; see Benchmark.query): ``runs``, one entry per
# (hp, epoch) of the rows sorted by (hp, epoch, config, seed), with its row range, its seeds and
# whether a config repeats in it (several seeds), so a reader finds a config's rows by bisection;
# and for TSS tables the space's index order and isomorphism representatives (#space.*, 31 KB
# each), which cost a new process ~85 ms of pure Python to rebuild. A version-1 sidecar is still
# read (the numpy path needs nothing more) and is rewritten by the first reader that can.

_MAGIC = b"CALNASC1"
_SIDECAR_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_CODED = ("space", "dataset", "source")  # string columns stored as uint8 codes + labels
_STORED = {"int64": "<i8", "float64": "<f8", "bool": "|b1"}
_ARCH_CONFIG, _ARCH_VALUE = "#arch.config", "#arch.value"  # not column names: see _arch_map
#: per index: the radix value of its code (first position most significant) / its representative
_SPACE_ORDER, _SPACE_REPS = "#space.order", "#space.reps"
#: memoryview format and item size of the stored dtypes (little-endian: see Sidecar.view)
_VIEW_FORMATS = {"<i8": ("q", 8), "<f8": ("d", 8), "|b1": ("?", 1), "<i2": ("h", 2)}


def sidecar_path(parquet: Path) -> Path:
    """The sidecar file of a parquet table (``computed.parquet`` -> ``computed.npcols``)."""
    return parquet.with_suffix(".npcols")


def _parquet_identity(fh: Any) -> dict[str, Any]:
    """Inode, size, mtime and a hash of the footer of an open parquet file."""
    st = os.fstat(fh.fileno())
    fh.seek(-8, os.SEEK_END)
    tail = fh.read(8)
    length = int.from_bytes(tail[:4], "little")
    if tail[4:] != b"PAR1" or length + 8 > st.st_size:
        raise InputError("not a parquet file (bad footer)")
    fh.seek(-(length + 8), os.SEEK_END)
    footer = fh.read(length + 8)
    return {
        "ino": st.st_ino,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "footer": hashlib.sha256(footer).hexdigest(),
    }


def _sidecar_array(name: str, values: Any) -> tuple[np.ndarray, list[str] | None] | None:
    """The stored form of one column, or None when the sidecar leaves it to the parquet file."""
    import numpy as np

    kind = column_spec(name).dtype
    arr = np.asarray(values)
    if kind in _STORED:
        # an int column with missing values arrives as float or object: not stored
        if arr.dtype.kind not in ("iub" if kind != "float64" else "iufb"):
            return None
        return np.ascontiguousarray(arr, dtype=_STORED[kind]), None
    if name in _CODED and arr.dtype.kind in "OUT":
        labels, codes = np.unique(arr.astype(str), return_inverse=True)
        if len(labels) > 255:
            return None
        return codes.astype(np.uint8).ravel(), [str(v) for v in labels]
    return None


def _arch_map(config: Any, arch: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct configs and their arch strings (fixed-width bytes), one per config.

    Small whatever the row count (at most one entry per architecture); it spares a new process
    rebuilding the space's string table (NATS's shuffled TSS order) to answer one query.
    """
    import numpy as np

    if config is None or arch is None:
        return None
    config = np.asarray(config)
    if config.dtype.kind not in "iu" or len(config) == 0:
        return None
    uniq, first = np.unique(config.astype(np.int64), return_index=True)
    names = np.asarray(arch, dtype=object)[first]
    if any(not isinstance(a, str) for a in names):
        return None
    encoded = np.array([a.encode() for a in names])
    return uniq, encoded


def _runs(arrays: dict[str, Any], rows: int) -> list[dict[str, Any]] | None:
    """The (hp, epoch) runs of the rows, or None unless rows are strictly sorted by the key.

    Each run: ``hp``, ``epoch``, its rows ``start:stop``, its sorted distinct ``seeds`` and
    ``dup`` (some config has several rows in it). Strictly sorted by (hp, epoch, config, seed)
    means a config's rows of one run are contiguous and no key repeats; the store writes rows so,
    a parquet file written by another tool may not be (its readers then use numpy).

    Example:
        >>> _runs({"hp": [12, 12, 200], "epoch": [12, 12, 200], "config": [0, 0, 3],
        ...        "seed": [777, 888, -1]}, 3)[0]
        {'hp': 12, 'epoch': 12, 'start': 0, 'stop': 2, 'seeds': [777, 888], 'dup': True}
    """
    import numpy as np

    if rows == 0:
        return []
    cols = []
    for name in ("hp", "epoch", "config", "seed"):
        values = arrays.get(name)
        if values is None and name == "seed":  # readers take a table without seeds as all -1
            values = np.full(rows, -1, dtype=np.int64)
        arr = None if values is None else np.asarray(values)
        if arr is None or arr.dtype.kind not in "iu" or len(arr) != rows:
            return None
        cols.append(arr.astype(np.int64))
    later = np.zeros(max(rows - 1, 0), dtype=bool)  # row i+1 > row i, decided so far
    tied = np.ones(max(rows - 1, 0), dtype=bool)  # row i+1 == row i on the columns so far
    for col in cols:
        later |= tied & (col[1:] > col[:-1])
        tied &= col[1:] == col[:-1]
    if not later.all():
        return None
    hp, epoch, config, seed = cols
    cuts = (np.flatnonzero((hp[1:] != hp[:-1]) | (epoch[1:] != epoch[:-1])) + 1).tolist()
    runs = []
    for start, stop in zip([0, *cuts], [*cuts, rows], strict=True):
        if start == stop:  # no rows at all
            continue
        block = config[start:stop]
        runs.append(
            {
                "hp": int(hp[start]),
                "epoch": int(epoch[start]),
                "start": start,
                "stop": stop,
                "seeds": np.unique(seed[start:stop]).tolist(),
                "dup": bool(np.any(block[1:] == block[:-1])),
            }
        )
    return runs


def _space_tables(name: str) -> dict[str, tuple[np.ndarray, None]]:
    """The #space.* arrays a sidecar of a ``name`` table carries (TSS only: SSS is arithmetic)."""
    import numpy as np

    from bench.arch.spaces import get_space

    if name != "tss":
        return {}
    sp = get_space(name)
    order = sp._radix_values(sp.codes()).astype("<i2")
    reps = np.asarray(sp.representatives()).astype("<i2")
    return {_SPACE_ORDER: (order, None), _SPACE_REPS: (reps, None)}


def _write_sidecar(
    target: Path, identity: dict[str, Any], names: list[str], arrays: dict[str, Any], rows: int
) -> None:
    stored: dict[str, tuple[np.ndarray, list[str] | None]] = {}
    for name in names:
        got = _sidecar_array(name, arrays[name])
        if got is not None:
            stored[name] = got
    arch = _arch_map(arrays.get("config"), arrays.get("arch"))
    if arch is not None:
        stored[_ARCH_CONFIG], stored[_ARCH_VALUE] = (arch[0], None), (arch[1], None)
    spaces = stored["space"][1] if "space" in stored else None
    if spaces is not None and len(spaces) == 1:
        stored.update(_space_tables(spaces[0]))
    columns: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, (arr, labels) in stored.items():
        entry: dict[str, Any] = {"dtype": arr.dtype.str, "offset": offset, "rows": len(arr)}
        if labels is not None:
            entry["labels"] = labels
        columns[name] = entry
        offset += -(-arr.nbytes // 64) * 64
    header = {
        "version": _SIDECAR_VERSION,
        "parquet": identity,
        "rows": rows,
        "names": names,
        "columns": columns,
        "data_bytes": offset,
        "runs": _runs(arrays, rows),
    }
    raw = json.dumps(header).encode()
    start = -(-(16 + len(raw)) // 64) * 64  # data begins 64-byte aligned
    with open(target, "wb") as fh:
        fh.write(_MAGIC + len(raw).to_bytes(8, "little") + raw)
        fh.write(b"\0" * (start - 16 - len(raw)))
        for arr, _ in stored.values():
            fh.write(arr.tobytes())
            pad = -(-arr.nbytes // 64) * 64 - arr.nbytes
            fh.write(b"\0" * pad)
        fh.flush()
        os.fsync(fh.fileno())


def _rebuild_sidecar(path: Path) -> bool:
    """Write the sidecar of ``path`` from the parquet file itself (caller holds the lock)."""
    import pyarrow.parquet as pq

    side = sidecar_path(path)
    import uuid

    tmp = side.with_name(f".{side.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(path, "rb") as fh:  # identity and data of the same open file
            identity = _parquet_identity(fh)
            fh.seek(0)
            table = pq.read_table(fh)
        names = table.column_names
        arrays = {c: table.column(c).to_numpy(zero_copy_only=False) for c in names}
        _write_sidecar(tmp, identity, names, arrays, table.num_rows)
        os.replace(tmp, side)
        return True
    except (OSError, ValueError):
        return False
    finally:
        if tmp.exists():
            tmp.unlink()


class Sidecar:
    """The numeric columns of one parquet table, memory-mapped from its ``.npcols`` file.

    :meth:`open` returns None unless the sidecar exists, is intact and records the identity of
    the parquet file as it is now; the mapping then pins that generation of the table (a later
    upsert replaces the files, not what is mapped).

    Example:
        >>> side = Sidecar.open(store.path_for("tss", "cifar10", "computed"))   # doctest: +SKIP
        >>> side.read("acc")[:2]                                                # doctest: +SKIP
        array([0.84, 0.93])
    """

    def __init__(self, path: Path, buf: Any, header: dict[str, Any], start: int):
        self.path = path
        self._buf = buf
        self._start = start
        self.version: int = header["version"]
        self.rows: int = header["rows"]
        self.names: tuple[str, ...] = tuple(header["names"])
        self._columns: dict[str, dict[str, Any]] = header["columns"]
        #: the (hp, epoch) runs of the rows (see ``_runs``), or None (version 1, unsorted rows)
        self.runs: list[dict[str, Any]] | None = header.get("runs")
        self._views: dict[str, memoryview | None] = {}

    @classmethod
    def open(cls, parquet: Path) -> Sidecar | None:
        """The fresh sidecar of ``parquet``, or None (absent, corrupt, or stale)."""
        import mmap

        side = sidecar_path(Path(parquet))
        try:
            with open(side, "rb") as fh:
                head = fh.read(16)
                if len(head) != 16 or head[:8] != _MAGIC:
                    return None
                length = int.from_bytes(head[8:], "little")
                header = json.loads(fh.read(length))
                start = -(-(16 + length) // 64) * 64
                if header.get("version") not in _READABLE_VERSIONS:
                    return None
                if os.fstat(fh.fileno()).st_size < start + header["data_bytes"]:
                    return None  # truncated
                if os.name == "nt":  # a mapped file cannot be replaced there: writers would fail
                    fh.seek(0)
                    buf = fh.read()
                else:
                    buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            # checked after the sidecar is opened: a writer that replaced both files since then
            # makes this fail, so the mapped sidecar is never newer than the parquet checked
            with open(parquet, "rb") as fh:
                if _parquet_identity(fh) != header["parquet"]:
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(side, buf, header, start)

    def has(self, name: str) -> bool:
        """Whether column ``name`` is stored here (else read it from the parquet file)."""
        return name in self._columns and not name.startswith("#")

    @property
    def current(self) -> bool:
        """Whether this sidecar has this calnas's format (an older one is worth rewriting)."""
        return self.version == _SIDECAR_VERSION

    def view(self, name: str) -> memoryview | None:
        """Stored column ``name`` as a read-only memoryview of Python values, without numpy.

        None when no such view exists: a coded string column, or a big-endian machine (the
        arrays are little-endian). Views are cached; they pin the mapping.

        Example:
            >>> side.view("acc")[123]   # doctest: +SKIP
            0.9012
        """
        if name in self._views:
            return self._views[name]
        entry = self._columns.get(name)
        form = None if entry is None or "labels" in entry else _VIEW_FORMATS.get(entry["dtype"])
        view = None
        if form is not None and sys.byteorder == "little":
            fmt, width = form
            at = self._start + entry["offset"]
            rows = entry.get("rows", self.rows)
            view = memoryview(self._buf)[at : at + rows * width].cast(fmt)
        self._views[name] = view
        return view

    def arch(self, config: int) -> str | None:
        """The arch string the table stores for ``config`` (None when it has no row for it)."""
        entry = self._columns.get(_ARCH_VALUE)
        configs = self.view(_ARCH_CONFIG)
        if entry is None or configs is None:
            return None
        pos = bisect.bisect_left(configs, config)
        if pos >= len(configs) or configs[pos] != config:
            return None
        width = int(entry["dtype"][2:])  # "|S<width>"
        at = self._start + entry["offset"] + pos * width
        return bytes(self._buf[at : at + width]).rstrip(b"\0").decode()

    def read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of column ``name`` (a copy; string columns decoded to str)."""
        import numpy as np

        entry = self._columns[name]
        dtype = np.dtype(entry["dtype"])
        rows = entry.get("rows", self.rows)
        stop = rows if stop is None else min(stop, rows)
        start = max(0, min(start, stop))
        offset = self._start + entry["offset"] + start * dtype.itemsize
        arr = np.frombuffer(self._buf, dtype=dtype, count=stop - start, offset=offset)
        if "labels" in entry:
            return np.asarray(entry["labels"], dtype=object)[arr]
        return arr.astype(dtype.newbyteorder("="), copy=True)
