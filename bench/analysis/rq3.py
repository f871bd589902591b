"""Question (iii): how reliable are calibration metrics (do they agree on a ranking)?

The study computed the 7x7 Kendall tau-b matrix of its seven metrics (15 bins) over all TSS cells
of CIFAR-10 and of ImageNet16-120, and judged equal-mass class-wise ECE (``cwCE_em``)
unreliable because it disagrees with the others (tau with ECE 0.36 on CIFAR-10, -0.15 on
ImageNet16-120). calnas computes the matrix for every dataset of both spaces the table holds.

Two things change the study's numbers here, both said in the notes: the study's ``cwCE_em``
of TSS is Nixon et al.'s ACE and returned 0 on failure (flagged ``zero:`` by the importer and
left out by default), and SSS tables define ``cwCE_em`` differently (Kumar et al.'s marginal
equal-mass CE), so their rows are not comparable with TSS's.

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> sorted(res.tables)
    ['agreement', 'sss_digits', 'sss_fashion8', 'tss_digits', 'tss_fashion8']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.questions import SEVEN_METRICS, Context, label, present, tau_matrix
from bench.analysis.result import Records, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "TITLE"]

TITLE = "How reliable are calibration metrics?"
ASKS = (
    "Do the calibration metrics agree on which architectures are better calibrated? Kendall "
    "tau-b between the rankings of all cells by seven metrics (15 bins), per dataset."
)
STUDY = (
    "CIFAR-10: ECE against ECE_em .98, cwCE .81, cwCE_em .36, KSCE .98, KDECE .93, MMCE .91; "
    "ImageNet16-120: .96, .81, -.15, .97, .95, .96. Claim: most metrics agree; equal-mass "
    "class-wise ECE (cwCE_em) does not and is unreliable."
)


def run(ctx: Context) -> Result:
    """Answer question (iii) on the context's benchmark (see the module docstring).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("rq3", TITLE, ASKS, ctx.as_published, STUDY)
    summary = []
    for space in ("tss", "sss"):
        for ds in ctx.datasets(space):
            got = ctx.load(space, ds, SEVEN_METRICS, res)
            cols = present(SEVEN_METRICS, got.frame)
            if len(cols) < 2:
                res.notes.append(f"{space}/{ds} holds fewer than two of the seven metrics")
                continue
            m = res.add(
                tau_matrix(
                    f"{space}_{ds}",
                    got.frame,
                    cols,
                    f"{space}/{ds}: all models",
                    [label(c) for c in cols],
                )
            )
            vals = np.array(m.values)
            np.fill_diagonal(vals, np.nan)
            mean = np.nanmean(vals, axis=1)
            worst = int(np.nanargmin(mean))
            row = dict(zip(m.labels, m.values[0], strict=True))
            summary.append(
                [space, ds, m.n, m.labels[worst], float(mean[worst]), float(np.nanmedian(vals))]
            )
            if "ECE" in row:
                others = ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "ECE")
                res.findings.append(f"{space}/{ds}: ECE against {others}")
            res.findings.append(
                f"{space}/{ds}: {m.labels[worst]} agrees least with the others (mean tau "
                f"{mean[worst]:.2f}; median of all pairs {np.nanmedian(vals):.2f})"
            )
            ctx.reliability(res, space, ds, cols)
    if summary:
        res.add(
            Records(
                "agreement",
                ["space", "dataset", "n", "least agreeing", "its mean tau", "median tau"],
                summary,
                "which metric disagrees with the rest",
            )
        )
    if any(r[0] == "sss" for r in summary):
        res.notes.append(
            "cwCE_em differs by space in the published data (TSS: Nixon et al.'s ACE; SSS: "
            "Kumar et al.'s marginal equal-mass CE): compare SSS rows with TSS rows with care"
        )
    if not ctx.keep_flagged:
        res.notes.append(
            "the study's TSS cwCE_em, KSCE, KDECE and MMCE returned 0 when they failed; such "
            "zeros are flagged and left out here, so tau with them differs from the study's"
        )
    return res


def figures(res: Result) -> list[tuple[str, Figure]]:
    """One 7x7 heatmap per (space, dataset).

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    return [
        (name, F.heatmap(m, f"(iii) {m.caption}", as_published=res.as_published))
        for name, m in res.tables.items()
        if name != "agreement"
    ]
