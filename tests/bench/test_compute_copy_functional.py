"""`copy_functional`: one training per TSS function, its rows copied to the function's classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.arch.costs import cost
from bench.arch.functional import function_representatives
from bench.arch.spaces import get_space
from bench.compute import ComputeConfig, compute
from bench.compute.copies import unit_of
from bench.errors import InputError
from bench.table.store import Store

torch.set_num_threads(1)

# Function 82: two isomorphism classes, {82, 8941} and {4263}; 4263 and 8941 have fewer FLOPs (82
# computes two convs of the input where they compute one and use it twice: the same expression).
REP, SAME_CLASS, OTHER_CLASS = 82, 8941, 4263


def _cfg(**kw):
    return ComputeConfig("tss", "digits", epochs=1, batch_size=128, **kw)


def test_the_function_fixture_is_what_the_tests_assume():
    reps = get_space("tss").representatives()
    fn = function_representatives()
    assert sorted(np.flatnonzero(fn == REP).tolist()) == [REP, OTHER_CLASS, SAME_CLASS]
    assert reps[SAME_CLASS] == REP and reps[OTHER_CLASS] == OTHER_CLASS
    assert unit_of(_cfg())[OTHER_CLASS] == OTHER_CLASS
    assert unit_of(_cfg(copy_functional=True))[OTHER_CLASS] == REP


def test_one_training_fills_the_function_with_own_costs(tmp_path):
    report = compute(_cfg(copy_functional=True), [SAME_CLASS], bench=tmp_path, jobs=0, quiet=True)
    assert report.networks == 1 and not report.failures
    df = Store(tmp_path).read("tss", "digits", "computed").set_index("config")
    assert sorted(df.index) == [REP, OTHER_CLASS, SAME_CLASS]
    assert not df.loc[REP, "copied"] and df.loc[[SAME_CLASS, OTHER_CLASS], "copied"].all()
    rep, other = df.loc[REP], df.loc[OTHER_CLASS]
    assert other["arch"] == get_space("tss").arch(OTHER_CLASS)
    for col in ("acc", "pre_ECE_15", "post_ECE_15", "pre_NLL", "temperature", "train_loss"):
        assert other[col] == rep[col], col
    own = cost("tss", OTHER_CLASS, "digits", C=8, N=1)
    assert (other["params_m"], other["flops_m"]) == (own["params_m"], own["flops_m"])
    assert other["flops_m"] < rep["flops_m"]
    ratio = other["flops_m"] / rep["flops_m"]
    assert other["train_time_s"] == pytest.approx(rep["train_time_s"] * ratio, rel=1e-9)
    assert other["latency_s"] == pytest.approx(rep["latency_s"] * ratio, rel=1e-9)
    # so does an isomorphic member: 8941 passes node 1 on by skip_connect where 82 computes a
    # second conv of the input, so it has 4263's costs, not its representative's
    same = df.loc[SAME_CLASS]
    assert (same["params_m"], same["flops_m"]) == (other["params_m"], other["flops_m"])
    assert same["train_time_s"] == other["train_time_s"] and same["acc"] == rep["acc"]


def test_a_stored_class_is_copied_to_its_function_without_training(tmp_path):
    plain = compute(_cfg(), [REP], bench=tmp_path, jobs=0, quiet=True)
    assert plain.networks == 1
    store = Store(tmp_path)
    assert OTHER_CLASS not in set(store.read("tss", "digits", "computed")["config"])
    again = compute(_cfg(copy_functional=True), [OTHER_CLASS], bench=tmp_path, jobs=0, quiet=True)
    assert (again.networks, again.copied_only, again.rows) == (0, 1, 1)
    df = store.read("tss", "digits", "computed").set_index("config")
    assert df.loc[OTHER_CLASS, "copied"] and df.loc[OTHER_CLASS, "acc"] == df.loc[REP, "acc"]
    # without copy_functional the class is its own unit and is trained
    assert compute(_cfg(), [OTHER_CLASS], bench=tmp_path, jobs=0, quiet=True, limit=0).networks == 0


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(InputError, match="copy_functional must be True or False"):
        _cfg(copy_functional="yes")
    with pytest.raises(InputError, match="with weights every class has its own trained weights"):
        ComputeConfig("tss", "digits", weights=str(tmp_path), copy_functional=True)
    assert ComputeConfig("sss", "digits", copy_functional=True).copy_functional is False
