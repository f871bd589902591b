"""Atomic file writes: a temp file in the target's folder, fsync, then ``os.replace``.

A reader sees the old file or the new one, never half of one. Unlike ``tempfile.mkstemp`` (always
mode 0600), the temp file is created with mode 0o666 so the process umask applies, and the result
gets the permissions any other file the user writes gets (0644 under the usual umask 022).

Example:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = atomic_write_text(os.path.join(folder, "report.json"), '{"ok": true}\\n')
    >>> open(path).read()
    '{"ok": true}\\n'
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, with mode ``0o666 & ~umask``; return the path.

    The folder must exist. On any failure the temp file is removed and ``path`` is untouched.

    Example:
        >>> atomic_write_bytes("plot.png", png_bytes)  # doctest: +SKIP
        PosixPath('plot.png')
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__} (use atomic_write_text)")
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # O_EXCL: never reuse a name; the umask applies
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`); return the path.

    Example:
        >>> atomic_write_text("notes.txt", "hello\\n")  # doctest: +SKIP
        PosixPath('notes.txt')
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__} (use atomic_write_bytes)")
    return atomic_write_bytes(path, text.encode(encoding))
