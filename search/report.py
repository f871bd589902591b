"""Write a search's results: the JSON report and PNG plots (matplotlib, Agg backend).

``front.png`` shows the found front over the true front (first two objectives; with one
objective, the objective of each query in order against the true optimum); ``hv.png`` shows the
normalized hypervolume after each query. Files are written to a temp name and renamed.

Example:
    >>> paths = write_report(result, "runs/tss-digits")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['front', 'hv', 'report']
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_report", "plot_front", "plot_hv_history", "summary_rows"]


def write_report(result: Any, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``report.json``, ``front.png`` and ``hv.png`` into ``out_dir`` (created if needed).

    Returns the paths by kind (``report``, ``front``, ``hv``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.json", "front": out / "front.png", "hv": out / "hv.png"}
    report = dict(result.report)
    report["plots"] = {"front": str(paths["front"]), "hv": str(paths["hv"])}
    _atomic_write(paths["report"], json.dumps(report, indent=2, default=_default).encode())
    plot_front(result, paths["front"])
    plot_hv_history(result.hv_history, paths["hv"], title=_title(result.report))
    result.report["plots"] = report["plots"]
    return paths


def plot_front(result: Any, path: str | os.PathLike) -> Path:
    """Found front (and every query) over the true front."""
    plt = _pyplot()
    rep = result.report
    names = [o.rsplit(":", 1)[0] for o in rep["objectives"]]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    if len(names) >= 2:
        x, y = names[0], names[1]
        q = [r["values"] for r in result.queries if x in r["values"] and y in r["values"]]
        ax.scatter([v[x] for v in q], [v[y] for v in q], s=8, c="0.75", label="queried")
        t = result.true_front
        ax.step([r["values"][x] for r in t], [r["values"][y] for r in t], where="post",
                color="tab:green", lw=1.2, label=f"true front ({len(t)})")  # fmt: skip
        ax.scatter([r["values"][x] for r in t], [r["values"][y] for r in t], s=18,
                   facecolors="none", edgecolors="tab:green")  # fmt: skip
        f = rep["pareto_front"]
        ax.scatter([r["values"][x] for r in f], [r["values"][y] for r in f], s=22,
                   c="tab:red", label=f"found front ({len(f)})", zorder=3)  # fmt: skip
        pick = rep.get("hcs_pick")
        if pick and x in pick["values"] and y in pick["values"]:
            ax.scatter([pick["values"][x]], [pick["values"][y]], marker="*", s=160,
                       c="gold", edgecolors="k", zorder=4, label="HCS pick")  # fmt: skip
        ax.set_xlabel(rep["objectives"][0])
        ax.set_ylabel(rep["objectives"][1])
    else:
        x = names[0]
        vals = [r["values"].get(x, np.nan) for r in result.queries]
        ax.plot(np.arange(1, len(vals) + 1), vals, ".", color="0.6", label="queried")
        if result.true_front:
            ax.axhline(result.true_front[0]["values"][x], color="tab:green", label="true best")
        ax.set_xlabel("query")
        ax.set_ylabel(rep["objectives"][0])
    ax.set_title(_title(rep), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_hv_history(history: np.ndarray, path: str | os.PathLike, *, title: str = "") -> Path:
    """Normalized hypervolume after each query."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    h = np.asarray(history, dtype=float)
    ax.plot(np.arange(1, len(h) + 1), h, color="tab:blue")
    ax.axhline(0.95, color="0.5", ls="--", lw=0.8, label="0.95")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("queries (distinct architectures)")
    ax.set_ylabel("normalized hypervolume")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The found front as table rows (index, arch, one column per value, hcs for the pick)."""
    pick = (report.get("hcs_pick") or {}).get("index")
    rows = []
    for r in report["pareto_front"]:
        row = {"index": r["index"], "arch": r["arch"], **r["values"]}
        row["pick"] = "*" if r["index"] == pick else ""
        rows.append(row)
    return rows


def _title(rep: dict[str, Any]) -> str:
    return (
        f"{rep['space']}/{rep['dataset']} {rep['strategy']}: {rep['queries']} queries, "
        f"HV {rep['normalized_hv']:.3f}"
    )


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
