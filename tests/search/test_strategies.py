from __future__ import annotations

import optuna
import pytest

from bench.spaces import get_space
from search.strategies import (
    STRATEGIES,
    ExhaustiveSampler,
    REASampler,
    make_sampler,
    parse_strategy,
)


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
