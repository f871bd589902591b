"""Datasets calnas knows: their facts, local-file readers and NATS-Bench transforms.

Facts (classes, input shape, normalization, proxy skeleton) live in ``DATASETS``. The readers read
the files a user already has (this module never downloads) and return ``(images, labels)``:
images as uint8 ``(N, H, W, C)`` arrays (digits: float32 in 0..1), labels as int64. Missing or
malformed files raise ``FileNotFoundError`` / ``ValueError`` naming the files expected. Pickled
formats (CIFAR, ImageNet16) are read only through :mod:`bench.importers.safe_pickle`. Torch is
imported
only inside the transform functions, never at import time.

Example:
    >>> from bench.compute.datasets import dataset_info, read_digits
    >>> dataset_info("ImageNet16-120").num_classes
    120
    >>> x, y = read_digits("test")
    >>> x.shape[1:], int(y.max())
    ((8, 8, 1), 9)
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import InputError, MissingFileError

if TYPE_CHECKING:  # torch only for annotations: importing this module must not import torch
    import torch

__all__ = [
    "DatasetInfo",
    "DATASETS",
    "dataset_info",
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "FASHION_MNIST_DEFAULT_ROOT",
    "digits_split",
    "read_digits",
    "read_cifar",
    "read_imagenet16",
    "read_svhn_test",
    "read_cifar10c",
    "read_fashion_mnist",
    "read_split",
    "check_files",
    "to_tensor",
    "augment",
]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one dataset, as NATS-Bench (or calnas, for digits) uses it."""

    name: str
    num_classes: int
    in_channels: int
    resolution: int
    #: per-channel mean and std on the 0..1 scale (NATS-Bench's, spec natsbench 4.3)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    #: TSS skeleton (C, N) used for this dataset; the NATS one unless the dataset is a proxy
    skeleton: dict[str, int] = field(default_factory=lambda: {"C": 16, "N": 5})
    proxy: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _over255(*values: float) -> tuple[float, ...]:
    return tuple(v / 255 for v in values)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "cifar10", 10, 3, 32, _over255(125.3, 123.0, 113.9), _over255(63.0, 62.1, 66.7)
        ),
        DatasetInfo(
            "cifar100", 100, 3, 32, _over255(129.3, 124.1, 112.4), _over255(68.2, 65.4, 70.4)
        ),
        DatasetInfo(
            "ImageNet16-120",
            120,
            3,
            16,
            _over255(122.68, 116.66, 104.01),
            _over255(63.22, 61.26, 65.09),
        ),
        # scikit-learn's 8x8 digits (pixel values 0..16): the embedded proxy task, grayscale.
        DatasetInfo("digits", 10, 1, 8, (0.3053,), (0.3760,), {"C": 8, "N": 1}, proxy=True),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    """Facts of the dataset called ``name`` (NATS-Bench names, plus ``digits``)."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}") from None


# ------------------------------------------------------------------------------------------------
# Readers. Each returns (images, labels): images uint8 (N, H, W, C) (digits: float32 0..1),
# labels int64 (N,). They check shapes and label ranges, so a truncated or foreign file is refused
# with a message instead of training on garbage.
# ------------------------------------------------------------------------------------------------

#: The digits proxy split: per class, a seeded permutation puts this fraction in the test set.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.5
#: Where Debian's ``dataset-fashion-mnist`` package installs the IDX files.
FASHION_MNIST_DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")

_SPLITS = ("train", "test")


def _check_split(split: str) -> str:
    if split not in _SPLITS:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    return split


def digits_split(
    seed: int = DIGITS_SPLIT_SEED, test_fraction: float = DIGITS_TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices of scikit-learn's digits (1,797 images): a seeded stratified split.

    For each class c (in order 0..9) the indices of that class are permuted with
    ``np.random.default_rng(seed + c)`` and the first ``round(test_fraction * n_c)`` go to the test
    set. Both index arrays are returned sorted. The default split has 899 train / 898 test images.

    Example:
        >>> train, test = digits_split()
        >>> len(train), len(test)
        (899, 898)
    """
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    _, labels = _digits_arrays()
    test: list[np.ndarray] = []
    for c in range(10):
        members = np.flatnonzero(labels == c)
        perm = np.random.default_rng(seed + c).permutation(members)
        test.append(perm[: round(test_fraction * len(members))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


_DIGITS_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    if "all" not in _DIGITS_CACHE:
        try:
            from sklearn.datasets import load_digits
        except ImportError as err:  # pragma: no cover - scikit-learn is a test dependency
            raise ImportError(
                "the digits proxy needs scikit-learn (pip install scikit-learn); "
                "it ships the 1,797 images, nothing is downloaded"
            ) from err
        bunch = load_digits()
        # 8x8 images with values 0..16: scale to 0..1 so the normalization in DATASETS applies
        images = (bunch.images.astype(np.float32) / 16.0)[..., None]
        _DIGITS_CACHE["all"] = (images, bunch.target.astype(np.int64))
    return _DIGITS_CACHE["all"]


def read_digits(
    split: str = "train", *, seed: int = DIGITS_SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as float32 (N, 8, 8, 1) images in 0..1 and int64 labels.

    ``split`` is 'train' or 'test' of :func:`digits_split` with ``seed``.

    Example:
        >>> x, y = read_digits("train")
        >>> x.shape, x.dtype.name
        ((899, 8, 8, 1), 'float32')
    """
    _check_split(split)
    images, labels = _digits_arrays()
    train_idx, test_idx = digits_split(seed)
    idx = train_idx if split == "train" else test_idx
    return images[idx], labels[idx]


def _find_dir(root: str | Path, names: Sequence[str], subdirs: Sequence[str], what: str) -> Path:
    """The directory (``root`` or one of its ``subdirs``) that holds all of ``names``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MissingFileError(f"{what}: data root {str(root)!r} is not a directory")
    for cand in (root, *(root / s for s in subdirs)):
        if all((cand / n).is_file() for n in names):
            return cand
    where = " or ".join(str(c) for c in (root, *(root / s for s in subdirs)))
    missing = [
        n for n in names if not any((c / n).is_file() for c in (root, *(root / s for s in subdirs)))
    ]
    raise MissingFileError(
        f"{what}: expected the files {', '.join(names)} in {where}; "
        f"missing: {', '.join(missing) or 'some (they are split across folders)'}"
    )


def _read_pickle(path: Path, what: str) -> Any:
    """A CIFAR/ImageNet16 batch through bench.importers.safe_pickle's allow-list (the CIFAR one).

    The official batches were written by Python 2, so strings and numpy payloads need latin-1
    decoding.
    """
    from bench.importers import safe_pickle

    try:
        return safe_pickle.load(path, allowed=safe_pickle.CIFAR, encoding="latin1")
    except safe_pickle.ForbiddenGlobal as err:
        raise InputError(f"{what}: {err}") from None
    except FileNotFoundError:
        raise
    except ValueError as err:  # truncated or foreign file: say which one and why
        raise InputError(f"{what}: cannot read {path}: {err}") from None


def _get(record: Any, key: str, path: Path, what: str) -> Any:
    if not isinstance(record, dict):
        raise InputError(f"{what}: {path} holds a {type(record).__name__}, expected a dict")
    for k in (key, key.encode()):
        if k in record:
            return record[k]
    raise InputError(f"{what}: {path} has no {key!r} entry (keys: {sorted(map(str, record))})")


def _planes_to_hwc(data: Any, n_labels: int, side: int, path: Path, what: str) -> np.ndarray:
    arr = np.asarray(data)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != 3 * side * side:
        raise InputError(
            f"{what}: {path} 'data' must be uint8 of shape (N, {3 * side * side}), "
            f"got {arr.dtype} {arr.shape}"
        )
    if arr.shape[0] != n_labels:
        raise InputError(f"{what}: {path} has {arr.shape[0]} images but {n_labels} labels")
    # rows are three row-major planes R, G, B: (N, 3, H, W) -> (N, H, W, 3)
    return arr.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)


_CIFAR_FILES = {
    "cifar10": (
        ("cifar-10-batches-py",),
        {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
        "labels",
        10,
    ),
    "cifar100": (("cifar-100-python",), {"train": ["train"], "test": ["test"]}, "fine_labels", 100),
}


def read_cifar(
    root: str | Path, dataset: str = "cifar10", split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 / CIFAR-100 from the official python pickle batches.

    ``root`` holds the batch files or the folder the archive unpacks to
    (``cifar-10-batches-py`` with ``data_batch_1..5`` and ``test_batch``; ``cifar-100-python``
    with ``train`` and ``test``).

    Example:
        >>> x, y = read_cifar("~/data", "cifar10", "test")  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        (10000, 32, 32, 3)
    """
    _check_split(split)
    if dataset not in _CIFAR_FILES:
        raise InputError(f"read_cifar reads 'cifar10' or 'cifar100', got {dataset!r}")
    subdirs, files, label_key, k = _CIFAR_FILES[dataset]
    what = f"{dataset} {split}"
    folder = _find_dir(root, files[split], subdirs, what)
    xs, ys = [], []
    for name in files[split]:
        path = folder / name
        rec = _read_pickle(path, what)
        labels = np.asarray(_get(rec, label_key, path, what), dtype=np.int64)
        xs.append(_planes_to_hwc(_get(rec, "data", path, what), len(labels), 32, path, what))
        ys.append(labels)
    y = np.concatenate(ys)
    if y.size and (y.min() < 0 or y.max() >= k):
        raise InputError(f"{what}: labels must lie in 0..{k - 1}, found {y.min()}..{y.max()}")
    return np.concatenate(xs), y


_IN16_FILES = {"train": [f"train_data_batch_{i}" for i in range(1, 11)], "test": ["val_data"]}
#: MD5 of the official downsampled-ImageNet 16x16 files (spec natsbench 5.4), checked on request.
IMAGENET16_MD5 = {
    "train_data_batch_1": "27846dcaa50de8e21a7d1a35f30f0e91",
    "train_data_batch_2": "c7254a054e0e795c69120a5727050e3f",
    "train_data_batch_3": "4333d3df2e5ffb114b05d2ffc19b1e87",
    "train_data_batch_4": "1620cdf193304f4a92677b695d70d10f",
    "train_data_batch_5": "348b3c2fdbb3940c4e9e834affd3b18d",
    "train_data_batch_6": "6e765307c242a1b3d7d5ef9139b48945",
    "train_data_batch_7": "564926d8cbf8fc4818ba23d2faac7564",
    "train_data_batch_8": "f4755871f718ccb653440b9dd0ebac66",
    "train_data_batch_9": "bb6dd660c38c58552125b1a92f86b5d4",
    "train_data_batch_10": "8f03f34ac4b42271a294f91bf480f29b",
    "val_data": "3410e3017fdaefba8d5073aaa65e4bd6",
}


def read_imagenet16(
    root: str | Path, split: str = "train", *, num_classes: int = 120, verify_md5: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """ImageNet16-120 (spec natsbench 5.4) from the downsampled-ImageNet 16x16 pickles.

    ``root`` (or ``root/ImageNet16``) holds ``train_data_batch_1..10`` and ``val_data``. Images
    whose 1-based label L satisfies L <= ``num_classes`` are kept, in file order, with target
    L - 1 (151,700 train / 6,000 test images for the full files). ``verify_md5`` checks the files
    against the official checksums.

    Example:
        >>> x, y = read_imagenet16("~/data", "test")  # doctest: +SKIP
        >>> x.shape, int(y.max())  # doctest: +SKIP
        ((6000, 16, 16, 3), 119)
    """
    _check_split(split)
    if not 1 <= num_classes <= 1000:
        raise InputError(f"num_classes must be in 1..1000, got {num_classes}")
    what = f"ImageNet16-{num_classes} {split}"
    folder = _find_dir(root, _IN16_FILES[split], ("ImageNet16",), what)
    xs, ys = [], []
    for name in _IN16_FILES[split]:
        path = folder / name
        if verify_md5:
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            if digest != IMAGENET16_MD5[name]:
                raise InputError(
                    f"{what}: {path} has MD5 {digest}, expected {IMAGENET16_MD5[name]}"
                )
        rec = _read_pickle(path, what)
        labels = np.asarray(_get(rec, "labels", path, what), dtype=np.int64)
        if labels.size and (labels.min() < 1 or labels.max() > 1000):
            raise InputError(
                f"{what}: {path} labels must lie in 1..1000 (1-based), found "
                f"{labels.min()}..{labels.max()}"
            )
        images = _planes_to_hwc(_get(rec, "data", path, what), len(labels), 16, path, what)
        keep = labels <= num_classes
        xs.append(images[keep])
        ys.append(labels[keep] - 1)
    return np.concatenate(xs), np.concatenate(ys)


def read_svhn_test(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """SVHN test set (``test_32x32.mat``, 26,032 images) as uint8 (N, 32, 32, 3); digit 0 -> 0.

    Example:
        >>> x, y = read_svhn_test("~/data/svhn")  # doctest: +SKIP
    """
    folder = _find_dir(root, ["test_32x32.mat"], ("svhn", "SVHN"), "SVHN test")
    path = folder / "test_32x32.mat"
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:
        raise InputError(f"SVHN test: cannot read {path}: {type(err).__name__}: {err}") from None
    if "X" not in mat or "y" not in mat:
        raise InputError(f"SVHN test: {path} must hold 'X' and 'y', has {sorted(mat)}")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise InputError(
            f"SVHN test: {path} 'X' must be (32, 32, 3, N) with N = len(y), got {x.shape}"
        )
    y = np.where(y == 10, 0, y)  # the .mat files label the digit 0 as 10
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)).astype(np.uint8), y


def read_cifar10c(
    root: str | Path, corruption: str = "gaussian_noise", severity: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10-C (``<corruption>.npy`` and ``labels.npy``): one severity (1..5) or all of them.

    The arrays stack the five severities, 10,000 images each, in order 1..5.

    Example:
        >>> x, y = read_cifar10c("~/data/CIFAR-10-C", severity=5)  # doctest: +SKIP
    """
    what = f"CIFAR-10-C {corruption}"
    folder = _find_dir(root, [f"{corruption}.npy", "labels.npy"], ("CIFAR-10-C",), what)
    try:
        x = np.load(folder / f"{corruption}.npy", allow_pickle=False)
        y = np.load(folder / "labels.npy", allow_pickle=False).astype(np.int64)
    except Exception as err:
        raise InputError(f"{what}: cannot read the .npy files in {folder}: {err}") from None
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.dtype != np.uint8:
        raise InputError(f"{what}: images must be uint8 (N, 32, 32, 3), got {x.dtype} {x.shape}")
    if len(x) != len(y) or len(x) % 5:
        raise InputError(
            f"{what}: {len(x)} images and {len(y)} labels; expected equal counts, "
            "a multiple of 5 (five severities)"
        )
    if severity is not None:
        if severity not in (1, 2, 3, 4, 5):
            raise InputError(f"severity must be 1..5 or None (all), got {severity!r}")
        n = len(x) // 5
        x, y = x[(severity - 1) * n : severity * n], y[(severity - 1) * n : severity * n]
    return x, y


def _read_idx(path: Path, what: str) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise InputError(f"{what}: cannot read {path}: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InputError(f"{what}: {path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise InputError(
            f"{what}: {path} declares shape {dims} but holds {len(raw) - offset} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def read_fashion_mnist(
    root: str | Path = FASHION_MNIST_DEFAULT_ROOT, split: str = "test"
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from its IDX files, gzipped or not, as uint8 (N, 28, 28, 1).

    Expected names: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``).

    Example:
        >>> x, y = read_fashion_mnist(split="test")  # doctest: +SKIP
    """
    _check_split(split)
    prefix = "train" if split == "train" else "t10k"
    root = Path(root).expanduser()
    what = f"Fashion-MNIST {split}"
    paths = []
    for stem in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
        found = [p for p in (root / stem, root / f"{stem}.gz") if p.is_file()]
        if not found:
            raise MissingFileError(f"{what}: expected {stem} or {stem}.gz in {root}")
        paths.append(found[0])
    x, y = (_read_idx(p, what) for p in paths)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise InputError(f"{what}: images {x.shape} and labels {y.shape} do not match")
    return x[..., None], y.astype(np.int64)


def read_split(
    dataset: str, split: str, root: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train or test split of a benchmark dataset (NATS-Bench names or ``digits``).

    For ``cifar10`` 'train' is the full 50,000-image training set (NATS-Bench's ``cifar10``
    key); ``test`` is the official test set (``ori-test``). ``digits`` needs no ``root``.

    Example:
        >>> x, y = read_split("digits", "test")
        >>> len(y)
        898
    """
    info = dataset_info(dataset)
    if info.name == "digits":
        return read_digits(split)
    if root is None:
        raise InputError(f"{dataset} needs a data root (--data-root DIR) holding its files")
    if info.name in ("cifar10", "cifar100"):
        return read_cifar(root, info.name, split)
    return read_imagenet16(root, split, num_classes=info.num_classes)


def check_files(dataset: str, root: str | Path | None = None) -> None:
    """Raise ``FileNotFoundError`` naming the missing files of ``dataset`` (nothing is read).

    Example:
        >>> check_files("digits")
    """
    info = dataset_info(dataset)
    if info.name == "digits":
        return
    if root is None:
        raise InputError(f"{dataset} needs a data root (--data-root DIR) holding its files")
    if info.name in _CIFAR_FILES:
        subdirs, files, _, _ = _CIFAR_FILES[info.name]
        _find_dir(root, files["train"] + files["test"], subdirs, info.name)
    else:
        _find_dir(root, _IN16_FILES["train"] + _IN16_FILES["test"], ("ImageNet16",), info.name)


# ------------------------------------------------------------------------------------------------
# Transforms (spec natsbench 4.3), batched on tensors: the per-image PIL pipeline of NATS-Bench is
# the slow part of small-network training, and a batched crop/flip draws the same distribution.
# ------------------------------------------------------------------------------------------------

#: (random-crop padding, horizontal flip) of each dataset's training transform.
_AUGMENT = {
    "cifar10": (4, True),
    "cifar100": (4, True),
    "ImageNet16-120": (2, True),
    "digits": (0, False),
}


def to_tensor(images: np.ndarray, dataset: str, device: Any = "cpu") -> torch.Tensor:
    """Images (N, H, W, C) uint8 0..255 (or float 0..1) -> normalized float32 (N, C, H, W) tensor.

    This is NATS-Bench's test transform (to-tensor then normalize with the dataset's mean/std).

    Example:
        >>> from bench.compute.datasets import read_digits, to_tensor
        >>> to_tensor(read_digits("test")[0], "digits").shape
        torch.Size([898, 1, 8, 8])
    """
    import torch

    info = dataset_info(dataset)
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != info.in_channels:
        raise InputError(
            f"{dataset} images must be (N, H, W, {info.in_channels}), got shape {arr.shape}"
        )
    x = torch.as_tensor(arr, device=device).permute(0, 3, 1, 2).float()
    if arr.dtype == np.uint8:
        x = x / 255.0
    mean = torch.tensor(info.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=device).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous()


def augment(
    batch: torch.Tensor, dataset: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """NATS-Bench's training augmentation on a normalized (N, C, H, W) batch.

    Random horizontal flip (p = 0.5) and a random crop of the original size after zero padding
    (4 px CIFAR, 2 px ImageNet16); ``digits`` is left as is (flips and shifts change digits).
    Padding is applied after normalization with the value that maps to a black pixel, which equals
    padding the raw image with zeros as NATS-Bench does.

    Example:
        >>> import torch
        >>> augment(torch.zeros(4, 3, 32, 32), "cifar10").shape
        torch.Size([4, 3, 32, 32])
    """
    import torch

    pad, flip = _AUGMENT[dataset_info(dataset).name]
    if not pad and not flip:
        return batch
    n, c, h, w = batch.shape
    dev = batch.device
    if flip:
        mask = (
            torch.rand(n, generator=generator, device=generator.device if generator else "cpu")
            < 0.5
        )
        batch = torch.where(mask.to(dev).view(n, 1, 1, 1), batch.flip(3), batch)
    if pad:
        info = dataset_info(dataset)
        black = torch.tensor([-m / s for m, s in zip(info.mean, info.std, strict=True)], device=dev)
        padded = black.view(1, c, 1, 1).expand(n, c, h + 2 * pad, w + 2 * pad).clone()
        padded[:, :, pad : pad + h, pad : pad + w] = batch
        gdev = generator.device if generator is not None else "cpu"
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=gdev).to(dev)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=gdev).to(dev)
        rows = (
            (dy.view(n, 1) + torch.arange(h, device=dev))
            .view(n, 1, h, 1)
            .expand(n, c, h, w + 2 * pad)
        )
        padded = padded.gather(2, rows)
        cols = (dx.view(n, 1) + torch.arange(w, device=dev)).view(n, 1, 1, w).expand(n, c, h, w)
        batch = padded.gather(3, cols)
    return batch
