"""Build the embedded demo benchmark: NATS networks trained and measured on a small proxy task.

The demo table lets calnas run its calibration-aware search on real measured data with no
download. It is a **proxy task, not CIFAR**: 8x8 grayscale images, tiny networks, a few epochs.
Two proxies (``--dataset``): ``digits`` (the table shipped today, one seed: mostly seed noise)
and ``fashion8`` (Fashion-MNIST at 8x8: rankings repeat between seeds; the planned rebuild).

Protocol, digits (the default; everything seeded; see bench.compute.readers /
bench.compute.training / bench.compute.job):

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

Protocol, fashion8 (bench.compute.fashion8; the Fashion-MNIST files of Debian's package,
``apt-get install dataset-fashion-mnist``):

* data: a fixed stratified 10,000-image training subset (per class 1,000 images, the first of a
  ``default_rng(0 + class)`` permutation) and all 10,000 test images; zero-padded 28x28 -> 32x32,
  average-pooled 4x4 -> 8x8, / 255, normalized with mean 0.2183 / std 0.2842 (the subset's);
  no augmentation.
* networks: as digits (TSS C=8 N=1; SSS only when ``--spaces`` names it).
* training: as digits (batch 128), 6 epochs (measured after epochs 2, 4, 6); ``--seeds`` lists
  the seeds, each a full training run with its own rows. ``--epochs E`` measures after epochs
  E // 3, 2 E // 3 and E; ``--per-class N`` trains on N images per class instead of 1,000 (the
  first N of the same permutations). Both are in each row's ``protocol`` string, and a store
  holds one protocol: a build into a store holding rows of another stops.
* metrics: as digits, on the 10,000 test images.

``--sample N`` builds only the first N networks (TSS: isomorphism classes) of the fixed random
order, for trial builds. The build goes ``--chunk`` networks (TSS: classes; default 500) of
that order at a time, every seed of a chunk before the next chunk: a stopped build holds whole
chunks with every seed, a uniform random sample of the space whose reliability can be measured.
``--copy-functional`` (TSS) trains one class per function and copies its rows to the other
classes computing the same function (bench.arch.functional; 4,930 trainings per seed).
``--reliability`` reads the store's rows of the protocol that
``--epochs``/``--per-class`` name (no training) and prints, per metric, the median and the
Kendall tau-b between two seeds (mean over seed pairs) and, with 2k seeds, between
the means of two disjoint k-seed halves (mean over splits), beside the Spearman-Brown prediction
from the one-seed tau; the same figures go to JSON (``--reliability-out``, default next to
``--out``: bench/data/demo.reliability.json).

The store is built outside the repository (default /work/demo-build) and is resumable: rerun
the same command and it continues where it stopped. ``--export`` writes the compressed parquet
under bench/data/, prints the spread of accuracy and ECE and their Kendall tau, and draws the
figure (ECE against accuracy, TSS) under docs/.

Usage:
    python scripts/build_demo_bench.py --bench /work/demo-build --jobs 2          # build
    python scripts/build_demo_bench.py --bench /work/demo-build --export-only     # export
    python scripts/build_demo_bench.py --dataset fashion8 --seeds 777,778 --sample 200 \\
        --bench /work/f8-build --jobs 2                                           # trial build
    python scripts/build_demo_bench.py --dataset fashion8 --seeds 777,778 \\
        --bench /work/f8-build --reliability                                      # reliability
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.analysis.reliability import (  # noqa: E402
    format_seed_report,
    frame_seed_report,
)
from bench.arch.spaces import get_space  # noqa: E402
from bench.compute import ComputeConfig, compute  # noqa: E402
from bench.compute.copies import own_costs  # noqa: E402
from bench.compute.fashion8 import check_per_class  # noqa: E402
from bench.compute.ood import FASHION_MNIST_DEFAULT_ROOT  # noqa: E402
from bench.errors import InputError  # noqa: E402
from bench.fileio import atomic_path  # noqa: E402
from bench.table.schema import breakdown_flags  # noqa: E402
from bench.table.store import Store  # noqa: E402
from bench.table.tablefile import read_reliability, with_reliability  # noqa: E402

SEED = 777
SSS_SAMPLE_SEED = 2024
SSS_SAMPLE_SIZE = 2048
TSS_EPOCHS, TSS_FIDELITIES = 4, (1, 2)
SSS_EPOCHS, SSS_FIDELITIES = 2, (1,)
#: (epochs, fidelities) per dataset and space; --epochs replaces the epochs (fidelities kept below)
SCHEDULES = {
    "digits": {"tss": (TSS_EPOCHS, TSS_FIDELITIES), "sss": (SSS_EPOCHS, SSS_FIDELITIES)},
    "fashion8": {"tss": (6, (2, 4)), "sss": (6, (2, 4))},
}
#: spaces built when --spaces is not given (fashion8: the TSS rebuild of issue #15)
DEFAULT_SPACES = {"digits": "tss,sss", "fashion8": "tss"}
#: the metrics whose seed reliability --reliability reports
RELIABILITY_METRICS = ("acc", "pre_ECE_15", "post_ECE_15", "pre_NLL", "post_NLL", "pre_Brier")
#: at most this many disjoint-halves splits are averaged (10 seeds would give 126)
MAX_SPLITS = 35
BATCH = 128
ORDER_SEED = 0  # order of computation (random, so a partial build is an unbiased subset)
CHUNK = 500  # networks (TSS: classes) built with every seed before the next ones
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


def configs(
    dataset: str = "digits",
    epochs: int | None = None,
    seed: int = SEED,
    per_class: int | None = None,
    copy_functional: bool = False,
) -> dict[str, ComputeConfig]:
    """The build's config per space: the dataset's schedule (``epochs`` replaces its length;
    fashion8 then measures at a third and two thirds of it too); ``per_class``: fashion8's
    training images per class (None: 1,000); ``copy_functional``: TSS trains one class per
    function and copies its rows to the other classes of the function."""
    out = {}
    for space, (default_epochs, fids) in SCHEDULES[dataset].items():
        n = default_epochs if epochs is None else epochs
        if dataset == "fashion8":
            fids = (n // 3, 2 * n // 3)
        out[space] = ComputeConfig(
            space,
            dataset,
            epochs=n,
            fidelities=tuple(f for f in fids if 1 <= f < n),
            seed=seed,
            batch_size=BATCH,
            threads=1,
            train_per_class=per_class,
            copy_functional=copy_functional,
        )
    return out


def targets(space: str, sample: int | None = None) -> list[int]:
    """The fixed random order of the build; ``sample``: its first N networks (TSS: classes)."""
    rng = np.random.default_rng(ORDER_SEED)
    if space == "tss":
        order = rng.permutation(get_space("tss").size)
        return (
            order.tolist() if sample is None else order[: _class_ends(order)[sample - 1]].tolist()
        )
    sample_ = sss_sample()
    # the uniform widths first (they anchor the figure), the rest in random order
    order_sss = [*sample_[:8].tolist(), *rng.permutation(sample_[8:]).tolist()]
    return order_sss if sample is None else order_sss[:sample]


def chunks(space: str, order: list[int], size: int) -> list[list[int]]:
    """``order`` cut into runs of ``size`` networks (TSS: ``size`` classes, each run ending
    where the next class's first member would start); the last run may be shorter."""
    if space != "tss":
        return [order[i : i + size] for i in range(0, len(order), size)]
    ends = _class_ends(np.asarray(order))
    cuts = [0, *ends[size - 1 :: size].tolist()]
    if cuts[-1] < len(order):
        cuts.append(len(order))
    return [order[a:b] for a, b in itertools.pairwise(cuts)]


def _class_ends(order: np.ndarray) -> np.ndarray:
    """For n = 1, 2, ...: the length of the shortest prefix of ``order`` that meets n TSS classes
    (compute writes a whole class when it meets one of its members)."""
    reps = get_space("tss").representatives()[order]
    _, first = np.unique(reps, return_index=True)
    return np.sort(first) + 1


def ensure_fashion_mnist(root: Path = FASHION_MNIST_DEFAULT_ROOT, apt: str | None = "") -> None:
    """Install Debian's ``dataset-fashion-mnist`` where its files are absent (the build script
    installs what the fashion8 build reads; calnas itself never downloads anything).

    ``apt``: the apt-get program ("" finds it on PATH; None: none, so only the message).

    Raises:
        SystemExit: the files are absent and could not be installed; says how to get them.
    """
    import shutil
    import subprocess

    from bench.compute.fashion8 import check_fashion8_files
    from bench.errors import MissingFileError

    try:
        check_fashion8_files(root)
        return
    except MissingFileError as err:
        missing = str(err)
    apt = shutil.which("apt-get") if apt == "" else apt
    if apt is not None:
        command = [apt, "install", "-y", "-qq", "dataset-fashion-mnist"]
        if os.geteuid() != 0 and shutil.which("sudo"):
            command.insert(0, "sudo")
        log.info("installing Debian's dataset-fashion-mnist: %s", " ".join(command))
        if subprocess.run(command, check=False).returncode == 0:
            try:
                check_fashion8_files(root)
                return
            except MissingFileError as err:
                missing = str(err)
    raise SystemExit(
        f"{missing}\nthe fashion8 build needs Debian's Fashion-MNIST files: "
        "apt-get install dataset-fashion-mnist (as root)"
    )


def build(
    bench: Path,
    jobs: int,
    spaces: list[str],
    limit: int | None,
    quiet: bool,
    *,
    dataset: str = "digits",
    seeds: tuple[int, ...] = (SEED,),
    epochs: int | None = None,
    sample: int | None = None,
    per_class: int | None = None,
    copy_functional: bool = False,
    chunk: int = CHUNK,
) -> None:
    """Build the store: for each space, ``chunk`` networks (TSS: classes) of the fixed order at a
    time, every seed of a chunk before the next chunk, so that a stopped build leaves whole
    chunks with every seed (a uniform random sample of the space) rather than whole seeds."""
    for space in spaces:
        for part in chunks(space, targets(space, sample), chunk):
            for seed in seeds:
                cfg = configs(dataset, epochs, seed, per_class, copy_functional)[space]
                _check_protocol(bench, cfg)
                t = time.time()
                report = compute(
                    cfg, part, bench=bench, jobs=jobs, limit=limit, quiet=quiet, flush_every=120.0
                )
                if report.networks or report.copied_only:
                    log.info(
                        "%s seed %d, %d targets: %s in %.0f s",
                        space, seed, len(part), report.as_dict(), time.time() - t,
                    )  # fmt: skip


def _check_protocol(bench: Path, cfg: ComputeConfig) -> None:
    """Stop if the store holds rows of ``cfg``'s table made another way (their keys would
    collide: a protocol is one store)."""
    store = Store(bench)
    if not store.has(cfg.space, cfg.dataset, "computed"):
        return
    stored = set(store.read(cfg.space, cfg.dataset, "computed", columns=["protocol"])["protocol"])
    other = sorted(str(x) for x in stored - {cfg.protocol()})
    if other:
        raise SystemExit(
            f"{bench} holds {cfg.space}/{cfg.dataset} rows of another protocol ({other[0]}), "
            f"not {cfg.protocol()}: use one store per protocol (--bench)"
        )


def _progress(
    bench: Path, dataset: str = "digits", epochs: int | None = None, per_class: int | None = None
) -> dict[str, int]:
    store = Store(bench)
    out = {}
    for space, cfg in configs(dataset, epochs, per_class=per_class).items():
        if store.has(space, dataset, "computed"):
            df = store.read(
                space, dataset, "computed", columns=["config", "hp", "epoch", "seed", "copied"]
            )
            df = df[(df["epoch"] == cfg.epochs) & (df["hp"] == cfg.hp)]
            out[f"{space}_rows_final_epoch"] = len(df)
            out[f"{space}_networks_trained"] = int((~df["copied"].astype(bool)).sum())
            out[f"{space}_seeds"] = int(df["seed"].nunique())
    return out


def reliability(
    bench: Path,
    dataset: str = "digits",
    spaces: list[str] | None = None,
    epochs: int | None = None,
    metrics: tuple[str, ...] = RELIABILITY_METRICS,
    seeds: tuple[int, ...] | None = None,
    per_class: int | None = None,
    complete_only: bool = False,
) -> dict[str, dict]:
    """Seed reliability of the build store's final-epoch rows, per space and metric
    (bench.analysis.reliability.frame_seed_report: tau between seeds, between k-seed means, the
    Spearman-Brown prediction). Only rows of this build's protocol (``epochs``, ``per_class``)
    count; copies are left out: one row per trained network. ``seeds``: only these (default:
    every seed the store holds); ``complete_only``: only the networks holding every one of them.
    """
    store = Store(bench)
    out: dict[str, dict] = {}
    for space in spaces or DEFAULT_SPACES[dataset].split(","):
        cfg = configs(dataset, epochs, per_class=per_class)[space]
        if not store.has(space, dataset, "computed"):
            out[space] = {"measurable": False, "why": f"no {space}/{dataset} table in {bench}"}
            continue
        have = set(store.columns(space, dataset, "computed"))
        cols = [m for m in metrics if m in have]
        base = ["config", "hp", "epoch", "seed", "copied", "protocol"]
        df = store.read(space, dataset, "computed", columns=base + cols)
        df = df[(df["hp"] == cfg.hp) & (df["epoch"] == cfg.epochs) & ~df["copied"].astype(bool)]
        df = df[df["protocol"] == cfg.protocol()]
        if seeds is not None:
            df = df[df["seed"].isin(seeds)]
        if complete_only:
            held = df.groupby("config")["seed"].transform("nunique")
            df = df[held == df["seed"].nunique()]
        report = frame_seed_report(df, cols, MAX_SPLITS)
        if not report["measurable"]:
            report["why"] = (
                f"{len(report['seeds'])} seed(s) with rows of this protocol ({cfg.epochs}-epoch "
                "schedule, --epochs; --per-class) at its end: two are needed"
            )
            out[space] = report
            continue
        out[space] = {
            "dataset": dataset,
            "hp": cfg.hp,
            "epoch": cfg.epochs,
            "protocol": cfg.protocol(),
            **report,
            "missing_metrics": [m for m in metrics if m not in have],
        }
    return out


def export(
    bench: Path,
    out: Path,
    figure: Path | None,
    dataset: str = "digits",
    epochs: int | None = None,
    *,
    seeds: tuple[int, ...] | None = None,
    per_class: int | None = None,
) -> pd.DataFrame:
    """Write the demo parquet (source 'demo') with its seed reliability in the file's metadata,
    print spread and Kendall tau, draw the figure. ``seeds``: only these seeds' rows are
    written (default: every seed); the reliability is measured on them, and, where the store
    holds more seeds, on the networks holding every seed too (the reliability sample)."""
    from scipy.stats import kendalltau

    store = Store(bench)
    parts, spaces = [], []
    for space in ("tss", "sss"):
        if store.has(space, dataset, "computed"):
            part = store.read(space, dataset, "computed")
            parts.append(part if seeds is None else part[part["seed"].isin(seeds)])
            spaces.append(space)
    if not parts:
        raise SystemExit(f"{bench} holds no {dataset} tables yet: build first")
    reports = _reliability_reports(bench, dataset, spaces, epochs, seeds, per_class)
    frame, recosted = _own_costs(pd.concat(parts, ignore_index=True), dataset)
    if recosted:  # rows copied before copies kept their own costs (bench.compute.copies.own_costs)
        print(f"{recosted} copied rows given their own params and FLOPs")
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
        _write(rounded, tmp, reports)
        if tmp.stat().st_size <= MAX_MB * 1e6:
            break
    else:
        raise SystemExit(f"the demo table needs {tmp.stat().st_size / 1e6:.1f} MB > {MAX_MB} MB")
    tmp.replace(out)
    frame = rounded
    print(f"floats rounded to {bits} mantissa bits (relative error < {2.0 ** -(bits + 1):.1e})")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(frame)} rows)")
    for space, cfg in configs(dataset, epochs).items():
        df = frame[(frame["space"] == space) & (frame["epoch"] == cfg.epochs)]
        df = df[~df["copied"].astype(bool)]
        if df.empty:
            continue
        n_seeds = df["seed"].nunique()
        # one value per network: the mean over its seeds, as a query answers by default
        df = df.groupby("config")[["acc", "pre_ECE_15", "post_ECE_15"]].mean()
        tau = kendalltau(df["acc"], df["pre_ECE_15"]).statistic
        q = lambda s: np.round(np.percentile(s, [0, 10, 50, 90, 100]), 4).tolist()  # noqa: E731
        print(
            f"{space}: {len(df)} networks x {n_seeds} seed(s) at epoch {cfg.epochs} (seed means)\n"
            f"  acc        min/p10/median/p90/max {q(df['acc'])}  std {df['acc'].std():.4f}\n"
            f"  pre_ECE_15 min/p10/median/p90/max {q(df['pre_ECE_15'])}  "
            f"std {df['pre_ECE_15'].std():.4f}\n"
            f"  post_ECE_15 median {df['post_ECE_15'].median():.4f}\n"
            f"  Kendall tau(acc, pre_ECE_15) = {tau:.3f}"
        )
    if figure is not None:
        _figure(frame, figure, dataset, epochs)
    return frame


