"""Searching a table that holds a sample of its space (the SSS demo tables: 2,048 of 32,768).

rea, pls, mpls and brute keep to the held architectures; before they did, regularized evolution
stalled after 19 distinct networks on fashion8's SSS sample (its one-layer children are not in
the table 15 times in 16).
"""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from bench.arch.spaces import get_space
from bench.errors import InputError
from search import run_search
from search.samplers import REASampler, make_sampler
from search.samplers._common import nearest


def _held(demo, dataset: str) -> np.ndarray:
    """Per SSS index, whether the demo table of ``dataset`` holds it."""
    frame = demo.frame("sss", dataset, ["acc"])
    held = np.zeros(get_space("sss").size, dtype=bool)
    held[frame["config"].to_numpy()] = True
    return held


def test_nearest_moves_to_the_fewest_changes_and_never_stays():
    codes = np.array([[0, 0, 0], [0, 0, 1], [2, 0, 1], [1, 1, 1]])
    assert nearest(codes, np.array([0, 0, 0])).tolist() == [1]
    assert nearest(codes[2:], np.array([0, 0, 0])).tolist() == [0]  # two changes, not three
    assert nearest(codes, np.array([0, 1, 1])).tolist() == [1, 3]
    assert nearest(codes[:1], np.array([0, 0, 0])).tolist() == []  # only itself: no move
    assert nearest(codes[:0], np.array([0, 0, 0])).tolist() == []


@pytest.mark.parametrize("strategy", ["rea", "pls", "mpls", "brute"])
def test_search_of_a_sampled_table_keeps_to_it(demo_path, demo, strategy):
    held = _held(demo, "fashion8")
    assert held.sum() == 2048
    res = run_search(
        "sss", "fashion8", "acc,pre_ECE_15", strategy, trials=150, seed=0, bench=str(demo_path)
    )
    assert res.report["stopped"] == "trials"
    assert res.report["distinct_architectures"] == 2048  # what the table holds
    assert len(res.queries) == 150
    proposed = [t.user_attrs["index"] for t in res.study.trials]
    assert all(held[i] for i in proposed), "a proposal the table does not hold"
    if strategy != "rea":  # pls, mpls and brute never propose a network twice
        assert len(proposed) == len(set(proposed)) == 150


def test_rea_on_a_sampled_table_walks_to_the_nearest_new_candidate(demo):
    space = get_space("sss")
    held = _held(demo, "digits")
    sampler = make_sampler("rea", space, seed=1, held=held)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    choices = space.param_space()
    codes = space.codes()

    def objective(trial):
        params = {n: trial.suggest_categorical(n, c) for n, c in choices.items()}
        w = [params[n] for n in space.param_names()]
        return w[-1] + w[-2], sum(w)

    study.optimize(objective, n_trials=120)
    index = [space.index(space.from_params(t.params)) for t in study.trials]
    assert all(held[i] for i in index)
    assert len(set(index)) == 120  # 2,048 candidates: no repeat before they run out
    for t, i in zip(study.trials[10:], index[10:], strict=True):
        # a child is one of the candidates nearest some member of the population, among the
        # candidates not proposed before it
        before = np.array(index[: t.number])
        fresh = np.setdiff1d(np.flatnonzero(held), before)
        ok = False
        for p in before[-10:]:
            near = fresh[nearest(codes[fresh], codes[p])]
            ok |= i in near
        assert ok, f"trial {t.number} proposed {i}, not a nearest fresh candidate"


def test_a_full_table_searches_exactly_as_before():
    space = get_space("tss")

    def trials(held):
        sampler = make_sampler("pls", space, seed=5, held=held)
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        choices = space.param_space()

        def objective(trial):
            i = space.index(space.from_params({n: trial.suggest_categorical(n, c)
                                               for n, c in choices.items()}))  # fmt: skip
            return i % 101, i % 37

        study.optimize(objective, n_trials=40)
        return [t.params for t in study.trials]

    assert trials(None) == trials(np.ones(space.size, dtype=bool))


def test_bad_held_and_candidates_are_refused():
    sss = get_space("sss")
    with pytest.raises(InputError, match="one bool for each of the 32768 indices"):
        make_sampler("pls", sss, held=np.ones(10, dtype=bool) & False)
    with pytest.raises(InputError, match="one bool for each"):
        make_sampler("mpls", sss, held=np.zeros(sss.size, dtype=int))
    with pytest.raises(InputError, match="holds nothing to search"):
        make_sampler("pls", sss, held=np.zeros(sss.size, dtype=bool))
    with pytest.raises(InputError, match="candidates is empty"):
        REASampler({"x": (1, 2)}, candidates=[])
    with pytest.raises(InputError, match="one of the choices for each parameter"):
        REASampler({"x": (1, 2)}, candidates=[{"x": 3}])
    with pytest.raises(InputError, match="one of the choices for each parameter"):
        REASampler({"x": (1, 2), "y": (0,)}, candidates=[{"x": 1}])
    for strategy in ("rea:candidates=3", "pls:held=1", "mpls:classes=0"):
        with pytest.raises(InputError, match="from the table searched, not from the strategy"):
            make_sampler(strategy, sss)
