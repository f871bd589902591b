from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from bench.arch.spaces import get_space
from search import SearchConfig, compare_strategies
from search.runner import run_search
from search.samplers import STRATEGIES
from search.storage import open_storage

DATASET = "digits"  # the embedded demo table: every install can run these tests
OBJECTIVES = "acc,pre_ECE_15"

FAST = {"gp": "gp:n_startup_trials=4"}


@pytest.fixture(scope="module")
def small_surrogate(demo):
    from surrogate.model import Surrogate

    return Surrogate.from_benchmark(
        demo, "tss", DATASET, ["acc", "pre_ECE_15"], n_train=300, n_estimators=40, n_members=0
    )


@pytest.mark.parametrize("backend", ["table", "surrogate", "compute"])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_on_every_backend(demo, small_surrogate, name, backend, tmp_path):
    if backend == "compute":
        _compute_search(name, tmp_path)
        return
    trials = 8 if name == "gp" else 25
    res = run_search("tss", DATASET, OBJECTIVES, FAST.get(name, name), trials=trials, bench=demo,
                     backend=backend, surrogate=small_surrogate, seed=1)  # fmt: skip
    rep = res.report
    assert rep["queries"] == trials == len(res.queries)
    assert len({q["index"] for q in res.queries}) == trials  # a query is a distinct class
    assert 0 < rep["normalized_hv"] <= 1 + 1e-9 and rep["igd_plus"] >= 0
    assert len(rep["hv_history"]) == trials and rep["pareto_front"]
    assert rep["predicted_signal"] == (backend == "surrogate")
    # reported values are the table's, whatever the search saw
    for row in rep["pareto_front"]:
        truth = demo.query("tss", DATASET, row["index"], ["acc"])["values"]["acc"]
        assert row["values"]["acc"] == pytest.approx(truth)
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


def test_same_seed_same_result(demo):
    a = run_search("tss", DATASET, OBJECTIVES, "rea", trials=40, bench=demo, seed=5).report
    b = run_search("tss", DATASET, OBJECTIVES, "rea", trials=40, bench=demo, seed=5).report
    assert a["pareto_front"] == b["pareto_front"] and a["hv_history"] == b["hv_history"]


def test_a_config_and_its_fields_run_the_same_search(demo):
    config = SearchConfig("tss", DATASET, OBJECTIVES, "pls", trials=15, bench=demo, seed=2)
    a = run_search(config)
    b = run_search("tss", DATASET, OBJECTIVES, "pls", trials=15, bench=demo, seed=2)
    assert [t.params for t in a.study.trials] == [t.params for t in b.study.trials]
    assert a.report == b.report and config.study_name is None  # the config is not changed
    with pytest.raises(ValueError, match="not both"):
        run_search(config, trials=3)


def test_config_checks_every_option_when_built():
    assert SearchConfig("TSS", DATASET, OBJECTIVES, trials=3).space == "tss"
    assert SearchConfig("tss", DATASET, OBJECTIVES, budget_seconds="2.5").budget_seconds == 2.5
    assert SearchConfig("tss", DATASET, OBJECTIVES, "brute").trials is None  # brute: no budget
    bad = [
        ({"max_repeats": 0}, "max_repeats"),
        ({"seed": 1.5}, "seed"),
        ({"multi_fidelity": "yes"}, "multi_fidelity"),
        ({"trials": 3, "budget_seconds": 9}, "not both"),
        ({"compute": {"epochs": 1}}, "backend='compute' only"),
    ]
    for options, match in bad:
        with pytest.raises(ValueError, match=match):
            SearchConfig("tss", DATASET, OBJECTIVES, **{"trials": 3, **options})


def test_compare_checks_every_strategy_before_any_run(demo):
    rows = compare_strategies("tss", DATASET, OBJECTIVES, ["random", "pls"], runs=2,
                              budgets=[5, 10], bench=demo)  # fmt: skip
    assert [r["strategy"] for r in rows] == ["random", "pls"] and rows[0]["reached"].endswith("/2")
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        compare_strategies("tss", DATASET, OBJECTIVES, ["random", "nope"], runs=1, budgets=[5],
                           bench=demo)  # fmt: skip


def test_proxy_epoch_is_searched_and_final_epoch_scored(demo):
    res = run_search("tss", DATASET, OBJECTIVES, "random", trials=10, bench=demo, proxy_epoch=2)
    rep = res.report
    assert (rep["signal_epoch"], rep["final_epoch"]) == (2, 4)
    proxy = demo.frame("tss", DATASET, ["acc"], epoch=2).set_index("config")["acc"]
    first = min(res.study.trials, key=lambda t: t.number)
    assert first.values[0] == pytest.approx(proxy[first.user_attrs["rep"]])  # the search saw 2
    for q in res.queries:  # the report scores the final epoch
        final = demo.query("tss", DATASET, q["index"], ["acc"])["values"]["acc"]
        assert q["values"]["acc"] == pytest.approx(final)


def test_an_imported_nb201_table_is_searched(nb201):
    # the real importer's table (skipped without the nb201 extra): 200-epoch rows only
    rep = run_search("tss", "cifar10-valid", "valid_acc,params_m", "mpls", trials=20,
                     bench=nb201).report  # fmt: skip
    assert rep["sources"] == ["nb201"] and rep["signal_epoch"] == rep["final_epoch"] == 200
    assert rep["queries"] == 20 and 0 < rep["normalized_hv"] <= 1 + 1e-9


