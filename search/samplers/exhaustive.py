"""Brute force over every distinct architecture: :class:`ExhaustiveSampler`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from bench.arch.spaces import Space
from bench.errors import InputError

__all__ = ["ExhaustiveSampler"]


class ExhaustiveSampler(BaseSampler):
    """Brute force: trial ``n`` gets the ``n``-th architecture of a fixed list.

    The list holds every distinct architecture once (for TSS, the representative of each
    isomorphism class), in index order or, with ``shuffle=True``, in a seeded random order.
    Trial numbers are unique across workers, so parallel workers never query the same entry;
    a study that runs past the end starts again (those repeats are answered from the cache).

    Example:
        >>> from bench.arch.spaces import get_space
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
            raise InputError("ExhaustiveSampler needs at least one candidate")
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
    def for_space(
        cls,
        space: Space,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        held: np.ndarray | None = None,
    ) -> ExhaustiveSampler:
        """All distinct architectures of a search space (TSS: one per isomorphism class), or
        only those ``held`` marks (a bool per index: the ones a sampled table holds)."""
        indices = space.unique_indices()
        if held is not None:
            indices = indices[np.asarray(held, dtype=bool)[indices]]
        return cls(
            [space.to_params(int(i)) for i in indices],
            shuffle=shuffle,
            seed=seed,
            param_space=space.param_space(),
        )

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The whole parameter space: a candidate is proposed as one joint sample."""
        return dict(self._space)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Candidate ``trial.number`` (modulo their count) of the fixed order."""
        return dict(self.candidates[int(self._order[trial.number % len(self._order)])])

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """Refuse: every parameter comes from the candidates."""
        raise InputError(f"ExhaustiveSampler does not know the parameter {param_name!r}")
