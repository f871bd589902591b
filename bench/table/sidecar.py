"""The sidecar format: a table's numeric columns as raw arrays that numpy memory-maps.

Beside each store table ``<source>.parquet`` the store keeps ``<source>.npcols``, so that a new
process answers a query with numpy alone: importing pyarrow costs more than the read. Layout::

    8 bytes   magic b"CALNASC1"
    8 bytes   length of the header, little-endian
    header    JSON: version, the parquet file's identity, row count, column names, and per stored
              column its dtype, byte offset, row count (and labels, for a coded string column)
    arrays    the stored columns, little-endian, each starting 64-byte aligned

Stored: int64, float64 and bool columns as they are; ``space``, ``dataset`` and ``source`` as
uint8 codes plus labels; ``#arch.config``/``#arch.value``, the arch string of each distinct config
(a query answers with the string without building the space's string table); and, for a TSS
table, ``#space.reps``, every index's isomorphism-class representative (the fill of indices a
source lacks needs it; computing it costs a new process ~40 ms). Other columns are read from the
parquet file.

A sidecar is a cache: the store rewrites it with every upsert under the table's lock, a reader
uses it only while the identity it records (inode, size, mtime, hash of the parquet footer) matches
the parquet file, and a stale, damaged, absent or older-format one is rebuilt from the parquet
file by the first reader that can take the lock.

Versions: 1 held the columns and the arch map; 2 added what a stdlib-only lookup path needed (the
rows' (hp, epoch) runs and the TSS index order); 3, the current one, drops those again (queries
take the numpy path) and keeps ``#space.reps``. Versions 1 and 2 are still read (their columns are
laid out alike) until they are rewritten.

Example:
    >>> import pandas as pd, tempfile
    >>> from bench.table.store import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> rows = pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "computed",
    ...                      "config": [0, 7], "hp": 200, "epoch": 200, "acc": [0.84, 0.93]})
    >>> _ = store.upsert(rows)
    >>> side = Sidecar.open(store.path_for("tss", "cifar10", "computed"))
    >>> side.read("acc").tolist(), side.rows, side.current
    ([0.84, 0.93], 2, True)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from bench.errors import InputError
from bench.fileio import atomic_path
from bench.table.schema import column_spec

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Sidecar", "sidecar_path", "parquet_identity", "write_sidecar", "rebuild_sidecar"]

_MAGIC = b"CALNASC1"
_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)
_CODED = ("space", "dataset", "source")  # string columns stored as uint8 codes + labels
_STORED = {"int64": "<i8", "float64": "<f8", "bool": "|b1"}
# names that start with '#' are not table columns (see has())
_ARCH_CONFIG, _ARCH_VALUE = "#arch.config", "#arch.value"
_SPACE_REPS = "#space.reps"
_ALIGN = 64


def _aligned(nbytes: int) -> int:
    return -(-nbytes // _ALIGN) * _ALIGN


#: Integer arrays every calnas table's sidecar holds: without them it is not used.
_KEY_ARRAYS = ("config", "hp", "epoch")


def sidecar_path(parquet: Path) -> Path:
    """The sidecar file of a parquet table (``computed.parquet`` -> ``computed.npcols``).

    Example:
        >>> sidecar_path(Path("tables/tss/cifar10/computed.parquet")).name
        'computed.npcols'
    """
    return Path(parquet).with_suffix(".npcols")


def parquet_identity(fh: BinaryIO) -> dict[str, Any]:
    """Inode, size, mtime and a hash of the footer of an open parquet file.

    Args:
        fh: the parquet file, opened for binary reading.

    Returns:
        ``{"ino", "size", "mtime_ns", "footer"}``: equal for the same generation of the file.

    Raises:
        InputError: the file does not end like a parquet file.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile() as fh:  # doctest: +IGNORE_EXCEPTION_DETAIL
        ...     _ = fh.write(b"a CSV file, say")
        ...     parquet_identity(fh)
        Traceback (most recent call last):
        InputError: not a parquet file (bad footer)
    """
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


def _stored_form(name: str, values: Any) -> tuple[np.ndarray, list[str] | None] | None:
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
    """Sorted distinct configs and their arch strings (fixed-width bytes), one per config."""
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
    return uniq, np.array([a.encode() for a in names])


def _space_reps(space: str) -> np.ndarray | None:
    """``#space.reps`` of a table of ``space`` (TSS only: every SSS index is its own class)."""
    import numpy as np

    from bench.arch.spaces import get_space

    if space != "tss":
        return None
    return np.asarray(get_space(space).representatives()).astype("<i2")


