"""Small helpers the samplers share: a uniform draw, losses and violations of trials, and the
nearest held architectures of a sampled table.

Example:
    >>> import optuna
    >>> study = optuna.create_study(directions=["maximize", "minimize"])
    >>> study.add_trial(optuna.trial.create_trial(values=[0.9, 2.0]))
    >>> losses(study, study.trials).tolist(), violations(study.trials).tolist()
    ([[-0.9, 2.0]], [0])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial

from bench.arch.spaces import Space
from bench.errors import InputError

__all__ = [
    "uniform_choice",
    "quiet_experimental",
    "losses",
    "violations",
    "nearest",
    "held_indices",
]


def uniform_choice(
    rng: np.random.Generator, name: str, distribution: BaseDistribution, sampler: str
) -> Any:
    """A uniform draw for a parameter outside the search space's joint proposal.

    Raises:
        InputError: the parameter is not categorical.
    """
    if not isinstance(distribution, CategoricalDistribution):
        raise InputError(f"{sampler} handles categorical parameters only, not {name}")
    choices = distribution.choices
    return choices[int(rng.integers(len(choices)))]


def quiet_experimental() -> None:
    """Silence Optuna's ExperimentalWarning: multivariate/group TPE, NSGA-III and the GP options
    carry it, and calnas uses them on purpose."""
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def losses(study: Study, trials: Sequence[FrozenTrial]) -> np.ndarray:
    """(n, k) objective values of completed ``trials`` as losses (maximized ones negated)."""
    signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions])
    return np.array([t.values for t in trials], dtype=np.float64) * signs


def violations(trials: Sequence[FrozenTrial]) -> np.ndarray:
    """Total constraint violation of each trial (0: feasible or unconstrained)."""
    return np.array([sum(max(v, 0.0) for v in t.constraints.values()) for t in trials])


def nearest(codes: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Rows of ``codes`` nearest ``code`` (fewest positions changed, at least one).

    On a full space these are the one-edge / one-layer neighbours. A sampled table (the SSS
    demo tables hold 2,048 of 32,768 networks) holds few of those, so a local move goes to the
    held architectures that change the fewest positions instead.

    Args:
        codes: (n, positions) choice codes of the held architectures.
        code: (positions,) the code moved from.

    Returns:
        Row numbers into ``codes``, ascending (empty when no other row is held).

    Example:
        >>> held = np.array([[0, 0, 1], [0, 2, 2], [1, 1, 0], [0, 0, 0]])
        >>> nearest(held, np.array([0, 0, 0])).tolist()
        [0]
        >>> nearest(held[1:], np.array([0, 0, 0])).tolist()  # none one change away: two
        [0, 1]
    """
    dist = (codes != code).sum(axis=1)
    moved = dist > 0  # the code itself is no move
    if not moved.any():
        return np.flatnonzero(moved)
    return np.flatnonzero(moved & (dist == dist[moved].min()))


def held_indices(held: np.ndarray, space: Space) -> np.ndarray:
    """The indices ``held`` marks, checked: one bool per index of ``space``, at least one True.

    Raises:
        InputError: ``held`` has another shape or type, or marks nothing.

    Example:
        >>> from bench.arch.spaces import get_space
        >>> held = np.zeros(32768, dtype=bool)
        >>> held[[3, 9]] = True
        >>> held_indices(held, get_space("sss")).tolist()
        [3, 9]
    """
    held = np.asarray(held)
    if held.dtype != bool or held.shape != (space.size,):
        raise InputError(
            f"held must be one bool for each of the {space.size} indices of {space.name}"
        )
    if not held.any():
        raise InputError("held marks no index: the table holds nothing to search")
    return np.flatnonzero(held)
