"""Networks per hour of the compute pipeline on this machine, beside the naive way.

Both ways train the same TSS networks on the digits proxy with the demo benchmark's schedule
(4 epochs, batch 128, measured after epochs 1, 2 and 4) and measure the same kind of metric set,
in the same run, with the same number of parallel processes:

* calnas: ``bench.compute.compute`` -- a pool of ``--jobs`` long-lived workers (data read once
  per worker, one torch thread each), batched tensor training, one-pass prediction,
  ``bench.calibration.evaluate`` (every metric pre and post temperature scaling in one
  vectorized call), rows journaled and merged into the store.
* naive: one fresh Python process per network (as the published dataset was made), a
  ``DataLoader`` over a ``TensorDataset``, and the metrics one by one with peer libraries
  (torchmetrics ECE/MCE per bin count, netcal, uncertainty-calibration, scikit-learn log loss,
  a grid search for the temperature), results written to a CSV per network.

Usage:
    python scripts/perf_compute.py --networks 16 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NAIVE = r"""
import sys, time, json, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch
torch.set_num_threads(1)
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.functional.classification import multiclass_calibration_error
from netcal.metrics import ECE
import calibration as cal
from bench.arch.networks import build
from bench.compute.readers import digits_split

index, out = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(777)
d = load_digits()
x = torch.tensor(d.images[:, None] / 16.0, dtype=torch.float32)
x = (x - 0.3053) / 0.3760
y = torch.tensor(d.target)
tr, te = digits_split()
train = DataLoader(TensorDataset(x[tr], y[tr]), batch_size=128, shuffle=True)
net = build("tss", index, 10, C=8, N=1, in_channels=1)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
rows = []
for epoch in range(1, 5):
    net.train()
    for xb, yb in train:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xb)[1], yb)
        loss.backward()
        opt.step()
    sched.step()
    if epoch not in (1, 2, 4):
        continue
    net.eval()
    with torch.no_grad():
        test = DataLoader(TensorDataset(x[te]), batch_size=128)
        logits = torch.cat([net(xb)[1] for (xb,) in test])
    labels = y[te]
    # temperature: grid search on the first 20 %, metrics on the rest (one metric at a time)
    n = len(labels) // 5
    grid = np.linspace(0.05, 10, 200)
    temps = [multiclass_calibration_error(torch.softmax(logits[:n] / t, 1), labels[:n], 10,
             n_bins=15).item() for t in grid]
    T = float(grid[int(np.argmin(temps))])
    row = {"epoch": epoch, "temperature": T}
    for stage, lg, lb in (("pre", logits, labels), ("post", logits[n:] / T, labels[n:])):
        p = torch.softmax(lg, 1)
        pn, yn = p.numpy().astype(np.float64), lb.numpy()
        for bins in (5, 10, 15, 20, 25, 50, 100, 200, 500):
            row[f"{stage}_ECE_{bins}"] = multiclass_calibration_error(p, lb, 10, n_bins=bins).item()
            row[f"{stage}_MCE_{bins}"] = multiclass_calibration_error(p, lb, 10, n_bins=bins,
                                                                       norm="max").item()
            row[f"{stage}_ECEnetcal_{bins}"] = float(ECE(bins=bins).measure(pn, yn))
            row[f"{stage}_cwCE_{bins}"] = cal.get_calibration_error(pn, yn, p=1, debias=False,
                                                                   mode="marginal")
        row[f"{stage}_NLL"] = log_loss(yn, pn, labels=list(range(10)))
        row[f"{stage}_Brier"] = float(((pn - np.eye(10)[yn]) ** 2).mean())
        row[f"{stage}_acc"] = float((pn.argmax(1) == yn).mean())
    rows.append(row)
json.dump(rows, open(out, "w"))
"""


def _calnas(indices: list[int], jobs: int) -> tuple[float, int]:
    from bench.compute import ComputeConfig, compute

    cfg = ComputeConfig("tss", "digits", epochs=4, fidelities=(1, 2), batch_size=128)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        report = compute(cfg, indices, bench=tmp, jobs=jobs, quiet=True, flush_every=1e9)
        elapsed = time.perf_counter() - t
    if report.failures:
        raise SystemExit(f"calnas run failed: {report.failures[:2]}")
    return elapsed, report.networks


def _naive(indices: list[int], jobs: int) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "naive.py"
        script.write_text(NAIVE)
        t = time.perf_counter()
        pending = list(indices)
        running: list[subprocess.Popen] = []
        while pending or running:
            while pending and len(running) < jobs:
                i = pending.pop(0)
                out = Path(tmp) / f"{i}.json"
                running.append(subprocess.Popen([sys.executable, str(script), str(i), str(out)],
                                                env=env))  # fmt: skip
            for p in list(running):
                if p.poll() is not None:
                    if p.returncode != 0:
                        raise SystemExit(f"naive run failed with status {p.returncode}")
                    running.remove(p)
            time.sleep(0.05)
        elapsed = time.perf_counter() - t
        done = len(list(Path(tmp).glob("*.json")))
    return elapsed, done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--networks", type=int, default=16)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from bench.arch.spaces import get_space

    reps = get_space("tss").unique_indices()
    indices = np.random.default_rng(args.seed).choice(reps, args.networks, replace=False).tolist()
    load = os.getloadavg()[0]
    t_calnas, n_calnas = _calnas(indices, args.jobs)
    t_naive, n_naive = _naive(indices, args.jobs)
    result = {
        "networks": args.networks,
        "jobs": args.jobs,
        "load_average_before": round(load, 2),
        "calnas_networks_per_hour": round(n_calnas / t_calnas * 3600, 1),
        "naive_networks_per_hour": round(n_naive / t_naive * 3600, 1),
        "speedup": round((n_calnas / t_calnas) / (n_naive / t_naive), 2),
        "calnas_seconds": round(t_calnas, 1),
        "naive_seconds": round(t_naive, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
