"""Writers of tiny dataset files in the exact on-disk formats the readers of bench.compute.readers
expect.

CIFAR and ImageNet16 batches are written as Python 2 pickles (byte strings as BINSTRING, numpy
arrays reduced through numpy's _reconstruct), as the official files are; SVHN as a MATLAB .mat,
CIFAR-10-C as .npy, Fashion-MNIST as IDX (optionally gzipped).
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler lets us emit Python 2 strings
    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def py2_pickle(obj: Any, path: Path) -> None:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    path.write_bytes(buf.getvalue())


def planes(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) -> (N, 3*H*W) rows of three row-major planes R, G, B (the batch layout)."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1).copy()


def random_images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    return rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def write_cifar10(root: Path, n_train: int = 6, n_test: int = 5, seed: int = 0) -> dict:
    """``root/cifar-10-batches-py`` with data_batch_1..5 and test_batch; returns the arrays."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list] = {"train_x": [], "train_y": []}
    for i in range(1, 6):
        x, y = random_images(rng, n_train, 32), rng.integers(0, 10, n_train)
        out["train_x"].append(x)
        out["train_y"].append(y)
        py2_pickle(
            {
                b"batch_label": b"training batch %d of 5" % i,
                b"labels": [int(v) for v in y],
                b"data": planes(x),
                b"filenames": [b"img%d.png" % j for j in range(n_train)],
            },
            folder / f"data_batch_{i}",
        )
    x, y = random_images(rng, n_test, 32), rng.integers(0, 10, n_test)
    py2_pickle(
        {b"batch_label": b"testing batch 1 of 1", b"labels": [int(v) for v in y],
         b"data": planes(x), b"filenames": [b"t.png"] * n_test},
        folder / "test_batch",
    )  # fmt: skip
    return {
        "train_x": np.concatenate(out["train_x"]),
        "train_y": np.concatenate(out["train_y"]),
        "test_x": x,
        "test_y": y,
    }


def write_cifar100(root: Path, n_train: int = 8, n_test: int = 6, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = random_images(rng, n, 32), rng.integers(0, 100, n)
        py2_pickle(
            {b"filenames": [b"f"] * n, b"batch_label": split.encode(),
             b"fine_labels": [int(v) for v in y], b"coarse_labels": [int(v) // 5 for v in y],
             b"data": planes(x)},
            folder / split,
        )  # fmt: skip
        out[f"{split}_x"], out[f"{split}_y"] = x, y
    return out


def write_imagenet16(root: Path, n_per_batch: int = 10, seed: int = 2) -> dict:
    """``root/ImageNet16`` with train_data_batch_1..10 and val_data; labels 1..1000 (1-based)."""
    rng = np.random.default_rng(seed)
    folder = root / "ImageNet16"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list] = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    names = [(f"train_data_batch_{i}", "train") for i in range(1, 11)] + [("val_data", "test")]
    for name, split in names:
        x = random_images(rng, n_per_batch, 16)
        # half the labels inside the 120-class subset, half outside (must be dropped)
        y = np.where(np.arange(n_per_batch) % 2 == 0, rng.integers(1, 121, n_per_batch),
                     rng.integers(121, 1001, n_per_batch))  # fmt: skip
        py2_pickle({b"data": planes(x), b"labels": [int(v) for v in y], b"mean": np.zeros(3)},
                   folder / name)  # fmt: skip
        out[f"{split}_x"].append(x)
        out[f"{split}_y"].append(y)
    return {k: np.concatenate(v) for k, v in out.items()}


def write_svhn_test(root: Path, n: int = 7, seed: int = 3) -> dict:
    import scipy.io

    rng = np.random.default_rng(seed)
    x = random_images(rng, n, 32)
    y = rng.integers(1, 11, n)  # the .mat files use 10 for the digit 0
    y[0] = 10
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "test_32x32.mat", {"X": x.transpose(1, 2, 3, 0), "y": y[:, None]})
    return {"x": x, "y": y}


def write_cifar10c(root: Path, n_per_severity: int = 4, seed: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    x = random_images(rng, 5 * n_per_severity, 32)
    y = rng.integers(0, 10, 5 * n_per_severity).astype(np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "gaussian_noise.npy", x)
    np.save(root / "labels.npy", y)
    return {"x": x, "y": y}


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">i", d) for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_fashion_mnist(root: Path, gz: bool, n: int = 5, seed: int = 5) -> dict:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix in ("train", "t10k"):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        for stem, arr in ((f"{prefix}-images-idx3-ubyte", x), (f"{prefix}-labels-idx1-ubyte", y)):
            data = idx_bytes(arr)
            if gz:
                (root / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (root / stem).write_bytes(data)
        out[prefix] = (x, y)
    return out
