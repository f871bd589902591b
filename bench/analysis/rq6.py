"""Question (vi): what does the bin count do to ECE?

The study drew boxplots of ECE against the number of bins (5, 10, 15, 20, 25, 50, 100, 200, 500)
for the CIFAR-10 TSS cells (Fig. 6): (a) pre-TS after 200 epochs, (b) post-TS after 200 epochs,
(c) pre-TS after a 12-epoch schedule. Finding: the bin count moves post-TS ECE far more than
pre-TS ECE (medians ~1.5 % -> 9.7 % against 5.35 % -> 6.2 %), so post-hoc methods should be
judged over several bin counts. The Kendall matrix of (iv) is the other half of this question.

Panel (c) needs a 12-epoch schedule (``hp=12``); where the table has none, the earliest other
checkpoint it holds is shown and named (an early epoch of a longer schedule is not a short
schedule: its learning rate has not annealed).

Example:
    >>> from bench import Benchmark
    >>> from bench.analysis.questions import Context
    >>> res = run(Context(Benchmark.open("/tmp/calnas-doc-empty")))
    >>> [r[0] for r in res.tables["medians"].data]
    ['pre, hp 12 epoch 12', 'post, hp 12 epoch 12', 'pre, hp 12 epoch 4']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bench.analysis import figures as F
from bench.analysis.questions import Context, present
from bench.analysis.result import Records, Result
from bench.table.schema import BINS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["run", "figures", "TITLE"]

TITLE = "What does the bin count do to ECE?"
ASKS = (
    "How much does the number of bins change the ECE of the same models, before and after "
    "temperature scaling? The distribution of ECE at 5 to 500 bins."
)
STUDY = (
    "Medians (C10 TSS): pre 200 ep 5.35 % at 5 bins -> 6.2 % at 500; post 1.5 % -> 9.7 %; "
    "pre 12 ep 3.5 % -> 6.2 %. Claim: bins move post-TS ECE much more than pre-TS ECE."
)


def run(ctx: Context) -> Result:
    """Answer question (vi) on the context's benchmark (see the module docstring).

    Args:
        ctx: the benchmark and the options (source, as_published, include_flagged,
            dataset).

    Returns:
        The question's :class:`~bench.analysis.result.Result`.

    Raises:
        InputError: ``ctx.dataset`` names a dataset the benchmark does not hold, or a
            table holds nothing at the fidelity read.
    """
    res = Result("rq6", TITLE, ASKS, ctx.as_published, STUDY)
    ds = ctx.pick("tss", "cifar10", res)
    if ds is None:
        return res
    panels: list[tuple[str, dict[str, np.ndarray]]] = []
    rows = []
    cols = [f"{s}_ECE_{b}" for s in ("pre", "post") for b in BINS]
    main = ctx.load("tss", ds, cols, res)
    fid = f"hp {main.hp} epoch {main.epoch}"
    for stage in ("pre", "post"):
        _panel(res, main.frame, stage, f"{stage}, {fid}", panels, rows)
    other = _short_schedule(ctx, ds, main.hp, main.epoch, res)
    if other is not None:
        hp, epoch = other
        got = ctx.load("tss", ds, [f"pre_ECE_{b}" for b in BINS], res, hp=hp, epoch=epoch)
        _panel(res, got.frame, "pre", f"pre, hp {hp} epoch {epoch}", panels, rows)
    res.data["panels"] = panels
    if rows:
        res.add(
            Records(
                "medians",
                ["panel", "n", *[str(b) for b in BINS]],
                rows,
                f"{ds}: median ECE by number of bins",
            )
        )
    for r in rows:
        first, last = r[2], r[-1]
        if first == first and last == last and first > 0:
            res.findings.append(
                f"{ds}, {r[0]}: median ECE {first:.2%} at 5 bins, {last:.2%} at 500 "
                f"(x{last / first:.1f})"
            )
    res.notes.append("the rank agreement across bin counts is question (iv)'s 18x18 matrix")
    ctx.reliability(res, "tss", ds, present(cols, main.frame))
    return res


def _panel(
    res: Result, frame: pd.DataFrame, stage: str, name: str, panels: list, rows: list
) -> None:
    cols = present([f"{stage}_ECE_{b}" for b in BINS], frame)
    if not cols:
        res.notes.append(f"no {stage}-TS ECE columns for panel '{name}'")
        return
    groups = {c.rsplit("_", 1)[1]: frame[c].to_numpy(dtype=float) for c in cols}
    panels.append((name, groups))
    meds = [float(np.nanmedian(groups[str(b)])) if str(b) in groups else float("nan") for b in BINS]
    rows.append([name, len(frame), *meds])


def _short_schedule(
    ctx: Context, ds: str, hp: int | None, epoch: int | None, res: Result
) -> tuple[int, int] | None:
    """The fidelity of panel (c): a 12-epoch schedule, else the earliest other checkpoint."""
    hps = ctx.bench.hps("tss", ds, ctx.source)
    if 12 in hps and hp != 12:
        return 12, 12
    for h in sorted(hps, key=lambda h: (h != hp, h)):
        epochs = [e for e in ctx.bench.epochs("tss", ds, ctx.source, hp=h) if (h, e) != (hp, epoch)]
        if epochs:
            res.notes.append(
                f"panel (c) of the study is a 12-epoch schedule (hp=12); this table has none: "
                f"shown instead is epoch {epochs[0]} of the {h}-epoch schedule (an early "
                "checkpoint, not a short schedule)"
            )
            return h, epochs[0]
    res.notes.append("panel (c) (a 12-epoch schedule) is missing: the table holds one fidelity")
    return None


def figures(res: Result) -> list[tuple[str, Figure]]:
    """The ECE-against-bins boxplots, one panel per stage and fidelity.

    Args:
        res: what :func:`run` returned.

    Returns:
        (name, figure) pairs; the name is the PNG's suffix (``rqN_<name>.png``).
    """
    panels = res.data.get("panels")
    if not panels:
        return []
    return [
        (
            "bins",
            F.boxplot(
                panels,
                title="(vi) ECE against the number of bins",
                ylabel="ECE",
                xlabel="bins",
                as_published=res.as_published,
            ),
        )
    ]
