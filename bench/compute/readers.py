"""Readers of the benchmark datasets' files (CIFAR-10/100, ImageNet16-120, digits, fashion8).

Each reader returns ``(images, labels)``: images as uint8 ``(N, H, W, C)`` arrays (digits:
float32 in 0..1), labels as int64. Shapes and label ranges are checked, so a truncated or
foreign file is refused with a message naming it instead of being trained on; missing files
raise ``MissingFileError`` naming the files expected. Nothing is downloaded: the files are the
ones a user already has. Pickled formats (CIFAR, ImageNet16) are read only through
:mod:`bench.importers.safe_pickle`.

Related modules: :mod:`bench.compute.ood` reads the out-of-distribution sets (SVHN, CIFAR-10-C,
Fashion-MNIST), :mod:`bench.compute.fashion8` the ``fashion8`` proxy task,
:mod:`bench.compute.transforms` turns the arrays into normalized tensors, and
:mod:`bench.arch.datasets` holds each dataset's facts (classes, normalization).

Example:
    >>> from bench.compute.readers import read_digits
    >>> x, y = read_digits("test")
    >>> x.shape[1:], int(y.max())
    ((8, 8, 1), 9)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.arch.datasets import dataset_info
from bench.errors import InputError, MissingFileError

__all__ = [
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "IMAGENET16_MD5",
    "NO_ROOT_NEEDED",
    "digits_split",
    "read_digits",
    "read_cifar",
    "read_imagenet16",
    "read_split",
    "check_files",
    "check_split",
    "locate",
]

#: The digits proxy split: per class, a seeded permutation puts this fraction in the test set.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.5
#: Datasets readable without a data root: digits ships with scikit-learn, fashion8 defaults to
#: the folder Debian's dataset-fashion-mnist package installs (a given root replaces it).
NO_ROOT_NEEDED: tuple[str, ...] = ("digits", "fashion8")

_SPLITS = ("train", "test")


def check_split(split: str) -> str:
    """``split`` if it is 'train' or 'test'.

    Raises:
        InputError: any other value.

    Example:
        >>> check_split("test")
        'test'
    """
    if split not in _SPLITS:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    return split


def locate(root: str | Path, names: Sequence[str], subdirs: Sequence[str], what: str) -> Path:
    """The folder, ``root`` or one of its ``subdirs``, that holds every file in ``names``.

    Args:
        root: the data root the user gave (``~`` is expanded).
        names: the files that must lie together.
        subdirs: folders under ``root`` to look in too (where an archive unpacks to).
        what: what is being read, for the message.

    Returns:
        The first folder holding all of ``names``.

    Raises:
        MissingFileError: ``root`` is not a directory, or no folder holds every file; the
            message names the missing files and the folders searched.

    Example:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "svhn").mkdir()
        >>> (root / "svhn" / "test_32x32.mat").touch()
        >>> locate(root, ["test_32x32.mat"], ["svhn"], "SVHN test") == root / "svhn"
        True
    """
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


def digits_split(
    seed: int = DIGITS_SPLIT_SEED, test_fraction: float = DIGITS_TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices of scikit-learn's digits (1,797 images): a seeded stratified split.

    For each class c (in order 0..9) the indices of that class are permuted with
    ``np.random.default_rng(seed + c)`` and the first ``round(test_fraction * n_c)`` go to the test
    set. Both index arrays are returned sorted. The default split has 899 train / 898 test images.

    Args:
        seed: the base seed of the per-class permutations.
        test_fraction: the share of each class that goes to the test set, in (0, 1).

    Returns:
        ``(train_indices, test_indices)``, each sorted.

    Raises:
        InputError: ``test_fraction`` is outside (0, 1).

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
        # 8x8 images with values 0..16: scaled to 0..1, where bench.arch.datasets' statistics apply
        images = (bunch.images.astype(np.float32) / 16.0)[..., None]
        _DIGITS_CACHE["all"] = (images, bunch.target.astype(np.int64))
    return _DIGITS_CACHE["all"]


def read_digits(
    split: str = "train", *, seed: int = DIGITS_SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as float32 (N, 8, 8, 1) images in 0..1 and int64 labels.

    Args:
        split: 'train' or 'test' of :func:`digits_split`.
        seed: the split's seed.

    Returns:
        ``(images, labels)``.

    Raises:
        InputError: ``split`` is neither 'train' nor 'test'.

    Example:
        >>> x, y = read_digits("train")
        >>> x.shape, x.dtype.name
        ((899, 8, 8, 1), 'float32')
    """
    check_split(split)
    images, labels = _digits_arrays()
    train_idx, test_idx = digits_split(seed)
    idx = train_idx if split == "train" else test_idx
    return images[idx], labels[idx]


