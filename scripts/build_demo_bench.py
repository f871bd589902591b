"""Build the embedded demo benchmark: NATS networks trained and measured on a small proxy task.

The demo table lets calnas run its calibration-aware search on real measured data with no
download. It is a **proxy task, not CIFAR**: 8x8 grayscale images, tiny networks, a few epochs.
Two proxies (``--dataset``): ``digits`` (one seed: mostly seed noise) and ``fashion8``
(Fashion-MNIST at 8x8, three seeds: rankings repeat between seeds).

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
``apt-get install dataset-fashion-mnist``, which the build installs where they are absent):

* data: a fixed stratified training subset of 250 images per class (2,500; the first of a
  ``default_rng(0 + class)`` permutation; ``--per-class N``: N instead, up to 6,000) and all
  10,000 test images; zero-padded 28x28 -> 32x32, average-pooled 4x4 -> 8x8, / 255, normalized
  with mean 0.2183 / std 0.2842; no augmentation.
* networks: as digits (TSS C=8 N=1, SSS the same 2,048-network sample). TSS trains one class
  per function and copies its rows to the other classes computing the same function
  (bench.arch.functional; 4,930 trainings per seed; ``--no-copy-functional`` trains all 6,466).
* training: as digits (batch 128); TSS 12 epochs, measured after epochs 4, 8 and 12; SSS 4
  epochs, measured after epochs 1, 2 and 4 (an SSS network costs 4.5 times a TSS cell here)
  (``--epochs E``: after E // 3, 2 E // 3 and E). Epochs and images per class are in each row's
  ``protocol`` string, and a store holds one protocol: a build into a store holding rows of
  another stops.
* seeds (the plan, demo_plan.PLANS): TSS 779 for the first 3,500 classes of the order, 777 and
  778 for every function, 780 too for the first 500 classes (four seeds there: two
  independent 2-seed means, for the reliability); SSS 777 for the 2,048 networks and 778 too
  for the first 128. The shipped table holds TSS seeds 777-779 (two or three per network) and
  SSS seed 777 (demo_plan.SHIPPED_SEEDS); the other seeds measure the reliability recorded
  with it. Each seed is a full training run with its own rows; a query's default is the mean
  over seeds.
* metrics: as digits, on the 10,000 test images.

Without ``--seeds`` and ``--sample`` the build runs the dataset's whole plan (``--spaces`` keeps
the steps of the spaces it names). ``--seeds`` lists seeds to build for every network of each
space (default 777), ``--sample N`` only for the first N networks (TSS: isomorphism classes) of
the fixed random order, for trial builds and additions. The build goes ``--chunk`` networks
(TSS: classes; default 500) of that order at a time, every seed of a chunk before the next
chunk: a stopped build holds whole chunks with every seed, a uniform random sample of the space
whose reliability can be measured. ``--reliability`` reads the store's rows of the protocol that
``--epochs``/``--per-class`` name (no training) and prints, per metric, the median and the
Kendall tau-b between two seeds (mean over seed pairs) and, with 2k seeds, between
the means of two disjoint k-seed halves (mean over splits), beside the Spearman-Brown prediction
from the one-seed tau; the same figures go to JSON (``--reliability-out``, default next to
``--out``: bench/data/<table>.reliability.json).

The store is built outside the repository (default /work/demo-build) and is resumable: rerun
the same command and it continues where it stopped. ``--export`` writes the compressed parquet
under bench/data/ (demo.parquet for digits, fashion8.parquet; the tables of ``--spaces``, default
both), prints the spread of accuracy and ECE and their Kendall tau, and draws the figure (ECE
against accuracy, TSS) under docs/.

Usage:
    python scripts/build_demo_bench.py --bench /work/demo-build --jobs 2          # build digits
    python scripts/build_demo_bench.py --bench /work/demo-build --export-only     # export
    python scripts/build_demo_bench.py --dataset fashion8 --bench /work/f8 --jobs 2 --export
    python scripts/build_demo_bench.py --dataset fashion8 --seeds 777,778 --sample 200 \\
        --bench /work/f8-trial --jobs 2                                           # trial build
    python scripts/build_demo_bench.py --dataset fashion8 --bench /work/f8 --reliability
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
    COPY_FUNCTIONAL,
    FIGURE,
    OUT,
    PER_CLASS,
    PLANS,
    SCHEDULES,
    SEED,
    SHIPPED_SEEDS,
    Step,
    chunks,
    configs,
    plan_spaces,
    targets,
)

from bench.analysis.reliability_text import format_seed_report
from bench.compute import ComputeConfig, compute
from bench.compute.fashion8 import check_per_class
from bench.compute.ood import FASHION_MNIST_DEFAULT_ROOT
from bench.errors import InputError
from bench.fileio import atomic_path
from bench.table.store import Store

__all__ = [
    "build",
    "build_steps",
    "ensure_fashion_mnist",
    "export",
    "main",
    "reliability",
    "repair",
]

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
    steps: list[Step],
    limit: int | None,
    quiet: bool,
    *,
    dataset: str = "digits",
    epochs: int | None = None,
    per_class: int | None = None,
    copy_functional: bool | None = None,
    chunk: int = CHUNK,
) -> None:
    """Build the store, step by step: ``chunk`` networks (TSS: classes) of the fixed order at a
    time, every seed of the step for a chunk before the next chunk, so that a stopped build
    leaves whole chunks with every seed (a uniform random sample of the space) rather than whole
    seeds. What a step finds stored is skipped, so a rerun resumes."""
    for step in steps:
        for part in chunks(step.space, targets(step.space, step.sample), chunk):
            for seed in step.seeds:
                cfg = configs(dataset, epochs, seed, per_class, copy_functional)[step.space]
                _check_protocol(bench, cfg)
                t = time.time()
                report = compute(
                    cfg, part, bench=bench, jobs=jobs, limit=limit, quiet=quiet, flush_every=120.0
                )
                if report.networks or report.copied_only:
                    log.info(
                        "%s seed %d, %d targets: %s in %.0f s",
                        step.space, seed, len(part), report.as_dict(), time.time() - t,
                    )  # fmt: skip


def build_steps(
    dataset: str,
    spaces: list[str] | None,
    seeds: tuple[int, ...] | None,
    sample: int | None,
) -> list[Step]:
    """What a build runs: the dataset's full plan (:data:`demo_plan.PLANS`), its steps of
    ``spaces`` only where given; with ``seeds`` or ``sample``, one step per space instead (a
    trial build or an addition: ``seeds`` default 777, every network unless ``sample``).

    Example:
        >>> [(s.space, s.seeds, s.sample) for s in build_steps("fashion8", ["sss"], None, None)]
        [('sss', (777, 778), 128), ('sss', (777,), None)]
        >>> build_steps("fashion8", None, (1, 2), 4)
        [Step(space='tss', seeds=(1, 2), sample=4), Step(space='sss', seeds=(1, 2), sample=4)]
    """
    spaces = spaces or plan_spaces(dataset)
    if seeds is None and sample is None:
        return [step for step in PLANS[dataset] if step.space in spaces]
    return [Step(space, seeds or (SEED,), sample) for space in spaces]


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
    p.add_argument("--spaces", default=None, help="comma-separated (default: tss,sss)")
    p.add_argument(
        "--seeds",
        default=None,
        help="comma-separated training seeds (default: the dataset's plan; with --sample "
        f"{SEED}; --reliability: every stored seed; export: the shipped table's)",
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
        help=f"fashion8: training images per class (default {PER_CLASS['fashion8']}; "
        "recorded in the protocol)",
    )
    p.add_argument(
        "--copy-functional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TSS: train one class per function, copy its rows to the classes computing the "
        "same function (4,930 trainings instead of 6,466; default: "
        + ", ".join(f"{d} {'yes' if v else 'no'}" for d, v in COPY_FUNCTIONAL.items())
        + ")",
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
    p.add_argument("--out", type=Path, default=None, help="default: bench/data/<dataset's file>")
    p.add_argument("--figure", type=Path, default=None, help="default: docs/<dataset's figure>")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    spaces = plan_spaces(args.dataset)
    if args.spaces is not None:
        spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
        if not spaces or not set(spaces) <= {"tss", "sss"}:
            p.error(f"--spaces takes tss, sss or both, got {args.spaces!r}")
    out = args.out or OUT[args.dataset]
    figure = args.figure or FIGURE[args.dataset]
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
        repair(out, args.dataset)
        return
    if args.reliability:
        report = reliability(
            args.bench, args.dataset, spaces, args.epochs, seeds=seeds, per_class=args.per_class
        )
        print(format_seed_report(report))
        path = args.reliability_out or out.with_name(f"{out.stem}.reliability.json")
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
            build_steps(args.dataset, spaces, seeds, args.sample),
            args.limit,
            args.quiet,
            dataset=args.dataset,
            epochs=args.epochs,
            per_class=args.per_class,
            copy_functional=args.copy_functional,
            chunk=args.chunk,
        )
        print("progress:", _progress(args.bench, args.dataset, args.epochs, args.per_class))
    if args.export or args.export_only:
        shipped = SHIPPED_SEEDS[args.dataset]
        export(
            args.bench,
            out,
            figure,
            args.dataset,
            args.epochs,
            seeds={space: seeds or shipped[space] for space in shipped},
            per_class=args.per_class,
            spaces=spaces,
        )


if __name__ == "__main__":
    main()
