"""``calnas bench compute``: train or load networks, measure every metric, store the rows.

Example:
    calnas bench compute --space tss --dataset digits --data-root . --archs 0,1,2 --epochs 4 \\
        --fidelities 1,2 --jobs 2 --bench /tmp/bench
"""

from __future__ import annotations

import argparse
import logging
import sys

from bench.arch.datasets import DATASETS
from bench.cliutil import CLIError, add_format, emit

__all__ = ["register"]


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def register(bench_subcommands: argparse._SubParsersAction) -> None:
    """Add ``compute`` to the ``calnas bench`` subcommands.

    Args:
        bench_subcommands: the subparsers of ``calnas bench``.

    Example:
        >>> import argparse
        >>> commands = argparse.ArgumentParser(prog="calnas bench").add_subparsers()
        >>> register(commands)
        >>> sorted(commands.choices)
        ['compute']
    """
    p = bench_subcommands.add_parser(
        "compute",
        help="compute missing entries: train (or load) networks, measure, store",
        description=(
            "Train networks with the NATS-Bench protocol (or load NATS-Bench weights), measure "
            "every calibration metric before and after temperature scaling, and upsert the rows. "
            "Resumable: a rerun skips what is stored; a killed run loses only networks in flight."
        ),
    )
    p.add_argument("--space", choices=("tss", "sss"), required=True)
    p.add_argument("--dataset", choices=tuple(DATASETS), required=True)
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder with the dataset files (not needed for digits; fashion8 defaults to "
        "/usr/share/datasets/fashion-mnist, from apt-get install dataset-fashion-mnist); "
        "nothing is downloaded",
    )
    p.add_argument(
        "--archs",
        default="missing",
        help="missing (default: every index not stored), all (recompute every index), "
        "a comma list of indices or arch strings, or a file with one per line",
    )
    p.add_argument(
        "--weights",
        metavar="DIR",
        help="NATS-Bench 'full' archive (needs the nats_bench package) or a folder of "
        "<index>.pt state_dicts; without it networks are trained",
    )
    p.add_argument("--weights-hp", type=int, help="hp tag of the weights (default 200 TSS, 90 SSS)")
    p.add_argument("--epochs", type=int, default=12, help="training schedule (default 12)")
    p.add_argument(
        "--fidelities",
        type=_int_list,
        default=(),
        metavar="1,2,4,...",
        help="epochs at which to measure too (the end always is)",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--per-class",
        type=int,
        metavar="N",
        help="fashion8 only: training images per class of its fixed subset (default 1,000)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (0: in this process)")
    p.add_argument("--backend", choices=("loky", "dask"), default="loky")
    p.add_argument("--scheduler", metavar="ADDR", help="dask scheduler, tcp://HOST:PORT")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per worker")
    p.add_argument(
        "--pack",
        type=int,
        default=1,
        metavar="K",
        help="train K TSS networks together in each worker, each with its own weights, "
        "statistics and optimizer state (same results as one by one, to float rounding; "
        "default 1)",
    )
    p.add_argument(
        "--copy-functional",
        action="store_true",
        help="TSS training: train one class per function and copy its rows to the classes "
        "computing the same function (4,930 networks instead of 6,466; rows flagged copied)",
    )
    p.add_argument("--limit", type=int, help="compute at most N networks in this run")
    p.add_argument("--force", action="store_true", help="recompute networks already stored")
    p.add_argument(
        "--flush-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="merge finished networks into the store this often (0: after every network); "
        "each one is durable in the journal at once either way",
    )
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--C", type=int, dest="C", help="TSS stem width (default: dataset skeleton)")
    p.add_argument("--N", type=int, dest="N", help="TSS cells per stage (default: skeleton)")
    p.add_argument(
        "--bench", metavar="PATH", help="benchmark directory ($CALNAS_HOME, else ~/.calnas)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, no per-network log")
    add_format(p)
    p.set_defaults(func=_compute)


def _compute(args: argparse.Namespace) -> None:
    from bench.compute import ComputeConfig, compute

    if args.backend == "dask" and not args.scheduler:
        raise CLIError("--backend dask needs --scheduler tcp://HOST:PORT")
    if args.scheduler and args.backend != "dask":
        raise CLIError("--scheduler goes with --backend dask")
    cfg = ComputeConfig(
        args.space,
        args.dataset,
        data_root=args.data_root,
        epochs=args.epochs,
        fidelities=args.fidelities,
        weights=args.weights,
        weights_hp=args.weights_hp,
        device=args.device,
        seed=args.seed,
        batch_size=args.batch_size,
        C=args.C,
        N=args.N,
        threads=args.threads,
        pack=args.pack,
        train_per_class=args.per_class,
        copy_functional=args.copy_functional,
    )
    logger = logging.getLogger("calnas.compute")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=[logger]):  # log lines print above the progress bar
        report = compute(
            cfg,
            args.archs,
            bench=args.bench,
            jobs=args.jobs,
            backend=args.backend,
            scheduler=args.scheduler,
            limit=args.limit,
            force=args.force,
            flush_every=args.flush_every,
            quiet=args.quiet,
        )
    emit(report.as_dict(), args.format)
    if report.failures:
        raise CLIError(f"{len(report.failures)} networks failed; first: {report.failures[0]}")
