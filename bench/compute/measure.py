"""One network's measurement: train (or load) it, predict on the test (and OOD) sets, measure.

This is the worker side of a compute run. :func:`compute_network` returns the network's rows, one
per measured epoch, with the key, provenance, costs and every metric column; :func:`run_unit` wraps
it for a worker process and never raises, so one bad network does not stop the others. Packs of
networks trained together are measured by :mod:`bench.compute.measure_pack`. The datasets are read
once per worker process and kept (train/test tensors on the worker's device). Torch is imported
inside the functions only: the parent process of a pool never needs it.

Weights come from a folder of state_dicts (``<index>.pt``, NATS-Bench key names, or
``{seed: state_dict}``) or a NATS-Bench "full" archive read through the ``nats_bench`` package,
and are loaded with ``strict=True``; without weights the network is trained with the NATS
protocol (:mod:`bench.compute.training`) and measured at each epoch of ``fidelities`` and at the
end.

Example:
    >>> from bench.compute.config import ComputeConfig
    >>> from bench.compute.measure import compute_network
    >>> rows = compute_network(ComputeConfig("sss", "digits", epochs=2, fidelities=(1,)), 0)
    >>> rows[["config", "epoch", "hp"]].values.tolist()
    [[0, 1, 2], [0, 2, 2]]
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench import __version__
from bench.arch.datasets import dataset_info
from bench.arch.spaces import get_space
from bench.compute.config import ComputeConfig
from bench.errors import InputError, MissingFileError
from bench.table.schema import breakdown_flags

__all__ = ["compute_network", "run_unit"]

log = logging.getLogger("calnas.compute")

_NATS_KEYS = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}

#: Tensors of each dataset, read once per worker process: (dataset, root, device, ...) -> data.
_DATA: dict[tuple[Any, ...], dict[str, Any]] = {}


def compute_network(cfg: ComputeConfig, index: int) -> pd.DataFrame:
    """Train (or load) network ``index`` and measure it: one row per measured epoch.

    The rows carry the key, provenance, costs and every metric; TSS copies are made by the
    caller. ``frame.attrs["timing"]`` holds the seconds spent training, measuring and in all.

    Args:
        cfg: what to compute and how.
        index: the NATS index (or an arch string) of the network.

    Returns:
        The rows, one per epoch of ``cfg.epochs_measured``.

    Raises:
        InputError: a bad index, no CUDA device where one is asked for, or bad data files.
        MissingFileError: the dataset's files or the network's weights are missing.
        RuntimeError: the weights do not fit the network (strict loading).

    Example:
        >>> cfg = ComputeConfig("tss", "digits", epochs=1)
        >>> row = compute_network(cfg, 11).iloc[0]
        >>> int(row["config"]), int(row["epoch"]), bool(row["copied"]), 0 <= float(row["acc"]) <= 1
        (11, 1, False, True)
    """
    import torch

    from bench.arch.networks import build
    from bench.compute.training import seed_everything

    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    space = get_space(cfg.space)
    index, arch = space.resolve(int(index))
    info = dataset_info(cfg.dataset)
    device = _device(cfg)
    measure = _Measurements(cfg, _data(cfg, device))
    C, N = cfg.skeleton
    start = time.perf_counter()
    seed_everything(cfg.seed)
    net = build(space.name, index, info.num_classes, C=C, N=N, in_channels=info.in_channels)
    if cfg.weights is not None:
        rows, train_s = _loaded_rows(cfg, index, net, device, measure), 0.0
    else:
        rows, train_s = _trained_rows(cfg, net.to(device), measure)
    frame = _frame(cfg, index, arch, rows)
    frame.attrs["timing"] = {
        "train_s": train_s,
        "measure_s": measure.seconds,
        "total_s": time.perf_counter() - start,
        "pid": os.getpid(),
    }
    return frame


def run_unit(cfg: ComputeConfig, index: int) -> tuple[int, pd.DataFrame | None, str | None]:
    """Worker entry: ``(index, rows, None)``, or ``(index, None, error)``; never raises.

    Args:
        cfg: what to compute and how.
        index: the network.

    Returns:
        The index, then the rows of :func:`compute_network` or None, then None or the error's
        type, message and a short traceback.

    Example:
        >>> cfg = ComputeConfig("sss", "digits", epochs=1)
        >>> run_unit(cfg, 99999)[2].splitlines()[0]
        'InputError: arch index 99999 is out of range; accepted: 0 <= index < 32768'
    """
    try:
        return index, compute_network(cfg, index), None
    except Exception as err:  # reported by the parent (and in the report), never swallowed
        import traceback

        return index, None, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=4)}"


class _Measurements:
    """Measures a network at the epochs asked for and adds up the seconds that takes."""

    def __init__(self, cfg: ComputeConfig, data: dict[str, Any]) -> None:
        self.cfg = cfg
        self.data = data
        self.at: dict[int, dict[str, float]] = {}
        self.seconds = 0.0

    def __call__(self, epoch: int, net: Any) -> None:
        start = time.perf_counter()
        self.at[epoch] = _measure(self.cfg, net, self.data)
        self.seconds += time.perf_counter() - start


def _trained_rows(
    cfg: ComputeConfig, net: Any, measure: _Measurements
) -> tuple[list[dict[str, Any]], float]:
    """Train ``net`` with the NATS protocol, measuring it on the way; rows and training time."""
    from bench.compute.training import train

    history = train(
        net,
        *measure.data["train"],
        cfg.dataset,
        cfg.schedule(),
        seed=cfg.seed,
        on_epoch=measure,
        callback_epochs=cfg.epochs_measured,
    )
    rows = []
    for epoch in cfg.epochs_measured:
        h = history[epoch - 1]
        rows.append(
            {
                "epoch": epoch,
                "seed": cfg.seed,
                "train_acc": h["train_acc"],
                "train_loss": h["train_loss"],
                "train_time_s": h["train_time_s"],
                **measure.at[epoch],
            }
        )
    return rows, history[-1]["train_time_s"]


def _loaded_rows(
    cfg: ComputeConfig, index: int, net: Any, device: Any, measure: _Measurements
) -> list[dict[str, Any]]:
    """Load the published weights into ``net`` and measure it once, at epoch ``hp``."""
    seed = _load_weights(cfg, index, net)
    measure(cfg.hp, net.to(device))
    return [{"epoch": cfg.hp, "seed": seed, **measure.at[cfg.hp]}]


def _frame(cfg: ComputeConfig, index: int, arch: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows with their key, provenance, costs and breakdown flags, in the table's order."""
    from bench.arch.costs import cost

    space = get_space(cfg.space).name
    C, N = cfg.skeleton
    costs = cost(space, index, cfg.dataset, C=C, N=N)
    frame = pd.DataFrame(rows)
    frame.insert(0, "space", space)
    frame.insert(1, "dataset", dataset_info(cfg.dataset).name)
    frame.insert(2, "source", cfg.source)
    frame.insert(3, "config", index)
    frame.insert(4, "arch", arch)
    frame.insert(5, "hp", cfg.hp)
    frame["copied"] = False
    frame["params_m"] = costs["params_m"]
    frame["flops_m"] = costs["flops_m"]
    frame["protocol"] = cfg.protocol()
    flags = breakdown_flags(frame, len(frame))  # kept as computed, flagged for the analyses
    frame["flags"] = [";".join(f) if f else None for f in flags]
    frame["calnas_version"] = __version__
    frame["created"] = pd.Timestamp.now(tz="UTC")
    return frame


