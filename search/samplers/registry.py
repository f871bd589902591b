"""The strategies by name: :data:`STRATEGIES`, :func:`make_sampler` and the strategy syntax.

==========  ==============================================================================
name        sampler
==========  ==============================================================================
random      ``optuna.samplers.RandomSampler``
tpe         ``optuna.samplers.TPESampler`` (multivariate, grouped by default)
nsga2       ``optuna.samplers.NSGAIISampler``
nsga3       ``optuna.samplers.NSGAIIISampler``
gp          ``optuna.samplers.GPSampler`` (log expected hypervolume improvement when
            multi-objective, log EI when single-objective)
rea         ``REASampler`` (:mod:`search.samplers.rea`), regularized evolution as in
            NATS-Bench (population 10, tournament 3, mutation of one edge / one layer)
pls         ``ParetoLocalSampler`` (:mod:`search.samplers.pareto_local`), Pareto local
            search: one-edge / one-layer moves from the current non-dominated front, never a
            queried class twice
mpls        the default: ``ParetoLocalSampler`` guided by a model (``model="xgb"``,
            :mod:`search.samplers.model_guide`): three bootstrap XGBoost models of every
            objective pick, among the front's unqueried neighbours (20 % of trials: among all
            unqueried classes), the largest expected hypervolume improvement; the 10 start
            classes and 25 % of the guided trials are random search's draws (``startup``,
            ``p_explore``)
brute       ``ExhaustiveSampler`` (:mod:`search.samplers.exhaustive`), every distinct
            architecture once (TSS: one cell per isomorphism class), in index order or shuffled
==========  ==============================================================================

A strategy is written ``name`` or ``name:key=value,key=value``, for example
``nsga2:population_size=20`` or ``rea:population_size=20,tournament_size=5``.

Example:
    >>> from bench.arch.spaces import get_space
    >>> sampler = make_sampler("rea:tournament_size=4", get_space("tss"), seed=0)
    >>> type(sampler).__name__, sampler.tournament_size
    ('REASampler', 4)
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.samplers import BaseSampler

from bench.arch.spaces import Space
from bench.errors import InputError
from search.samplers._common import held_indices, quiet_experimental
from search.samplers.exhaustive import ExhaustiveSampler
from search.samplers.pareto_local import ParetoLocalSampler
from search.samplers.rea import REASampler

__all__ = ["STRATEGIES", "DEFAULT_STRATEGY", "parse_strategy", "split_strategies", "make_sampler"]

#: The strategy ``calnas search run`` uses unless told otherwise, chosen by measurement with
#: scripts/perf_search.py (20 seeds, queries to normalized HV 0.95; docs/performance.md has the
#: figures): on the NB201 tables where both objectives are learned (accuracy against latency or
#: train time, three datasets) mpls needs 0.14-0.44 of random search's queries and is never
#: behind it at any budget from 50 to 1,000; 1,000 trials take about 15 s on 2 cores.
DEFAULT_STRATEGY = "mpls"


def _random(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed, **kw)


def _tpe(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    quiet_experimental()
    kw.setdefault("multivariate", True)
    kw.setdefault("group", True)
    return optuna.samplers.TPESampler(seed=seed, **kw)


def _nsga2(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, **kw)


def _nsga3(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    quiet_experimental()
    return optuna.samplers.NSGAIIISampler(seed=seed, **kw)


def _gp(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    quiet_experimental()
    # Table values are deterministic: telling the GP so drops the noise term it would fit.
    kw.setdefault("deterministic_objective", True)
    return optuna.samplers.GPSampler(seed=seed, **kw)


def _rea(
    space: Space, seed: int | None, n_obj: int, held: np.ndarray | None = None, **kw: Any
) -> BaseSampler:
    # NATS-Bench mutates a TSS edge to a *different* op and resamples an SSS width.
    kw.setdefault("mutation", "different" if space.name == "tss" else "resample")
    if held is not None:
        kw["candidates"] = [space.to_params(int(i)) for i in np.flatnonzero(held)]
    return REASampler(space.param_space(), seed=seed, **kw)


def _pls(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return ParetoLocalSampler(space, seed=seed, **kw)


def _mpls(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    kw.setdefault("model", "xgb")
    kw.setdefault("p_random", 0.2)
    kw.setdefault("p_explore", 0.25)
    kw.setdefault("startup", "indices")
    return ParetoLocalSampler(space, seed=seed, **kw)


def _brute(space: Space, seed: int | None, n_obj: int, **kw: Any) -> BaseSampler:
    return ExhaustiveSampler.for_space(space, seed=seed, **kw)


#: the strategies that take the search's class map (see :func:`make_sampler`)
CLASS_AWARE = ("pls", "mpls")

#: the strategies that keep to the architectures a sampled table holds (see :func:`make_sampler`)
HELD_AWARE = ("rea", "pls", "mpls", "brute")

#: sampler arguments the search derives from the table (its classes, the networks it holds)
_FROM_THE_TABLE = {"classes", "held", "candidates"}

#: name -> factory(space, seed, n_objectives, **params) -> sampler
STRATEGIES: dict[str, Callable[..., BaseSampler]] = {
    "random": _random,
    "tpe": _tpe,
    "nsga2": _nsga2,
    "nsga3": _nsga3,
    "gp": _gp,
    "rea": _rea,
    "pls": _pls,
    "mpls": _mpls,
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
        raise InputError(f"a strategy must be a name such as {', '.join(STRATEGIES)}; got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in STRATEGIES:
        raise InputError(f"unknown strategy {name!r}; accepted: {', '.join(STRATEGIES)}")
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise InputError(f"strategy {spec!r}: parameter {item!r} is not key=value")
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
    classes: np.ndarray | None = None,
    held: np.ndarray | None = None,
) -> BaseSampler:
    """Build the sampler for ``strategy`` (``name`` or ``name:key=value,...``) on ``space``.

    Args:
        strategy: a name of :data:`STRATEGIES`, optionally with parameters.
        space: the search space.
        seed: the sampler's seed.
        n_objectives: objectives of the study.
        params: parameters that add to (and override) the ones in the string.
        classes: index -> the index that answers for it (the search's class map,
            ``Problem.reps``; None: the space's isomorphism classes). The strategies that track
            classes (pls, mpls) never propose two indices of one class; the others draw indices,
            and the worker answers a repeat from its cache.
        held: one bool per index, whether the table can answer it (``Problem.answerable``);
            None, or all True: every index. rea, pls, mpls and brute then keep to the held
            architectures; Optuna's own samplers draw from the whole space, and a draw the
            table cannot answer costs nothing but a failed trial.

    Returns:
        The Optuna sampler.

    Raises:
        InputError: an unknown strategy, or parameters the strategy does not accept.

    Example:
        >>> from bench.arch.spaces import get_space
        >>> type(make_sampler("pls", get_space("sss"), params={"n_startup": 4})).__name__
        'ParetoLocalSampler'
    """
    name, kw = parse_strategy(strategy)
    kw.update(params or {})
    fixed = sorted(set(kw) & _FROM_THE_TABLE)
    if fixed:
        raise InputError(
            f"strategy {name!r}: {', '.join(fixed)} come{'s' if len(fixed) == 1 else ''} from "
            "the table searched, not from the strategy's parameters"
        )
    extra: dict[str, Any] = {}
    if classes is not None and name in CLASS_AWARE:
        extra["classes"] = classes
    if held is not None and name in HELD_AWARE and len(held_indices(held, space)) < space.size:
        extra["held"] = held
    try:
        sampler = STRATEGIES[name](space, seed, n_objectives, **kw, **extra)
    except (TypeError, ValueError) as err:
        why = " ".join(str(err).split())
        raise InputError(f"strategy {name!r}: bad parameters {kw}: {why}") from None
    _check_param_types(name, sampler, kw)
    return sampler


def _check_param_types(name: str, sampler: BaseSampler, kw: Mapping[str, Any]) -> None:
    """Refuse a parameter whose type differs from its default's (samplers do not check).

    A sampler stores ``n_startup_trials="nan"`` as given and fails at its first comparison, in
    the middle of a run; a number (finite) where the default is a number, and a bool where it is
    a bool, are checked here instead.
    """
    import inspect
    import math
    import numbers

    try:
        signature = inspect.signature(type(sampler).__init__)
    except (TypeError, ValueError):
        return
    for key, value in kw.items():
        param = signature.parameters.get(key)
        default = param.default if param is not None else inspect.Parameter.empty
        if isinstance(default, bool):
            ok = isinstance(value, bool)
            wanted = "True or False"
        elif isinstance(default, numbers.Real):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
            if isinstance(default, numbers.Integral):
                ok = ok and isinstance(value, numbers.Integral)
                wanted = "an integer"
            else:
                wanted = "a finite number"
        else:
            continue
        if not ok:
            raise InputError(f"strategy {name!r}: parameter {key} must be {wanted}, got {value!r}")
