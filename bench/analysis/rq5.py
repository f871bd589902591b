"""Question (v): how does calibration relate to accuracy?

The study plotted pre-TS ECE (15 bins) against accuracy for the CIFAR-10 TSS cells, coloured by
their CIFAR-10-C OOD AUC: the cells above 90 % accuracy (left, Fig. 5) and all cells (right). It
found that accuracy and calibration improve together only among well-performing architectures
(ECE falls from 6.8 % to 3.8 % as accuracy rises from 90 % to 94 %), with no monotone trend over
all of them (tau(acc, ECE) = -0.04 on CIFAR-10, +0.65 on ImageNet16-120, +0.53 on CIFAR-100).

Here: the scatter plots, tau(acc, ECE) per dataset over all cells and over the well-performing
ones, and the median ECE per accuracy bin. "Well-performing" is the study's acc > 0.9 on its
dataset; on datasets where 0.9 means something else (ImageNet16-120 tops out near 0.47), it is
the same share of the most accurate cells the study's filter kept (8,699 of 15,625).

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> res.tables["tau"].columns
    ['dataset', 'population', 'n', 'tau(acc, ECE)', 'ECE min', 'ECE max']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.kendall import population, tau_b
from bench.analysis.questions import Context, present
from bench.analysis.result import Records, Result

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "TITLE", "THRESHOLD", "SHARE"]

TITLE = "How does calibration relate to accuracy?"
ASKS = (
    "Are more accurate architectures better calibrated? Pre-TS ECE (15 bins) against accuracy, "
    "among the well-performing cells and among all."
)
STUDY = (
    "acc > 90 % (C10): ECE falls from 6.8 % to 3.8 % as accuracy rises 90 -> 94 %; all models: "
    "no monotone trend. tau(acc, ECE) over all: C10 -0.04, IN +0.65, C100 +0.53. Claim: "
    "accuracy and calibration improve together only among well-performing architectures."
)
#: The study's "well-performing" threshold on CIFAR-10.
THRESHOLD = 0.90
#: The share of CIFAR-10 TSS cells above it in the study (8,699 of 15,625).
SHARE = 8699 / 15625
_ECE = "pre_ECE_15"


def run(ctx: Context) -> Result:
    """Answer question (v) on the context's benchmark (see the module docstring).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("rq5", TITLE, ASKS, ctx.as_published, STUDY)
    main = ctx.pick("tss", "cifar10", res)
    if main is None:
        return res
    rows = []
    for ds in [main, *[d for d in ctx.datasets("tss") if d != main]]:
        got = ctx.load("tss", ds, ["acc", _ECE, "auc_cifar10c"], res)
        f = got.frame
        if len(present(["acc", _ECE], f)) < 2:
            res.notes.append(f"tss/{ds} lacks acc or {_ECE}")
            continue
        acc = f["acc"].to_numpy(dtype=float)
        use_threshold = ds in (main, "cifar10") and np.nanmax(acc) > THRESHOLD
        if use_threshold:
            good = f[f["acc"] > THRESHOLD]
            name = f"acc > {THRESHOLD:.2f}"
        else:
            good = population(f, "acc", max(2, round(SHARE * np.isfinite(acc).sum())))
            name = f"the {SHARE:.0%} most accurate"
        for pop, sub in (("all", f), (name, good)):
            ece = sub[_ECE].to_numpy(dtype=float)
            t = tau_b(sub["acc"].to_numpy(dtype=float), ece)
            rows.append([ds, pop, len(sub), t, float(np.nanmin(ece)), float(np.nanmax(ece))])
            res.findings.append(f"{ds}, {pop} (n={len(sub)}): tau(acc, ECE) {t:+.2f}")
        if ds == main:
            res.data["main"] = ds
            res.data["name"] = name
            res.data["all"] = f[["acc", _ECE, *present(["auc_cifar10c"], f)]].copy()
            res.data["good"] = good[["acc", _ECE, *present(["auc_cifar10c"], f)]].copy()
            _bins(res, good, ds, name)
            ctx.reliability(res, "tss", ds, present(["acc", _ECE], f))
    res.add(
        Records(
            "tau",
            ["dataset", "population", "n", "tau(acc, ECE)", "ECE min", "ECE max"],
            rows,
            "accuracy against calibration",
        )
    )
    return res


def _bins(res: Result, good: pd.DataFrame, ds: str, name: str) -> None:
    """Median ECE per accuracy bin of one point among the well-performing cells."""
    acc = good["acc"].to_numpy(dtype=float)
    ece = good[_ECE].to_numpy(dtype=float)
    ok = ~np.isnan(acc) & ~np.isnan(ece)
    if ok.sum() < 2:
        return
    lo, hi = np.floor(acc[ok].min() * 100), np.ceil(acc[ok].max() * 100)
    edges = np.arange(lo, hi + 1) / 100
    if len(edges) < 2:
        return
    which = np.clip(np.searchsorted(edges, acc[ok], side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        sel = ece[ok][which == b]
        if sel.size:
            rows.append(
                [f"{edges[b]:.2f}-{edges[b + 1]:.2f}", int(sel.size), float(np.median(sel))]
            )
    res.add(
        Records(
            "by_accuracy",
            ["acc bin", "n", "median ECE_15"],
            rows,
            f"{ds}, {name}: median ECE per accuracy point",
        )
    )
    if len(rows) >= 2:
        res.findings.append(
            f"{ds}, {name}: median ECE {rows[0][2]:.2%} at acc {rows[0][0]}, "
            f"{rows[-1][2]:.2%} at acc {rows[-1][0]}"
        )


def figures(res: Result) -> list[tuple[str, Figure]]:
    """The two scatter plots (well-performing and all), coloured by CIFAR-10-C AUC if present.

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    if "all" not in res.data:
        return []
    panels = []
    for key, title in (("good", res.data["name"]), ("all", "all models")):
        f = res.data[key]
        panels.append(
            {
                "x": f["acc"],
                "y": f[_ECE],
                "title": f"{res.data['main']}: {title} (n={len(f)})",
                "c": f.get("auc_cifar10c"),
            }
        )
    fig = F.scatter(
        panels,
        title="(v) pre-TS ECE (15 bins) against accuracy",
        xlabel="accuracy",
        ylabel="ECE",
        clabel="AUC CIFAR-10-C",
        as_published=res.as_published,
    )
    return [("scatter", fig)]
