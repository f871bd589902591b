"""What to compute and how: :class:`ComputeConfig`, checked option by option when it is made.

A config is everything a worker needs to train (or load) and measure one network, and it is
picklable, so it travels to loky and dask workers as it is. Every option is checked up front:
a bad value fails here, with an ``InputError`` naming the option, not in every worker later.

Example:
    >>> from bench.compute.config import ComputeConfig
    >>> cfg = ComputeConfig("tss", "digits", epochs=4, fidelities=(2, 1))
    >>> cfg.epochs_measured, cfg.skeleton
    ((1, 2, 4), (8, 1))
    >>> ComputeConfig("tss", "digits", batch_size=0)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InputError: batch_size must be a positive integer, got 0
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.arch.datasets import dataset_info
from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.compute.fashion8 import FASHION8_SUBSET_SEED, check_per_class
from bench.compute.readers import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION, NO_ROOT_NEEDED
from bench.errors import InputError, MissingFileError

__all__ = ["ComputeConfig"]

#: NATS-Bench's full schedules: the default hp of loaded weights.
_WEIGHTS_HP = {"tss": 200, "sss": 90}
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
_DEFAULT_PROTOCOL = "tao2024"


@dataclass(frozen=True)
class ComputeConfig:
    """What to compute and how (everything a worker needs; picklable).

    ``epochs`` is the training schedule (the row's ``hp``); ``fidelities`` are extra epochs at
    which the network is also measured (the end is always measured). With ``weights`` the network
    is loaded instead (``weights_hp``, default 200 TSS / 90 SSS, becomes ``hp`` and ``epoch``).
    ``C``/``N`` override the dataset's TSS skeleton. ``threads`` caps torch's CPU threads in each
    worker. ``pack`` trains that many TSS networks together in one worker
    (:mod:`bench.compute.pack`; same results per network, to float rounding).
    ``copy_functional`` trains one class per TSS *function* (:mod:`bench.arch.functional`) and
    copies its rows to the other classes computing the same function, as isomorphic members are
    copied. ``seed`` seeds initialisation and data order (and picks the weights' seed when the
    archive holds it).
    ``fidelities`` is kept sorted and without repeats, ``copy_functional`` is False for SSS; the
    other fields are stored as given.

    Args:
        space: 'tss' or 'sss'.
        dataset: a name of :data:`bench.arch.datasets.DATASETS`.
        data_root: the folder with the dataset's files (not needed for ``digits``; for
            ``fashion8`` it defaults to Debian's dataset-fashion-mnist folder).
        epochs: the training schedule's length.
        fidelities: epochs in ``1..epochs`` at which to measure as well.
        weights: a folder of ``<index>.pt`` state_dicts or a NATS-Bench 'full' archive.
        weights_hp: the hp tag of the weights.
        device: 'cpu', 'cuda' (one GPU per worker process) or 'cuda:K'.
        seed: the seed of initialisation and data order.
        batch_size: the training batch size.
        C: the TSS stem width (default: the dataset's skeleton).
        N: the TSS cells per stage (default: the dataset's skeleton).
        threads: torch CPU threads per worker (None: torch's default).
        metrics_protocol: the temperature-scaling protocol of the metrics ('tao2024' or 'nll').
        ood: measure OOD detection too (CIFAR-10 only, where the SVHN/CIFAR-10-C files are).
        source: the table the rows go to (a source of :data:`bench.table.schema.SOURCES`).
        pack: networks trained together in one worker (1: one at a time; TSS training only).
        train_per_class: ``fashion8`` only: training images per class of its stratified subset
            (None: 1,000, :data:`bench.compute.fashion8.FASHION8_PER_CLASS`); recorded in
            :meth:`protocol`.
        copy_functional: TSS training only: compute each function's smallest index and copy its
            rows to the other classes of the function (``copied``, as isomorphic members are);
            4,930 trainings instead of 6,466. Not in the protocol
            string: the computed rows are the same. SSS has no such duplicates (no-op there).

    Raises:
        InputError: an option is out of range or of the wrong type; the message names it.
        MissingFileError: ``data_root`` or ``weights`` is not a directory.

    Example:
        >>> cfg = ComputeConfig("sss", "digits", epochs=2, fidelities=(1,))
        >>> cfg.hp, cfg.epochs_measured
        (2, (1, 2))
    """

    space: str
    dataset: str
    data_root: str | None = None
    epochs: int = 12
    fidelities: tuple[int, ...] = ()
    weights: str | None = None
    weights_hp: int | None = None
    device: str = "cpu"
    seed: int = 777
    batch_size: int = 256
    C: int | None = None
    N: int | None = None
    threads: int | None = 1
    metrics_protocol: str = _DEFAULT_PROTOCOL
    ood: bool = True
    source: str = "computed"
    pack: int = 1
    train_per_class: int | None = None
    copy_functional: bool = False

    def __post_init__(self) -> None:
        get_space(self.space)
        dataset_info(self.dataset)
        check_int(self.epochs, "epochs")
        object.__setattr__(self, "fidelities", self._checked_fidelities())
        for name in ("weights_hp", "C", "N", "threads"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name)
        check_int(self.batch_size, "batch_size")
        check_int(self.seed, "seed", minimum=0)  # the store keeps -1 for "no seed recorded"
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise InputError(f"device must be cpu, cuda or cuda:K, got {self.device!r}")
        if not isinstance(self.ood, bool):
            raise InputError(f"ood must be True or False, got {self.ood!r}")
        self._check_folders()
        self._check_protocol()
        self._check_source()
        self._check_pack()
        self._check_copy_functional()
        if self.train_per_class is not None:
            if self.dataset != "fashion8":
                raise InputError(
                    f"train_per_class is a fashion8 option, not one of {self.dataset!r}"
                )
            check_per_class(self.train_per_class)

    def _checked_fidelities(self) -> tuple[int, ...]:
        if isinstance(self.fidelities, (str, bytes)) or not isinstance(self.fidelities, Iterable):
            raise InputError(f"fidelities must be a sequence of epochs, got {self.fidelities!r}")
        fids = tuple(sorted({check_int(f, "fidelities", minimum=None) for f in self.fidelities}))
        if any(f < 1 or f > self.epochs for f in fids):
            raise InputError(
                f"fidelities must be epochs in 1..{self.epochs} (the schedule), got {fids}"
            )
        return fids

    def _check_folders(self) -> None:
        for name in ("data_root", "weights"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise InputError(f"{name} must be a folder path, got {value!r}")
        if self.dataset not in NO_ROOT_NEEDED and self.data_root is None:
            raise InputError(f"{self.dataset} needs a data root (--data-root DIR)")
        # given, it must be a folder even where it is not needed (digits): never ignored
        if self.data_root is not None and not Path(self.data_root).expanduser().is_dir():
            raise MissingFileError(f"data_root {str(self.data_root)!r} is not a directory")
        if self.weights is not None and not Path(self.weights).expanduser().is_dir():
            raise MissingFileError(
                f"weights {str(self.weights)!r} is not a directory: give a folder of <index>.pt "
                "state_dicts or a NATS-Bench 'full' archive directory"
            )

    def _check_protocol(self) -> None:
        if self.metrics_protocol == _DEFAULT_PROTOCOL:
            return  # known good; the list of the others imports the metrics, and so torch
        from bench.calibration.temperature import PROTOCOLS

        if self.metrics_protocol not in PROTOCOLS:
            raise InputError(
                f"metrics_protocol must be one of {', '.join(PROTOCOLS)}, "
                f"got {self.metrics_protocol!r}"
            )

    def _check_pack(self) -> None:
        check_int(self.pack, "pack")
        if self.pack == 1:
            return
        if get_space(self.space).name != "tss":
            raise InputError(
                "pack > 1 is TSS only: SSS networks differ in width layer by layer and are "
                "computed one by one (pack=1)"
            )
        if self.weights is not None:
            raise InputError(
                "pack > 1 trains networks together; with weights each network is loaded and "
                "measured on its own: drop pack (or weights)"
            )

    def _check_copy_functional(self) -> None:
        if not isinstance(self.copy_functional, bool):
            raise InputError(f"copy_functional must be True or False, got {self.copy_functional!r}")
        if self.copy_functional and self.weights is not None:
            raise InputError(
                "copy_functional copies a trained network's rows to the classes computing the "
                "same function; with weights every class has its own trained weights: drop one"
            )
        if get_space(self.space).name != "tss":  # every SSS network is its own function
            object.__setattr__(self, "copy_functional", False)

    def _check_source(self) -> None:
        from bench.table.schema import SOURCES

        if self.source not in SOURCES:
            raise InputError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")

    def check_device(self) -> None:
        """Check that this host has ``device`` (a run checks once, before any worker starts).

        Imports torch for a CUDA device; ``cpu`` needs nothing. Dask workers run elsewhere and
        are not checked here.

        Raises:
            InputError: CUDA asked for where torch sees none, or ``cuda:K`` beyond the count.

        Example:
            >>> ComputeConfig("sss", "digits", device="cpu").check_device()
        """
        if self.device == "cpu":
            return
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(f"device {self.device}: torch sees no CUDA device on this host")
        k = int(self.device.partition(":")[2] or 0)
        if k >= count:
            raise InputError(
                f"device {self.device}: this host has {count} CUDA device(s), "
                f"cuda:0..cuda:{count - 1}"
            )

    @property
    def hp(self) -> int:
        """The row's ``hp``: the schedule length (trained) or the archive's tag (loaded)."""
        if self.weights is not None:
            return self.weights_hp or _WEIGHTS_HP[get_space(self.space).name]
        return self.epochs

    @property
    def epochs_measured(self) -> tuple[int, ...]:
        """The epochs that get a row: the fidelities and the end (loaded weights: ``hp``)."""
        if self.weights is not None:
            return (self.hp,)
        return tuple(sorted({*self.fidelities, self.epochs}))

    @property
    def skeleton(self) -> tuple[int, int]:
        """The TSS skeleton ``(C, N)``: the options, else the dataset's."""
        sk = dataset_info(self.dataset).skeleton
        return (self.C or sk.get("C", 16), self.N or sk.get("N", 5))

    @property
    def cwce_em_variant(self) -> str:
        """The equal-mass class-wise ECE variant of the space's published files."""
        # the published TSS files use Nixon's ACE, the SSS files Kumar's marginal variant
        return "ace" if get_space(self.space).name == "tss" else "marginal"

    def schedule(self) -> Any:
        """The training schedule, a :class:`bench.compute.training.Schedule` (imports torch)."""
        from bench.compute.training import Schedule

        return Schedule(self.epochs, batch_size=self.batch_size)

    def protocol(self) -> str:
        """The ``protocol`` string stored with each row: how it was measured.

        Example:
            >>> ComputeConfig("sss", "cifar10", data_root=".", weights=".").protocol()
            'calnas-compute;weights=nats-sss-hp90;metrics=tao2024(cwCE_em=marginal)'
        """
        space = get_space(self.space).name
        parts = []
        if self.weights is not None:
            parts.append(f"weights=nats-{space}-hp{self.hp}")
        else:
            parts.append(f"train=nats[{self.schedule().describe()}]")
        if space == "tss":
            parts.append("skeleton=C{}N{}".format(*self.skeleton))
        if self.dataset == "digits":
            parts.append(
                f"split=digits-stratified(seed={DIGITS_SPLIT_SEED},test={DIGITS_TEST_FRACTION:g})"
            )
        elif self.dataset == "fashion8":
            # the subset and the shrinking are part of what a row means: recorded with it
            parts.append(
                f"split=fashion8-stratified(seed={FASHION8_SUBSET_SEED},"
                f"train_per_class={check_per_class(self.train_per_class)},test=all);"
                "input=pad32-avgpool4"
            )
        parts.append(f"metrics={self.metrics_protocol}(cwCE_em={self.cwce_em_variant})")
        return "calnas-compute;" + ";".join(parts)
