"""Latency of ``calnas serve`` on loopback: a fixed request rate, and throughput with batches.

Starts ``calnas serve`` (a real uvicorn process, or ``--processes`` of them, each on its own
127.0.0.1 port, which the client round-robins like a load balancer would), then:

- ``rate`` (the default): an open-loop load of ``--rate`` single-arch requests per second for
  ``--duration`` seconds. Each request has a scheduled send time; its latency is counted from
  that time, so a server that falls behind is charged for the wait (no coordinated omission).
  Prints sent / 200 / 503 / errors, p50, p99 and max of the answered requests, the load
  average before and after, and repeats ``--repeat`` times to show the spread. ``--burn N``
  runs N CPU-burning processes for the duration of each run (a shared, contended machine).
- ``closed``: ``--clients`` threads sending ``--requests`` requests back to back, single archs
  and batches of ``--batch``; prints requests/s, archs/s, p50 and p99.

Bounded: fixed durations and counts, loopback only, every process started here is stopped.

Usage:
    python scripts/perf_serve.py                       # fits a demo (digits) model first
    python scripts/perf_serve.py --model /tmp/m --rate 200 --duration 20 --repeat 3
    python scripts/perf_serve.py --burn 4 --max-pending 8   # contention, bounded queue
    python scripts/perf_serve.py --burn 4 --processes 2     # contention, two processes
    python scripts/perf_serve.py --burn 4 --burn-nice 19    # contention, server has priority
    python scripts/perf_serve.py --mode closed --clients 8 --requests 400 --batch 100
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
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


def _start(model: str, port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "search.cli", "serve", "--model", model, "--port", str(port)]
    proc = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _burn(until: float, nice: int) -> None:
    os.nice(nice)
    x = 0
    while time.time() < until:
        x = (x * 31 + 7) % 1_000_003


def _rate_run(urls: list[str], body_of, rate: float, duration: float, senders: int) -> dict:
    """Open loop: request i is due at start + i / rate; latency counts from the due time."""
    n = int(rate * duration)
    due = np.arange(n) / rate
    latency = np.full(n, np.nan)
    status = np.zeros(n, dtype=int)
    next_i = 0
    lock = threading.Lock()
    ready = threading.Barrier(senders + 1)
    start = 0.0

    def work() -> None:
        nonlocal next_i
        # clients are made before the clock starts (each builds an SSL context: ~10 ms)
        clients = [httpx.Client(base_url=u, timeout=30) for u in urls]
        ready.wait()
        ready.wait()
        try:
            while True:
                with lock:
                    i = next_i
                    next_i += 1
                if i >= n:
                    return
                wait = start + due[i] - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                try:
                    r = clients[i % len(clients)].post("/predict", json=body_of(i))
                    status[i] = r.status_code
                except httpx.HTTPError:
                    status[i] = -1
                latency[i] = time.perf_counter() - (start + due[i])
        finally:
            for c in clients:
                c.close()

    threads = [threading.Thread(target=work) for _ in range(senders)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter() + 0.1
    ready.wait()
    for t in threads:
        t.join()
    ok = latency[status == 200] * 1000
    pct = (lambda q: float(np.percentile(ok, q))) if len(ok) else (lambda q: float("nan"))
    return {
        "sent": n,
        "ok": int((status == 200).sum()),
        "busy": int((status == 503).sum()),
        "errors": int(((status != 200) & (status != 503)).sum()),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": float(ok.max()) if len(ok) else float("nan"),
    }


def _closed_run(url: str, body_of, clients: int, requests: int) -> dict[str, float]:
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


def _demo_model(folder: str) -> str:
    out = os.path.join(folder, "tss-digits")
    cmd = [sys.executable, "-m", "search.cli", "surrogate", "fit", "--bench", folder]
    cmd += ["--space", "tss", "--dataset", "digits", "--targets", "acc,pre_ECE_15"]
    cmd += ["--n-train", "1000", "--out", out, "--format", "json"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="saved surrogate directory (default: fit a demo one)")
    parser.add_argument("--mode", choices=("rate", "closed"), default="rate")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s (rate mode)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs (rate mode): the spread")
    parser.add_argument("--senders", type=int, default=64, help="client threads (rate mode)")
    parser.add_argument("--burn", type=int, default=0, help="CPU-burning processes during runs")
    parser.add_argument(
        "--burn-nice", type=int, default=0, help="niceness of the burners (19: lowest priority)"
    )
    parser.add_argument("--processes", type=int, default=1, help="server processes")
    parser.add_argument("--max-pending", type=int, help="passed to calnas serve")
    parser.add_argument("--clients", type=int, default=8, help="closed mode")
    parser.add_argument("--requests", type=int, default=400, help="per scenario (closed mode)")
    parser.add_argument("--batch", type=int, default=100, help="archs per batched request")
    args = parser.parse_args()
    bounded = (
        1 <= args.clients <= 64
        and 1 <= args.requests <= 100_000
        and 0 < args.rate <= 5_000
        and 0 < args.duration <= 300
        and 1 <= args.repeat <= 20
        and 1 <= args.senders <= 256
        and 0 <= args.burn <= 16
        and 0 <= args.burn_nice <= 19
        and 1 <= args.processes <= 8
    )
    if not bounded:
        raise SystemExit(
            "keep it bounded: 1..64 clients, 1..100000 requests, rate 0..5000, duration "
            "0..300 s, 1..20 repeats, 1..256 senders, 0..16 burners, 1..8 processes"
        )

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or _demo_model(tmp)
        model = Surrogate.load(path)
        archs = get_space(model.space).archs()
        extra = [] if args.max_pending is None else ["--max-pending", str(args.max_pending)]
        ports = [_free_port() for _ in range(args.processes)]
        procs = [_start(path, p, extra) for p in ports]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        print(
            f"server: {len(procs)} process(es) {' '.join(urls)} {' '.join(extra)}; model "
            f"{model.space}/{model.dataset} {list(model.targets)}; {os.cpu_count()} cpus"
        )

        def single(i: int) -> dict:
            arch = archs[(i * 7919) % len(archs)]
            return {"space": model.space, "dataset": model.dataset, "archs": [arch]}

        def batched(i: int) -> dict:
            start = (i * args.batch) % (len(archs) - args.batch)
            body = single(i)
            body["archs"] = archs[start : start + args.batch]
            return body

        try:
            _closed_run(urls[0], single, 2, 20)  # warm-up
            if args.mode == "closed":
                _closed(urls[0], single, batched, args)
            else:
                _rate(urls, single, args)
        finally:
            for proc in procs:
                _stop(proc)


def _rate(urls: list[str], single, args: argparse.Namespace) -> None:
    print(
        f"{args.rate:g} requests/s for {args.duration:g} s, {args.burn} CPU burner(s) at "
        f"nice {args.burn_nice}\n"
        f"{'run':>3s} {'load':>5s} {'sent':>6s} {'200':>6s} {'503':>5s} {'err':>4s} "
        f"{'p50 ms':>8s} {'p99 ms':>9s} {'max ms':>9s} {'load after':>10s}"
    )
    p99s = []
    for k in range(args.repeat):
        load = os.getloadavg()[0]
        until = time.time() + args.duration + 1
        burners = [
            mp.Process(target=_burn, args=(until, args.burn_nice), daemon=True)
            for _ in range(args.burn)
        ]
        for b in burners:
            b.start()
        try:
            r = _rate_run(urls, single, args.rate, args.duration, args.senders)
        finally:
            for b in burners:
                b.terminate()
                b.join()
        p99s.append(r["p99_ms"])
        print(
            f"{k + 1:3d} {load:5.2f} {r['sent']:6d} {r['ok']:6d} {r['busy']:5d} "
            f"{r['errors']:4d} {r['p50_ms']:8.2f} {r['p99_ms']:9.2f} {r['max_ms']:9.1f} "
            f"{os.getloadavg()[0]:10.2f}"
        )
    if len(p99s) > 1:
        print(f"p99 over runs: min {min(p99s):.2f} ms, median {np.median(p99s):.2f} ms, "
              f"max {max(p99s):.2f} ms")  # fmt: skip


def _closed(url: str, single, batched, args: argparse.Namespace) -> None:
    print(f"{'scenario':28s} {'requests':>8s} {'req/s':>8s} {'archs/s':>9s} "
          f"{'p50 ms':>8s} {'p99 ms':>8s}")  # fmt: skip
    for name, body, size in (
        ("single arch", single, 1),
        (f"batch of {args.batch}", batched, args.batch),
    ):
        for clients in (1, args.clients):
            r = _closed_run(url, body, clients, args.requests)
            label = f"{name}, {clients} client(s)"
            print(f"{label:28s} {r['requests']:8d} {r['rps']:8.1f} {r['rps'] * size:9.0f} "
                  f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
