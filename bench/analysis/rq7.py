"""Question (vii): which architecture choices help calibration?

Four views, each with the study's defaults:

- **model size (SSS)**: ECE and accuracy medians by the sum of the five widths (40 ... 320) in
  brackets of 40 (Fig. 7), and with accuracy held in 90-92 % on CIFAR-10 (rebuttal 4.7);
- **uniform width (SSS)**: the eight networks of one width 8 ... 64 on every layer, accuracy and
  ECE before and after TS (Fig. 8);
- **cell kernel parameters (TSS)**: 9 per 3x3 convolution plus 1 per 1x1 convolution over the six
  edges (0 ... 54); ECE against them, ECE and HCS against accuracy (the study's left panel read
  0 ... 5400 because a percent formatter was applied to every axis; plotted here as counts);
- **the 20 best cells by HCS** (beta 1, the harmonic mean of accuracy and 1 - ECE) on CIFAR-10,
  with the operation on each edge E1..E6 (0->1, 0->2, 1->2, 0->3, 1->3, 2->3).

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> res.tables["top20"].columns[:3]
    ['rank', 'config', 'E1']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.data import SHORT
from bench.analysis.kendall import tau_b
from bench.analysis.questions import Context, present
from bench.analysis.result import Records, Result
from bench.checks import check_int
from bench.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "hcs", "kernel_params", "edge_ops", "BRACKETS", "TITLE"]

TITLE = "Which architecture choices help calibration?"
ASKS = (
    "Do size, width and the operations of a cell make a network better or worse calibrated? "
    "Median ECE by model size and by uniform width (SSS), ECE against the cell's kernel "
    "parameters, and the operations of the 20 best cells by HCS (TSS)."
)
STUDY = (
    "Size: IN ECE rises 1.65 -> 6.8 % from 40-80 to 280-320; C10 hump-shaped (3.87 / 4.38 / "
    "3.92 %). Width: wider can be worse calibrated on complex datasets (C100 1.55 -> 10.7 %). "
    "Top-20 by HCS on C10: E4 is skip_connect in all 20, E1 and E6 always convolutions."
)
#: Size brackets of the sum of the five SSS widths: [lo, hi), the last closed.
BRACKETS: tuple[tuple[int, int], ...] = tuple((lo, lo + 40) for lo in range(40, 320, 40))
WIDTHS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
#: Edge names in the arch string's order.
EDGES: tuple[str, ...] = ("E1", "E2", "E3", "E4", "E5", "E6")
SHORT_OPS = {
    "none": "none",
    "skip_connect": "skip",
    "nor_conv_1x1": "c1",
    "nor_conv_3x3": "c3",
    "avg_pool_3x3": "pool",
}
KERNEL = {"nor_conv_3x3": 9, "nor_conv_1x1": 1}
_ECE = "pre_ECE_15"


def hcs(acc: np.ndarray, ece: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Harmonic Calibration Score ``(1 + b) acc (1 - ECE) / (b acc + 1 - ECE)`` (the study's).

    Args:
        acc: accuracies (fractions).
        ece: calibration errors (fractions).
        beta: weight of accuracy; the study used 1 (and wrote beta linearly, not squared as in
            F-beta: the two agree at 1).

    Returns:
        HCS per model.

    Example:
        >>> round(float(hcs(np.array(0.9), np.array(0.05))), 4)
        0.9243
    """
    acc, ece = np.asarray(acc, dtype=float), np.asarray(ece, dtype=float)
    if beta <= 0:
        raise InputError(f"beta must be positive, got {beta}")
    return (1 + beta) * acc * (1 - ece) / (beta * acc + (1 - ece))


def edge_ops(arch: str) -> list[str]:
    """The operation on each of the six edges of a TSS arch string, E1..E6.

    Example:
        >>> ops = edge_ops("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
        ...                "nor_conv_1x1~1|nor_conv_3x3~2|")
        >>> [SHORT_OPS[o] for o in ops]
        ['c3', 'c3', 'pool', 'skip', 'c1', 'c3']
    """
    ops = [tok.split("~")[0] for tok in arch.replace("+", "").split("|") if tok]
    if len(ops) != 6:
        raise InputError(f"not a TSS arch string (six edges): {arch!r}")
    return ops


