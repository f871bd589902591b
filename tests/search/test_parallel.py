"""Several workers on one study (journal file, PostgreSQL) and resuming after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

import optuna
import pytest
from optuna.storages.journal._storage import JournalOperation

from search import _optuna
from search.runner import run_search
from search.samplers import DEFAULT_STRATEGY
from search.storage import open_storage

DATASET = "digits"  # the embedded demo table
OBJECTIVES = "acc,pre_ECE_15"


def _check_no_duplicates(res, trials):
    study_trials = res.study.trials
    numbers = [t.number for t in study_trials]
    assert sorted(numbers) == list(range(len(numbers)))  # each trial exists once
    assert all(t.state.is_finished() for t in study_trials)
    workers = {t.user_attrs["worker"] for t in study_trials}
    assert len(workers) == 2, "both processes worked on the one study"
    assert res.report["queries"] == trials
    assert len({q["index"] for q in res.queries}) == trials


def test_two_workers_on_one_journal(demo_path, tmp_path):
    storage = str(tmp_path / "two.journal")
    res = run_search("tss", DATASET, OBJECTIVES, "nsga2:population_size=10", trials=60,
                     bench=str(demo_path), storage=storage, workers=2, seed=0)  # fmt: skip
    _check_no_duplicates(res, 60)


@pytest.mark.slow  # two worker processes (~5 s)
def test_default_strategy_with_two_workers_on_one_journal(demo_path, tmp_path):
    # each worker process fits its own models; the classes they query are read from the study
    storage = str(tmp_path / "default.journal")
    res = run_search("tss", DATASET, OBJECTIVES, DEFAULT_STRATEGY, trials=30,
                     bench=str(demo_path), storage=storage, workers=2, seed=0)  # fmt: skip
    _check_no_duplicates(res, 30)
    assert res.report["strategy"] == "mpls"


@pytest.mark.slow  # two worker processes on PostgreSQL (~4 s)
def test_two_workers_on_postgres(demo_path, postgres_url):
    name = f"pg-{os.getpid()}-{time.time_ns()}"
    res = run_search("tss", DATASET, OBJECTIVES, "tpe", trials=40, bench=str(demo_path),
                     storage=postgres_url, study_name=name, workers=2, seed=0)  # fmt: skip
    _check_no_duplicates(res, 40)
    assert res.report["storage"] == postgres_url


_CHILD = """
import sys
from search.runner import run_search
run_search("tss", "digits", "acc,pre_ECE_15", "rea", trials=3000, bench=sys.argv[1],
           storage=sys.argv[2], study_name="resume", seed=0)
"""


@pytest.mark.slow  # a worker process killed and resumed (~8 s)
def test_resume_after_sigkill(demo_path, tmp_path):
    storage = str(tmp_path / "resume.journal")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(demo_path), storage])
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.5)
            try:
                study = optuna.load_study(study_name="resume", storage=open_storage(storage))
            except KeyError:
                continue
            done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
            if done >= 40:
                break
        assert child.poll() is None and done >= 40, "the child should be mid-run"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    before = optuna.load_study(study_name="resume", storage=open_storage(storage))
    n_before = len(before.trials)
    old = before.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    old_queries = len({t.user_attrs["rep"] for t in old})
    res = run_search("tss", DATASET, OBJECTIVES, "rea", trials=200, bench=str(demo_path),
                     storage=storage, study_name="resume", seed=0)  # fmt: skip
    states = Counter(t.state for t in res.study.trials)
    assert states[optuna.trial.TrialState.RUNNING] == 0  # the killed trial was failed
    assert len(res.study.trials) > n_before
    assert res.report["queries"] == 200
    # the killed run's queries are kept and counted, not repeated
    first = [q["trial"] for q in res.queries[:old_queries]]
    assert max(first) < n_before <= res.queries[old_queries]["trial"]


def test_trials_are_created_with_their_owner(demo_path, tmp_path):
    # A kill may come at any moment, so a trial must never exist without its owner: the journal's
    # create record itself carries the worker (a later write would leave a window for orphans).
    storage = tmp_path / "owner.journal"
    run_search("tss", DATASET, OBJECTIVES, "random", trials=10, bench=str(demo_path),
               storage=str(storage), seed=0)  # fmt: skip
    records = [json.loads(line) for line in storage.read_text().splitlines()]
    creates = [r for r in records if r["op_code"] == JournalOperation.CREATE_TRIAL]
    assert len(creates) >= 10
    assert all(":" in r.get("user_attrs", {}).get("worker", "") for r in creates)


def test_old_untagged_running_trial_is_failed_on_resume(demo_path, tmp_path):
    # A process killed between popping an enqueued trial and tagging it leaves an ownerless RUNNING
    # trial; once it is older than any live worker's tagging delay, a resume fails it.
    storage = str(tmp_path / "untagged.journal")
    study = optuna.create_study(storage=open_storage(storage), study_name="u",
                                directions=["maximize", "minimize"])  # fmt: skip
    stale = optuna.trial.FrozenTrial(
        number=-1, state=optuna.trial.TrialState.RUNNING, value=None, values=None,
        datetime_start=datetime.now() - timedelta(hours=1), datetime_complete=None, params={},
        distributions={}, user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=-1,
    )  # fmt: skip
    _optuna.create_trial(study, stale)
    run_search("tss", DATASET, OBJECTIVES, "random", trials=3, bench=str(demo_path),
               storage=storage, study_name="u", seed=0)  # fmt: skip
    after = optuna.load_study(study_name="u", storage=open_storage(storage))
    states = {t.number: t.state for t in after.trials}
    assert states[0] == optuna.trial.TrialState.FAIL  # the stale trial is the study's first
    assert optuna.trial.TrialState.RUNNING not in states.values()
