"""Commands of the bench layer: ``calnas space ...`` and ``calnas bench ...``.

``calnas bench`` works on a benchmark directory (``--bench PATH``, default ``$CALNAS_HOME``, else
``~/.calnas``): ``info``, ``import {official,robustness,nats,nb201} [PATH]``, ``query``,
``export``, ``validate`` and ``sql``. Errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from typing import Any

from bench.arch.datasets import DATASETS
from bench.cliutil import CLIError, add_format, emit
from bench.compute import cli as compute_cli

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount this layer's commands on the top-level ``calnas`` parser."""
    space = subparsers.add_parser("space", help="the NATS-Bench search spaces")
    cmds = space.add_subparsers(dest="space_command", required=True, metavar="COMMAND")

    info = cmds.add_parser("info", help="size, isomorphism classes and choices of a space")
    info.add_argument("--space", choices=("tss", "sss"), default="tss")
    add_format(info)
    info.set_defaults(func=_space_info)

    show = cmds.add_parser("show", help="one architecture: index, string, class, encoding, cost")
    show.add_argument("--space", choices=("tss", "sss"), default="tss")
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, help="NATS-Bench index")
    which.add_argument("--arch", help="arch string")
    show.add_argument("--dataset", choices=tuple(DATASETS), default="cifar10")
    add_format(show)
    show.set_defaults(func=_space_show)

    _register_bench(subparsers)


def _space_info(args: argparse.Namespace) -> None:
    from bench.arch.spaces import get_space

    emit(get_space(args.space).info(), args.format)


def _space_show(args: argparse.Namespace) -> None:
    from bench.arch.costs import cost
    from bench.arch.spaces import get_space

    space = get_space(args.space)
    try:
        index, arch = space.resolve(args.arch if args.arch is not None else args.index)
    except ValueError as err:
        raise CLIError(str(err)) from None
    kind = "ops" if space.name == "tss" else "channels"
    emit(
        {
            "index": index,
            "arch": arch,
            "unique_index": space.representative(index),
            "encoding": space.encode(index, kind).tolist(),
            **cost(space.name, index, args.dataset),
        },
        args.format,
    )


# -- calnas bench ----------------------------------------------------------------------------------
def _register_bench(subparsers: argparse._SubParsersAction) -> None:
    from bench.table.schema import DATASETS as STORE_DATASETS
    from bench.table.schema import SOURCE_PRIORITY

    bench = subparsers.add_parser("bench", help="the benchmark table: import, query, export, sql")
    cmds = bench.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--bench", metavar="PATH", help="benchmark directory ($CALNAS_HOME, else ~/.calnas)"
        )

    def selection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--space", choices=("tss", "sss"), required=True)
        p.add_argument("--dataset", choices=STORE_DATASETS, required=True)
        p.add_argument("--metrics", help="comma-separated columns (default: all held)")
        p.add_argument("--source", choices=SOURCE_PRIORITY, help="one source (default: priority)")
        p.add_argument("--hp", type=int, help="training schedule length (default: the longest)")
        p.add_argument("--epoch", type=int, help="epoch (default: the end of the schedule)")

    info = cmds.add_parser("info", help="tables of the benchmark: space, dataset, source, rows")
    common(info)
    add_format(info)
    info.set_defaults(func=_bench_info)

    imp = cmds.add_parser("import", help="import published data (all-or-nothing)")
    common(imp)
    imp.add_argument("kind", choices=("official", "robustness", "nats", "nb201"))
    imp.add_argument(
        "path", nargs="?", help="file or directory (nb201: default the installed package's)"
    )
    imp.add_argument("--final-only", action="store_true", help="nats: keep only final epochs")
    imp.add_argument("--require-all", action="store_true", help="official: all six files")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    add_format(imp, default="table")
    imp.set_defaults(func=_bench_import)

    query = cmds.add_parser("query", help="values of one architecture")
    common(query)
    selection(query)
    which = query.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, help="NATS index")
    which.add_argument("--arch", help="arch string")
    query.add_argument("--seed", type=int, help="one seed (default: mean over seeds)")
    add_format(query, "json", "table", "csv", default="json")
    query.set_defaults(func=_bench_query)

    export = cmds.add_parser("export", help="one row per architecture to CSV, parquet or JSON")
    common(export)
    selection(export)
    export.add_argument("--output", "-o", help="file (.csv, .parquet, .json); default stdout CSV")
    export.set_defaults(func=_bench_export)

    validate = cmds.add_parser("validate", help="data-quality report of every table")
    common(validate)
    validate.add_argument(
        "--repair",
        action="store_true",
        help="first give computed TSS rows their own params/FLOPs (copies made by older "
        "versions carry their representative's); measured values are not touched",
    )
    add_format(validate)
    validate.set_defaults(func=_bench_validate)

    sql = cmds.add_parser("sql", help="run SQL (DuckDB) over the tables")
    common(sql)
    sql.add_argument("query", help='e.g. "SELECT count(*) FROM tss_cifar10_official"')
    add_format(sql, "json", "table", "csv", default="table")
    sql.set_defaults(func=_bench_sql)
    compute_cli.register(cmds)


