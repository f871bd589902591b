"""What every importer shares: the import report and the checks of CSV files and their rows."""

from __future__ import annotations

import csv
import difflib
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
def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            raise InputError(f"{path}: empty file (no header)") from None
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise InputError(f"{path}: duplicate header columns {dup}")
    return header


def read_csv(path: Path, expected: Iterable[str]) -> pd.DataFrame:
    """Read a CSV whose header must only hold ``expected`` names (plus a leading row number)."""
    expected = tuple(expected)
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
    try:
        # only an empty cell (or pandas' own NaN spelling) is a missing value: "n/a", "-" ...
        # are reported as non-numeric rather than silently read as missing
        frame = pd.read_csv(
            path, low_memory=False, keep_default_na=False, na_values=["", "nan", "NaN"]
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable CSV ({err})") from None
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
        columns[col] = num.to_numpy(dtype=np.float64)
    return pd.DataFrame(columns)


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
    if (config != np.round(config)).any():
        raise InputError(f"{path}: config must hold integer NATS indices")
    config = config.astype(np.int64)
    bad = np.flatnonzero((config < 0) | (config >= size))
    if bad.size:
        raise InputError(f"{path}: config {config[bad[0]]} out of range 0..{size - 1}")
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


def validated_rows(path: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` normalized to the table schema (``bench.table.store.normalize``).

    Raises:
        InputError: the schema's complaint, prefixed with ``path``.
    """
    try:
        return normalize(rows)
    except ValueError as err:
        raise InputError(f"{path}: {err}") from None


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
