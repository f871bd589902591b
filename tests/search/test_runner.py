from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from bench.arch.spaces import get_space
from search.runner import open_storage, run_search
from search.samplers.registry import STRATEGIES

DATASET = "cifar10-valid"  # NB201 cifar10 is NATS cifar10-valid
OBJECTIVES = "valid_acc,params_m"

FAST = {"gp": "gp:n_startup_trials=4"}


@pytest.fixture(scope="module")
def small_surrogate(nb201):
    from surrogate.model import Surrogate

    return Surrogate.from_benchmark(
        nb201, "tss", DATASET, ["valid_acc", "params_m"], n_train=300, n_estimators=40, n_members=0
    )


@pytest.mark.parametrize("backend", ["table", "surrogate", "compute"])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_on_every_backend(nb201, small_surrogate, name, backend, tmp_path):
    if backend == "compute":
        _compute_search(name, tmp_path)
        return
    trials = 8 if name == "gp" else 25
    res = run_search("tss", DATASET, OBJECTIVES, FAST.get(name, name), trials=trials, bench=nb201,
                     backend=backend, surrogate=small_surrogate, seed=1)  # fmt: skip
    rep = res.report
    assert rep["queries"] == trials == len(res.queries)
    assert len({q["index"] for q in res.queries}) == trials  # a query is a distinct class
    assert 0 < rep["normalized_hv"] <= 1 + 1e-9 and rep["igd_plus"] >= 0
    assert len(rep["hv_history"]) == trials and rep["pareto_front"]
    assert rep["predicted_signal"] == (backend == "surrogate")
    # reported values are the table's, whatever the search saw
    for row in rep["pareto_front"]:
        truth = nb201.query("tss", DATASET, row["index"], ["valid_acc"])["values"]["valid_acc"]
        assert row["values"]["valid_acc"] == pytest.approx(truth)
    json.dumps(rep)


#: a tiny real computation: the digits proxy (8x8, its C8/N1 skeleton), one epoch, batch 128
TINY = {"epochs": 1, "batch_size": 128}
COMPUTE_TRIALS = 3


def _compute_search(name: str, path) -> None:
    """Search on the compute backend: every query is trained, measured and stored for real."""
    from bench.table.store import Store

    strategy = {"gp": "gp:n_startup_trials=2"}.get(name, name)
    res = run_search("tss", "digits", "acc,pre_ECE_15", strategy, trials=COMPUTE_TRIALS,
                     bench=path, backend="compute", compute=TINY, seed=1)  # fmt: skip
    rep = res.report
    assert rep["queries"] == COMPUTE_TRIALS == len(res.queries) == rep["computed"]
    assert "train=nats[" in rep["compute_protocol"] and "epochs=1" in rep["compute_protocol"]
    stored = Store(path).read("tss", "digits", "computed")
    final = stored[(stored["epoch"] == 1) & (stored["hp"] == 1)].set_index("config")
    for q in res.queries:
        row = final.loc[q["index"]]  # computed, measured and upserted into the store
        assert not row["copied"] and row["seed"] == 777
        assert q["values"]["acc"] == pytest.approx(row["acc"])
        assert q["values"]["pre_ECE_15"] == pytest.approx(row["pre_ECE_15"])
        assert q["cost_s"] == pytest.approx(row["train_time_s"]) and q["cost_s"] > 0
    # the simulated clock charges the measured train time of each new architecture
    assert rep["simulated_seconds"] == pytest.approx(sum(q["cost_s"] for q in res.queries))
    # scored against every architecture measured with this protocol (here: the ones just found)
    assert rep["true_front_size"] >= 1 and 0 < rep["normalized_hv"] <= 1 + 1e-9
    json.dumps(rep)


def test_compute_backend_answers_stored_rows_without_training(tmp_path):
    from bench.table.store import Store

    first = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=2, bench=tmp_path,
                       backend="compute", compute=TINY, seed=3)  # fmt: skip
    before = len(Store(tmp_path).read("tss", "digits", "computed"))
    again = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=2, bench=tmp_path,
                       backend="compute", compute=TINY, seed=3, study_name="again")  # fmt: skip
    assert again.report["computed"] == 0  # same proposals: answered from the store
    assert len(Store(tmp_path).read("tss", "digits", "computed")) == before
    assert again.report["pareto_front"] == first.report["pareto_front"]
    assert again.report["simulated_seconds"] == pytest.approx(first.report["simulated_seconds"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"compute": {"epochs": 0}}, "epochs must be a positive integer"),
        ({"compute": {"bogus": 1}}, "bad ComputeConfig fields"),
        ({"compute": 3}, "compute must be"),
        ({"objectives": "acc,nonsense_col"}, "nonsense_col"),
        ({"source": "official"}, "reads and writes source 'computed'"),
        ({"backend": "table", "compute": TINY}, "backend='compute' only"),
    ],
)
def test_compute_backend_errors(tmp_path, kwargs, match):
    args = {"objectives": "acc,pre_ECE_15", "backend": "compute", "compute": TINY}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_search("tss", "digits", args.pop("objectives"), "random", trials=2, bench=tmp_path,
                   **args)  # fmt: skip


def test_same_seed_same_result(nb201):
    a = run_search("tss", DATASET, OBJECTIVES, "rea", trials=40, bench=nb201, seed=5).report
    b = run_search("tss", DATASET, OBJECTIVES, "rea", trials=40, bench=nb201, seed=5).report
    assert a["pareto_front"] == b["pareto_front"] and a["hv_history"] == b["hv_history"]


