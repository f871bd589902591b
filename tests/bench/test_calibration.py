"""bench.calibration: the dataset's definitions, evaluate(), temperature scaling, diagrams,
bootstrap and bad input."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import bench.calibration as bc
from bench.calibration.inputs import torch_threads
from bench.calibration.temperature import TEMPERATURE_GRID, fit_temperature_grid

EDGE_C = np.array([0.5, 0.5, 0.6, 0.75, 0.75, 0.9, 1.0, 1.0])
EDGE_Z = np.array([0, 0, 1, 1, 1, 1, 0, 0])


def _case(n: int, k: int, seed: int = 0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = 3.0 * np.eye(k)[y] + 2.0 * rng.standard_normal((n, k))
    return logits.astype(dtype), y


def _softmax(lg: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.from_numpy(lg), 1).numpy()


# --------------------------------------------------------------------------- definitions


def test_spec_edge_vector():
    assert bc.ece(EDGE_C, EDGE_Z, 4) == pytest.approx(0.475, abs=1e-12)
    assert bc.ece(EDGE_C, EDGE_Z, 4, edges="torchmetrics") == pytest.approx(0.400, abs=1e-12)
    assert bc.ece(EDGE_C, EDGE_Z, 4, edges="relplot") == pytest.approx(0.400, abs=1e-12)
    assert bc.ece(EDGE_C, EDGE_Z, 4, edges="netcal") == pytest.approx(0.250, abs=1e-12)


def _loop_ece(c, z, b, mce=False):
    """The study's get_ece / get_mce: (lo, hi] bins on float64 linspace, c = 0 in no bin."""
    e = np.linspace(0, 1, b + 1)
    tot, worst = 0.0, 0.0
    for lo, hi in itertools.pairwise(e):
        m = (c > lo) & (c <= hi)
        if m.any():
            gap = abs(c[m].mean() - z[m].mean())
            tot += m.sum() / len(c) * gap
            worst = max(worst, gap)
    return worst if mce else tot


def _loop_cwce(p, y, b):
    k = p.shape[1]
    return np.mean([_loop_ece(p[:, j], (y == j).astype(float), b) for j in range(k)])


def _loop_ace(p, y, b):
    """Nixon's ACE as the study's get_ace (threshold 0), on tie-free data."""
    n, k = p.shape
    tot = 0.0
    for j in range(k):
        s, t = p[:, j], (y == j).astype(float)
        keep = s > 0
        s, t = s[keep], t[keep]
        o = np.argsort(s)
        s, t = s[o], t[o]
        size = len(s) // b
        for i in range(b):
            lo = i * size
            hi = (i + 1) * size if i < b - 1 else len(s)
            if hi > lo:
                tot += abs(s[lo:hi].mean() - t[lo:hi].mean()) * (hi - lo) / (n * k)
    return tot


def test_ece_mce_cwce_match_the_study_loops_with_zeros_and_ones():
    rng = np.random.default_rng(3)
    p = _softmax(6 * rng.standard_normal((300, 5)).astype(np.float64))
    p[:40] = np.eye(5)[rng.integers(0, 5, 40)]  # exact 0 and 1 entries
    y = rng.integers(0, 5, 300)
    c, z = p.max(1), (p.argmax(1) == y).astype(float)
    for b in (1, 3, 5, 15, 100, 500):
        assert bc.ece(p, y, b) == pytest.approx(_loop_ece(c, z, b), abs=1e-12)
        assert bc.mce(p, y, b) == pytest.approx(_loop_ece(c, z, b, mce=True), abs=1e-12)
        assert bc.cwce(p, y, b) == pytest.approx(_loop_cwce(p, y, b), abs=1e-12)


def test_cwce_em_ace_matches_the_study_loop():
    for n, k, b in ((1000, 10, 15), (997, 3, 7), (50, 100, 5), (10, 4, 15)):
        lg, y = _case(n, k, seed=n, dtype=np.float64)
        p = _softmax(lg)
        assert bc.cwce_em(p, y, b) == pytest.approx(_loop_ace(p, y, b), abs=1e-12)
        assert bc.cwce_em(p, y, b, variant="A") == bc.cwce_em(p, y, b)


def test_variants_agree_when_bins_divide_and_no_ties():
    lg, y = _case(1000, 10, seed=5, dtype=np.float64)
    p = _softmax(lg)
    for b in (5, 10, 100):
        assert bc.cwce_em(p, y, b, variant="ace") == pytest.approx(
            bc.cwce_em(p, y, b, variant="marginal"), abs=1e-12
        )


