from __future__ import annotations

import numpy as np
import optuna
import pytest

from bench.arch.spaces import get_space
from search.samplers import (
    STRATEGIES,
    ExhaustiveSampler,
    REASampler,
    make_sampler,
    parse_strategy,
)
from search.samplers.model_guide import acquire


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_builds(name):
    assert isinstance(make_sampler(name, get_space("tss"), seed=0), optuna.samplers.BaseSampler)


def test_unknown_strategy_and_bad_parameters():
    with pytest.raises(ValueError, match="unknown strategy 'hillclimb'; accepted: random"):
        parse_strategy("hillclimb")
    with pytest.raises(ValueError, match="bad parameters"):
        make_sampler("rea:popsize=3", get_space("tss"))
    with pytest.raises(ValueError, match="not key=value"):
        parse_strategy("nsga2:population_size")
    with pytest.raises(ValueError, match="tournament_size"):
        REASampler({"x": (1, 2)}, population_size=2, tournament_size=3)


def test_rea_mutates_one_edge_to_a_different_op():
    space = get_space("tss")
    sampler = make_sampler("rea", space, seed=3)
    assert (sampler.population_size, sampler.tournament_size) == (10, 3)  # NATS-Bench's setting
    study = optuna.create_study(sampler=sampler)
    names = space.param_names()
    choices = space.param_space()

    def objective(trial):
        params = {n: trial.suggest_categorical(n, choices[n]) for n in names}
        return space.index(space.from_params(params)) % 97

    study.optimize(objective, n_trials=60)
    trials = study.trials
    for t in trials[10:]:
        # every child differs from some member of the population it came from in exactly one edge
        pop = trials[max(0, t.number - 10) : t.number]
        dist = [sum(t.params[n] != p.params[n] for n in names) for p in pop]
        assert 1 in dist


def test_exhaustive_visits_each_tss_class_once():
    space = get_space("tss")
    sampler = ExhaustiveSampler.for_space(space)
    assert len(sampler.candidates) == 6466
    reps = {space.representative(space.from_params(c)) for c in sampler.candidates}
    assert len(reps) == 6466


def _tss_study(sampler, n_trials, objective=None):
    space = get_space("tss")
    names, choices = space.param_names(), space.param_space()
    reps = space.representatives()
    codes = space.encode_all("ops")

    def two_objectives(trial):
        params = {n: trial.suggest_categorical(n, choices[n]) for n in names}
        idx = int(reps[space.index(space.from_params(params))])
        # a cheap two-objective problem with a real front: op sums pull in opposite directions
        return float(codes[idx].sum()), float((codes[idx] == 0).sum())

    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(objective or two_objectives, n_trials=n_trials)
    return study, space


def test_pls_never_repeats_a_class_and_mutates_the_front_by_one_edge():
    sampler = make_sampler("pls:n_startup=8,p_random=0.0", get_space("tss"), seed=2)
    study, space = _tss_study(sampler, 80)
    reps = [space.representative(space.from_params(t.params)) for t in study.trials]
    assert len(set(reps)) == len(reps)  # no isomorphism class queried twice
    for t in study.trials[8:]:
        # past the random start, a child is one edge away from an earlier trial (a member of the
        # front, or of a later layer once the front's neighbours are used up): classes compared
        child = space.representative(space.from_params(t.params))
        neigh = set()
        for b in study.trials[: t.number]:
            r = space.representative(space.from_params(b.params))
            neigh |= {space.representative(a) for a in space.neighbours(r)}
        assert child in neigh


def test_pls_same_seed_same_trials_and_bad_parameters():
    a, _ = _tss_study(make_sampler("pls", get_space("tss"), seed=5), 30)
    b, _ = _tss_study(make_sampler("pls", get_space("tss"), seed=5), 30)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    bad_specs = [
        ("pls:n_startup=0", "n_startup"),
        ("pls:p_random=2", "p_random"),
        ("pls:weights='x'", "weights"),
        ("pls:startup='gp'", "startup"),
    ]
    for bad, match in bad_specs:
        with pytest.raises(ValueError, match=match):
            make_sampler(bad, get_space("tss"))


def test_pls_tpe_start_and_sss():
    study, space = _tss_study(make_sampler("pls:startup='tpe',n_startup=15", get_space("tss"),
                                           seed=0), 30)  # fmt: skip
    reps = {space.representative(space.from_params(t.params)) for t in study.trials}
    assert len(reps) == 30
    sss = get_space("sss")
    s = make_sampler("pls", sss, seed=0)
    st = optuna.create_study(sampler=s)
    st.optimize(lambda t: sum(t.suggest_categorical(n, c) for n, c in sss.param_space().items()),
                n_trials=40)  # fmt: skip
    assert len({tuple(t.params.values()) for t in st.trials}) == 40
    assert st.best_value <= 8 * 5 + 8 * 3  # local search walks down towards the smallest widths


