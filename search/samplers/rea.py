"""Regularized evolution as NATS-Bench runs it: :class:`REASampler`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from bench.errors import InputError
from search._optuna import cached_trials
from search.indicators import pareto_mask
from search.samplers._common import losses, nearest, uniform_choice, violations

__all__ = ["REASampler"]


class REASampler(BaseSampler):
    """Regularized evolution (Real et al. 2019) as NATS-Bench runs it, as an Optuna sampler.

    The population is the ``population_size`` most recent completed trials (aging: the oldest
    leaves as a child arrives). Until the population is full, architectures are drawn uniformly.
    Then ``tournament_size`` members are drawn without replacement, the best becomes the parent,
    and the child is the parent with one parameter changed: to a different choice
    (``mutation="different"``, NATS-Bench's TSS rule) or resampled, possibly unchanged
    (``mutation="resample"``, its SSS rule). With several objectives the tournament winner is a
    random non-dominated member of the sample; with constraints, feasible members beat infeasible
    ones and smaller total violation beats larger. All state lives in the study, so several
    workers can share one study and a resumed study picks up where it stopped.

    ``candidates`` (the parameters of the architectures a sampled table holds; None: every
    combination) keeps the search on them: the first population is drawn uniformly among them,
    and a child is, among the candidates no trial has proposed yet, one nearest its parent
    (fewest parameters changed, at least one; see :func:`~search.samplers._common.nearest`),
    whatever ``mutation`` says. On the SSS demo tables (2,048 of 32,768 networks) 15 of 16
    one-layer children are not in the table, and an architecture has about two held neighbours:
    plain mutation stalled after 19 distinct networks, nearest held ones after 32, both
    proposing the same few networks again until the search stopped.

    Example:
        >>> import optuna
        >>> space = {"x": (0, 1, 2, 3), "y": (0, 1, 2, 3)}
        >>> study = optuna.create_study(sampler=REASampler(space, seed=0))
        >>> study.optimize(lambda t: (t.suggest_categorical("x", space["x"]) - 2) ** 2
        ...                + t.suggest_categorical("y", space["y"]), n_trials=40)
        >>> study.best_value
        0.0
    """

    def __init__(
        self,
        param_space: Mapping[str, Sequence[Any]],
        *,
        population_size: int = 10,
        tournament_size: int = 3,
        mutation: str = "different",
        candidates: Sequence[Mapping[str, Any]] | None = None,
        seed: int | None = None,
    ) -> None:
        if not param_space:
            raise InputError("REASampler needs a non-empty parameter space")
        if int(population_size) < 2:
            raise InputError(f"population_size must be >= 2, got {population_size}")
        if not 1 <= int(tournament_size) <= int(population_size):
            raise InputError(
                f"tournament_size must be in 1..population_size ({population_size}), "
                f"got {tournament_size}"
            )
        if mutation not in ("different", "resample"):
            raise InputError(f"mutation must be 'different' or 'resample', got {mutation!r}")
        self.param_space = {k: tuple(v) for k, v in param_space.items()}
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)
        self.mutation = mutation
        if candidates is not None and not len(candidates):
            raise InputError("REASampler: candidates is empty (the table holds nothing to search)")
        self._candidates = None if candidates is None else self._encode(candidates)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reseed_rng(self) -> None:
        """Draw a fresh seed (Optuna calls this in each process of a parallel ``optimize``)."""
        self._rng = np.random.default_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The whole parameter space: a child is proposed as one joint sample."""
        return {k: CategoricalDistribution(v) for k, v in self.param_space.items()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """A mutated tournament winner, or {} (a uniform draw) while the population fills."""
        done = cached_trials(study, states=(TrialState.COMPLETE,))
        if len(done) < self.population_size:
            if self._candidates is not None:
                return self._decode(self._rng.integers(len(self._candidates)))
            return {}  # the initial population is random (sample_independent)
        population = sorted(done, key=lambda t: t.number)[-self.population_size :]
        picks = self._rng.choice(len(population), size=self.tournament_size, replace=False)
        parent = self._winner(study, [population[i] for i in picks])
        child = {k: parent.params[k] for k in self.param_space if k in parent.params}
        if len(child) != len(self.param_space):
            return {}  # a parent from another search space: fall back to random sampling
        if self._candidates is not None:
            return self._nearest_new(study, self._encode([child])[0])
        name = list(self.param_space)[int(self._rng.integers(len(self.param_space)))]
        choices = self.param_space[name]
        if self.mutation == "different" and len(choices) > 1:
            others = [c for c in choices if c != child[name]]
            child[name] = others[int(self._rng.integers(len(others)))]
        else:
            child[name] = choices[int(self._rng.integers(len(choices)))]
        return child

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """A uniform draw (the initial population)."""
        return uniform_choice(self._rng, param_name, param_distribution, "REASampler")

    def _encode(self, params: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, parameters) positions of each parameter's value among its choices."""
        pos = {k: {c: i for i, c in enumerate(v)} for k, v in self.param_space.items()}
        try:
            return np.array([[pos[k][p[k]] for k in pos] for p in params], dtype=np.int64)
        except (KeyError, TypeError):
            raise InputError(
                "REASampler: every candidate needs one of the choices for each parameter "
                f"{list(self.param_space)}"
            ) from None

    def _nearest_new(self, study: Study, code: np.ndarray) -> dict[str, Any]:
        """A candidate nearest ``code`` among those no trial holds (any nearest when all do)."""
        names = list(self.param_space)
        seen = [t.params for t in cached_trials(study) if all(n in t.params for n in names)]
        rows = np.arange(len(self._candidates))
        if seen:
            fresh = ~_member(self._candidates, self._encode(seen))
            rows = rows[fresh] if fresh.any() else rows
        near = rows[nearest(self._candidates[rows], code)]
        if not len(near):
            return {}  # one candidate only, and it is the parent: a uniform draw
        return self._decode(near[int(self._rng.integers(len(near)))])

    def _decode(self, row: int) -> dict[str, Any]:
        """Candidate ``row`` as parameters."""
        code = self._candidates[int(row)]
        return {k: v[int(c)] for (k, v), c in zip(self.param_space.items(), code, strict=True)}

    def _winner(self, study: Study, sample: list[FrozenTrial]) -> FrozenTrial:
        """The tournament's winner: least violation first, then the best or a random
        non-dominated member."""
        violation = violations(sample)
        sample = [t for t, v in zip(sample, violation, strict=True) if v == violation.min()]
        loss = losses(study, sample)
        if loss.shape[1] == 1:
            best = np.flatnonzero(loss[:, 0] == loss[:, 0].min())
        else:
            best = np.flatnonzero(pareto_mask(loss))
        return sample[int(best[int(self._rng.integers(len(best)))])]


def _member(rows: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Whether each row of ``rows`` is a row of ``among`` (both (n, k) arrays of small ints)."""
    base = int(max(rows.max(initial=0), among.max(initial=0))) + 1
    weights = base ** np.arange(rows.shape[1], dtype=np.int64)
    return np.isin(rows @ weights, among @ weights)