def test_ksce_ties_modes():
    c = np.array([0.6, 0.6, 0.6, 0.9])
    z = np.array([1, 0, 0, 1])
    # blocks: prefixes end at 3 (sum c - z = 1.8 - 1) and 4 -> max 0.8/4
    assert bc.ksce(c, z) == pytest.approx(0.2)
    # input order: prefix 1 gives |0.6 - 1| = 0.4, prefix 3 gives 0.8 -> 0.8/4 = 0.2
    assert bc.ksce(c, z, ties="input") == pytest.approx(0.2)
    assert bc.ksce(c[::-1].copy(), z[::-1].copy()) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="ties"):
        bc.ksce(c, z, ties="nope")


def test_mmce_is_exact_on_hand_example():
    c = np.array([0.8, 0.8, 0.5])
    z = np.array([1, 0, 1])
    w = z - c
    k = np.exp(-np.abs(c[:, None] - c[None, :]) / 0.4)
    assert bc.mmce(c, z) == pytest.approx(math.sqrt(w @ k @ w) / 3, abs=1e-15)


def test_mmce_memory_is_linear():
    import tracemalloc

    rng = np.random.default_rng(0)
    c = rng.uniform(0.1, 1, 200_000)
    z = (rng.uniform(size=c.size) < c).astype(np.int64)
    tracemalloc.start()
    bc.mmce(c, z)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6  # an N x N float64 matrix would be 320 GB


def test_kdece_undefined_raises():
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    with pytest.raises(bc.UndefinedMetricError, match="no prediction is correct"):
        bc.kdece(p[:, ::-1].copy()[:2], np.array([0, 0]))
    with pytest.raises(ValueError, match="same"):
        bc.kdece(np.array([0.9, 0.9, 0.7]), np.array([1, 1, 0]))


def test_confidence_means_and_accuracy():
    p = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    y = np.array([0, 0, 1])
    assert bc.accuracy(p, y) == pytest.approx(1 / 3)
    assert bc.confidence_means(p, y) == pytest.approx((0.9, 0.65))
    with pytest.raises(bc.UndefinedMetricError, match="incorrect_confidence"):
        bc.confidence_means(p, np.array([0, 1, 0]))


def test_tl_ece_by_hand_and_mass_binning():
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    y = np.array([0, 1, 1, 0])
    # class 0 group: c = .9,.8 z = 1,0 -> one bin (.5,1]? with B=2 both in (0.5, 1]: |1.7-1|
    # class 1 group: c = .7,.6 z = 1,0 -> |1.3-1|; total (0.7 + 0.3) / 4
    assert bc.tl_ece(p, y, 2) == pytest.approx(0.25)
    assert bc.tl_ece(p, y, 1, binning="mass") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="predicted class"):
        bc.tl_ece(p.max(1), (p.argmax(1) == y).astype(int), 2)


# --------------------------------------------------------------------------- temperature scaling


def test_tao2024_split_is_the_legacy_seed42_shuffle():
    state = np.random.get_state()
    try:
        np.random.seed(42)
        order = list(range(10_000))
        np.random.shuffle(order)
    finally:
        np.random.set_state(state)
    before = np.random.get_state()[1].copy()
    fit, post = bc.tao2024_split(10_000)
    assert np.array_equal(np.random.get_state()[1], before)  # global state untouched
    assert fit.tolist() == order[:2000] and post.tolist() == order[2000:]
    assert len(bc.tao2024_split(6000)[0]) == 1200
    with pytest.raises(ValueError, match="N >= 5"):
        bc.tao2024_split(4)


def test_temperature_grid_is_repeated_addition():
    assert len(TEMPERATURE_GRID) == 100
    assert TEMPERATURE_GRID[0] == 0.1 and TEMPERATURE_GRID[2] == 0.30000000000000004
    assert TEMPERATURE_GRID[-1] == pytest.approx(10.0)


def test_grid_fit_matches_per_temperature_loop():
    lg, y = _case(2000, 10, seed=7)
    t_lg = torch.from_numpy(lg)
    best, best_t, t = 1e7, 1.0, 0.1
    with torch_threads(1):
        for _ in range(100):
            p = torch.softmax(t_lg / t, 1).numpy()
            e = _loop_ece(p.max(1).astype(np.float64), (p.argmax(1) == y).astype(float), 15)
            if e < best:
                best, best_t = e, t
            t += 0.1
    assert fit_temperature_grid(t_lg, torch.from_numpy(y)) == best_t


