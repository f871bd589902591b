"""The ``calnas`` console command: mounts every layer's subcommands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import bench.analysis.cli
import bench.cli
import surrogate.cli
from bench import __version__
from bench.cliutil import ArgumentParser, CLIError, add_format, emit
from bench.errors import CalnasError

__all__ = ["main", "build_parser", "register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount ``calnas search run`` and ``calnas search compare``."""
    search = subparsers.add_parser("search", help="calibration-aware architecture search")
    cmds = search.add_subparsers(dest="search_command", required=True, metavar="COMMAND")

    run = cmds.add_parser(
        "run",
        help="search one space/dataset; print the front, the HCS pick and where the plots are",
    )
    _common(run)
    run.add_argument("--strategy", default=None,
                     help="random, tpe, nsga2, nsga3, gp, rea, pls, mpls, brute "
                     "(name:key=value,... for parameters; default: the measured best)")  # fmt: skip
    budget = run.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, help="budget: distinct architectures (default 100)")
    budget.add_argument("--budget-seconds", type=float, help="budget: simulated training seconds")
    run.add_argument("--backend", choices=("table", "surrogate", "compute"), default="table")
    run.add_argument(
        "--epochs",
        type=int,
        default=12,
        help="compute backend: training schedule in epochs (default 12, NATS's proxy)",
    )
    run.add_argument("--batch-size", type=int, default=256, help="compute backend: batch size")
    run.add_argument("--data-root", help="compute backend: dataset folder (digits needs none)")
    run.add_argument("--device", default="cpu", help="compute backend: cpu, cuda or cuda:K")
    run.add_argument("--storage", help="journal file path or database URL (default: in memory)")
    run.add_argument("--study-name", help="study to create or resume (default: from the options)")
    run.add_argument("--workers", type=int, default=1, help="processes sharing the study")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar (none either when stderr is not a TTY)")  # fmt: skip
    run.add_argument("--out", help="folder for report.json, front.png, hv.png "
                     "(default: ./calnas-search/<space>-<dataset>-<strategy>-s<seed>)")  # fmt: skip
    add_format(run)
    run.set_defaults(func=_run)

    cmp_ = cmds.add_parser(
        "compare", help="several strategies over many seeds: normalized HV at fixed budgets"
    )
    _common(cmp_)
    cmp_.add_argument("--strategies", default="random,tpe,nsga2,rea",
                      help="comma-separated strategy names")  # fmt: skip
    cmp_.add_argument("--runs", type=int, default=20, help="seeds per strategy")
    cmp_.add_argument("--budgets", default="25,50,100,200",
                      help="query budgets at which HV is reported")  # fmt: skip
    cmp_.add_argument("--target", type=float, default=0.95, help="normalized HV to reach")
    cmp_.add_argument("--seed", type=int, default=0, help="first seed")
    cmp_.add_argument("--quiet", action="store_true",
                      help="no progress bar (none either when stderr is not a TTY)")  # fmt: skip
    add_format(cmp_)
    cmp_.set_defaults(func=_compare)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", choices=("tss", "sss"), default="tss")
    p.add_argument("--dataset", help="dataset of the table (default: the demo table's main one)")
    p.add_argument("--objectives", default="acc,pre_ECE_15",
                   help="comma-separated columns, name[:max|:min], or hcs (post_* metrics, "
                   "e.g. post_ECE_15, did not repeat between training seeds: searching them "
                   "chases noise)")  # fmt: skip
    p.add_argument("--constraints", help="e.g. pre_ECE_15<=0.05,params_m<=1")
    p.add_argument("--source", help="read only this source of the table")
    p.add_argument("--noise", choices=("seed",), default=None,
                   help="seed: answer each query with one training seed's row, drawn per "
                   "architecture (needs several seeds per architecture; scored on the "
                   "mean)")  # fmt: skip
    p.add_argument("--merge-functional", action="store_true",
                   help="treat TSS classes that compute the same function as one architecture "
                   "(4,930 functions among 6,466 classes; the smallest index answers)")  # fmt: skip
    p.add_argument("--prior", metavar="DATASET",
                   help="warm start: first query the best architectures of DATASET's table "
                   "(same space and objectives, same benchmark), then search as usual; for "
                   "datasets whose fronts carry over (accuracy does far more than "
                   "calibration)")  # fmt: skip
    p.add_argument("--bench", help="benchmark store path (default $CALNAS_HOME or ~/.calnas)")


