"""The bad-input corpus of the ``calnas`` command line (issue #14).

Every case runs ``calnas`` in this process and asserts what a careless or hostile user must get:
exit status 2, exactly one line on stderr that names the problem, and nothing written (the temp
folder, which is also the working directory, is the same before and after). On top of the fixed
cases, hypothesis generates argument lists: the status is 0 or 2, never a traceback, and a
refusal is one line. ``serve`` is covered by the server's own tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search.cli import main

#: bad inputs tried by this file's fixed cases (the parametrized lists below add to it)
CASES: list[str] = []


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folders``: (size, mtime in ns), -1 size for a folder."""
    seen = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            st = path.lstat()
            size = -1 if path.is_dir() else st.st_size
            seen[str(path)] = (size, st.st_mtime_ns if not path.is_dir() else 0)
    return seen


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A temp folder that is also the working directory (so stray relative writes are seen)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder\n")
    return tmp_path


def refused(capsys, work: Path, argv: list[str], *names: str, watch: tuple[Path, ...] = ()):
    """Run ``calnas argv``: exit 2, one stderr line holding every one of ``names``, no writes."""
    before = snapshot(work, *watch)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code
    out = capsys.readouterr()
    assert code == 2, (code, out.err)
    lines = out.err.splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("calnas") and ": error: " in lines[0], lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    assert snapshot(work, *watch) == before, "something was written"
    return lines[0]


# -- bench sql: read-only --------------------------------------------------------------------------
def _sql_writes(work: Path) -> list[tuple[str, str]]:
    from bench.table.embedded import DEMO_DIR

    demo = sorted(DEMO_DIR.glob("*.parquet"))[0]
    return [
        (f"COPY (SELECT 1 AS a) TO '{work}/out.csv'", "disabled"),
        (f"COPY (SELECT * FROM bench) TO '{demo}' (FORMAT parquet, USE_TMP_FILE 0)", "disabled"),
        (f"ATTACH '{work}/x.db' AS x", "disabled"),
        (f"EXPORT DATABASE '{work}/exported'", "disabled"),
        ("INSTALL httpfs", "SQL error"),
        ("LOAD httpfs", "SQL error"),
        (f"SELECT * FROM read_csv('{work}/a_file')", "disabled"),
        ("SELECT * FROM read_text('/etc/hostname')", "disabled"),
        ("SELECT * FROM glob('/*')", "disabled"),
        ("SET enable_external_access = true", "locked"),
        (f"SET temp_directory = '{work}/spill'", "locked"),
        ("SELECT * FROM work", "SQL error"),  # a Python variable is not a table
    ]


def test_sql_cannot_write_attach_or_read_files(capsys, work):
    from bench.table.embedded import DEMO_DIR

    bench = work / "b"
    watch = (DEMO_DIR,)
    for query, name in _sql_writes(work):
        CASES.append(f"bench sql {query}")
        refused(capsys, work, ["bench", "sql", "--bench", bench, query], name, watch=watch)
    # still a working SQL interface over the tables
    assert main(["bench", "sql", "--bench", str(bench), "SELECT count(*) FROM bench"]) == 0


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_sql_empty_query(capsys, work, query):
    CASES.append(f"bench sql {query!r}")
    refused(capsys, work, ["bench", "sql", "--bench", work / "b", query], "empty")


