"""surrogate.validation (White et al. 2021 protocol) on the real NB201 cifar10 table."""

from __future__ import annotations

import numpy as np
import pytest

from surrogate.validation import (
    default_train_sizes,
    plot_validation,
    score_predictions,
    summarize_validation,
    validate,
    validate_on_benchmark,
)

TARGET = "valid_acc"  # NB201 200-epoch validation accuracy (fraction)

FAST = {"n_members": 3, "xgb_params": {"n_estimators": 60}}


def test_default_train_sizes() -> None:
    assert default_train_sizes(15625) == [5, 10, 20, 50, 100, 200, 500, 1000, 1562, 7812]
    assert default_train_sizes(300) == [5, 10, 20, 30, 50, 100]
    assert default_train_sizes(300, n_test=None) == [5, 10, 20, 30, 50, 100, 150, 200]


def test_score_predictions() -> None:
    y = np.array([0.1, 0.5, 0.3, 0.9])
    s = score_predictions(y, y, y - 0.01, y + 0.01)
    assert s == pytest.approx(
        {"kendall_tau": 1.0, "spearman_rho": 1.0, "r2": 1.0, "coverage": 1.0, "width": 0.02}
    )
    assert score_predictions(y, np.full(4, 0.4))["kendall_tau"] == 0.0  # a constant ranks nothing
    assert score_predictions(y, y[::-1])["kendall_tau"] < 0


def test_protocol_on_real_data(cifar10_frame, tmp_path) -> None:
    results = validate(
        "tss",
        cifar10_frame["config"].to_numpy(),
        cifar10_frame[[TARGET]],
        TARGET,
        dataset="cifar10-valid",
        sizes=[5, 50, 500],
        seeds=2,
        **FAST,
    )
    assert len(results) == 3 * 2
    assert set(results["n_test"]) == {200}
    assert results[["kendall_tau", "spearman_rho", "r2", "coverage"]].notna().all().all()
    summary = summarize_validation(results)
    assert list(summary["n_train"]) == [5, 50, 500] and set(summary["seeds"]) == {2}
    tau = summary.set_index("n_train")["kendall_tau"]
    assert tau[500] > tau[5] and tau[500] > 0.6  # more data, better ranking
    out = plot_validation(summary, tmp_path / "eval.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_held_out_set_is_shared_across_sizes(cifar10_frame) -> None:
    # with n_test=None the test set is the rest of the table
    res = validate(
        "tss",
        cifar10_frame["config"].to_numpy(),
        cifar10_frame[TARGET].to_numpy(),
        TARGET,
        dataset="cifar10-valid",
        sizes=[20],
        seeds=[7],
        n_test=None,
        **FAST,
    )
    assert res["n_test"].tolist() == [15625 - 20] and res["seed"].tolist() == [7]


def test_bad_options(cifar10_frame, nb201) -> None:
    archs = cifar10_frame["config"].to_numpy()[:300]
    y = cifar10_frame[TARGET].to_numpy()[:300]
    with pytest.raises(ValueError, match="leave no room"):
        validate("tss", archs, y, TARGET, sizes=[200], n_test=200)
    with pytest.raises(ValueError, match="positive"):
        validate("tss", archs, y, TARGET, sizes=[0])
    with pytest.raises(ValueError, match="seeds"):
        validate("tss", archs, y, TARGET, sizes=[5], seeds=[])
    with pytest.raises(ValueError, match="alpha"):
        validate("tss", archs, y, TARGET, sizes=[5], alpha=0)
    with pytest.raises(ValueError, match=r"not columns|unknown"):
        validate_on_benchmark(nb201, "tss", "cifar10-valid", ["nope"], source="nb201")
    with pytest.raises(ValueError, match="no validation results"):
        summarize_validation(cifar10_frame.iloc[:0])


def test_a_table_with_copies_is_validated_on_its_measured_networks(fresh_home) -> None:
    from bench.table.benchmark import Benchmark

    # the digits demo table: 15,625 TSS cells, of which 6,466 were trained and the rest copied
    res = validate_on_benchmark(Benchmark.open(), "tss", "digits", "acc", sizes=[20], n_test=None,
                                seeds=1, n_members=0, xgb_params={"n_estimators": 10})  # fmt: skip
    assert res["n_test"].tolist() == [6466 - 20]
