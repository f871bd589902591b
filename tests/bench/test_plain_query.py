"""Benchmark.query without numpy: the same answers (and errors) as the numpy path, every case."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bench.table.store as store_mod
from bench.arch.spaces import get_space
from bench.table.benchmark import DEMO_DIR, Benchmark
from bench.table.store import Sidecar, Store, _runs, sidecar_path

TSS, SSS = get_space("tss"), get_space("sss")


class DenseBenchmark(Benchmark):
    """The reference: every query takes the numpy path."""

    def _query_plain(self, *args, **kwargs):
        return None


def _frame(space, dataset, source, configs, hp, epoch, seed=-1, **values):
    n = len(configs)
    frame = pd.DataFrame(
        {
            "space": space,
            "dataset": dataset,
            "source": source,
            "config": np.asarray(configs, dtype=np.int64),
            "hp": hp,
            "epoch": epoch,
            "seed": np.broadcast_to(np.asarray(seed), (n,)).copy(),
        }
    )
    for k, v in values.items():
        frame[k] = v
    return frame


def _holes(rng, values, share=0.15):
    values = np.array(values, dtype=np.float64)
    values[rng.random(len(values)) < share] = np.nan
    return values


def _build(root) -> Store:
    """Several sources, schedules, epochs, seeds (some repeated), copies, holes and -0.0."""
    rng = np.random.default_rng(11)
    store = Store(root)
    n = TSS.size
    reps = TSS.unique_indices()
    frames = []
    # official: every TSS index, some values missing, some rows marked copied
    frames.append(
        _frame(
            "tss",
            "cifar10",
            "official",
            np.arange(n),
            200,
            200,
            acc=_holes(rng, rng.uniform(0.1, 0.95, n)),
            pre_ECE_15=_holes(rng, rng.uniform(0.0, 0.2, n)),
            copied=rng.random(n) < 0.1,
        )
    )
    # computed: half the representatives, two seeds for some of them (so every value of the
    # run is a mean), a -0.0 among single-seed rows, NaN in one seed only
    some = np.sort(rng.choice(reps, len(reps) // 2, replace=False))
    two = some[rng.random(len(some)) < 0.3]
    for seed, configs in ((1, some), (2, two)):
        post = rng.uniform(0.0, 0.1, len(configs))
        post[: len(configs) // 50] = -0.0
        frames.append(
            _frame(
                "tss",
                "cifar10",
                "computed",
                configs,
                200,
                200,
                seed=seed,
                acc=_holes(rng, rng.uniform(0.1, 0.95, len(configs)), 0.3),
                post_ECE_15=_holes(rng, post, 0.2),
                pre_ECE_15=_holes(rng, rng.uniform(0.0, 0.2, len(configs)), 0.5),
                copied=rng.random(len(configs)) < 0.2,
            )
        )
    # nats: learning curves of a few hundred indices, three seeds of some, two schedules
    subset = np.sort(rng.choice(n, 300, replace=False))
    for hp, epochs in ((12, (1, 6, 12)), (200, (12, 100, 200))):
        for e in epochs:
            for seed in (777, 888, 999):
                configs = subset if seed == 777 else subset[rng.random(len(subset)) < 0.4]
                frames.append(
                    _frame(
                        "tss",
                        "cifar10",
                        "nats",
                        configs,
                        hp,
                        e,
                        seed=seed,
                        test_acc=_holes(rng, rng.uniform(0.1, 0.9, len(configs)), 0.1),
                        train_time_s=rng.uniform(1, 1e5, len(configs))
                        * 10.0 ** rng.integers(-3, 4, len(configs)),
                        copied=rng.random(len(configs)) < 0.3,
                    )
                )
    # nb201: one seed-less run of some representatives
    nb = np.sort(rng.choice(reps, 2000, replace=False))
    frames.append(
        _frame(
            "tss",
            "cifar10",
            "nb201",
            nb,
            200,
            200,
            test_acc=_holes(rng, rng.uniform(0.1, 0.9, len(nb))),
            acc=_holes(rng, rng.uniform(0.1, 0.9, len(nb))),
        )
    )
    # cifar100: representatives only, so most indices are isomorphic copies
    frames.append(
        _frame(
            "tss",
            "cifar100",
            "computed",
            reps,
            200,
            200,
            acc=_holes(rng, rng.uniform(0.1, 0.9, len(reps))),
            post_NLL=rng.uniform(0.1, 3.0, len(reps)),
        )
    )
    # SSS: part of the space (no copies there), two sources, two epochs
    part = np.sort(rng.choice(SSS.size, 5000, replace=False))
    frames.append(
        _frame(
            "sss",
            "cifar10",
            "official",
            part,
            90,
            90,
            acc=_holes(rng, rng.uniform(0.1, 0.9, len(part))),
            pre_ECE_15=rng.uniform(0.0, 0.2, len(part)),
        )
    )
    for e in (45, 90):
        for seed in (777, 888):
            frames.append(
                _frame(
                    "sss",
                    "cifar10",
                    "nats",
                    part[:700],
                    90,
                    e,
                    seed=seed,
                    test_acc=rng.uniform(0.1, 0.9, 700),
                    acc=_holes(rng, rng.uniform(0.1, 0.9, 700), 0.5),
                )
            )
    for frame in frames:
        store.upsert(frame)
    # the embedded demo table's rows, as a store table (with sidecars)
    demo = pd.read_parquet(DEMO_DIR / "demo.parquet")
    store.upsert(demo.drop(columns=["created", "calnas_version"], errors="ignore"))
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("plain"))


def _outcome(bench, args, kwargs):
    try:
        return repr(bench.query(*args, **kwargs))  # repr: tells -0.0 from 0.0, every digit
    except Exception as err:  # the same error, type and message, is part of the contract
        return f"{type(err).__name__}: {err}"


_METRICS = {
    ("tss", "cifar10"): ["acc", "pre_ECE_15", "post_ECE_15", "test_acc", "train_time_s"],
    ("tss", "cifar100"): ["acc", "post_NLL"],
    ("sss", "cifar10"): ["acc", "pre_ECE_15", "test_acc"],
    ("tss", "digits"): ["acc", "pre_ECE_15", "post_ECE_15", "post_NLL", "pre_KSCE"],
    ("sss", "digits"): ["acc", "pre_ECE_15", "post_Brier"],
}


def _combos(rng, count):
    """Mostly answerable requests, and a share of every kind of bad one."""
    pairs = list(_METRICS)
    sources = ["official", "computed", "nats", "nb201", "demo", "bogus"]

    def maybe(options, none=0.6):
        return None if rng.random() < none else options[rng.integers(len(options))]

    for _ in range(count):
        space, dataset = pairs[rng.integers(len(pairs))]
        if rng.random() < 0.03:  # a pair the store lacks
            space, dataset = [("sss", "cifar100"), ("tss", "cifar10-valid")][rng.integers(2)]
        size = get_space(space).size
        pick = rng.random()
        if pick < 0.8:
            index = int(rng.integers(size))
        elif pick < 0.95:
            index = get_space(space).arch(int(rng.integers(size)))  # an arch string
        else:
            index = [-1, size, "|bad|", np.int64(5), True, 2.0][rng.integers(6)]
        names = _METRICS.get((space, dataset), ["acc"])
        pick = rng.random()
        if pick < 0.1:
            metrics = None
        elif pick < 0.2:
            metrics = names[rng.integers(len(names))]  # one name as a string
        elif pick < 0.9:
            k = int(rng.integers(1, len(names) + 1))
            metrics = [names[i] for i in rng.choice(len(names), k, replace=False)]
        else:
            metrics = [["nope"], [], ["post_KSCE"], ["acc", "acc"]][rng.integers(4)]
        kwargs = {
            "metrics": metrics,
            "source": maybe(sources, 0.8),
            "epoch": maybe([1, 2, 4, 6, 12, 45, 90, 100, 200, 7], 0.7),
            "hp": maybe([2, 4, 12, 90, 200, 50], 0.7),
            "seed": maybe([777, 888, 999, 1, 2, -1, 5], 0.8),
        }
        yield (space, dataset, index), kwargs


def test_plain_query_equals_numpy_query(store):
    rng = np.random.default_rng(0)
    plain = Benchmark.open(store.root, demo=False)
    dense = DenseBenchmark.open(store.root, demo=False)
    probe = Benchmark.open(store.root, demo=False)  # never falls back: plain answers only
    answered = compared = 0
    for args, kwargs in _combos(rng, 5000):
        want = _outcome(dense, args, kwargs)
        assert _outcome(plain, args, kwargs) == want, (args, kwargs)
        got = probe._query_plain(
            *args,
            *(kwargs[k] for k in ("metrics", "source", "epoch")),
            kwargs["hp"],
            kwargs["seed"],
        )
        compared += 1
        if want.startswith("{"):
            # every answer numpy gives, the plain path gives too (sidecars are all fresh)
            assert got is not None, (args, kwargs)
        if got is not None:
            assert repr(got) == want, (args, kwargs)
            answered += 1
    assert not probe._resolved, "the plain path must not build dense arrays"
    assert answered > compared // 8, (answered, compared)  # about 1/5 answer


def test_plain_query_covers_every_index_of_a_selection(store):
    """All indices of some selections: copies, means, priority and holes, exhaustively."""
    dense = DenseBenchmark.open(store.root, demo=False)
    probe = Benchmark.open(store.root, demo=False)
    cases = [
        ("tss", "cifar10", ["acc", "pre_ECE_15", "post_ECE_15"], None, None),
        ("tss", "cifar100", ["acc", "post_NLL"], None, None),
        ("tss", "cifar10", ["test_acc", "train_time_s"], 12, None),
        ("tss", "cifar10", ["test_acc", "train_time_s"], None, 888),
        ("sss", "cifar10", ["acc", "test_acc"], None, None),
        ("tss", "digits", None, None, None),
    ]
    for space, dataset, metrics, epoch, seed in cases:
        size = get_space(space).size
        step = 1 if space == "tss" else 7
        for index in range(0, size, step):
            want = _outcome(dense, (space, dataset, index, metrics), {"epoch": epoch, "seed": seed})
            got = probe._query_plain(space, dataset, index, metrics, None, epoch, None, seed)
            if want.startswith("{"):
                assert repr(got) == want, (space, dataset, index)
            else:
                assert got is None and "MissingEntry" in want, (space, dataset, index, want)


def test_means_match_numpy_bit_for_bit(store):
    """Seed means of values spanning seven orders of magnitude (Kahan summation)."""
    dense = DenseBenchmark.open(store.root, demo=False)
    probe = Benchmark.open(store.root, demo=False)
    res = dense._resolve("tss", "cifar10", "nats", 200, 100, None)
    values = res.value("train_time_s")
    for index in np.flatnonzero(~np.isnan(values)):
        got = probe._query_plain(
            "tss", "cifar10", int(index), ["train_time_s"], "nats", 100, 200, None
        )
        assert got["values"]["train_time_s"] == values[index]


def _child(code: str, cache: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


def test_a_new_process_queries_without_numpy(store, tmp_path):
    dense = DenseBenchmark.open(store.root)
    curve = dense.frame("tss", "cifar10", ["test_acc"], epoch=12, complete=True)
    seeds = int(curve["config"].iloc[0])  # a mean over seeds, from a learning curve
    sss = SSS.arch(int(dense.frame("sss", "cifar10", ["test_acc"])["config"].iloc[3]))
    code = (
        "import sys\n"
        "from bench.table.benchmark import Benchmark\n"
        f"b = Benchmark.open({str(store.root)!r})\n"  # with the embedded demo table, as by default
        "r = b.query('tss', 'cifar10', 123, ['acc', 'pre_ECE_15'])\n"
        "r2 = b.query('tss', 'cifar100', 4000, 'post_NLL')\n"
        f"r3 = b.query('tss', 'cifar10', {seeds}, ['test_acc'], epoch=12)\n"
        f"r4 = b.query('tss', 'cifar10', {TSS.arch(77)!r}, ['acc'])\n"
        f"r5 = b.query('sss', 'cifar10', {sss!r}, None)\n"
        "print(repr((r, r2, r3, r4, r5)))\n"
        "heavy = sorted({'numpy', 'pandas', 'pyarrow', 'torch'} & set(sys.modules))\n"
        "print('HEAVY', heavy)\n"
    )
    cache = str(tmp_path / "cache")
    first = _child(code, cache)  # fills the demo-pairs cache (reads the demo file's ids)
    assert first.returncode == 0, first.stderr
    second = _child(code, cache)
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    assert lines[-1] == "HEAVY []", second.stdout
    want = (
        dense.query("tss", "cifar10", 123, ["acc", "pre_ECE_15"]),
        dense.query("tss", "cifar100", 4000, "post_NLL"),
        dense.query("tss", "cifar10", seeds, ["test_acc"], epoch=12),
        dense.query("tss", "cifar10", TSS.arch(77), ["acc"]),
        dense.query("sss", "cifar10", sss, None),
    )
    assert lines[0] == repr(want)


def test_version_1_sidecars_are_rewritten_and_still_read(tmp_path, monkeypatch):
    store = Store(tmp_path / "b")
    # what calnas wrote before: version 1, no runs, no space tables
    monkeypatch.setattr(store_mod, "_SIDECAR_VERSION", 1)
    monkeypatch.setattr(store_mod, "_runs", lambda arrays, rows: None)
    monkeypatch.setattr(store_mod, "_space_tables", lambda name: {})
    store.upsert(_frame("tss", "cifar10", "official", [3, 4], 200, 200, acc=[0.5, 0.25]))
    monkeypatch.undo()
    path = store.path_for("tss", "cifar10", "official")
    old = Sidecar.open(path)
    assert old is not None and old.version == 1 and not old.current
    # a writer holds the lock: the reader keeps the version-1 sidecar (numpy path)
    with store._lock("tss", "cifar10", "official"):
        bench = Benchmark.open(store.root, demo=False)
        assert bench.query("tss", "cifar10", 4, "acc")["values"] == {"acc": 0.25}
        assert bench._plans and not any(bench._plans.values())
    assert Sidecar.open(path).version == 1
    bench = Benchmark.open(store.root, demo=False)
    assert bench._query_plain("tss", "cifar10", 4, "acc", None, None, None, None) is not None
    side = Sidecar.open(path)
    assert side.current and side.runs[0]["stop"] == 2  # rewritten by the reader


def test_unsorted_foreign_parquet_is_answered_by_numpy(tmp_path):
    import pyarrow.parquet as pq

    store = Store(tmp_path / "b")
    store.upsert(_frame("tss", "cifar10", "official", [3, 4, 9], 200, 200, acc=[0.5, 0.25, 0.1]))
    path = store.path_for("tss", "cifar10", "official")
    table = pq.read_table(path)
    pq.write_table(table.take([2, 0, 1]), path)  # another tool reorders the rows
    assert store.rebuild_sidecar("tss", "cifar10", "official") is True
    assert Sidecar.open(path).runs is None
    bench = Benchmark.open(store.root, demo=False)
    assert bench._query_plain("tss", "cifar10", 4, "acc", None, None, None, None) is None
    assert bench.query("tss", "cifar10", 4, "acc")["values"] == {"acc": 0.25}


def test_runs_of_the_sidecar():
    arrays = {
        "hp": [12, 12, 12, 200],
        "epoch": [6, 12, 12, 200],
        "config": [5, 0, 0, 3],
        "seed": [777, 777, 888, -1],
    }
    runs = _runs(arrays, 4)
    assert [(r["hp"], r["epoch"], r["start"], r["stop"]) for r in runs] == [
        (12, 6, 0, 1),
        (12, 12, 1, 3),
        (200, 200, 3, 4),
    ]
    assert [r["seeds"] for r in runs] == [[777], [777, 888], [-1]]
    assert [r["dup"] for r in runs] == [False, True, False]
    assert _runs({**arrays, "seed": [777, 888, 777, -1]}, 4) is None  # not sorted by seed
    assert _runs({**arrays, "seed": [777, 777, 777, -1]}, 4) is None  # a repeated key
    assert _runs({k: v for k, v in arrays.items() if k != "seed"}, 4) is None  # 0, 0 repeat
    assert _runs({"hp": [], "epoch": [], "config": []}, 0) == []


def test_space_tables_in_tss_sidecars(store):
    side = Sidecar.open(store.path_for("tss", "cifar10", "official"))
    order, reps = side.view(store_mod._SPACE_ORDER), side.view(store_mod._SPACE_REPS)
    assert reps.tolist() == TSS.representatives().tolist()
    assert order.tolist() == TSS._radix_values(TSS.codes()).tolist()
    assert (
        Sidecar.open(store.path_for("sss", "cifar10", "official")).view(store_mod._SPACE_ORDER)
        is None
    )
    assert sidecar_path(store.path_for("sss", "cifar10", "official")).is_file()