def _open(args: argparse.Namespace):
    from bench.table.benchmark import Benchmark

    return Benchmark.open(args.bench)


def _store(args: argparse.Namespace):
    from bench.table.store import Store

    return Store(args.bench)


def _metrics(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise CLIError("--metrics needs at least one column name")
    return names


def _bench_info(args: argparse.Namespace) -> None:
    tables = _open(args).info()
    keys = ("space", "dataset", "source", "rows", "columns")
    if args.format == "json":  # one entry per table
        emit([{k: t[k] for k in (*keys, "reliability")} for t in tables], "json")
        return
    if tables:
        emit([{k: t[k] for k in (*keys, "embedded")} for t in tables], "table")
    else:
        print(f"no tables yet in {_store(args).root} (calnas bench import ...)")
    from bench.arch.functional import function_summary

    print(function_summary())
    for t in tables:
        if t["reliability"]:
            print(_reliability_text(t))


def _reliability_text(table: dict) -> str:
    """A table's recorded seed reliability: Kendall tau-b between independent trainings."""
    from bench.analysis.reliability_text import format_recorded_reliability

    return (
        f"\nSeed reliability of {table['space']}/{table['dataset']} ({table['source']}), "
        "Kendall tau-b between independent trainings:\n"
        + format_recorded_reliability(table["reliability"])
    )


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def bar(items, total, desc):
        return tqdm(items, total=total, desc=desc, unit="arch", file=sys.stderr)

    return bar


def _bench_import(args: argparse.Namespace) -> None:
    from bench import importers

    store = _store(args)
    if args.kind != "nb201" and args.path is None:
        raise CLIError(f"calnas bench import {args.kind} needs a PATH")
    if args.kind == "official":
        report = importers.import_official(store, args.path, require_all=args.require_all)
    elif args.kind == "robustness":
        report = importers.import_robustness(store, args.path)
    elif args.kind == "nats":
        report = importers.import_nats(
            store, args.path, final_only=args.final_only, progress=_progress(args.quiet)
        )
    else:
        report = importers.import_nb201(store, args.path)
    if args.format == "json":
        emit(report.as_dict(), "json")
    else:
        print(report)


def _bench_query(args: argparse.Namespace) -> None:
    from bench.arch.spaces import get_space

    bench = _open(args)
    target: Any = args.arch if args.arch is not None else args.index
    get_space(args.space).resolve(target)  # bad index or arch: one-line error
    row = bench.query(
        args.space,
        args.dataset,
        target,
        _metrics(args.metrics),
        args.source,
        args.epoch,
        hp=args.hp,
        seed=args.seed,
    )
    if args.format == "json":
        emit(row, "json")
    elif args.format == "table":
        flat = {k: v for k, v in row.items() if k != "values"}
        flat.update(row["values"])
        emit(flat, "table")
    else:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["index", "arch", "source", "hp", "epoch", *row["values"]])
        out.writerow(
            [
                row["index"],
                row["arch"],
                row["source"],
                row["hp"],
                row["epoch"],
                *("" if v is None else repr(v) for v in row["values"].values()),
            ]
        )


def _bench_export(args: argparse.Namespace) -> None:
    from bench.fileio import atomic_path, check_output_file

    if args.output is not None:  # before the query: a bad path fails at once, nothing written
        out = check_output_file(args.output, "--output")
        suffix = out.suffix.lower()
        if suffix not in (".csv", ".parquet", ".json"):
            raise CLIError(
                f"--output {out}: unknown format {suffix!r}; use .csv, .parquet or .json"
            )
    bench = _open(args)
    frame = bench.frame(
        args.space,
        args.dataset,
        _metrics(args.metrics),
        source=args.source,
        epoch=args.epoch,
        hp=args.hp,
    )
    if args.output is None:
        frame.to_csv(sys.stdout, index=False)
        return
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(tmp, index=False, compression="zstd")
        else:
            tmp.write_text(frame.to_json(orient="records", indent=1))
    print(f"{len(frame)} rows written to {out}", file=sys.stderr)


