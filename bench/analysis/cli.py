"""``calnas analyze``: the study's research questions, seed reliability and Kendall matrices.

Subcommands: ``kendall`` (the tau-b matrix of any columns over all configs or the top K by a
column), ``rq1`` ... ``rq7`` (each question as the study posed it), ``reliability`` (does a
ranking survive a change of seed) and ``all`` (every question: JSON files, PNG figures and one
self-contained ``report.html``). Importing this module imports nothing heavy: the work is done
in the handlers.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="calnas")
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["analyze", "rq2", "--as-published"]).as_published
    True
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cliutil import CLIError, add_format

if TYPE_CHECKING:
    from bench.analysis.questions import Context
    from bench.analysis.result import Result

__all__ = ["register"]

_QUESTIONS = ("rq1", "rq2", "rq3", "rq4", "rq5", "rq6", "rq7", "reliability")
_HELP = {
    "rq1": "(i) does calibration carry over across datasets? (21x21 tau, Fig. 1 and all)",
    "rq2": "(ii) can robustness stand in for calibration? (top-K by accuracy)",
    "rq3": "(iii) how reliable are calibration metrics? (7x7 tau per dataset)",
    "rq4": "(iv) does temperature scaling help every model equally? (18x18 tau)",
    "rq5": "(v) how does calibration relate to accuracy? (scatter, tau)",
    "rq6": "(vi) what does the bin count do to ECE? (boxplots)",
    "rq7": "(vii) which architecture choices help calibration? (size, width, cells, HCS)",
    "reliability": "does a ranking survive a change of seed? (test-retest tau, ICC)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount ``calnas analyze`` and its subcommands on the top-level parser."""
    analyze = subparsers.add_parser(
        "analyze", help="the calibration study's research questions on any table calnas holds"
    )
    cmds = analyze.add_subparsers(dest="analyze_command", required=True, metavar="COMMAND")

    k = cmds.add_parser("kendall", help="Kendall tau-b matrix of columns over a population")
    k.add_argument("--space", choices=("tss", "sss"), default="tss")
    k.add_argument("--dataset", help="dataset (default: the embedded demo table's main one)")
    k.add_argument("--columns", required=True, help="comma-separated columns")
    k.add_argument("--by", help="rank by this column for a top-K population")
    k.add_argument("--top", type=int, help="keep the K best by --by")
    k.add_argument(
        "--order",
        choices=("desc", "asc"),
        default="desc",
        help="desc: the K largest (what 'top' means, default); asc: the K smallest",
    )
    k.add_argument("--epoch", type=int, help="epoch (default: the schedule's end)")
    k.add_argument("--hp", type=int, help="training-schedule length (default: the longest)")
    _common(k, as_published=False)
    add_format(k, "json", "table", "csv")
    k.set_defaults(func=_kendall)

    for name in _QUESTIONS:
        q = cmds.add_parser(name, help=_HELP[name])
        q.add_argument(
            "--dataset",
            help="dataset of the one-dataset questions (default: the "
            "study's when held, else fashion8 when held, else the first held)",
        )
        q.add_argument("--out", help="also write the JSON and PNG figures into this folder")
        _common(q)
        add_format(q, "json", "table", "csv")
        q.set_defaults(func=_question, question=name)

    a = cmds.add_parser("all", help="every question: report.html, a JSON file each, the PNGs")
    a.add_argument("--out", required=True, help="folder to write into")
    a.add_argument("--dataset", help="dataset of the one-dataset questions")
    _common(a)
    add_format(a)
    a.set_defaults(func=_all)


def _common(p: argparse.ArgumentParser, *, as_published: bool = True) -> None:
    p.add_argument("--bench", help="benchmark store path (default $CALNAS_HOME or ~/.calnas)")
    p.add_argument("--source", help="read only this source (default: all, by priority)")
    p.add_argument(
        "--include-flagged",
        action="store_true",
        help="keep flagged values (the study's silent zeros, estimator breakdowns)",
    )
    p.add_argument(
        "--merge-functional",
        action="store_true",
        help="TSS: one row per function class, leaving out the isomorphism classes that "
        "compute the same function as a smaller one (1,536 of 6,466)",
    )
    if as_published:
        p.add_argument(
            "--as-published",
            action="store_true",
            help="reproduce the study's own choices where calnas corrects them "
            "(bottom-K populations of (ii), flagged values kept)",
        )
        p.add_argument(
            "--target-tau",
            type=float,
            default=None,
            help="tau a mean of seeds should reach (reliability; default 0.8)",
        )


def _context(args: argparse.Namespace) -> Context:
    from bench import Benchmark
    from bench.analysis.questions import Context
    from bench.analysis.reliability import DEFAULT_TARGET_TAU

    target = DEFAULT_TARGET_TAU if args.target_tau is None else args.target_tau
    if not 0 < target < 1:
        raise CLIError(f"--target-tau must lie in (0, 1), got {target}")
    return Context(
        Benchmark.open(args.bench),
        source=args.source,
        as_published=args.as_published,
        include_flagged=args.include_flagged,
        dataset=args.dataset,
        target_tau=target,
        merge_functional=args.merge_functional,
    )


