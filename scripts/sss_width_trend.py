"""Does an SSS network's value repeat better as one seed's measurement or as the trend over widths?

The fashion8 SSS table ships one seed (777) per network; its build trained a second seed (778)
on a sample of the networks to measure how well one seed's ranking repeats. This script asks the
same of the trend: a linear model of the five layer widths, fitted on seed A of the networks
*outside* the sample, ranks the sample's networks; its Kendall tau-b against seed B is set beside
the tau between the two seeds themselves (with 95% bootstrap intervals over the sample's
networks). Where the trend repeats better, the table is good for how width changes a metric and
not for one network's value.

    python scripts/sss_width_trend.py --bench /work/f8-store --dataset fashion8

Reads the build store (``build_demo_bench.py --bench``), rows of the build's own protocol at its
final epoch (``--epochs``/``--per-class`` as for the build).

Example (from the repository root, ``scripts`` on the path):
    >>> widths(["8:16:24:32:64"]).tolist()
    [[0.125, 0.25, 0.375, 0.5, 1.0]]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_plan import configs

from bench.analysis.kendall import tau_b
from bench.table.store import Store

METRICS = ("acc", "pre_ECE_15", "pre_NLL", "pre_Brier")
BOOTSTRAP = 500


def widths(archs: Sequence[str]) -> np.ndarray:
    """The (n, 5) layer widths of SSS arch strings, over 64 (the largest choice)."""
    return np.array([[int(w) / 64 for w in a.split(":")] for a in archs], dtype=np.float64)


def trend_report(
    bench: Path,
    dataset: str = "fashion8",
    seeds: tuple[int, int] = (777, 778),
    metrics: Sequence[str] = METRICS,
    epochs: int | None = None,
    per_class: int | None = None,
    epoch: int | None = None,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """Per metric: the tau between seeds A and B on the networks holding both, and the tau of
    the width trend (fitted on seed A of every other network) against B and against A, at
    ``epoch`` (default: the schedule's end; the build measured some epochs before it too).

    Returns one row per metric: ``epoch``, ``n_fit``, ``n_sample``, ``tau_seeds``, ``tau_trend_b``,
    ``tau_trend_a`` (each tau with ``_lo``/``_hi``, a 95% bootstrap interval over the sample's
    networks) and ``coef_1`` .. ``coef_5`` (the metric's change from width 0 to 64 of a layer).
    """
    a, b = seeds
    cfg = configs(dataset, epochs, per_class=per_class)["sss"]
    store = Store(bench)
    if not store.has("sss", dataset, "computed"):
        raise SystemExit(f"{bench} holds no sss/{dataset} table: build it first")
    cols = ["config", "arch", "hp", "epoch", "seed", "protocol", *metrics]
    df = store.read("sss", dataset, "computed", columns=cols)
    at = cfg.epochs if epoch is None else epoch
    df = df[(df["hp"] == cfg.hp) & (df["epoch"] == at) & (df["protocol"] == cfg.protocol())]
    one, two = df[df["seed"] == a].set_index("config"), df[df["seed"] == b].set_index("config")
    sample = one.index.intersection(two.index).sort_values()
    fit = one.drop(index=sample)
    if len(sample) < 3 or len(fit) < 7:
        raise SystemExit(
            f"need seeds {a} and {b} on 3 networks or more and seed {a} alone on 7 or more; "
            f"the store holds {len(sample)} and {len(fit)} at epoch {at}"
        )
    x_fit = np.column_stack([np.ones(len(fit)), widths(fit["arch"])])
    x_sample = np.column_stack([np.ones(len(sample)), widths(one.loc[sample, "arch"])])
    rng = np.random.default_rng(rng_seed)
    draws = [rng.integers(0, len(sample), len(sample)) for _ in range(BOOTSTRAP)]
    rows = []
    for m in metrics:
        coef = np.linalg.lstsq(x_fit, fit[m].to_numpy(np.float64), rcond=None)[0]
        trend = x_sample @ coef
        va, vb = one.loc[sample, m].to_numpy(np.float64), two.loc[sample, m].to_numpy(np.float64)
        row = {"metric": m, "epoch": at, "n_fit": len(fit), "n_sample": len(sample)}
        for name, (u, v) in {
            "tau_seeds": (va, vb),
            "tau_trend_b": (trend, vb),
            "tau_trend_a": (trend, va),
        }.items():
            boot = [tau_b(u[i], v[i]) for i in draws]
            row[name] = tau_b(u, v)
            row[f"{name}_lo"], row[f"{name}_hi"] = np.nanpercentile(boot, [2.5, 97.5])
        row.update({f"coef_{k + 1}": c for k, c in enumerate(coef[1:])})
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the report (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", type=Path, required=True, help="the build store")
    p.add_argument("--dataset", default="fashion8")
    p.add_argument("--seeds", default="777,778", help="seed A (fit and shipped), seed B")
    p.add_argument("--epochs", type=int, default=None, help="the build's --epochs, if given")
    p.add_argument("--per-class", type=int, default=None, help="the build's --per-class")
    p.add_argument("--epoch", type=int, default=None, help="default: the schedule's end")
    args = p.parse_args(argv)
    try:
        a, b = (int(s) for s in args.seeds.split(","))
    except ValueError:
        p.error(f"--seeds takes two comma-separated integers, got {args.seeds!r}")
    rep = trend_report(
        args.bench,
        args.dataset,
        (a, b),
        epochs=args.epochs,
        per_class=args.per_class,
        epoch=args.epoch,
    )
    first = rep.iloc[0]
    print(
        f"sss/{args.dataset} at epoch {first.epoch}: width trend fitted on seed {a} of "
        f"{first.n_fit} networks; "
        f"Kendall tau-b on the {first.n_sample} networks holding seeds {a} and {b} "
        "(95% bootstrap interval)"
    )
    iv = lambda r, k: f"{r[k]:6.3f} [{r[k + '_lo']:5.2f}, {r[k + '_hi']:5.2f}]"  # noqa: E731
    print(f"  {'metric':<11} {'seed vs seed':>20} {f'trend vs {b}':>20} {f'trend vs {a}':>20}")
    for _, r in rep.iterrows():
        print(
            f"  {r.metric:<11} {iv(r, 'tau_seeds'):>20} {iv(r, 'tau_trend_b'):>20} "
            f"{iv(r, 'tau_trend_a'):>20}"
        )
    print("  the trend: change of the metric from width 0 to 64 of each layer (1..5)")
    for _, r in rep.iterrows():
        print(f"  {r.metric:<11} " + " ".join(f"{r[f'coef_{k}']:+8.4f}" for k in range(1, 6)))


if __name__ == "__main__":
    main()
