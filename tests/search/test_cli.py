from __future__ import annotations

import json

from search.cli import main
from search.samplers import DEFAULT_STRATEGY

ARGS = ["--dataset", "digits", "--objectives", "acc,pre_ECE_15"]  # the embedded demo table


def test_search_run_table_and_json(demo_path, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["search", "run", "--bench", str(demo_path), *ARGS, "--strategy", "rea",
               "--trials", "30", "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0 and "normalized HV" in text and "found front" in text
    assert (out / "report.json").exists() and (out / "front.png").exists()
    assert (out / "hv.png").exists()
    rc = main(["search", "run", "--bench", str(demo_path), *ARGS, "--trials", "20",
               "--format", "json", "--out", str(out)])  # fmt: skip
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["queries"] == 20 and rep["strategy"] == DEFAULT_STRATEGY == "mpls"


def test_search_run_errors_are_one_line(demo_path, tmp_path, capsys):
    cases = [
        (["--bench", str(demo_path), *ARGS, "--strategy", "nope"], "unknown strategy"),
        (["--bench", str(demo_path), "--objectives", "foo_bar"], "unknown metric"),
        (
            ["--bench", str(tmp_path / "empty"), "--dataset", "cifar100"],
            "holds nothing for tss/cifar100",
        ),
        (["--bench", str(demo_path), *ARGS, "--trials", "0"], "empty budget"),
        (["--bench", str(demo_path), *ARGS, "--storage", "bad://x"], "cannot open storage"),
    ]
    for argv, message in cases:
        rc = main(["search", "run", *argv, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and err.count("\n") == 1, (argv, err)


def test_search_compare(demo_path, capsys):
    rc = main(["search", "compare", "--bench", str(demo_path), *ARGS, "--strategies",
               "random,rea", "--runs", "2", "--budgets", "10,20", "--format", "json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["strategy"] for r in rows] == ["random", "rea"]
    assert {"hv@10", "std@10", "hv@20", "queries_to_0.95", "reached"} <= set(rows[0])


def test_python_m_search_runs_the_cli(demo_path, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "search", "search", "run", "--bench",
                           str(demo_path), "--strategy", "random", "--trials", "5", "--format",
                           "json", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["queries"] == 5


def test_search_run_compute_backend(tmp_path, capsys):
    bench = str(tmp_path / "store")  # empty: every query is trained and stored
    rc = main(["search", "run", "--backend", "compute", "--bench", bench, "--epochs", "1",
               "--batch-size", "128", "--trials", "2", "--strategy", "pls", "--format", "json",
               "--out", str(tmp_path / "o")])  # fmt: skip
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["backend"] == "compute" and rep["computed"] == rep["queries"] == 2
    rc = main(["search", "run", "--backend", "compute", "--bench", bench, "--epochs", "0",
               "--trials", "2", "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "epochs must be a positive integer" in err and err.count("\n") == 1


def test_a_closed_pipe_is_not_an_error(tmp_path):
    """`calnas ... | head -1`: the reader leaves early; calnas exits 0 without a word."""
    import subprocess
    import sys

    cmd = (
        f"set -o pipefail; CALNAS_HOME={tmp_path} {sys.executable} -m search bench export "
        "--space tss --dataset digits | head -c 10 > /dev/null"
    )
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
