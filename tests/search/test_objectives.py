from __future__ import annotations

import numpy as np
import pytest

from search.objectives import Constraint, hcs, objective_values, parse_constraints, parse_objectives


def test_default_directions_follow_the_schema():
    objs = parse_objectives("acc,pre_ECE_15,params_m,clean_acc,latency_s")
    assert [o.direction for o in objs] == ["max", "min", "min", "max", "min"]


def test_explicit_direction_overrides():
    (o,) = parse_objectives(["params_m:max"])
    assert o.direction == "max" and o.optuna_direction == "maximize" and o.sign == -1.0


@pytest.mark.parametrize(
    "spec, match",
    [
        ("acc,nosuchmetric", "unknown metric 'nosuchmetric'"),
        ("acc:up", "direction must be 'max' or 'min'"),
        ("acc,,params_m", "empty entry"),
        ("acc,acc:min", "repeat acc"),
        ("hcs:min", "only maximized"),
        ("hcs@pre_FOO_15", "unknown metric"),
    ],
)
def test_bad_objectives_say_why(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_objectives(spec)


def test_hcs_matches_the_paper_formula():
    acc, ece = np.array([0.9, 0.5, 0.1]), np.array([0.05, 0.2, 0.0])
    beta = 1.0
    expected = (1 + beta) * acc * (1 - ece) / (beta * acc + (1 - ece))
    np.testing.assert_allclose(hcs(acc, ece), expected)
    assert hcs(0.0, 1.0) == 0.0
    # beta enters linearly, not squared as in F-beta
    assert hcs(0.8, 0.1, beta=2.0) == pytest.approx(3 * 0.8 * 0.9 / (2 * 0.8 + 0.9))
    with pytest.raises(ValueError, match="beta"):
        hcs(0.5, 0.5, beta=0)


def test_hcs_objective_reads_acc_and_ece():
    (o,) = parse_objectives("hcs")
    assert o.columns == ("acc", "pre_ECE_15") and o.direction == "max"
    (o2,) = parse_objectives("hcs@post_ECE_15")
    assert o2.columns == ("acc", "post_ECE_15")
    vals = objective_values([o], {"acc": np.array([0.9]), "pre_ECE_15": np.array([0.05])})
    assert vals[0, 0] == pytest.approx(hcs(0.9, 0.05))


def test_constraints_parse_and_violate():
    c1, c2 = parse_constraints("pre_ECE_15<=0.05, acc>=0.9")
    assert (c1.metric, c1.op, c1.bound) == ("pre_ECE_15", "<=", 0.05)
    assert c1.violation(0.04) < 0 < c1.violation(0.06)
    assert c2.violation(0.95) < 0 < c2.violation(0.85)
    assert parse_constraints(None) == [] and parse_constraints("") == []
    for bad in ("pre_ECE_15<0.05", "params_m<=abc", "foo_bar<=1", "<=1"):
        with pytest.raises(ValueError):
            Constraint.parse(bad)
