"""Cross-checks of bench.calibration against the installed peer libraries (matching conventions).

Peers: torchmetrics (ECE l1/l2/max), uncertainty-calibration (import `calibration`: get_ece,
get_ece_em, marginal equal-mass, debiased l2), netcal (ECE, MCE, MMCE), relplot (smECE,
binnedECE), scikit-learn (log_loss, roc_auc_score, mean_squared_error), KDEpy (the triweight
FFTKDE inside KDECE).
Inputs: random softmax outputs plus adversarial ones (ties, confidences exactly 0 and 1, tiny N,
K = 2 and K = 100). Tolerance 1e-6 (smECE 1e-4).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import bench.calibration as bc
from bench.calibration.kernel import _triweight_fftkde

vc = pytest.importorskip("calibration")  # uncertainty-calibration
tm_f = pytest.importorskip("torchmetrics.functional.classification")
netcal_metrics = pytest.importorskip("netcal.metrics")
relplot_metrics = pytest.importorskip("relplot.metrics")
kdepy = pytest.importorskip("KDEpy")
sk_metrics = pytest.importorskip("sklearn.metrics")

TOL = 1e-6
BINS = (1, 2, 5, 15, 100, 500)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _random_case(n: int, k: int, seed: int, scale: float = 3.0):
    rng = np.random.default_rng(seed)
    p = _softmax(scale * rng.standard_normal((n, k)))
    draw = (p.cumsum(1) > rng.uniform(size=(n, 1))).argmax(1)
    y = np.where(rng.uniform(size=n) < 0.8, draw, rng.integers(0, k, n))
    return p, y.astype(np.int64)


def _tied_case(n: int, k: int, seed: int):
    """Rows drawn from a few fixed probability vectors: massive ties, exact 0s and 1s."""
    rng = np.random.default_rng(seed)
    protos = [np.eye(k)[0], np.full(k, 1.0 / k)]
    base = np.zeros(k)
    base[:2] = [0.75, 0.25]
    protos.append(base)
    base = np.zeros(k)
    base[-2:] = [0.5, 0.5]  # an exact tie for the top class: argmax takes the first
    protos.append(base)
    rows = np.array([np.roll(protos[i], rng.integers(0, k)) for i in rng.integers(0, 4, n)])
    return rows, rng.integers(0, k, n).astype(np.int64)


CASES = {
    "random-K10": lambda: _random_case(600, 10, 0),
    "random-K2": lambda: _random_case(300, 2, 1),
    "random-K100": lambda: _random_case(800, 100, 2, scale=4.0),
    "tiny-N3": lambda: _random_case(3, 4, 3),
    "tied-K4": lambda: _tied_case(200, 4, 4),
    "tied-K2": lambda: _tied_case(50, 2, 5),
}


@pytest.fixture(params=sorted(CASES), scope="module")
def case(request):
    return CASES[request.param]()


def _top(p: np.ndarray, y: np.ndarray):
    return p.max(1), (p.argmax(1) == y).astype(np.int64)


# --------------------------------------------------------------------------- torchmetrics


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_ece_matches_torchmetrics(case, norm):
    p, y = case
    k = p.shape[1]
    for b in BINS:
        ref = tm_f.multiclass_calibration_error(
            torch.from_numpy(p), torch.from_numpy(y), num_classes=k, n_bins=b, norm=norm
        ).item()
        got = bc.ece(p, y, b, edges="torchmetrics", norm=norm)
        assert got == pytest.approx(ref, abs=TOL), (b, norm)
        if norm == "max":
            assert bc.mce(p, y, b, edges="torchmetrics") == pytest.approx(ref, abs=TOL)


# ------------------------------------------------------------------ uncertainty-calibration


def test_ece_matches_uncertainty_calibration(case):
    p, y = case
    for b in BINS:
        # VC's boundaries are i/B; the dataset's are np.linspace: identical away from exact
        # edges, and these inputs' only exact values (0, 1/4, 1/2, 3/4, 1) are equal in both.
        assert bc.ece(p, y, b) == pytest.approx(vc.get_ece(p, y, num_bins=b), abs=TOL), b


def test_ece_em_matches_get_ece_em(case):
    p, y = case
    for b in BINS:
        assert bc.ece_em(p, y, b) == pytest.approx(vc.get_ece_em(p, y, num_bins=b), abs=TOL), b


def test_ece_em_float32_midpoints():
    p, y = _random_case(777, 10, 11)
    p32 = p.astype(np.float32)
    for b in (7, 15, 100):
        assert bc.ece_em(p32, y, b) == pytest.approx(vc.get_ece_em(p32, y, num_bins=b), abs=TOL)


def test_cwce_em_marginal_matches_get_ece_em_marginal(case):
    p, y = case
    for b in BINS:
        ref = vc.get_ece_em(p, y, num_bins=b, mode="marginal")
        assert bc.cwce_em(p, y, b, variant="marginal") == pytest.approx(ref, abs=TOL), b
        assert bc.cwce_em(p, y, b, variant="M") == pytest.approx(ref, abs=TOL)


def test_cwce_matches_marginal_get_ece_without_zeros():
    # Without exact zeros, the dataset's classwise ECE is VC's marginal equal-width ECE.
    for seed, k in ((0, 10), (1, 2), (2, 100)):
        p, y = _random_case(500, k, seed)
        for b in (1, 5, 15, 50):
            ref = vc.get_ece(p, y, num_bins=b, mode="marginal")
            assert bc.cwce(p, y, b) == pytest.approx(ref, abs=TOL)


def test_debiased_l2_matches_uncertainty_calibration(case):
    p, y = case
    for b in (1, 5, 15, 100):
        ref = vc.lower_bound_scaling_ce(
            p, y, p=2, debias=True, num_bins=b, binning_scheme=vc.get_equal_bins, mode="top-label"
        )
        assert bc.ece_l2_debiased(p, y, b) == pytest.approx(ref, abs=TOL), b
        ref_w = vc.lower_bound_scaling_ce(
            p,
            y,
            p=2,
            debias=True,
            num_bins=b,
            binning_scheme=vc.get_equal_prob_bins,
            mode="top-label",
        )
        assert bc.ece_l2_debiased(p, y, b, binning="width") == pytest.approx(ref_w, abs=TOL)


# --------------------------------------------------------------------------- netcal


def test_ece_mce_match_netcal(case):
    p, y = case
    c, z = _top(p, y)
    for b in BINS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_ece = netcal_metrics.ECE(bins=b).measure(c, z)
            ref_mce = netcal_metrics.MCE(bins=b).measure(c, z)
        assert bc.ece(c, z, b, edges="netcal") == pytest.approx(ref_ece, abs=TOL), b
        assert bc.mce(c, z, b, edges="netcal") == pytest.approx(ref_mce, abs=TOL), b


def test_mmce_matches_netcal():
    for seed, k in ((0, 10), (1, 3), (2, 100)):
        p, y = _random_case(700, k, seed)
        assert bc.mmce(p, y) == pytest.approx(netcal_metrics.MMCE().measure(p, y), abs=TOL)
    p, y = _tied_case(300, 5, 7)
    assert bc.mmce(p, y) == pytest.approx(netcal_metrics.MMCE().measure(p, y), abs=TOL)


# --------------------------------------------------------------------------- relplot


def test_binned_ece_matches_relplot(case):
    p, y = case
    c, z = _top(p, y)
    for b in BINS:
        ref = relplot_metrics.binnedECE(c.astype(np.float64), z.astype(np.float64), b)
        assert bc.ece(c, z, b, edges="relplot") == pytest.approx(ref, abs=TOL), b


def test_smece_matches_relplot():
    for seed, k in ((0, 10), (1, 2), (2, 100)):
        p, y = _random_case(2000, k, seed)
        c, z = _top(p, y)
        ref = relplot_metrics.smECE(c, z.astype(np.float64))
        assert bc.smece(p, y) == pytest.approx(ref, abs=1e-4)
    p, y = _tied_case(300, 4, 3)
    c, z = _top(p, y)
    assert bc.smece(c, z) == pytest.approx(relplot_metrics.smECE(c, z.astype(float)), abs=1e-4)
    assert bc.smece(c, z, sigma=0.05) == pytest.approx(
        relplot_metrics.smECE_sigma(c, z.astype(float), 0.05), abs=1e-4
    )


# --------------------------------------------------------------------------- scikit-learn


def test_nll_brier_match_sklearn(case):
    p, y = case
    k = p.shape[1]
    if len(np.unique(y)) < 2:
        pytest.skip("sklearn's log_loss needs two classes present")
    ref = sk_metrics.log_loss(y, p, labels=list(range(k)))
    assert bc.nll(p, y) == pytest.approx(ref, abs=TOL)
    onehot = np.eye(k)[y]
    assert bc.brier(p, y) == pytest.approx(sk_metrics.mean_squared_error(onehot, p), abs=TOL)
    assert bc.brier(p, y, form="sum") == pytest.approx(((p - onehot) ** 2).sum(1).mean(), abs=TOL)


def test_nll_float32_clipping_matches_sklearn():
    p = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0]], dtype=np.float32)
    y = np.array([1, 2, 1])
    assert bc.nll(p, y) == pytest.approx(sk_metrics.log_loss(y, p, labels=[0, 1, 2]), abs=1e-5)


@pytest.mark.parametrize("score", ["entropy", "maxprob"])
def test_ood_auroc_matches_sklearn(score):
    rng = np.random.default_rng(0)
    a = (4 * rng.standard_normal((400, 10))).astype(np.float32)
    b = (1.5 * rng.standard_normal((300, 10))).astype(np.float32)
    b[:50] = a[:50]  # exact ties between ID and OOD scores
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    if score == "entropy":
        sa = -(torch.softmax(ta, 1) * torch.log_softmax(ta, 1)).sum(1)
        sb = -(torch.softmax(tb, 1) * torch.log_softmax(tb, 1)).sum(1)
        ref = sk_metrics.roc_auc_score([0] * 400 + [1] * 300, torch.cat([sa, sb]).numpy())
    else:
        ca, cb = torch.softmax(ta, 1).max(1).values, torch.softmax(tb, 1).max(1).values
        ref = sk_metrics.roc_auc_score([1] * 400 + [0] * 300, torch.cat([ca, cb]).numpy())
    assert bc.ood_auroc(a, b, score=score) == pytest.approx(ref, abs=1e-12)


# --------------------------------------------------------------------------- KDEpy / KDECE


@pytest.mark.parametrize("bw", [0.004, 0.03, 0.2])
def test_triweight_kde_matches_kdepy(bw):
    rng = np.random.default_rng(1)
    d = np.concatenate([rng.uniform(0, 1, 400), [0.0, 0.5, 1.0, 1.0]])
    d = np.concatenate([-d[d < 0.5], d, 2 - d[d >= 0.5]])
    x = np.linspace(-0.6, 1.6, 2**14)
    ref = kdepy.FFTKDE(bw=bw, kernel="triweight").fit(d).evaluate(x)
    np.testing.assert_allclose(_triweight_fftkde(d, bw, x), ref, atol=1e-9, rtol=0)


def _kdece_reference(p: np.ndarray, y: np.ndarray) -> float:
    """Spec 3.7 written as the reference loop (one grid point at a time), on KDEpy."""
    n = p.shape[0]
    p = p / p.sum(1, keepdims=True)
    pred = p.argmax(1)
    conf = p[np.arange(n), pred]
    hit = pred == y
    bw = np.std(conf[hit]) * (2 * n) ** -0.2
    x = np.linspace(-0.6, 1.6, 2**14)

    def dens(d):
        m = np.concatenate([-d[d < 0.5], d, 2 - d[d >= 0.5]])
        f = kdepy.FFTKDE(bw=bw, kernel="triweight").fit(m).evaluate(x)
        f[x <= 0] = 0
        f[x >= 1] = 0
        return f * 2

    f1, f2 = dens(conf[hit]), dens(conf)
    acc = hit.mean()
    g = np.zeros_like(x)
    for i in range(x.shape[0]):
        if max(f1[i], f2[i]) > 1e-6:
            with np.errstate(divide="ignore", invalid="ignore"):
                a = min(acc * f1[i] / f2[i], 1.0)
            if not np.isnan(a):
                g[i] = abs(x[i] - a) * f2[i]
        elif i > 1:
            g[i] = g[i - 1]
    ind = (x >= 0) & (x <= 1)
    return np.trapezoid(g[ind], x[ind]) / np.trapezoid(f2[ind], x[ind])


def test_kdece_matches_reference_loop():
    for seed, k, n in ((0, 10, 400), (1, 100, 300), (2, 3, 60)):
        p, y = _random_case(n, k, seed)
        assert bc.kdece(p, y) == pytest.approx(_kdece_reference(p, y), abs=TOL)
    # Sharp, well-separated confidences exercise the carry-forward rule.
    p = np.array([[0.95, 0.03, 0.02]] * 30 + [[0.4, 0.35, 0.25]] * 30 + [[0.6, 0.3, 0.1]] * 5)
    p[:5, :] = [0.9, 0.05, 0.05]
    y = np.array([0] * 25 + [1] * 5 + [0] * 10 + [2] * 20 + [0] * 5)
    assert bc.kdece(p, y) == pytest.approx(_kdece_reference(p, y), abs=TOL)
