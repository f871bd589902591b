"""bench.table.store: validated, atomic, locked upserts into parquet tables, and their sidecars."""

from __future__ import annotations

import multiprocessing as mp
import os
import stat

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import bench.table.sidecar as sidecar_mod
from bench.arch.spaces import get_space
from bench.table.benchmark import Benchmark
from bench.table.sidecar import Sidecar, sidecar_path
from bench.table.store import Store, default_path
from bench.table.validation import normalize

TSS = get_space("tss")


def rows(configs, source="computed", **values) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"space": "tss", "dataset": "cifar10", "source": source, "config": list(configs)}
    )
    frame["hp"] = 200
    frame["epoch"] = 200
    for k, v in values.items():
        frame[k] = v
    return frame


def test_insert_update_and_column_merge(tmp_path):
    store = Store(tmp_path)
    rep = store.upsert(rows([0, 1, 2], acc=[0.8, 0.9, 0.7], pre_ECE_15=[0.01, 0.02, 0.03]))
    assert (rep.inserted, rep.updated) == (3, 0)
    rep = store.upsert(rows([2, 3], acc=[0.75, 0.6], post_NLL=[0.5, 0.6]))
    assert (rep.inserted, rep.updated) == (1, 1)
    got = store.read("tss", "cifar10", "computed").set_index("config")
    assert got.index.tolist() == [0, 1, 2, 3]
    assert got.loc[2, "acc"] == 0.75  # updated
    assert got.loc[2, "pre_ECE_15"] == 0.03  # kept: the update did not bring it
    assert np.isnan(got.loc[3, "pre_ECE_15"])
    assert got.loc[1, "arch"] == get_space("tss").arch(1)  # filled from config
    assert (got["seed"] == -1).all() and not got["copied"].any()
    assert got["calnas_version"].notna().all() and got["created"].notna().all()


def test_layout_compression_and_partial_reads(tmp_path):
    store = Store(tmp_path)
    store.upsert(rows(range(10), acc=np.linspace(0.1, 0.9, 10)))
    path = tmp_path / "tables" / "tss" / "cifar10" / "computed.parquet"
    assert path.is_file() and store.path_for("tss", "cifar10", "computed") == path
    meta = pq.read_metadata(path)
    assert meta.row_group(0).column(0).compression == "ZSTD"
    part = store.read(
        "tss",
        "cifar10",
        "computed",
        columns=["config", "acc", "pre_NLL"],
        filters=[("config", "<", 3)],
    )
    assert part.columns.tolist() == ["config", "acc", "pre_NLL"]
    assert part["config"].tolist() == [0, 1, 2] and part["pre_NLL"].isna().all()
    info = store.tables()
    assert [(t.space, t.dataset, t.source, t.rows) for t in info] == [
        ("tss", "cifar10", "computed", 10)
    ]
    assert not list(path.parent.glob(".*.tmp"))  # no temp file left behind
    with pytest.raises(FileNotFoundError):
        store.read("sss", "cifar10", "computed")


