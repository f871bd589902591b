"""The fashion8 proxy task (real Fashion-MNIST files, real training) and the demo build's
``--reliability`` report on a real multi-seed store."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from demo_script import build_script

from bench.arch.datasets import dataset_info
from bench.compute import ComputeConfig, compute
from bench.compute import fashion8 as f8
from bench.compute.ood import FASHION_MNIST_DEFAULT_ROOT, read_fashion_mnist
from bench.compute.readers import check_files, read_split
from bench.errors import InputError, MissingFileError
from bench.table.benchmark import Benchmark
from bench.table.store import Store
from bench.table.validation import validate_tables

needs_files = pytest.mark.skipif(
    not FASHION_MNIST_DEFAULT_ROOT.is_dir(),
    reason=f"{FASHION_MNIST_DEFAULT_ROOT} is absent: apt-get install dataset-fashion-mnist",
)


@needs_files
def test_reader_shapes_dtypes_and_range():
    x, y = f8.read_fashion8("train")
    xt, yt = f8.read_fashion8("test")
    assert x.shape == (10_000, 8, 8, 1) and xt.shape == (10_000, 8, 8, 1)
    assert x.dtype == np.float32 and y.dtype == np.int64 and yt.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0 and xt.min() >= 0.0 and xt.max() <= 1.0
    assert np.bincount(y).tolist() == [1000] * 10  # stratified: 1,000 per class
    assert np.bincount(yt).tolist() == [1000] * 10  # the whole test set
    # read_split is the pipeline's way in; same arrays
    xs, ys = read_split("fashion8", "train")
    assert np.array_equal(xs, x) and np.array_equal(ys, y)
    # the constants of bench.arch.datasets are the subset's own statistics
    info = dataset_info("fashion8")
    assert abs(float(x.mean()) - info.mean[0]) < 1e-4 and abs(float(x.std()) - info.std[0]) < 1e-4
    with pytest.raises(InputError, match="split"):
        f8.read_fashion8("valid")


@needs_files
def test_subset_is_fixed_and_maps_raw_images():
    x1, y1 = f8.read_fashion8("train")
    x1[0] = -1.0  # a caller's change must not reach the cache
    f8._CACHE.clear()
    x2, y2 = f8.read_fashion8("train")
    assert np.array_equal(y1, y2) and x2.min() >= 0.0
    raw, labels = read_fashion_mnist(split="train")
    idx = f8.fashion8_subset(labels)
    assert len(idx) == 10_000 and len(np.unique(idx)) == 10_000
    assert np.array_equal(labels[idx], y2)
    assert not np.array_equal(f8.fashion8_subset(labels, seed=1), idx)
    # one raw image by hand: zero-pad 2 px each side, mean of each 4x4 block, / 255
    k = 123
    padded = np.pad(raw[idx[k], :, :, 0].astype(np.float64), 2)
    expected = padded.reshape(8, 4, 8, 4).mean(axis=(1, 3)) / 255
    np.testing.assert_allclose(x2[k, :, :, 0], expected, rtol=0, atol=1e-6)
    raw_t, _ = read_fashion_mnist(split="test")
    xt, _ = f8.read_fashion8("test")
    expected_t = np.pad(raw_t[7, :, :, 0].astype(np.float64), 2).reshape(8, 4, 8, 4)
    np.testing.assert_allclose(xt[7, :, :, 0], expected_t.mean(axis=(1, 3)) / 255, atol=1e-6)


def test_missing_package_names_the_install(tmp_path):
    with pytest.raises(MissingFileError, match="apt-get install dataset-fashion-mnist"):
        f8.read_fashion8("test", data_root=tmp_path)
    with pytest.raises(MissingFileError, match="apt-get install dataset-fashion-mnist"):
        check_files("fashion8", tmp_path)
    # a config needs no data root for fashion8 (the package's folder is the default)
    assert ComputeConfig("tss", "fashion8", epochs=1).skeleton == (8, 1)


@pytest.mark.slow
@needs_files
def test_compute_two_cells_one_epoch_stores_valid_rows(tmp_path):
    cfg = ComputeConfig("tss", "fashion8", epochs=1, batch_size=128)
    report = compute(cfg, [0, 1], bench=tmp_path, jobs=0, quiet=True)
    assert report.failures == [] and report.networks == 2
    frame = Store(tmp_path).read("tss", "fashion8", "computed")
    own = frame[~frame["copied"].astype(bool)]
    assert sorted(own["config"]) == [0, 1] and set(frame["seed"]) == {777}
    assert own["acc"].between(0.1, 1.0).all()  # one epoch learns something on 10,000 images
    assert "split=fashion8-stratified" in own["protocol"].iloc[0]
    findings = validate_tables(Benchmark.open(tmp_path, demo=False))
    assert [f["table"] for f in findings] == ["tss/fashion8/computed"]
    assert findings[0]["problems"] == []


@pytest.mark.slow
def test_reliability_on_a_real_four_seed_store(tmp_path, capsys):
    script = build_script()
    store = tmp_path / "store"
    common = ["--bench", str(store), "--spaces", "tss", "--epochs", "1"]
    script.main([*common, "--jobs", "0", "--seeds", "1,2,3,4", "--sample", "4", "--quiet"])
    out = tmp_path / "rel.json"
    capsys.readouterr()
    script.main([*common, "--reliability", "--reliability-out", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())["tss"]
    assert report["measurable"] and report["seeds"] == [1, 2, 3, 4] and report["k"] == 2
    assert report["architectures"] == 4 and report["architectures_all_seeds"] == 4
    assert report["splits"] == 3  # {12|34, 13|24, 14|23}
    assert {"acc", "pre_ECE_15", "post_ECE_15", "pre_NLL"} <= set(report["metrics"])
    for name, m in report["metrics"].items():
        assert len(m["tau_pairs"]) == 6 and m["n"] == 4, name
        for key in ("tau_one_seed", "tau_mean_k", "tau_mean_k_predicted"):
            assert m[key] is None or -1 <= m[key] <= 1, (name, key)
        pairs = [t for t in m["tau_pairs"].values() if t is not None]
        assert m["tau_one_seed"] is None or math.isclose(m["tau_one_seed"], np.mean(pairs))
        assert name in printed
    assert "4 architectures" in printed
    # two of the seeds: one split of one seed each, equal to the one-seed tau
    script.main([*common, "--reliability", "--seeds", "1,2", "--reliability-out", str(out)])
    two = json.loads(out.read_text())["tss"]
    assert two["seeds"] == [1, 2] and two["k"] == 1
    acc = two["metrics"]["acc"]
    assert acc["tau_mean_k"] == acc["tau_one_seed"]
    # one seed cannot say anything
    script.main([*common, "--reliability", "--seeds", "1", "--reliability-out", str(out)])
    assert json.loads(out.read_text())["tss"]["measurable"] is False


@needs_files
def test_per_class_subset_is_honoured_stratified_and_nested():
    x, y = f8.read_fashion8("train", per_class=250)
    assert x.shape == (2_500, 8, 8, 1) and np.bincount(y).tolist() == [250] * 10
    f8._CACHE.clear()
    x2, y2 = f8.read_fashion8("train", per_class=250)  # deterministic: read anew, same arrays
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    _, labels = read_fashion_mnist(split="train")
    small = f8.fashion8_subset(labels, per_class=250)
    full = f8.fashion8_subset(labels)
    assert np.array_equal(small, np.sort(small)) and np.isin(small, full).all()  # a prefix
    assert np.array_equal(f8.fashion8_subset(labels, per_class=None), full)
    # the pipeline's way in, and the test split stays whole
    xs, ys = read_split("fashion8", "train", per_class=250)
    assert np.array_equal(xs, x) and np.array_equal(ys, y)
    assert len(f8.read_fashion8("test", per_class=250)[1]) == 10_000
    assert len(f8.read_fashion8("train", per_class=6000)[1]) == 60_000


def test_bad_per_class_is_refused_with_its_range():
    for bad in (0, -3, 6001, 2.5, True, "250"):
        with pytest.raises(InputError, match=r"per_class must be an integer in 1\.\.6000"):
            f8.check_per_class(bad)
    with pytest.raises(InputError, match="per_class"):
        ComputeConfig("tss", "fashion8", train_per_class=0)
    with pytest.raises(InputError, match="fashion8 option"):
        ComputeConfig("tss", "digits", train_per_class=100)
    with pytest.raises(InputError, match="fashion8 option"):
        read_split("digits", "test", per_class=100)
    # fewer images in a class than asked for: not Fashion-MNIST's files
    labels = np.repeat(np.arange(10), 1200)
    with pytest.raises(MissingFileError, match="per_class=1500"):
        f8.fashion8_subset(labels, per_class=1500)
    for dataset, n in (("digits", "10"), ("fashion8", "0")):
        with pytest.raises(SystemExit):  # argparse's error: one line, exit status 2
            build_script().main(["--dataset", dataset, "--per-class", n, "--reliability"])


def test_per_class_is_recorded_in_the_protocol():
    default = ComputeConfig("tss", "fashion8").protocol()
    assert "train_per_class=1000," in default  # rows built before the option keep theirs
    assert ComputeConfig("tss", "fashion8", train_per_class=1000).protocol() == default
    small = ComputeConfig("tss", "fashion8", train_per_class=250).protocol()
    assert "train_per_class=250," in small and small != default


@pytest.mark.slow
@needs_files
def test_build_with_per_class_keeps_one_protocol_per_store(tmp_path, capsys):
    script = build_script()
    store = tmp_path / "store"
    common = ["--dataset", "fashion8", "--bench", str(store), "--epochs", "1", "--sample", "2"]
    script.main([*common, "--per-class", "20", "--seeds", "1,2", "--jobs", "0", "--quiet"])
    frame = Store(store).read("tss", "fashion8", "computed")
    own = frame[~frame["copied"].astype(bool)]
    assert len(own) == 4 and set(own["seed"]) == {1, 2}
    assert own["protocol"].str.contains("train_per_class=20,").all()
    out = tmp_path / "rel.json"
    script.main([*common, "--per-class", "20", "--reliability", "--reliability-out", str(out)])
    report = json.loads(out.read_text())["tss"]
    assert report["measurable"] and "train_per_class=20," in report["protocol"]
    assert report["architectures"] == 2 and "median" in report["metrics"]["acc"]
    # the default protocol's rows are not in this store: nothing to report
    script.main([*common, "--reliability", "--reliability-out", str(out)])
    assert json.loads(out.read_text())["tss"]["measurable"] is False
    # another protocol into the same store would overwrite rows of the same keys: refused
    with pytest.raises(SystemExit, match="another protocol"):
        script.main([*common, "--per-class", "30", "--seeds", "1", "--jobs", "0", "--quiet"])
    capsys.readouterr()


@needs_files
def test_present_fashion8_files_need_no_install():
    build_script().ensure_fashion_mnist(FASHION_MNIST_DEFAULT_ROOT, apt=None)
