"""Facts about the datasets the networks are built for: classes, input shape, normalization.

These facts shape a network (input channels, resolution, class count, the TSS skeleton of a
proxy task) and so its costs; the readers of the dataset files live in
:mod:`bench.compute.readers`. Names are NATS-Bench's (``cifar10``, ``cifar100``,
``ImageNet16-120``), plus calnas's proxy tasks: ``digits`` (the embedded one) and ``fashion8``
(Fashion-MNIST at 8x8, :mod:`bench.compute.fashion8`). Imports nothing heavy.

Example:
    >>> from bench.arch.datasets import dataset_info
    >>> info = dataset_info("ImageNet16-120")
    >>> info.num_classes, info.resolution, info.in_channels
    (120, 16, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import InputError

__all__ = ["DatasetInfo", "DATASETS", "dataset_info"]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one dataset, as NATS-Bench (or calnas, for its proxy tasks) uses it.

    Example:
        >>> DATASETS["digits"].skeleton
        {'C': 8, 'N': 1}
    """

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
        """The facts as a plain dict (field name -> value).

        Example:
            >>> DATASETS["cifar10"].as_dict()["num_classes"]
            10
        """
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _over255(*values: float) -> tuple[float, ...]:
    return tuple(v / 255 for v in values)


#: Every dataset calnas can build networks for, by name.
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
        # Fashion-MNIST padded to 32x32 and 4x4-average-pooled to 8x8 (bench.compute.fashion8).
        # mean/std: numpy's mean() and std() (ddof 0) over every pixel of the fixed 10,000-image
        # training subset (read_fashion8("train")), on the 0..1 scale: 0.218310, 0.284200.
        DatasetInfo("fashion8", 10, 1, 8, (0.2183,), (0.2842,), {"C": 8, "N": 1}, proxy=True),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    """Facts of the dataset called ``name`` (NATS-Bench names, plus ``digits`` and ``fashion8``).

    Args:
        name: the dataset's name.

    Returns:
        Its :class:`DatasetInfo`.

    Raises:
        InputError: ``name`` is not a dataset calnas knows.

    Example:
        >>> dataset_info("cifar100").num_classes
        100
    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}") from None