def kernel_params(arch: str) -> int:
    """The study's cell kernel-parameter count: 9 per 3x3 conv, 1 per 1x1 conv (0 ... 54).

    Example:
        >>> kernel_params("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
        ...               "nor_conv_1x1~1|nor_conv_3x3~2|")
        28
    """
    return sum(KERNEL.get(op, 0) for op in edge_ops(arch))


def size_of(arch: str) -> int:
    """Sum of the five widths of an SSS arch string ``C1:C2:C3:C4:C5`` (40 ... 320)."""
    return sum(check_int(int(w), "width") for w in arch.split(":"))


def run(ctx: Context) -> Result:
    """Answer question (vii) on the context's benchmark (see the module docstring).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("rq7", TITLE, ASKS, ctx.as_published, STUDY)
    sss = ctx.datasets("sss")
    if not sss:
        res.notes.append("the benchmark holds no SSS table: no size or width views")
    for ds in sss:
        got = ctx.load("sss", ds, ["acc", _ECE, "post_ECE_15"], res)
        if len(present(["acc", _ECE], got.frame)) < 2:
            res.notes.append(f"sss/{ds} lacks acc or {_ECE}")
            continue
        _size(res, got.frame, ds)
        _widths(res, got.frame, ds)
        ctx.reliability(res, "sss", ds, present(["acc", _ECE, "post_ECE_15"], got.frame))
    _finish_sss(res)
    main = ctx.pick("tss", "cifar10", res)
    if main is not None:
        got = ctx.load("tss", main, ["acc", _ECE], res)
        if len(present(["acc", _ECE], got.frame)) == 2:
            _cells(res, got.frame, main)
            ctx.reliability(res, "tss", main, ["acc", _ECE])
        else:
            res.notes.append(f"tss/{main} lacks acc or {_ECE}: no cell views")
    res.notes.append(
        "kernel parameters are counts (0 to 54); the study's plot showed 0 to 5400 because a "
        "percent formatter was applied to every axis"
    )
    return res


def _bracket(size: np.ndarray) -> np.ndarray:
    idx = (size - 40) // 40
    return np.clip(idx, 0, len(BRACKETS) - 1)


def _size(res: Result, f: pd.DataFrame, ds: str) -> None:
    size = np.array([size_of(a) for a in f["arch"].astype(str)])
    which = _bracket(size)
    acc, ece = f["acc"].to_numpy(dtype=float), f[_ECE].to_numpy(dtype=float)
    rows = res.data.setdefault("size_rows", [])
    box = res.data.setdefault("size_box", [])
    groups = {}
    for b, (lo, hi) in enumerate(BRACKETS):
        sel = which == b
        groups[f"{lo}-{hi}"] = ece[sel]
        rows.append([ds, "all", f"{lo}-{hi}", int(sel.sum()), _med(ece[sel]), _med(acc[sel])])
    box.append((f"{ds}: ECE by size", groups))
    if ds == "cifar10":  # rebuttal 4.7: accuracy held in 90-92 %
        band = (acc >= 0.90) & (acc <= 0.92)
        for b, (lo, hi) in enumerate(BRACKETS):
            sel = band & (which == b)
            if sel.any():
                rows.append(
                    [ds, "acc 90-92%", f"{lo}-{hi}", int(sel.sum()), _med(ece[sel]), _med(acc[sel])]
                )
    meds = [_med(ece[which == b]) for b in range(len(BRACKETS))]
    ok = [m for m in meds if m == m]
    if len(ok) >= 2:
        peak = int(np.nanargmax(meds))
        shape = (
            "rises with size"
            if peak == len(meds) - 1 and meds[0] == min(ok)
            else "falls with size"
            if peak == 0
            else "is hump-shaped"
        )
        res.findings.append(
            f"sss/{ds}: median ECE {shape}: {ok[0]:.2%} (smallest) to {ok[-1]:.2%} (largest), "
            f"peak {meds[peak]:.2%} at {BRACKETS[peak][0]}-{BRACKETS[peak][1]}"
        )


def _widths(res: Result, f: pd.DataFrame, ds: str) -> None:
    rows = res.data.setdefault("width_rows", [])
    by_arch = dict(zip(f["arch"].astype(str), range(len(f)), strict=True))
    found = []
    for w in WIDTHS:
        i = by_arch.get(":".join([str(w)] * 5))
        if i is None:
            continue
        r = f.iloc[i]
        post = float(r["post_ECE_15"]) if "post_ECE_15" in f else float("nan")
        rows.append([ds, w, float(r["acc"]), float(r[_ECE]), post])
        found.append((w, float(r[_ECE])))
    if len(found) >= 2:
        res.findings.append(
            f"sss/{ds}: uniform width {found[0][0]} -> {found[-1][0]}: ECE "
            f"{found[0][1]:.2%} -> {found[-1][1]:.2%}"
        )
    elif not found:
        res.notes.append(f"sss/{ds} holds none of the eight uniform-width networks")


def _finish_sss(res: Result) -> None:
    if res.data.get("size_rows"):
        res.add(
            Records(
                "size",
                ["dataset", "population", "size", "n", "median ECE_15", "median acc"],
                res.data["size_rows"],
                "SSS: by the sum of the five widths",
            )
        )
    if res.data.get("width_rows"):
        res.add(
            Records(
                "widths",
                ["dataset", "width", "acc", "pre ECE_15", "post ECE_15"],
                res.data["width_rows"],
                "SSS: one width on every layer",
            )
        )


def _span(row: list) -> str:
    """A kernel row's ECE range with its count (one network: its value)."""
    _, n, lo, _, hi = row
    return f"{lo:.2%} (1 network)" if n == 1 else f"{lo:.2%}-{hi:.2%} over {n} networks"