def test_nll_fit_is_the_nll_minimum():
    lg, y = _case(1500, 10, seed=8, dtype=np.float64)
    t = bc.fit_temperature(lg, y, protocol="nll")
    lt = torch.from_numpy(lg)

    def nll(temp):
        return float(-torch.log_softmax(lt / temp, 1)[torch.arange(1500), y].mean())

    assert nll(t) <= nll(t * 1.001) and nll(t) <= nll(t / 1.001)


# --------------------------------------------------------------------------- evaluate


def _official_calibration_columns(shared_dir):
    cols = (shared_dir / "specs" / "official-columns.txt").read_text().split()
    keep = ("acc", "correct_confidence", "incorrect_confidence", "auc_cifar10c", "auc_svhn")
    return [c for c in cols if c.startswith(("pre_", "post_")) or c in keep]


def test_evaluate_columns_are_exactly_the_contract(shared_dir):
    lg, y = _case(600, 10)
    ood = {"cifar10c": _case(300, 10, seed=1)[0] * 0.3, "svhn": _case(200, 10, seed=2)[0] * 0.5}
    row = bc.evaluate(lg, y, ood=ood, extras=False)
    official = _official_calibration_columns(shared_dir)
    assert sorted(row) == sorted([*official, "temperature"])
    # Published columns come first, in the published order.
    assert [c for c in row if c in official] == official
    row_x = bc.evaluate(lg, y)
    extras = {
        f"{s}_{f}" for s in ("pre", "post") for f in ("smECE", "ECE_l2_debiased_15", "TL_ECE_15")
    } | {"pre_Brier_sum", "post_Brier_sum", "post_acc"}
    assert extras <= set(row_x)
    assert len(row_x) == 3 + 90 + 10 + 1 + len(extras)
    assert all(isinstance(v, float) and math.isfinite(v) for v in row_x.values())


def test_evaluate_agrees_with_functional_metrics():
    lg, y = _case(1000, 10, seed=4)
    row = bc.evaluate(lg, y, bins=(5, 15, 100))
    p = _softmax(lg)
    assert row["acc"] == bc.accuracy(p, y)
    assert (row["correct_confidence"], row["incorrect_confidence"]) == bc.confidence_means(p, y)
    for b in (5, 15, 100):
        assert row[f"pre_ECE_{b}"] == pytest.approx(bc.ece(p, y, b), abs=1e-15)
        assert row[f"pre_ECE_em_{b}"] == pytest.approx(bc.ece_em(p, y, b), abs=1e-15)
        assert row[f"pre_cwCE_{b}"] == pytest.approx(bc.cwce(p, y, b), abs=1e-15)
        assert row[f"pre_cwCE_em_{b}"] == pytest.approx(bc.cwce_em(p, y, b), abs=1e-15)
        assert row[f"pre_MCE_{b}"] == pytest.approx(bc.mce(p, y, b), abs=1e-15)
    for name, fn in (("KSCE", bc.ksce), ("KDECE", bc.kdece), ("MMCE", bc.mmce), ("NLL", bc.nll)):
        assert row[f"pre_{name}"] == pytest.approx(fn(p, y), abs=1e-12), name
    assert row["pre_Brier"] == pytest.approx(bc.brier(p, y), abs=1e-15)
    assert row["pre_smECE"] == pytest.approx(bc.smece(p, y), abs=1e-15)
    # post = the same metrics on softmax(logits / T) over the 80% split.
    _, post = bc.tao2024_split(1000)
    t = row["temperature"]
    assert t in TEMPERATURE_GRID
    pp = torch.softmax(torch.from_numpy(lg[post]) / t, 1).numpy()
    assert row["post_ECE_15"] == pytest.approx(bc.ece(pp, y[post], 15), abs=1e-15)
    assert row["post_cwCE_em_15"] == pytest.approx(bc.cwce_em(pp, y[post], 15), abs=1e-15)
    assert row["post_acc"] == bc.accuracy(pp, y[post])
    ts = bc.temperature_scale(lg, y, bins=(15,))
    assert ts["temperature"] == t and ts["post_ECE_15"] == row["post_ECE_15"]
    assert not any(k.startswith("pre_") for k in ts)
    with pytest.raises(ValueError, match="nothing to compute"):
        bc.temperature_scale(lg, y, protocol=None)