def write_sidecar(
    target: Path, identity: dict[str, Any], names: list[str], arrays: dict[str, Any], rows: int
) -> None:
    """Write the sidecar of a table's ``arrays`` to ``target`` (a temp file the caller renames).

    The store calls it with the frame it has just written to parquet, inside
    :func:`bench.fileio.atomic_path`; :func:`rebuild_sidecar` with the columns read back.

    Args:
        target: the file to write (created or truncated).
        identity: :func:`parquet_identity` of the parquet file holding the same rows.
        names: the parquet file's column names, in its order.
        arrays: every column's values by name (numpy arrays or sequences).
        rows: the row count.
    """
    stored: dict[str, tuple[np.ndarray, list[str] | None]] = {}
    for name in names:
        got = _stored_form(name, arrays[name])
        if got is not None:
            stored[name] = got
    arch = _arch_map(arrays.get("config"), arrays.get("arch"))
    if arch is not None:
        stored[_ARCH_CONFIG], stored[_ARCH_VALUE] = (arch[0], None), (arch[1], None)
    spaces = stored["space"][1] if "space" in stored else None
    reps = _space_reps(spaces[0]) if spaces is not None and len(spaces) == 1 else None
    if reps is not None:
        stored[_SPACE_REPS] = (reps, None)
    columns: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, (arr, labels) in stored.items():
        entry: dict[str, Any] = {"dtype": arr.dtype.str, "offset": offset, "rows": len(arr)}
        if labels is not None:
            entry["labels"] = labels
        columns[name] = entry
        offset += _aligned(arr.nbytes)
    header = {
        "version": _VERSION,
        "parquet": identity,
        "rows": rows,
        "names": names,
        "columns": columns,
        "data_bytes": offset,
    }
    raw = json.dumps(header).encode()
    start = _aligned(16 + len(raw))
    with open(target, "wb") as fh:
        fh.write(_MAGIC + len(raw).to_bytes(8, "little") + raw)
        fh.write(b"\0" * (start - 16 - len(raw)))
        for arr, _ in stored.values():
            fh.write(arr.tobytes())
            fh.write(b"\0" * (_aligned(arr.nbytes) - arr.nbytes))


def rebuild_sidecar(path: Path) -> bool:
    """Write the sidecar of the parquet file ``path`` from the file itself.

    The caller holds the table's lock. A file that cannot be read, or a folder that cannot be
    written (a read-only benchmark), gives False and leaves the old sidecar as it was.

    Args:
        path: the parquet file.

    Returns:
        Whether a sidecar was written.

    Example:
        >>> import pandas as pd, tempfile
        >>> from bench.table.store import Store
        >>> store = Store(tempfile.mkdtemp())
        >>> _ = store.upsert(pd.DataFrame({"space": "sss", "dataset": "cifar10",
        ...     "source": "computed", "config": [5], "hp": 90, "epoch": 90, "acc": [0.7]}))
        >>> path = store.path_for("sss", "cifar10", "computed")
        >>> sidecar_path(path).unlink()
        >>> rebuild_sidecar(path), Sidecar.open(path).read("acc").tolist()
        (True, [0.7])
    """
    import pyarrow.parquet as pq

    try:
        with atomic_path(sidecar_path(path)) as tmp:
            with open(path, "rb") as fh:  # identity and data of the same open file
                identity = parquet_identity(fh)
                fh.seek(0)
                table = pq.read_table(fh)
            names = table.column_names
            arrays = {c: table.column(c).to_numpy(zero_copy_only=False) for c in names}
            write_sidecar(tmp, identity, names, arrays, table.num_rows)
    except (OSError, ValueError):
        return False
    return True


