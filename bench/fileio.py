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
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_dir",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_create_text",
    "check_output_dir",
    "check_output_file",
    "remove_stale_temps",
]

# the longest temp-name decoration atomic_path/atomic_dir add to a name: ".{name}.{8 hex}.tmp"
_TEMP_EXTRA = 14


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp file beside ``path`` to write to, renamed over ``path`` when the block succeeds.

    For writers that take a file name (pyarrow, pandas, a format's own ``save``). The temp file
    exists, empty and with mode ``0o666 & ~umask``, when the block starts, so a writer that opens
    it by name keeps that mode. On success it is fsynced and renamed over ``path`` (and the folder
    fsynced, where the platform allows); on any exception it is removed and ``path`` is untouched.
    The folder must exist.

    Args:
        path: the file to write.

    Yields:
        The temp file's path, in ``path``'s folder.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "table.csv")
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("config,acc\\n0,0.84\\n")
        >>> open(target).read()
        'config,acc\\n0,0.84\\n'
        >>> with atomic_path(target) as tmp:  # a failed write leaves the old file, and no temp
        ...     _ = tmp.write_text("conf")
        ...     raise OSError("disk full")
        Traceback (most recent call last):
        OSError: disk full
        >>> open(target).read(), os.listdir(os.path.dirname(target))
        ('config,acc\\n0,0.84\\n', ['table.csv'])
    """
    path = Path(path)
    tmp = _new_temp(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp folder beside ``path`` to fill, renamed to ``path`` when the block succeeds.

    For outputs that are a folder of files (a saved surrogate). The folder is created with mode
    ``0o777 & ~umask`` (``tempfile.mkdtemp`` would give 0700) and files written into it get the
    umask's modes as usual. On success every file in it is fsynced, then it is renamed to
    ``path``; an existing folder at ``path`` is first renamed aside and removed once the new one
    is in place, so a reader finds the old folder or the new one, never a half-written one (for
    the instant between the two renames, none). On any exception the temp folder is removed and
    ``path`` is untouched. The parent folder must exist; whether an existing ``path`` may be
    replaced is the caller's decision.

    Args:
        path: the folder to write.

    Yields:
        The temp folder's path, in ``path``'s parent.

    Raises:
        NotADirectoryError: ``path`` exists and is not a folder.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "model")
        >>> with atomic_dir(target) as tmp:
        ...     _ = (tmp / "meta.json").write_text("{}")
        >>> os.listdir(target)
        ['meta.json']
        >>> with atomic_dir(target) as tmp:  # a failed write leaves the old folder, and no temp
        ...     _ = (tmp / "half.json").write_text("{")
        ...     raise OSError("disk full")
        Traceback (most recent call last):
        OSError: disk full
        >>> os.listdir(target), os.listdir(os.path.dirname(target))
        (['meta.json'], ['model'])
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a folder; choose another path")
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.mkdir(tmp, 0o777)  # the umask applies
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        for root, _dirs, files in os.walk(tmp):
            for name in files:
                fd = os.open(os.path.join(root, name), os.O_RDONLY | getattr(os, "O_BINARY", 0))
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)  # put the old folder back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_temp(path: Path) -> Path:
    """A new, empty temp file beside ``path``, with mode ``0o666 & ~umask``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, flags, 0o666))  # O_EXCL: never reuse a name; the umask applies
            return tmp
        except FileExistsError:
            continue


