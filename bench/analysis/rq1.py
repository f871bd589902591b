"""Question (i): does calibration carry over across datasets?

The study ranked the TSS cells by seven calibration metrics (15 bins) on ImageNet16-120, CIFAR-10
and CIFAR-100 and computed the 21x21 Kendall tau-b matrix of those rankings, rows merged on
``config``. Two populations, both computed here and named:

- ``fig1``: the paper's Figure 1, the union of each dataset's 100 most accurate configs;
- ``all``: the public notebook ``q1.ipynb``, every config (no filter).

It also reports the cross-dataset tau of ECE for the unions of the top 1000 and 5000, and for
post-TS ECE over all configs (rebuttal figure 4.1), and pre- against post-TS ECE per dataset.
Study finding: calibration does not transfer well between datasets (ECE tau IN-C10 -0.23,
IN-C100 0.12, C10-C100 0.14 in Figure 1).

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> list(res.tables)[:2]
    ['fig1', 'all']
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.data import SHORT
from bench.analysis.kendall import kendall_matrix, union_top
from bench.analysis.questions import SEVEN_METRICS, Context, label, tau_matrix
from bench.analysis.result import Records, Result

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "TITLE"]

TITLE = "Does calibration carry over across datasets?"
ASKS = (
    "Is an architecture that is well calibrated on one dataset also well calibrated on another? "
    "Kendall tau-b between the rankings of the TSS cells by seven calibration metrics (15 bins) "
    "on each dataset, rows matched by config."
)
STUDY = (
    "Fig. 1 (union of each dataset's 100 most accurate cells): ECE tau IN-C10 -0.23, IN-C100 "
    "0.12, C10-C100 0.14; over all cells (released CSVs) 0.14 / 0.66 / 0.36. Claim: calibration "
    "does not transfer well between datasets."
)
#: The populations of the cross-dataset summary: (name, K of the per-dataset top-K union).
UNIONS: tuple[tuple[str, int | None], ...] = (
    ("top-100 union (Fig. 1)", 100),
    ("top-1000 union", 1000),
    ("top-5000 union", 5000),
    ("all", None),
)


def run(ctx: Context) -> Result:
    """Answer question (i) on the context's benchmark (see the module docstring).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("rq1", TITLE, ASKS, ctx.as_published, STUDY)
    have = ctx.datasets("tss")
    if not have:
        res.notes.append("the benchmark holds no TSS table: nothing to answer")
        return res
    frames = {}
    for ds in have:
        frames[ds] = ctx.load("tss", ds, [*SEVEN_METRICS, "acc", "post_ECE_15"], res).frame
    merged = _merge(frames)
    metrics = [m for m in SEVEN_METRICS if any(_col(ds, m) in merged for ds in have)]
    cols = [_col(ds, m) for ds in have for m in metrics if _col(ds, m) in merged]
    labels = [
        f"{SHORT.get(ds, ds)} {label(m)}" for ds in have for m in metrics if _col(ds, m) in merged
    ]
    res.data["groups"] = [c.split("|")[0] for c in cols]
    with_acc = [
        frames[ds] for ds in have if "acc" in frames[ds] and frames[ds]["acc"].notna().any()
    ]
    fig1 = union_top(with_acc, "acc", 100) if with_acc else np.zeros(0, dtype=np.int64)
    top = merged[merged["config"].isin(fig1)]
    res.add(
        tau_matrix(
            "fig1",
            top,
            cols,
            "union of each dataset's 100 most accurate cells (the paper's Fig. 1)",
            labels,
        )
    )
    res.add(tau_matrix("all", merged, cols, "all cells (the public notebook q1)", labels))
    res.notes.append(
        "two populations, both named: 'fig1' is the paper's Fig. 1 (union of the top 100 by "
        "accuracy per dataset), 'all' the public notebook q1 (no filter); they differ "
        "(released CSVs: ECE tau IN-C10 -0.23 over fig1, 0.14 over all)"
    )
    if len(have) < 2:
        res.notes.append(
            f"cross-dataset transfer needs two datasets (the study: "
            f"{', '.join(('ImageNet16-120', 'cifar10', 'cifar100'))}); this benchmark holds TSS "
            f"rows for {', '.join(have)} only: the within-dataset agreement of the metrics is "
            "shown instead"
        )
    _summary(res, frames, merged, have)
    _findings(res, have)
    for ds in have:
        ctx.reliability(res, "tss", ds, [m for m in SEVEN_METRICS if _col(ds, m) in merged])
    return res


def _col(ds: str, metric: str) -> str:
    return f"{ds}|{metric}"


