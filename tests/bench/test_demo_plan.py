"""The demo build's plan: which seeds of which networks a build trains, and which the export
ships (a real build of real networks on a small plan, then the real export)."""

from __future__ import annotations

import pandas as pd
import pytest
from demo_script import build_script

from bench.table.store import Store
from bench.table.tablefile import read_reliability


def test_without_seeds_or_sample_the_build_is_the_datasets_plan():
    script = build_script()
    steps = script.build_steps("fashion8", None, None, None)
    assert [(s.space, s.seeds, s.sample) for s in steps] == [
        ("tss", (779,), 3500),
        ("tss", (777, 778), None),
        ("tss", (780,), 500),
        ("sss", (777, 778), 128),
        ("sss", (777,), None),
    ]
    only_sss = script.build_steps("fashion8", ["sss"], None, None)
    assert [s.space for s in only_sss] == ["sss", "sss"]
    digits = script.build_steps("digits", None, None, None)
    assert [(s.space, s.seeds, s.sample) for s in digits] == [
        ("tss", (777,), None),
        ("sss", (777,), None),
    ]


def test_seeds_or_sample_replace_the_plan_by_one_step_per_space():
    script = build_script()
    trial = script.build_steps("fashion8", None, (1, 2), 4)
    assert [(s.space, s.seeds, s.sample) for s in trial] == [("tss", (1, 2), 4), ("sss", (1, 2), 4)]
    sample = script.build_steps("digits", ["tss"], None, 3)
    assert [(s.space, s.seeds, s.sample) for s in sample] == [("tss", (777,), 3)]


def test_the_fashion8_defaults_are_the_shipped_protocol():
    cfg = build_script().configs("fashion8")
    tss, sss = cfg["tss"], cfg["sss"]
    assert (tss.epochs, tss.fidelities, tss.train_per_class) == (12, (4, 8), 250)
    assert (sss.epochs, sss.fidelities, sss.train_per_class) == (4, (1, 2), 250)
    assert tss.copy_functional and not sss.copy_functional
    assert "train_per_class=250," in tss.protocol() and "epochs=12]" in tss.protocol()
    digits = build_script().configs("digits")["tss"]
    assert (digits.epochs, digits.copy_functional, digits.train_per_class) == (4, False, None)


def test_bad_spaces_are_refused(tmp_path):
    for bad in ("", "tss,cifar", "nas"):
        with pytest.raises(SystemExit):  # argparse's error: one line, exit status 2
            build_script().main(["--bench", str(tmp_path), "--spaces", bad, "--reliability"])
    assert not any(tmp_path.iterdir())


@pytest.mark.slow  # 9 networks trained for one epoch, then exported
def test_a_plan_is_built_step_by_step_and_its_shipped_seeds_exported(tmp_path, monkeypatch):
    script = build_script()
    Step = script.Step
    plan = (
        Step("tss", (1, 2), sample=3),
        Step("tss", (3,), sample=1),
        Step("sss", (1,), sample=2),
    )
    monkeypatch.setitem(script.PLANS, "digits", plan)
    monkeypatch.setitem(script.SHIPPED_SEEDS, "digits", {"tss": (1, 2), "sss": (1,)})
    store = tmp_path / "store"
    out = tmp_path / "demo" / "demo.parquet"
    args = ["--bench", str(store), "--epochs", "1", "--jobs", "0", "--quiet"]
    script.main([*args, "--export", "--out", str(out), "--figure", str(tmp_path / "fig.png")])

    tss = Store(store).read("tss", "digits", "computed")
    trained = tss[~tss["copied"].astype(bool) & (tss["epoch"] == 1)]
    per_seed = trained.groupby("seed")["config"].nunique().to_dict()
    assert per_seed == {1: 3, 2: 3, 3: 1}
    # the one-seed step trained the first class of the order, which the first step also holds
    first = set(trained[trained["seed"] == 3]["config"])
    assert first <= set(trained[trained["seed"] == 1]["config"])
    sss = Store(store).read("sss", "digits", "computed")
    assert set(sss["seed"]) == {1} and sss["config"].nunique() == 2

    shipped = pd.read_parquet(out, columns=["space", "seed"])
    assert set(shipped[shipped["space"] == "tss"]["seed"]) == {1, 2}
    assert set(shipped[shipped["space"] == "sss"]["seed"]) == {1}
    table, *rest = read_reliability(out, "tss", "digits")
    assert table["seeds"] == [1, 2] and table["architectures"] == 3
    assert [r["seeds"] for r in rest] == [[1, 2, 3]]  # every seed, on the class holding all
    # --spaces limits the export too (a TSS table shipped before its SSS sample is built)
    only_tss = tmp_path / "demo" / "tss-only.parquet"
    script.main([*args, "--spaces", "tss", "--export-only", "--out", str(only_tss),
                 "--figure", str(tmp_path / "fig2.png")])  # fmt: skip
    assert set(pd.read_parquet(only_tss, columns=["space"])["space"]) == {"tss"}
    assert read_reliability(only_tss, "sss", "digits") is None

    # a rerun finds everything stored and trains nothing
    before = len(Store(store).read("tss", "digits", "computed"))
    script.main(args)
    assert len(Store(store).read("tss", "digits", "computed")) == before
