"""The demo build's export: the table's seeds, own costs, and its seed reliability recorded in
the file and shown by ``calnas bench info`` (a real build of real networks, then the real CLI)."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from demo_script import build_script

from bench.arch.spaces import get_space
from bench.table.tablefile import RELIABILITY_KEY, read_reliability
from search.cli import main as calnas


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A digits store of 4 TSS classes x 4 seeds (2 epochs, measured after each), exported
    with seeds 1 and 2."""
    tmp = tmp_path_factory.mktemp("export")
    script = build_script()
    common = ["--bench", str(tmp / "store"), "--spaces", "tss", "--epochs", "2", "--quiet"]
    script.main([*common, "--jobs", "0", "--seeds", "1,2,3,4", "--sample", "4", "--chunk", "2"])
    demo = tmp / "demo"
    out = demo / "demo.parquet"
    script.main([*common, "--export-only", "--seeds", "1,2", "--out", str(out),
                 "--figure", str(tmp / "fig.png")])  # fmt: skip
    return script, tmp, out


@pytest.mark.slow
def test_export_writes_the_tables_seeds_with_their_reliability(exported):
    _, _, out = exported
    frame = pd.read_parquet(out)
    assert set(frame["seed"]) == {1, 2} and set(frame["source"]) == {"demo"}
    assert frame[~frame["copied"]]["config"].nunique() == 4
    table, sample = read_reliability(out, "tss", "digits")
    assert table["seeds"] == [1, 2] and table["architectures"] == 4 and table["k"] == 1
    assert sample["seeds"] == [1, 2, 3, 4] and sample["k"] == 2 and sample["splits"] == 3
    assert sample["architectures_all_seeds"] == 4
    assert read_reliability(out, "sss", "digits") is None


@pytest.mark.slow
def test_each_class_is_one_run_of_rows_its_representative_first(exported):
    # the storage order (copies repeat their representative's values right after them) is
    # what keeps the shipped tables small; a class split over the file would still read right
    _, _, out = exported
    frame = pd.read_parquet(out)
    reps = get_space("tss").representatives()[frame["config"].to_numpy()]
    assert frame["copied"].any() and (reps != frame["config"].to_numpy()).any()
    for rep in np.unique(reps):
        rows = np.flatnonzero(reps == rep)
        assert (np.diff(rows) == 1).all(), f"class {rep} is split over the file"
        copied = frame["copied"].to_numpy()[rows]
        assert not copied[: len(rows) - copied.sum()].any()  # representative's rows first
    for _, rows in frame.groupby("config", sort=False):  # seeds in turn, their epochs in turn
        assert (np.diff(rows.index) == 1).all()
        assert rows[["seed", "epoch"]].to_numpy().tolist() == sorted(
            rows[["seed", "epoch"]].to_numpy().tolist()
        )


@pytest.mark.slow
def test_a_table_over_its_size_limit_is_refused_and_nothing_written(exported, monkeypatch):
    script, tmp, _ = exported
    import demo_plan  # on sys.path once the build script is loaded; demo_export shares its dict

    monkeypatch.setitem(demo_plan.MAX_MB, "digits", 1e-4)
    out = tmp / "too-big" / "demo.parquet"
    args = ["--bench", str(tmp / "store"), "--spaces", "tss", "--epochs", "2", "--quiet"]
    with pytest.raises(SystemExit, match=r"the digits demo table needs [0-9.]+ MB > 0.0001 MB"):
        script.main([*args, "--export-only", "--out", str(out), "--figure", str(tmp / "f.png")])
    assert not any(out.parent.iterdir())  # neither the table nor its temporary file


@pytest.mark.slow
def test_bench_info_shows_the_recorded_reliability(exported, monkeypatch, capsys, tmp_path):
    _, _, out = exported
    monkeypatch.setattr("bench.table.benchmark.DEMO_DIR", out.parent)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert calnas(["bench", "info", "--bench", str(tmp_path / "empty")]) in (0, None)
    text = capsys.readouterr().out
    assert "Seed reliability of tss/digits (demo)" in text
    assert "2-seed means, predicted" in text and "2-seed means, measured" in text
    assert "seeds 1 and 2 over 4 networks" in text
    assert "seeds 1, 2, 3 and 4 over the 4 networks holding them all" in text
    calnas(["bench", "info", "--bench", str(tmp_path / "empty"), "--format", "json"])
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["reliability"][0]["seeds"] == [1, 2] and len(entry["reliability"]) == 2