def _default_dataset(args: argparse.Namespace) -> None:
    """Fill in ``--dataset`` when it was not given: the embedded demo's main dataset."""
    if args.dataset is None:
        from bench.table.embedded import default_dataset

        args.dataset = default_dataset(args.space)


def _open(args: argparse.Namespace):
    from bench.table.benchmark import Benchmark
    from bench.table.embedded import DEMO_DATASETS

    bm = Benchmark.open(args.bench)
    try:
        sources = bm.sources(args.space, args.dataset)
    except ValueError as err:
        raise CLIError(str(err)) from None
    if not sources:
        if args.dataset in DEMO_DATASETS:
            raise CLIError(
                f"the demo benchmark ({args.space}/{args.dataset}) is not installed: "
                "bench/data/*.parquet is absent; pass --bench PATH --dataset NAME to search "
                "another table"
            )
        raise CLIError(
            f"the benchmark at {bm.store.root} holds nothing for {args.space}/{args.dataset}; "
            "import data first (calnas bench import ...) or pass --bench PATH"
        )
    return bm


def _run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from bench.fileio import check_output_dir
    from search.config import SearchConfig
    from search.report import INDICATOR_NOTES, describe_table, summary_rows, write_report
    from search.runner import run_search
    from search.samplers import DEFAULT_STRATEGY

    _default_dataset(args)
    strategy = args.strategy or DEFAULT_STRATEGY
    name = strategy.split(":")[0]
    out = check_output_dir(  # before the search: a bad --out fails at once, nothing written
        args.out or Path("calnas-search") / f"{args.space}-{args.dataset}-{name}-s{args.seed}",
        "--out",
    )
    compute = None
    if args.backend == "compute":
        from bench.table.benchmark import Benchmark

        bm = Benchmark.open(args.bench)  # an empty store is fine: the search fills it
        compute = {"epochs": args.epochs, "batch_size": args.batch_size,
                   "data_root": args.data_root, "device": args.device}  # fmt: skip
    else:
        bm = _open(args)
    trials = args.trials
    if trials is None and args.budget_seconds is None and not strategy.startswith("brute"):
        trials = 100
    config = SearchConfig(
        args.space,
        args.dataset,
        args.objectives,
        strategy,
        trials=trials,
        budget_seconds=args.budget_seconds,
        backend=args.backend,
        storage=args.storage,
        study_name=args.study_name,
        workers=args.workers,
        seed=args.seed,
        bench=bm,
        constraints=args.constraints,
        source=args.source,
        compute=compute,
        progress=not args.quiet and sys.stderr.isatty(),
        noise=args.noise,
        merge_functional=args.merge_functional,
        prior=args.prior,
    )
    result = run_search(config)
    write_report(result, out)
    rep = result.report
    if args.format == "json":
        emit({k: v for k, v in rep.items() if k != "hv_history"}, "json")
        return
    print(describe_table(rep))
    print(
        f"{rep['space']}/{rep['dataset']} {rep['strategy']} on {rep['backend']}: "
        f"{rep['queries']} of {rep['distinct_architectures']} distinct architectures queried "
        f"({rep['trials']} trials), {rep['simulated_seconds']:.0f} simulated s"
    )
    print(f"stopped: {_stopped(rep)}")
    print(
        f"normalized HV {rep['normalized_hv']:.4f}, IGD+ {rep['igd_plus']:.4f} "
        f"(true front: {rep['true_front_size']} archs)"
    )
    for note in INDICATOR_NOTES:
        print(f"  {note}")
    print(f"found front ({len(rep['pareto_front'])}):")
    emit(summary_rows(rep), "table")
    pick = rep.get("hcs_pick")
    if pick:
        print(f"HCS pick: index {pick['index']} HCS {pick['hcs']:.4f} {pick['arch']}")
    print(f"report: {rep['plots'] and out / 'report.json'}  plots: {out / 'front.png'}, "
          f"{out / 'hv.png'}")  # fmt: skip


def _stopped(rep: dict) -> str:
    """The report's stop reason with what it means."""
    why = {
        "trials": "the budget of distinct architectures is spent",
        "budget": "the simulated-time budget is spent",
        "space exhausted": "every distinct architecture it can answer was queried",
        "max repeats": f"{rep.get('max_repeats')} trials in a row found nothing new",
    }.get(rep["stopped"])
    return f"{rep['stopped']} ({why})" if why else str(rep["stopped"])


