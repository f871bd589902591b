"""The ``fashion8`` proxy task: Fashion-MNIST shrunk to 8x8, a fixed 10,000-image training subset.

Why this task: the digits proxy (1,797 images) ranks architectures mostly by seed noise; on 70
TSS cells with two seeds each, this protocol made rankings repeat (single-seed Kendall tau 0.53
on accuracy, 0.48 on pre_ECE_15 after 6 epochs, about 9 CPU-s per network at C=8 N=1).

Protocol (every step fixed, nothing downloaded):

* files: Fashion-MNIST's IDX files as Debian's ``dataset-fashion-mnist`` package installs them
  (:data:`bench.compute.ood.FASHION_MNIST_DEFAULT_ROOT`), or any folder holding the same files;
* train: per class, the first ``per_class`` (default 1,000) of the class's training images
  permuted with ``np.random.default_rng(FASHION8_SUBSET_SEED + class)`` (10 x ``per_class``
  images, indices kept sorted; a smaller subset is a prefix of each class's permutation, so it
  is contained in every larger one);
* test: all 10,000 test images;
* images: zero-padded 28x28 -> 32x32 (2 px each side), average-pooled over 4x4 blocks -> 8x8,
  divided by 255 (float32 in 0..1). 7x7 or 14x14 inputs would break the TSS reduction cells (odd
  sizes), hence the padding before pooling.

Example:
    >>> from bench.compute.fashion8 import read_fashion8
    >>> x, y = read_fashion8("train")  # doctest: +SKIP
    >>> x.shape, x.dtype.name, y.dtype.name  # doctest: +SKIP
    ((10000, 8, 8, 1), 'float32', 'int64')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.compute.ood import FASHION_MNIST_DEFAULT_ROOT, read_fashion_mnist
from bench.compute.readers import check_split
from bench.errors import InputError, MissingFileError

__all__ = [
    "FASHION8_SUBSET_SEED",
    "FASHION8_PER_CLASS",
    "FASHION8_CLASS_SIZE",
    "check_per_class",
    "fashion8_subset",
    "shrink_to_8x8",
    "read_fashion8",
    "check_fashion8_files",
]

#: Base seed of the per-class permutations that pick the training subset.
FASHION8_SUBSET_SEED = 0
#: Training images kept per class by default (10 classes: 10,000 images).
FASHION8_PER_CLASS = 1000
#: Training images of each class in Fashion-MNIST: the most ``per_class`` can take.
FASHION8_CLASS_SIZE = 6000

_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_INSTALL = "apt-get install dataset-fashion-mnist"

# (root, split, per_class; 0 for test) -> the split's 8x8 images and labels (train: the subset)
_CACHE: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] = {}


def _root(data_root: str | Path | None) -> Path:
    return Path(FASHION_MNIST_DEFAULT_ROOT if data_root is None else data_root).expanduser()


def check_fashion8_files(data_root: str | Path | None = None) -> Path:
    """The folder of the Fashion-MNIST IDX files, checked before any work starts.

    Args:
        data_root: the folder holding them (None: Debian's package's folder).

    Returns:
        The folder.

    Raises:
        MissingFileError: a file is missing; the message names it and the package to install.

    Example:
        >>> check_fashion8_files().name  # doctest: +SKIP
        'fashion-mnist'
    """
    root = _root(data_root)
    missing = [n for n in _FILES if not any((root / s).is_file() for s in (n, f"{n}.gz"))]
    if missing:
        raise MissingFileError(
            f"fashion8: Fashion-MNIST files missing in {root}: {', '.join(missing)} (or .gz); "
            f"install Debian's package ({_INSTALL}) or give the folder holding them "
            "(--data-root DIR); nothing is downloaded"
        )
    return root


def check_per_class(per_class: int | None) -> int:
    """The subset's images per class, checked: an int in 1..:data:`FASHION8_CLASS_SIZE`.

    Args:
        per_class: the value to check (None: the default, :data:`FASHION8_PER_CLASS`).

    Returns:
        The value (the default for None).

    Raises:
        InputError: not an int, below 1, or above a class's 6,000 training images.

    Example:
        >>> check_per_class(None), check_per_class(250)
        (1000, 250)
        >>> check_per_class(0)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        InputError: fashion8 per_class must be an integer in 1..6000, got 0
    """
    if per_class is None:
        return FASHION8_PER_CLASS
    ok = isinstance(per_class, (int, np.integer)) and not isinstance(per_class, bool)
    if not ok or not 1 <= per_class <= FASHION8_CLASS_SIZE:
        raise InputError(
            f"fashion8 per_class must be an integer in 1..{FASHION8_CLASS_SIZE} (training "
            f"images per class; each class has {FASHION8_CLASS_SIZE:,}), got {per_class!r}"
        )
    return int(per_class)


def shrink_to_8x8(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28, 1) images -> float32 (N, 8, 8, 1) in 0..1: zero-pad to 32, 4x4 means.

    Args:
        images: Fashion-MNIST images as :func:`bench.compute.ood.read_fashion_mnist` returns them.

    Returns:
        The shrunk images.

    Example:
        >>> import numpy as np
        >>> x = shrink_to_8x8(np.full((1, 28, 28, 1), 255, np.uint8))
        >>> x.shape, [float(x[0, 0, j, 0]) for j in (0, 1)], float(x[0, 1, 1, 0])
        ((1, 8, 8, 1), [0.25, 0.5], 1.0)
    """
    n = len(images)
    padded = np.zeros((n, 32, 32), np.float32)
    padded[:, 2:30, 2:30] = images[..., 0]
    # block means over 4x4 tiles: (N, 8, 4, 8, 4) -> (N, 8, 8)
    pooled = padded.reshape(n, 8, 4, 8, 4).mean(axis=(2, 4)) / 255.0
    return pooled[..., None].astype(np.float32)


