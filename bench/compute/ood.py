"""Readers of the out-of-distribution sets: SVHN test, CIFAR-10-C and Fashion-MNIST.

The study scores how well a CIFAR-10 network's confidence separates its own test set from
CIFAR-10-C (gaussian noise, severity 5) and SVHN (``auc_cifar10c``, ``auc_svhn``). Like
:mod:`bench.compute.readers`, each reader returns ``(images, labels)`` as uint8 ``(N, H, W, C)``
and int64 arrays, reads only local files and names what is missing or malformed.

Example:
    >>> from bench.compute.ood import read_svhn_test
    >>> x, y = read_svhn_test("~/data/svhn")  # doctest: +SKIP
    >>> x.shape  # doctest: +SKIP
    (26032, 32, 32, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.compute.readers import check_split, locate
from bench.errors import InputError, MissingFileError

__all__ = ["FASHION_MNIST_DEFAULT_ROOT", "read_svhn_test", "read_cifar10c", "read_fashion_mnist"]

#: Where Debian's ``dataset-fashion-mnist`` package installs the IDX files.
FASHION_MNIST_DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")


#: The most bytes a ``.mat`` file may hold once its compressed variables are inflated: 256 MiB.
#: SVHN's test_32x32.mat holds 80 MB of images (26,032 x 32 x 32 x 3 bytes); a zlib bomb (a few
#: MB that inflate to gigabytes) is refused once it passes the cap, before scipy reads it.
MAX_MAT_BYTES = 256 << 20


def _check_mat_size(path: Path, what: str, limit: int = MAX_MAT_BYTES) -> None:
    """Refuse a MATLAB v5 file whose data, compressed variables inflated, exceeds ``limit``.

    Walks the file's top-level data elements (8-byte tags: type, byte count); a compressed one
    (type 15, zlib) is inflated in 1 MiB steps and counted, never held. Other layouts (v7.3 is
    HDF5) are left to scipy, which refuses them by name.
    """
    import struct
    import zlib

    total = 0
    with open(path, "rb") as fh:
        header = fh.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
            return
        order = "<" if header[126:128] == b"IM" else ">"
        while tag := fh.read(8):
            if len(tag) < 8:
                return  # scipy names a truncated file
            kind, nbytes = struct.unpack(f"{order}II", tag)
            if kind >> 16:  # a small element: its data is in the tag
                continue
            if kind != 15:
                total += nbytes
                fh.seek(nbytes + (-nbytes % 8), 1)
            else:
                inflate = zlib.decompressobj()
                left = nbytes
                while left > 0:
                    chunk = fh.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    left -= len(chunk)
                    data = chunk
                    try:
                        while data:
                            total += len(inflate.decompress(data, 1 << 20))
                            data = inflate.unconsumed_tail
                            if total > limit:
                                break
                    except zlib.error:
                        return  # scipy names a corrupt stream
                    if total > limit:
                        break
            if total > limit:
                raise InputError(
                    f"{what}: {path}: more than {limit} bytes once its variables are inflated "
                    f"({limit >> 20} MiB, the cap for this file; the real one holds 80 MB): "
                    "refused as a likely decompression bomb"
                )


def read_svhn_test(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """SVHN test set (``test_32x32.mat``, 26,032 images) as uint8 (N, 32, 32, 3); digit 0 -> 0.

    Args:
        root: the folder holding ``test_32x32.mat`` (or its ``svhn``/``SVHN`` subfolder).

    Returns:
        ``(images, labels)``.

    Raises:
        MissingFileError: the file is missing.
        InputError: the file is not SVHN's ``.mat`` layout.

    Example:
        >>> x, y = read_svhn_test("~/data/svhn")  # doctest: +SKIP
    """
    folder = locate(root, ["test_32x32.mat"], ("svhn", "SVHN"), "SVHN test")
    path = folder / "test_32x32.mat"
    import scipy.io

    _check_mat_size(path, "SVHN test")
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

    Args:
        root: the folder holding the ``.npy`` files (or its ``CIFAR-10-C`` subfolder).
        corruption: the corruption's file stem.
        severity: 1..5, or None for all five.

    Returns:
        ``(images, labels)``: uint8 (N, 32, 32, 3) and int64 (N,).

    Raises:
        MissingFileError: a file is missing.
        InputError: the arrays have the wrong shape or type, or ``severity`` is not 1..5.

    Example:
        >>> x, y = read_cifar10c("~/data/CIFAR-10-C", severity=5)  # doctest: +SKIP
    """
    what = f"CIFAR-10-C {corruption}"
    folder = locate(root, [f"{corruption}.npy", "labels.npy"], ("CIFAR-10-C",), what)
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


#: The most bytes an IDX file may hold (decompressed): 64 MiB. The largest real one, Fashion-MNIST's
#: train images, is 47,040,016 bytes; a gzip bomb is refused once it passes the cap.
MAX_IDX_BYTES = 64 << 20


def _read_idx(path: Path, what: str) -> np.ndarray:
    from bench.importers.safe_pickle import read_file

    try:  # gzip (or bz2/xz) recognised by its magic bytes, decompressed up to the cap
        raw = read_file(path, limit=MAX_IDX_BYTES)
    except InputError as err:
        raise InputError(f"{what}: {err}") from None
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

    Args:
        root: the folder holding the IDX files.
        split: 'train' or 'test' (the ``t10k`` files).

    Returns:
        ``(images, labels)``.

    Raises:
        MissingFileError: a file is missing.
        InputError: a file is not an unsigned-byte IDX file, or images and labels disagree.

    Example:
        >>> x, y = read_fashion_mnist(split="test")  # doctest: +SKIP
    """
    check_split(split)
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
