"""What every importer shares: the import report and the checks of CSV files and their rows."""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.errors import InputError, MissingFileError
from bench.table.store import UpsertReport
from bench.table.validation import normalize

__all__ = [
    "ImportReport",
    "check_arch",
    "check_configs",
    "locate_files",
    "read_csv",
    "validated_rows",
]


@dataclass
class ImportReport:
    """What an import read, flagged and wrote.

    Attributes:
        kind: the importer (``official``, ``robustness``, ``nats``, ``nb201``).
        files: the files read.
        rows: rows read per file (or per archive).
        flags: suspicious values kept unchanged, counted per ``"<file>: <reason>"``.
        notes: what else the reader should know (files skipped, seeds missing, ...).
        written: the store's report of the write (None until written).

    Example:
        >>> report = ImportReport("official", ["cifar10_sss.csv"], {"cifar10_sss.csv": 32768})
        >>> print(report)
        import official: 1 file(s) read
          cifar10_sss.csv: 32768 rows
    """

    kind: str
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    written: UpsertReport | None = None

    def __str__(self) -> str:
        lines = [f"import {self.kind}: {len(self.files)} file(s) read"]
        lines += [f"  {name}: {n} rows" for name, n in self.rows.items()]
        if self.flags:
            lines.append("  flagged (kept unchanged, see the 'flags' column):")
            lines += [f"    {k}: {n} rows" for k, n in sorted(self.flags.items())]
        lines += [f"  note: {n}" for n in self.notes]
        if self.written is not None:
            lines.append(f"  written: {self.written}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: the fields, with ``inserted``/``updated`` in place of ``written``.

        Example:
            >>> ImportReport("nb201").as_dict()["inserted"] is None
            True
        """
        return {
            "kind": self.kind,
            "files": self.files,
            "rows": self.rows,
            "flags": self.flags,
            "notes": self.notes,
            "inserted": None if self.written is None else self.written.inserted,
            "updated": None if self.written is None else self.written.updated,
        }


# -- CSV helpers -----------------------------------------------------------------------------------
#: The largest CSV file accepted (1 GiB): the published ones are at most ~80 MB (an SSS calibration
#: CSV, 32,768 rows x 154 columns); a larger file is refused from its size, unread.
MAX_CSV_BYTES = 1 << 30
#: The longest header line accepted (1 MiB): the published headers are about 2 KB.
MAX_HEADER_BYTES = 1 << 20


def _decode_error(path: Path, raw: bytes, err: UnicodeDecodeError, offset: int = 0) -> InputError:
    line = raw.count(b"\n", 0, err.start) + 1 + offset
    return InputError(
        f"{path}: not UTF-8 text (byte 0x{raw[err.start]:02x} at line {line}): "
        "not a CSV of this format, or saved in another encoding (save it as UTF-8)"
    )


def _header(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if not first.strip():
        raise InputError(f"{path}: empty file (no header)")
    if len(first) > MAX_HEADER_BYTES:
        raise InputError(
            f"{path}: header line longer than {MAX_HEADER_BYTES // 1024} KB: not a CSV of this "
            "format (the published headers are about 2 KB)"
        )
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _decode_error(path, first, err) from None
    if "\x00" in text:
        raise InputError(f"{path}: binary content (a NUL byte) in the header: not a CSV file")
    try:
        header = next(csv.reader([text.lstrip("\ufeff")]))
    except (csv.Error, StopIteration) as err:
        raise InputError(f"{path}: unreadable header ({err})") from None
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise InputError(f"{path}: duplicate header columns {dup}")
    return header


def _check_rows(path: Path, raw: bytes, width: int) -> None:
    """Refuse a body whose lines do not all hold ``width`` fields, naming the first bad line.

    pandas fills a short row (a file cut in the middle of a line) with missing values and reads
    a blank line as nothing at all: both would import silently. Without quotes in the file the
    fields are counted with numpy (commas between newlines); otherwise with the csv module.
    """
    import numpy as np

    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise InputError(f"{path}: binary content (a NUL byte) at line {line}: not a CSV file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _decode_error(path, raw, err) from None
    truncated = not raw.endswith(b"\n")
    if b'"' not in raw:
        buf = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        ends = newlines if not truncated else np.append(newlines, len(buf))
        starts = np.concatenate(([0], newlines + 1))[: len(ends)]
        commas = np.flatnonzero(buf == 44)
        fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
        length = ends - starts
        blank = (length == 0) | ((length == 1) & (buf[np.maximum(ends - 1, 0)] == 13))
        fields[blank] = 0
        counts = fields[1:]  # line 1 is the header
    else:
        counts = np.array(
            [len(row) for row in csv.reader(io.StringIO(text, newline=""))][1:], dtype=np.int64
        )
    if counts.size == 0:
        return
    # blank lines at the end are harmless; anywhere else they would shift every line number
    last = int(np.flatnonzero(counts != 0)[-1]) if (counts != 0).any() else -1
    bad = np.flatnonzero(counts[: last + 1] != width)
    if bad.size:
        i = int(bad[0])
        line = i + 2
        if counts[i] == 0:
            raise InputError(f"{path}: line {line} is empty (a blank line inside the table)")
        cut = truncated and i == last
        what = (
            "the last line is cut short: the file looks truncated"
            if cut and counts[i] < width
            else "a malformed row"
        )
        raise InputError(
            f"{path}: line {line} has {int(counts[i])} fields, the header has {width} ({what}; "
            f"{bad.size} such lines)"
        )


def read_csv(path: Path, expected: Iterable[str]) -> pd.DataFrame:
    """Read a CSV whose header must only hold ``expected`` names (plus a leading row number).

    Every line must hold as many fields as the header (a short row is malformed, not missing
    values; an empty cell in a complete row is a missing value); the file must be UTF-8 text of
    at most :data:`MAX_CSV_BYTES`.

    Raises:
        InputError: naming ``path``, the line and the problem.
    """
    expected = tuple(expected)
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise InputError(
            f"{path}: {size} bytes, more than the {MAX_CSV_BYTES >> 30} GiB accepted (the "
            "published CSVs are under 100 MB): not a file of this dataset"
        )
    header = _header(path)
    index_col = header and header[0] in ("", "Unnamed: 0", "index")
    names = header[1:] if index_col else header
    unknown = [c for c in names if c not in expected]
    if unknown:
        close = difflib.get_close_matches(unknown[0], expected, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(
            f"{path}: unexpected column {unknown[0]!r}{hint}; "
            f"{len(unknown)} unknown columns in all: is this the right file?"
        )
    raw = path.read_bytes()
    _check_rows(path, raw, len(header))
    try:
        # only an empty cell (or pandas' own NaN spelling) is a missing value: "n/a", "-" ...
        # are reported as non-numeric rather than silently read as missing
        frame = pd.read_csv(
            io.BytesIO(raw),
            low_memory=False,
            keep_default_na=False,
            na_values=["", "nan", "NaN"],
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable CSV ({' '.join(str(err).split())})") from None
    del raw
    if index_col:
        first = frame.columns[0]
        if not np.array_equal(pd.to_numeric(frame[first], errors="coerce"), np.arange(len(frame))):
            raise InputError(f"{path}: leading unnamed column is not the row number 0..n-1")
        frame = frame.drop(columns=first)
    columns: dict[str, Any] = {}
    for col in frame.columns:
        if col == "arch":
            columns[col] = frame[col]
            continue
        num = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero((num.isna() & frame[col].notna()).to_numpy())
        if bad.size:
            raise InputError(
                f"{path}: non-numeric value {frame[col].iloc[bad[0]]!r} in column {col!r} at "
                f"line {bad[0] + 2} ({bad.size} such values in the column)"
            )
        values = num.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isinf(values))
        if bad.size:  # no published value is infinite; "1e400" overflows to inf
            raise InputError(
                f"{path}: non-finite value {_cell_text(path, int(bad[0]) + 2, col)!r} in column "
                f"{col!r} at line {bad[0] + 2} ({bad.size} such values in the column)"
            )
        columns[col] = values
    return pd.DataFrame(columns)


def _cell_text(path: Path, line: int, column: str) -> str:
    """The text of ``column`` at ``line`` of a CSV, as written (for messages)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for row in reader:
            if reader.line_num == line:
                return row[header.index(column)] if column in header else "?"
    return "?"


def check_configs(path: Path, frame: pd.DataFrame, size: int) -> np.ndarray:
    """The ``config`` column as int64 indices, refusing empty, fractional, out-of-range and
    duplicate values with the line of the first one.

    Raises:
        InputError: naming ``path``, the line and the value.
    """
    if frame["config"].isna().any():
        line = int(np.flatnonzero(frame["config"].isna().to_numpy())[0]) + 2
        raise InputError(f"{path}: empty config at line {line}")
    config = frame["config"].to_numpy(dtype=np.float64)
    # checked as floats, before the cast: 1e30 or inf would wrap around to a negative int64
    bad = np.flatnonzero(~np.isfinite(config) | (config != np.round(config)))
    if bad.size:
        line = int(bad[0]) + 2
        raise InputError(
            f"{path}: config {_cell_text(path, line, 'config')} at line {line} is not an "
            f"integer NATS index 0..{size - 1}"
        )
    bad = np.flatnonzero((config < 0) | (config >= size))
    if bad.size:
        line = int(bad[0]) + 2
        raise InputError(
            f"{path}: config {_cell_text(path, line, 'config')} at line {line} out of range "
            f"0..{size - 1}"
        )
    config = config.astype(np.int64)
    uniq, counts = np.unique(config, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1]
        raise InputError(f"{path}: duplicate config {dup[0]} ({dup.size} configs repeated)")
    if uniq.size != size:
        lacking = np.setdiff1d(np.arange(size), uniq)
        raise InputError(
            f"{path}: {lacking.size} configs missing (the file must hold all {size}; "
            f"first missing: {lacking[:5].tolist()})"
        )
    return config


def check_arch(path: Path, space: str, config: np.ndarray, arch: pd.Series) -> None:
    """Refuse a file whose ``arch`` strings do not match the NATS index in ``config``.

    Raises:
        InputError: naming ``path``, the first row that disagrees and the expected arch.
    """
    expected = np.asarray(get_space(space).archs(), dtype=object)[config]
    given = arch.to_numpy(dtype=object)
    wrong = np.flatnonzero(given != expected)
    if wrong.size:
        i = wrong[0]
        raise InputError(
            f"{path}: arch does not match config at line {i + 2}: config {config[i]} is "
            f"{expected[i]!r} in {space}, the file says {given[i]!r} ({wrong.size} rows differ)"
        )


def validated_rows(path: Path, rows: pd.DataFrame, *, csv_lines: bool = False) -> pd.DataFrame:
    """``rows`` normalized to the table schema (``bench.table.validation.normalize``).

    Args:
        path: the file the rows come from, for messages.
        rows: the rows.
        csv_lines: row i is line i + 2 of ``path`` (a CSV with a header): the message says the
            line, not the row.

    Raises:
        InputError: the schema's complaint, prefixed with ``path``.
    """
    try:
        return normalize(rows)
    except ValueError as err:
        message = str(err)
        if csv_lines:
            message = re.sub(r"\(row (\d+):", lambda m: f"(line {int(m[1]) + 2}:", message)
        raise InputError(f"{path}: {message}") from None


def locate_files(path: str | Path, names: Iterable[str], what: str) -> list[Path]:
    """The files to import: ``path`` itself if it is one of ``names``, else those inside it."""
    path = Path(path)
    names = tuple(names)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or directory")
    if path.is_file():
        if path.name not in names:
            raise InputError(f"{path}: not a {what} file; expected one of {', '.join(names)}")
        return [path]
    found = [path / n for n in names if (path / n).is_file()]
    if not found:
        raise MissingFileError(f"{path}: none of the {what} files ({', '.join(names)})")
    return found
