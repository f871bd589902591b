"""The question the study did not ask: does a ranking survive a change of seed?

For every (space, dataset) the table holds with two or more seeds per architecture, the seed
reliability (:mod:`bench.analysis.reliability`) of the columns the seven questions rank by:
test-retest Kendall tau between seeds, within- and between-architecture spread, intraclass
correlation, and how many seeds a mean needs for its ranking to repeat at the target tau. With
one seed per architecture (the published tables, the demo table) it says that reliability
cannot be measured there, which is itself the answer: none of the study's rankings comes with
one.

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> res.reliability["tss/digits"]["measurable"]
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.questions import SEVEN_METRICS, Context
from bench.analysis.result import Records, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "TITLE", "COLUMNS"]

TITLE = "Does a ranking survive a change of seed?"
ASKS = (
    "A measured value is one training draw. Where the table holds several seeds per "
    "architecture: the test-retest Kendall tau between seeds, the within- and between-"
    "architecture spread, the intraclass correlation, and the seeds a mean needs for its "
    "ranking to repeat (Spearman-Brown)."
)
STUDY = "Not asked: the study used one seed per architecture (the first of NATS-Bench's dict)."
#: The columns the questions rank by, then accuracy and costs as tables without calibration
#: columns name them (the NB201 tables: validation accuracy, train time and latency per seed).
COLUMNS: tuple[str, ...] = (
    "acc",
    *SEVEN_METRICS,
    "post_ECE_15",
    "pre_NLL",
    "pre_Brier",
    "valid_acc",
    "train_time_s",
    "latency_s",
)


def run(ctx: Context) -> Result:
    """Measure the seed reliability of every table the benchmark holds (see the module doc).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("reliability", TITLE, ASKS, ctx.as_published, STUDY)
    for space in ("tss", "sss"):
        for ds in ctx.datasets(space):
            got = ctx.load(space, ds, COLUMNS, res)
            cols = [c for c in COLUMNS if c not in got.missing]
            ctx.reliability(res, space, ds, cols)
            rel = res.reliability.get(f"{space}/{ds}", {})
            if not rel.get("measurable"):
                res.findings.append(f"{space}/{ds}: not measurable ({rel.get('why', '?')})")
                continue
            if not rel["columns"]:
                res.findings.append(f"{space}/{ds}: none of {', '.join(COLUMNS)} has two seeds")
                continue
            rows = []
            for c, r in rel["columns"].items():
                rows.append(
                    [
                        c,
                        r["n"],
                        r["tau"],
                        r["within_sd"],
                        r["between_sd"],
                        r["icc1"],
                        r["icck"],
                        r["seeds_needed"],
                        r["tau_of_mean"],
                    ]
                )
            res.add(
                Records(
                    f"{space}_{ds}",
                    [
                        "column",
                        "archs",
                        "test-retest tau",
                        "within SD",
                        "between SD",
                        "ICC(1)",
                        "ICC(1,k)",
                        f"seeds for tau {rel['target_tau']}",
                        f"tau of the mean of {len(rel['seeds'])}",
                    ],
                    rows,
                    f"{space}/{ds}: seeds {rel['seeds']}, hp {rel['hp']} epoch {rel['epoch']}",
                )
            )
            for c in ("acc", "valid_acc", "pre_ECE_15"):
                if c in rel["columns"]:
                    r = rel["columns"][c]
                    need = r["seeds_needed"]
                    res.findings.append(
                        f"{space}/{ds}: {c} ranks repeat across seeds at tau {r['tau']:.2f} "
                        f"(ICC {r['icc1']:.2f}); "
                        + (
                            f"a mean of {need} seeds reaches tau {rel['target_tau']}"
                            if need
                            else "no number of seeds makes it repeat"
                        )
                    )
    if not res.tables:
        res.notes.append(
            "no table here holds two seeds per architecture: calnas bench compute --seed S, run "
            "once per seed, adds them (NATS-Bench archives hold several seeds of accuracy and "
            "loss, not of the calibration metrics)"
        )
    return res


def figures(res: Result) -> list[tuple[str, Figure]]:
    """Test-retest tau per column (bars), one panel per table with several seeds.

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    out = []
    for name, t in res.tables.items():
        if not isinstance(t, Records) or not t.data:
            continue
        cols = [r[0] for r in t.data]
        taus = np.array([np.nan if r[2] is None else r[2] for r in t.data], dtype=float)
        fig = F.Figure(figsize=(max(5.0, 0.5 * len(cols) + 2), 4))
        ax = fig.subplots()
        ax.bar(range(len(cols)), taus, color="tab:blue")
        for i, v in enumerate(taus):
            if v == v:
                ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=8)
        ax.set_ylim(min(0.0, float(np.nanmin(taus)) - 0.05) if np.isfinite(taus).any() else 0, 1)
        ax.set_ylabel("test-retest Kendall tau")
        ax.set_title(f"seed reliability, {t.caption}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        out.append((name, fig))
    return out
