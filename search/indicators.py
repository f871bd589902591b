"""Quality indicators of a search against the true Pareto front of the table.

Everything here works on *losses*: objective values multiplied by ``Objective.sign`` so that every
objective is minimized. The public helpers take values in their natural direction plus the
objectives and do that conversion themselves.

Reference point (fixed per space, dataset and objectives, because it depends only on the table):
for each objective, take the true front's ideal (best) and nadir (worst) values and put the
reference point 10 % of that range beyond the nadir,
``ref = nadir + 0.1 * (nadir - ideal)`` in loss space. Normalized hypervolume is
``HV(found front) / HV(true front)``, both against that reference point, so the true front scores
exactly 1. IGD+ (Ishibuchi et al. 2015) is computed after scaling each objective by the true
front's ideal-to-nadir range, so objectives in different units weigh alike; 0 means the found
front covers the true one.

Example:
    >>> import numpy as np
    >>> from search.objectives import parse_objectives
    >>> objs = parse_objectives(["acc:max", "params_m:min"])
    >>> true = np.array([[0.9, 1.0], [0.8, 0.5]])
    >>> ref = reference_point(true, objs)
    >>> round(normalized_hypervolume(true[:1], true, objs, ref), 3)
    0.524
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.errors import InputError
from bench.table.pareto import pareto_mask  # the one Pareto filter; re-exported for users
from search.objectives import Objective, hcs

__all__ = [
    "REFERENCE_MARGIN",
    "to_losses",
    "pareto_mask",
    "reference_point",
    "loss_reference",
    "hypervolume",
    "hv_improvement_2d",
    "normalized_hypervolume",
    "igd_plus",
    "hv_history",
    "hcs_pick",
]

#: Margin beyond the true front's nadir, as a fraction of its ideal-to-nadir range.
REFERENCE_MARGIN = 0.1


def to_losses(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """(n, k) values in their natural directions -> (n, k) losses (all minimized)."""
    values = _as_points(values, len(objectives))
    return values * np.array([o.sign for o in objectives])


def reference_point(true_values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """The documented reference point in loss space: ``nadir + 0.1 * (nadir - ideal)``.

    ``true_values`` are the true front's points (natural directions). A zero range (one point,
    or a flat objective) gets a margin of 0.1 * max(1, |nadir|) so the hypervolume stays positive.
    """
    losses = to_losses(true_values, objectives)
    if len(losses) == 0:
        raise InputError(
            "the true front is empty: the table has no complete row for these objectives"
        )
    return loss_reference(losses)


def loss_reference(losses: np.ndarray) -> np.ndarray:
    """``nadir + 0.1 * (nadir - ideal)`` of (n, k) losses, n >= 1 (a zero range: a margin of
    0.1 * max(1, |nadir|)): :func:`reference_point` in loss space.

    Example:
        >>> loss_reference(np.array([[0.0, 1.0], [1.0, 0.0]])).tolist()
        [1.1, 1.1]
    """
    ideal, nadir = losses.min(axis=0), losses.max(axis=0)
    span = nadir - ideal
    span = np.where(span > 0, span, np.maximum(1.0, np.abs(nadir)))
    return nadir + REFERENCE_MARGIN * span


def hypervolume(losses: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by ``losses`` (minimized) and bounded by ``ref``.

    Points that do not strictly dominate the reference point contribute nothing.

    Example:
        >>> hypervolume(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([2.0, 2.0]))
        3.0
    """
    ref = np.asarray(ref, dtype=np.float64)
    pts = np.asarray(losses, dtype=np.float64).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_mask(pts)]
    if len(ref) == 1:
        return float(ref[0] - pts[:, 0].min())
    if len(ref) == 2:
        pts = np.unique(pts, axis=0)  # sorted by first loss; second loss then decreasing
        widths = np.diff(np.concatenate((pts[:, 0], [ref[0]])))
        return float(np.sum(widths * (ref[1] - pts[:, 1])))
    from search._optuna import hypervolume_wfg  # WFG for three or more objectives

    return hypervolume_wfg(pts, ref)