def _bench_validate(args: argparse.Namespace) -> None:
    from bench.table.validation import validate_tables

    if args.repair:
        from bench.table.costs import repair_costs

        for fixed in repair_costs(_store(args)):
            if fixed["stale"]:
                # stderr: stdout stays the report (JSON with --format json)
                print(f"repaired {fixed['table']}: {fixed['stale']} of {fixed['rows']} rows given "
                      "their own params/FLOPs", file=sys.stderr)  # fmt: skip
    report = validate_tables(_open(args))
    if args.format == "json":
        emit(report, "json")
    else:
        if not report:
            print(f"no tables in {_store(args).root}")
        for entry in report:
            status = "PROBLEMS" if entry["problems"] else "ok"
            print(
                f"{entry['table']}: {entry['rows']} rows, {entry['configs']} configs, "
                f"{entry['copied']} copied: {status}"
            )
            for p in entry["problems"]:
                print(f"  problem: {p}")
            for w in entry["warnings"]:
                print(f"  warning: {w}")
    bad = sum(len(e["problems"]) for e in report)
    if bad:
        raise CLIError(f"validation found {bad} problem(s)")


def _view_name(space: str, dataset: str, source: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{space}_{dataset}_{source}".lower())


def _read_only_duckdb(duckdb: Any, tables: list[Any]) -> Any:
    """An in-memory DuckDB with a view per table and ``bench`` over all, that cannot touch files.

    The tables are registered as Arrow datasets (read through pyarrow, so DuckDB itself never
    opens a file; filters and projections are still pushed down), then external access is
    disabled (no COPY TO, ATTACH, EXPORT, INSTALL/LOAD, read_csv/read_text/glob of any path),
    spilling to disk is turned off, and the configuration is locked so a query cannot undo it.
    (DuckDB's ``allowed_paths`` would let a query overwrite the very files it may read.)
    """
    import pyarrow.dataset as pads

    con = duckdb.connect(":memory:")
    selects = []
    for i, t in enumerate(tables):
        raw = f"_table{i}"
        con.register(raw, pads.dataset(str(t.path), format="parquet"))
        select = f"SELECT * FROM {raw}"
        if t.embedded:  # one embedded file holds several tables
            space, dataset = (str(v).replace("'", "''") for v in (t.space, t.dataset))
            select += f" WHERE space = '{space}' AND dataset = '{dataset}'"
        con.execute(f"CREATE VIEW {_view_name(t.space, t.dataset, t.source)} AS {select}")
        selects.append(select)
    if tables:
        union = " UNION ALL BY NAME ".join(f"({s})" for s in selects)
        con.execute(f"CREATE VIEW bench AS {union}")
    for setting in (
        "SET temp_directory = ''",  # no spill files
        "SET enable_external_access = false",
        "SET python_enable_replacements = false",  # no Python variables as tables either
        "SET lock_configuration = true",
    ):
        con.execute(setting)
    return con


def _bench_sql(args: argparse.Namespace) -> None:
    from bench.extras import require

    if not args.query.strip():
        raise CLIError('the SQL query is empty; e.g. calnas bench sql "SELECT count(*) FROM bench"')
    duckdb = require("duckdb", "sql", "calnas bench sql")
    tables = list(_open(args).tables().values())
    views = ["bench", *(_view_name(t.space, t.dataset, t.source) for t in tables)]
    con = _read_only_duckdb(duckdb, tables)
    try:
        result = con.execute(args.query)
    except duckdb.Error as err:
        msg = " ".join(str(err).split())
        raise CLIError(
            f"SQL error: {msg} (views: {', '.join(views) if tables else 'none'})"
        ) from None
    if result is None or result.description is None:
        return
    cols = [d[0] for d in result.description]
    rows = result.fetchall()
    records = [dict(zip(cols, r, strict=True)) for r in rows]
    if args.format == "json":
        emit(records, "json")
    elif args.format == "csv":
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(cols)
        out.writerows(rows)
        sys.stdout.write(buf.getvalue())
    elif records:
        emit(records, "table")
    else:
        print("(no rows)")
