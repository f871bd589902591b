"""The embedded demo table (TSS digits, several epochs): default CLI run and multi-fidelity HCS."""

from __future__ import annotations

import pytest

from bench.table.embedded import default_dataset
from search.cli import main
from search.runner import run_search


@pytest.mark.slow  # the README's main job end to end, with plots (~4 s)
def test_default_cli_run_on_the_demo(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CALNAS_HOME", str(tmp_path / "home"))
    rc = main(["search", "run", "--trials", "40", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    # without --dataset: the embedded demo's main dataset
    assert rc == 0 and f"tss/{default_dataset('tss')}" in out and "HCS pick" in out
    assert (tmp_path / "out" / "front.png").exists()


def test_multi_fidelity_hcs_prunes_and_pays_partial_epochs(demo):
    assert len(demo.epochs("tss", "digits")) > 1
    res = run_search("tss", "digits", "hcs", "tpe", trials=40, bench=demo, seed=0)
    rep = res.report
    assert rep["multi_fidelity"] and rep["queries"] == 40
    pruned = [q for q in res.queries if q["pruned"]]
    assert pruned, "Hyperband should stop some trials early"
    final = demo.frame("tss", "digits", ["train_time_s"])
    full = dict(zip(final["config"], final["train_time_s"], strict=True))
    assert all(q["cost_s"] < full[q["index"]] for q in pruned)  # paid only the epochs trained
    assert rep["hcs_pick"] is not None and 0 < rep["normalized_hv"] <= 1 + 1e-9


def test_multi_objective_on_demo_sees_final_epoch(demo):
    res = run_search("tss", "digits", "acc,pre_ECE_15", "nsga2", trials=30, bench=demo, seed=0)
    assert res.report["final_epoch"] == max(demo.epochs("tss", "digits"))
    assert not res.report["multi_fidelity"]
