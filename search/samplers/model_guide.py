"""The model guide of ``mpls``: a bootstrap XGBoost ensemble of the losses, and the acquisition
that picks the candidate with the largest expected hypervolume improvement."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.arch.spaces import Space
from search.indicators import REFERENCE_MARGIN, hv_improvement_2d, pareto_mask

__all__ = ["ModelGuide", "acquire"]

#: Booster settings of the model guide's members (100 rounds each). XGBoost's own training API
#: needs nothing beyond the core install (its scikit-learn wrapper would need scikit-learn).
_GUIDE_PARAMS = {
    "max_depth": 4, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.8,
    "tree_method": "hist", "nthread": 1, "verbosity": 0, "objective": "reg:squarederror",
}  # fmt: skip


class ModelGuide:
    """A small ensemble of per-objective XGBoost models of the losses, each member fitted on its
    own bootstrap resample of the completed classes (the spread between members stands in for
    the model's uncertainty).

    Features are :func:`surrogate.features.feature_table` rows (one-hot ops, input-to-output
    paths, op counts, isomorphism-class features, params and FLOPs). A class is predicted the
    first time it is a candidate after a fit (most classes never are). A fit happens after
    every completed class while fewer than
    ``_WARM`` are known (the models change fastest then), later after every ``refit_every`` or
    every ``refit_growth`` (5 %) more classes, whichever is more: 79 fits in 1,000 trials of
    mpls (at 2.5 %, 117 fits took such a run from 14.3 s to 21.8 s, with the same queries to
    normalized HV 0.95 on four NB201 tables).

    Args:
        space: the search space (its class representatives are the rows predicted).
        rng: the sampler's generator (bootstrap draws and booster seeds).
        refit_every: fewest new classes between two fits once warm.
        members: models per objective.
        refit_growth: once warm, refit after this fraction more classes when that is more
            than ``refit_every``.
        rows: the NATS indices ever predicted (default: the isomorphism-class representatives).

    Example:
        >>> from bench.arch.spaces import get_space
        >>> sp = get_space("tss")
        >>> guide = ModelGuide(sp, np.random.default_rng(0), refit_every=5, members=2)
        >>> reps = sp.unique_indices()[:30]
        >>> guide.predict(reps, np.random.default_rng(1).random((30, 2)), reps[:4]).shape
        (2, 4, 2)
    """

    _WARM = 40

    def __init__(
        self,
        space: Space,
        rng: np.random.Generator,
        refit_every: int,
        members: int,
        refit_growth: float = 0.05,
        rows: np.ndarray | None = None,
    ) -> None:
        from surrogate.features import feature_table

        self.rng = rng
        self.refit_every = refit_every
        self.members = members
        # Only class representatives are ever candidates: predicting those alone (TSS: 6,466 of
        # 15,625 rows) keeps a fit's prediction pass at 40 % of the whole table's cost.
        rows = space.unique_indices() if rows is None else np.asarray(rows)
        self._features = feature_table(space.name)[rows]
        self._row_of = np.full(space.size, -1, dtype=np.int64)  # NATS index -> feature row
        self._row_of[rows] = np.arange(len(rows))
        self.refit_growth = refit_growth
        self._fitted_on = -1
        # per member, per objective: (booster, mean, scale) of the standardized target, or the
        # loss itself when the member's target was constant
        self._models: list[list[tuple[Any, np.float64, np.float64] | float]] = []
        self._predicted = np.zeros((0, 0, 0))  # (members, classes, k), valid where _known
        self._known = np.zeros(0, dtype=bool)

    def predict(self, reps: np.ndarray, losses: np.ndarray, pool: np.ndarray) -> np.ndarray:
        """Predicted losses (members, len(pool), k) of the classes in ``pool`` (NATS indices of
        class representatives, as are ``reps``)."""
        n = len(reps)
        gap = max(self.refit_every, int(n * self.refit_growth))
        if self._fitted_on < 0 or n < self._WARM or n - self._fitted_on >= gap:
            self._fit(reps, losses)
        rows = self._row_of[pool]
        new = np.unique(rows[~self._known[rows]])
        if len(new):
            x = self._features[new]
            for m, heads in enumerate(self._models):
                for j, head in enumerate(heads):
                    if isinstance(head, float):
                        self._predicted[m, new, j] = head
                    else:
                        booster, mean, scale = head
                        self._predicted[m, new, j] = booster.inplace_predict(x) * scale + mean
            self._known[new] = True
        return self._predicted[:, rows]

    def _fit(self, reps: np.ndarray, losses: np.ndarray) -> None:
        import xgboost as xgb

        # Standardized targets: XGBoost ignores splits whose gain is below a fixed epsilon, so a
        # loss with a small spread (accuracies within a few percent) would grow stunted trees.
        mean, scale = losses.mean(axis=0), losses.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        self._models = []
        for _ in range(self.members):
            pick = self.rng.integers(len(reps), size=len(reps))  # this member's bootstrap draw
            x = self._features[self._row_of[reps[pick]]]
            heads: list[tuple[Any, np.float64, np.float64] | float] = []
            for j in range(losses.shape[1]):
                y = (losses[pick, j] - mean[j]) / scale[j]
                if np.ptp(y) == 0:  # a constant target: XGBoost would fit nothing useful
                    heads.append(float(losses[pick[0], j]))
                    continue
                params = {**_GUIDE_PARAMS, "seed": int(self.rng.integers(2**31 - 1))}
                dm = xgb.DMatrix(x, label=y, nthread=1)
                booster = xgb.train(params, dm, num_boost_round=100)
                heads.append((booster, mean[j], scale[j]))  # float64: predictions stay float64
            self._models.append(heads)
        self._predicted = np.zeros((self.members, len(self._features), losses.shape[1]))
        self._known = np.zeros(len(self._features), dtype=bool)
        self._fitted_on = len(reps)


def acquire(predicted: np.ndarray, losses: np.ndarray, rng: np.random.Generator) -> int:
    """Candidate that best improves the front of ``losses`` (completed classes, minimized).

    ``predicted`` is (members, candidates, k), or (candidates, k) for one model; each gain is
    averaged over the ensemble's members (an expected improvement under the bootstrap spread).
    One objective: the largest expected improvement on the best loss. Two: the largest expected
    hypervolume improvement over the current front, against a reference point 10 % of the
    observed range beyond the worst loss seen in each objective; when no candidate improves it,
    the one closest to the front (the smallest range-normalized shift of its mean prediction
    that would make it non-dominated). Three or more: the lowest augmented Chebyshev
    scalarization of the range-normalized predictions (ParEGO's rule), with a new random weight
    vector per call.

    Args:
        predicted: predicted losses of the candidates.
        losses: (n, k) losses of the completed classes.
        rng: draws ParEGO's weights (three or more objectives).

    Returns:
        The position of the chosen candidate.

    Example:
        >>> front = np.array([[0.0, 1.0], [1.0, 0.0]])
        >>> acquire(np.array([[0.5, 0.5], [3.0, 3.0]]), front, np.random.default_rng(0))
        0
    """
    members = predicted if predicted.ndim == 3 else predicted[None]
    k = losses.shape[1]
    if k == 1:
        gain = np.clip(losses[:, 0].min() - members[..., 0], 0.0, None).mean(axis=0)
        if gain.max() > 0:
            return int(np.argmax(gain))
        return int(np.argmin(members[..., 0].mean(axis=0)))
    front = losses[pareto_mask(losses)]
    lo, hi = losses.min(axis=0), losses.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(1.0, np.abs(hi)))
    if k == 2:
        # The reference point lies beyond the worst loss seen, not the front's nadir: a tight box
        # around an early front hides the gains of extending it (measured on NB201: 138 vs 87
        # queries to normalized HV 0.95, one model).
        ref = hi + REFERENCE_MARGIN * span
        gain = np.mean([hv_improvement_2d(front, ref, m) for m in members], axis=0)
        if gain.max() > 0:
            return int(np.argmax(gain))
        mean = members.mean(axis=0)
        shift = ((mean[:, None, :] - front[None, :, :]) / span).max(axis=2).min(axis=1)
        return int(np.argmin(shift))
    w = rng.dirichlet(np.ones(k))
    z = (members - lo) / span
    return int(np.argmin(((w * z).max(axis=2) + 0.05 * (w * z).sum(axis=2)).mean(axis=0)))