def _device(cfg: ComputeConfig) -> Any:
    import torch

    if cfg.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError("device cuda asked for but torch sees no CUDA device")
    if cfg.device == "cuda":
        # one GPU per worker process where there are several
        return torch.device(f"cuda:{os.getpid() % torch.cuda.device_count()}")
    return torch.device(cfg.device)


def _data(cfg: ComputeConfig, device: Any) -> dict[str, Any]:
    """Train/test (and OOD) tensors of the dataset, read once per worker process."""
    import torch

    from bench.compute.readers import read_split
    from bench.compute.transforms import to_tensor

    key = (
        cfg.dataset,
        cfg.data_root,
        str(device),
        cfg.weights is None,
        cfg.ood,
        cfg.train_per_class,
    )
    if key not in _DATA:
        data: dict[str, Any] = {}
        if cfg.weights is None:  # training needs the train split; loaded weights do not
            x, y = read_split(cfg.dataset, "train", cfg.data_root, per_class=cfg.train_per_class)
            data["train"] = (to_tensor(x, cfg.dataset, device), torch.as_tensor(y, device=device))
        x, y = read_split(cfg.dataset, "test", cfg.data_root)
        data["test"] = (to_tensor(x, cfg.dataset, device), torch.as_tensor(y, device=device))
        data["ood"] = _ood_sets(cfg, device) if cfg.ood and cfg.dataset == "cifar10" else {}
        _DATA[key] = data
    return _DATA[key]


