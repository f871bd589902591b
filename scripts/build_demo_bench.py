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
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_export import export, reliability, repair
from demo_plan import (
    CHUNK,
    DEFAULT_SPACES,
    FIGURE,
    OUT,
    SCHEDULES,
    SEED,
    chunks,
    configs,
    targets,
)

from bench.analysis.reliability import format_seed_report
from bench.compute import ComputeConfig, compute
from bench.compute.fashion8 import check_per_class
from bench.compute.ood import FASHION_MNIST_DEFAULT_ROOT
from bench.errors import InputError
from bench.fileio import atomic_path
from bench.table.store import Store

__all__ = ["build", "ensure_fashion_mnist", "export", "main", "reliability", "repair"]

log = logging.getLogger("calnas.demo")


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