def repair(path: Path, dataset: str = "digits") -> None:
    """Repair a written demo table in place: set its ``flags`` column from the breakdown rule of
    ``bench.table.schema.breakdown_flags`` (KDECE > 1 near chance), and give copied rows their
    own params and FLOPs (``bench.compute.copies.own_costs``); every measured value stays as it is.
    A table that records no seed reliability gets the one its own rows give (final epoch, one
    row per trained network; with one seed: not measurable, and it says so).

    The shipped digits table was built before computed rows carried that flag and while copies
    took their representative's costs; a new build has all of it right.
    """
    frame = pd.read_parquet(path)
    flags = breakdown_flags(frame, len(frame))
    frame["flags"] = pd.array([";".join(f) if f else None for f in flags], dtype="string")
    frame, recosted = _own_costs(frame, dataset)
    reports = {}
    for (space, name), part in frame.groupby(["space", "dataset"], sort=False):
        recorded = read_reliability(path, space, name)
        reports[f"{space}/{name}"] = recorded or [_file_reliability(part)]
    with atomic_path(path) as tmp:
        _write(frame, Path(tmp), reports)
    flagged = int(frame["flags"].notna().sum())
    print(
        f"{path}: {flagged} rows flagged, {recosted} copied rows given their own costs "
        f"({path.stat().st_size / 1e6:.2f} MB)"
    )


