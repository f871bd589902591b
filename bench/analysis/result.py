"""What a research question answers: tables, findings, notes, and how they are printed.

A :class:`Result` holds one question's answer: :class:`Matrix` (a Kendall tau matrix) and
:class:`Records` (rows of named values) tables, one-sentence findings, notes (what the table
lacks, what was left out, where the study diverges), the reliability of its columns, and arrays
kept only for the figures. It prints as JSON, as a plain-text table or as CSV, and every form
says when it reproduces the study's published choices rather than calnas's corrected ones.

Example:
    >>> r = Result("rq0", "A question?", "What it asks.", as_published=False)
    >>> _ = r.add(Records("medians", ["bins", "median"], [[5, 0.05], [15, 0.051]]))
    >>> print(r.to_text().splitlines()[0])
    rq0: A question?
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Matrix", "Records", "Result", "AS_PUBLISHED_NOTE", "fmt"]

#: The banner every as-published output carries.
AS_PUBLISHED_NOTE = (
    "AS PUBLISHED: reproduces the study's own choices where calnas corrects them "
    "(see each question's notes); flagged values are included, as the study had no flags"
)


def fmt(value: Any, digits: int = 2) -> str:
    """A value for a text table: floats to ``digits`` decimals, NaN/None as ``-``.

    Example:
        >>> fmt(0.98765), fmt(float("nan")), fmt(3)
        ('0.99', '-', '3')
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN to None, numpy scalars to Python."""
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class Matrix:
    """A square table of tau-b values with the same labels on both sides."""

    name: str
    labels: list[str]
    values: list[list[float]]
    caption: str = ""
    n: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "matrix",
            "caption": self.caption,
            "labels": self.labels,
            "tau": [[_clean(round(v, 4)) for v in row] for row in self.values],
            "n": self.n,
        }

    def rows(self) -> tuple[list[str], list[list[Any]]]:
        return ["", *self.labels], [
            [lab, *row] for lab, row in zip(self.labels, self.values, strict=True)
        ]


@dataclass
class Records:
    """Rows of values under named columns."""

    name: str
    columns: list[str]
    data: list[list[Any]]
    caption: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "records",
            "caption": self.caption,
            "columns": self.columns,
            "rows": [
                [_clean(round(v, 6) if isinstance(v, float) else v) for v in r] for r in self.data
            ],
        }

    def rows(self) -> tuple[list[str], list[list[Any]]]:
        return list(self.columns), [list(r) for r in self.data]


@dataclass
class Result:
    """One question's answer (see the module docstring)."""

    question: str
    title: str
    asks: str
    as_published: bool
    study: str = ""
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: dict[str, Matrix | Records] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    reliability: dict[str, Any] = field(default_factory=dict)
    #: arrays for the figures (not written to JSON)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, table: Matrix | Records) -> Matrix | Records:
        """Add a table under its name; return it."""
        self.tables[table.name] = table
        return table

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (what ``--format json`` prints and ``all`` writes)."""
        out: dict[str, Any] = {
            "question": self.question,
            "title": self.title,
            "asks": self.asks,
            "as_published": self.as_published,
        }
        if self.as_published:
            out["as_published_note"] = AS_PUBLISHED_NOTE
        out.update(
            {
                "study": self.study,
                "findings": self.findings,
                "notes": self.notes,
                "inputs": self.inputs,
                "reliability": self.reliability,
                "tables": {k: t.as_dict() for k, t in self.tables.items()},
            }
        )
        return out

    def header(self) -> list[str]:
        """The lines every text form starts with."""
        lines = [f"{self.question}: {self.title}"]
        if self.as_published:
            lines.append(AS_PUBLISHED_NOTE)
        return lines

    def to_text(self, digits: int = 2) -> str:
        """A plain-text report: findings, notes, reliability, then every table."""
        lines = self.header()
        for f in self.findings:
            lines.append(f"  * {f}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        for line in reliability_lines(self.reliability):
            lines.append(f"  reliability: {line}")
        for table in self.tables.values():
            lines.append("")
            lines.append(f"[{table.name}] {table.caption}".rstrip())
            head, rows = table.rows()
            cells = [head] + [[fmt(v, digits) for v in r] for r in rows]
            widths = [max(len(str(r[i])) for r in cells) for i in range(len(head))]
            for r in cells:
                lines.append("  ".join(str(v).rjust(w) for v, w in zip(r, widths, strict=True)))
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """Every table as CSV, each after a ``# table: name`` line (as-published says so)."""
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        if self.as_published:
            buf.write(f"# {AS_PUBLISHED_NOTE}\n")
        for table in self.tables.values():
            buf.write(f"# table: {self.question}.{table.name}: {table.caption}\n")
            head, rows = table.rows()
            out.writerow(head)
            for r in rows:
                out.writerow(["" if _clean(v) is None else _clean(v) for v in r])
        return buf.getvalue()


def reliability_lines(rel: dict[str, Any]) -> list[str]:
    """One line per dataset of a question's reliability block."""
    lines = []
    for key, block in rel.items():
        if not block.get("measurable"):
            lines.append(f"{key}: not measurable ({block.get('why', 'one seed')})")
            continue
        taus = block.get("test_retest_tau", {})
        parts = [f"{c} {fmt(t)}" for c, t in taus.items()]
        lines.append(f"{key}: test-retest tau between seeds: " + ", ".join(parts))
    return lines