def _cells(res: Result, f: pd.DataFrame, ds: str) -> None:
    archs = f["arch"].astype(str).to_numpy()
    kp = np.array([kernel_params(a) for a in archs])
    acc, ece = f["acc"].to_numpy(dtype=float), f[_ECE].to_numpy(dtype=float)
    score = hcs(acc, ece)
    res.data["cells"] = {"ds": ds, "kp": kp, "acc": acc, "ece": ece, "hcs": score}
    rows = []
    for k in np.unique(kp):
        sel = ece[(kp == k) & ~np.isnan(ece)]
        if sel.size:
            rows.append(
                [int(k), int(sel.size), float(sel.min()), float(np.median(sel)), float(sel.max())]
            )
    res.add(
        Records(
            "kernel",
            ["kernel params", "n", "ECE min", "ECE median", "ECE max"],
            rows,
            f"tss/{ds}: ECE by the cell's kernel parameters",
        )
    )
    if len(rows) >= 2:
        res.findings.append(
            f"tss/{ds}: ECE {_span(rows[0])} at {rows[0][0]} kernel params and "
            f"{_span(rows[-1])} at {rows[-1][0]}"
        )
        # the ends hold few networks (one cell is conv3x3 on every edge): the trend is the tau
        measured = ~np.isnan(ece)
        res.findings.append(
            f"tss/{ds}: tau of ECE with the kernel params "
            f"{tau_b(kp[measured], ece[measured]):+.2f} over {int(measured.sum())} networks "
            f"(median ECE {rows[0][3]:.2%} at {rows[0][0]}, "
            f"{rows[-1][3]:.2%} at {rows[-1][0]})"
        )
    ok = np.flatnonzero(~np.isnan(score))
    order = ok[np.lexsort((f["config"].to_numpy()[ok], -score[ok]))][:20]
    top = []
    for rank, i in enumerate(order, 1):
        ops = [SHORT_OPS[o] for o in edge_ops(archs[i])]
        top.append(
            [
                rank,
                int(f["config"].iloc[i]),
                *ops,
                int(kp[i]),
                float(score[i]),
                float(acc[i]),
                float(ece[i]),
            ]
        )
    res.add(
        Records(
            "top20",
            ["rank", "config", *EDGES, "kernel params", "HCS", "acc", "ECE"],
            top,
            f"tss/{ds}: the 20 best cells by HCS (beta 1)",
        )
    )
    if top:
        counts = []
        for e, name in enumerate(EDGES):
            ops = [r[2 + e] for r in top]
            common = max(sorted(set(ops)), key=ops.count)  # ties: alphabetical, every run
            counts.append(f"{name} {common} {ops.count(common)}/{len(top)}")
        res.findings.append(
            f"tss/{ds}, top {len(top)} by HCS, commonest op per edge: " + ", ".join(counts)
        )
        kps = [r[8] for r in top]
        res.findings.append(
            f"tss/{ds}, top {len(top)} by HCS: kernel params {min(kps)}-{max(kps)} of 54, "
            f"HCS {top[-1][9]:.4f}-{top[0][9]:.4f}"
        )


