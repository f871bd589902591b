"""A pack's measurement: train TSS networks together, measure each as one network is measured.

The worker side of a compute run with ``pack > 1``: :func:`compute_pack` builds each network as
:func:`bench.compute.measure.compute_network` builds it, trains them in one pack
(:mod:`bench.compute.pack`, :mod:`bench.compute.pack_train`) and returns each network's rows as
:func:`~bench.compute.measure.compute_network` would; :func:`run_pack` wraps it for a worker
process, never raises, and computes the networks one by one if the pack fails. Reading the data,
picking the device, computing the metric columns and framing the rows are
:mod:`bench.compute.measure`'s, shared so that both paths store the same rows.

Example:
    >>> from bench.compute.config import ComputeConfig
    >>> from bench.compute.measure_pack import compute_pack
    >>> out = compute_pack(ComputeConfig("tss", "digits", epochs=1, pack=2), [11, 12])
    >>> [(index, rows["epoch"].tolist(), error) for index, rows, error in out]
    [(11, [1], None), (12, [1], None)]
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import pandas as pd

from bench.arch.datasets import dataset_info
from bench.arch.spaces import get_space
from bench.compute import measure
from bench.compute.config import ComputeConfig
from bench.errors import InputError

__all__ = ["compute_pack", "run_pack"]

log = logging.getLogger("calnas.compute")


def compute_pack(
    cfg: ComputeConfig, indices: list[int]
) -> list[tuple[int, pd.DataFrame | None, str | None]]:
    """Train TSS networks ``indices`` together (one pack) and measure each: its rows or its error.

    Each network is built and seeded as :func:`compute_network` builds it, trained in one
    :func:`~bench.compute.pack.train_pack` run on the same batches, and measured from the
    pack's predictions at every epoch of ``cfg.epochs_measured``. Per network the rows are
    :func:`compute_network`'s, to float rounding, except the timings: ``train_time_s`` is the
    network's share of the pack's training time (in proportion to its FLOPs) and
    ``latency_s`` is timed once, after training, on the network rebuilt as a standalone module
    (whose predictions on 256 test images must match the pack's). A network whose loss turns
    NaN gets the error :func:`compute_network` would raise; the others keep their rows.

    Args:
        cfg: what to compute and how (training, not loaded weights).
        indices: NATS indices of TSS networks.

    Returns:
        ``(index, rows, None)`` or ``(index, None, error)`` per network, in order.

    Raises:
        InputError: an SSS pack, loaded weights, a bad index, or no CUDA device where one is
            asked for.
        RuntimeError: the pack's predictions differ from a network's standalone ones.

    Example:
        >>> cfg = ComputeConfig("tss", "digits", epochs=1, pack=2)
        >>> [(i, len(rows), err) for i, rows, err in compute_pack(cfg, [11, 12])]
        [(11, 1, None), (12, 1, None)]
    """
    import torch

    from bench.arch.costs import cost
    from bench.arch.networks import build
    from bench.compute.pack import build_pack
    from bench.compute.pack_train import diverged_epochs, predict_pack, train_pack
    from bench.compute.training import seed_everything

    if cfg.weights is not None:
        raise InputError("a pack trains its networks; loaded weights are measured one by one")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    space = get_space(cfg.space)
    resolved = [space.resolve(int(i)) for i in indices]
    info = dataset_info(cfg.dataset)
    device = measure._device(cfg)
    data = measure._data(cfg, device)
    C, N = cfg.skeleton
    start = time.perf_counter()
    nets = []
    for index, _ in resolved:
        seed_everything(cfg.seed)  # each network starts as it would alone
        nets.append(
            build(space.name, index, info.num_classes, C=C, N=N, in_channels=info.in_channels)
        )
    pack = build_pack(
        space.name,
        [arch for _, arch in resolved],
        info.num_classes,
        C=C,
        N=N,
        in_channels=info.in_channels,
        networks=nets,
    ).to(device)
    x, y = data["test"]
    measured: dict[int, list[dict[str, float] | str]] = {}
    last: dict[str, Any] = {}
    measure_s = 0.0

    def on_epoch(epoch: int, p: Any) -> None:
        nonlocal measure_s
        t = time.perf_counter()
        logits = predict_pack(p, x)
        ood = {name: predict_pack(p, ox) for name, ox in data["ood"].items()}
        last["logits"] = logits
        measured[epoch] = [
            _pack_metrics(cfg, logits[k], y, {n: o[k] for n, o in ood.items()})
            for k in range(len(resolved))
        ]
        measure_s += time.perf_counter() - t

    history = train_pack(
        pack,
        *data["train"],
        cfg.dataset,
        cfg.schedule(),
        seed=cfg.seed,
        on_epoch=on_epoch,
        callback_epochs=cfg.epochs_measured,
    )
    diverged = diverged_epochs(history)
    flops = [cost(space.name, i, cfg.dataset, C=C, N=N)["flops_m"] for i, _ in resolved]
    elapsed = time.perf_counter() - start
    out: list[tuple[int, pd.DataFrame | None, str | None]] = []
    for k, (index, arch) in enumerate(resolved):
        share = flops[k] / sum(flops)
        error = _pack_error(history, k, diverged[k], [measured[e][k] for e in cfg.epochs_measured])
        if error is not None:
            out.append((index, None, error))
            continue
        latency = _standalone_latency(nets[k], pack, k, x, last["logits"][k])
        rows = []
        for epoch in cfg.epochs_measured:
            h = history[epoch - 1]
            values = measured[epoch][k]
            assert isinstance(values, dict)
            rows.append(
                {
                    "epoch": epoch,
                    "seed": cfg.seed,
                    "train_acc": h["train_acc"][k],
                    "train_loss": h["train_loss"][k],
                    "train_time_s": h["train_time_s"] * share,
                    **values,
                    "latency_s": latency,
                }
            )
        frame = measure._frame(cfg, index, arch, rows)
        frame.attrs["timing"] = {
            "train_s": history[-1]["train_time_s"] * share,
            "measure_s": measure_s / len(resolved),
            "total_s": elapsed * share,
            "pid": os.getpid(),
            "pack": len(resolved),
        }
        out.append((index, frame, None))
    return out


def run_pack(
    cfg: ComputeConfig, indices: list[int]
) -> list[tuple[int, pd.DataFrame | None, str | None]]:
    """Worker entry for a pack: :func:`compute_pack`, else each network alone; never raises.

    Args:
        cfg: what to compute and how.
        indices: the networks of the pack.

    Returns:
        ``(index, rows or None, None or error)`` per network, as :func:`run_unit` gives them.

    Example:
        >>> cfg = ComputeConfig("tss", "digits", epochs=1, pack=2)
        >>> [(i, err is None) for i, _, err in run_pack(cfg, [11, 99999])]  # falls back
        [(11, True), (99999, False)]
    """
    try:
        return compute_pack(cfg, indices)
    except Exception as err:  # the pack as a whole failed: each network gets its own chance
        log.warning(
            "pack of %d networks failed (%s: %s); computing them one by one",
            len(indices),
            type(err).__name__,
            err,
        )
        return [measure.run_unit(cfg, index) for index in indices]


def _pack_metrics(
    cfg: ComputeConfig, logits: Any, y: Any, ood: dict[str, Any]
) -> dict[str, float] | str:
    """One packed network's metrics (latency comes later), or the error that stopped them."""
    import torch

    if not bool(torch.isfinite(logits).all()):
        return "non-finite logits"
    try:
        return measure._metrics(cfg, logits, y, ood, float("nan"))
    except Exception as err:  # this network's measurement failed; its pack-mates go on
        return f"{type(err).__name__}: {err}"


def _pack_error(
    history: list[dict[str, Any]],
    k: int,
    diverged: int | None,
    measured: list[dict[str, float] | str],
) -> str | None:
    """The error :func:`compute_network` would report for network ``k`` of a pack, or None."""
    if diverged is not None:
        loss = history[diverged - 1]["train_loss"][k]
        return f"FloatingPointError: training diverged at epoch {diverged} (loss {loss})"
    for values in measured:
        if isinstance(values, str):
            return values
    return None


def _standalone_latency(net: Any, pack: Any, k: int, x: Any, packed_logits: Any) -> float:
    """Latency of network ``k`` as a standalone module; its logits must match the pack's."""
    net.load_state_dict(pack.network_state_dict(k))
    net = net.to(x.device)
    logits, latency = measure._timed_predict(net, x[:256])
    # float rounding only: a wrong pack differs by whole units (autocast on CUDA: float16)
    tol = (5e-2 if x.device.type == "cuda" else 1e-3) * (1.0 + float(logits.abs().max()))
    gap = float((logits - packed_logits[:256]).abs().max())
    if not gap <= tol:
        raise RuntimeError(
            f"the pack's predictions of network {k} differ from its standalone module's by "
            f"{gap:.3g} (tolerance {tol:.3g}): the pack is not the same computation"
        )
    return latency
