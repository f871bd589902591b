"""Warm start from another dataset's table (search.prior): real NB201 tables (the nb201 extra),
real Optuna storages, the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.errors import InputError
from search.cli import main
from search.config import SearchConfig
from search.indicators import hypervolume, pareto_mask, to_losses
from search.prior import PRIOR_SIZE, greedy_order, warm_start
from search.problem import load_problem
from search.runner import run_search

OBJ = "valid_acc,train_time_s"


def _problems(nb201, prior="cifar100"):
    cfg = SearchConfig("tss", "cifar10-valid", OBJ, trials=50, bench=nb201, prior=prior)
    return cfg, load_problem(nb201, cfg)


def test_the_search_first_queries_the_prior_in_order_and_reports_it(nb201):
    cfg, problem = _problems(nb201)
    design = warm_start(nb201, cfg, problem)
    res = run_search("tss", "cifar10-valid", OBJ, "mpls", trials=30, bench=nb201, seed=3,
                     prior="cifar100")  # fmt: skip
    assert res.report["prior"] == {"dataset": "cifar100", "queued": PRIOR_SIZE}
    assert [q["index"] for q in res.queries[:PRIOR_SIZE]] == design
    assert len(set(design)) == PRIOR_SIZE and res.report["queries"] == 30
    # without a prior the same seed starts elsewhere, and the report says there was none
    plain = run_search("tss", "cifar10-valid", OBJ, "mpls", trials=30, bench=nb201, seed=3)
    assert plain.report["prior"] is None
    assert [q["index"] for q in plain.queries[:PRIOR_SIZE]] != design


def test_the_design_is_the_prior_front_first_in_greedy_hypervolume_order(nb201):
    cfg, problem = _problems(nb201)
    prior = load_problem(nb201, SearchConfig("tss", "cifar100", OBJ, trials=1, bench=nb201))
    front_idx, front_vals = prior.true_front()
    design = warm_start(nb201, cfg, problem, size=len(front_idx) + 5)
    # every class of the prior's front comes before anything of its second layer
    assert set(design[: len(front_idx)]) == set(problem.reps[front_idx].tolist())
    # the first pick is the front member with the largest hypervolume on its own
    losses = to_losses(front_vals, prior.objectives)
    ref = losses.max(axis=0) + 0.1 * (losses.max(axis=0) - losses.min(axis=0))
    alone = [hypervolume(p[None], ref) for p in losses]
    assert design[0] == int(problem.reps[front_idx[int(np.argmax(alone))]])


@pytest.mark.parametrize("k", [2, 3])
def test_greedy_order_adds_the_most_hypervolume_at_every_step(k):
    rng = np.random.default_rng(k)
    pts = rng.random((40, k))
    pts = pts[pareto_mask(pts)]
    order = greedy_order(pts, 6)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ref = hi + 0.1 * (hi - lo)
    for step in range(len(order)):
        before = pts[order[:step]]
        gains = [hypervolume(np.vstack([before, p]), ref) for p in pts]
        assert hypervolume(pts[order[: step + 1]], ref) == pytest.approx(max(gains))
    assert len(set(order.tolist())) == len(order)


def test_greedy_order_of_one_objective_is_best_first():
    assert greedy_order(np.array([[0.3], [0.1], [0.2]]), 5).tolist() == [1, 2, 0]


def test_a_small_budget_queues_only_what_it_can_spend(nb201):
    res = run_search("tss", "cifar10-valid", OBJ, "random", trials=7, bench=nb201, seed=0,
                     prior="cifar100")  # fmt: skip
    assert res.report["prior"]["queued"] == 7 and res.report["queries"] == 7
    assert not [t for t in res.study.get_trials(deepcopy=False) if t.state.name == "WAITING"]


def test_a_resumed_search_is_not_warm_started_twice(nb201, tmp_path):
    journal = str(tmp_path / "s.journal")
    kw = dict(bench=nb201, seed=1, prior="cifar100", storage=journal)
    first = run_search("tss", "cifar10-valid", OBJ, "mpls", trials=25, **kw)
    again = run_search("tss", "cifar10-valid", OBJ, "mpls", trials=40, **kw)
    assert again.report["prior"] == first.report["prior"]
    assert [q["index"] for q in again.queries[:25]] == [q["index"] for q in first.queries]
    indices = [q["index"] for q in again.queries]
    assert len(indices) == len(set(indices)) == 40


def test_two_workers_share_one_warm_start(nb201, tmp_path):
    res = run_search("tss", "cifar10-valid", OBJ, "mpls", trials=30, bench=nb201, seed=0,
                     prior="cifar100", workers=2, storage=str(tmp_path / "w.journal"))  # fmt: skip
    cfg, problem = _problems(nb201)
    design = set(warm_start(nb201, cfg, problem))
    got = [q["index"] for q in res.queries]
    assert design <= set(got) and len(got) == len(set(got))


def test_bad_priors_are_refused_with_their_reason(nb201, nb201_path):
    from bench.table.benchmark import Benchmark

    both = Benchmark.open(nb201_path)  # NB201 and the embedded digits table
    with pytest.raises(InputError, match="the searched dataset itself"):
        SearchConfig("tss", "cifar100", OBJ, trials=5, prior="cifar100")
    with pytest.raises(InputError, match="prior must be a dataset name"):
        SearchConfig("tss", "cifar100", OBJ, trials=5, prior=" ")
    with pytest.raises(InputError, match="prior 'nope': the benchmark holds nothing"):
        run_search("tss", "cifar10-valid", OBJ, trials=5, bench=nb201, prior="nope")
    # the embedded digits table has no valid_acc: said, with the prior's name
    with pytest.raises(InputError, match="prior 'digits': unknown metric 'valid_acc'"):
        run_search("tss", "cifar10-valid", OBJ, trials=5, bench=both, prior="digits")
    with pytest.raises(InputError, match="prior 'cifar10-valid': unknown metric 'acc'"):
        run_search("tss", "digits", "acc,pre_ECE_15", trials=5, bench=both,
                   prior="cifar10-valid")  # fmt: skip


def test_the_cli_warm_starts_and_says_so(nb201_path, tmp_path, capsys):
    argv = ["search", "run", "--bench", str(nb201_path), "--dataset", "cifar10-valid",
            "--objectives", OBJ, "--prior", "cifar100", "--trials", "25"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "warm start: 20 best of the cifar100 table first" in capsys.readouterr().out
    assert main([*argv, "--format", "json", "--out", str(tmp_path / "b")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["prior"] == {"dataset": "cifar100", "queued": 20}
    assert main([*argv[:-4], "--prior", "cifar10-valid", "--out", str(tmp_path / "c")]) == 2
    assert "the searched dataset itself" in capsys.readouterr().err
    cmp_ = ["search", "compare", "--bench", str(nb201_path), "--dataset", "cifar10-valid",
            "--objectives", OBJ, "--prior", "cifar100", "--strategies", "random", "--runs", "2",
            "--budgets", "5", "--format", "json"]  # fmt: skip
    assert main(cmp_) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["reached"] == "2/2"  # the warm start covers this front within its 20 queries


def test_the_design_follows_the_objectives(nb201):
    # accuracy against latency has another front than against train time
    designs = {}
    for obj in (OBJ, "valid_acc,latency_s"):
        cfg = SearchConfig("tss", "cifar10-valid", obj, trials=50, bench=nb201, prior="cifar100")
        designs[obj] = warm_start(nb201, cfg, load_problem(nb201, cfg))
    a, b = designs.values()
    assert a != b and len(set(a)) == len(set(b)) == PRIOR_SIZE