# -- empty values never mean something else ----------------------------------------------------
FIT = ["--space", "tss", "--dataset", "digits", "--targets", "acc"]
EMPTY = [
    (["bench", "info", "--bench", ""], "--bench"),
    (["bench", "validate", "--bench", " "], "--bench"),
    (
        ["bench", "query", "--bench", "", "--space", "tss", "--dataset", "digits", "--index", "0"],
        "--bench",
    ),
    (["bench", "export", "--space", "tss", "--dataset", "digits", "-o", ""], "--output"),
    (["bench", "import", "official", ""], "PATH"),
    (
        [
            "bench",
            "compute",
            "--bench",
            "",
            "--space",
            "tss",
            "--dataset",
            "digits",
            "--archs",
            "0",
        ],
        "--bench",
    ),
    (["bench", "compute", "--space", "tss", "--dataset", "digits", "--archs", ""], "--archs"),
    (
        ["bench", "compute", "--space", "tss", "--dataset", "cifar10", "--data-root", ""],
        "--data-root",
    ),
    (["search", "run", "--bench", "", "--trials", "3"], "--bench"),
    (["search", "run", "--strategy", "", "--trials", "3"], "--strategy"),
    (["search", "run", "--study-name", "", "--trials", "3"], "--study-name"),
    (["search", "run", "--storage", "", "--trials", "3"], "--storage"),
    (["search", "run", "--out", "", "--trials", "3"], "--out"),
    (["search", "run", "--objectives", "", "--trials", "3"], "--objectives"),
    (["search", "run", "--source", "", "--trials", "3"], "--source"),
    (["search", "compare", "--bench", "", "--runs", "1"], "--bench"),
    (["search", "compare", "--strategies", "", "--runs", "1"], "--strategies"),
    (["surrogate", "fit", *FIT, "--bench", "", "--out", "m"], "--bench"),
    (["surrogate", "fit", *FIT, "--out", ""], "--out"),
    (["surrogate", "predict", "--model", "", "--archs", "0"], "--model"),
]


@pytest.mark.parametrize("argv,name", EMPTY, ids=[" ".join(a[:3]) + f" {n}" for a, n in EMPTY])
def test_empty_values_are_refused(capsys, work, argv, name):
    CASES.append(" ".join(argv))
    refused(capsys, work, argv, name, "empty")


# -- outputs are checked before the work -----------------------------------------------------------
LONG = "n" * 300
EXPORT = ["bench", "export", "--space", "tss", "--dataset", "digits", "-o"]
SEARCH = ["search", "run", "--trials", "3", "--quiet"]
EVAL = ["surrogate", "evaluate", *FIT, "--sizes", "20", "--seeds", "1"]
OUTPUTS = [
    ([*EXPORT, "missing/x.csv"], ("missing", "does not exist")),
    ([*EXPORT, "a_file/x.csv"], ("a_file", "not a folder")),
    ([*EXPORT, f"{LONG}.csv"], ("--output", "bytes")),
    ([*EXPORT, "."], ("--output", "folder")),
    ([*EXPORT, "x.xlsx"], ("--output", "unknown format")),
    ([*SEARCH, "--out", "a_file"], ("--out", "a_file", "not a folder")),
    ([*SEARCH, "--out", "a_file/sub"], ("--out", "a_file", "not a folder")),
    ([*SEARCH, "--out", f"ok/{LONG}"], ("--out", "bytes")),
    ([*SEARCH, "--out", "o", "--storage", "."], ("storage", "folder")),
    ([*SEARCH, "--out", "o", "--storage", "a_file/s.journal"], ("a_file", "not a folder")),
    ([*SEARCH, "--out", "o", "--storage", "missing/s.journal"], ("missing", "does not exist")),
    (["surrogate", "fit", *FIT, "--out", "a_file"], ("--out", "not a folder")),
    (["surrogate", "fit", *FIT, "--out", "a_file/sub"], ("--out", "a_file", "not a folder")),
    ([*EVAL, "--results", "a_file/r.csv"], ("--results", "a_file", "not a folder")),
    ([*EVAL, "--results", "missing/r.csv"], ("--results", "does not exist")),
    ([*EVAL, "--plot", "a_file/p.png"], ("--plot", "a_file", "not a folder")),
    ([*EVAL, "--plot", "."], ("--plot", "folder")),
]


@pytest.mark.parametrize("argv,names", OUTPUTS, ids=[" ".join(a[-3:]) for a, _ in OUTPUTS])
def test_bad_outputs_are_refused_before_the_work(capsys, work, argv, names):
    CASES.append(" ".join(argv))
    refused(capsys, work, [*argv, "--bench", work / "b"], *names)


