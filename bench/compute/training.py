"""NATS-Bench's training protocol (spec natsbench 4.1) and batched prediction, for any network.

SGD with Nesterov momentum 0.9, weight decay 5e-4 on every parameter, learning rate 0.1 annealed
by a cosine to 0 and updated once per epoch (``lr(e) = 0.05 * (1 + cos(pi * e / T))``), batch 256,
plain cross-entropy, last partial batch kept. Data lives in memory as one normalized tensor (the
datasets calnas trains on fit), and augmentation runs batched on that tensor.

Example:
    >>> import torch
    >>> from bench.arch.networks import build
    >>> from bench.compute.readers import read_digits
    >>> from bench.compute.transforms import to_tensor
    >>> from bench.compute.training import Schedule, seed_everything, train, predict
    >>> x, y = read_digits("train")
    >>> seed_everything(0)
    >>> net = build("tss", 11, 10, C=8, N=1, in_channels=1)
    >>> xt, yt = to_tensor(x, "digits"), torch.as_tensor(y)
    >>> history = train(net, xt, yt, "digits", Schedule(1), seed=0)
    >>> sorted(history[0])
    ['epoch', 'lr', 'train_acc', 'train_loss', 'train_time_s']
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from bench.checks import check_int
from bench.compute.transforms import augment
from bench.errors import InputError

__all__ = [
    "Schedule",
    "lr_at",
    "seed_everything",
    "train",
    "run_epochs",
    "nats_sgd",
    "check_pairs",
    "predict",
]


@dataclass(frozen=True)
class Schedule:
    """A NATS-Bench training schedule; only ``epochs`` differs between NATS's hp tags.

    Args:
        epochs: the schedule's length (the row's ``hp``).
        lr: the initial learning rate, annealed by a cosine to 0.
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: L2 weight decay on every parameter.
        batch_size: the mini-batch size.

    Raises:
        InputError: ``epochs`` or ``batch_size`` is not a positive integer, or ``lr`` <= 0.

    Example:
        >>> Schedule(12).describe()
        'sgd(nesterov=True,m=0.9,wd=0.0005),lr=0.1-cos-epoch,bs=256,epochs=12'
    """

    epochs: int
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 256

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs")
        check_int(self.batch_size, "batch_size")
        if not self.lr > 0:
            raise InputError(f"lr must be positive, got {self.lr!r}")

    def describe(self) -> str:
        """A compact protocol string stored with every row trained this way."""
        return (
            f"sgd(nesterov={self.nesterov},m={self.momentum},wd={self.weight_decay})"
            f",lr={self.lr}-cos-epoch,bs={self.batch_size},epochs={self.epochs}"
        )

    def as_dict(self) -> dict[str, float | int | bool]:
        """The schedule's fields as a plain dict.

        Example:
            >>> Schedule(4).as_dict()["epochs"]
            4
        """
        return asdict(self)


def lr_at(epoch: int, schedule: Schedule) -> float:
    """Learning rate during 0-based ``epoch``: cosine from ``lr`` to 0 over ``schedule.epochs``.

    Example:
        >>> lr_at(0, Schedule(12)), round(lr_at(6, Schedule(12)), 6)
        (0.1, 0.05)
    """
    return 0.5 * schedule.lr * (1.0 + math.cos(math.pi * epoch / schedule.epochs))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) as NATS-Bench does before building a network.

    On CUDA, cuDNN is also made deterministic (and its autotuner turned off).

    Args:
        seed: any integer (NumPy gets it modulo 2**32).

    Example:
        >>> seed_everything(0)
        >>> a = torch.rand(2)
        >>> seed_everything(0)
        >>> torch.equal(a, torch.rand(2))
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    dataset: str,
    schedule: Schedule,
    *,
    seed: int,
    on_epoch: Callable[[int, nn.Module], None] | None = None,
    callback_epochs: Iterable[int] = (),
) -> list[dict[str, float]]:
    """Train ``model`` in place with the NATS protocol; return one history entry per epoch.

    ``images`` is the normalized (N, C, H, W) training tensor and ``labels`` its (N,) targets,
    both on the device the model lives on. Each entry holds the 1-based ``epoch``, its ``lr``, the
    running-average ``train_loss`` and ``train_acc`` (fraction) over the epoch's mini-batches in
    train mode, and ``train_time_s``: seconds spent training up to the end of that epoch.
    ``on_epoch(epoch, model)`` runs after each epoch listed in ``callback_epochs`` (time spent in
    it is not counted as training time); the model is back in train mode afterwards.

    Args:
        model: a network whose forward returns ``(features, logits)`` (as
            :func:`bench.arch.networks.build` makes them).
        images: the normalized training images.
        labels: their targets.
        dataset: the dataset's name, which picks the augmentation.
        schedule: the schedule.
        seed: the seed of the batch order and the augmentation draws.
        on_epoch: called as ``on_epoch(epoch, model)`` after the epochs in ``callback_epochs``.
        callback_epochs: 1-based epochs after which ``on_epoch`` runs.

    Returns:
        The history, one dict per epoch.

    Raises:
        InputError: images and labels differ in number, or there are none.
        FloatingPointError: the loss became NaN or infinite (training diverged).

    Example:
        >>> from bench.arch.networks import build
        >>> net = build("sss", 0, 10, in_channels=1)
        >>> x, y = torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.int64)
        >>> [h["epoch"] for h in train(net, x, y, "digits", Schedule(2, batch_size=4), seed=0)]
        [1, 2]
    """
    check_pairs(images, labels)
    # channels_last speeds convolutions up on CUDA and on CPU (oneDNN): 1.3-2.4x measured on
    # NATS cells; it changes memory layout only, not the arithmetic
    model = model.to(memory_format=torch.channels_last)
    optimizer = nats_sgd(model.parameters(), schedule)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.detach().argmax(1) == y).sum()

    wanted = set(callback_epochs)
    n = images.shape[0]
    history: list[dict[str, float]] = []
    for epoch, lr, loss_sum, correct, elapsed in run_epochs(
        model, optimizer, images, labels, dataset, schedule,
        seed=seed, step=step, memory_format=torch.channels_last,
    ):  # fmt: skip
        if not math.isfinite(float(loss_sum)):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {loss_sum})")
        history.append(
            {
                "epoch": epoch,
                "lr": lr,
                "train_loss": float(loss_sum) / n,
                "train_acc": int(correct) / n,
                "train_time_s": elapsed,
            }
        )
        if on_epoch is not None and epoch in wanted:
            on_epoch(epoch, model)
    return history


def check_pairs(images: torch.Tensor, labels: torch.Tensor) -> None:
    """Refuse a training set whose images and labels differ in number, or that is empty.

    Example:
        >>> check_pairs(torch.zeros(2, 1, 8, 8), torch.zeros(1))
        Traceback (most recent call last):
        bench.errors.InputError: need as many labels as images (> 0), got 2 and 1
    """
    if images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise InputError(
            f"need as many labels as images (> 0), got {images.shape[0]} and {labels.shape[0]}"
        )


def nats_sgd(params: Iterable[torch.Tensor], schedule: Schedule) -> torch.optim.SGD:
    """The protocol's optimizer: SGD with the schedule's lr, momentum, Nesterov, weight decay.

    Example:
        >>> nats_sgd([torch.zeros(1, requires_grad=True)], Schedule(1)).defaults["nesterov"]
        True
    """
    return torch.optim.SGD(
        params,
        lr=schedule.lr,
        momentum=schedule.momentum,
        nesterov=schedule.nesterov,
        weight_decay=schedule.weight_decay,
    )


def run_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    dataset: str,
    schedule: Schedule,
    *,
    seed: int,
    step: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    memory_format: torch.memory_format,
) -> Iterator[tuple[int, float, torch.Tensor, torch.Tensor, float]]:
    """The protocol's epochs, one network's or a pack's: yields after each epoch.

    Sets the epoch's learning rate, puts ``model`` in train mode, draws the batch order and
    the augmentation from a generator seeded with ``seed`` (so they depend on the seed alone,
    not on how much randomness building the network consumed), and calls ``step(x, y)`` on
    each mini-batch (last partial batch kept); ``step`` does the update and returns the
    batch's detached mean loss and its count of correct predictions (per network for a pack).
    Yields ``(epoch, lr, loss_sum, correct, train_time_s)``: 1-based epoch, the loss summed over
    the epoch's images in float64, the correct count, and the seconds spent training so far
    (the time the caller spends between epochs is not counted).

    Example:
        >>> net = nn.Linear(4, 2)
        >>> opt = nats_sgd(net.parameters(), Schedule(2, batch_size=2))
        >>> x, y = torch.zeros(3, 4), torch.zeros(3, dtype=torch.int64)
        >>> def step(xb, yb):
        ...     loss = nn.functional.cross_entropy(net(xb), yb)
        ...     opt.zero_grad(); loss.backward(); opt.step()
        ...     return loss.detach(), torch.tensor(0)
        >>> [e[:2] for e in run_epochs(net, opt, x, y, "digits", Schedule(2, batch_size=2),
        ...                            seed=0, step=step, memory_format=torch.contiguous_format)]
        [(1, 0.1), (2, 0.05)]
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    device, n = images.device, images.shape[0]
    elapsed = 0.0
    for epoch in range(schedule.epochs):
        start = time.perf_counter()
        lr = lr_at(epoch, schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        order = torch.randperm(n, generator=gen).to(device)
        loss_sum: torch.Tensor | float = 0.0
        correct: torch.Tensor | int = 0
        for lo in range(0, n, schedule.batch_size):
            idx = order[lo : lo + schedule.batch_size]
            x = augment(images[idx], dataset, gen).contiguous(memory_format=memory_format)
            loss, right = step(x, labels[idx])
            loss_sum = loss_sum + loss.double() * len(idx)
            correct = correct + right
        elapsed += time.perf_counter() - start
        yield epoch + 1, lr, torch.as_tensor(loss_sum), torch.as_tensor(correct), elapsed


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Logits (float32, on the images' device) of ``model`` in eval mode, batched.

    On CUDA the forward pass runs under autocast (float16) with channels_last memory; the logits
    are cast back to float32 before any metric sees them. The model's train/eval mode is restored.

    Args:
        model: the network.
        images: normalized images (N, C, H, W), on the model's device.
        batch_size: images per forward pass.

    Returns:
        The (N, K) logits.

    Example:
        >>> import torch
        >>> from bench.arch.networks import build
        >>> net = build("sss", 0, 10, in_channels=1)
        >>> predict(net, torch.zeros(3, 1, 8, 8)).shape
        torch.Size([3, 10])
    """
    was_training = model.training
    model.eval()
    cuda = images.device.type == "cuda"
    outs = []
    try:
        for lo in range(0, images.shape[0], batch_size):
            x = images[lo : lo + batch_size].contiguous(memory_format=torch.channels_last)
            if cuda:
                with torch.autocast("cuda", dtype=torch.float16):
                    _, logits = model(x)
            else:
                _, logits = model(x)
            outs.append(logits.float())
    finally:
        model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0)
