"""Throughput and latency of ``calnas serve`` on loopback: single and batched /predict requests.

Starts ``calnas serve --model PATH`` on a free 127.0.0.1 port (a real uvicorn process), then for
each scenario runs ``--clients`` concurrent client threads (one httpx.Client each) that send
``--requests`` requests in total, and prints requests/s, archs/s and p50/p99 latency. Bounded:
a fixed request count, loopback only, the server is stopped at the end.

Usage:
    calnas surrogate fit --bench B --dataset cifar10-valid --targets valid_acc --source nb201 \\
        --n-train 1000 --out /tmp/m
    python scripts/perf_serve.py --model /tmp/m [--clients 8] [--requests 400] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np

from bench.arch.spaces import get_space
from surrogate.model import Surrogate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(model: str, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "search.cli", "serve", "--model", model, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 60 s")


def _scenario(url: str, body_of, clients: int, requests: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = [requests // clients + (i < requests % clients) for i in range(clients)]

    def work(k: int, n: int) -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for j in range(n):
                t0 = time.perf_counter()
                r = client.post("/predict", json=body_of(k * 100_003 + j))
                mine.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(k, n)) for k, n in enumerate(per_client)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.asarray(latencies) * 1000
    return {
        "requests": len(lat),
        "rps": len(lat) / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="saved surrogate directory")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per scenario")
    parser.add_argument("--batch", type=int, default=100, help="archs per batched request")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 100_000:
        raise SystemExit("keep it bounded: 1..64 clients, 1..100000 requests")

    model = Surrogate.load(args.model)
    space = get_space(model.space)
    archs = space.archs()
    port = _free_port()
    proc = _start(args.model, port)
    url = f"http://127.0.0.1:{port}"
    print(f"server: {url} model {model.space}/{model.dataset} {list(model.targets)}; "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")  # fmt: skip

    def single(i: int) -> dict:
        return {"space": model.space, "dataset": model.dataset, "archs": [archs[i % len(archs)]]}

    def batched(i: int) -> dict:
        start = (i * args.batch) % (len(archs) - args.batch)
        return {
            "space": model.space,
            "dataset": model.dataset,
            "archs": archs[start : start + args.batch],
        }

    try:
        _scenario(url, single, 2, 20)  # warm-up
        print(f"{'scenario':28s} {'requests':>8s} {'req/s':>8s} {'archs/s':>9s} "
              f"{'p50 ms':>8s} {'p99 ms':>8s}")  # fmt: skip
        for name, body, size in (
            ("single arch", single, 1),
            (f"batch of {args.batch}", batched, args.batch),
        ):
            for clients in (1, args.clients):
                r = _scenario(url, body, clients, args.requests)
                label = f"{name}, {clients} client(s)"
                print(f"{label:28s} {r['requests']:8d} {r['rps']:8.1f} {r['rps'] * size:9.0f} "
                      f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