# -- bench compute: every option checked up front, no claim made -----------------------------------
COMPUTE = ["bench", "compute", "--space", "tss", "--dataset", "digits", "--archs", "0", "--quiet"]
COMPUTE_BAD = [
    (["--seed", "-5"], ("seed", "-5")),
    (["--batch-size", "0"], ("batch_size", "0")),
    (["--batch-size", "-1"], ("batch_size",)),
    (["--device", "cuda:7"], ("cuda:7",)),
    (["--device", "gpu"], ("device", "gpu")),
    (["--threads", "0"], ("threads", "0")),
    (["--N", "-1"], ("N", "-1")),
    (["--C", "-8"], ("C", "-8")),
    (["--C", "0"], ("C", "0")),
    (["--weights", "/nonexistent"], ("weights", "/nonexistent")),
    (["--weights", "a_file"], ("weights", "a_file")),
    (["--weights-hp", "0"], ("weights_hp",)),
    (["--epochs", "0"], ("epochs", "0")),
    (["--epochs", "-3"], ("epochs",)),
    (["--epochs", "2", "--fidelities", "3"], ("fidelities",)),
    (["--fidelities", "0"], ("fidelities",)),
    (["--fidelities", "1,x"], ("fidelities",)),
    (["--jobs", "-1"], ("jobs", "-1")),
    (["--limit", "-2"], ("limit",)),
    (["--flush-every", "-1"], ("flush_every",)),
    (["--flush-every", "nan"], ("flush_every",)),
    (["--archs", "99999"], ("99999",)),
    (["--archs", "-1"], ("-1",)),
    (["--archs", "|bogus~0|"], ("bogus",)),
    (["--archs", "a_file"], ("a_file", "line 1")),
    (["--archs", "binary.txt"], ("binary.txt", "UTF-8")),
    (["--archs", "empty.txt"], ("empty.txt", "no architectures")),
    (["--archs", "lines.txt"], ("lines.txt", "line 3", "15625")),
    (["--backend", "dask"], ("--scheduler",)),
    (["--scheduler", "tcp://127.0.0.1:1"], ("--scheduler",)),
    (["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"], ("127.0.0.1:1", "no dask")),
    (["--backend", "dask", "--scheduler", "tcp://:x"], ("--scheduler",)),
]


@pytest.mark.parametrize("extra,names", COMPUTE_BAD, ids=[" ".join(e) for e, _ in COMPUTE_BAD])
def test_compute_options_are_checked_up_front(capsys, work, extra, names):
    pytest.importorskip("torch")
    (work / "binary.txt").write_bytes(b"0\n\xff\xfe\x00\x01\n")
    (work / "empty.txt").write_text("# nothing\n\n")
    (work / "lines.txt").write_text("0\n1  # ok\n15625\n")
    CASES.append(" ".join(extra))
    refused(capsys, work, [*COMPUTE, "--bench", work / "b", *extra], *names)


def test_compute_never_reports_rows_the_store_refused(capsys, work, monkeypatch):
    # rows the store refuses are failures (exit 2), not "rows 8, failures []" with nothing stored
    pytest.importorskip("torch")
    import bench.compute.job as job

    real = job.run_unit

    def bad_rows(cfg, index):
        rep, frame, error = real(cfg, index)
        frame["acc"] = 7.0  # an accuracy the store refuses
        return rep, frame, error

    monkeypatch.setattr(job, "run_unit", bad_rows)
    CASES.append("compute: rows the store refuses")
    argv = [*COMPUTE, "--bench", str(work / "b"), "--epochs", "1", "--jobs", "0"]
    argv += ["--format", "json"]
    code = main(argv)
    out = capsys.readouterr()
    assert code == 2
    import json

    report = json.loads(out.out)
    assert report["rows"] == 0 and report["networks"] == 0
    assert len(report["failures"]) == 1 and "refused by the store" in report["failures"][0]
    assert out.err.splitlines()[-1].startswith("calnas: error: 1 networks failed")
    from bench.table.benchmark import Benchmark

    assert not Benchmark.open(work / "b", demo=False).sources("tss", "digits")