def test_hp_is_part_of_the_key(tmp_path):
    store = Store(tmp_path)
    a = rows([0], source="nats", test_acc=[0.7])
    a["hp"], a["epoch"] = 12, 12
    b = rows([0], source="nats", test_acc=[0.6])
    b["hp"], b["epoch"] = 200, 12
    store.upsert(pd.concat([a, b]))
    got = store.read("tss", "cifar10", "nats")
    assert sorted(zip(got["hp"], got["test_acc"], strict=True)) == [(12, 0.7), (200, 0.6)]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"acc": [84.27]}, "looks like a percentage"),
        ({"acc": [-0.1]}, "outside"),
        ({"acc": ["high"]}, "not a number"),
        ({"acc": [np.inf]}, "infinite"),
        ({"pre_NLL": [-1.0]}, "outside"),
        ({"config": [15625]}, "out of range"),
        ({"config": [1.5]}, "not an integer"),
        ({"arch": ["8:8:8:8:8"]}, "arch does not match config"),
        ({"space": ["xss"]}, "unknown value"),
        ({"dataset": ["cifar11"]}, "unknown value"),
        ({"source": ["mine"]}, "unknown value"),
        ({"pre_ECEE_15": [0.1]}, "did you mean pre_ECE_15"),
        ({"hp": [None]}, "missing value"),
        ({"copied": ["yes"]}, "not a boolean"),
    ],
)
def test_invalid_rows_write_nothing(tmp_path, change, fragment):
    store = Store(tmp_path)
    store.upsert(rows([5], acc=[0.5]))
    before = (tmp_path / "tables" / "tss" / "cifar10" / "computed.parquet").read_bytes()
    bad = pd.concat([rows([1], acc=[0.5]), rows([0], acc=[0.5])], ignore_index=True)
    for k, v in change.items():
        if k in bad:
            bad[k] = [bad[k].iloc[0], *v]
        elif k == "arch":
            bad[k] = [get_space("tss").arch(1), *v]
        else:
            bad[k] = [np.nan, *v]
    with pytest.raises(ValueError, match=fragment):
        store.upsert(bad)
    after = (tmp_path / "tables" / "tss" / "cifar10" / "computed.parquet").read_bytes()
    assert before == after
    assert store.sidecar("tss", "cifar10", "computed") is not None  # still matches


def test_duplicate_keys_and_missing_columns_rejected(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="duplicate key"):
        store.upsert(rows([1, 1], acc=[0.5, 0.6]))
    with pytest.raises(ValueError, match="required columns"):
        store.upsert(rows([1], acc=[0.5]).drop(columns="epoch"))
    with pytest.raises(ValueError, match="no rows"):
        store.upsert(rows([], acc=[]))
    with pytest.raises(ValueError, match="DataFrame"):
        store.upsert({"config": 1})
    assert not (tmp_path / "tables").exists()


