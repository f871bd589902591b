"""Build the embedded demo benchmark: NATS networks trained and measured on sklearn's digits.

The demo table lets calnas run its calibration-aware search on real measured data with no
download. It is a **proxy task, not CIFAR**: 8x8 grayscale digits, tiny networks, a few epochs.

Protocol (everything seeded; see bench.compute.readers / bench.compute.training /
bench.compute.job):

* data: scikit-learn's digits (1,797 images, 10 classes), pixel values / 16, normalized with
  mean 0.3053 / std 0.3760; fixed stratified split (per class, ``default_rng(0 + class)``
  permutation, half to test): 899 train / 898 test images; no augmentation.
* networks: TSS all 6,466 isomorphism classes (rows for all 15,625 indices, copies flagged
  ``copied``) with the skeleton C=8, N=1 (stem 8 channels, one cell per stage); SSS a sample of
  2,048 networks: the 8 uniform widths plus 2,040 others drawn uniformly without replacement with
  ``np.random.default_rng(2024)``, widths as they are. 1 input channel, 10 classes.
* training: NATS protocol (SGD Nesterov 0.9, lr 0.1 cosine per epoch to 0, weight decay 5e-4),
  batch 128 (256 would give only 4 steps per epoch on 899 images), seed 777; TSS 4 epochs
  (measured after epochs 1, 2, 4), SSS 2 epochs (measured after epochs 1, 2).
* metrics: bench.calibration.evaluate (tao2024 protocol: every metric pre and post temperature
  scaling) on the 898 test images, at every measured epoch.

The store is built outside the repository (default /work/demo-build) and is resumable: rerun
the same command and it continues where it stopped. ``--export`` writes the compressed parquet
under bench/data/, prints the spread of accuracy and ECE and their Kendall tau, and draws the
figure (ECE against accuracy, TSS) under docs/.

Usage:
    python scripts/build_demo_bench.py --bench /work/demo-build --jobs 2          # build
    python scripts/build_demo_bench.py --bench /work/demo-build --export-only     # export
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.arch.spaces import get_space  # noqa: E402
from bench.compute import ComputeConfig, compute  # noqa: E402
from bench.fileio import atomic_path  # noqa: E402
from bench.table.schema import breakdown_flags  # noqa: E402
from bench.table.store import Store  # noqa: E402

SEED = 777
SSS_SAMPLE_SEED = 2024
SSS_SAMPLE_SIZE = 2048
TSS_EPOCHS, TSS_FIDELITIES = 4, (1, 2)
SSS_EPOCHS, SSS_FIDELITIES = 2, (1,)
BATCH = 128
ORDER_SEED = 0  # order of computation (random, so a partial build is an unbiased subset)
OUT = REPO / "bench" / "data" / "demo.parquet"
FIGURE = REPO / "docs" / "demo_tss_ece_vs_acc.png"
MAX_MB = 15.0

log = logging.getLogger("calnas.demo")


def sss_sample(size: int = SSS_SAMPLE_SIZE, seed: int = SSS_SAMPLE_SEED) -> np.ndarray:
    """The documented SSS sample: the 8 uniform widths, then others uniformly at random."""
    sss = get_space("sss")
    uniform = [sss.index(":".join([str(w)] * 5)) for w in sss.choices()]
    rest = np.setdiff1d(np.arange(sss.size), uniform)
    drawn = np.random.default_rng(seed).choice(rest, size - len(uniform), replace=False)
    return np.concatenate([uniform, drawn]).astype(np.int64)


def configs() -> dict[str, ComputeConfig]:
    return {
        "tss": ComputeConfig(
            "tss",
            "digits",
            epochs=TSS_EPOCHS,
            fidelities=TSS_FIDELITIES,
            seed=SEED,
            batch_size=BATCH,
            threads=1,
        ),
        "sss": ComputeConfig(
            "sss",
            "digits",
            epochs=SSS_EPOCHS,
            fidelities=SSS_FIDELITIES,
            seed=SEED,
            batch_size=BATCH,
            threads=1,
        ),
    }


def targets(space: str) -> list[int]:
    rng = np.random.default_rng(ORDER_SEED)
    if space == "tss":
        return rng.permutation(get_space("tss").size).tolist()
    sample = sss_sample()
    # the uniform widths first (they anchor the figure), the rest in random order
    return [*sample[:8].tolist(), *rng.permutation(sample[8:]).tolist()]


def build(bench: Path, jobs: int, spaces: list[str], limit: int | None, quiet: bool) -> None:
    for space in spaces:
        cfg = configs()[space]
        t = time.time()
        report = compute(
            cfg,
            targets(space),
            bench=bench,
            jobs=jobs,
            limit=limit,
            quiet=quiet,
            flush_every=120.0,
        )
        log.info("%s: %s in %.0f s", space, report.as_dict(), time.time() - t)


def _progress(bench: Path) -> dict[str, int]:
    store = Store(bench)
    out = {}
    for space, cfg in configs().items():
        if store.has(space, "digits", "computed"):
            df = store.read(space, "digits", "computed", columns=["config", "epoch", "copied"])
            df = df[df["epoch"] == cfg.epochs]
            out[f"{space}_rows_final_epoch"] = len(df)
            out[f"{space}_networks_trained"] = int((~df["copied"].astype(bool)).sum())
    return out


def export(bench: Path, out: Path, figure: Path | None) -> pd.DataFrame:
    """Write the demo parquet (source 'demo'), print spread and Kendall tau, draw the figure."""
    from scipy.stats import kendalltau

    store = Store(bench)
    parts = []
    for space in ("tss", "sss"):
        if store.has(space, "digits", "computed"):
            parts.append(store.read(space, "digits", "computed"))
    if not parts:
        raise SystemExit(f"{bench} holds no digits tables yet: build first")
    frame = pd.concat(parts, ignore_index=True)
    frame["source"] = "demo"
    # copies next to their representative (zstd then stores a class almost for free)
    reps = get_space("tss").representatives()
    rep = np.where(frame["space"] == "tss", reps[frame["config"].to_numpy() % len(reps)], -1)
    order = np.lexsort(
        (frame["config"], frame["copied"], rep, frame["epoch"], frame["hp"], frame["space"])
    )
    frame = frame.iloc[order].reset_index(drop=True)
    # accuracies (k / n), temperatures (a grid) and costs have few distinct values: kept exact
    exact = {"temperature", "params_m", "flops_m"}
    floats = [
        c
        for c in frame.columns
        if frame[c].dtype == np.float64 and c not in exact and not c.endswith("acc")
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    for bits in (16, 14, 12):
        # round each value to a float32 with `bits` mantissa bits (16: relative error < 8e-6,
        # far below the sampling error of 898 test images) so the table fits in MAX_MB
        rounded = frame.copy()
        for c in floats:
            rounded[c] = _round_mantissa(frame[c].to_numpy(), bits)
        rounded.to_parquet(tmp, index=False, compression="zstd", compression_level=19)
        if tmp.stat().st_size <= MAX_MB * 1e6:
            break
    else:
        raise SystemExit(f"the demo table needs {tmp.stat().st_size / 1e6:.1f} MB > {MAX_MB} MB")
    tmp.replace(out)
    frame = rounded
    print(f"floats rounded to {bits} mantissa bits (relative error < {2.0 ** -(bits + 1):.1e})")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(frame)} rows)")
    for space, cfg in configs().items():
        df = frame[(frame["space"] == space) & (frame["epoch"] == cfg.epochs)]
        df = df[~df["copied"].astype(bool)]
        if df.empty:
            continue
        tau = kendalltau(df["acc"], df["pre_ECE_15"]).statistic
        q = lambda s: np.round(np.percentile(s, [0, 10, 50, 90, 100]), 4).tolist()  # noqa: E731
        print(
            f"{space}: {len(df)} networks measured at epoch {cfg.epochs}\n"
            f"  acc        min/p10/median/p90/max {q(df['acc'])}  std {df['acc'].std():.4f}\n"
            f"  pre_ECE_15 min/p10/median/p90/max {q(df['pre_ECE_15'])}  "
            f"std {df['pre_ECE_15'].std():.4f}\n"
            f"  post_ECE_15 median {df['post_ECE_15'].median():.4f}\n"
            f"  Kendall tau(acc, pre_ECE_15) = {tau:.3f}"
        )
    if figure is not None:
        _figure(frame, figure)
    return frame


def reflag(path: Path) -> None:
    """Set the ``flags`` column of a written demo table from the breakdown rule of
    ``bench.table.schema.breakdown_flags`` (KDECE > 1 near chance), leaving every value as it is.

    The shipped table was built before computed rows carried that flag; a new build has it.
    """
    frame = pd.read_parquet(path)
    flags = breakdown_flags(frame, len(frame))
    frame["flags"] = pd.array([";".join(f) if f else None for f in flags], dtype="string")
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd", compression_level=19)
    flagged = int(frame["flags"].notna().sum())
    print(f"{path}: {flagged} rows flagged ({path.stat().st_size / 1e6:.2f} MB)")


def _round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
    """float64 -> nearest float32 with only ``bits`` mantissa bits kept (NaN stays NaN)."""
    f32 = values.astype(np.float32)
    raw = f32.view(np.uint32).astype(np.uint64)
    drop = 23 - bits
    raw = ((raw + (1 << (drop - 1))) >> drop) << drop
    out = raw.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.where(np.isfinite(values), out, values)


def _figure(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = frame[(frame["space"] == "tss") & (frame["epoch"] == TSS_EPOCHS)]
    df = df[~df["copied"].astype(bool)]
    if df.empty:
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    sc = ax.scatter(df["acc"], df["pre_ECE_15"], c=df["params_m"], s=4, cmap="viridis", alpha=0.7)
    fig.colorbar(sc, ax=ax, label="params (M)")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("ECE (15 bins, before temperature scaling)")
    ax.set_title(f"demo benchmark: TSS on digits ({len(df):,} cells, {TSS_EPOCHS} epochs)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bench", type=Path, default=Path("/work/demo-build"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--spaces", default="tss,sss")
    p.add_argument("--limit", type=int, default=None, help="networks per space (a trial run)")
    p.add_argument("--export", action="store_true", help="export after building")
    p.add_argument("--export-only", action="store_true")
    p.add_argument("--reflag", action="store_true", help="only set --out's flags column")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--figure", type=Path, default=FIGURE)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    if args.reflag:
        reflag(args.out)
        return
    if not args.export_only:
        build(args.bench, args.jobs, spaces, args.limit, args.quiet)
        print("progress:", _progress(args.bench))
    if args.export or args.export_only:
        export(args.bench, args.out, args.figure)


if __name__ == "__main__":
    main()