# -- every subcommand: out-of-range and non-finite numbers, unicode, bad files ---------------------
Q = ["bench", "query", "--space", "tss", "--dataset", "digits"]
S = ["search", "run", "--quiet", "--out", "o"]
S3 = [*S, "--trials", "3"]
CMP = ["search", "compare", "--quiet"]
FITO = ["surrogate", "fit", *FIT, "--out", "m"]
EV = ["surrogate", "evaluate", *FIT]
IMPORT = ["bench", "import"]
VALUES = [
    (["space", "show", "--index", "-1"], ("-1",)),
    (["space", "show", "--index", "99999999999999999999"], ("99999999999999999999",)),
    (["space", "show", "--index", "1e3"], ("--index",)),
    (["space", "show", "--arch", "é"], ("é",)),
    (["space", "show", "--arch", "\udcff"], ("arch",)),
    (["space", "show", "--space", "sss", "--arch", "8:8:8:8:8:8"], ("8:8:8:8:8:8",)),
    (["space", "show", "--space", "nas101", "--index", "0"], ("nas101",)),
    (["space", "info", "--format", "xml"], ("xml",)),
    ([*Q, "--index", "-1"], ("-1",)),
    ([*Q, "--index", "nan"], ("--index",)),
    ([*Q, "--index", "0", "--epoch", "-1"], ("epoch=-1",)),
    ([*Q, "--index", "0", "--hp", "0"], ("hp=0",)),
    ([*Q, "--index", "0", "--seed", "-7"], ("seed=-7",)),
    ([*Q, "--index", "0", "--metrics", "é"], ("é",)),
    ([*Q, "--index", "0", "--metrics", ",,"], ("--metrics",)),
    ([*Q, "--arch", "|x~0|"], ("|x~0|",)),
    (["bench", "query", "--space", "tss", "--dataset", "mnist", "--index", "0"], ("mnist",)),
    (["bench", "export", "--space", "tss", "--dataset", "digits", "--epoch", "99999"], ("99999",)),
    ([*IMPORT, "official", "binary.bin"], ("binary.bin",)),
    ([*IMPORT, "robustness", "binary.bin"], ("binary.bin",)),
    ([*IMPORT, "nats", "binary.bin"], ("binary.bin",)),
    ([*IMPORT, "nb201", "binary.bin"], ("binary.bin",)),
    ([*IMPORT, "official", "a_file"], ("a_file",)),
    ([*IMPORT, "official", "a_file/x.csv"], ("a_file/x.csv",)),
    ([*IMPORT, "official", "missing"], ("missing",)),
    ([*IMPORT, "official"], ("PATH",)),
    ([*S, "--trials", "0"], ("trials", "0")),
    ([*S, "--trials", "-3"], ("trials", "-3")),
    ([*S, "--trials", "1e9"], ("--trials",)),
    ([*S, "--budget-seconds", "nan"], ("budget_seconds", "nan")),
    ([*S, "--budget-seconds", "inf"], ("budget_seconds", "inf")),
    ([*S, "--budget-seconds", "-1"], ("budget_seconds",)),
    ([*S, "--budget-seconds", "0"], ("budget_seconds",)),
    ([*S, "--trials", "3", "--budget-seconds", "5"], ("--budget-seconds",)),
    ([*S3, "--workers", "0"], ("workers", "0")),
    ([*S3, "--workers", "-1"], ("workers", "-1")),
    ([*S3, "--seed", "-1"], ("seed", "-1")),
    ([*S3, "--strategy", "nope"], ("nope",)),
    ([*S3, "--strategy", "tpe:n_startup_trials=nan"], ("n_startup_trials", "nan")),
    ([*S3, "--strategy", "tpe:n_startup_trials=2.5"], ("n_startup_trials", "2.5")),
    ([*S3, "--strategy", "nsga2:population_size=1e400"], ("population_size", "inf")),
    ([*S3, "--strategy", "tpe:x=1"], ("tpe", "x")),
    ([*S3, "--strategy", "tpe:=1"], ("tpe",)),
    ([*S3, "--objectives", "acc,acc"], ("acc",)),
    ([*S3, "--objectives", "nope"], ("nope",)),
    ([*S3, "--objectives", "acc:up"], ("acc:up",)),
    ([*S3, "--objectives", "é"], ("é",)),
    ([*S3, "--constraints", "acc>=nan"], ("acc>=nan",)),
    ([*S3, "--constraints", "garbage"], ("garbage",)),
    ([*S3, "--constraints", "acc<=1e400"], ("acc<=1e400", "finite")),
    ([*S3, "--dataset", "é"], ("é",)),
    ([*S3, "--source", "nope"], ("nope",)),
    ([*S3, "--backend", "compute", "--epochs", "0"], ("epochs", "0")),
    ([*S3, "--backend", "compute", "--batch-size", "-1"], ("batch_size", "-1")),
    ([*S3, "--backend", "compute", "--device", "tpu"], ("tpu",)),
    ([*S3, "--backend", "compute", "--data-root", "a_file"], ("a_file", "not a directory")),
    ([*S3, "--backend", "compute", "--data-root", "missing"], ("missing",)),
    ([*S3, "--storage", "nosuch://x"], ("nosuch://x",)),
    ([*S3, "--storage", "binary.bin"], ("binary.bin", "not an Optuna journal")),
    ([*S3, "--storage", "a_file"], ("a_file", "not an Optuna journal")),
    ([*S3, "--storage", "text.journal"], ("text.journal", "not an Optuna journal")),
    ([*S3, "--storage", "sqlite:///binary.bin"], ("binary.bin", "not a database")),
    ([*S3, "--storage", "sqlite:///missing/x.db"], ("missing/x.db", "unable to open")),
    ([*S3, "--storage", "postgresql://u:secret@127.0.0.1:1/db"], ("storage",)),
    ([*CMP, "--runs", "0"], ("runs", "0")),
    ([*CMP, "--runs", "-1"], ("runs", "-1")),
    ([*CMP, "--seed", "-1"], ("seed", "-1")),
    ([*CMP, "--budgets", "0"], ("budgets", "0")),
    ([*CMP, "--budgets", "-5"], ("budgets", "-5")),
    ([*CMP, "--budgets", "a"], ("--budgets", "a")),
    ([*CMP, "--budgets", ","], ("budgets",)),
    ([*CMP, "--target", "nan"], ("target", "nan")),
    ([*CMP, "--target", "2"], ("target",)),
    ([*CMP, "--target", "-1"], ("target",)),
    ([*CMP, "--strategies", "nope"], ("nope",)),
    ([*CMP, "--strategies", ",,"], ("strateg",)),
    ([*CMP, "--strategies", "tpe:n_startup_trials=inf"], ("n_startup_trials",)),
    ([*FITO, "--n-train", "0"], ("n_train", "0")),
    ([*FITO, "--n-train", "-1"], ("n_train", "-1")),
    ([*FITO, "--seed", "-1"], ("--seed", "-1")),
    ([*FITO, "--targets", "nope"], ("nope",)),
    ([*FITO, "--targets", ","], ("--targets",)),
    ([*FITO, "--param", "x"], ("--param", "x")),
    ([*FITO, "--param", "max_depth=nan"], ("--param", "max_depth")),
    ([*FITO, "--param", "eta=-1"], ("--param", "learning_rate")),
    ([*FITO, "--epoch", "-1"], ("epoch=-1",)),
    ([*FITO, "--dataset", "é"], ("é",)),
    (["surrogate", "predict", "--model", "missing", "--archs", "0"], ("missing",)),
    (["surrogate", "predict", "--model", "a_file", "--archs", "0"], ("a_file",)),
    (["surrogate", "predict", "--model", ".", "--archs", "0"], ("surrogate.json",)),
    ([*EV, "--sizes", "0"], ("--sizes", "0")),
    ([*EV, "--sizes", "-1"], ("--sizes", "-1")),
    ([*EV, "--seeds", "0"], ("--seeds", "0")),
    ([*EV, "--alpha", "nan"], ("alpha", "nan")),
    ([*EV, "--alpha", "0"], ("alpha",)),
    ([*EV, "--alpha", "1"], ("alpha",)),
    ([*EV, "--alpha", "2"], ("alpha",)),
    ([*EV, "--n-test", "0"], ("--n-test", "0")),
    ([*EV, "--n-test", "-1"], ("--n-test", "-1")),
    ([*EV, "--sizes", "20", "--seeds", "1", "--param", "eta=-1"], ("--param", "learning_rate")),
    ([*S3, "--backend", "compute", "--data-root", "~no_such_user/x"], ("--data-root", "home")),
    ([*IMPORT, "official", "~no_such_user/x"], ("PATH", "no_such_user")),
    ([*S3, "--storage", "~no_such_user/s.journal"], ("--storage", "home")),
    ([*FITO[:-1], "~no_such_user"], ("--out", "home")),
    (["nosuch"], ("nosuch",)),
    (["bench", "nosuch"], ("nosuch",)),
]


