"""Small helpers shared by every layer's command line: one-line errors and output formats.

Example:
    >>> parser = ArgumentParser(prog="calnas demo")
    >>> add_format(parser)
    >>> emit({"space": "tss", "size": 15625}, parser.parse_args([]).format)
    space  tss
    size   15625
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from bench.errors import CalnasError

__all__ = ["CLIError", "ArgumentParser", "emit", "add_format"]


class CLIError(CalnasError):
    """A bad command-line request: printed as one line, exit status 2.

    Example:
        >>> from bench.errors import CalnasError
        >>> issubclass(CLIError, CalnasError)
        True
    """


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line on stderr and exits with status 2.

    Example:
        >>> parser = ArgumentParser(prog="calnas demo")
        >>> _ = parser.add_argument("--trials", type=int)
        >>> try:
        ...     parser.parse_args(["--trials", "many"])
        ... except SystemExit as stop:
        ...     stop.code
        2
    """

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` (no usage block) and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_format(parser: argparse.ArgumentParser, *choices: str, default: str = "table") -> None:
    """Add ``--format`` with the given choices (json and table by default).

    Args:
        parser: the (sub)command's parser.
        *choices: the accepted formats (none given: ``json`` and ``table``).
        default: the format used without ``--format``.

    Example:
        >>> parser = ArgumentParser(prog="calnas demo")
        >>> add_format(parser, "json", "table", "csv")
        >>> parser.parse_args(["--format", "csv"]).format
        'csv'
    """
    parser.add_argument(
        "--format", choices=choices or ("json", "table"), default=default, help="output format"
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        # six decimals (params_m, flops_m and metrics are quoted that way), trailing zeros dropped;
        # tiny values keep six significant digits instead of printing as 0
        if value == 0 or abs(value) >= 1e-4:
            return f"{value:.6f}".rstrip("0").rstrip(".")
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def emit(obj: Any, fmt: str, out=None) -> None:
    """Print ``obj`` as JSON, or as a plain table (a mapping, or a list of mappings).

    In a table, floats show six decimals without trailing zeros (tiny ones six significant
    digits); numpy scalars and arrays become JSON numbers and lists.

    Args:
        obj: a mapping (one ``key  value`` line each), a list of mappings (a table with a header
            row), or anything else (one line).
        fmt: ``"json"``, or any other value for the plain form.
        out: the stream to write to (default: stdout).

    Example:
        >>> emit([{"index": 11, "acc": 0.8412}, {"index": 3, "acc": 0.5}], "table")
        index  acc
        11     0.8412
        3      0.5
        >>> emit({"acc": 0.8412}, "json")
        {
          "acc": 0.8412
        }
    """
    out = out or sys.stdout
    if fmt == "json":
        json.dump(obj, out, indent=2, default=_json_default)
        out.write("\n")
        return
    if isinstance(obj, Mapping):
        width = max((len(str(k)) for k in obj), default=0)
        for key, value in obj.items():
            out.write(f"{str(key).ljust(width)}  {_cell(value)}\n")
        return
    if isinstance(obj, Sequence) and obj and all(isinstance(r, Mapping) for r in obj):
        cols = list(dict.fromkeys(k for r in obj for k in r))
        rows = [[_cell(r.get(c, "")) for c in cols] for r in obj]
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
        out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
        for r in rows:
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
        return
    out.write(f"{_cell(obj)}\n")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays without importing numpy here
    if hasattr(value, "tolist"):
        return value.tolist()
    # what SQL results hold besides numbers and strings: decimals as numbers, dates and times in
    # ISO form, bytes, UUIDs and intervals as their text (as the table and CSV forms print them)
    import datetime
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)
