"""bench.table: selection, source priority, TSS copies, vectorized lookups, Pareto, NATS facade."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench.arch.spaces import get_space
from bench.table.benchmark import Benchmark
from bench.table.catalog import MissingEntry
from bench.table.nats import create
from bench.table.store import Store

TSS = get_space("tss")


def _rows(source, configs, hp=200, epoch=200, dataset="cifar10", **values):
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


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    store = Store(root)
    n = TSS.size
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.1, 0.95, n)
    ece = rng.uniform(0.0, 0.2, n)
    store.upsert(_rows("official", np.arange(n), acc=acc, pre_ECE_15=ece))
    reps = TSS.unique_indices()
    # computed: representatives only, a metric official lacks, and a conflicting acc
    store.upsert(_rows("computed", reps, acc=0.5, post_ECE_15=0.01 + reps / 1e6))
    # nats-like: two seeds at two epochs of two schedules
    for hp, epochs in ((12, (6, 12)), (200, (12, 200))):
        for e in epochs:
            for seed, bump in ((777, 0.0), (888, 0.02)):
                store.upsert(
                    _rows(
                        "nats",
                        [0, 1],
                        hp=hp,
                        epoch=e,
                        seed=seed,
                        test_acc=[0.3 + e / 1000 + bump, 0.4 + bump],
                        train_time_s=[10.0 * e, 20.0 * e],
                    )
                )
    return root, acc, ece


def test_priority_and_source_choice(bench_dir):
    root, acc, _ = bench_dir
    bench = Benchmark.open(root, demo=False)
    assert bench.sources("tss", "cifar10") == ["official", "computed", "nats"]
    q = bench.query("tss", "cifar10", 0, ["acc", "post_ECE_15"])
    assert q["values"]["acc"] == acc[0]  # official wins over computed
    assert q["source"] == "official+computed"
    only = bench.query("tss", "cifar10", 0, ["acc"], source="computed")
    assert only["values"]["acc"] == 0.5 and only["source"] == "computed"
    with pytest.raises(MissingEntry, match="no 'demo' rows"):
        bench.query("tss", "cifar10", 0, ["acc"], source="demo")
    with pytest.raises(ValueError, match="did you mean"):
        bench.query("tss", "cifar10", 0, ["acuracy"])
    with pytest.raises(MissingEntry, match="no source holds pre_KSCE"):
        bench.query("tss", "cifar10", 0, ["pre_KSCE"])
    with pytest.raises(ValueError, match="out of range"):
        bench.query("tss", "cifar10", 15625, ["acc"])
    with pytest.raises(MissingEntry, match="holds nothing"):
        bench.query("tss", "cifar100", 0, ["acc"])


def test_tss_copies_fill_every_index(bench_dir):
    root, _, _ = bench_dir
    bench = Benchmark.open(root, demo=False)
    frame = bench.frame("tss", "cifar10", ["post_ECE_15"], source="computed")
    assert len(frame) == 15625
    reps = TSS.representatives()
    copied = frame["copied"].to_numpy()
    assert copied.sum() == 15625 - 6466
    assert (copied == (reps != np.arange(15625))).all()
    vals = frame["post_ECE_15"].to_numpy()
    assert (vals == vals[reps]).all()
    assert len(bench.missing("tss", "cifar10", ["post_ECE_15"])) == 0
    assert len(bench.missing("tss", "cifar10", ["pre_KSCE"], unique=True)) == 6466


def test_fidelities_and_seeds(bench_dir):
    root, _, _ = bench_dir
    bench = Benchmark.open(root, demo=False)
    assert bench.hps("tss", "cifar10", source="nats") == [12, 200]
    assert bench.epochs("tss", "cifar10", source="nats") == [6, 12, 200]
    assert bench.epochs("tss", "cifar10", source="nats", hp=12) == [6, 12]
    final = bench.query("tss", "cifar10", 0, ["test_acc"], source="nats")
    assert (final["hp"], final["epoch"]) == (200, 200)
    assert final["values"]["test_acc"] == pytest.approx(0.5 + 0.01)  # mean of two seeds
    e12 = bench.query("tss", "cifar10", 0, ["test_acc"], source="nats", epoch=12)
    assert e12["hp"] == 200  # the longest schedule that has epoch 12
    short = bench.query("tss", "cifar10", 0, ["test_acc"], source="nats", hp=12)
    assert (short["hp"], short["epoch"]) == (12, 12)
    one = bench.query("tss", "cifar10", 0, ["test_acc"], source="nats", hp=12, seed=888)
    assert one["values"]["test_acc"] == pytest.approx(0.312 + 0.02)
    with pytest.raises(MissingEntry, match="no rows"):
        bench.query("tss", "cifar10", 0, ["test_acc"], source="nats", epoch=7)


def test_query_many_and_frame(bench_dir):
    root, acc, ece = bench_dir
    bench = Benchmark.open(root, demo=False)
    idx = np.array([5, 0, 5, 15624])
    out = bench.query_many("tss", "cifar10", idx, ["acc", "pre_ECE_15"])
    assert out["config"].tolist() == idx.tolist()
    assert np.array_equal(out["acc"].to_numpy(), acc[idx])
    assert out["arch"].tolist() == [TSS.arch(int(i)) for i in idx]
    assert list(out.columns) == [
        "config",
        "arch",
        "source",
        "hp",
        "epoch",
        "copied",
        "acc",
        "pre_ECE_15",
    ]
    with pytest.raises(ValueError, match="out of range"):
        bench.query_many("tss", "cifar10", [0, -1], ["acc"])
    with pytest.raises(ValueError, match="integers"):
        bench.query_many("tss", "cifar10", [0.5], ["acc"])
    frame = bench.frame("tss", "cifar10", ["acc", "pre_ECE_15"])
    assert frame["config"].tolist() == list(range(15625))
    # a large batch answers every lookup (its speed is scripts/perf_bench.py's business)
    big = np.random.default_rng(1).integers(0, 15625, 100_000)
    got = bench.query_many("tss", "cifar10", big, ["acc", "pre_ECE_15"])
    assert np.array_equal(got["pre_ECE_15"].to_numpy(), ece[big])


def test_pareto_and_find_best(bench_dir):
    root, acc, ece = bench_dir
    bench = Benchmark.open(root, demo=False)
    front = bench.pareto_front("tss", "cifar10", ["acc", "pre_ECE_15"])
    # brute force: a point is on the front iff no point is at least as good in both, better in one
    dominated = np.zeros(len(acc), dtype=bool)
    order = np.argsort(-acc)
    best_ece = np.inf
    for i in order:
        dominated[i] = ece[i] >= best_ece
        best_ece = min(best_ece, ece[i])
    assert set(front["config"]) == set(np.flatnonzero(~dominated))
    assert front["acc"].is_monotonic_decreasing
    flipped = bench.pareto_front("tss", "cifar10", ["acc", "pre_ECE_15"], ["min", "min"])
    assert flipped["acc"].iloc[0] == acc.min()
    with pytest.raises(ValueError, match="directions"):
        bench.pareto_front("tss", "cifar10", ["acc"], ["up"])
    best = bench.find_best("tss", "cifar10", "acc")
    assert best["index"] == int(np.argmax(acc))
    assert bench.find_best("tss", "cifar10", "pre_ECE_15")["index"] == int(np.argmin(ece))
    capped = bench.find_best("tss", "cifar10", "acc", bounds={"pre_ECE_15": (None, 0.01)})
    ok = ece <= 0.01
    assert capped["index"] == int(np.flatnonzero(ok)[np.argmax(acc[ok])])


def test_nats_facade(bench_dir):
    root, _, _ = bench_dir
    api = create(root, "topology")
    assert len(api) == 15625 and api[11] == TSS.arch(11)
    assert api.query_index_by_arch(TSS.arch(11)) == 11
    assert api.query_index_by_arch("|bogus|") == -1
    assert api.query_index_by_arch(7) == 7
    with pytest.raises(ValueError):
        api.query_index_by_arch(15625)
    info = api.get_more_info(0, "cifar10", hp=12, iepoch=5)
    assert info["epoch"] == 6 and info["test-accuracy"] == pytest.approx(0.306 + 0.01)
    assert info["train-all-time"] == 60.0 and info["train-per-time"] == 10.0
    assert api.get_more_info(0, "cifar10", hp=12, is_random=777)["test-accuracy"] == (
        pytest.approx(0.312)
    )
    assert api.find_best("cifar10", "test", hp=200)[0] == 0
    with pytest.raises(ValueError, match="unknown evaluation set 'x-test' for cifar10"):
        api.find_best("cifar10", "x-test")
    with pytest.raises(MissingEntry, match="no source holds train_acc"):  # 'train' is a set
        api.find_best("cifar10", "train")
    with pytest.raises(ValueError, match="unknown search space"):
        create(root, "xss")


def test_empty_and_demo_dirs(tmp_path):
    bench = Benchmark.open(tmp_path / "nothing", demo=False)
    assert bench.info() == []
    with pytest.raises(MissingEntry, match="import data first"):
        bench.frame("tss", "cifar10", ["acc"])
    # an embedded demo file (several datasets in one file) is read as source 'demo'
    demo = tmp_path / "data"
    demo.mkdir()
    rows = pd.concat(
        [
            _rows("demo", [0, 1], dataset="digits", acc=[0.9, 0.8]),
            _rows("demo", [0], dataset="cifar10", acc=[0.7]),
        ]
    )
    from bench.table.validation import normalize

    normalize(rows).to_parquet(demo / "demo.parquet")
    bench = Benchmark(Store(tmp_path / "user"), demo_dir=demo)
    assert sorted((t["dataset"], t["rows"]) for t in bench.info()) == [
        ("cifar10", 1),
        ("digits", 2),
    ]
    assert bench.query("tss", "digits", 1, ["acc"])["values"]["acc"] == 0.8
    assert bench.query("tss", "cifar10", 0, ["acc"])["source"] == "demo"


def test_open_and_query_do_not_import_torch(bench_dir):
    root, _, _ = bench_dir
    code = (
        "import sys\n"
        "from bench.table.benchmark import Benchmark\n"
        "from bench.table.nats import create\n"
        "import bench.table.store, bench.table.schema, bench.importers\n"
        f"b = Benchmark.open({str(root)!r})\n"
        "b.query('tss', 'cifar10', 3, ['acc'])\n"
        "b.query_many('tss', 'cifar10', [1, 2], ['acc'])\n"
        "b.pareto_front('tss', 'cifar10', ['acc', 'pre_ECE_15'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
