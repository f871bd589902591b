"""Search strategies, chosen by name with parameters, each an Optuna sampler.

==========  ==============================================================================
name        sampler
==========  ==============================================================================
random      ``optuna.samplers.RandomSampler``
tpe         ``optuna.samplers.TPESampler`` (multivariate, grouped by default)
nsga2       ``optuna.samplers.NSGAIISampler``
nsga3       ``optuna.samplers.NSGAIIISampler``
gp          ``optuna.samplers.GPSampler`` (log expected hypervolume improvement when
            multi-objective, log EI when single-objective)
rea         :class:`REASampler`, regularized evolution as in NATS-Bench (population 10,
            tournament 3, mutation of one edge / one layer)
brute       :class:`ExhaustiveSampler`, every distinct architecture once (TSS: one cell per
            isomorphism class), in index order or shuffled
==========  ==============================================================================

A strategy is written ``name`` or ``name:key=value,key=value``, for example
``nsga2:population_size=20`` or ``rea:population_size=20,tournament_size=5``.

Example:
    >>> from bench.spaces import get_space
    >>> sampler = make_sampler("rea:tournament_size=4", get_space("tss"), seed=0)
    >>> type(sampler).__name__, sampler.tournament_size
    ('REASampler', 4)
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from bench.spaces import Space

__all__ = [
    "STRATEGIES",
    "DEFAULT_STRATEGY",
    "REASampler",
    "ExhaustiveSampler",
    "parse_strategy",
    "split_strategies",
    "make_sampler",
]

#: The strategy ``calnas search run`` uses unless told otherwise, chosen by measurement
#: (scripts/perf_search.py, NB201 valid_acc vs params_m, 20 seeds, queries to normalized HV 0.95:
#: random 335, tpe 100 but about 10x slower per trial and over 10 min for 1,000 queries,
#: rea(20, 5) 129, nsga2(20) 131, rea(10, 3) about 205; rea(20, 5) runs 1,000 queries in ~4 s).
DEFAULT_STRATEGY = "rea:population_size=20,tournament_size=5"


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
        seed: int | None = None,
    ) -> None:
        if not param_space:
            raise ValueError("REASampler needs a non-empty parameter space")
        if int(population_size) < 2:
            raise ValueError(f"population_size must be >= 2, got {population_size}")
        if not 1 <= int(tournament_size) <= int(population_size):
            raise ValueError(
                f"tournament_size must be in 1..population_size ({population_size}), "
                f"got {tournament_size}"
            )
        if mutation not in ("different", "resample"):
            raise ValueError(f"mutation must be 'different' or 'resample', got {mutation!r}")
        self.param_space = {k: tuple(v) for k, v in param_space.items()}
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)
        self.mutation = mutation
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {k: CategoricalDistribution(v) for k, v in self.param_space.items()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        done = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        if len(done) < self.population_size:
            return {}  # the initial population is random (sample_independent)
        population = sorted(done, key=lambda t: t.number)[-self.population_size :]
        picks = self._rng.choice(len(population), size=self.tournament_size, replace=False)
        parent = self._winner(study, [population[i] for i in picks])
        child = {k: parent.params[k] for k in self.param_space if k in parent.params}
        if len(child) != len(self.param_space):
            return {}  # a parent from another search space: fall back to random sampling
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
        if not isinstance(param_distribution, CategoricalDistribution):
            raise ValueError(f"REASampler handles categorical parameters only, not {param_name}")
        choices = param_distribution.choices
        return choices[int(self._rng.integers(len(choices)))]

    def _winner(self, study: Study, sample: list[FrozenTrial]) -> FrozenTrial:
        violation = np.array([sum(max(v, 0.0) for v in t.constraints.values()) for t in sample])
        sample = [t for t, v in zip(sample, violation, strict=True) if v == violation.min()]
        signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions])
        losses = np.array([t.values for t in sample], dtype=np.float64) * signs
        if losses.shape[1] == 1:
            best = np.flatnonzero(losses[:, 0] == losses[:, 0].min())
        else:
            from search.indicators import pareto_mask

            best = np.flatnonzero(pareto_mask(losses))
        return sample[int(best[int(self._rng.integers(len(best)))])]


class ExhaustiveSampler(BaseSampler):
    """Brute force: trial ``n`` gets the ``n``-th architecture of a fixed list.

    The list holds every distinct architecture once (for TSS, the representative of each
    isomorphism class), in index order or, with ``shuffle=True``, in a seeded random order.
    Trial numbers are unique across workers, so parallel workers never evaluate the same entry;
    a study that runs past the end starts again (those repeats are answered from the cache).

    Example:
        >>> from bench.spaces import get_space
        >>> s = ExhaustiveSampler.for_space(get_space("sss"))
        >>> len(s.candidates)
        32768
    """

    def __init__(
        self,
        candidates: Sequence[Mapping[str, Any]],
        *,
        shuffle: bool = False,
        seed: int | None = None,
        param_space: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        if not candidates:
            raise ValueError("ExhaustiveSampler needs at least one candidate")
        self.candidates = [dict(c) for c in candidates]
        self.shuffle = bool(shuffle)
        self.seed = seed
        self._order = (
            np.random.default_rng(seed).permutation(len(self.candidates))
            if self.shuffle
            else np.arange(len(self.candidates))
        )
        # The distributions must equal the ones the objective suggests (same choices, same order).
        if param_space is None:
            param_space = {
                n: tuple(dict.fromkeys(c[n] for c in self.candidates)) for n in self.candidates[0]
            }
        self._space = {n: CategoricalDistribution(tuple(v)) for n, v in param_space.items()}

    @classmethod
    def for_space(cls, space: Space, *, shuffle: bool = False, seed: int | None = None):
        """All distinct architectures of a search space (TSS: one per isomorphism class)."""
        return cls(
            [space.to_params(int(i)) for i in space.unique_indices()],
            shuffle=shuffle,
            seed=seed,
            param_space=space.param_space(),
        )

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._space)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return dict(self.candidates[int(self._order[trial.number % len(self._order)])])

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        raise ValueError(f"ExhaustiveSampler does not know the parameter {param_name!r}")


# -- registry ---------------------------------------------------------------------------------
def _random(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed, **kw)


def _quiet() -> None:
    # multivariate/group TPE, NSGA-III and the GP options are flagged experimental by Optuna
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _tpe(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    _quiet()
    kw.setdefault("multivariate", True)
    kw.setdefault("group", True)
    return optuna.samplers.TPESampler(seed=seed, **kw)


def _nsga2(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, **kw)


def _nsga3(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    _quiet()
    return optuna.samplers.NSGAIIISampler(seed=seed, **kw)


def _gp(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    _quiet()
    # Table values are deterministic: telling the GP so drops the noise term it would fit.
    kw.setdefault("deterministic_objective", True)
    return optuna.samplers.GPSampler(seed=seed, **kw)


def _rea(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    # NATS-Bench mutates a TSS edge to a *different* op and resamples an SSS width.
    kw.setdefault("mutation", "different" if space.name == "tss" else "resample")
    return REASampler(space.param_space(), seed=seed, **kw)


def _brute(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return ExhaustiveSampler.for_space(space, seed=seed, **kw)


#: name -> factory(space, seed, n_objectives, **params) -> sampler
STRATEGIES: dict[str, Callable[..., BaseSampler]] = {
    "random": _random,
    "tpe": _tpe,
    "nsga2": _nsga2,
    "nsga3": _nsga3,
    "gp": _gp,
    "rea": _rea,
    "brute": _brute,
}


def parse_strategy(spec: str) -> tuple[str, dict[str, Any]]:
    """``"nsga2:population_size=20"`` -> ``("nsga2", {"population_size": 20})``.

    Values are Python literals (ints, floats, True/False, None) or plain strings.

    Example:
        >>> parse_strategy("tpe:n_startup_trials=5,multivariate=False")
        ('tpe', {'n_startup_trials': 5, 'multivariate': False})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a strategy must be a name such as {', '.join(STRATEGIES)}; got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; accepted: {', '.join(STRATEGIES)}")
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"strategy {spec!r}: parameter {item!r} is not key=value")
        try:
            value: Any = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        params[key.strip()] = value
    return name, params


def split_strategies(text: str) -> list[str]:
    """Split a comma-separated list of strategies whose parameters also use commas.

    A piece ``key=value`` without a ``:`` belongs to the strategy before it.

    Example:
        >>> split_strategies("random,rea:population_size=20,tournament_size=5,tpe")
        ['random', 'rea:population_size=20,tournament_size=5', 'tpe']
    """
    out: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if "=" in piece and ":" not in piece and out:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out


def make_sampler(
    strategy: str,
    space: Space,
    *,
    seed: int | None = 0,
    n_objectives: int = 2,
    params: Mapping[str, Any] | None = None,
) -> BaseSampler:
    """Build the sampler for ``strategy`` (``name`` or ``name:key=value,...``) on ``space``.

    Keyword ``params`` add to (and override) the ones in the string. Unknown parameters raise
    ValueError naming the strategy.
    """
    name, kw = parse_strategy(strategy)
    kw.update(params or {})
    try:
        return STRATEGIES[name](space, seed, n_objectives, **kw)
    except TypeError as err:
        raise ValueError(f"strategy {name!r}: bad parameters {kw}: {err}") from None
