"""Networks per hour of packed training (bench.compute.pack_train) beside one network at a time.

Two modes, each measuring both ways in the same run, interleaved, ``--repeats`` times (the
machine may be shared: the load average is printed with every measurement):

* ``demo``: the embedded benchmark's protocol, on ``--device`` (digits, TSS C=8 N=1, 4 epochs, batch
  128, measured after epochs 1, 2 and 4). First the whole pipeline, ``bench.compute.compute`` with
  ``--jobs`` workers into a fresh store, ``pack=1`` against ``pack=K``; then, in this process on one
  thread, training alone (``train`` one by one against ``train_pack`` for each K of ``--packs``) and
  the measurement of one network at one epoch (``evaluate``), which packing does not change.
* ``nats``: NATS-size networks (C=16, N=5) on CIFAR-shaped random input (32x32x3, 10 classes,
  crop-and-flip augmentation, batch 256), training plus one prediction pass, on ``--device``:
  ``train``/``predict`` one by one for ``--baseline`` networks against ``train_pack``/
  ``predict_pack`` for each K of ``--packs``. Give ``--images``/``--epochs`` of the protocol
  to measure (the defaults are a quick smoke run).

Usage:
    python scripts/perf_pack.py demo --pack 16 --jobs 2 --repeats 3
    python scripts/perf_pack.py demo --device cuda --pack 64 --packs 16,64,256 --jobs 1
    python scripts/perf_pack.py nats --device cuda --packs 8,16,32,48 --images 10000 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.arch.networks import build  # noqa: E402
from bench.arch.spaces import get_space  # noqa: E402
from bench.compute import ComputeConfig, compute  # noqa: E402
from bench.compute.pack import build_pack  # noqa: E402
from bench.compute.pack_train import predict_pack, train_pack  # noqa: E402
from bench.compute.training import Schedule, predict, train  # noqa: E402


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def _sample(n: int, seed: int) -> list[int]:
    reps = get_space("tss").unique_indices()
    return np.random.default_rng(seed).choice(reps, n, replace=False).tolist()


def _spread(values: list[float], digits: int = 1) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def _pipeline(indices: list[int], pack: int, jobs: int, device: str) -> float:
    """Networks per hour of one compute() run into a fresh store (the demo protocol)."""
    cfg = ComputeConfig(
        "tss",
        "digits",
        epochs=4,
        fidelities=(1, 2),
        batch_size=128,
        threads=1,
        pack=pack,
        device=device,
    )
    # fresh workers for each run (their start-up is counted, on both sides alike): loky takes a
    # worker's reference memory after its first task and restarts it past +300 MB, so a worker
    # that first ran one network would be restarted by its first pack
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = compute(cfg, indices, bench=tmp, jobs=jobs, quiet=True, flush_every=1e9)
        seconds = time.perf_counter() - start
    if report.failures or report.networks != len(indices):
        raise SystemExit(f"compute failed: {report.failures[:2]}")
    return len(indices) / seconds * 3600


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _training(
    archs: list[int],
    packs: list[int],
    baseline: int,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    dataset: str,
    schedule: Schedule,
    shape: dict[str, int],
    device: torch.device,
) -> dict[str, float]:
    """Networks per hour trained (and predicted once) one by one and in packs of each K."""
    x, y, xt = data
    out: dict[str, float] = {}

    def alone() -> None:
        for i in archs[:baseline]:
            net = build("tss", i, **shape).to(device)
            train(net, x, y, dataset, schedule, seed=0)
            predict(net, xt)

    out["one_at_a_time"] = baseline / _timed(alone, device) * 3600
    for k in packs:

        def packed(k: int = k) -> None:
            pack = build_pack("tss", archs[:k], **shape).to(device)
            train_pack(pack, x, y, dataset, schedule, seed=0)
            predict_pack(pack, xt)

        out[f"pack_{k}"] = k / _timed(packed, device) * 3600
    return out


def demo(args: argparse.Namespace) -> dict[str, Any]:
    """The demo protocol: whole pipeline (jobs workers), then training alone, then metrics."""
    from bench.calibration import evaluate
    from bench.compute.readers import read_digits
    from bench.compute.transforms import to_tensor

    torch.set_num_threads(1)
    n = args.networks or 2 * args.pack * max(args.jobs, 1)
    warm = _sample(4, 99)
    _pipeline(warm, 1, args.jobs, args.device)  # first imports, outside the figures
    _pipeline(warm, 2, args.jobs, args.device)
    rows: list[dict[str, Any]] = []
    for r in range(args.repeats):
        indices = _sample(n, args.seed + r)
        load = _load()
        # alternate which goes first, so a load change does not favour one side
        order = [1, args.pack] if r % 2 == 0 else [args.pack, 1]
        got = {k: _pipeline(indices, k, args.jobs, args.device) for k in order}
        rows.append(
            {"one_at_a_time": got[1], "packed": got[args.pack], "load_before": load,
             "load_after": _load()}
        )  # fmt: skip
        print(
            f"pipeline run {r + 1}: one at a time {got[1]:8.0f} nets/h, pack {args.pack} "
            f"{got[args.pack]:8.0f} nets/h, ratio {got[args.pack] / got[1]:.2f} "
            f"(load {load} -> {rows[-1]['load_after']})",
            flush=True,
        )
    x, y = read_digits("train")
    xt, yt = read_digits("test")
    device = torch.device(args.device)
    data = (
        to_tensor(x, "digits", device),
        torch.as_tensor(y, device=device),
        to_tensor(xt, "digits", device),
    )
    shape = {"num_classes": 10, "C": 8, "N": 1, "in_channels": 1}
    packs = [int(p) for p in args.packs.split(",")]
    train_runs = []
    for r in range(args.repeats):
        archs = _sample(max(packs + [args.baseline]), 1000 + args.seed + r)
        got = _training(
            archs, packs, args.baseline, data, "digits", Schedule(4, batch_size=128), shape, device
        )  # fmt: skip
        got["load"] = _load()
        train_runs.append(got)
        print(f"training run {r + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in got.items()))
    logits = torch.randn(len(yt), 10, generator=torch.Generator().manual_seed(0)) * 3
    labels = torch.as_tensor(yt)
    evaluate(logits, labels, protocol="tao2024", cwce_em_variant="ace", undefined="nan")
    start = time.perf_counter()
    for _ in range(5):
        evaluate(logits, labels, protocol="tao2024", cwce_em_variant="ace", undefined="nan")
    metrics_s = (time.perf_counter() - start) / 5
    pipe_ratio = [row["packed"] / row["one_at_a_time"] for row in rows]
    return {
        "protocol": "digits, TSS C=8 N=1, 4 epochs, batch 128, measured at epochs 1, 2, 4",
        "jobs": args.jobs,
        "pack": args.pack,
        "networks_per_run": n,
        "pipeline_networks_per_hour": {
            "one_at_a_time": _spread([row["one_at_a_time"] for row in rows]),
            "packed": _spread([row["packed"] for row in rows]),
            "ratio": _spread(pipe_ratio, 2),
            "load": [(row["load_before"], row["load_after"]) for row in rows],
        },
        "training_only_networks_per_hour_one_thread": {
            key: _spread([run[key] for run in train_runs]) for key in train_runs[0]
        },
        "metrics_seconds_per_network_epoch": round(metrics_s, 4),
        "metrics_seconds_per_network": round(3 * metrics_s, 4),
    }


def nats(args: argparse.Namespace) -> dict[str, Any]:
    """NATS-size networks on CIFAR-shaped random input: training + one prediction pass."""
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.images, 3, 32, 32, generator=gen).to(device)
    y = torch.randint(0, 10, (args.images,), generator=gen).to(device)
    xt = torch.randn(args.test_images, 3, 32, 32, generator=gen).to(device)
    shape = {"num_classes": 10, "C": 16, "N": 5, "in_channels": 3}
    packs = [int(p) for p in args.packs.split(",")]
    schedule = Schedule(args.epochs, batch_size=256)
    runs = []
    for r in range(args.repeats):
        archs = _sample(max(packs + [args.baseline]), args.seed + r)
        got = _training(archs, packs, args.baseline, (x, y, xt), "cifar10", schedule, shape, device)
        got["load"] = _load()
        runs.append(got)
        print(f"run {r + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in got.items()), flush=True)
    return {
        "protocol": (
            f"TSS C=16 N=5, random 32x32x3 input, 10 classes, {args.images} training images x "
            f"{args.epochs} epochs, batch 256, crop+flip, then {args.test_images} test images"
        ),
        "networks_per_hour": {key: _spread([run[key] for run in runs]) for key in runs[0]},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("demo", help="the demo protocol on digits")
    d.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K (default cpu)")
    d.add_argument("--pack", type=int, default=16, help="K of the pipeline run (default 16)")
    d.add_argument("--packs", default="8,16,32", help="Ks of the training-only runs")
    d.add_argument("--jobs", type=int, default=2, help="worker processes of the pipeline runs")
    d.add_argument("--networks", type=int, help="networks per pipeline run (2 * pack * jobs)")
    d.add_argument("--baseline", type=int, default=8, help="networks trained one by one")
    d.add_argument("--repeats", type=int, default=3)
    d.add_argument("--seed", type=int, default=0)
    n = sub.add_parser("nats", help="NATS-size networks on CIFAR-shaped random input")
    n.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    n.add_argument("--packs", default="8,16", help="Ks to measure (default 8,16)")
    n.add_argument("--baseline", type=int, default=4, help="networks trained one by one")
    n.add_argument("--images", type=int, default=1024, help="training images per epoch")
    n.add_argument("--test-images", type=int, default=1000)
    n.add_argument("--epochs", type=int, default=1)
    n.add_argument("--threads", type=int, default=1, help="torch CPU threads (cpu device)")
    n.add_argument("--repeats", type=int, default=2)
    n.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    device = args.device
    print(f"device: {device}", end="")
    if device.startswith("cuda"):
        print(f" ({torch.cuda.get_device_name(torch.device(device))})", end="")
    print(f"; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"torch {torch.__version__}")  # fmt: skip
    print(f"before: {_uptime()}", flush=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    result = demo(args) if args.mode == "demo" else nats(args)
    result = {"mode": args.mode, "device": device, "started": started, **result}
    result["uptime_after"] = _uptime()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
