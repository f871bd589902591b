"""Question (iv): does post-hoc temperature scaling help every model equally?

The study computed the 18x18 Kendall tau-b matrix of pre- and post-TS ECE at the nine bin counts
(5 ... 500) over all CIFAR-10 TSS cells (Fig. 4), found pre-against-post tau near 0 ("a model
well calibrated before TS is not necessarily better calibrated after"), and reported the size
of the gain as the median pre and post ECE (15 bins) per dataset, over all cells and over the
1000 most accurate (rebuttal figures 4.1.1 and 4.1.2).

Its top-1000 version of the matrix (``Kendall_temp_cifar10.pdf``) ran on a file of about ten
models: calnas computes it over the 1000 most accurate cells, named ``top1000``, beside ``all``.

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> res.tables["all"].labels[:2], res.tables["all"].labels[9]
    (['pre 5', 'pre 10'], 'post 5')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.data import SHORT
from bench.analysis.kendall import population
from bench.analysis.questions import Context, present, tau_matrix
from bench.analysis.result import Records, Result
from bench.table.schema import BINS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "TITLE", "COLUMNS"]

TITLE = "Does temperature scaling help every model equally?"
ASKS = (
    "Is a model that is well calibrated before temperature scaling also well calibrated after "
    "it, and how much does TS gain? Kendall tau-b of pre- and post-TS ECE over the nine bin "
    "counts, and the median ECE before and after."
)
STUDY = (
    "Fig. 4: pre-vs-post tau 0.00 +/- 0.01 in every cell (released CSVs: .04 to .37); "
    "pre-pre .82-.98, post-post .25-.81. Medians pre/post ECE_15: IN 4.2/2.1%, C10 5.3/1.2%, "
    "C100 12.5/2.0% (all models)."
)
COLUMNS: tuple[str, ...] = tuple(f"pre_ECE_{b}" for b in BINS) + tuple(
    f"post_ECE_{b}" for b in BINS
)


def run(ctx: Context) -> Result:
    """Answer question (iv) on the context's benchmark (see the module docstring).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("rq4", TITLE, ASKS, ctx.as_published, STUDY)
    main = ctx.pick("tss", "cifar10", res)
    if main is None:
        return res
    got = ctx.load("tss", main, COLUMNS + ("acc",), res)
    cols = present(COLUMNS, got.frame)
    labels = [c.replace("_ECE_", " ") for c in cols]
    if len(cols) >= 2:
        res.add(tau_matrix("all", got.frame, cols, f"{main}: all models", labels))
        if got.frame["acc"].notna().sum() > 1000:
            top = population(got.frame, "acc", 1000)
            res.add(
                tau_matrix("top1000", top, cols, f"{main}: the 1000 most accurate models", labels)
            )
        res.notes.append(
            "the study's top-1000 matrix (Kendall_temp_cifar10.pdf) ran on a file of about ten "
            "models; 'top1000' here is over the 1000 most accurate cells"
        )
        _blocks(res, main)
        ctx.reliability(res, "tss", main, cols)
    _gain(ctx, res)
    return res


def _blocks(res: Result, ds: str) -> None:
    m = res.tables["all"]
    vals = np.array(m.values)
    pre = [i for i, lab in enumerate(m.labels) if lab.startswith("pre")]
    post = [i for i, lab in enumerate(m.labels) if lab.startswith("post")]
    rows = []
    for name, a, b in (("pre-pre", pre, pre), ("post-post", post, post), ("pre-post", pre, post)):
        block = vals[np.ix_(a, b)]
        if name != "pre-post":
            block = block[~np.eye(len(a), dtype=bool)]
        block = block[~np.isnan(block)]
        if block.size:
            rows.append([name, float(block.min()), float(np.median(block)), float(block.max())])
            res.findings.append(
                f"{ds}, all models: {name} tau {block.min():.2f} to {block.max():.2f} "
                f"(median {np.median(block):.2f})"
            )
    res.add(
        Records(
            "blocks",
            ["block", "min", "median", "max"],
            rows,
            f"{ds}: the three blocks of the 18x18 matrix",
        )
    )


def _gain(ctx: Context, res: Result) -> None:
    rows = []
    box_all: dict[str, np.ndarray] = {}
    box_top: dict[str, np.ndarray] = {}
    for ds in ctx.datasets("tss"):
        got = ctx.load("tss", ds, ["acc", "pre_ECE_15", "post_ECE_15"], res)
        f = got.frame
        if "pre_ECE_15" not in present(["pre_ECE_15"], f):
            continue
        short = SHORT.get(ds, ds)
        pops = [("all", f)]
        if f["acc"].notna().sum() > 1000:
            pops.append(("top1000", population(f, "acc", 1000)))
        for name, sub in pops:
            pre = sub["pre_ECE_15"].to_numpy(dtype=float)
            post = sub["post_ECE_15"].to_numpy(dtype=float) if "post_ECE_15" in sub else None
            med_pre = float(np.nanmedian(pre))
            med_post = float(np.nanmedian(post)) if post is not None else float("nan")
            rows.append([ds, name, len(sub), med_pre, med_post])
            target = box_all if name == "all" else box_top
            target[f"{short} pre"] = pre
            if post is not None:
                target[f"{short} post"] = post
            if name == "all":
                res.findings.append(
                    f"{ds}: median ECE_15 {med_pre:.2%} before TS, {med_post:.2%} after "
                    f"({name} models)"
                )
    if rows:
        res.add(
            Records(
                "gain",
                ["dataset", "population", "n", "median pre ECE_15", "median post ECE_15"],
                rows,
                "size of the TS gain",
            )
        )
    res.data["box_all"], res.data["box_top"] = box_all, box_top


def figures(res: Result) -> list[tuple[str, Figure]]:
    """The 18x18 heatmaps and the pre/post ECE boxplots.

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    out = [
        (
            name,
            F.heatmap(
                m, f"(iv) pre- and post-TS ECE by bins, {m.caption}", as_published=res.as_published
            ),
        )
        for name, m in res.tables.items()
        if name in ("all", "top1000")
    ]
    panels = [
        (t, res.data[k])
        for t, k in (("all models", "box_all"), ("the 1000 most accurate", "box_top"))
        if res.data.get(k)
    ]
    if panels:
        out.append(
            (
                "gain",
                F.boxplot(
                    panels,
                    title="(iv) ECE_15 before and after temperature scaling",
                    ylabel="ECE",
                    as_published=res.as_published,
                ),
            )
        )
    return out