def hv_improvement_2d(front: np.ndarray, ref: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Hypervolume each of ``points`` would add to a two-objective ``front`` (losses), vectorized.

    The region a front dominates is bounded above by a staircase; a point adds the area between
    its own corner and that staircase, summed over the staircase's steps, in O(m * f) for m points
    and a front of f points (no hypervolume is recomputed per candidate).

    Example:
        >>> front, ref = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([2.0, 2.0])
        >>> hv_improvement_2d(front, ref, np.array([[0.5, 0.5], [3.0, 3.0], [0.0, 0.0]])).tolist()
        [0.25, 0.0, 1.0]
    """
    ref = np.asarray(ref, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    f = np.asarray(front, dtype=np.float64).reshape(-1, 2)
    f = f[np.all(f < ref, axis=1)]
    if len(f):
        f = f[pareto_mask(f)]
        f = f[np.argsort(f[:, 0], kind="stable")]
    # Step j spans [edges[j], edges[j + 1]) in the first loss at height levels[j] in the second.
    edges = np.concatenate(([-np.inf], f[:, 0], [ref[0]]))
    levels = np.concatenate(([ref[1]], f[:, 1]))
    gain = np.zeros(len(pts))
    for j, level in enumerate(levels):
        width = np.clip(edges[j + 1] - np.maximum(edges[j], pts[:, 0]), 0.0, None)
        gain += width * np.clip(level - pts[:, 1], 0.0, None)
    return gain


def normalized_hypervolume(
    found_values: np.ndarray,
    true_values: np.ndarray,
    objectives: Sequence[Objective],
    ref: np.ndarray | None = None,
) -> float:
    """HV(found) / HV(true front), both against the same (documented) reference point."""
    ref = reference_point(true_values, objectives) if ref is None else np.asarray(ref, float)
    true_hv = hypervolume(to_losses(true_values, objectives), ref)
    if true_hv <= 0:
        raise InputError("the true front has zero hypervolume; cannot normalize")
    if len(found_values) == 0:
        return 0.0
    return hypervolume(to_losses(found_values, objectives), ref) / true_hv


def igd_plus(
    found_values: np.ndarray, true_values: np.ndarray, objectives: Sequence[Objective]
) -> float:
    """IGD+ of the found points against the true front, on range-normalized losses.

    Mean over true-front points z of min over found points a of ``||max(a - z, 0)||``.
    ``inf`` when nothing was found.

    Example:
        >>> from search.objectives import parse_objectives
        >>> o = parse_objectives(["acc:max", "params_m:min"])
        >>> igd_plus(np.array([[0.9, 1.0]]), np.array([[0.9, 1.0]]), o)
        0.0
    """
    true = to_losses(true_values, objectives)
    if len(true) == 0:
        raise InputError("the true front is empty")
    if len(found_values) == 0:
        return float("inf")
    found = to_losses(found_values, objectives)
    ideal, nadir = true.min(axis=0), true.max(axis=0)
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    t, f = (true - ideal) / span, (found - ideal) / span
    gaps = np.maximum(f[None, :, :] - t[:, None, :], 0.0)
    return float(np.sqrt((gaps**2).sum(axis=2)).min(axis=1).mean())


def hv_history(
    values: np.ndarray,
    true_values: np.ndarray,
    objectives: Sequence[Objective],
    ref: np.ndarray | None = None,
    feasible: np.ndarray | None = None,
) -> np.ndarray:
    """Normalized hypervolume of the best-so-far front after each query, in query order.

    ``values`` are the (n, k) objective values of the queried architectures in order;
    infeasible rows (``feasible`` False) never enter the front.

    Example:
        >>> from search.objectives import parse_objectives
        >>> o = parse_objectives(["acc:max", "params_m:min"])
        >>> true = np.array([[0.9, 1.0], [0.8, 0.5]])
        >>> hv_history(true[::-1], true, o).round(3).tolist()
        [0.524, 1.0]
    """
    ref = reference_point(true_values, objectives) if ref is None else np.asarray(ref, float)
    true_hv = hypervolume(to_losses(true_values, objectives), ref)
    losses = to_losses(values, objectives) if len(values) else np.zeros((0, len(objectives)))
    ok = np.ones(len(losses), bool) if feasible is None else np.asarray(feasible, bool)
    out = np.zeros(len(losses))
    front = np.zeros((0, losses.shape[1]))
    hv = 0.0
    for i, point in enumerate(losses):
        # Only a point that improves the front changes the hypervolume: skip the others cheaply.
        if ok[i] and np.all(point < ref) and not _dominated(point, front):
            front = np.vstack((front, point))
            front = front[pareto_mask(front)]
            hv = hypervolume(front, ref)
        out[i] = hv / true_hv
    return out


def hcs_pick(rows: Sequence[dict], *, ece: str = "pre_ECE_15", beta: float = 1.0) -> dict | None:
    """The row with the highest HCS among ``rows`` (dicts with ``values`` holding acc and ece).

    Returns the row with an added ``hcs`` entry, or None when no row has both columns.

    Example:
        >>> hcs_pick([{"index": 1, "values": {"acc": 0.9, "pre_ECE_15": 0.2}},
        ...           {"index": 2, "values": {"acc": 0.8, "pre_ECE_15": 0.0}}])["index"]
        2
    """
    best, best_score = None, -np.inf
    for row in rows:
        vals = row.get("values", {})
        if "acc" not in vals or ece not in vals:
            continue
        score = float(hcs(vals["acc"], vals[ece], beta))
        if np.isfinite(score) and score > best_score:
            best, best_score = row, score
    return None if best is None else {**best, "hcs": best_score}


def _dominated(point: np.ndarray, front: np.ndarray) -> bool:
    """True when some front point is at least as good in every loss (weakly dominates)."""
    return bool(len(front)) and bool(np.any(np.all(front <= point, axis=1)))


def _as_points(values: np.ndarray, k: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, k)
    if arr.ndim == 1:
        arr = arr.reshape(-1, k)
    if arr.ndim != 2 or arr.shape[1] != k:
        raise InputError(f"expected an (n, {k}) array of objective values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError("objective values must be finite (a NaN or inf reached the indicators)")
    return arr