def test_evaluate_torch_input_and_options():
    lg, y = _case(500, 10, seed=9)
    a = bc.evaluate(lg, y, bins=(15,))
    b = bc.evaluate(torch.from_numpy(lg), torch.from_numpy(y), bins=(15,), threads=None)
    assert a == b
    c = bc.evaluate(lg, y, bins=(15,), protocol=None, extras=False)
    assert "temperature" not in c and not any(k.startswith("post_") for k in c)
    d = bc.evaluate(lg, y, bins=(15,), protocol="nll", cwce_em_variant="marginal")
    assert d["pre_cwCE_em_15"] == pytest.approx(bc.cwce_em(_softmax(lg), y, 15, variant="M"))
    assert d["temperature"] not in TEMPERATURE_GRID


def test_evaluate_undefined_policy():
    lg, _ = _case(100, 10, seed=2)
    wrong = (lg.argmax(1) + 1) % 10  # every prediction wrong
    with pytest.raises(bc.UndefinedMetricError):
        bc.evaluate(lg, wrong, bins=(15,))
    row = bc.evaluate(lg, wrong, bins=(15,), undefined="nan")
    nan = {k for k, v in row.items() if math.isnan(v)}
    assert nan == {"pre_KDECE", "post_KDECE", "correct_confidence"}
    assert row["acc"] == 0.0


