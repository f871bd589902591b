"""scripts/perf_search.py: the helpers its figures rest on (the searches themselves are real
runs of run_search; one tiny end-to-end run checks the wiring)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(_SCRIPTS))  # perf_search imports search_bounds from beside it
_spec = importlib.util.spec_from_file_location("perf_search", _SCRIPTS / "perf_search.py")
perf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perf)


def test_queries_counts_to_the_first_history_at_the_target():
    h = np.array([0.5, 0.9, 0.95, 0.97])
    assert perf.queries(h, cap=4) == 3
    assert perf.queries(h, cap=2) is None  # not reached within the cap
    assert perf.queries(np.array([0.1, 0.2]), cap=10) is None


def test_curve_holds_a_stopped_run_at_its_last_value():
    got = perf.curve([np.array([0.2, 0.4]), np.array([0.6, 0.8, 1.0])], upto=4)
    assert got.tolist() == pytest.approx([0.4, 0.6, 0.7, 0.7])


def test_markdown_has_a_row_per_strategy_and_the_position():
    figures = [
        {"table": "t", "objectives": "a,b", "strategy": "random", "mean": 100.0, "std": 9.0,
         "reached": "20/20"},
        {"table": "t", "objectives": "a,b", "strategy": "mpls", "mean": 40.0, "std": 5.0,
         "reached": "20/20", "ratio": 0.4, "worst_gap": -0.01, "worst_gap_at": 50,
         "hv_at": {"100": 0.9612, "1000": 0.99}},
        {"table": "t", "bound": 20.0, "random": 100.0, "default": "mpls", "default_mean": 40.0,
         "position": 0.75},
    ]  # fmt: skip
    rows = perf.markdown(figures).splitlines()
    assert len(rows) == 4
    assert rows[3].startswith(
        "| t | a,b | mpls | 40.0 | 5.0 | 20/20 | 0.4 | -0.0100 (50) | 0.961 / 0.990 | 20.0 |"
    )
    # a row without HV figures (a run saved before they were kept) leaves the cell empty
    assert rows[3].endswith("| 0.75 |") and rows[2].endswith("|  |  | 20.0 |  |")


def test_from_json_joins_separate_runs_into_one_table(tmp_path, capsys):
    runs = []
    for table in ("a", "b"):  # two runs of one table each, as one step per table writes them
        path = tmp_path / f"{table}.json"
        path.write_text(json.dumps([
            {"table": table, "objectives": "x,y", "strategy": "random", "mean": 9.0, "std": 1.0,
             "reached": "2/2"},
            {"table": table, "bound": 3.0, "random": 9.0, "default": "mpls", "default_mean": 5.0,
             "position": 0.5}]))  # fmt: skip
        runs.append(str(path))
    assert perf.main(["--from-json", *runs]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| a |")
            or r.startswith("| b |")]  # fmt: skip
    assert [r.split(" | ")[0] for r in rows] == ["| a", "| b"]
    assert all(r.split(" | ")[9] == "3.0" for r in rows)  # each table keeps its own bound


@pytest.mark.parametrize(
    ("text", "why"),
    [(None, "No such file"), ("{not json", "Expecting"), ('{"a": 1}', "not the figures")],
)
def test_from_json_refuses_a_file_that_holds_no_figures(tmp_path, text, why):
    path = tmp_path / "f.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SystemExit, match=f"--from-json {path}: .*{why}"):
        perf.main(["--from-json", str(path)])


@pytest.mark.slow  # a real search of each strategy on the demo table (~10 s)
def test_a_small_run_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "f.json"
    assert perf.main(["--tables", "demo-ece", "--seeds", "2", "--cap", "100", "--bound-seeds",
                      "0", "--no-timing", "--json", str(out)]) == 0  # fmt: skip
    figures = json.loads(out.read_text())
    assert [f["strategy"] for f in figures] == ["random", "mpls"]
    assert all(len(f["per_seed"]) == 2 for f in figures)
    # cap 100: HV after 1,000 queries is beyond every run, so it is not reported
    assert all(list(f["hv_at"]) == ["100"] and 0 < f["hv_at"]["100"] <= 1 for f in figures)
    assert "| demo-ece | acc,pre_ECE_15 | mpls |" in capsys.readouterr().out
    assert perf.main(["--from-json", str(out)]) == 0


@pytest.mark.slow  # real searches of NB201 with a warm start (~10 s)
def test_a_prior_run_names_its_prior_in_every_row(nb201_path, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert perf.main(["--tables", "nb201-c10-train", "--nb201", str(nb201_path), "--prior",
                      "auto", "--seeds", "2", "--cap", "30", "--bound-seeds", "0",
                      "--no-timing", "--json", str(out)]) == 0  # fmt: skip
    figures = json.loads(out.read_text())
    assert [(f["strategy"], f["prior"]) for f in figures] == [
        ("random", "cifar100"), ("mpls", "cifar100")]  # fmt: skip
    # the warm start alone reaches 0.95 on this table: every seed the same few queries
    assert all(len(set(f["per_seed"])) == 1 and f["per_seed"][0] <= 20 for f in figures)
    assert "| nb201-c10-train | valid_acc,train_time_s | mpls + prior cifar100 |" in (
        capsys.readouterr().out)  # fmt: skip
    from bench.errors import InputError

    with pytest.raises(InputError, match="prior 'nope': the benchmark holds nothing"):
        perf.main(["--tables", "nb201-c10-train", "--nb201", str(nb201_path), "--prior", "nope",
                   "--seeds", "1", "--cap", "5", "--bound-seeds", "0", "--no-timing"])  # fmt: skip


def test_an_embedded_table_the_install_lacks_is_refused_by_name(tmp_path, monkeypatch):
    from bench.table.benchmark import Benchmark
    from bench.table.store import Store

    # an install whose demo folder holds no table, whatever this one ships
    bare = Benchmark(Store(tmp_path / "store"), demo_dir=tmp_path / "no-demo")
    monkeypatch.setitem(perf._BENCHES, None, bare)
    with pytest.raises(SystemExit, match="f8-ece: the embedded table holds no tss/fashion8"):
        perf.main(["--tables", "f8-ece", "--seeds", "1", "--no-timing"])


@pytest.mark.slow  # real searches and an oracle bound on the demo table (~10 s)
def test_a_constrained_table_searches_and_bounds_the_feasible_classes(tmp_path, monkeypatch):
    monkeypatch.setitem(perf.CONSTRAINED, "demo-acc50", ("digits", "acc,pre_ECE_15", "acc>=0.5"))
    out = tmp_path / "c.json"
    assert perf.main(["--tables", "demo-acc50", "--seeds", "1", "--cap", "40", "--bound-seeds",
                      "1", "--no-timing", "--json", str(out)]) == 0  # fmt: skip
    figures = json.loads(out.read_text())
    runs = [f for f in figures if "strategy" in f]
    assert [f["constraints"] for f in runs] == ["acc>=0.5", "acc>=0.5"]
    position = figures[-1]
    # the bound counts only feasible classes: at most as many queries as they are
    from search_bounds import table_losses

    from search.objectives import parse_objectives

    objs = parse_objectives("acc,pre_ECE_15")
    feasible, _ = table_losses(perf._bench(None), "digits", objs, constraints="acc>=0.5")
    assert 1 <= position["bound"] <= len(feasible) < 6466
    assert "| demo-acc50 | acc,pre_ECE_15 (acc>=0.5) | mpls |" in perf.markdown(figures)


@pytest.mark.slow  # real searches of a small real store (~5 s)
def test_any_store_table_takes_constraints(demo_frame_store, tmp_path):
    out = tmp_path / "t.json"
    spec = f"mine={demo_frame_store}:digits:acc,pre_ECE_15:acc>=0.5"
    assert perf.main(["--table", spec, "--seeds", "1", "--cap", "20", "--bound-seeds", "0",
                      "--no-timing", "--json", str(out)]) == 0  # fmt: skip
    runs = [f for f in json.loads(out.read_text()) if "strategy" in f]
    assert [(f["table"], f["constraints"]) for f in runs] == [("mine", "acc>=0.5")] * 2


@pytest.fixture
def demo_frame_store(tmp_path):
    """A real store holding the embedded digits table's first-seed rows of 600 TSS classes."""
    import pandas as pd

    from bench.arch.spaces import get_space
    from bench.table.benchmark import Benchmark
    from bench.table.store import Store

    held = np.sort(get_space("tss").unique_indices())[::10][:600]
    frame = Benchmark.open().frame("tss", "digits", ["acc", "pre_ECE_15"])
    rows = frame[frame["config"].isin(held)].assign(
        space="tss", dataset="digits", source="computed", hp=4, epoch=4, seed=777
    )
    Store(tmp_path / "store").upsert(pd.DataFrame(rows))
    return tmp_path / "store"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("mine", "expected NAME=STORE:DATASET:OBJECTIVES"),
        ("mine=/tmp/s:digits", "expected NAME=STORE:DATASET:OBJECTIVES"),
        ("=/tmp/s:digits:acc,pre_ECE_15", "expected NAME=STORE:DATASET:OBJECTIVES"),
        ("mine=/tmp/s:digits:acc,pre_ECE_15:", "expected NAME=STORE:DATASET:OBJECTIVES"),
        ("mine=/tmp/s:digits:acc,nope", "mine: objective 'nope': unknown metric"),
        ("mine=/tmp/s:digits:acc,pre_ECE_15:acc>>0.5", "mine: constraint 'acc>>0.5'"),
    ],
)
def test_a_bad_table_spec_stops_before_any_search(spec, message, tmp_path, capsys):
    with pytest.raises(SystemExit, match=message):
        perf.main(["--table", spec, "--seeds", "1", "--no-timing"])
    assert "==" not in capsys.readouterr().out  # no table was searched