class Sidecar:
    """The stored columns of one parquet table, memory-mapped from its ``.npcols`` file.

    :meth:`open` returns None unless the sidecar exists, is intact and records the identity of
    the parquet file as it is now; the mapping then pins that generation of the table (a later
    upsert replaces the files, not what is mapped).

    Example:
        >>> import pandas as pd, tempfile
        >>> from bench.table.store import Store
        >>> store = Store(tempfile.mkdtemp())
        >>> _ = store.upsert(pd.DataFrame({"space": "tss", "dataset": "cifar10", "hp": 200,
        ...     "source": "computed", "config": [0, 7], "epoch": 200, "acc": [0.8, 0.9]}))
        >>> side = Sidecar.open(store.path_for("tss", "cifar10", "computed"))
        >>> side.read("acc", 1).tolist(), side.arch(7) is not None, side.arch(8)
        ([0.9], True, None)
        >>> side.has("acc"), side.has("arch")   # strings other than the codes stay in parquet
        (True, False)
    """

    def __init__(self, path: Path, buf: Any, header: dict[str, Any], start: int):
        self.path = path
        self._buf = buf
        self._start = start
        self.version: int = header["version"]
        self.rows: int = header["rows"]
        self.names: tuple[str, ...] = tuple(header["names"])
        self._columns: dict[str, dict[str, Any]] = header["columns"]

    @classmethod
    def open(cls, parquet: Path) -> Sidecar | None:
        """The fresh sidecar of ``parquet``, or None (absent, damaged, unknown format, or stale)."""
        import mmap

        side = sidecar_path(Path(parquet))
        try:
            with open(side, "rb") as fh:
                head = fh.read(16)
                if len(head) != 16 or head[:8] != _MAGIC:
                    return None
                length = int.from_bytes(head[8:], "little")
                if length > os.fstat(fh.fileno()).st_size:  # damaged: never allocate for it
                    return None
                header = json.loads(fh.read(length))
                start = _aligned(16 + length)
                if header.get("version") not in _READABLE_VERSIONS:
                    return None
                if not all(
                    str(header["columns"].get(k, {}).get("dtype", ""))
                    .lstrip("<>=|")
                    .startswith("i")
                    for k in _KEY_ARRAYS
                ):
                    return None  # not a calnas table's (the parquet file is checked instead)
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
                if parquet_identity(fh) != header["parquet"]:
                    return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return cls(side, buf, header, start)

    @property
    def current(self) -> bool:
        """Whether this sidecar has this calnas's format (an older one is worth rewriting)."""
        return self.version == _VERSION

    def has(self, name: str) -> bool:
        """Whether table column ``name`` is stored here (else read it from the parquet file)."""
        return name in self._columns and not name.startswith("#")

    def _array(self, name: str) -> np.ndarray:
        """Stored array ``name`` as a read-only view of the mapping (codes, not labels)."""
        import numpy as np

        entry = self._columns[name]
        return np.frombuffer(
            self._buf,
            dtype=np.dtype(entry["dtype"]),
            count=entry.get("rows", self.rows),
            offset=self._start + entry["offset"],
        )

    def read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of column ``name`` (a copy; coded string columns decoded to str).

        Raises:
            KeyError: the column is not stored here (see :meth:`has`).
        """
        import numpy as np

        arr = self._array(name)
        stop = len(arr) if stop is None else min(stop, len(arr))
        arr = arr[max(0, min(start, stop)) : stop]
        entry = self._columns[name]
        if "labels" in entry:
            return np.asarray(entry["labels"], dtype=object)[arr]
        return arr.astype(arr.dtype.newbyteorder("="), copy=True)

    def arch(self, config: int) -> str | None:
        """The arch string the table stores for ``config`` (None when it has no row for it)."""
        import numpy as np

        if _ARCH_CONFIG not in self._columns or _ARCH_VALUE not in self._columns:
            return None
        configs = self._array(_ARCH_CONFIG)
        pos = int(np.searchsorted(configs, config))
        if pos >= len(configs) or configs[pos] != config:
            return None
        return bytes(self._array(_ARCH_VALUE)[pos]).rstrip(b"\0").decode()

    def representatives(self) -> np.ndarray | None:
        """Every index's isomorphism-class representative (TSS tables), or None when absent."""
        import numpy as np

        if _SPACE_REPS not in self._columns:
            return None
        reps = self._array(_SPACE_REPS).astype(np.int64)
        reps.flags.writeable = False
        return reps