def _read_pickle(path: Path, what: str) -> Any:
    """A CIFAR/ImageNet16 batch through bench.importers.safe_pickle's allow-list (the CIFAR one).

    The official batches were written by Python 2, so strings and numpy payloads need latin-1
    decoding.
    """
    from bench.importers import safe_pickle

    try:
        return safe_pickle.load(
            path, allowed=safe_pickle.CIFAR, encoding="latin1", limit=safe_pickle.MAX_BATCH_BYTES
        )
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

    Args:
        root: the data root.
        dataset: 'cifar10' or 'cifar100'.
        split: 'train' (50,000 images) or 'test' (10,000).

    Returns:
        ``(images, labels)``: uint8 (N, 32, 32, 3) and int64 (N,).

    Raises:
        MissingFileError: a batch file is missing.
        InputError: a file is not a CIFAR batch, or its labels are out of range.

    Example:
        >>> x, y = read_cifar("~/data", "cifar10", "test")  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        (10000, 32, 32, 3)
    """
    check_split(split)
    if dataset not in _CIFAR_FILES:
        raise InputError(f"read_cifar reads 'cifar10' or 'cifar100', got {dataset!r}")
    subdirs, files, label_key, k = _CIFAR_FILES[dataset]
    what = f"{dataset} {split}"
    folder = locate(root, files[split], subdirs, what)
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

    Args:
        root: the data root.
        split: 'train' or 'test' (the ``val_data`` file).
        num_classes: keep the first this many classes (120 for NATS-Bench).
        verify_md5: check the files against :data:`IMAGENET16_MD5` first.

    Returns:
        ``(images, labels)``: uint8 (N, 16, 16, 3) and int64 (N,) in 0..num_classes-1.

    Raises:
        MissingFileError: a batch file is missing.
        InputError: a file is foreign, truncated or fails its checksum.

    Example:
        >>> x, y = read_imagenet16("~/data", "test")  # doctest: +SKIP
        >>> x.shape, int(y.max())  # doctest: +SKIP
        ((6000, 16, 16, 3), 119)
    """
    check_split(split)
    if not 1 <= num_classes <= 1000:
        raise InputError(f"num_classes must be in 1..1000, got {num_classes}")
    what = f"ImageNet16-{num_classes} {split}"
    folder = locate(root, _IN16_FILES[split], ("ImageNet16",), what)
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


def read_split(
    dataset: str, split: str, root: str | Path | None = None, *, per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train or test split of a benchmark dataset (NATS-Bench names, ``digits``, ``fashion8``).

    For ``cifar10`` 'train' is the full 50,000-image training set (NATS-Bench's ``cifar10``
    key); ``test`` is the official test set (``ori-test``). ``digits`` needs no ``root``;
    ``fashion8`` reads Debian's package's folder unless ``root`` is given.

    Args:
        dataset: a name of :data:`bench.arch.datasets.DATASETS`.
        split: 'train' or 'test'.
        root: the data root (not needed for ``digits``; optional for ``fashion8``).
        per_class: ``fashion8`` only: training images per class (None: its default, 1,000).

    Returns:
        ``(images, labels)`` as the dataset's reader returns them.

    Raises:
        InputError: an unknown dataset, a missing ``root``, or a bad file.
        MissingFileError: a file of the split is missing.

    Example:
        >>> x, y = read_split("digits", "test")
        >>> len(y)
        898
    """
    info = dataset_info(dataset)
    if per_class is not None and info.name != "fashion8":
        raise InputError(f"per_class is a fashion8 option, not one of {dataset!r}")
    if info.name == "digits":
        return read_digits(split)
    if info.name == "fashion8":
        from bench.compute.fashion8 import read_fashion8  # it imports this module

        return read_fashion8(split, data_root=root, per_class=per_class)
    if root is None:
        raise InputError(f"{dataset} needs a data root (--data-root DIR) holding its files")
    if info.name in ("cifar10", "cifar100"):
        return read_cifar(root, info.name, split)
    return read_imagenet16(root, split, num_classes=info.num_classes)


def check_files(dataset: str, root: str | Path | None = None) -> None:
    """Check that the files of ``dataset`` are there, before any work starts (only their first
    bytes are read: a file that cannot be a pickle is refused here, once).

    Args:
        dataset: a name of :data:`bench.arch.datasets.DATASETS`.
        root: the data root (not needed for ``digits``; optional for ``fashion8``).

    Raises:
        InputError: an unknown dataset, or a missing ``root``.
        MissingFileError: naming the files missing under ``root``.
        InputError: a file that is empty or cannot be a pickle, by name.

    Example:
        >>> check_files("digits")
    """
    info = dataset_info(dataset)
    if info.name == "digits":
        return
    if info.name == "fashion8":
        from bench.compute.fashion8 import check_fashion8_files  # it imports this module

        check_fashion8_files(root)
        return
    if root is None:
        raise InputError(f"{dataset} needs a data root (--data-root DIR) holding its files")
    if info.name in _CIFAR_FILES:
        subdirs, files, _, _ = _CIFAR_FILES[info.name]
        names = files["train"] + files["test"]
        folder = locate(root, names, subdirs, info.name)
    else:
        names = _IN16_FILES["train"] + _IN16_FILES["test"]
        folder = locate(root, names, ("ImageNet16",), info.name)
    for name in names:  # the first bytes only: a garbage file fails here once, not per network
        _check_pickle_start(folder / name, info.name)


def _check_pickle_start(path: Path, what: str) -> None:
    """Refuse a file that cannot be a pickle (or a compressed one) from its first and last bytes."""
    import pickletools

    with open(path, "rb") as fh:
        head = fh.read(6)
        last = b""
        if head:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
    if not head:
        raise InputError(f"{what}: {path} is empty; expected a python-format batch (a pickle)")
    compressed = head[:3] == b"BZh" or head[:2] == b"\x1f\x8b" or head == b"\xfd7zXZ\x00"
    starts = {op.code.encode("latin-1") for op in pickletools.opcodes}
    if not compressed and head[:1] not in starts:
        raise InputError(
            f"{what}: {path} is not a pickle (first byte 0x{head[0]:02x}); expected a "
            "python-format batch (the 'python version' download)"
        )
    if not compressed and last != b".":  # every pickle ends with its STOP opcode
        raise InputError(
            f"{what}: {path} is truncated (it does not end with a pickle's STOP byte); copy it "
            "again from the download"
        )