def _ood_sets(cfg: ComputeConfig, device: Any) -> dict[str, Any]:
    """The study's OOD sets, where their files are: CIFAR-10-C (gaussian noise, 5), SVHN test."""
    from bench.compute.ood import read_cifar10c, read_svhn_test
    from bench.compute.transforms import to_tensor

    root = cfg.data_root
    assert root is not None  # the config requires a data root for cifar10
    readers = {
        "cifar10c": lambda: read_cifar10c(root, "gaussian_noise", 5),
        "svhn": lambda: read_svhn_test(root),
    }
    sets = {}
    for name, read in readers.items():
        try:
            images, _ = read()
        except FileNotFoundError as err:  # optional: the row gets NaN in auc_<name>
            log.warning("auc_%s not computed: %s", name, err)
            continue
        sets[name] = to_tensor(images, "cifar10", device)
    return sets


def _load_weights(cfg: ComputeConfig, index: int, net: Any) -> int:
    """Load the published weights of ``index`` into ``net`` (strict); return the seed used."""
    import torch

    root = Path(cfg.weights).expanduser()  # type: ignore[arg-type]
    for name in (f"{index:06d}.pt", f"{index}.pt", f"{index:06d}.pth", f"{index}.pth"):
        path = root / name
        if path.is_file():
            obj = torch.load(path, map_location="cpu", weights_only=True)
            seed = cfg.seed
            if obj and all(isinstance(k, int) for k in obj):  # {seed: state_dict}
                seed = cfg.seed if cfg.seed in obj else min(obj)
                obj = obj[seed]
            net.load_state_dict(obj, strict=True)
            return seed
    missing = MissingFileError(
        f"no weights for index {index} in {root}: expected {index:06d}.pt (a state_dict with "
        "NATS-Bench key names, or {seed: state_dict}), or a NATS-Bench 'full' archive "
        "directory (with meta.pickle.pbz2) together with the nats_bench package "
        "(pip install nats_bench)"
    )
    if not (root / "meta.pickle.pbz2").is_file():
        raise missing
    try:
        import nats_bench  # type: ignore[import-not-found]
    except ImportError:
        raise missing from None
    api = nats_bench.create(str(root), cfg.space, fast_mode=True, verbose=False)
    params = api.get_net_param(index, _NATS_KEYS[cfg.dataset], None, hp=str(cfg.hp))
    if not params or any(v is None for v in params.values()):
        raise InputError(f"{root} holds no weights for index {index} (a 'simple' archive?)")
    seed = cfg.seed if cfg.seed in params else min(params)
    net.load_state_dict(params[seed], strict=True)
    return seed


def _measure(cfg: ComputeConfig, net: Any, data: dict[str, Any]) -> dict[str, float]:
    """Predictions on the test (and OOD) sets -> every metric column, plus latency."""
    from bench.compute.training import predict

    x, y = data["test"]
    logits, latency = _timed_predict(net, x)
    ood = {name: predict(net, ox, batch_size=1024) for name, ox in data["ood"].items()}
    return _metrics(cfg, logits, y, ood, latency)


def _timed_predict(net: Any, x: Any) -> tuple[Any, float]:
    """Logits of ``x`` and NATS-Bench's latency: the time of one batch of 256, scaled."""
    import torch

    from bench.compute.training import predict

    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    logits = predict(net, x, batch_size=1024)
    sync()
    return logits, (time.perf_counter() - start) / len(x) * 256


def _metrics(
    cfg: ComputeConfig, logits: Any, y: Any, ood: dict[str, Any], latency: float
) -> dict[str, float]:
    """Every metric column of one network's test (and OOD) logits, with its latency."""
    import torch

    from bench.calibration import evaluate

    values = evaluate(
        logits,
        y,
        ood=ood or None,
        protocol=cfg.metrics_protocol,
        cwce_em_variant=cfg.cwce_em_variant,
        undefined="nan",
    )
    values["latency_s"] = latency
    values["test_acc"] = values["acc"]
    values["test_loss"] = float(torch.nn.functional.cross_entropy(logits.float(), y).item())
    return values
