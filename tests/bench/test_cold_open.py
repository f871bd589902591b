"""Cold open: a new process answers a query with numpy but no pandas, pyarrow or torch; the
sidecars stay honest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench.arch.spaces import get_space
from bench.table.benchmark import Benchmark
from bench.table.embedded import embedded_pairs
from bench.table.selection import group_mean
from bench.table.sidecar import Sidecar, sidecar_path
from bench.table.store import Store
from bench.table.validation import normalize

TSS = get_space("tss")


def _rows(configs, source="official", dataset="cifar10", hp=200, epoch=200, **values):
    frame = pd.DataFrame(
        {
            "space": "tss",
            "dataset": dataset,
            "source": source,
            "config": np.asarray(configs),
            "hp": hp,
            "epoch": epoch,
        }
    )
    for k, v in values.items():
        frame[k] = v
    return frame


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = Store(tmp_path / "bench")
    rng = np.random.default_rng(0)
    n = TSS.size
    store.upsert(_rows(np.arange(n), acc=rng.uniform(0.1, 0.9, n), pre_ECE_15=rng.random(n) / 5))
    store.upsert(
        _rows(np.arange(0, n, 7), source="computed", post_NLL=rng.random(len(range(0, n, 7))))
    )
    return store


def _child(code: str, cache: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


def _query_code(root) -> str:
    return (
        "import sys\n"
        "from bench.table.benchmark import Benchmark\n"
        f"b = Benchmark.open({str(root)!r})\n"  # with the embedded demo table, as by default
        "r = b.query('tss', 'cifar10', 126, ['acc', 'pre_ECE_15', 'post_NLL'])\n"
        "r2 = b.query('tss', 'cifar10', b.arch(7), ['post_NLL'])\n"
        "print(r['arch'], r['source'], r['values']['acc'], r2['index'])\n"
        "heavy = sorted({'numpy', 'pandas', 'pyarrow', 'torch'} & set(sys.modules))\n"
        "print('HEAVY', heavy)\n"
    )


def test_open_and_query_import_numpy_only(store, tmp_path):
    cache = str(tmp_path / "cache")
    first = _child(_query_code(store.root), cache)  # may fill the demo-pairs cache
    assert first.returncode == 0, first.stderr
    second = _child(_query_code(store.root), cache)
    assert second.returncode == 0, second.stderr
    # the one query path is numpy's; pandas, pyarrow (fresh sidecars) and torch stay unloaded
    assert second.stdout.splitlines()[-1] == "HEAVY ['numpy']", second.stdout
    arch, source, acc, index = second.stdout.splitlines()[0].split()
    assert arch == TSS.arch(126) and source == "official+computed" and index == "7"
    expected = store.read("tss", "cifar10", "official", ["config", "acc"])
    assert float(acc) == expected.set_index("config").loc[126, "acc"]


def test_store_without_sidecars_is_migrated_on_first_read(store, tmp_path):
    for side in (store.root / "tables").rglob("*.npcols"):
        side.unlink()
    cache = str(tmp_path / "cache")
    first = _child(_query_code(store.root), cache)
    assert first.returncode == 0, first.stderr
    assert "pyarrow" in first.stdout.splitlines()[-1]  # read the parquet files, rebuilt sidecars
    assert len(list((store.root / "tables").rglob("*.npcols"))) == 2
    second = _child(_query_code(store.root), cache)
    assert second.stdout.splitlines()[-1] == "HEAVY ['numpy']", second.stdout
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]


def test_sidecar_holds_the_parquet_columns(store):
    path = store.path_for("tss", "cifar10", "official")
    side = Sidecar.open(path)
    assert side is not None and sidecar_path(path).is_file()
    table = pq.read_table(path)
    assert side.names == tuple(table.column_names) and side.rows == table.num_rows
    for name in ("config", "hp", "epoch", "seed", "copied", "acc", "pre_ECE_15", "space"):
        assert side.has(name)
        got, want = side.read(name), table.column(name).to_numpy(zero_copy_only=False)
        assert np.array_equal(got, want), name
    assert not side.has("arch") and not side.has("created")  # left to the parquet file
    assert side.read("acc", 10, 13).tolist() == table.column("acc").to_pylist()[10:13]
    assert side.arch(4321) == TSS.arch(4321)
    computed = Sidecar.open(store.path_for("tss", "cifar10", "computed"))
    assert computed.arch(7) == TSS.arch(7) and computed.arch(8) is None  # no row for 8


def test_stale_sidecar_is_detected_and_rebuilt(store):
    path = store.path_for("tss", "cifar10", "official")
    side = sidecar_path(path)
    old = side.read_bytes()
    # a crash between the parquet rename and the sidecar rename leaves the old sidecar behind
    store.upsert(_rows([123], acc=[0.5]))
    side.write_bytes(old)
    assert Sidecar.open(path) is None
    bench = Benchmark.open(store.root, demo=False)
    assert bench.query("tss", "cifar10", 123, ["acc"])["values"]["acc"] == 0.5
    fresh = Sidecar.open(path)  # the reader rebuilt it
    assert fresh is not None and fresh.read("acc")[123] == 0.5
    assert store.rebuild_sidecar("tss", "cifar10", "official") is False  # already fresh


def test_replaced_parquet_makes_the_sidecar_stale(store):
    path = store.path_for("tss", "cifar10", "official")
    table = pq.read_table(path)
    # another tool rewrites the parquet file with the same rows (new inode and footer)
    tmp = path.with_name("other.tmp")
    pq.write_table(table, tmp, compression="snappy")
    os.replace(tmp, path)
    assert Sidecar.open(path) is None
    assert store.rebuild_sidecar("tss", "cifar10", "official") is True
    assert Sidecar.open(path) is not None


@pytest.mark.parametrize("damage", ["truncate", "magic", "header", "empty"])
def test_damaged_sidecar_is_ignored(store, damage):
    path = store.path_for("tss", "cifar10", "official")
    side = sidecar_path(path)
    raw = side.read_bytes()
    if damage == "truncate":
        side.write_bytes(raw[: len(raw) // 2])
    elif damage == "magic":
        side.write_bytes(b"XXXXXXXX" + raw[8:])
    elif damage == "header":
        side.write_bytes(raw[:16] + b"{not json" + raw[25:])
    else:
        side.write_bytes(b"")
    assert Sidecar.open(path) is None
    expected = store.read("tss", "cifar10", "official", ["config", "acc"])
    bench = Benchmark.open(store.root, demo=False)
    got = bench.query("tss", "cifar10", 99, ["acc"])["values"]["acc"]
    assert got == expected.set_index("config").loc[99, "acc"]
    assert Sidecar.open(path) is not None


def test_reader_reads_parquet_while_a_writer_holds_the_lock(store):
    with_side = Benchmark.open(store.root, demo=False).frame(
        "tss", "cifar10", ["acc", "pre_ECE_15", "post_NLL"]
    )
    for side in (store.root / "tables").rglob("*.npcols"):
        side.unlink()
    lock = store._lock("tss", "cifar10", "official")
    with lock:  # a writer is busy: the reader must not wait, nor rebuild
        bench = Benchmark.open(store.root, demo=False)
        without = bench.frame("tss", "cifar10", ["acc", "pre_ECE_15", "post_NLL"])
        assert bench.tables()[("tss", "cifar10", "official")].sidecar is None
    pd.testing.assert_frame_equal(with_side, without)
    assert not sidecar_path(store.path_for("tss", "cifar10", "official")).exists()


def test_rebuild_sidecar_errors(store):
    with pytest.raises(FileNotFoundError, match="no table"):
        store.rebuild_sidecar("sss", "cifar10", "official")


def test_group_mean_is_pandas_groupby_mean_bit_for_bit():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 400))
        config = rng.integers(0, 40, n)
        values = rng.normal(size=(n, 3)) * 10.0 ** rng.integers(-4, 6)
        values[rng.random((n, 3)) < 0.3] = np.nan
        uniq, mean = group_mean(config, values)
        ref = pd.DataFrame(values).assign(c=config).groupby("c", sort=True).mean()
        assert np.array_equal(uniq, ref.index.to_numpy())
        assert np.array_equal(mean, ref.to_numpy(), equal_nan=True)


def test_embedded_pairs_are_cached_and_invalidated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    demo = tmp_path / "data"
    demo.mkdir()
    path = demo / "demo.parquet"
    normalize(_rows([0, 1], source="demo", dataset="digits", acc=[0.9, 0.8])).to_parquet(path)
    assert embedded_pairs(path) == [("tss", "digits")]
    cache = tmp_path / "cache" / "calnas" / "embedded-tables.json"
    assert json.loads(cache.read_text())[str(path)]["pairs"] == [["tss", "digits"]]
    rows = pd.concat(
        [
            _rows([0], source="demo", dataset="cifar10", acc=[0.7]),
            _rows([0], source="demo", dataset="digits", acc=[0.6]),
        ]
    )
    normalize(rows).to_parquet(path)  # a new demo file: the cached pairs no longer apply
    assert embedded_pairs(path) == [("tss", "cifar10"), ("tss", "digits")]
    bench = Benchmark(Store(tmp_path / "user"), demo_dir=demo)
    assert bench.query("tss", "cifar10", 0, ["acc"])["values"]["acc"] == 0.7
    cache.write_text("not json")  # a damaged cache is rebuilt, not fatal
    assert embedded_pairs(path) == [("tss", "cifar10"), ("tss", "digits")]
    shutil.rmtree(tmp_path / "cache")
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    assert embedded_pairs(path) == [("tss", "cifar10"), ("tss", "digits")]  # unwritable: skipped


def test_the_default_dataset_is_the_main_embedded_one_held(tmp_path, monkeypatch):
    from bench.table.embedded import default_dataset

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    demo = tmp_path / "data"
    demo.mkdir()
    assert default_dataset("tss", demo) == default_dataset("tss", None) == "digits"
    normalize(_rows([0], source="demo", dataset="digits", acc=[0.9])).to_parquet(
        demo / "demo.parquet"
    )
    assert default_dataset("tss", demo) == "digits"
    f8 = _rows([0], source="demo", dataset="fashion8", acc=[0.8])
    normalize(f8).to_parquet(demo / "fashion8.parquet")  # a second file: fashion8 leads
    assert default_dataset("tss", demo) == "fashion8"
    assert default_dataset("sss", demo) == "digits"  # no SSS table there: the fallback