def _compare(args: argparse.Namespace) -> None:
    from search.compare import compare_strategies
    from search.samplers import split_strategies

    _default_dataset(args)
    bm = _open(args)
    try:
        budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        raise CLIError(
            f"--budgets must be comma-separated integers, got {args.budgets!r}"
        ) from None
    rows = compare_strategies(
        args.space,
        args.dataset,
        args.objectives,
        split_strategies(args.strategies),
        runs=args.runs,
        budgets=budgets,
        target=args.target,
        seed=args.seed,
        bench=bm,
        constraints=args.constraints,
        source=args.source,
        progress=not args.quiet and sys.stderr.isatty(),
        noise=args.noise,
        merge_functional=args.merge_functional,
        prior=args.prior,
    )
    emit(rows, args.format)


def build_parser() -> ArgumentParser:
    """The top-level parser with the commands of all three layers."""
    parser = ArgumentParser(prog="calnas", description="Calibration-aware NAS over NATS-Bench.")
    parser.add_argument("--version", action="version", version=f"calnas {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subparsers._parser_class = ArgumentParser  # subcommands report errors on one line too
    for layer in (bench.cli, surrogate.cli, sys.modules[__name__], bench.analysis.cli):
        layer.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``calnas``; a bad request prints one line and returns exit status 2.

    A :class:`~bench.errors.CalnasError` (bad input or data) and an ``OSError`` (the system
    refused: a missing path, permissions, a full disk) are the user's to fix and print as one
    line; any other exception is a bug in calnas and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    names = _option_names(parser)
    refused = _empty_option(names, args) or _expand_home(names, args)
    if refused:
        print(f"calnas: error: {_one_line(refused)}", file=sys.stderr)
        return 2
    # warnings of the search layer (a torn journal repaired) print as one line each
    warn = logging.StreamHandler(sys.stderr)
    warn.setFormatter(logging.Formatter("calnas: warning: %(message)s"))
    logger = logging.getLogger("calnas.search")
    logger.addHandler(warn)
    try:
        args.func(args)
    except BrokenPipeError:
        # the reader went away (calnas ... | head): not an error; stdout is silenced so that
        # the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CalnasError, OSError) as err:
        print(f"calnas: error: {_one_line(err)}", file=sys.stderr)
        return 2
    finally:
        logger.removeHandler(warn)
    return 0


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """dest -> how the user wrote it (the long option, or the positional's name in capitals)."""
    names: dict[str, str] = {}
    stack = [parser]
    while stack:
        p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif action.dest not in names:
                names[action.dest] = max(action.option_strings, key=len, default=None) or (
                    action.dest.upper()
                )
    return names


def _empty_option(names: dict[str, str], args: argparse.Namespace) -> str | None:
    """Why an option or argument given as an empty string is refused (None if none is).

    An empty ``--bench`` would be the working directory, an empty ``--strategy`` or
    ``--study-name`` the default: an empty value never silently means something else.
    (``calnas serve`` checks its own options.)
    """
    if getattr(args, "command", None) == "serve":
        return None
    for dest, value in vars(args).items():
        if isinstance(value, str) and not value.strip() and dest in names:
            return f"{names[dest]} is empty: give a value, or leave the option out for its default"
    return None


def _expand_home(names: dict[str, str], args: argparse.Namespace) -> str | None:
    """Expand ``~`` and ``~user`` in path values once, here; refuse a ``~user`` with no home.

    (``Path.expanduser`` raises a RuntimeError deep inside a command for an unknown user.)
    """
    for dest, value in vars(args).items():
        if isinstance(value, str) and value.startswith("~") and dest != "query":
            expanded = os.path.expanduser(value)
            if expanded.startswith("~"):
                user = value[1:].split(os.sep, 1)[0]
                return (
                    f"{names.get(dest, dest)} {value}: there is no home folder for user "
                    f"{user!r} to expand it with"
                )
            setattr(args, dest, expanded)
    return None


def _one_line(err: BaseException | str) -> str:
    """The error's message on one line (some libraries' messages span several), printable on
    any stream (a path or value that is not valid UTF-8 shows as backslash escapes)."""
    text = " ".join(str(err).split())
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
