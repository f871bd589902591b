"""Each research question on a table built from the study's own numbers reproduces them.

The tables are synthetic (official-format rows in a temporary store), built so that the numbers
the study reported (paper-protocol.md section 2) are exact properties of the data: Kendall tau
by construction (a permutation with the right number of inversions), medians by construction.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from analysis_tables import (
    fill_median,
    official,
    ranks_with_tau,
    store,
    two_taus,
    with_median,
    with_tau,
)

from bench import Benchmark
from bench.analysis.questions import Context, run_question
from bench.arch.spaces import get_space

N_TSS = 15625
SEED = 20240


def _ctx(root, **kw) -> Context:
    return Context(Benchmark.open(root, demo=False), **kw)


def _row(matrix, name: str) -> dict[str, float]:
    return dict(zip(matrix.labels, matrix.values[matrix.labels.index(name)], strict=True))


# -- (ii) robustness: the study's bottom-K "top1000" heatmap, and the opposite top-K -------------
#: tau with pre_ECE_15 in the study's "top1000" heatmap (= the 1000 least accurate models)
RQ2_TOP1000 = {
    "acc": 0.49,
    "fgsm_Linf_acc1_0": 0.50,
    "pgd_Linf_acc1_0": 0.50,
    "aa_apgd_ce_Linf_acc1_0": 0.49,
    "aa_square_Linf_acc1_0": 0.43,
    "gaussian_noise": 0.51,
    "shot_noise": 0.49,
    "frost": 0.53,
    "glass_blur": 0.54,
    "snow": 0.53,
    "pre_ECE_em_15": 0.99,
    "pre_cwCE_15": 0.72,
    "pre_KDECE": -0.07,
    "pre_KSCE": 0.87,
    "auc_cifar10c": 0.44,
    "auc_svhn": 0.54,
}
_LABEL = {
    "fgsm_Linf_acc1_0": "fgsm1",
    "pgd_Linf_acc1_0": "pgd1",
    "aa_apgd_ce_Linf_acc1_0": "apgd1",
    "aa_square_Linf_acc1_0": "square1",
    "gaussian_noise": "gauss",
    "shot_noise": "shot",
    "glass_blur": "glass",
    "pre_ECE_em_15": "ECE_em",
    "pre_cwCE_15": "cwCE",
    "pre_KDECE": "KDECE",
    "pre_KSCE": "KSCE",
    "auc_cifar10c": "aucC10C",
    "auc_svhn": "aucSVHN",
}


@pytest.fixture(scope="module")
def rq2_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED)
    n = N_TSS
    acc = rng.permutation(np.linspace(0.10, 0.95, n))
    ece = rng.uniform(0.01, 0.12, n)
    order = np.argsort(acc)
    bottom, top = order[:1000], order[-1000:]
    cols = {"acc": acc, "pre_ECE_15": ece}
    for c, t in RQ2_TOP1000.items():
        if c == "acc":
            continue
        lo, hi = (0.4, 0.95) if c.startswith("auc") else (0.0, 0.9)
        if c.startswith("pre_"):
            lo, hi = 0.01, 0.2
        v = rng.uniform(lo, hi, n)
        v[bottom] = with_tau(ece[bottom], t, lo, hi)
        v[top] = with_tau(ece[top], -t, lo, hi)  # the most accurate: the opposite sign
        cols[c] = v
    # acc inside each population: its own values, arranged for tau(ECE, acc) = +-0.49
    for rows, t in ((bottom, 0.49), (top, -0.49)):
        levels = np.sort(acc[rows])
        new = np.empty(len(rows))
        new[np.argsort(ece[rows])] = levels[ranks_with_tau(len(rows), t)]
        acc[rows] = new
    return store(tmp_path_factory.mktemp("rq2"), [official("tss", "cifar10", cols)])


def test_rq2_as_published_reproduces_the_bottom_1000_heatmap(rq2_bench):
    res = run_question("rq2", _ctx(rq2_bench, as_published=True))
    m = res.tables["k1000_cifar10"]
    assert "least accurate" in m.caption
    row = _row(m, "ECE")
    for col, t in RQ2_TOP1000.items():
        assert round(row[_LABEL.get(col, col)], 2) == t, col
    assert res.as_published and res.as_dict()["as_published_note"].startswith("AS PUBLISHED")
    assert any("LEAST accurate" in n for n in res.notes)


def test_rq2_default_takes_the_most_accurate_and_the_signs_flip(rq2_bench):
    res = run_question("rq2", _ctx(rq2_bench))
    m = res.tables["k1000_cifar10"]
    assert "most accurate" in m.caption and not res.as_published
    row = _row(m, "ECE")
    for col, t in RQ2_TOP1000.items():
        assert round(row[_LABEL.get(col, col)], 2) == -t, col
    pops = {(r[0], r[1].split(" ")[0]): r for r in res.tables["populations"].data}
    assert pops[(1000, "most")][2] > pops[(1000, "least")][3]  # disjoint accuracy ranges
    lines = res.tables["lines_ece"]
    assert [r[0] for r in lines.data] == [*range(1000, 15001, 1000), N_TSS]
    assert lines.data[0][lines.columns.index("frost")] == pytest.approx(-0.53, abs=0.005)
    assert "kall_cifar10" in res.tables and "k5000_cifar10" in res.tables


# -- (i) transfer across datasets: the paper's Fig. 1 numbers ---------------------------------
FIG1_WITHIN = {  # ECE against ECE_em, cwCE, KSCE, KDECE, MMCE, cwCE_em
    "ImageNet16-120": (0.99, 0.87, 0.99, 0.99, 0.98, 0.76),
    "cifar10": (0.93, 0.86, 0.93, 0.91, 0.89, 0.32),
    "cifar100": (0.98, 0.79, 0.98, 0.98, 0.92, 0.19),
}
OTHERS = ("pre_ECE_em_15", "pre_cwCE_15", "pre_KSCE", "pre_KDECE", "pre_MMCE", "pre_cwCE_em_15")


@pytest.fixture(scope="module")
def rq1_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED + 1)
    n = N_TSS
    top = rng.choice(n, 100, replace=False)  # the 100 most accurate on every dataset
    ece_in = rng.uniform(0.01, 0.1, 100)
    ece = {
        "ImageNet16-120": ece_in,
        "cifar10": with_tau(ece_in, -0.23, 0.01, 0.1),
    }
    ece["cifar100"] = two_taus(ece_in, ece["cifar10"], 0.12, 0.14, rng) * 0.1 + 0.01
    frames = []
    for ds, within in FIG1_WITHIN.items():
        acc = rng.uniform(0.1, 0.8, n)
        acc[top] = rng.uniform(0.85, 0.95, 100)
        cols = {"acc": acc, "pre_ECE_15": rng.uniform(0.01, 0.1, n)}
        cols["pre_ECE_15"][top] = ece[ds]
        for c, t in zip(OTHERS, within, strict=True):
            v = rng.uniform(0.01, 0.2, n)
            v[top] = with_tau(ece[ds], t, 0.01, 0.2)
            cols[c] = v
        frames.append(official("tss", ds, cols))
    return store(tmp_path_factory.mktemp("rq1"), frames)


def test_rq1_fig1_population_reproduces_the_paper(rq1_bench):
    res = run_question("rq1", _ctx(rq1_bench))
    fig1 = res.tables["fig1"]
    assert fig1.n == 100 and len(fig1.labels) == 21
    assert fig1.labels[:2] == ["IN ECE", "IN ECE_em"]
    ece_in = _row(fig1, "IN ECE")
    assert round(ece_in["C10 ECE"], 2) == -0.23
    assert abs(_row(fig1, "IN ECE")["C100 ECE"] - 0.12) < 0.01
    assert abs(_row(fig1, "C10 ECE")["C100 ECE"] - 0.14) < 0.01
    for ds, short in (("ImageNet16-120", "IN"), ("cifar10", "C10"), ("cifar100", "C100")):
        row = _row(fig1, f"{short} ECE")
        got = [
            round(row[f"{short} {m}"], 2)
            for m in ("ECE_em", "cwCE", "KSCE", "KDECE", "MMCE", "cwCE_em")
        ]
        assert tuple(got) == FIG1_WITHIN[ds]
    transfer = {r[0]: r for r in res.tables["transfer"].data if r[1] == "pre_ECE_15"}
    assert transfer["top-100 union (Fig. 1)"][2] == 100
    assert round(transfer["top-100 union (Fig. 1)"][3], 2) == -0.23
    # 'all' is the notebook's population: every config, the same numbers pandas gives
    assert res.tables["all"].n == N_TSS and transfer["all"][2] == N_TSS


def test_rq1_transfer_counts_the_networks_both_datasets_hold(tmp_path):
    # fashion8 leaves a function's copies out, digits holds every class: the transfer rows are
    # taken over the configs both hold, and n counts those, not the union
    rng = np.random.default_rng(SEED + 5)
    n = N_TSS
    full = {"acc": rng.uniform(0.1, 0.9, n), "pre_ECE_15": rng.uniform(0.01, 0.1, n)}
    part = {"acc": rng.uniform(0.1, 0.9, n), "pre_ECE_15": rng.uniform(0.01, 0.1, n)}
    missing = np.argsort(part["acc"])[: n - 5257]  # it holds its 5,257 best, as many as fashion8
    part["pre_ECE_15"][missing] = np.nan
    root = store(tmp_path, [official("tss", "cifar10", full), official("tss", "cifar100", part)])
    res = run_question("rq1", _ctx(root))
    transfer = {r[0]: r for r in res.tables["transfer"].data if r[1] == "pre_ECE_15"}
    held = np.setdiff1d(np.arange(n), missing)
    assert transfer["all"][2] == 5257
    want = scipy.stats.kendalltau(full["pre_ECE_15"][held], part["pre_ECE_15"][held]).statistic
    assert transfer["all"][3] == pytest.approx(want)
    assert any("over all (n=5257)" in f for f in res.findings)
    # the matrices' captions say the same: pairs within cifar10 share all rows, across 5,257
    assert res.tables["all"].caption.endswith(f"(n=5257-{n} by pair)")
    from bench.analysis import rq1

    ax = dict(rq1.figures(res))["transfer"].axes[0]
    ax.figure.canvas.draw()  # the minor ticks of the log axis carry no labels to overlap
    assert [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()] == []


def test_rq1_all_matches_pandas(rq1_bench):
    import pandas as pd

    res = run_question("rq1", _ctx(rq1_bench))
    bench = Benchmark.open(rq1_bench, demo=False)
    parts = []
    for ds in ("ImageNet16-120", "cifar10", "cifar100"):
        f = bench.frame("tss", ds, ["pre_ECE_15", "pre_KSCE"])[["config", "pre_ECE_15", "pre_KSCE"]]
        parts.append(f.set_index("config").add_prefix(ds + "|"))
    ref = pd.concat(parts, axis=1).corr(method="kendall")
    got = np.array(res.tables["all"].values)
    labels = res.tables["all"].labels
    i, j = labels.index("IN KSCE"), labels.index("C100 ECE")
    assert got[i, j] == pytest.approx(ref.loc["ImageNet16-120|pre_KSCE", "cifar100|pre_ECE_15"])


# -- (iii) agreement of the metrics: the paper's numbers, and flagged zeros ------------------
RQ3 = {  # ECE against ECE_em, cwCE, cwCE_em, KSCE, KDECE, MMCE
    "cifar10": (0.98, 0.81, 0.36, 0.98, 0.93, 0.91),
    "ImageNet16-120": (0.96, 0.81, -0.15, 0.97, 0.95, 0.96),
}
RQ3_COLS = ("pre_ECE_em_15", "pre_cwCE_15", "pre_cwCE_em_15", "pre_KSCE", "pre_KDECE", "pre_MMCE")


@pytest.fixture(scope="module")
def rq3_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED + 2)
    frames = []
    for ds, taus in RQ3.items():
        ece = rng.uniform(0.01, 0.12, N_TSS)
        cols = {"pre_ECE_15": ece}
        zero = rng.choice(N_TSS, 300, replace=False)  # the study's caught exceptions
        keep = np.setdiff1d(np.arange(N_TSS), zero)
        for c, t in zip(RQ3_COLS, taus, strict=True):
            v = np.empty(N_TSS)
            v[keep] = with_tau(ece[keep], t, 0.001, 0.2)
            v[zero] = 0.0 if c == "pre_cwCE_em_15" else with_tau(ece[zero], t, 0.001, 0.2)
            cols[c] = v
        flags = np.full(N_TSS, None, dtype=object)
        flags[zero] = "zero:pre_cwCE_em_15"
        frames.append(official("tss", ds, cols, flags=flags))
    return store(tmp_path_factory.mktemp("rq3"), frames)


def test_rq3_reproduces_the_paper_and_leaves_flagged_zeros_out(rq3_bench):
    res = run_question("rq3", _ctx(rq3_bench))
    for ds, taus in RQ3.items():
        m = res.tables[f"tss_{ds}"]
        row = _row(m, "ECE")
        got = tuple(
            round(row[k], 2) for k in ("ECE_em", "cwCE", "cwCE_em", "KSCE", "KDECE", "MMCE")
        )
        assert got == taus
    least = {r[1]: r[3] for r in res.tables["agreement"].data}
    assert least == {"cifar10": "cwCE_em", "ImageNet16-120": "cwCE_em"}
    assert any("flagged values left out (pre_cwCE_em_15 300)" in n for n in res.notes)
    kept = run_question("rq3", _ctx(rq3_bench, include_flagged=True))
    row = _row(kept.tables["tss_cifar10"], "ECE")
    assert round(row["cwCE_em"], 2) != 0.36  # the 300 zeros now count
    assert any("flagged values kept" in n for n in kept.notes)


# -- (iv) temperature scaling: medians of the gain, pre-post tau near 0 ----------------------
RQ4_ALL = {"ImageNet16-120": (0.042, 0.021), "cifar10": (0.053, 0.012), "cifar100": (0.125, 0.020)}
RQ4_TOP = {"ImageNet16-120": (0.065, 0.021), "cifar10": (0.049, 0.012), "cifar100": (0.140, 0.023)}


@pytest.fixture(scope="module")
def rq4_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED + 3)
    frames = []
    for ds in RQ4_ALL:
        acc = rng.permutation(np.linspace(0.1, 0.95, N_TSS))
        top = np.argsort(acc)[-1000:]
        rest = np.setdiff1d(np.arange(N_TSS), top)
        cols = {"acc": acc}
        for stage, i in (("pre", 0), ("post", 1)):
            m_top, m_all = RQ4_TOP[ds][i], RQ4_ALL[ds][i]
            top_vals = np.sort(
                np.r_[
                    m_top - 0.001 * np.linspace(1, 0.1, 499),
                    m_top,
                    m_top,
                    m_top + 0.001 * np.linspace(0.1, 1, 499),
                ]
            )
            v = np.empty(N_TSS)
            v[top] = rng.permutation(top_vals)
            v[rest] = rng.permutation(fill_median(top_vals, N_TSS, m_all, m_all * 0.9))
            for b in (5, 10, 15, 20, 25, 50, 100, 200, 500):
                cols[f"{stage}_ECE_{b}"] = v if b == 15 else v * (1 + b / 1000)
        frames.append(official("tss", ds, cols))
    return store(tmp_path_factory.mktemp("rq4"), frames)


def test_rq4_medians_and_pre_post_agreement(rq4_bench):
    res = run_question("rq4", _ctx(rq4_bench))
    gain = {(r[0], r[1]): r for r in res.tables["gain"].data}
    for ds in RQ4_ALL:
        assert gain[(ds, "all")][3:] == pytest.approx(RQ4_ALL[ds], abs=1e-12)
        assert gain[(ds, "top1000")][3:] == pytest.approx(RQ4_TOP[ds], abs=1e-12)
    blocks = {r[0]: r for r in res.tables["blocks"].data}
    assert abs(blocks["pre-post"][1]) < 0.03 and abs(blocks["pre-post"][3]) < 0.03
    assert blocks["pre-pre"][1] == pytest.approx(1.0)  # every bin count the same ranking here
    assert len(res.tables["all"].labels) == 18 and "top1000" in res.tables


# -- (v) accuracy against calibration --------------------------------------------------------
RQ5 = {"cifar10": -0.04, "ImageNet16-120": 0.65, "cifar100": 0.53}


@pytest.fixture(scope="module")
def rq5_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED + 4)
    frames = []
    for ds, t in RQ5.items():
        high = 0.95 if ds == "cifar10" else 0.47
        acc = rng.permutation(
            np.r_[np.linspace(0.1, 0.9, N_TSS - 8699), np.linspace(0.9001, high, 8699)]
        )
        cols = {
            "acc": acc,
            "pre_ECE_15": with_tau(acc, t, 0.0, 0.115),
            "auc_cifar10c": rng.uniform(0.45, 0.9, N_TSS),
        }
        frames.append(official("tss", ds, cols))
    return store(tmp_path_factory.mktemp("rq5"), frames)


def test_rq5_tau_per_dataset_and_the_well_performing_population(rq5_bench):
    res = run_question("rq5", _ctx(rq5_bench))
    rows = {(r[0], r[1]): r for r in res.tables["tau"].data}
    for ds, t in RQ5.items():
        assert round(rows[(ds, "all")][3], 2) == t
    assert rows[("cifar10", "acc > 0.90")][2] == 8699
    assert rows[("ImageNet16-120", "the 56% most accurate")][2] == 8699
    assert "by_accuracy" in res.tables and res.data["main"] == "cifar10"


# -- (vi) bins: the medians of Fig. 6, the 12-epoch panel -------------------------------------
RQ6 = {
    ("pre", 200): (5.35, 5.35, 5.35, 5.35, 5.35, 5.4, 5.5, 5.7, 6.2),
    ("post", 200): (1.5, 1.8, 2.1, 2.3, 2.5, 3.3, 4.5, 6.3, 9.7),
    ("pre", 12): (3.5, 3.5, 3.55, 3.6, 3.65, 3.8, 4.1, 4.7, 6.2),
}
BINS = (5, 10, 15, 20, 25, 50, 100, 200, 500)


@pytest.fixture(scope="module")
def rq6_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED + 5)
    frames = []
    for hp in (200, 12):
        cols = {}
        for (stage, h), meds in RQ6.items():
            if h == hp:
                for b, m in zip(BINS, meds, strict=True):
                    cols[f"{stage}_ECE_{b}"] = with_median(N_TSS, m / 100, m / 200, rng)
        frames.append(official("tss", "cifar10", cols).assign(hp=hp, epoch=hp))
    return store(tmp_path_factory.mktemp("rq6"), frames)


def test_rq6_medians_by_bins(rq6_bench):
    res = run_question("rq6", _ctx(rq6_bench))
    rows = {r[0]: r for r in res.tables["medians"].data}
    assert list(rows) == ["pre, hp 200 epoch 200", "post, hp 200 epoch 200", "pre, hp 12 epoch 12"]
    for (stage, hp), meds in RQ6.items():
        got = rows[f"{stage}, hp {hp} epoch {hp}"][2:]
        assert got == pytest.approx([m / 100 for m in meds], abs=1e-12)
    assert not any("early checkpoint" in n for n in res.notes)
    post = next(f for f in res.findings if "post" in f)
    assert "x6.5" in post  # 9.7 / 1.5: bins move post-TS ECE far more than pre-TS ECE


# -- (vii) architecture: size brackets, uniform widths, the top 20 by HCS ---------------------
RQ7_SIZE = {
    "ImageNet16-120": (1.65, 1.7, 2.0, 2.9, 4.2, 5.6, 6.8),
    "cifar10": (3.87, 4.17, 4.37, 4.38, 4.25, 4.1, 3.92),
}
RQ7_C10_ACC = (84.7, 87.5, 89.1, 90.3, 91.1, 91.8, 92.3)
RQ7_WIDTHS = {  # width: (acc, pre ECE, post ECE), CIFAR-10
    8: (78.2, 4.47, 1.35),
    16: (86.6, 3.53, 1.29),
    24: (89.1, 3.57, 1.15),
    32: (90.2, 4.19, 1.02),
    40: (91.2, 4.0, 1.35),
    48: (92.2, 3.72, 0.85),
    56: (92.3, 3.85, 0.85),
    64: (92.5, 4.0, 1.33),
}
TOP20 = [  # rank order: (config, E1..E6, kernel params), paper-protocol.md (vii)
    (8135, "c3 c3 pool skip c1 c3", 28),
    (10699, "c3 none c3 skip c1 c3", 28),
    (13714, "c3 c3 c3 skip c1 c3", 37),
    (10715, "c3 c3 skip skip c1 c1", 20),
    (10000, "c1 c3 c3 skip c1 c3", 29),
    (1459, "c3 c1 c3 skip c1 c3", 29),
    (7725, "c3 none c1 skip c3 c1", 20),
    (9972, "c1 c3 skip skip c3 c1", 20),
    (11876, "c3 c3 skip skip pool c3", 27),
    (3731, "c3 c1 c3 skip c3 c1", 29),
    (9586, "c3 c3 none skip c3 c3", 36),
    (13585, "c3 none skip skip c3 c3", 27),
    (10165, "c3 c3 c1 skip c1 c3", 29),
    (7602, "c1 c3 pool skip c1 c3", 20),
    (15383, "c1 none c3 skip c3 c1", 20),
    (4208, "c3 c1 c1 skip c3 c1", 21),
    (13539, "c3 c3 pool skip c3 c1", 28),
    (5111, "c3 c1 c3 skip c1 c1", 21),
    (10676, "c3 c1 c1 skip c3 c3", 29),
    (9930, "c3 c3 c3 skip c3 c3", 45),
]


@pytest.fixture(scope="module")
def rq7_bench(tmp_path_factory):
    rng = np.random.default_rng(SEED + 6)
    sss = get_space("sss")
    archs = sss.archs()
    size = np.array([sum(int(w) for w in a.split(":")) for a in archs])
    which = np.clip((size - 40) // 40, 0, 6)
    frames = []
    for ds, meds in RQ7_SIZE.items():
        ece = np.array(meds)[which] / 100
        acc = (
            np.array(RQ7_C10_ACC)[which] / 100
            if ds == "cifar10"
            else rng.uniform(0.2, 0.45, len(archs))
        )
        post = rng.uniform(0.005, 0.03, len(archs))
        if ds == "cifar10":
            for w, (a, pre, po) in RQ7_WIDTHS.items():
                i = archs.index(":".join([str(w)] * 5))
                acc[i], ece[i], post[i] = a / 100, pre / 100, po / 100
        frames.append(official("sss", ds, {"acc": acc, "pre_ECE_15": ece, "post_ECE_15": post}))
    acc = rng.uniform(0.3, 0.9, N_TSS)
    ece = rng.uniform(0.03, 0.1, N_TSS)
    for rank, (cfg, _, _) in enumerate(TOP20):
        acc[cfg], ece[cfg] = 0.946 - rank * 1e-4, 0.05
    frames.append(official("tss", "cifar10", {"acc": acc, "pre_ECE_15": ece}))
    return store(tmp_path_factory.mktemp("rq7"), frames)


def test_rq7_size_widths_and_the_top20_cells(rq7_bench):
    res = run_question("rq7", _ctx(rq7_bench))
    size = {(r[0], r[1], r[2]): r for r in res.tables["size"].data}
    brackets = [f"{lo}-{lo + 40}" for lo in range(40, 320, 40)]
    for ds, meds in RQ7_SIZE.items():
        got = [size[(ds, "all", b)][4] for b in brackets]
        assert got == pytest.approx([m / 100 for m in meds], abs=1e-12)
    got_acc = [size[("cifar10", "all", b)][5] for b in brackets]
    assert got_acc == pytest.approx([a / 100 for a in RQ7_C10_ACC], abs=1e-12)
    assert any("sss/ImageNet16-120: median ECE rises with size" in f for f in res.findings)
    assert any("sss/cifar10: median ECE is hump-shaped" in f for f in res.findings)
    widths = {(r[0], r[1]): r for r in res.tables["widths"].data}
    for w, (a, pre, po) in RQ7_WIDTHS.items():
        assert widths[("cifar10", w)][2:] == pytest.approx([a / 100, pre / 100, po / 100])
    top = res.tables["top20"]
    assert [r[1] for r in top.data] == [cfg for cfg, _, _ in TOP20]
    for r, (_, ops, kp) in zip(top.data, TOP20, strict=True):
        assert " ".join(r[2:8]) == ops and r[8] == kp
    assert any("E4 skip 20/20" in f for f in res.findings)
    kernel = res.tables["kernel"].data
    assert kernel[-1][:2] == [54, 1]  # one cell is conv3x3 on every edge: a value, not a span
    (span,) = [f for f in res.findings if "kernel params and" in f]
    assert f"over {kernel[0][1]} networks at 0 kernel params" in span
    assert span.endswith(f"{kernel[-1][2]:.2%} (1 network) at 54")
    (trend,) = [f for f in res.findings if "tau of ECE with the kernel params" in f]
    cells = res.data["cells"]
    ok = ~np.isnan(cells["ece"])
    want = scipy.stats.kendalltau(cells["kp"][ok], cells["ece"][ok]).statistic
    assert (
        f"params {want:+.2f} over {int(ok.sum())} networks (median ECE {kernel[0][3]:.2%}" in trend
    )


# -- what every question says about the table it got ------------------------------------------
def test_questions_say_what_the_table_lacks(rq5_bench):
    ctx = _ctx(rq5_bench)
    res = run_question("rq2", ctx)
    assert any("lacks fgsm_Linf_acc1_0" in n for n in res.notes)
    res = run_question("rq7", ctx)
    assert any("no SSS table" in n for n in res.notes)
    res = run_question("rq6", ctx)  # no bin columns but ECE_15
    assert "medians" in res.tables
    assert res.reliability["tss/cifar10"]["measurable"] is False
