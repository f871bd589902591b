"""Property tests (hypothesis) for bench.calibration: permutation invariance, bounds, the
same-sign identity, torch == numpy and float32 ~ float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bench.calibration as bc
from bench.calibration.inputs import torch_threads

# derandomize: the same examples on every run, so CI never flakes on a new draw.
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Many tiny examples: torch's thread pool only adds contention on a shared machine.
    with torch_threads(1):
        yield


@st.composite
def predictions(
    draw,
    max_n: int = 60,
    max_k: int = 6,
    ties: bool = True,
    scales: tuple[float, ...] = (0.5, 2.0, 8.0, 40.0),
):
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(2, max_k))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from(scales))
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, k))
    if ties and draw(st.booleans()):
        logits = np.round(logits)  # coarse logits: tied confidences, saturated rows
    e = np.exp(logits - logits.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    y = rng.integers(0, k, n)
    return p, y


def _all_metrics(p, y) -> dict[str, float]:
    out = {}
    for b in (1, 3, 15):
        out[f"ece{b}"] = bc.ece(p, y, b)
        out[f"ece_em{b}"] = bc.ece_em(p, y, b)
        out[f"mce{b}"] = bc.mce(p, y, b)
        out[f"cwce{b}"] = bc.cwce(p, y, b)
        out[f"cwce_em{b}"] = bc.cwce_em(p, y, b)
        out[f"cwce_emM{b}"] = bc.cwce_em(p, y, b, variant="marginal")
        out[f"tl{b}"] = bc.tl_ece(p, y, b)
        out[f"l2d{b}"] = bc.ece_l2_debiased(p, y, b)
    out["ksce"] = bc.ksce(p, y)
    out["mmce"] = bc.mmce(p, y)
    out["nll"] = bc.nll(p, y)
    out["brier"] = bc.brier(p, y)
    out["smece"] = bc.smece(p, y)
    return out


@SETTINGS
@given(predictions(), st.integers(0, 2**31 - 1))
def test_permutation_invariance(pred, seed):
    p, y = pred
    perm = np.random.default_rng(seed).permutation(len(y))
    a, b = _all_metrics(p, y), _all_metrics(p[perm], y[perm])
    for name in a:
        assert a[name] == pytest.approx(b[name], abs=1e-12), name


@SETTINGS
@given(predictions())
def test_bounds(pred):
    p, y = pred
    m = _all_metrics(p, y)
    for name, v in m.items():
        assert v >= 0.0, name
        if name not in ("nll",):
            assert v <= 1.0 + 1e-12, name
    c = p.max(1)
    z = (p.argmax(1) == y).astype(float)
    gap = abs(c.mean() - z.mean())
    for b in (1, 3, 15):
        assert m[f"ece{b}"] <= m[f"mce{b}"] + 1e-12
        assert m[f"ece{b}"] >= gap - 1e-12  # |sum of bin gaps| >= |total gap|
    assert m["ece1"] == pytest.approx(gap, abs=1e-12)
    assert m["ksce"] >= gap - 1e-12
    assert m["brier"] * p.shape[1] == pytest.approx(bc.brier(p, y, form="sum"), abs=1e-12)


@SETTINGS
@given(predictions(max_n=80), st.sampled_from([2, 5, 10, 15, 50]))
def test_ece_equals_gap_when_every_bin_has_the_same_sign(pred, b):
    p, y = pred
    d = bc.reliability_data(p, y, b)
    ok = d["count"] > 0
    diff = d["confidence"][ok] - d["accuracy"][ok]
    assume(np.all(diff >= 0) or np.all(diff <= 0))
    c = p.max(1)
    z = (p.argmax(1) == y).astype(float)
    assert bc.ece(p, y, b) == pytest.approx(abs(c.mean() - z.mean()), abs=1e-12)


def test_same_sign_identity_on_an_overconfident_net():
    rng = np.random.default_rng(0)
    c = rng.uniform(0.3, 1.0, 2000)
    z = np.zeros(2000, dtype=np.int64)  # never right: conf > acc in every bin
    for b in (5, 10, 15, 20, 25, 50, 100, 200, 500):
        assert bc.ece(c, z, b) == pytest.approx(c.mean(), abs=1e-12)


@SETTINGS
@given(predictions())
def test_torch_equals_numpy(pred):
    p, y = pred
    a = _all_metrics(p, y)
    b = _all_metrics(torch.from_numpy(p), torch.from_numpy(y))
    assert a == b


@SETTINGS
@given(predictions(max_n=200, ties=False, scales=(0.5, 2.0)))
def test_float32_close_to_float64(pred):
    # Unsaturated softmax outputs: rounding to float32 keeps their order (no new ties), so
    # equal-mass bins keep their members and only width-bin edges can move a sample.
    p, y = pred
    p32 = p.astype(np.float32)
    assume(len(np.unique(p32)) == len(np.unique(p)))
    n = len(y)
    a, b = _all_metrics(p, y), _all_metrics(p32, y)
    for name in a:
        if name.startswith(("ece", "mce", "cwce", "tl", "l2d")):
            # Rounding to float32 can move a sample across one bin edge (or a tie can appear):
            # one sample changes a binned error by at most 2/N (MCE: up to 1).
            tol = 1.0 if name.startswith("mce") else 2.0 / n + 1e-5
        elif name == "nll":
            # sklearn's clipping at the dtype's eps differs by design below 1.2e-7.
            if p[np.arange(n), y].min() < 1e-6:
                continue
            tol = 1e-4
        else:
            tol = 1e-5
        assert a[name] == pytest.approx(b[name], abs=tol), name


@SETTINGS
@given(predictions(max_n=40, max_k=4))
def test_evaluate_keys_and_values(pred):
    p, y = pred
    assume(len(y) >= 5)
    logits = np.log(np.clip(p, 1e-30, 1))
    row = bc.evaluate(logits, y, bins=(3, 15), undefined="nan", extras=False)
    for name, v in row.items():
        if not np.isnan(v):
            assert np.isfinite(v), name
    assert set(np.flatnonzero([np.isnan(v) for v in row.values()])) <= {
        list(row).index(k)
        for k in ("pre_KDECE", "post_KDECE", "correct_confidence", "incorrect_confidence")
    }