def test_constraints_restrict_the_front(nb201):
    res = run_search("tss", DATASET, OBJECTIVES, "tpe", trials=40, bench=nb201,
                     constraints="params_m<=0.5,valid_acc>=0.8", seed=0)  # fmt: skip
    rep = res.report
    assert rep["constraints"] == ["params_m<=0.5", "valid_acc>=0.8"]
    for row in rep["pareto_front"] + res.true_front:
        assert row["values"]["params_m"] <= 0.5 and row["values"]["valid_acc"] >= 0.8
    infeasible = [t for t in res.study.trials if any(v > 0 for v in t.constraints.values())]
    assert infeasible, "the sampler saw constraint values through trial.set_constraint"
    with pytest.raises(ValueError, match="empty true front"):
        run_search("tss", DATASET, OBJECTIVES, "random", trials=5, bench=nb201,
                   constraints="params_m<=0.0001")  # fmt: skip


def test_cache_answers_repeats_and_isomorphic_cells_for_free(nb201, tmp_path):
    space = get_space("tss")
    rep = int(space.unique_indices()[100])
    members = space.class_members(rep)
    assert len(members) >= 2, "pick a class with an isomorphic copy"
    storage = str(tmp_path / "cache.journal")
    name = "cache"
    study = optuna.create_study(storage=open_storage(storage), study_name=name,
                                directions=["maximize", "minimize"])  # fmt: skip
    for idx in (members[0], members[1], members[0]):
        study.enqueue_trial(space.to_params(int(idx)))
    res = run_search("tss", DATASET, OBJECTIVES, "random", trials=3, bench=nb201,
                     storage=storage, study_name=name, seed=0)  # fmt: skip
    trials = sorted(res.study.trials, key=lambda t: t.number)
    assert [t.user_attrs["cached"] for t in trials[:3]] == [False, True, True]
    assert len({t.user_attrs["rep"] for t in trials[:3]}) == 1
    cost = nb201.query("tss", DATASET, rep, ["train_time_s"])["values"]["train_time_s"]
    assert res.queries[0]["index"] == rep and res.queries[0]["cost_s"] == pytest.approx(cost)
    assert res.report["queries"] == 3 and res.report["trials"] >= 5
    charged = sum(q["cost_s"] for q in res.queries)
    assert res.report["simulated_seconds"] == pytest.approx(charged)


def test_simulated_time_budget(nb201):
    res = run_search("tss", DATASET, OBJECTIVES, "random", budget_seconds=20000, bench=nb201)
    clocks = [q["clock_s"] for q in res.queries]
    assert clocks[-2] < 20000 <= clocks[-1]  # NATS-Bench: the run stops once the clock passes T
    assert res.report["simulated_seconds"] == pytest.approx(clocks[-1])


def test_single_objective_and_hcs_errors(nb201):
    res = run_search("tss", DATASET, "valid_acc", "tpe", trials=20, bench=nb201)
    assert len(res.report["pareto_front"]) >= 1 and not res.report["multi_fidelity"]
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        run_search("tss", DATASET, "hcs", "tpe", trials=5, bench=nb201)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"objectives": "valid_acc,pre_ECE_15"}, "unknown metric 'pre_ECE_15'"),
        ({"objectives": "valid_acc,bogus_col"}, "unknown metric 'bogus_col'"),
        ({"strategy": "annealing"}, "unknown strategy 'annealing'"),
        ({"storage": "nosuchdb://x/y"}, "cannot open storage"),
        ({"storage": "postgresql+psycopg2://u:secret@127.0.0.1:1/db"}, "cannot open storage"),
        ({"trials": 0}, "empty budget"),
        ({"trials": None}, "empty budget"),
        ({"trials": None, "budget_seconds": 0}, "empty budget"),
        ({"backend": "oracle"}, "unknown backend"),
        ({"workers": 0}, "workers"),
    ],
)
def test_clear_errors(nb201, kwargs, match):
    args = {"objectives": OBJECTIVES, "strategy": "random", "trials": 5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        run_search("tss", DATASET, args.pop("objectives"), args.pop("strategy"), bench=nb201,
                   **args)  # fmt: skip
    assert "secret" not in str(info.value)


def test_missing_journal_folder(nb201, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_search("tss", DATASET, OBJECTIVES, "random", trials=5, bench=nb201,
                   storage=str(tmp_path / "no" / "such.journal"))  # fmt: skip


def test_resumed_study_must_match(nb201, tmp_path):
    storage = str(tmp_path / "s.journal")
    run_search("tss", DATASET, OBJECTIVES, "random", trials=5, bench=nb201, storage=storage,
               study_name="x")  # fmt: skip
    with pytest.raises(ValueError, match="already holds a different search"):
        run_search("tss", DATASET, "valid_acc", "random", trials=5, bench=nb201, storage=storage,
                   study_name="x")  # fmt: skip
    # same search, larger budget: continues
    res = run_search("tss", DATASET, OBJECTIVES, "random", trials=12, bench=nb201,
                     storage=storage, study_name="x")  # fmt: skip
    assert res.report["queries"] == 12 and len(res.study.trials) >= 12


def test_report_files(nb201, tmp_path):
    from search.report import write_report

    res = run_search("tss", DATASET, OBJECTIVES, "nsga2", trials=30, bench=nb201)
    paths = write_report(res, tmp_path / "out")
    rep = json.loads(paths["report"].read_text())
    for key in ("space", "dataset", "objectives", "strategy", "pareto_front", "normalized_hv",
                "igd_plus", "queries", "simulated_seconds", "hcs_pick"):  # fmt: skip
        assert key in rep
    assert set(rep["pareto_front"][0]) == {"index", "arch", "values"}
    for kind in ("front", "hv"):
        assert paths[kind].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.isclose(rep["normalized_hv"], res.hv_history[-1])
