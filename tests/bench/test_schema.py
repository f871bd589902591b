"""bench.table.schema: metric grammar, published columns, types and directions."""

from __future__ import annotations

import pytest

from bench.table import schema
from bench.table.schema import (
    PUBLISHED_COLUMNS,
    column_spec,
    direction,
    format_metric,
    is_known,
    parse_metric,
)


def test_published_columns_match_the_spec_file(shared_dir):
    names = (shared_dir / "specs" / "official-columns.txt").read_text().split()
    assert tuple(names) == PUBLISHED_COLUMNS
    assert len(PUBLISHED_COLUMNS) == 154
    assert len(schema.CALIBRATION_COLUMNS) == 100
    assert len(schema.ATTACK_COLUMNS) == 32 and len(schema.CORRUPTION_COLUMNS) == 15


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("post_ECE_em_15", ("post", "ECE_em", 15)),
        ("pre_ECE_5", ("pre", "ECE", 5)),
        ("pre_cwCE_em_500", ("pre", "cwCE_em", 500)),
        ("post_MCE_7", ("post", "MCE", 7)),
        ("pre_KSCE", ("pre", "KSCE", None)),
        ("post_Brier", ("post", "Brier", None)),
        ("pre_ECE_l2_debiased_15", ("pre", "ECE_l2_debiased", 15)),
        ("post_TL_ECE_15", ("post", "TL_ECE", 15)),
        ("pre_smECE", ("pre", "smECE", None)),
        ("post_Brier_sum", ("post", "Brier_sum", None)),
        ("post_acc", ("post", "acc", None)),
    ],
)
def test_parse_and_format_round_trip(name, parts):
    assert tuple(parse_metric(name)) == parts
    assert format_metric(*parts) == name


def test_every_published_metric_parses():
    for name in schema.CALIBRATION_COLUMNS:
        assert format_metric(*parse_metric(name)) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("pre_ECEE_15", "did you mean pre_ECE_15"),
        ("post_KSCE_15", "takes no bin count"),
        ("pre_ECE", "needs a bin count"),
        ("mid_ECE_15", "unknown metric"),
        ("pre_ECE_0", "unknown metric"),
        ("pre_ECE_015", "unknown metric"),
    ],
)
def test_bad_metric_names(name, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_metric(name)


def test_bad_format_arguments():
    with pytest.raises(ValueError, match="stage"):
        format_metric("mid", "ECE", 15)
    with pytest.raises(ValueError, match="positive"):
        format_metric("pre", "ECE", 0)
    with pytest.raises(ValueError, match="no bin count"):
        format_metric("pre", "NLL", 15)
    with pytest.raises(ValueError, match="did you mean"):
        format_metric("pre", "ECEm", 15)


def test_unknown_column_lists_close_matches():
    with pytest.raises(ValueError, match="did you mean acc"):
        column_spec("acuracy")
    with pytest.raises(ValueError, match="frost"):
        column_spec("forst")
    assert not is_known("acuracy") and is_known("frost") and is_known("pre_ECE_33")


def test_types_and_ranges():
    assert column_spec("config").dtype == "int64"
    assert column_spec("arch").dtype == "string"
    assert column_spec("copied").dtype == "bool"
    assert column_spec("created").dtype == "timestamp"
    for name in ("acc", "clean_acc", "fgsm_Linf_acc0_1", "frost", "test_acc", "pre_ECE_15"):
        assert column_spec(name).is_fraction, name
    assert column_spec("pre_NLL").high == float("inf")
    assert column_spec("pre_Brier_sum").high == 2.0
    assert column_spec("pre_ECE_l2_debiased_15").low == float("-inf")
    assert column_spec("params_m").low == 0


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("acc", "max"),
        ("post_acc", "max"),
        ("test_acc", "max"),
        ("clean_acc", "max"),
        ("pgd_Linf_acc8_0", "max"),
        ("gaussian_noise", "max"),
        ("auc_svhn", "max"),
        ("pre_ECE_15", "min"),
        ("post_cwCE_em_100", "min"),
        ("pre_NLL", "min"),
        ("post_Brier", "min"),
        ("train_loss", "min"),
        ("params_m", "min"),
        ("flops_m", "min"),
        ("latency_s", "min"),
        ("train_time_s", "min"),
    ],
)
def test_direction(name, want):
    assert direction(name) == want


def test_non_objectives_have_no_direction():
    for name in ("config", "arch", "seed", "temperature", "correct_confidence"):
        with pytest.raises(ValueError, match="not an objective"):
            direction(name)


def test_key_includes_hp_and_priority_is_documented():
    assert schema.KEY == ("space", "dataset", "config", "source", "hp", "epoch", "seed")
    order = schema.SOURCE_PRIORITY
    assert order.index("official") < order.index("computed") < order.index("nats")
    assert order.index("nats") < order.index("nb201") < order.index("demo")
