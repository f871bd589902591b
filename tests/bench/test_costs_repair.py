"""Stale costs in a user's store (copies that carry their representative's params and FLOPs, as
calnas wrote them before 2026-12-05): found by ``calnas bench validate``, repaired in place by
``--repair``, measured values untouched. A real compute run makes the store."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.arch.costs import cost
from bench.compute import ComputeConfig, compute
from bench.table.costs import repair_costs, skeleton_of, stale_costs
from bench.table.store import Store
from search.cli import main

REP, SAME_CLASS = 82, 8941  # one isomorphism class, different costs (a dead conv in 82)


@pytest.fixture()
def old_store(tmp_path):
    """A store computed today, then given the old copies' costs (the representative's)."""
    cfg = ComputeConfig("tss", "digits", epochs=1)
    assert compute(cfg, [REP], bench=tmp_path, jobs=0, quiet=True).networks == 1
    store = Store(tmp_path)
    rows = store.read("tss", "digits", "computed")
    rep = rows[rows["config"] == REP].iloc[0]
    old = rows[rows["copied"]].assign(params_m=rep["params_m"], flops_m=rep["flops_m"],
                                      train_time_s=rep["train_time_s"],
                                      latency_s=rep["latency_s"])  # fmt: skip
    store.upsert(old)
    return tmp_path, rows  # the right rows, for comparison


def test_skeleton_of_reads_the_protocol():
    assert skeleton_of(ComputeConfig("tss", "digits").protocol()) == (8, 1)
    assert skeleton_of(ComputeConfig("tss", "cifar10", data_root=".").protocol()) == (16, 5)
    assert skeleton_of("calnas-compute;skeleton=Cx;metrics=tao2024") is None
    assert skeleton_of(float("nan")) is None


def test_stale_copies_are_found_and_repaired_in_place(old_store):
    path, right = old_store
    store = Store(path)
    before = store.read("tss", "digits", "computed")
    stale = stale_costs(before, "tss", "digits")
    n_copies = int(before["copied"].sum())
    assert n_copies > 0 and stale.sum() > 0 and not stale[~before["copied"].to_numpy()].any()
    assert repair_costs(store, dry_run=True)[0]["stale"] == stale.sum()
    assert store.read("tss", "digits", "computed").equals(before)  # a dry run writes nothing
    (entry,) = repair_costs(store)
    assert entry == {"table": "tss/digits/computed", "rows": len(before), "stale": stale.sum()}
    after = store.read("tss", "digits", "computed").set_index("config").sort_index()
    want = right.set_index("config").sort_index()
    for col in ("params_m", "flops_m", "train_time_s", "latency_s"):
        assert after[col].to_numpy() == pytest.approx(want[col].to_numpy(), rel=1e-12), col
    for col in ("acc", "pre_ECE_15", "post_ECE_15", "pre_NLL", "temperature", "copied"):
        assert after[col].equals(want[col]), col
    own = cost("tss", SAME_CLASS, "digits", C=8, N=1)
    assert (after.loc[SAME_CLASS, "params_m"], after.loc[SAME_CLASS, "flops_m"]) == (
        own["params_m"], own["flops_m"])  # fmt: skip
    assert repair_costs(store)[0]["stale"] == 0  # a second repair finds nothing


def test_rows_without_a_skeleton_are_not_judged():
    rows = pd.DataFrame({"config": [8941], "copied": [True], "params_m": [1.0], "flops_m": [2.0],
                         "protocol": ["imported"]})  # fmt: skip
    assert not stale_costs(rows, "tss", "digits").any()
    assert not stale_costs(rows.drop(columns="protocol"), "tss", "digits").any()
    assert not stale_costs(rows.assign(protocol="skeleton=C8N1"), "sss", "digits").any()


def test_the_cli_reports_then_repairs(old_store, capsys):
    path, _ = old_store
    argv = ["bench", "validate", "--bench", str(path)]
    assert main(argv) == 2
    out = capsys.readouterr()
    assert "params_m/flops_m" in out.out and "calnas bench validate --repair" in out.out
    assert main([*argv, "--repair", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "repaired tss/digits/computed:" in out.err
    report = json.loads(out.out)
    assert [e["problems"] for e in report if e["table"] == "tss/digits/computed"] == [[]]
    assert main(argv) == 0 and "repaired" not in capsys.readouterr().err