def _merge(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Outer merge on config; columns renamed ``dataset|metric``."""
    import pandas as pd

    parts = []
    for ds, f in frames.items():
        vals = f.drop(columns=[c for c in ("arch", "source", "hp", "epoch", "copied") if c in f])
        parts.append(vals.set_index("config").rename(columns=lambda c, d=ds: _col(d, c)))
    merged = pd.concat(parts, axis=1, join="outer")
    return merged.reset_index().rename(columns={"index": "config"})


def _summary(res: Result, frames: dict, merged: pd.DataFrame, have: list[str]) -> None:
    """Cross-dataset ECE tau per population, and pre vs post ECE per dataset."""
    pairs = list(itertools.combinations(have, 2))
    if pairs:
        rows = []
        names = [f"{SHORT.get(a, a)}-{SHORT.get(b, b)}" for a, b in pairs]
        with_acc = [frames[d] for d in have if "acc" in frames[d]]
        for name, k in UNIONS:
            sub = (
                merged
                if k is None
                else merged[merged["config"].isin(union_top(with_acc, "acc", k))]
            )
            rows.append([name, "pre_ECE_15", *_common_cross(sub, pairs, have, "pre_ECE_15")])
        rows.append(["all", "post_ECE_15", *_common_cross(merged, pairs, have, "post_ECE_15")])
        res.add(
            Records(
                "transfer", ["population", "metric", "n", *names], rows, "ECE tau between datasets"
            )
        )
    per = []
    for ds in have:
        a, b = _col(ds, "pre_ECE_15"), _col(ds, "post_ECE_15")
        if a in merged and b in merged:
            km = kendall_matrix(merged[[a, b]])
            per.append([ds, int(km.n[0, 1]), float(km.tau[0, 1])])
    if per:
        res.add(
            Records(
                "pre_post",
                ["dataset", "n", "tau(pre ECE, post ECE)"],
                per,
                "same dataset, before against after temperature scaling",
            )
        )


def _common_cross(
    frame: pd.DataFrame, pairs: list[tuple[str, str]], have: list[str], metric: str
) -> list:
    """``[n, tau per pair]`` over the configs where every dataset holds ``metric``: one population
    for every pair, and n counts it (a computed table can hold fewer networks than another:
    fashion8's copies of a function are left out, digits measured every class)."""
    cols = [_col(d, metric) for d in have if _col(d, metric) in frame]
    common = frame.dropna(subset=cols)
    return [len(common), *_cross(common, pairs, metric)]


def _cross(frame: pd.DataFrame, pairs: list[tuple[str, str]], metric: str) -> list[float]:
    out = []
    for a, b in pairs:
        ca, cb = _col(a, metric), _col(b, metric)
        if ca in frame and cb in frame:
            out.append(float(kendall_matrix(frame[[ca, cb]]).tau[0, 1]))
        else:
            out.append(float("nan"))
    return out


def _findings(res: Result, have: list[str]) -> None:
    tr = res.tables.get("transfer")
    if isinstance(tr, Records):
        cols = tr.columns[3:]
        for row in tr.data:
            if row[0] in ("top-100 union (Fig. 1)", "all") and row[1] == "pre_ECE_15":
                vals = ", ".join(f"{c} {v:.2f}" for c, v in zip(cols, row[3:], strict=True))
                res.findings.append(f"ECE tau between datasets over {row[0]} (n={row[2]}): {vals}")
        best = max((abs(v) for r in tr.data for v in r[3:] if v == v), default=float("nan"))
        if best == best:
            verdict = "weakly" if best < 0.5 else "partly"
            res.findings.append(
                f"calibration rankings carry over {verdict} across datasets (largest |tau| "
                f"{best:.2f})"
            )
    fig1 = res.tables["fig1"]
    for ds in have:
        lab = f"{SHORT.get(ds, ds)} ECE"
        if lab not in fig1.labels:
            continue
        i = fig1.labels.index(lab)
        within = [
            f"{fig1.labels[j].split(' ', 1)[1]} {fig1.values[i][j]:.2f}"
            for j in range(len(fig1.labels))
            if j != i
            and fig1.labels[j].startswith(SHORT.get(ds, ds) + " ")
            and fig1.values[i][j] == fig1.values[i][j]
        ]
        if within:
            res.findings.append(
                f"{ds}, fig1 population: ECE against the other metrics: " + ", ".join(within)
            )


def figures(res: Result) -> list[tuple[str, Figure]]:
    """The 21x21 heatmaps (fig1 and all) and, with several datasets, ECE tau by population.

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    out = []
    groups = res.data.get("groups")
    for name in ("fig1", "all"):
        m = res.tables.get(name)
        if m is not None and m.labels:
            out.append(
                (
                    name,
                    F.heatmap(m, f"(i) {m.caption}", as_published=res.as_published, groups=groups),
                )
            )
    tr = res.tables.get("transfer")
    if isinstance(tr, Records):
        rows = [r for r in tr.data if r[1] == "pre_ECE_15"]
        xs = [r[2] for r in rows]
        series = {c: [r[3 + i] for r in rows] for i, c in enumerate(tr.columns[3:])}
        fig = F.lines(
            [("pre_ECE_15, unions of the top K per dataset, then all", xs, series)],
            title="(i) ECE tau between datasets against the population size",
            xlabel="configs in the population",
            ylabel="Kendall tau-b",
            as_published=res.as_published,
        )
        from matplotlib.ticker import NullFormatter

        ax = fig.axes[0]
        ax.set_xscale("log")
        # within about one decade matplotlib labels the minor ticks too, and they overlap
        ax.xaxis.set_minor_formatter(NullFormatter())
        out.append(("transfer", fig))
    return out