@pytest.mark.slow  # three mpls runs (~8 s)
def test_mpls_never_repeats_is_seeded_and_checks_parameters():
    a, space = _tss_study(make_sampler("mpls", get_space("tss"), seed=4), 60)
    b, _ = _tss_study(make_sampler("mpls", get_space("tss"), seed=4), 60)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    reps = [space.representative(space.from_params(t.params)) for t in a.trials]
    assert len(set(reps)) == 60
    # the first n_startup trials are the start design, drawn at once without replacement
    assert reps[:10] == [int(r) for r in a.sampler._design]
    bad_specs = [("mpls:model='gp'", "model"), ("mpls:refit_every=0", "refit_every"),
                 ("mpls:members=0", "members")]  # fmt: skip
    for bad, match in bad_specs:
        with pytest.raises(ValueError, match=match):
            make_sampler(bad, get_space("tss"))


def test_mpls_explores_as_random_search_draws():
    # p_explore=1: every trial past the start is random search's draw (a uniform NATS index's
    # class), which favours large isomorphism classes: one index draw meets a class of 36 cells
    # on average, one uniform class draw a class of 2.4 (without replacement, less: about 20)
    space = get_space("tss")
    sizes = np.bincount(space.representatives(), minlength=space.size)
    study, _ = _tss_study(make_sampler("mpls:p_explore=1.0,n_startup=5", space, seed=1), 200)
    reps = [space.representative(space.from_params(t.params)) for t in study.trials]
    assert len(set(reps)) == 200  # never a class twice
    assert study.sampler._guide is None  # no model was fitted: every trial was a draw
    assert sizes[reps[5:]].mean() > 5 * sizes[space.unique_indices()].mean()
    for bad, match in [("mpls:p_explore=2", "p_explore"), ("mpls:refit_growth=-1", "refit_growth")]:
        with pytest.raises(ValueError, match=match):
            make_sampler(bad, space)


def test_model_guide_predicts_a_class_the_same_alone_or_in_a_pool():
    # predictions are computed lazily per class after a fit: the order in which classes are
    # asked for must not change them
    from search.samplers.model_guide import ModelGuide

    space = get_space("tss")
    reps = space.unique_indices()
    rng = np.random.default_rng(0)
    known, pool = reps[:60], reps[100:400]
    losses = rng.random((60, 2))
    lazy = ModelGuide(space, np.random.default_rng(5), refit_every=5, members=2)
    first = lazy.predict(known, losses, pool[:7])
    second = lazy.predict(known, losses, pool)  # the same 60 classes: no refit
    whole = ModelGuide(space, np.random.default_rng(5), refit_every=5, members=2)
    assert np.array_equal(second[:, :7], first)
    assert np.array_equal(whole.predict(known, losses, pool), second)
    assert second.shape == (2, 300, 2) and second.dtype == np.float64


@pytest.mark.slow  # model-guided search to the front (~10 s)
def test_mpls_follows_the_model_to_the_front():
    # Same toy problem, same 40 trials, three seeds: the model-guided search ends on a front
    # with more hypervolume than random search's.
    from search.indicators import hypervolume, pareto_mask

    def front_hv(study):
        pts = [[t.values[0], -t.values[1]] for t in study.trials]
        pts = np.array(pts)
        return hypervolume(pts[pareto_mask(pts)], np.array([25.0, 1.0]))

    guided = [front_hv(_tss_study(make_sampler("mpls", get_space("tss"), seed=s), 40)[0])
              for s in range(3)]  # fmt: skip
    blind = [front_hv(_tss_study(make_sampler("random", get_space("tss"), seed=s), 40)[0])
             for s in range(3)]  # fmt: skip
    assert np.mean(guided) > np.mean(blind)


def test_acquire_by_number_of_objectives():
    rng = np.random.default_rng(0)
    cands = np.array([[0.5, 0.5], [3.0, 3.0], [0.1, 0.1]])
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert acquire(cands[:, :1], front[:, :1], rng) == 2  # one objective: the lowest loss
    assert acquire(cands, front, rng) == 2  # the largest hypervolume gain
    # nothing improves the front: the candidate that needs the smallest shift
    assert acquire(np.array([[2.0, 2.0], [1.1, 1.1]]), front, rng) == 1
    three = rng.random((50, 3))
    assert 0 <= acquire(three, rng.random((5, 3)), rng) < 50
    # an ensemble: the gain is averaged over members, so a candidate that improves the front
    # under one member only loses to one that improves it under both
    members = np.array([[[0.5, 0.5], [0.4, 0.4]], [[0.5, 0.5], [3.0, 3.0]]])
    assert acquire(members, front, rng) == 0
    # one objective with members: the expected improvement on the best loss
    assert acquire(np.array([[[0.2], [-1.0]], [[0.2], [5.0]]]), np.array([[0.5]]), rng) == 1


@pytest.mark.slow  # mpls on the SSS table (~6 s)
def test_mpls_on_sss_and_three_objectives():
    sss = get_space("sss")
    st = optuna.create_study(directions=["minimize"] * 3,
                             sampler=make_sampler("mpls", sss, seed=0))  # fmt: skip

    def f(t):
        w = [t.suggest_categorical(n, c) for n, c in sss.param_space().items()]
        return sum(w), -min(w), float(w[0] - w[-1])

    st.optimize(f, n_trials=30)
    assert len({tuple(t.params.values()) for t in st.trials}) == 30
