"""Every question at once: one JSON file each, the PNG figures, and one self-contained report.html.

``report.html`` needs nothing beside it: the figures are embedded as base64 PNG, the style is
inline, and every table is there (folded under its figure). The page opens with what the
benchmark holds and, when reproducing the study's published choices, a banner saying so.

Example:
    >>> import tempfile
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> out = write_all(Context(Benchmark.open("/tmp/calnas-doc-empty")), tempfile.mkdtemp(),
    ...                 questions=["rq3"])
    >>> sorted(p.name for p in out["files"])[:3]
    ['report.html', 'rq3.json', 'rq3_sss_digits.png']
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.analysis import figures as F
from bench.analysis.questions import QUESTIONS, Context, module
from bench.analysis.result import AS_PUBLISHED_NOTE, Matrix, Result, fmt, reliability_lines
from bench.fileio import atomic_write_bytes, atomic_write_text

__all__ = ["write_all", "render_html"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:2.2em}.asks{color:#444}.study{background:#f6f6f6;border-left:4px solid #999;
padding:.5em .8em;font-size:.92em}.figs{display:flex;flex-wrap:wrap;gap:6px;
align-items:flex-start}img.half{width:49%}img.full{max-width:100%}
.banner{background:#fff3cd;border:1px solid #e0b000;
padding:.6em .9em;font-weight:600}.note{color:#555;font-size:.9em}.find li{margin:.2em 0}
.rel{font-size:.9em;color:#345}img{border:1px solid #eee;margin:.3em 0}
table.t{border-collapse:collapse;font-size:.78em;margin:.4em 0}table.t td,table.t th{
border:1px solid #ddd;padding:2px 6px;text-align:right}table.t th{background:#f0f0f0}
details{margin:.3em 0 1em}summary{cursor:pointer;color:#336}.meta{font-size:.85em;color:#666}
nav a{margin-right:1em}
"""


def write_all(
    ctx: Context,
    out: str | os.PathLike[str],
    *,
    questions: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Answer every question (or ``questions``) and write the JSON files, figures and report.

    Args:
        ctx: the benchmark and options.
        out: the folder to write into (created if absent).
        questions: which ones (default: rq1 ... rq7 and reliability).

    Returns:
        ``{"results": {name: Result}, "files": [paths], "seconds": {name: s}, "report": path}``.

    Raises:
        InputError: an unknown question name.
    """
    names = list(questions) if questions is not None else list(QUESTIONS)
    mods = {n: module(n) for n in names}  # unknown names fail before anything is written
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Result] = {}
    images: dict[str, list[tuple[str, bytes]]] = {}
    files: list[Path] = []
    seconds: dict[str, float] = {}
    for name in names:
        start = time.perf_counter()
        res = mods[name].run(ctx)
        results[name] = res
        images[name] = []
        for fig_name, fig in mods[name].figures(res):
            png = F.png_bytes(fig)
            path = folder / f"{name}_{fig_name}.png"
            files.append(atomic_write_bytes(path, png))
            images[name].append((fig_name, png))
        body = json.dumps(res.as_dict(), indent=1, allow_nan=False, default=_default)
        files.append(atomic_write_text(folder / f"{name}.json", body + "\n"))
        seconds[name] = time.perf_counter() - start
    page = render_html(ctx, results, images)
    report = atomic_write_text(folder / "report.html", page)
    files.append(report)
    return {"results": results, "files": files, "seconds": seconds, "report": report}


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def render_html(
    ctx: Context, results: dict[str, Result], images: dict[str, list[tuple[str, bytes]]]
) -> str:
    """The report page (see the module docstring).

    Args:
        ctx: the context the results were computed with (its benchmark and options).
        results: question name -> result.
        images: question name -> (figure name, PNG bytes) pairs, embedded in that order.

    Returns:
        The HTML text.
    """
    from bench import __version__

    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>calnas analyze: the study's research questions</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>The calibration study's research questions, on this benchmark</h1>",
        f"<p class='meta'>calnas {e(__version__)} &middot; benchmark {e(str(ctx.bench.store.root))}"
        f" (plus the embedded demo table) &middot; source {e(ctx.source or 'all, by priority')}"
        f" &middot; {time.strftime('%Y-%m-%d %H:%M')}</p>",
    ]
    if ctx.as_published:
        parts.append(f"<p class='banner'>{e(AS_PUBLISHED_NOTE)}</p>")
    parts.append(_tables_held(ctx))
    parts.append("<nav>" + "".join(f"<a href='#{n}'>{e(n)}</a>" for n in results) + "</nav>")
    for name, res in results.items():
        parts.append(_section(name, res, images.get(name, [])))
    parts.append("</body></html>")
    return "\n".join(parts)


def _tables_held(ctx: Context) -> str:
    rows = [(i["space"], i["dataset"], i["source"], i["rows"]) for i in ctx.bench.info()]
    if not rows:
        return "<p class='note'>The benchmark holds no table.</p>"
    body = "".join(
        f"<tr><td>{html.escape(str(a))}</td><td>{html.escape(str(b))}</td>"
        f"<td>{html.escape(str(c))}</td><td>{d:,}</td></tr>"
        for a, b, c, d in rows
    )
    return (
        "<details><summary>Tables held</summary><table class='t'><tr><th>space</th>"
        f"<th>dataset</th><th>source</th><th>rows</th></tr>{body}</table></details>"
    )


def _section(name: str, res: Result, imgs: list[tuple[str, bytes]]) -> str:
    e = html.escape
    out = [f"<h2 id='{e(name)}'>{e(name)}: {e(res.title)}</h2>"]
    if res.as_published:
        out.append(f"<p class='banner'>{e(AS_PUBLISHED_NOTE)}</p>")
    out.append(f"<p class='asks'>{e(res.asks)}</p>")
    if res.study:
        out.append(f"<p class='study'><b>The study:</b> {e(res.study)}</p>")
    if res.findings:
        out.append(
            "<p><b>Found here:</b></p><ul class='find'>"
            + "".join(f"<li>{e(f)}</li>" for f in res.findings)
            + "</ul>"
        )
    rel = reliability_lines(res.reliability)
    if rel:
        out.append(
            "<p class='rel'><b>Seed reliability of its columns:</b> "
            + "; ".join(e(r) for r in rel)
            + "</p>"
        )
    if res.notes:
        out.append("<ul class='note'>" + "".join(f"<li>{e(n)}</li>" for n in res.notes) + "</ul>")
    if imgs:
        out.append("<div class='figs'>")
        for fig_name, png in imgs:
            data = base64.b64encode(png).decode("ascii")
            width = int.from_bytes(png[16:20], "big")  # the PNG header's width: small ones pair up
            size = "half" if width <= 820 else "full"
            out.append(
                f"<img class='{size}' alt='{e(name)} {e(fig_name)}' "
                f"src='data:image/png;base64,{data}'>"
            )
        out.append("</div>")
    for table in res.tables.values():
        out.append(
            f"<details><summary>table {e(table.name)}: {e(table.caption)}</summary>"
            f"{_html_table(table)}</details>"
        )
    return "\n".join(out)


def _html_table(table: Any) -> str:
    head, rows = table.rows()
    e = html.escape
    digits = 2 if isinstance(table, Matrix) else 4
    body = "".join(
        "<tr>" + "".join(f"<td>{e(fmt(v, digits))}</td>" for v in r) + "</tr>" for r in rows
    )
    return (
        "<table class='t'><tr>"
        + "".join(f"<th>{e(str(h))}</th>" for h in head)
        + (f"</tr>{body}</table>")
    )
