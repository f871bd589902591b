"""Search strategies as Optuna samplers, one per module, and the registry that names them.

Modules: `registry` (:data:`STRATEGIES`, :data:`DEFAULT_STRATEGY`, :func:`make_sampler`, the
``name:key=value`` syntax), `rea` (regularized evolution), `exhaustive` (brute force),
`pareto_local` (Pareto local search, ``pls`` and ``mpls``), `model_guide` (the XGBoost ensemble
and acquisition of ``mpls``).

Example:
    >>> from bench.arch.spaces import get_space
    >>> from search.samplers import make_sampler
    >>> type(make_sampler("mpls", get_space("tss"), seed=0)).__name__
    'ParetoLocalSampler'
"""

from __future__ import annotations

from search.samplers.exhaustive import ExhaustiveSampler
from search.samplers.pareto_local import ParetoLocalSampler
from search.samplers.rea import REASampler
from search.samplers.registry import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    make_sampler,
    parse_strategy,
    split_strategies,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "ExhaustiveSampler",
    "ParetoLocalSampler",
    "REASampler",
    "make_sampler",
    "parse_strategy",
    "split_strategies",
]