@pytest.mark.parametrize("argv,names", VALUES, ids=[" ".join(a) for a, _ in VALUES])
def test_bad_values_are_one_line(capsys, work, argv, names):
    (work / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (work / "text.journal").write_text("this is not a journal\n")
    CASES.append(" ".join(argv))
    no_bench = argv[0] in ("space", "nosuch") or argv[:2] == ["surrogate", "predict"]
    refused(capsys, work, argv if no_bench else [*argv, "--bench", work / "b"], *names)


# -- generated argument lists (hypothesis) ---------------------------------------------------------
_POOL = [
    "", " ", "0", "-1", "1", "3", "2.5", "nan", "inf", "-inf", "1e400", "99999999999999999999",
    "é", "\udcff", "a_file", "a_file/x", "missing/x", ".", "-", "x" * 300, "|x~0|", "0,1", ",",
    "a=b", "cuda:7", "cpu", "acc", "tss", "sss", "digits", "cifar10", "random", "tpe:x=nan",
    "tcp://127.0.0.1:1", "acc<=nan", "binary.bin",
]  # fmt: skip
# a valid baseline for each command's required options (the generated ones come after and win)
_BASE = {
    ("space", "show"): ["--index", "0"],
    ("bench", "query"): ["--space", "tss", "--dataset", "digits", "--index", "0"],
    ("bench", "export"): ["--space", "tss", "--dataset", "digits", "--metrics", "acc"],
    ("bench", "import"): ["official", "missing"],
    ("bench", "sql"): ["SELECT 1"],
    ("bench", "compute"): ["--space", "tss", "--dataset", "digits", "--archs", "0"],
    ("surrogate", "fit"): [*FIT, "--out", "m"],
    ("surrogate", "predict"): ["--model", "missing", "--archs", "0"],
    ("surrogate", "evaluate"): FIT,
}
_SKIP = {"serve", "analyze"}  # the server's tests and the analyses' own cover those
_NO_BENCH = {("space", "info"), ("space", "show"), ("surrogate", "predict")}


def _commands() -> dict[tuple[str, str], list[tuple[str, bool]]]:
    """(command, subcommand) -> its options as (option string, takes a value)."""
    import argparse

    from search.cli import build_parser

    out = {}
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in top.choices.items():
        if name in _SKIP:
            continue
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for leaf, lp in sub.choices.items():
            opts = [
                (max(a.option_strings, key=len), a.nargs != 0)
                for a in lp._actions
                if a.option_strings and a.dest not in ("help", "bench")
            ]
            out[(name, leaf)] = opts
    return out


def _stub_the_work(monkeypatch) -> None:
    """Replace each command's work by a stub: the property is that input is judged before it."""
    import bench.compute
    import bench.importers
    import search.compare
    import search.runner
    import surrogate.model
    import surrogate.validation

    def stop(*_a, **_k):
        raise SystemExit(0)  # the work was reached: every check before it passed

    monkeypatch.setattr(search.runner, "run_search", stop)
    monkeypatch.setattr(search.compare, "compare_strategies", stop)
    monkeypatch.setattr(bench.compute, "compute", stop)
    monkeypatch.setattr(surrogate.model.Surrogate, "from_benchmark", classmethod(stop))
    monkeypatch.setattr(surrogate.validation, "validate_on_benchmark", stop)
    for kind in ("official", "robustness", "nats", "nb201"):
        monkeypatch.setattr(bench.importers, f"import_{kind}", stop)


def test_generated_argument_lists_never_traceback(tmp_path, monkeypatch, capsys):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    chars = st.characters(blacklist_characters="\x00")  # argv cannot hold NUL
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("x\n")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)))
    _stub_the_work(monkeypatch)
    commands = _commands()
    keys = sorted(commands)
    tried = []

    @st.composite
    def argv(draw):
        cmd = draw(st.sampled_from(keys))
        opts = commands[cmd]
        args = [*cmd, *_BASE.get(cmd, [])]
        if cmd not in _NO_BENCH:
            args += ["--bench", str(tmp_path / "b")]
        if opts:
            for opt, takes in draw(st.lists(st.sampled_from(opts), max_size=3, unique=True)):
                args.append(opt)
                if takes:
                    args.append(draw(st.sampled_from(_POOL) | st.text(chars, max_size=8)))
        return args

    # CALNAS_CLI_EXAMPLES=5000 for a deeper (random) hunt; the default run is small and fixed
    deep = int(os.environ.get("CALNAS_CLI_EXAMPLES", "0"))

    @settings(max_examples=deep or 150, deadline=None, derandomize=not deep, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(argv())
    def check(args):
        tried.append(args)
        try:
            code = main(args)
        except SystemExit as stop:
            code = stop.code
        err = capsys.readouterr().err
        assert code in (0, 2), (args, code, err)
        if code == 2:
            assert len(err.splitlines()) == 1, (args, err)

    check()
    CASES.extend(" ".join(map(str, a)) for a in tried)


# -- files: binary, truncated, existing outputs ----------------------------------------------------
def test_binary_surrogate_json_is_refused(capsys, work):
    model = work / "model"
    model.mkdir()
    (model / "surrogate.json").write_bytes(bytes(range(256)))
    CASES.append("surrogate predict: binary surrogate.json")
    argv = ["surrogate", "predict", "--model", model, "--archs", "0"]
    refused(capsys, work, argv, "surrogate.json", "not valid JSON")
    (model / "surrogate.json").write_bytes(b'{"format": "calnas-surr')  # truncated
    CASES.append("surrogate predict: truncated surrogate.json")
    refused(capsys, work, argv, "surrogate.json", "not valid JSON")


def test_fit_refuses_a_folder_that_is_not_a_model_before_fitting(capsys, work, monkeypatch):
    import surrogate.model

    def never(*_a, **_k):
        raise AssertionError("the fit ran before --out was checked")

    monkeypatch.setattr(surrogate.model.Surrogate, "from_benchmark", classmethod(never))
    (work / "results").mkdir()
    (work / "results" / "keep.csv").write_text("a\n1\n")
    CASES.append("surrogate fit --out an existing folder that is not a model")
    argv = ["surrogate", "fit", *FIT, "--out", work / "results", "--bench", work / "b"]
    refused(capsys, work, argv, "results", "not a saved surrogate")


def test_sql_json_writes_every_duckdb_type(capsys, work):
    import json

    query = (
        "SELECT 1.5::DECIMAL(3,1) AS d, DATE '2020-01-01' AS t, '\\x00'::BLOB AS b, "
        "INTERVAL 1 DAY AS i, uuid() AS u, TIMESTAMP '2020-01-01 10:00:00' AS ts"
    )
    CASES.append("bench sql --format json with decimals, dates, blobs, intervals, uuids")
    code = main(["bench", "sql", "--bench", str(work / "b"), "--format", "json", query])
    out = capsys.readouterr()
    assert code == 0, out.err
    (row,) = json.loads(out.out)
    assert row["d"] == 1.5 and row["t"] == "2020-01-01" and row["ts"].startswith("2020-01-01T10")


def test_archs_file_with_a_byte_order_mark(capsys, work, monkeypatch):
    pytest.importorskip("torch")
    from bench.compute.job import select_targets

    (work / "bom.txt").write_bytes(b"\xef\xbb\xbf0\r\n1\r\n")
    CASES.append("--archs file with a BOM and CRLF")
    assert select_targets("tss", str(work / "bom.txt")).tolist() == [0, 1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_files_are_one_line(capsys, work):
    (work / "locked.txt").write_text("0\n")
    (work / "locked.journal").write_text("")
    (work / "locked.txt").chmod(0)
    (work / "locked.journal").chmod(0)
    CASES.extend(["--archs unreadable file", "--storage unreadable journal"])
    argv = [*COMPUTE, "--bench", work / "b", "--archs", work / "locked.txt"]
    refused(capsys, work, argv, "locked.txt")
    argv = [*S3, "--bench", work / "b", "--storage", work / "locked.journal"]
    refused(capsys, work, argv, "locked.journal")
