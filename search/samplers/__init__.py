"""Search strategies as Optuna samplers, and the registry that names them."""

from __future__ import annotations

from search.samplers.registry import DEFAULT_STRATEGY, STRATEGIES, make_sampler

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "make_sampler"]