def fashion8_subset(
    labels: np.ndarray, seed: int = FASHION8_SUBSET_SEED, per_class: int | None = None
) -> np.ndarray:
    """Sorted indices of the stratified training subset: per class the first ``per_class``
    (default :data:`FASHION8_PER_CLASS`) of a ``default_rng(seed + class)`` permutation of its
    images.

    Args:
        labels: the 60,000 training labels (0..9).
        seed: the base seed.
        per_class: images kept per class (None: :data:`FASHION8_PER_CLASS`).

    Returns:
        The indices, sorted.

    Raises:
        InputError: ``per_class`` is not an integer in 1..6,000.
        MissingFileError: a class holds fewer images than the subset takes (not the real files).

    Example:
        >>> import numpy as np
        >>> labels = np.repeat(np.arange(10), 1200)
        >>> idx = fashion8_subset(labels)
        >>> len(idx), np.bincount(labels[idx]).tolist() == [1000] * 10
        (10000, True)
        >>> np.bincount(labels[fashion8_subset(labels, per_class=250)]).tolist() == [250] * 10
        True
    """
    n = check_per_class(per_class)
    picked = []
    for c in range(10):
        members = np.flatnonzero(labels == c)
        if len(members) < n:
            raise MissingFileError(
                f"fashion8: class {c} has {len(members)} training images, fewer than "
                f"per_class={n}; these are not Fashion-MNIST's training files"
            )
        perm = np.random.default_rng(seed + c).permutation(members)
        picked.append(perm[:n])
    return np.sort(np.concatenate(picked))


def read_fashion8(
    split: str = "train",
    *,
    data_root: str | Path | None = None,
    per_class: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST at 8x8 as float32 (N, 8, 8, 1) images in 0..1 and int64 labels.

    Args:
        split: 'train' (the stratified subset of :func:`fashion8_subset`, 10 x ``per_class``
            images) or 'test' (all 10,000 test images).
        data_root: the folder holding the IDX files (None: Debian's package's folder).
        per_class: training images per class (None: :data:`FASHION8_PER_CLASS`); checked for
            'test' too, though the test split is always whole.

    Returns:
        ``(images, labels)``; fresh arrays, so a caller may change them.

    Raises:
        InputError: ``split`` is neither 'train' nor 'test', ``per_class`` is out of range, or
            a file is not an IDX file.
        MissingFileError: the files are missing (the message names the package to install).

    Example:
        >>> x, y = read_fashion8("test")  # doctest: +SKIP
        >>> len(y), float(x.max()) <= 1.0  # doctest: +SKIP
        (10000, True)
        >>> len(read_fashion8("train", per_class=250)[1])  # doctest: +SKIP
        2500
    """
    check_split(split)
    n = check_per_class(per_class)
    root = check_fashion8_files(data_root)
    key = (str(root), split, n if split == "train" else 0)
    if key not in _CACHE:
        raw, labels = read_fashion_mnist(root, split)
        if split == "train":
            keep = fashion8_subset(labels, per_class=n)
            raw, labels = raw[keep], labels[keep]
        _CACHE[key] = (shrink_to_8x8(raw), labels)
    images, labels = _CACHE[key]
    return images.copy(), labels.copy()