def test_evaluate_ood_auroc():
    lg, y = _case(400, 10, seed=3)
    far = _case(300, 10, seed=4)[0] * 0.1
    row = bc.evaluate(lg, y, ood={"svhn": far}, bins=(15,), protocol=None, extras=False)
    assert row["auc_svhn"] == pytest.approx(bc.ood_auroc(lg, far))
    assert row["auc_svhn"] > 0.9


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("logits", "labels", "kwargs", "match"),
    [
        (np.array([[0.0, np.nan]]), np.array([0]), {}, "NaN or infinite"),
        (np.array([[0.0, np.inf]]), np.array([0]), {}, "NaN or infinite"),
        (np.zeros((0, 3)), np.zeros(0, dtype=int), {}, "empty"),
        (np.zeros(3), np.zeros(3, dtype=int), {}, "2-D"),
        (np.zeros((3, 1)), np.zeros(3, dtype=int), {}, "at least 2 classes"),
        (np.zeros((3, 2)), np.zeros(4, dtype=int), {}, "length 4"),
        (np.zeros((3, 2)), np.array([0, 1, 2]), {}, r"class indices in \[0, 1\]"),
        (np.zeros((3, 2)), np.array([0, -1, 1]), {}, "class indices"),
        (np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]), {}, "must be integers"),
        (np.zeros((3, 2)), np.zeros((3, 1), dtype=int), {}, "1-D"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"bins": (15, 0)}, "positive integer"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"bins": (2.5,)}, "positive integer"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"protocol": "lbfgs"}, "protocol"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"cwce_em_variant": "x"}, "variant"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"edges": "left"}, "edges"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"undefined": "zero"}, "undefined"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"threads": 0}, "threads"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"ood": {"svhn": np.zeros((5, 3))}}, "K = 3"),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), {"ood": {"a b": np.zeros((5, 2))}}, "names"),
        (np.zeros((4, 2)), np.zeros(4, dtype=int), {}, "N >= 5"),
        (np.array([["a", "b"]]), np.array([0]), {}, "numeric"),
    ],
)
def test_evaluate_rejects_bad_input(logits, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bc.evaluate(logits, labels, **kwargs)


@pytest.mark.parametrize(
    ("probs", "labels", "match"),
    [
        (np.array([[0.5, 0.6]]), np.array([0]), "sum to 1"),
        (np.array([[1.5, -0.5]]), np.array([0]), r"\[0, 1\]"),
        (np.array([0.5, 1.2]), np.array([0, 1]), r"\[0, 1\]"),
        (np.array([0.5, 0.7]), np.array([0, 2]), "0/1"),
        (np.zeros((2, 2, 2)), np.array([0, 1]), "shape"),
        (np.array([]), np.array([], dtype=int), "empty"),
    ],
)
def test_metrics_reject_bad_probabilities(probs, labels, match):
    for fn in (bc.ece, bc.ece_em, bc.mce, bc.ksce, bc.mmce, bc.smece):
        with pytest.raises(ValueError, match=match):
            fn(probs, labels)


def test_unusual_array_layouts_are_accepted():
    lg, y = _case(300, 10, seed=12, dtype=np.float64)
    p = _softmax(lg)
    ref = bc.ece(p, y, 15)
    assert bc.ece(p.astype(">f8"), y.astype(">i8"), 15) == ref
    assert bc.ece(np.asfortranarray(p), y, 15) == ref
    ro = p.copy()
    ro.flags.writeable = False
    assert bc.ece(ro, y.tolist(), 15) == ref
    assert bc.ece(torch.from_numpy(p).t().contiguous().t(), torch.from_numpy(y), 15) == ref


def test_metric_arguments_are_validated():
    p = np.array([[0.7, 0.3], [0.4, 0.6]])
    y = np.array([0, 0])
    for bad in (0, -3, 1.5, True, "15"):
        with pytest.raises(ValueError, match="n_bins"):
            bc.ece(p, y, bad)
    with pytest.raises(ValueError, match="norm"):
        bc.ece(p, y, 5, norm="l3")
    with pytest.raises(ValueError, match="classwise"):
        bc.cwce(p.max(1), np.array([1, 0]))
    with pytest.raises(ValueError, match="form"):
        bc.brier(p, y, form="median")
    with pytest.raises(ValueError, match="width"):
        bc.mmce(p, y, width=0)
    with pytest.raises(ValueError, match="score"):
        bc.ood_auroc(p, p, score="energy")
    with pytest.raises(ValueError, match="sigma"):
        bc.smece(p, y, sigma=-1.0)
    with pytest.raises(ValueError, match="binning"):
        bc.ece_l2_debiased(p, y, 5, binning="quantile")


# --------------------------------------------------------------------------- diagrams, bootstrap


@pytest.mark.parametrize("binning", ["width", "mass"])
def test_reliability_data_is_consistent(binning):
    lg, y = _case(800, 10, seed=6)
    p = _softmax(lg)
    d = bc.reliability_data(p, y, 15, binning=binning)
    assert d["count"].sum() == 800
    assert d["ece"] == pytest.approx(
        bc.ece(p, y, 15) if binning == "width" else bc.ece_em(p, y, 15)
    )
    ok = d["count"] > 0
    assert np.all(d["confidence"][ok] >= d["lower"][ok] - 1e-12)
    assert np.all(np.isnan(d["accuracy"][~ok]))


def test_reliability_torchmetrics_has_one_bin_for_exactly_one():
    d = bc.reliability_data(EDGE_C, EDGE_Z, 4, edges="torchmetrics")
    assert len(d["count"]) == 5 and d["count"][-1] == 2 and d["lower"][-1] == 1.0


def test_plot_reliability_writes_a_png(tmp_path):
    lg, y = _case(300, 10, seed=6)
    path = tmp_path / "rel.png"
    fig = bc.plot_reliability(_softmax(lg), y, 10, binning="mass", path=path)
    assert path.stat().st_size > 1000 and len(fig.axes) == 2


@pytest.mark.slow  # a fresh interpreter (~3 s)
def test_importing_calibration_does_not_import_matplotlib():
    code = "import sys, bench.calibration; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bootstrap_is_seeded_and_sane():
    lg, y = _case(500, 10, seed=1)
    p = _softmax(lg)
    p, y = p.max(1), (p.argmax(1) == y).astype(np.int64)  # 1-D confidences are cheaper
    a = bc.bootstrap_ci(bc.ece, p, y, n_resamples=200, seed=3)
    assert a == bc.bootstrap_ci(bc.ece, p, y, n_resamples=200, seed=3)
    assert a != bc.bootstrap_ci(bc.ece, p, y, n_resamples=50, seed=4)
    assert a["low"] < a["estimate"] < a["high"] and a["std"] > 0
    basic = bc.bootstrap_ci(bc.ece, p, y, n_resamples=200, seed=3, method="basic")
    assert basic["low"] == pytest.approx(2 * a["estimate"] - a["high"])
    seen = []

    def numpy_metric(pp, yy):
        seen.append(type(pp))
        return float(np.mean(pp))

    bc.bootstrap_ci(numpy_metric, p, y, n_resamples=5)
    assert set(seen) == {np.ndarray}
    t = bc.bootstrap_ci(bc.ece, torch.from_numpy(p), torch.from_numpy(y), n_resamples=200, seed=3)
    assert t == a
    with pytest.raises(ValueError, match="alpha"):
        bc.bootstrap_ci(bc.ece, p, y, alpha=5)
    with pytest.raises(ValueError, match="n_resamples"):
        bc.bootstrap_ci(bc.ece, p, y, n_resamples=1)