def _file_reliability(part: pd.DataFrame) -> dict:
    """The seed reliability of one table's own final-epoch rows (one per trained network)."""
    last = part[(part["epoch"] == part["hp"]) & ~part["copied"].astype(bool)]
    hp = int(last["hp"].max())
    last = last[last["hp"] == hp]
    metrics = [m for m in RELIABILITY_METRICS if m in last]
    report = frame_seed_report(last, metrics, MAX_SPLITS)
    return {"label": "the table's seeds, every network", "epoch": hp, **report}


def _reliability_reports(
    bench: Path,
    dataset: str,
    spaces: list[str],
    epochs: int | None,
    seeds: tuple[int, ...] | None,
    per_class: int | None,
) -> dict[str, list[dict]]:
    """Per ``space/dataset``: the reliability of the written seeds over every network, and, where
    the store holds more seeds, of every seed over the networks holding them all."""
    table = reliability(bench, dataset, spaces, epochs, seeds=seeds, per_class=per_class)
    every = reliability(bench, dataset, spaces, epochs, per_class=per_class, complete_only=True)
    out = {}
    for space in spaces:
        reports = [{"label": "the table's seeds, every network", **table[space]}]
        if every[space].get("seeds") != table[space].get("seeds"):
            label = "every seed built, on the networks holding them all"
            reports.append({"label": label, **every[space]})
        out[f"{space}/{dataset}"] = reports
    return out


