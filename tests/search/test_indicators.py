from __future__ import annotations

import numpy as np
import pytest

from search.indicators import (
    hcs_pick,
    hv_history,
    hypervolume,
    igd_plus,
    normalized_hypervolume,
    pareto_mask,
    reference_point,
    to_losses,
)
from search.objectives import parse_objectives

OBJS = parse_objectives(["acc:max", "params_m:min"])


def _brute_mask(p):
    n = len(p)
    return np.array(
        [not any(np.all(p[j] <= p[i]) and np.any(p[j] < p[i]) for j in range(n)) for i in range(n)]
    )


@pytest.mark.parametrize("k", [2, 3])
def test_pareto_mask_matches_brute_force(k):
    rng = np.random.default_rng(k)
    pts = np.round(rng.random((300, k)), 2)  # rounding makes ties and duplicates
    np.testing.assert_array_equal(pareto_mask(pts), _brute_mask(pts))


def test_hypervolume_matches_monte_carlo_and_optuna():
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(0)
    pts = rng.random((40, 2))
    ref = np.array([1.1, 1.1])
    hv = hypervolume(pts, ref)
    assert hv == pytest.approx(compute_hypervolume(pts[pareto_mask(pts)], ref), rel=1e-12)
    samples = rng.random((200_000, 2)) * 1.1
    dominated = np.zeros(len(samples), bool)
    for p in pts:
        dominated |= np.all(samples >= p, axis=1)
    assert hv == pytest.approx(dominated.mean() * 1.21, rel=0.02)


def test_true_front_scores_one_and_zero():
    true = np.array([[0.9, 1.0], [0.85, 0.6], [0.8, 0.5]])
    ref = reference_point(true, OBJS)
    # documented reference point: nadir + 10 % of the front's range, in loss space
    np.testing.assert_allclose(ref, [-0.8 + 0.01, 1.0 + 0.05])
    assert normalized_hypervolume(true, true, OBJS) == pytest.approx(1.0)
    assert igd_plus(true, true, OBJS) == 0.0
    worse = true - np.array([0.05, -0.05])
    assert 0 < normalized_hypervolume(worse, true, OBJS) < 1
    assert igd_plus(worse, true, OBJS) > 0
    assert normalized_hypervolume(np.zeros((0, 2)), true, OBJS) == 0.0


def test_hv_history_is_monotone_and_ignores_infeasible():
    rng = np.random.default_rng(1)
    vals = np.column_stack([rng.uniform(0.5, 0.9, 50), rng.uniform(0.1, 1.5, 50)])
    true = vals[pareto_mask(to_losses(vals, OBJS))]
    h = hv_history(vals, true, OBJS)
    assert np.all(np.diff(h) >= -1e-12) and h[-1] == pytest.approx(1.0)
    feasible = np.zeros(50, bool)
    assert np.all(hv_history(vals, true, OBJS, feasible=feasible) == 0)


def test_hcs_pick_takes_the_highest_hcs():
    rows = [
        {"index": 1, "values": {"acc": 0.95, "pre_ECE_15": 0.30}},
        {"index": 2, "values": {"acc": 0.90, "pre_ECE_15": 0.02}},
        {"index": 3, "values": {"params_m": 1.0}},
    ]
    pick = hcs_pick(rows)
    assert pick["index"] == 2 and pick["hcs"] == pytest.approx(2 * 0.9 * 0.98 / (0.9 + 0.98))
    assert hcs_pick([rows[2]]) is None


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="finite"):
        to_losses(np.array([[np.nan, 1.0]]), OBJS)
    with pytest.raises(ValueError, match="empty"):
        reference_point(np.zeros((0, 2)), OBJS)
