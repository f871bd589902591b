"""Kendall tau-b of bench.analysis.kendall: scipy's numbers, closed forms, populations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_tables import perm_with_inversions, with_tau
from scipy.stats import kendalltau

from bench.analysis.kendall import (
    _ascending_pairs,
    kendall_matrix,
    population,
    tau_b,
    union_top,
)
from bench.errors import InputError


def _scipy(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~np.isnan(x) & ~np.isnan(y)
    if ok.sum() < 2:
        return np.nan
    return float(kendalltau(x[ok], y[ok]).statistic)


def test_matches_scipy_on_random_data_with_ties_and_nans():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(250):
        n = int(rng.integers(2, 150))
        k = int(rng.integers(2, 6))
        levels = int(rng.integers(1, 25))
        x = rng.integers(0, levels, (n, k)).astype(float)
        x[:, 0] = rng.normal(size=n) if rng.random() < 0.5 else x[:, 0]
        x[rng.random((n, k)) < rng.uniform(0, 0.3)] = np.nan
        km = kendall_matrix(x)
        for i in range(k):
            for j in range(k):
                if i == j:
                    continue
                ref = _scipy(x[:, i], x[:, j])
                got = km.tau[i, j]
                assert np.isnan(ref) == np.isnan(got), (n, k, i, j, ref, got)
                if not np.isnan(ref):
                    assert got == pytest.approx(ref, abs=1e-12)
                    checked += 1
        assert (km.n == (~np.isnan(x)).T.astype(int) @ (~np.isnan(x)).astype(int)).all()
    assert checked > 1000


@pytest.mark.parametrize("n", [2, 3, 15, 16, 17, 31, 32, 33, 100, 1023, 1024, 1025, 5000])
def test_ascending_pairs_counts_every_pair(n):
    rng = np.random.default_rng(n)
    q = np.stack([rng.permutation(n) for _ in range(3)])
    got = _ascending_pairs(q.copy())
    if n <= 1100:
        want = [int(np.triu(r[:, None] < r[None, :], 1).sum()) for r in q]
    else:  # ascending pairs = concordant pairs with the positions
        want = [round((1 + kendalltau(np.arange(n), r).statistic) * n * (n - 1) / 4) for r in q]
    assert got.tolist() == want


def test_large_columns_match_scipy_and_pandas():
    rng = np.random.default_rng(3)
    n = 20000
    x = np.column_stack(
        [rng.normal(size=n), rng.integers(0, 500, n) / 500, np.round(rng.uniform(size=n), 3)]
    )
    x[rng.random(x.shape) < 0.01] = np.nan
    km = kendall_matrix(x)
    ref = pd.DataFrame(x).corr(method="kendall").to_numpy()
    assert np.allclose(km.tau, ref, atol=1e-12)
    assert km.tau[0, 2] == pytest.approx(_scipy(x[:, 0], x[:, 2]), abs=1e-12)


@pytest.mark.parametrize("tau", [-1.0, -0.23, 0.0, 0.36, 0.99, 1.0])
def test_closed_form_inversions(tau):
    n = 2001
    n0 = n * (n - 1) // 2
    d = round((1 - tau) * n0 / 2)
    y = perm_with_inversions(n, d)
    assert tau_b(np.arange(n), y) == pytest.approx(1 - 2 * d / n0, abs=1e-12)


def test_closed_form_ties():
    # x: two halves tied; y: increasing. n0 = 6, n1 = 2 (one tie pair per half), n2 = 0
    x, y = [0, 0, 1, 1], [1, 2, 3, 4]
    assert tau_b(x, y) == pytest.approx(4 / np.sqrt((6 - 2) * 6))


def test_against_computes_only_those_pairs():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 4))
    full = kendall_matrix(x, ["a", "b", "c", "d"])
    part = kendall_matrix(x, ["a", "b", "c", "d"], against=["b"])
    assert np.allclose(part.tau[1], full.tau[1]) and np.allclose(part.tau[:, 1], full.tau[:, 1])
    assert np.isnan(part.tau[0, 2]) and np.isnan(part.tau[2, 3])
    with pytest.raises(InputError, match="not in the matrix"):
        kendall_matrix(x, ["a", "b", "c", "d"], against=["e"])


def test_undefined_cases_are_nan():
    assert np.isnan(tau_b([1, 1, 1], [1, 2, 3]))  # constant column
    assert np.isnan(tau_b([1, np.nan, 3], [np.nan, 2, 5]))  # one complete row
    km = kendall_matrix(np.array([[1.0, np.inf], [2.0, 1.0], [3.0, 2.0]]))
    assert km.n[0, 1] == 2  # inf is a missing value, not a rank
    assert km.tau[0, 0] == 1.0


def test_with_tau_builder_is_exact():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=999)
    for t in (0.49, -0.07, 0.87):
        assert round(tau_b(x, with_tau(x, t, 0, 1)), 2) == t


def test_bad_input_raises():
    with pytest.raises(InputError, match="same length"):
        tau_b([1, 2], [1, 2, 3])
    with pytest.raises(InputError, match="numbers"):
        kendall_matrix(np.array([["a", "b"]], dtype=object))
    with pytest.raises(InputError, match="2-D"):
        kendall_matrix(np.arange(3.0))
    with pytest.raises(InputError, match="names"):
        kendall_matrix(np.zeros((3, 2)), ["a"])


def test_population_top_and_bottom():
    f = pd.DataFrame({"config": [5, 1, 3, 2, 4], "acc": [0.5, 0.9, np.nan, 0.9, 0.1]})
    assert population(f) is f
    # ties at the cut go to the smaller config; rows without the value are never ranked
    assert population(f, "acc", 1)["config"].tolist() == [1]
    assert population(f, "acc", 2)["config"].tolist() == [1, 2]
    assert population(f, "acc", 2, order="asc")["config"].tolist() == [5, 4]
    assert len(population(f, "acc", 99)) == 4
    with pytest.raises(InputError, match="order"):
        population(f, "acc", 2, order="top")
    with pytest.raises(InputError, match="both"):
        population(f, "acc")
    with pytest.raises(InputError, match="no such column"):
        population(f, "nope", 2)
    with pytest.raises(InputError, match="positive"):
        population(f, "acc", 0)


def test_union_top():
    a = pd.DataFrame({"config": np.arange(5), "acc": [0.1, 0.9, 0.8, 0.2, 0.3]})
    b = pd.DataFrame({"config": np.arange(5), "acc": [0.9, 0.1, 0.2, 0.8, 0.3]})
    assert union_top([a, b], "acc", 2).tolist() == [0, 1, 2, 3]