def remove_stale_temps(path: str | os.PathLike[str], *, before: float) -> list[Path]:
    """Remove the temp files that :func:`atomic_path` left beside ``path`` before ``before``.

    A writer killed (SIGKILL, power loss) inside :func:`atomic_path` leaves its temp file
    (``.<name>.<8 hex>.tmp``) behind; nothing else ever removes it. Call this only while holding
    the lock that every writer of ``path`` holds: then no live writer owns a temp file that was
    last modified before the lock was taken (``before``, a ``time.time()``), and those are removed.

    Args:
        path: the file whose temp files to look for (its folder need not exist).
        before: remove only temp files last modified before this time (seconds since the epoch).

    Returns:
        The temp files removed.

    Example:
        >>> import os, tempfile, time
        >>> folder = tempfile.mkdtemp()
        >>> target = os.path.join(folder, "table.parquet")
        >>> open(os.path.join(folder, ".table.parquet.0a1b2c3d.tmp"), "w").close()  # a kill's
        >>> [p.name for p in remove_stale_temps(target, before=time.time() + 1)], os.listdir(folder)
        (['.table.parquet.0a1b2c3d.tmp'], [])
    """
    import re

    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[0-9a-f]{{8}}\.tmp$")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < before:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except FileNotFoundError:
            continue
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not every platform opens a folder: then skipped)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, with mode ``0o666 & ~umask``; return the path.

    The folder must exist. On any failure the temp file is removed and ``path`` is untouched
    (see :func:`atomic_path`).

    Args:
        path: the file to write.
        data: its new content.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: ``data`` is not bytes-like.
        OSError: the folder does not exist or is not writable.

    Example:
        >>> import os, stat, tempfile
        >>> path = atomic_write_bytes(os.path.join(tempfile.mkdtemp(), "raw.bin"), b"PK")
        >>> path.read_bytes(), stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
        (b'PK', True)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__} (use atomic_write_text)")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`); return the path.

    Args:
        path: the file to write.
        text: its new content.
        encoding: the text's encoding.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: ``text`` is not a str.
        OSError: the folder does not exist or is not writable.

    Example:
        >>> import os, tempfile
        >>> atomic_write_text(os.path.join(tempfile.mkdtemp(), "notes.txt"), "hello\\n").name
        'notes.txt'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__} (use atomic_write_bytes)")
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_create_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> bool:
    """Create ``path`` holding ``text`` only if it does not exist yet; return whether it did.

    Exclusive like ``open(path, "x")``, and whole like :func:`atomic_path`: the text goes to a
    temp file (fsynced) that is then hard-linked to ``path``, and a link never replaces a file.
    So a process that finds ``path`` reads all of it, never an empty or half-written file. For
    claim and lock files that concurrent processes race to create.

    Args:
        path: the file to create; its folder must exist.
        text: its content.
        encoding: the text's encoding.

    Returns:
        True if this call created ``path``; False if it existed already (it is left as it is).

    Raises:
        TypeError: ``text`` is not a str.
        OSError: the folder does not exist, or hard links are not supported there.

    Example:
        >>> import os, tempfile
        >>> claim = os.path.join(tempfile.mkdtemp(), "unit.claim")
        >>> atomic_create_text(claim, "host 123"), atomic_create_text(claim, "other 456")
        (True, False)
        >>> open(claim).read(), os.listdir(os.path.dirname(claim))
        ('host 123', ['unit.claim'])
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    path = Path(path)
    tmp = _new_temp(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(text.encode(encoding))
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def check_output_file(path: str | os.PathLike[str], option: str) -> Path:
    """Check, before any work, that a file can be written at ``path``; return it as a Path.

    The folder must exist and be writable, ``path`` must not be a folder (an existing file is
    replaced), and the name must fit the file system with the temp-file decoration the atomic
    writes add. A command checks its outputs up front, so that a bad path fails in a second,
    not after the work, and nothing is written.

    Args:
        path: the file to be written.
        option: the option that named it, for the message (``"--output"``).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        MissingFileError: the folder does not exist, or a part of it is a file.
        InputError: ``path`` is a folder, its name is too long, or the folder is not writable.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> check_output_file(os.path.join(folder, "rows.csv"), "--output").name
        'rows.csv'
        >>> check_output_file(os.path.join(folder, "no", "rows.csv"), "--output")
        Traceback (most recent call last):
        ...
        bench.errors.MissingFileError: --output .../no/rows.csv: folder .../no does not exist
    """
    from bench.errors import InputError

    path = Path(path).expanduser()
    _check_names(path, option)
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file path")
    _check_folder(path.parent, path, option)
    return path


def check_output_dir(path: str | os.PathLike[str], option: str) -> Path:
    """Check, before any work, that folder ``path`` exists or can be made; return it as a Path.

    ``path`` must be a folder or not exist; its nearest existing ancestor must be a writable
    folder (not a file), and each missing part's name must fit the file system.

    Args:
        path: the folder to be written into (made with its parents when missing).
        option: the option that named it, for the message (``"--out"``).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        MissingFileError: a part of ``path`` is a file.
        InputError: ``path`` is a file, a name is too long, or the folder is not writable.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> check_output_dir(os.path.join(folder, "a", "b"), "--out").name
        'b'
        >>> open(os.path.join(folder, "f"), "w").close()
        >>> check_output_dir(os.path.join(folder, "f"), "--out")
        Traceback (most recent call last):
        ...
        bench.errors.InputError: --out .../f is a file, not a folder
    """
    from bench.errors import InputError

    path = Path(path).expanduser()
    _check_names(path, option)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file, not a folder")
    base = path
    while not base.exists() and base != base.parent:
        base = base.parent
    if base != path:
        _check_folder(base, path, option, missing_ok=True)
    elif not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: the folder is not writable")
    return path


def _check_folder(folder: Path, path: Path, option: str, *, missing_ok: bool = False) -> None:
    from bench.errors import InputError, MissingFileError

    folder = folder if str(folder) else Path(".")
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise MissingFileError(f"{option} {path}: {part} is a file, not a folder")
            break
    if not folder.is_dir() and not missing_ok:
        raise MissingFileError(f"{option} {path}: folder {folder} does not exist")
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {folder} is not writable")


def _check_names(path: Path, option: str) -> None:
    """Every part of ``path`` fits the file system's name limit (the last with a temp name's)."""
    from bench.errors import InputError

    try:
        limit = os.pathconf(".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    parts = path.parts
    for i, part in enumerate(parts):
        size = len(os.fsencode(part))
        room = limit - _TEMP_EXTRA if i == len(parts) - 1 else limit
        if size > room:
            raise InputError(
                f"{option}: the name {part[:24]}... is {size} bytes; the file system allows "
                f"{room} here"
            )
