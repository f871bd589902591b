"""Dataset readers (exact on-disk formats, tiny files), the digits split, NATS transforms."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from dataset_files import (
    planes,
    py2_pickle,
    write_cifar10,
    write_cifar10c,
    write_cifar100,
    write_fashion_mnist,
    write_imagenet16,
    write_svhn_test,
)

from bench.arch.datasets import DATASETS, dataset_info
from bench.compute.ood import read_cifar10c, read_fashion_mnist, read_svhn_test
from bench.compute.readers import (
    digits_split,
    read_cifar,
    read_digits,
    read_imagenet16,
    read_split,
)
from bench.compute.transforms import augment, to_tensor


def test_dataset_info_kept():
    assert dataset_info("cifar100").num_classes == 100
    assert DATASETS["digits"].skeleton == {"C": 8, "N": 1}
    with pytest.raises(ValueError, match="unknown dataset"):
        dataset_info("mnist")


def test_digits_split_is_fixed_stratified_and_disjoint():
    train, test = digits_split()
    assert (len(train), len(test)) == (899, 898)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).tolist() == list(range(1797))
    again = digits_split()
    assert np.array_equal(again[1], test)
    _, y_test = read_digits("test")
    _, y_train = read_digits("train")
    # stratified: every class is split in half (+-1)
    assert np.all(np.abs(np.bincount(y_test) - np.bincount(y_train)) <= 1)
    assert not np.array_equal(digits_split(seed=1)[1], test)
    x, _ = read_digits("test")
    assert x.shape == (898, 8, 8, 1) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    with pytest.raises(ValueError, match="split"):
        read_digits("valid")
    with pytest.raises(ValueError, match="test_fraction"):
        digits_split(test_fraction=1.5)


def test_cifar10_batches(tmp_path):
    ref = write_cifar10(tmp_path)
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):  # the folder or its parent
        x, y = read_cifar(root, "cifar10", "train")
        assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
        assert np.array_equal(x, ref["train_x"]) and np.array_equal(y, ref["train_y"])
    x, y = read_cifar(tmp_path, "cifar10", "test")
    assert np.array_equal(x, ref["test_x"]) and np.array_equal(y, ref["test_y"])
    # layout: row = R plane, G plane, B plane, each row-major
    assert planes(x)[0, 1024 + 33] == x[0, 1, 1, 1]


def test_cifar100_batches(tmp_path):
    ref = write_cifar100(tmp_path)
    x, y = read_split("cifar100", "train", tmp_path)
    assert np.array_equal(x, ref["train_x"]) and np.array_equal(y, ref["train_y"])
    x, y = read_cifar(tmp_path, "cifar100", "test")
    assert y.max() < 100 and len(x) == 6


def test_imagenet16_keeps_labels_up_to_120(tmp_path):
    ref = write_imagenet16(tmp_path)
    x, y = read_imagenet16(tmp_path, "train")
    keep = ref["train_y"] <= 120
    assert np.array_equal(x, ref["train_x"][keep])  # file order kept
    assert np.array_equal(y, ref["train_y"][keep] - 1)  # 1-based label L -> target L - 1
    assert y.min() >= 0 and y.max() <= 119 and x.shape[1:] == (16, 16, 3)
    x, y = read_split("ImageNet16-120", "test", tmp_path)
    assert len(x) == int((ref["test_y"] <= 120).sum())
    with pytest.raises(ValueError, match="MD5"):
        read_imagenet16(tmp_path, "test", verify_md5=True)


def test_svhn_cifar10c_fashion(tmp_path):
    ref = write_svhn_test(tmp_path / "svhn")
    x, y = read_svhn_test(tmp_path)  # found in the svhn/ subfolder
    assert np.array_equal(x, ref["x"]) and y[0] == 0 and y.max() <= 9
    ref = write_cifar10c(tmp_path / "CIFAR-10-C")
    x, y = read_cifar10c(tmp_path, severity=5)
    assert np.array_equal(x, ref["x"][-4:]) and np.array_equal(y, ref["y"][-4:])
    assert len(read_cifar10c(tmp_path)[0]) == 20
    with pytest.raises(ValueError, match="severity"):
        read_cifar10c(tmp_path, severity=6)
    for gz in (True, False):
        ref = write_fashion_mnist(tmp_path / f"fm{gz}", gz=gz)
        x, y = read_fashion_mnist(tmp_path / f"fm{gz}", "test")
        assert np.array_equal(x[..., 0], ref["t10k"][0]) and np.array_equal(y, ref["t10k"][1])


def test_missing_files_name_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        read_cifar(tmp_path, "cifar10", "train")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        read_cifar(tmp_path / "nope", "cifar10", "test")
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="missing: data_batch_3"):
        read_cifar(tmp_path, "cifar10", "train")
    with pytest.raises(FileNotFoundError, match="train_data_batch_1"):
        read_imagenet16(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match=r"test_32x32\.mat"):
        read_svhn_test(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"gaussian_noise\.npy"):
        read_cifar10c(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        read_fashion_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="data root"):
        read_split("cifar10", "test")


def test_corrupt_and_malicious_files_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(b"\x80\x02}q\x00(truncated")
    with pytest.raises(ValueError, match="test_batch"):
        read_cifar(tmp_path, "cifar10", "test")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(ValueError, match="refused global"):
        read_cifar(tmp_path, "cifar10", "test")
    # wrong shapes: 3x32x32 expected
    py2_pickle({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, folder / "test_batch")
    with pytest.raises(ValueError, match="shape"):
        read_cifar(tmp_path, "cifar10", "test")
    py2_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, folder / "test_batch")
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.9"):
        read_cifar(tmp_path, "cifar10", "test")
    (tmp_path / "test_32x32.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match="SVHN"):
        read_svhn_test(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05")
    with pytest.raises(ValueError, match="declares shape"):
        read_fashion_mnist(tmp_path, "test")


def test_to_tensor_normalizes_with_nats_statistics():
    img = np.full((2, 32, 32, 3), 255, np.uint8)
    t = to_tensor(img, "cifar10")
    info = dataset_info("cifar10")
    assert t.shape == (2, 3, 32, 32) and t.dtype == torch.float32
    expected = [(1 - m) / s for m, s in zip(info.mean, info.std, strict=True)]
    assert torch.allclose(t[0, :, 0, 0], torch.tensor(expected))
    with pytest.raises(ValueError, match="images must be"):
        to_tensor(np.zeros((2, 8, 8, 3)), "digits")


def test_augment_flip_and_crop():
    gen = torch.Generator().manual_seed(0)
    img = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    out = augment(img, "cifar10", gen)
    assert out.shape == img.shape
    again = augment(img, "cifar10", torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # seeded
    # padding value maps back to a black pixel of the raw image
    info = dataset_info("cifar10")
    black = torch.tensor([-m / s for m, s in zip(info.mean, info.std, strict=True)])
    many = augment(torch.zeros(64, 3, 32, 32) + 5.0, "cifar10", gen)
    assert torch.isclose(many, black.view(1, 3, 1, 1)).any()
    # every output is a shifted (and maybe flipped) window of the padded input
    x = torch.randn(1, 3, 16, 16)
    y = augment(x, "ImageNet16-120", torch.Generator().manual_seed(3))
    info = dataset_info("ImageNet16-120")
    black = torch.tensor([-m / s for m, s in zip(info.mean, info.std, strict=True)])
    pad = black.view(1, 3, 1, 1).expand(1, 3, 20, 20).clone()
    pad[:, :, 2:18, 2:18] = x
    windows = [pad[:, :, i : i + 16, j : j + 16] for i in range(5) for j in range(5)]
    assert any(torch.equal(y, w) or torch.equal(y, w.flip(3)) for w in windows)
    d = torch.randn(4, 1, 8, 8)
    assert torch.equal(augment(d, "digits", gen), d)  # digits: no flips, no shifts


def test_import_does_not_import_torch():
    code = (
        "import sys, bench.arch.datasets, bench.compute.readers, bench.compute.ood, "
        "bench.compute.transforms; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
