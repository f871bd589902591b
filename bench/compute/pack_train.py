"""Training and prediction of a pack (:mod:`bench.compute.pack`) with NATS-Bench's protocol.

:func:`train_pack` is :func:`bench.compute.training.train` for K networks at once: the same
batches, augmentation draws, schedule and optimizer settings with the same seed; the loss is the
sum of the networks' mean cross-entropies, so each network gets its own gradient.
:func:`predict_pack` is :func:`bench.compute.training.predict` for every network of the pack.

Example:
    >>> import torch
    >>> from bench.compute.pack import build_pack
    >>> from bench.compute.pack_train import predict_pack, train_pack
    >>> from bench.compute.training import Schedule
    >>> pack = build_pack("tss", [11, 12], 10, C=4, N=1, in_channels=1)
    >>> x, y = torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.int64)
    >>> history = train_pack(pack, x, y, "digits", Schedule(1, batch_size=4), seed=0)
    >>> history[0]["finite"], tuple(predict_pack(pack, x).shape)
    ([True, True], (2, 8, 10))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from bench.compute.pack import PackedNetworks
from bench.compute.training import Schedule, check_pairs, nats_sgd, run_epochs

__all__ = ["train_pack", "predict_pack", "diverged_epochs"]


def train_pack(
    pack: PackedNetworks,
    images: torch.Tensor,
    labels: torch.Tensor,
    dataset: str,
    schedule: Schedule,
    *,
    seed: int,
    on_epoch: Callable[[int, PackedNetworks], None] | None = None,
    callback_epochs: Iterable[int] = (),
    channels_last: bool | None = None,
) -> list[dict[str, Any]]:
    """Train every network of ``pack`` in place with the NATS protocol, as :func:`train` would.

    Same batches, augmentation draws, schedule and optimizer settings as
    :func:`bench.compute.training.train` with the same ``seed``; the loss minimized is the sum of
    the networks' mean cross-entropies, so each network gets its own gradient. A parameter that
    gets no gradient in a step (a node no network reads) gets a zero one, as it would alone
    (weight decay and momentum still apply). A network whose loss turns NaN or infinite is
    marked in ``finite`` from that epoch on; the others go on unaffected.

    Args:
        pack: the networks, on the device the data lives on.
        images: the normalized training images.
        labels: their targets.
        dataset: the dataset's name, which picks the augmentation.
        schedule: the schedule.
        seed: the seed of the batch order and the augmentation draws.
        on_epoch: called as ``on_epoch(epoch, pack)`` after the epochs in ``callback_epochs``
            (its time is not counted as training time).
        callback_epochs: 1-based epochs after which ``on_epoch`` runs.

    Returns:
        One dict per epoch: ``epoch``, ``lr``, ``train_time_s`` (the pack's), and per network
        (lists of K) ``train_loss``, ``train_acc`` and ``finite``.

    Raises:
        InputError: images and labels differ in number, or there are none.

    Example:
        >>> from bench.compute.pack import build_pack
        >>> pack = build_pack("tss", [11, 12], 10, C=4, N=1, in_channels=1)
        >>> x, y = torch.zeros(8, 1, 8, 8), torch.zeros(8, dtype=torch.int64)
        >>> h = train_pack(pack, x, y, "digits", Schedule(2, batch_size=4), seed=0)
        >>> [e["epoch"] for e in h], len(h[0]["train_loss"]), h[-1]["finite"]
        ([1, 2], 2, [True, True])
    """
    check_pairs(images, labels)
    fmt = _memory_format(images.device, channels_last)
    pack = pack.to(memory_format=fmt)
    params = list(pack.parameters())
    optimizer = nats_sgd(params, schedule)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, logits = pack(x)
        losses = _losses(logits, y)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        optimizer.step()
        return losses.detach(), (logits.detach().argmax(2) == y).sum(1)

    wanted = set(callback_epochs)
    n = images.shape[0]
    finite = torch.ones(len(pack), dtype=torch.bool)
    history: list[dict[str, Any]] = []
    for epoch, lr, loss_sum, correct, elapsed in run_epochs(
        pack, optimizer, images, labels, dataset, schedule,
        seed=seed, step=step, memory_format=fmt,
    ):  # fmt: skip
        finite &= torch.isfinite(loss_sum).cpu()
        history.append(
            {
                "epoch": epoch,
                "lr": lr,
                "train_loss": (loss_sum / n).tolist(),
                "train_acc": (correct.double() / n).tolist(),
                "train_time_s": elapsed,
                "finite": finite.tolist(),
            }
        )
        if on_epoch is not None and epoch in wanted:
            on_epoch(epoch, pack)
    return history


def _memory_format(device: torch.device, channels_last: bool | None) -> torch.memory_format:
    if channels_last is None:
        channels_last = device.type == "cuda"
    return torch.channels_last if channels_last else torch.contiguous_format


def _losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each network's mean cross-entropy over the batch: (K, B, O) logits -> (K,)."""
    k_count, b, o = logits.shape
    ce = nn.functional.cross_entropy(
        logits.reshape(k_count * b, o), y.repeat(k_count), reduction="none"
    )
    return ce.view(k_count, b).mean(1)


@torch.no_grad()
def predict_pack(
    pack: PackedNetworks,
    images: torch.Tensor,
    *,
    batch_size: int = 1024,
    channels_last: bool | None = None,
) -> torch.Tensor:
    """Logits (K, N, classes), float32, of every network in eval mode, batched as :func:`predict`.

    On CUDA the forward pass runs under autocast (float16), as
    :func:`bench.compute.training.predict` does; the pack's train/eval mode is restored.

    Args:
        pack: the networks.
        images: normalized images (N, C, H, W), on the pack's device.
        batch_size: images per forward pass.
        channels_last: memory layout of the pass (default: channels-last on CUDA only, as
            :func:`train_pack` trains).

    Returns:
        Network k's logits are ``out[k]``.

    Example:
        >>> from bench.compute.pack import build_pack
        >>> pack = build_pack("tss", [3, 4], 10, C=4, N=1, in_channels=1)
        >>> predict_pack(pack, torch.zeros(5, 1, 8, 8)).shape
        torch.Size([2, 5, 10])
    """
    was_training = pack.training
    pack.eval()
    cuda = images.device.type == "cuda"
    fmt = _memory_format(images.device, channels_last)
    outs = []
    try:
        for lo in range(0, images.shape[0], batch_size):
            x = images[lo : lo + batch_size].contiguous(memory_format=fmt)
            if cuda:
                with torch.autocast("cuda", dtype=torch.float16):
                    _, logits = pack(x)
            else:
                _, logits = pack(x)
            outs.append(logits.float())
    finally:
        pack.train(was_training)
    if not outs:
        return torch.empty(len(pack), 0, pack.build_args["num_classes"])
    return torch.cat(outs, dim=1)


def diverged_epochs(history: Sequence[dict[str, Any]]) -> list[int | None]:
    """The 1-based epoch at which each network's loss turned NaN or infinite, or None.

    Args:
        history: what :func:`train_pack` returned.

    Returns:
        One entry per network of the pack.

    Example:
        >>> diverged_epochs([{"epoch": 1, "finite": [True, False]},
        ...                  {"epoch": 2, "finite": [False, False]}])
        [2, 1]
    """
    out: list[int | None] = [None] * len(history[0]["finite"]) if history else []
    for h in history:
        for k, ok in enumerate(h["finite"]):
            if not ok and out[k] is None:
                out[k] = h["epoch"]
    return out
