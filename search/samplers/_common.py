"""Small helpers the samplers share: a uniform draw, losses and violations of trials.

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

from bench.errors import InputError

__all__ = ["uniform_choice", "quiet_experimental", "losses", "violations"]


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
