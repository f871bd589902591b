"""Seed reliability against closed forms: test-retest tau, spread, ICC, Spearman-Brown."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from analysis_tables import store

from bench import Benchmark
from bench.analysis.questions import Context, run_question
from bench.analysis.reliability import (
    icc,
    reliability_of,
    seed_reliability,
    spearman_brown_seeds,
    tau_of_mean,
)
from bench.errors import InputError

SIGMA_A, SIGMA_E = 1.0, 0.5  # architecture and seed standard deviations
ARCHS, SEEDS = 6000, (777, 888, 999)


@pytest.fixture(scope="module")
def seeded_bench(tmp_path_factory):
    """An SSS 'computed' table: value = architecture effect + seed noise, three seeds."""
    rng = np.random.default_rng(5)
    effect = rng.normal(0, SIGMA_A, ARCHS)
    rows = []
    for s in SEEDS:
        noise = rng.normal(0, SIGMA_E, ARCHS)
        value = 10 + effect + noise
        rows.append(
            pd.DataFrame(
                {
                    "space": "sss",
                    "dataset": "cifar10",
                    "source": "computed",
                    "config": np.arange(ARCHS),
                    "hp": 90,
                    "epoch": 90,
                    "seed": s,
                    "pre_NLL": value,
                    "acc": 1 / (1 + np.exp(-value + 10)),
                    "pre_ECE_15": rng.uniform(0, 0.2, ARCHS),
                }
            )
        )
    return store(tmp_path_factory.mktemp("seeds"), [pd.concat(rows)])


def test_closed_form_of_a_random_effects_table(seeded_bench):
    bench = Benchmark.open(seeded_bench, demo=False)
    rel = seed_reliability(bench, "sss", "cifar10", ["pre_NLL", "acc", "pre_ECE_15", "frost"])
    assert rel["measurable"] and rel["seeds"] == list(SEEDS)
    assert rel["missing_columns"] == ["frost"]
    r = rel["columns"]["pre_NLL"]
    share = SIGMA_A**2 / (SIGMA_A**2 + SIGMA_E**2)  # 0.8: the correlation of two seeds
    assert r["icc1"] == pytest.approx(share, abs=0.02)
    assert r["tau"] == pytest.approx(2 / math.pi * math.asin(share), abs=0.02)  # Greiner
    assert r["within_sd"] == pytest.approx(SIGMA_E, abs=0.02)
    assert r["between_sd"] == pytest.approx(math.sqrt(SIGMA_A**2 + SIGMA_E**2 / 3), abs=0.03)
    k = len(SEEDS)
    assert r["icck"] == pytest.approx(k * share / (1 + (k - 1) * share), abs=0.02)
    assert r["seeds_needed"] == spearman_brown_seeds(r["tau"], 0.8)
    assert set(r["tau_pairs"]) == {"777-888", "777-999", "888-999"}
    # a monotone transform keeps the ranking: acc repeats exactly as pre_NLL does
    assert rel["columns"]["acc"]["tau"] == pytest.approx(r["tau"], abs=1e-12)
    # pure noise does not repeat
    assert abs(rel["columns"]["pre_ECE_15"]["tau"]) < 0.03
    assert rel["columns"]["pre_ECE_15"]["icc1"] < 0.05


def test_reliability_question_reports_every_seeded_table(seeded_bench):
    res = run_question("reliability", Context(Benchmark.open(seeded_bench, demo=False)))
    table = res.tables["sss_cifar10"]
    assert table.columns[2] == "test-retest tau"
    assert any(
        f.startswith("sss/cifar10: acc ranks repeat across seeds at tau") for f in res.findings
    )
    assert "seeds [777, 888, 999]" in table.caption


def test_spearman_brown_closed_form():
    # tau 1/3 <-> r = sin(pi/6) = 1/2; a mean of m seeds: r_m = m / (m + 1)
    assert tau_of_mean(1 / 3, 3) == pytest.approx(2 / math.pi * math.asin(0.75))
    # target r = 0.9 needs m = 9 seeds at r = 1/2 (exactly: r_9 = 9/10)
    target = 2 / math.pi * math.asin(0.9)
    assert spearman_brown_seeds(1 / 3, target) == 9
    assert spearman_brown_seeds(0.95, 0.8) == 1
    assert spearman_brown_seeds(0.0) is None
    with pytest.raises(InputError, match="target"):
        spearman_brown_seeds(0.5, 1.0)
    with pytest.raises(InputError, match="tau"):
        tau_of_mean(1.5, 2)


def test_icc_and_reliability_of_edge_cases():
    assert all(math.isnan(v) for v in icc(np.ones((1, 3))))
    assert all(math.isnan(v) for v in icc(np.ones((4, 3))))  # no spread at all
    r = reliability_of({1: np.array([1.0, 2.0, np.nan]), 2: np.array([1.0, np.nan, 3.0])})
    assert math.isnan(r["tau"]) and r["seeds_needed"] is None and r["n"] == 1


def test_one_seed_is_not_measurable(tmp_path):
    root = store(
        tmp_path,
        [
            pd.DataFrame(
                {
                    "space": "tss",
                    "dataset": "cifar10",
                    "source": "official",
                    "config": np.arange(50),
                    "hp": 200,
                    "epoch": 200,
                    "acc": np.linspace(0, 1, 50),
                }
            )
        ],
    )
    rel = seed_reliability(Benchmark.open(root, demo=False), "tss", "cifar10", ["acc"])
    assert rel == {
        "measurable": False,
        "why": "no per-seed rows (the values are not one seed's)",
        "seeds": [-1],
    }


def test_tables_without_calibration_columns_report_accuracy_and_costs(tmp_path):
    # an NB201-like table: validation accuracy per seed, a cost copied to every seed
    rng = np.random.default_rng(2)
    effect = rng.normal(0, 1, 500)
    rows = [pd.DataFrame({"space": "sss", "dataset": "cifar100", "source": "nb201",
                          "config": np.arange(500), "hp": 200, "epoch": 200, "seed": s,
                          "valid_acc": 0.7 + 0.05 * (effect + rng.normal(0, 0.5, 500)),
                          "train_time_s": 1000 + 100 * effect})
            for s in SEEDS]  # fmt: skip
    bench = Benchmark.open(store(tmp_path, [pd.concat(rows)]), demo=False)
    res = run_question("reliability", Context(bench))
    table = res.tables["sss_cifar100"]
    by = {r[0]: r for r in table.data}
    assert set(by) == {"valid_acc", "train_time_s"}
    assert 0.6 < by["valid_acc"][2] < 0.8 and by["train_time_s"][2] == pytest.approx(1.0)
    assert any(f.startswith("sss/cifar100: valid_acc ranks repeat") for f in res.findings)


def test_a_seeded_table_without_any_ranked_column_says_so(tmp_path):
    rows = [pd.DataFrame({"space": "sss", "dataset": "cifar100", "source": "nb201",
                          "config": np.arange(50), "hp": 200, "epoch": 200, "seed": s,
                          "frost": np.linspace(0, 1, 50)}) for s in SEEDS]  # fmt: skip
    bench = Benchmark.open(store(tmp_path, [pd.concat(rows)]), demo=False)
    res = run_question("reliability", Context(bench))
    assert "sss_cifar100" not in res.tables
    assert any("sss/cifar100: none of acc" in f for f in res.findings)