def test_sss_arch_checked(tmp_path):
    frame = rows([11], acc=[0.5])
    frame["space"] = "sss"
    frame["arch"] = "8:8:8:16:32"
    assert normalize(frame)["arch"].iloc[0] == "8:8:8:16:32"
    frame["arch"] = "8:8:8:16:40"
    with pytest.raises(ValueError, match="arch does not match"):
        normalize(frame)


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("CALNAS_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home"
    assert Store().root == tmp_path / "home"
    monkeypatch.delenv("CALNAS_HOME")
    assert default_path().name == ".calnas"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a benchmark directory"):
        Store(tmp_path / "file")


def _writer(root: str, worker: int, rounds: int) -> None:
    store = Store(root)
    for r in range(rounds):
        # each worker owns configs worker*1000.. and all workers fight over configs 0..9
        own = [(worker + 1) * 1000 + r * 10 + k for k in range(10)]
        shared = list(range(10))
        frame = rows(own + shared, acc=0.1 + 0.01 * worker)
        frame.loc[len(own) :, "acc"] = 0.5
        frame[f"pre_ECE_{worker + 5}"] = 0.01
        store.upsert(frame)


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    workers, rounds = 4, 5
    ctx = mp.get_context("spawn" if os.name == "nt" else "fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, rounds)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = Store(tmp_path).read("tss", "cifar10", "computed")
    expected = {
        (w + 1) * 1000 + r * 10 + k
        for w in range(workers)
        for r in range(rounds)
        for k in range(10)
    } | set(range(10))
    assert len(got) == len(expected) and set(got["config"]) == expected
    assert not got.duplicated(["config", "hp", "epoch", "seed"]).any()
    for w in range(workers):
        own = got[got["config"] // 1000 == w + 1]
        assert len(own) == rounds * 10 and (own[f"pre_ECE_{w + 5}"] == 0.01).all()
    assert (got.loc[got["config"] < 10, "acc"] == 0.5).all()
    assert not list((tmp_path / "tables" / "tss" / "cifar10").glob(".*.tmp"))
    # the sidecar written by the last writer matches the final parquet file, column for column
    side = Store(tmp_path).sidecar("tss", "cifar10", "computed")
    assert side is not None and side.rows == len(got)
    for name in ("config", "hp", "epoch", "seed", "acc", "pre_ECE_5", "pre_ECE_8"):
        assert np.array_equal(side.read(name), got[name].to_numpy(), equal_nan=True), name


# -- sidecars (the format itself: tests/bench/test_cold_open.py) -----------------------------------
def test_old_sidecars_are_read_then_rewritten(tmp_path, monkeypatch):
    store = Store(tmp_path / "b")
    # what calnas wrote before: version 1, no representatives
    monkeypatch.setattr(sidecar_mod, "_VERSION", 1)
    monkeypatch.setattr(sidecar_mod, "_space_reps", lambda space: None)
    store.upsert(rows([3, 4], source="official", acc=[0.5, 0.25]))
    monkeypatch.undo()
    path = store.path_for("tss", "cifar10", "official")
    old = Sidecar.open(path)
    assert old is not None and old.version == 1 and not old.current
    assert old.representatives() is None
    # a writer holds the lock: the reader uses the old sidecar as it is, and rewrites nothing
    with store._lock("tss", "cifar10", "official"):
        bench = Benchmark.open(store.root, demo=False)
        assert bench.query("tss", "cifar10", 4, "acc")["values"] == {"acc": 0.25}
        copy = int(TSS.class_members(4)[-1])  # isomorphic to 4: filled from its row
        assert bench.query("tss", "cifar10", copy, "acc")["values"] == {"acc": 0.25}
    assert Sidecar.open(path).version == 1
    bench = Benchmark.open(store.root, demo=False)
    assert bench.query("tss", "cifar10", 4, "acc")["values"] == {"acc": 0.25}
    side = Sidecar.open(path)
    assert side.current and side.read("acc").tolist() == [0.5, 0.25]  # rewritten by the reader
    assert side.representatives().tolist() == TSS.representatives().tolist()


def test_unsorted_foreign_parquet_is_answered(tmp_path):
    store = Store(tmp_path / "b")
    store.upsert(rows([3, 4, 9], source="official", acc=[0.5, 0.25, 0.1]))
    path = store.path_for("tss", "cifar10", "official")
    table = pq.read_table(path)
    pq.write_table(table.take([2, 0, 1]), path)  # another tool reorders the rows
    assert store.rebuild_sidecar("tss", "cifar10", "official") is True
    bench = Benchmark.open(store.root, demo=False)
    assert bench.query("tss", "cifar10", 4, "acc")["values"] == {"acc": 0.25}
    assert bench.query("tss", "cifar10", 9, "acc")["values"] == {"acc": 0.1}


def test_tss_sidecars_hold_the_representatives(tmp_path):
    store = Store(tmp_path)
    store.upsert(rows([0, 1], acc=[0.5, 0.6]))
    sss = rows([0, 1], acc=[0.5, 0.6]).assign(space="sss")
    store.upsert(sss)
    side = Sidecar.open(store.path_for("tss", "cifar10", "computed"))
    assert side.representatives().tolist() == TSS.representatives().tolist()
    assert Sidecar.open(store.path_for("sss", "cifar10", "computed")).representatives() is None


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        store = Store(tmp_path)
        store.upsert(rows([0, 1], acc=[0.5, 0.6]))
        store.upsert(rows([2], acc=[0.7]))  # a replacement too
        path = store.path_for("tss", "cifar10", "computed")
        sidecar_path(path).unlink()
        assert store.rebuild_sidecar("tss", "cifar10", "computed") is True
    finally:
        os.umask(old)
    for written in (path, sidecar_path(path)):
        assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask, written
    assert sorted(p.name for p in path.parent.iterdir()) == ["computed.npcols", "computed.parquet"]
