"""NATS-Bench's transforms (spec natsbench 4.3), batched on tensors.

The per-image PIL pipeline of NATS-Bench is the slow part of small-network training; a batched
crop and flip on one in-memory tensor draws the same distribution. Torch is imported inside the
functions only, so importing this module does not import torch.

Example:
    >>> from bench.compute.readers import read_digits
    >>> from bench.compute.transforms import to_tensor
    >>> to_tensor(read_digits("test")[0], "digits").shape
    torch.Size([898, 1, 8, 8])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.arch.datasets import dataset_info
from bench.errors import InputError

if TYPE_CHECKING:  # torch only for annotations: importing this module must not import torch
    import torch

__all__ = ["to_tensor", "augment"]

#: (random-crop padding, horizontal flip) of each dataset's training transform.
_AUGMENT = {
    "cifar10": (4, True),
    "cifar100": (4, True),
    "ImageNet16-120": (2, True),
    "digits": (0, False),
    "fashion8": (0, False),  # the protocol that made rankings repeat had no augmentation
}


def to_tensor(images: np.ndarray, dataset: str, device: Any = "cpu") -> torch.Tensor:
    """Images (N, H, W, C) uint8 0..255 (or float 0..1) -> normalized float32 (N, C, H, W) tensor.

    This is NATS-Bench's test transform (to-tensor then normalize with the dataset's mean/std).

    Args:
        images: uint8 images on the 0..255 scale, or floats already on the 0..1 scale.
        dataset: the dataset whose mean and std normalize them.
        device: where the tensor is made.

    Returns:
        The normalized batch, channels first.

    Raises:
        InputError: the images are not (N, H, W, C) with the dataset's channel count.

    Example:
        >>> import numpy as np
        >>> to_tensor(np.zeros((2, 8, 8, 1), np.uint8), "digits").shape
        torch.Size([2, 1, 8, 8])
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
    (4 px CIFAR, 2 px ImageNet16); ``digits`` is left as is (flips and shifts change digits), and
    so is ``fashion8`` (its protocol has no augmentation).
    Padding is applied after normalization with the value that maps to a black pixel, which equals
    padding the raw image with zeros as NATS-Bench does.

    Args:
        batch: a normalized batch, as :func:`to_tensor` makes it.
        dataset: the dataset whose augmentation applies.
        generator: the random source of flips and crops (None: torch's global one).

    Returns:
        A new batch of the same shape (``batch`` itself for ``digits`` and ``fashion8``).

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
