"""Why a search stops (report["stopped"]), the repeat count, and the progress bar."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from bench.arch.spaces import get_space
from search.cli import main
from search.runner import run_search

K = 12  # classes in the tiny table: the first K class representatives, in index order
COLUMNS = ["space", "dataset", "config", "hp", "epoch", "seed", "acc", "pre_ECE_15",
           "train_time_s"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A store holding K TSS classes of the demo table (epochs 1, 2, 4) as computed rows."""
    from bench.table.benchmark import Benchmark
    from bench.table.store import Store

    demo = Benchmark.open(tmp_path_factory.mktemp("home"))
    if not demo.sources("tss", "digits"):
        pytest.skip("the demo table (bench/data/*.parquet) is not installed")
    reps = np.sort(get_space("tss").unique_indices())[:K]
    frames = []
    for epoch in demo.epochs("tss", "digits"):
        f = demo.frame("tss", "digits", ["acc", "pre_ECE_15", "train_time_s"], epoch=epoch)
        frames.append(f[f["config"].isin(reps)].assign(space="tss", dataset="digits", hp=4,
                                                       epoch=epoch, seed=777))  # fmt: skip
    rows = pd.concat(frames)[COLUMNS].assign(source="computed")
    path = tmp_path_factory.mktemp("tiny")
    Store(path).upsert(rows)
    return Benchmark.open(path, demo=False)


def test_a_budget_larger_than_the_table_stops_when_the_space_is_exhausted(tiny):
    res = run_search("tss", "digits", "acc,pre_ECE_15", "brute", budget_seconds=1e9, bench=tiny)
    rep = res.report
    assert rep["stopped"] == "space exhausted"
    assert rep["queries"] == rep["distinct_architectures"] == K
    assert rep["simulated_seconds"] < 1e9
    assert rep["sources"] == ["computed"] and rep["schedule_epochs"] == 4


def test_other_stop_reasons_are_recorded(tiny):
    def stopped(strategy: str, **kw) -> str:
        return run_search("tss", "digits", "acc,pre_ECE_15", strategy, bench=tiny, **kw).report[
            "stopped"
        ]

    assert stopped("brute", trials=3) == "trials"
    assert stopped("brute", budget_seconds=1e-3) == "budget"
    assert stopped("brute", trials=K + 5) == "space exhausted"
    # random draws mostly miss the K measured classes: nothing new 5 times in a row
    assert stopped("random", trials=K, max_repeats=5) == "max repeats"


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_a_pruned_class_asked_again_counts_as_a_repeat(tiny):
    """A class that Hyperband pruned and prunes again taught the search nothing: before, such
    re-asks reset the repeat count, so a search over the whole demo table never ended."""
    from search.config import SearchConfig
    from search.problem import load_problem
    from search.worker import Ledger, step

    sp = get_space("tss")
    cfg = SearchConfig("tss", "digits", "hcs", "random", budget_seconds=1e9, bench=tiny,
                       multi_fidelity=True, study_name="t")  # fmt: skip
    problem = load_problem(tiny, cfg)
    assert len(problem.curves) > 1
    study = optuna.create_study(direction="maximize", pruner=_AlwaysPrune())
    ledger = Ledger()
    first, second = (int(r) for r in np.sort(sp.unique_indices())[:2])
    outcomes = []
    for rep in (first, first, second):
        study.enqueue_trial(sp.to_params(rep))
        ledger.sync(study)
        outcomes.append(step(study, problem, cfg, ledger, "test:1"))
    assert outcomes == [True, False, True]
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED] * 3


def test_progress_bar_only_when_asked(tiny, tmp_path, capsys):
    run_search("tss", "digits", "acc,pre_ECE_15", "brute", bench=tiny, progress=True)
    err = capsys.readouterr().err
    assert "tss/digits" in err and f"{K}/{K}" in err and "HV 1.000" in err and "trials" in err
    # the CLI: stderr is not a terminal under pytest, so no bar (and --quiet never shows one)
    for extra in ([], ["--quiet"]):
        rc = main(["search", "run", "--bench", str(tiny.store.root), "--dataset", "digits",
                   "--source", "computed", "--strategy", "brute", "--out", str(tmp_path / "o"),
                   *extra])  # fmt: skip
        captured = capsys.readouterr()
        assert rc == 0 and captured.err == ""
        assert "stopped: space exhausted" in captured.out


def test_printout_says_what_was_searched(tiny, tmp_path, capsys):
    rc = main(["search", "run", "--bench", str(tiny.store.root), "--dataset", "digits",
               "--source", "computed", "--strategy", "brute", "--budget-seconds", "1e9",
               "--out", str(tmp_path / "o")])  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert lines[0] == ("searched rows computed by calnas: TSS cells trained 4 epochs on "
                        "scikit-learn digits (a CPU proxy, not CIFAR)")  # fmt: skip
    assert f"{K} of {K} distinct architectures" in lines[1]
    assert any(line.strip().startswith("normalized HV:") for line in lines)
    assert any(line.strip().startswith("IGD+:") for line in lines)