def _question(args: argparse.Namespace) -> None:
    from bench.analysis.report import write_all

    ctx = _context(args)
    if args.out:
        res = write_all(ctx, args.out, questions=[args.question])["results"][args.question]
    else:
        from bench.analysis.questions import run_question

        res = run_question(args.question, ctx)
    _print(res, args.format)
    if args.out:
        print(
            f"written: {Path(args.out) / (args.question + '.json')} and its figures",
            file=sys.stderr,
        )


def _print(res: Result, fmt: str) -> None:
    if fmt == "json":
        json.dump(res.as_dict(), sys.stdout, indent=2, allow_nan=False, default=_default)
        sys.stdout.write("\n")
    elif fmt == "csv":
        sys.stdout.write(res.to_csv())
    else:
        sys.stdout.write(res.to_text())


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


#: findings per question that ``calnas analyze all`` prints (the JSON files hold every one)
SHOWN = 3


def _all(args: argparse.Namespace) -> None:
    from bench.analysis.report import write_all

    got = write_all(_context(args), args.out)
    summary = {
        "report": str(got["report"]),
        "files": len(got["files"]),
        "as_published": args.as_published,
        "seconds": {k: round(v, 2) for k, v in got["seconds"].items()},
        "findings": {k: r.findings for k, r in got["results"].items()},
    }
    if args.format == "json":
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if args.as_published:
        from bench.analysis.result import AS_PUBLISHED_NOTE

        print(AS_PUBLISHED_NOTE)
    for name, res in got["results"].items():
        print(f"{name}: {res.title} ({got['seconds'][name]:.1f} s)")
        for f in res.findings[:SHOWN]:
            print(f"  * {f}")
        if len(res.findings) > SHOWN:  # the printout is a summary; say what it leaves out
            more = len(res.findings) - SHOWN
            print(f"  ({more} more finding{'s' if more > 1 else ''}: {name}.json, report.html)")
    print(f"report: {got['report']} ({len(got['files'])} files in {args.out})")


def _kendall(args: argparse.Namespace) -> None:
    import csv

    from bench import Benchmark
    from bench.analysis.data import load
    from bench.analysis.kendall import kendall_matrix, population

    columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    if len(columns) < 2:
        raise CLIError("--columns needs at least two comma-separated columns")
    if (args.by is None) != (args.top is None):
        raise CLIError("a top-K population needs both --by and --top")
    wanted = columns + ([args.by] if args.by and args.by not in columns else [])
    if args.dataset is None:
        from bench.table.embedded import default_dataset

        args.dataset = default_dataset(args.space)
    got = load(
        Benchmark.open(args.bench),
        args.space,
        args.dataset,
        wanted,
        source=args.source,
        include_flagged=args.include_flagged,
        hp=args.hp,
        epoch=args.epoch,
        merge_functional=args.merge_functional,
    )
    if args.by in got.missing:
        raise CLIError(f"cannot rank by {args.by}: {args.space}/{args.dataset} has no such column")
    cols = [c for c in columns if c not in got.missing]
    if len(cols) < 2:
        raise CLIError(
            f"{args.space}/{args.dataset} holds {len(cols)} of the columns asked for "
            f"({', '.join(cols) or 'none'}; it lacks {', '.join(got.missing)}): a tau needs two"
        )
    frame = population(got.frame, args.by, args.top, args.order)
    km = kendall_matrix(frame[cols])
    out = km.as_dict()
    out["n"] = len(frame)
    out["population"] = {"by": args.by, "top": args.top, "order": args.order if args.by else None}
    out.update(
        {
            "space": args.space,
            "dataset": args.dataset,
            "source": args.source,
            "hp": got.hp,
            "epoch": got.epoch,
            "missing_columns": got.missing,
            "flagged_left_out": got.left_out,
            "isomorphic_copies_left_out": got.copies_left_out,
            **(
                {"functional_duplicates_left_out": got.functional_left_out}
                if args.merge_functional
                else {}
            ),
        }
    )
    if args.format == "json":
        json.dump(out, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return
    if args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["", *cols])
        for c, row in zip(cols, out["tau"], strict=True):
            w.writerow([c, *["" if v is None else v for v in row]])
        return
    from bench.analysis.result import fmt

    who = (
        "all configs"
        if not args.by
        else (f"the {args.top} {'largest' if args.order == 'desc' else 'smallest'} by {args.by}")
    )
    print(f"Kendall tau-b, {args.space}/{args.dataset}, {who} (n={len(frame)})")
    notes = [f"lacks {', '.join(got.missing)}"] if got.missing else []
    if got.left_out:
        notes.append(f"flagged values left out: {got.left_out}")
    if args.merge_functional:
        notes.append(f"one row per function class: {got.functional_left_out} rows left out")
    for note in notes:
        print(f"  note: {note}")
    width = max(len(c) for c in cols)
    print(" " * width + "  " + "  ".join(c.rjust(max(6, len(c))) for c in cols))
    for c, row in zip(cols, out["tau"], strict=True):
        cells = [fmt(v).rjust(max(6, len(h))) for v, h in zip(row, cols, strict=True)]
        print(c.rjust(width) + "  " + "  ".join(cells))