def _write(frame: pd.DataFrame, path: Path, reports: dict[str, list[dict]]) -> None:
    """The demo parquet file (zstd 19) with ``reports`` in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = with_reliability(pa.Table.from_pandas(frame, preserve_index=False), reports)
    floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
    # floats byte-stream-split (each byte position its own stream: the rounded mantissas' zero
    # bytes compress away) instead of dictionary-encoded: the digits table 13.98 -> 9.42 MB
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        use_dictionary=[c for c in table.column_names if c not in floats],
        use_byte_stream_split=floats,
    )


def _own_costs(frame: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, int]:
    """``frame`` with every row's own params/FLOPs (per space's build config); rows changed."""
    parts, changed = [], 0
    for space, cfg in configs(dataset).items():
        part = frame[frame["space"] == space]
        fixed = own_costs(part, cfg)
        changed += int((fixed["flops_m"].to_numpy() != part["flops_m"].to_numpy()).sum())
        parts.append(fixed)
    rest = frame[~frame["space"].isin(configs(dataset))]
    out = pd.concat([*parts, rest]).loc[frame.index]  # the rows in their order
    return out, changed


def _round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
    """float64 -> nearest float32 with only ``bits`` mantissa bits kept (NaN stays NaN)."""
    f32 = values.astype(np.float32)
    raw = f32.view(np.uint32).astype(np.uint64)
    drop = 23 - bits
    raw = ((raw + (1 << (drop - 1))) >> drop) << drop
    out = raw.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.where(np.isfinite(values), out, values)


def _figure(
    frame: pd.DataFrame, path: Path, dataset: str = "digits", epochs: int | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = configs(dataset, epochs)["tss"].epochs
    df = frame[(frame["space"] == "tss") & (frame["epoch"] == epochs)]
    df = df[~df["copied"].astype(bool)]
    if df.empty:
        return
    seeds = df["seed"].nunique()
    df = df.groupby("config")[["acc", "pre_ECE_15", "params_m"]].mean()  # seed means
    # the view starts at the 2nd percentile of accuracy: the few cells at chance level (no
    # path from input to output) would otherwise squeeze everything else into a sliver
    lo = max(0.0, float(df["acc"].quantile(0.02)) - 0.01)
    shown = df[df["acc"] >= lo]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    sc = ax.scatter(
        shown["acc"], shown["pre_ECE_15"], c=shown["params_m"], s=4, cmap="viridis", alpha=0.7
    )
    fig.colorbar(sc, ax=ax, label="params (M)")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("ECE (15 bins, before temperature scaling)")
    what = f"mean of {seeds} seeds" if seeds > 1 else "one seed"
    ax.set_title(
        f"demo benchmark: TSS on {dataset}, {epochs} epochs\n"
        f"{len(df):,} trained networks ({what} each)",
        fontsize=10,
    )
    if len(shown) < len(df):
        ax.text(
            0.02, 0.97, f"{len(df) - len(shown)} networks below accuracy {lo:.2f} not shown",
            transform=ax.transAxes, va="top", fontsize=8,
        )  # fmt: skip
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bench", type=Path, default=Path("/work/demo-build"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--dataset", choices=tuple(SCHEDULES), default="digits")
    p.add_argument("--spaces", default=None, help="default: tss,sss (digits), tss (fashion8)")
    p.add_argument(
        "--seeds",
        default=None,
        help=f"comma-separated training seeds (default {SEED}; --reliability: every stored seed)",
    )
    p.add_argument(
        "--epochs", type=int, default=None, help="schedule length (default: the dataset's)"
    )
    p.add_argument(
        "--sample",
        type=int,
        default=None,
        help="build only the first N networks (TSS: classes) of the fixed random order",
    )
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="fashion8: training images per class (default 1,000; recorded in the protocol)",
    )
    p.add_argument(
        "--copy-functional",
        action="store_true",
        help="TSS: train one class per function, copy its rows to the classes computing the "
        "same function (4,930 trainings instead of 6,466)",
    )
    p.add_argument(
        "--chunk",
        type=int,
        default=CHUNK,
        help="networks (TSS: classes) built with every seed before the next ones "
        f"(default {CHUNK})",
    )
    p.add_argument(
        "--limit", type=int, default=None, help="networks per chunk and seed (a trial run)"
    )
    p.add_argument("--export", action="store_true", help="export after building")
    p.add_argument("--export-only", action="store_true")
    p.add_argument(
        "--repair",
        action="store_true",
        help="only repair --out in place: its flags column and its copies' own costs",
    )
    p.add_argument(
        "--reliability",
        action="store_true",
        help="only read the store: seed reliability (Kendall tau between seeds) per metric",
    )
    p.add_argument(
        "--reliability-out",
        type=Path,
        default=None,
        help="JSON of --reliability (default: next to --out, <stem>.reliability.json)",
    )
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--figure", type=Path, default=FIGURE)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    spaces_arg = args.spaces or DEFAULT_SPACES[args.dataset]
    spaces = [s.strip() for s in spaces_arg.split(",") if s.strip()]
    seeds: tuple[int, ...] | None = None
    if args.seeds is not None:
        try:
            seeds = tuple(dict.fromkeys(int(s) for s in args.seeds.split(",") if s.strip()))
        except ValueError:
            p.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
        if not seeds:
            p.error("--seeds names no seed")
    if args.sample is not None and args.sample < 1:
        p.error(f"--sample must be a positive integer, got {args.sample}")
    if args.chunk < 1:
        p.error(f"--chunk must be a positive integer, got {args.chunk}")
    if args.per_class is not None and args.dataset != "fashion8":
        p.error("--per-class is a fashion8 option")
    try:
        check_per_class(args.per_class)
    except InputError as err:
        p.error(f"--per-class: {err}")
    if args.repair:
        repair(args.out, args.dataset)
        return
    if args.reliability:
        report = reliability(
            args.bench, args.dataset, spaces, args.epochs, seeds=seeds, per_class=args.per_class
        )
        print(format_seed_report(report))
        path = args.reliability_out or args.out.with_name(f"{args.out.stem}.reliability.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")
        return
    if not args.export_only:
        if args.dataset == "fashion8":
            ensure_fashion_mnist()
        build(
            args.bench,
            args.jobs,
            spaces,
            args.limit,
            args.quiet,
            dataset=args.dataset,
            seeds=seeds or (SEED,),
            epochs=args.epochs,
            sample=args.sample,
            per_class=args.per_class,
            copy_functional=args.copy_functional,
            chunk=args.chunk,
        )
        print("progress:", _progress(args.bench, args.dataset, args.epochs, args.per_class))
    if args.export or args.export_only:
        export(
            args.bench,
            args.out,
            args.figure,
            args.dataset,
            args.epochs,
            seeds=seeds,
            per_class=args.per_class,
        )


if __name__ == "__main__":
    main()