def test_constraints_restrict_the_front(demo):
    res = run_search("tss", DATASET, OBJECTIVES, "tpe", trials=40, bench=demo,
                     constraints="params_m<=0.03,acc>=0.8", seed=0)  # fmt: skip
    rep = res.report
    assert rep["constraints"] == ["params_m<=0.03", "acc>=0.8"]
    for row in rep["pareto_front"] + res.true_front:
        assert row["values"]["params_m"] <= 0.03 and row["values"]["acc"] >= 0.8
    infeasible = [t for t in res.study.trials if any(v > 0 for v in t.constraints.values())]
    assert infeasible, "the sampler saw constraint values through trial.set_constraint"
    with pytest.raises(ValueError, match="empty true front"):
        run_search("tss", DATASET, OBJECTIVES, "random", trials=5, bench=demo,
                   constraints="params_m<=0.0001")  # fmt: skip


def test_cache_answers_repeats_and_isomorphic_cells_for_free(demo, tmp_path):
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
    res = run_search("tss", DATASET, OBJECTIVES, "random", trials=3, bench=demo,
                     storage=storage, study_name=name, seed=0)  # fmt: skip
    trials = sorted(res.study.trials, key=lambda t: t.number)
    assert [t.user_attrs["cached"] for t in trials[:3]] == [False, True, True]
    assert len({t.user_attrs["rep"] for t in trials[:3]}) == 1
    cost = demo.query("tss", DATASET, rep, ["train_time_s"])["values"]["train_time_s"]
    assert res.queries[0]["index"] == rep and res.queries[0]["cost_s"] == pytest.approx(cost)
    assert res.report["queries"] == 3 and res.report["trials"] >= 5
    charged = sum(q["cost_s"] for q in res.queries)
    assert res.report["simulated_seconds"] == pytest.approx(charged)


def test_simulated_time_budget(demo):
    res = run_search("tss", DATASET, OBJECTIVES, "random", budget_seconds=25, bench=demo)
    clocks = [q["clock_s"] for q in res.queries]
    assert clocks[-2] < 25 <= clocks[-1]  # NATS-Bench: the run stops once the clock passes T
    assert res.report["simulated_seconds"] == pytest.approx(clocks[-1])


def test_single_objective_and_hcs_errors(demo):
    res = run_search("tss", DATASET, "acc", "tpe", trials=20, bench=demo, multi_fidelity=False)
    assert len(res.report["pareto_front"]) >= 1 and not res.report["multi_fidelity"]
    res = run_search("tss", DATASET, "hcs@post_ECE_15", "tpe", trials=5, bench=demo)
    assert res.report["objectives"] == ["hcs@post_ECE_15:max"]
    with pytest.raises(ValueError, match="unknown metric 'auc_svhn'"):
        run_search("tss", DATASET, "hcs@auc_svhn", "tpe", trials=5, bench=demo)
    with pytest.raises(ValueError, match="multi-fidelity"):
        run_search("tss", DATASET, OBJECTIVES, "tpe", trials=5, bench=demo, multi_fidelity=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"objectives": "acc,valid_acc"}, "unknown metric 'valid_acc'"),
        ({"objectives": "acc,bogus_col"}, "unknown metric 'bogus_col'"),
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
def test_clear_errors(demo, kwargs, match):
    args = {"objectives": OBJECTIVES, "strategy": "random", "trials": 5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        run_search("tss", DATASET, args.pop("objectives"), args.pop("strategy"), bench=demo,
                   **args)  # fmt: skip
    assert "secret" not in str(info.value)


def test_missing_journal_folder(demo, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_search("tss", DATASET, OBJECTIVES, "random", trials=5, bench=demo,
                   storage=str(tmp_path / "no" / "such.journal"))  # fmt: skip


def test_resumed_study_must_match(demo, tmp_path):
    storage = str(tmp_path / "s.journal")
    run_search("tss", DATASET, OBJECTIVES, "random", trials=5, bench=demo, storage=storage,
               study_name="x")  # fmt: skip
    with pytest.raises(ValueError, match="already holds a different search"):
        run_search("tss", DATASET, "acc", "random", trials=5, bench=demo, storage=storage,
                   study_name="x")  # fmt: skip
    # same search, larger budget: continues
    res = run_search("tss", DATASET, OBJECTIVES, "random", trials=12, bench=demo,
                     storage=storage, study_name="x")  # fmt: skip
    assert res.report["queries"] == 12 and len(res.study.trials) >= 12


def test_report_files(demo, tmp_path):
    from search.report import write_report

    res = run_search("tss", DATASET, OBJECTIVES, "nsga2", trials=30, bench=demo)
    paths = write_report(res, tmp_path / "out")
    rep = json.loads(paths["report"].read_text())
    for key in ("space", "dataset", "objectives", "strategy", "pareto_front", "normalized_hv",
                "igd_plus", "queries", "simulated_seconds", "hcs_pick"):  # fmt: skip
        assert key in rep
    assert set(rep["pareto_front"][0]) == {"index", "arch", "values"}
    for kind in ("front", "hv"):
        assert paths[kind].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.isclose(rep["normalized_hv"], res.hv_history[-1])