def _med(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(np.median(x)) if x.size else float("nan")


def figures(res: Result) -> list[tuple[str, Figure]]:
    """Size boxplots, ECE/HCS scatter plots of the cells, the top-20 table.

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    out = []
    if res.data.get("size_box"):
        out.append(
            (
                "size",
                F.boxplot(
                    res.data["size_box"],
                    title="(vii) SSS: ECE by model size (sum of widths)",
                    ylabel="ECE",
                    xlabel="size",
                    as_published=res.as_published,
                ),
            )
        )
    widths = res.tables.get("widths")
    if isinstance(widths, Records) and widths.data:
        series_pre: dict[str, list[float]] = {}
        for r in widths.data:
            series_pre.setdefault(f"{SHORT.get(r[0], r[0])} pre", []).append(r[3])
            series_pre.setdefault(f"{SHORT.get(r[0], r[0])} post", []).append(r[4])
        xs = sorted({r[1] for r in widths.data})
        fig = F.Figure(figsize=(6.5, 4))
        ax = fig.subplots()
        for lab, ys in series_pre.items():
            if len(ys) == len(xs):
                ax.plot(
                    xs, np.array(ys) * 100, marker="o", ls="-" if "pre" in lab else "--", label=lab
                )
        ax.set_xlabel("width of every layer")
        ax.set_ylabel("ECE_15 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(
            "(vii) SSS: uniform width" + (" [as published]" if res.as_published else ""),
            fontsize=10,
        )
        out.append(("widths", fig))
    cells = res.data.get("cells")
    if cells:
        panels = [
            {
                "x": cells["kp"],
                "y": cells["ece"],
                "title": "ECE against kernel params",
                "xscale": 1.0,
            },
            {"x": cells["acc"], "y": cells["ece"], "title": "ECE against accuracy"},
            {"x": cells["acc"], "y": cells["hcs"], "title": "HCS against accuracy"},
        ]
        fig = F.scatter(
            panels,
            title=f"(vii) tss/{cells['ds']}: the cell's operations",
            xlabel="",
            ylabel="",
            as_published=res.as_published,
        )
        names = [
            ("kernel params (count)", "ECE (%)"),
            ("accuracy (%)", "ECE (%)"),
            ("accuracy (%)", "HCS (%)"),
        ]
        for ax, (xl, yl) in zip(fig.axes, names, strict=False):
            ax.set_xlabel(xl)
            ax.set_ylabel(yl)
        out.append(("cells", fig))
    top = res.tables.get("top20")
    if isinstance(top, Records) and top.data:
        rows = [[r[0], r[1], *r[2:8], r[8], f"{r[9]:.4f}"] for r in top.data]
        colors = {
            "c3": "#f4a582",
            "c1": "#fddbc7",
            "skip": "#92c5de",
            "pool": "#d1e5f0",
            "none": "#e0e0e0",
        }
        out.append(
            (
                "top20",
                F.table_figure(
                    rows,
                    ["rank", "config", *EDGES, "kparams", "HCS"],
                    title=f"(vii) {top.caption}",
                    colors=colors,
                    as_published=res.as_published,
                ),
            )
        )
    return out