@pytest.mark.slow
def test_a_one_seed_table_shows_the_reliability_of_the_seeds_built_beside_it(
    exported, monkeypatch, capsys, tmp_path
):
    # the fashion8 SSS table ships seed 777 only; 778 on a sample measures how well it repeats
    script, tmp, _ = exported
    out = tmp_path / "demo" / "demo.parquet"
    args = ["--bench", str(tmp / "store"), "--spaces", "tss", "--epochs", "2", "--quiet"]
    script.main(
        [
            *args,
            "--export-only",
            "--seeds",
            "1",
            "--out",
            str(out),
            "--figure",
            str(tmp_path / "f.png"),
        ]
    )
    table, sample = read_reliability(out, "tss", "digits")
    assert table["seeds"] == [1] and not table["measurable"] and sample["seeds"] == [1, 2, 3, 4]
    monkeypatch.setattr("bench.table.benchmark.DEMO_DIR", out.parent)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert calnas(["bench", "info", "--bench", str(tmp_path / "empty")]) in (0, None)
    text = capsys.readouterr().out
    assert "one seed (1) per network; seed vs seed: seeds 1, 2, 3 and 4 over the 4 networks" in (
        text
    )
    tau = sample["metrics"]["acc"]["tau_one_seed"]
    assert re.search(rf"\n  acc +{tau:.3f}\n", text) and "cannot say" not in text
    # the analyses' reliability line says it too
    from bench import Benchmark
    from bench.analysis.reliability import seed_reliability
    from bench.table.store import Store

    bench = Benchmark(Store(tmp_path / "empty"), demo_dir=out.parent)
    rel = seed_reliability(bench, "tss", "digits", ["acc", "no_such_column"])
    assert not rel["measurable"] and rel["why"] == (
        "one seed (1) per architecture; the build's seeds 1, 2, 3, 4 on 4 of them (recorded in "
        f"the table's file), seed vs seed at epoch 2: acc {tau:.2f}"
    )


@pytest.mark.slow
def test_repair_keeps_the_recorded_reliability(exported, tmp_path):
    script, _, out = exported
    copy = tmp_path / "demo.parquet"
    shutil.copy(out, copy)
    before = pd.read_parquet(copy)
    script.repair(copy, "digits")
    pd.testing.assert_frame_equal(pd.read_parquet(copy), before, check_dtype=False)
    assert read_reliability(copy, "tss", "digits") == read_reliability(out, "tss", "digits")


def test_a_broken_report_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.errors import InputError

    path = tmp_path / "t.parquet"
    table = pa.table({"a": [1]})
    pq.write_table(table.replace_schema_metadata({RELIABILITY_KEY: b"{not json"}), path)
    with pytest.raises(InputError, match="reliability report is not JSON"):
        read_reliability(path, "tss", "digits")


def test_the_fashion8_build_says_how_to_get_absent_files(tmp_path, monkeypatch):
    script = build_script()
    with pytest.raises(SystemExit, match="apt-get install dataset-fashion-mnist"):
        script.ensure_fashion_mnist(tmp_path / "absent", apt=None)
    # an apt-get that fails leaves the same message; not as root the script goes through sudo,
    # so a sudo that only runs its arguments comes first on PATH (the real one might prompt)
    fake_sudo = tmp_path / "sudo"
    fake_sudo.write_text('#!/bin/sh\nexec "$@"\n')
    fake_sudo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    fake_apt = tmp_path / "apt-get"
    fake_apt.write_text("#!/bin/sh\nexit 100\n")
    fake_apt.chmod(0o755)
    with pytest.raises(SystemExit, match=r"train-images-idx3-ubyte"):
        script.ensure_fashion_mnist(tmp_path / "absent", apt=str(fake_apt))


def test_a_bad_chunk_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        build_script().main(["--bench", str(tmp_path), "--chunk", "0"])
    assert "--chunk must be a positive integer, got 0" in capsys.readouterr().err
    assert not (tmp_path / "tables").exists()  # refused before anything was built
