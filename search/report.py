"""Write a search's results: the JSON report and PNG plots (matplotlib, Agg backend).

``front.png`` shows the found front over the true front (first two objectives; with one
objective, the objective of each query in order against the true optimum): the main panel is
zoomed on the fronts, a side panel shows every query at full range. ``hv.png`` shows the
normalized hypervolume after each query. Files are written atomically
(:mod:`bench.fileio`), with the permissions the process umask gives.

Example:
    >>> import tempfile
    >>> from search import run_search
    >>> result = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=5)
    >>> with tempfile.TemporaryDirectory() as out:
    ...     sorted(write_report(result, out))
    ['front', 'hv', 'report']
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.fileio import atomic_write_bytes, atomic_write_text

__all__ = [
    "write_report",
    "plot_front",
    "plot_hv_history",
    "summary_rows",
    "describe_table",
    "axis_label",
    "INDICATOR_NOTES",
]

#: Axis labels in words for the usual objectives; other columns fall back to their own name.
LABELS: dict[str, str] = {
    "acc": "accuracy",
    "valid_acc": "validation accuracy",
    "test_acc": "test accuracy",
    "post_acc": "accuracy after temperature scaling",
    "pre_ECE_15": "expected calibration error (15 bins)",
    "post_ECE_15": "expected calibration error (15 bins) after temperature scaling",
    "pre_NLL": "negative log-likelihood",
    "pre_Brier": "Brier score",
    "pre_smECE": "smooth ECE",
    "params_m": "parameters (millions)",
    "flops_m": "FLOPs (millions)",
    "latency_s": "latency (s)",
    "train_time_s": "training time (s)",
    "hcs": "harmonic calibration score (HCS)",
}
#: What the search's two quality numbers mean, one line each (printed under the summary).
INDICATOR_NOTES: tuple[str, ...] = (
    "normalized HV: share of the true front's hypervolume that the found front covers "
    "(1 = as good as the true front; higher is better)",
    "IGD+: mean distance from each true-front point to the found front, in units of the "
    "front's range (0 = true front reached; lower is better)",
)
_SOURCES = {
    "demo": "the embedded demo table",
    "official": "the published calibration table (Tao et al., ICLR 2024)",
    "robustness": "the NAS-Bench-201 robustness dataset",
    "nats": "NATS-Bench archives",
    "nb201": "the NB201 tables",
    "computed": "rows computed by calnas",
}
_DATASETS = {
    "digits": "scikit-learn digits (a CPU proxy, not CIFAR)",
    "fashion8": "Fashion-MNIST at 8x8 (a CPU proxy, not CIFAR)",
    "cifar10": "CIFAR-10",
    "cifar10-valid": "CIFAR-10 (train/valid split)",
    "cifar100": "CIFAR-100",
    "ImageNet16-120": "ImageNet16-120",
}
_UNITS = {"tss": "TSS cells", "sss": "SSS networks"}


def write_report(result: Any, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``report.json``, ``front.png`` and ``hv.png`` into ``out_dir`` (created if needed).

    Returns the paths by kind (``report``, ``front``, ``hv``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.json", "front": out / "front.png", "hv": out / "hv.png"}
    report = dict(result.report)
    report["plots"] = {"front": str(paths["front"]), "hv": str(paths["hv"])}
    atomic_write_text(paths["report"], json.dumps(report, indent=2, default=_default) + "\n")
    plot_front(result, paths["front"])
    plot_hv_history(result.hv_history, paths["hv"], title=_title(result.report))
    result.report["plots"] = report["plots"]
    return paths


def describe_table(report: dict[str, Any]) -> str:
    """One line saying what the search searched, derived from the report's space, dataset,
    sources, schedule and backend.

    Example:
        >>> describe_table({"space": "tss", "dataset": "digits", "sources": ["demo"],
        ...                 "schedule_epochs": 4, "final_epoch": 4, "backend": "table"})
        'searched the embedded demo table: TSS cells trained 4 epochs on scikit-learn digits (a CPU proxy, not CIFAR)'
    """  # noqa: E501
    space, dataset = report["space"], report["dataset"]
    sources = list(report.get("sources") or [])
    if report.get("backend") == "compute":
        where = "networks computed by calnas (compute backend)"
    elif len(sources) == 1:
        where = _SOURCES.get(sources[0], f"the {sources[0]} table")
    elif sources:
        where = "the " + " + ".join(sources) + " tables"
    else:
        where = f"the {space}/{dataset} table"
    if report.get("backend") == "surrogate":
        where = f"a surrogate fitted on {where}"
    hp, final = report.get("schedule_epochs"), report.get("final_epoch")
    if hp and final and final != hp:
        trained = f" measured after {final} of {hp} epochs"
    elif hp or final:
        trained = f" trained {hp or final} epochs"
    else:
        trained = ""
    data = _DATASETS.get(dataset, dataset)
    line = f"searched {where}: {_UNITS.get(space, space)}{trained} on {data}"
    signal = report.get("signal_epoch")
    if signal and final and signal != final:
        line += f"; the search saw epoch-{signal} values, the scores use epoch {final}"
    if report.get("merge_functional") and space == "tss":
        line += "; classes computing the same function counted as one"
    prior = report.get("prior")
    if prior:
        line += f"; warm start: {prior['queued']} best of the {prior['dataset']} table first"
    return line


def axis_label(objective: str) -> str:
    """``"acc:max"`` -> ``"accuracy, higher is better"``; unknown columns keep their name."""
    name, _, direction = objective.rpartition(":")
    if not name:
        name, direction = direction, ""
    words = LABELS.get(name)
    if words is None and name.startswith("hcs@"):
        words = f"HCS with {LABELS.get(name[4:], name[4:])}"
    text = words or name
    if direction in ("max", "min"):
        text += ", higher is better" if direction == "max" else ", lower is better"
    return text


def plot_front(result: Any, path: str | os.PathLike) -> Path:
    """Found front over the true front, zoomed on the fronts; every query at full range beside.

    True-front points are large hollow green rings joined by a step line, drawn on top; found
    front points are small filled red dots, drawn over everything, so a found true-front point is
    a dot in a ring and the HCS pick (a labelled star) keeps its dot. With one objective: each
    query's value in order, and the best.
    """
    plt = _pyplot()
    rep = result.report
    if len(rep["objectives"]) < 2:
        return _plot_single(result, path)
    x, y = (o.rpartition(":")[0] or o for o in rep["objectives"][:2])

    def points(rows: list[dict[str, Any]]) -> np.ndarray:
        got = [(r["values"][x], r["values"][y]) for r in rows
               if x in r["values"] and y in r["values"]]  # fmt: skip
        return np.asarray(got, dtype=np.float64).reshape(-1, 2)

    q, t, f = points(result.queries), points(result.true_front), points(rep["pareto_front"])
    q = q[np.all(np.isfinite(q), axis=1)]
    pick = rep.get("hcs_pick")
    has_pick = bool(pick) and x in pick["values"] and y in pick["values"]
    focus = np.vstack([t, f])
    everything = np.vstack([q, t, f])
    lo, hi = _padded(focus[_framed(focus)] if len(focus) else everything)
    full_lo, full_hi = _padded(everything)
    zoomed = bool(np.any((hi - lo) < 0.6 * (full_hi - full_lo)))
    if zoomed:
        fig, (ax, ax_full) = plt.subplots(
            1, 2, figsize=(10.5, 5), dpi=110, gridspec_kw={"width_ratios": [2.3, 1]}
        )
    else:
        fig, ax = plt.subplots(figsize=(7, 5), dpi=110)

    def counted(name: str, pts: np.ndarray) -> str:
        hidden = int((~np.all((pts >= lo) & (pts <= hi), axis=1)).sum())
        return f"{name} ({len(pts)}" + (f"; {hidden} outside this view)" if hidden else ")")

    ax.scatter(q[:, 0], q[:, 1], s=10, c="0.72", lw=0, zorder=1, label=counted("queried", q))
    # above the true front's rings and the HCS star: the pick's own dot shows inside the star
    ax.scatter(f[:, 0], f[:, 1], s=22, c="tab:red", lw=0, zorder=6.5,
               label=counted("found front", f))  # fmt: skip
    ax.step(t[:, 0], t[:, 1], where="post", color="tab:green", lw=1.0, alpha=0.8, zorder=4)
    ax.scatter(t[:, 0], t[:, 1], s=70, facecolors="none", edgecolors="tab:green", lw=1.4,
               zorder=5, label=counted("true front", t))  # fmt: skip
    if has_pick:
        px, py = pick["values"][x], pick["values"][y]
        ax.scatter([px], [py], marker="*", s=240, c="gold", edgecolors="k", lw=0.8, zorder=6,
                   label="HCS pick")  # fmt: skip
        away = _label_side((np.array([px, py]) - lo) / (hi - lo), rep["objectives"][:2])
        ax.annotate(
            f"HCS pick #{pick['index']}\n{_short(x)} {px:.3f}, {_short(y)} {py:.3f}",
            (px, py), xytext=(away[0] * 40, away[1] * 40), textcoords="offset points",
            ha="right" if away[0] < 0 else "left", va="bottom" if away[1] > 0 else "top",
            fontsize=8, zorder=7, arrowprops={"arrowstyle": "-", "color": "0.3", "lw": 0.8},
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.6", "alpha": 0.9},
        )  # fmt: skip
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(axis_label(rep["objectives"][0]))
    ax.set_ylabel(axis_label(rep["objectives"][1]))
    ax.grid(alpha=0.25, lw=0.5)
    better = _away_from_ideal(rep["objectives"][:2]) * -1
    ax.annotate("better", xy=(0.5 + 0.42 * better[0], 0.5 + 0.42 * better[1]),
                xytext=(0.5 + 0.30 * better[0], 0.5 + 0.30 * better[1]), xycoords="axes fraction",
                textcoords="axes fraction", ha="center", va="center", fontsize=8, color="0.35",
                arrowprops={"arrowstyle": "->", "color": "0.35"})  # fmt: skip
    ax.legend(fontsize=8, loc=_legend_corner(rep["objectives"][:2]), framealpha=0.9)
    ax.set_title("the fronts, zoomed" if zoomed else "the fronts", fontsize=9)
    if zoomed:
        ax_full.scatter(q[:, 0], q[:, 1], s=6, c="0.72", lw=0)
        ax_full.scatter(f[:, 0], f[:, 1], s=8, c="tab:red", lw=0, zorder=3)
        ax_full.step(t[:, 0], t[:, 1], where="post", color="tab:green", lw=1.0, zorder=4)
        ax_full.scatter(t[:, 0], t[:, 1], s=14, facecolors="none", edgecolors="tab:green", lw=0.9,
                        zorder=4)  # fmt: skip
        from matplotlib.patches import Rectangle

        ax_full.add_patch(Rectangle((lo[0], lo[1]), hi[0] - lo[0], hi[1] - lo[1], fill=False,
                                    ls="--", lw=0.9, ec="0.25", zorder=5))  # fmt: skip
        ax_full.set_xlim(full_lo[0], full_hi[0])
        ax_full.set_ylim(full_lo[1], full_hi[1])
        ax_full.set_xlabel(_short(x), fontsize=8)
        ax_full.set_ylabel(_short(y), fontsize=8)
        ax_full.tick_params(labelsize=7)
        ax_full.grid(alpha=0.25, lw=0.5)
        ax_full.set_title("every query, full range\n(dashed box = left panel)", fontsize=9)
    fig.suptitle(_title(rep), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _plot_single(result: Any, path: str | os.PathLike) -> Path:
    """One objective: each query's value in query order, the best so far and the true best."""
    plt = _pyplot()
    rep = result.report
    obj = rep["objectives"][0]
    name = obj.rpartition(":")[0] or obj
    maximize = obj.endswith(":max")
    vals = np.array([r["values"].get(name, np.nan) for r in result.queries], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    n = np.arange(1, len(vals) + 1)
    finite = vals[np.isfinite(vals)]
    lo = hi = None
    if len(finite) > 20:  # keep badly trained outliers from squashing the interesting part
        edge = np.quantile(finite, 0.05 if maximize else 0.95)
        ends = [edge, finite.max(), finite.min(),
                *(r["values"][name] for r in result.true_front[:1])]  # fmt: skip
        lo, hi = (edge, max(ends)) if maximize else (min(ends), edge)
        pad = 0.06 * (hi - lo) if hi > lo else 0.01
        lo, hi = lo - pad, hi + pad
    hidden = 0 if lo is None else int(((finite < lo) | (finite > hi)).sum())
    queried = f"queried ({len(vals)}" + (f"; {hidden} outside this view)" if hidden else ")")
    ax.plot(n, vals, ".", ms=3, color="0.65", label=queried)
    if len(vals) and np.isfinite(vals).any():
        clean = np.where(np.isfinite(vals), vals, -np.inf if maximize else np.inf)
        best = np.maximum.accumulate(clean) if maximize else np.minimum.accumulate(clean)
        ax.step(n, best, where="post", color="tab:red", lw=1.4, label="best found so far")
    if result.true_front:
        top = result.true_front[0]["values"][name]
        ax.axhline(top, color="tab:green", ls="--", lw=1.0, label=f"true best ({top:.4f})")
    if lo is not None and hi is not None:
        ax.set_ylim(lo, hi)
    ax.set_xlabel("query (distinct architectures, in order)")
    ax.set_ylabel(axis_label(obj))
    ax.grid(alpha=0.25, lw=0.5)
    ax.legend(fontsize=8, loc="lower right" if maximize else "upper right")
    ax.set_title(_title(rep), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_hv_history(history: np.ndarray, path: str | os.PathLike, *, title: str = "") -> Path:
    """Normalized hypervolume after each query, with the 0.95 target line labelled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    h = np.asarray(history, dtype=float)
    n = np.arange(1, len(h) + 1)
    ax.plot(n, h, color="tab:blue", lw=1.5, label="normalized hypervolume of the found front")
    ax.axhline(1.0, color="tab:green", lw=0.8, alpha=0.7,
               label="1 = as good as the true front")  # fmt: skip
    ax.axhline(0.95, color="0.4", ls="--", lw=0.9,
               label="0.95 = target: 95 % of the true front's hypervolume")  # fmt: skip
    # direct labels in the right margin: they name the lines without covering the curve
    for level, text, color in ((1.0, "true front", "tab:green"), (0.95, "target 0.95", "0.3")):
        ax.text(1.01, level, text, color=color, fontsize=8, va="top" if level < 1 else "bottom",
                transform=ax.get_yaxis_transform(), clip_on=False)  # fmt: skip
    hit = np.flatnonzero(h >= 0.95)
    if hit.size:
        k = int(hit[0]) + 1
        ax.axvline(k, color="0.4", ls=":", lw=0.9)
        right = k > 0.6 * len(h)  # near the right end, write it to the left of the line
        ax.annotate(f"reached after {k} queries", (k, 0.95), xytext=(-6 if right else 6, -14),
                    textcoords="offset points", fontsize=8, color="0.3",
                    ha="right" if right else "left")  # fmt: skip
    ax.set_ylim(0, 1.1)
    ax.set_xlim(0.5, max(len(h), 1) + 0.5)
    ax.set_xlabel("queries (distinct architectures)")
    ax.set_ylabel("normalized hypervolume\n(higher is better)")
    ax.grid(alpha=0.25, lw=0.5)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)


def _framed(points: np.ndarray) -> np.ndarray:
    """Which of the front points the zoomed view frames: all, less a few far from the others.

    A front can hold a point far from all the rest: on calibration fronts, a network at chance
    level (a TSS cell with no path from input to output: constant output, accuracy 1/classes,
    ECE near 0). Framing it squeezes the rest into a sliver. Per axis, where one gap between
    consecutive values spans more than half the range and at most a tenth of the points lie
    beyond it, those are left out of the frame (the full-range panel shows them). Fronts of
    fewer than 10 points are framed whole: there, a wide gap is no sign of a stray point.

    Example:
        >>> acc = np.array([0.1, *np.linspace(0.78, 0.82, 9)])
        >>> ece = np.array([0.001, *np.linspace(0.009, 0.05, 9)])
        >>> _framed(np.stack([acc, ece], axis=1)).astype(int).tolist()
        [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    keep = np.ones(len(points), dtype=bool)
    for axis in range(points.shape[1]):
        values = np.sort(points[keep, axis])
        if len(values) < 10 or values[-1] <= values[0]:
            continue
        gaps = np.diff(values)
        k = int(np.argmax(gaps))
        if gaps[k] <= 0.5 * (values[-1] - values[0]):
            continue
        few = int(0.1 * len(values))
        if k + 1 <= few:  # the low side is the stray one
            keep &= points[:, axis] > values[k]
        elif len(values) - k - 1 <= few:
            keep &= points[:, axis] <= values[k]
    return keep


def _padded(points: np.ndarray, margin: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """The bounding box of ``points`` widened by ``margin`` of its size on every side."""
    if len(points) == 0:
        return np.zeros(2), np.ones(2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0) * 0.05)
    return lo - margin * span, hi + margin * span


def _away_from_ideal(objectives: list[str]) -> np.ndarray:
    """Unit steps (x, y) pointing away from the ideal corner (where the dominated points lie)."""
    return np.array([-1.0 if o.endswith(":max") else 1.0 for o in objectives])


def _label_side(where: np.ndarray, objectives: list[str]) -> np.ndarray:
    """Unit steps (x, y) from a point to its label: away from the ideal corner, unless the point
    sits in the outer third of the view that way (the label would leave the axes).

    Args:
        where: the point's position in the view, as fractions of each axis (0 to 1).
        objectives: the two objectives of the axes.

    Example:
        >>> _label_side(np.array([0.6, 0.97]), ["acc:max", "pre_ECE_15"]).tolist()
        [-1.0, -1.0]
    """
    side = _away_from_ideal(objectives)
    outer = np.where(side > 0, where > 2 / 3, where < 1 / 3)
    return np.where(outer, -side, side)


def _legend_corner(objectives: list[str]) -> str:
    """The corner away from the ideal one: the fronts hug the ideal corner's side."""
    ax, ay = _away_from_ideal(objectives)
    return f"{'upper' if ay > 0 else 'lower'} {'right' if ax > 0 else 'left'}"


def _short(name: str) -> str:
    return {"acc": "acc", "pre_ECE_15": "ECE"}.get(name, name)


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
    unit = _UNITS.get(rep["space"], rep["space"])
    what = f"{unit} on {_DATASETS.get(rep['dataset'], rep['dataset'])}"
    subject = f" subject to {', '.join(rep['constraints'])}" if rep.get("constraints") else ""
    return (
        f"{what}\n{rep['strategy']} search{subject}: {rep['queries']} architectures queried, "
        f"normalized HV {rep['normalized_hv']:.3f}"
    )


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
