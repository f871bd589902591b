"""Benchmark: bench.calibration.evaluate against the peer-library pipeline the study would run.

For each K, one synthetic test set of N samples (float32 logits, as a network gives) is scored
with every published column pre and post temperature scaling (tao2024 protocol) plus calnas's
extras, twice:

- calnas: ``evaluate(logits, labels)`` (median of --repeat runs after a warm-up). Its peak memory
  is measured in a fresh subprocess that does only that: peak RSS (VmHWM, reset after the imports
  and the data are in memory) minus the RSS at that point, plus the absolute peak RSS.
- peers: the same measurements with the libraries the study and the community use: the study's
  grid search over 100 temperatures calling a per-bin loop ECE (torch, as Mukhoti et al.'s ECELoss);
  torchmetrics (ECE l1 and max for MCE, per bin count); uncertainty-calibration (ECE_em,
  debiased l2); the study's per-class per-bin loops for cwCE and ACE (cwCE_em) and TL-ECE; the
  study's KSCE; the study's KDECE loop on KDEpy; netcal MMCE (two dense N x N arrays);
  scikit-learn log_loss and mean_squared_error (Brier); relplot smECE. Run once (it is slow).

Both sides run torch with one CPU thread, so neither pays for thread contention.

    python scripts/perf_calibration.py                 # N = 10,000, K = 10 and 100
    python scripts/perf_calibration.py --n 2000 --k 10 --skip-peers
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.calibration import DATASET_BINS, evaluate, tao2024_split  # noqa: E402


def make_case(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Overconfident synthetic logits: label signal plus noise, ~70% accuracy, float32."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = 4.0 * np.eye(k, dtype=np.float32)[y] + 2.5 * rng.standard_normal((n, k))
    return logits.astype(np.float32), y.astype(np.int64)


# --------------------------------------------------------------------------- calnas side


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def memory_child(n: int, k: int) -> None:
    """Subprocess body: evaluate once and print its memory use as JSON."""
    torch.set_num_threads(1)
    logits, labels = make_case(n, k)
    evaluate(logits[:200], labels[:200], bins=(5,))  # import-time and first-call allocations
    base = _rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    evaluate(logits, labels)
    peak = _rss_kib("VmHWM")
    print(
        json.dumps(
            {
                "base_mib": base / 1024,
                "peak_mib": peak / 1024,
                "delta_mib": (peak - base) / 1024,
                "hwm_reset": reset,
            }
        )
    )


def calnas_memory(n: int, k: int) -> dict:
    cmd = [sys.executable, __file__, "--memory-child", "--n", str(n), "--k", str(k)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def calnas_time(logits: np.ndarray, labels: np.ndarray, repeat: int) -> tuple[float, dict]:
    evaluate(logits, labels)  # warm-up
    times, row = [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        row = evaluate(logits, labels)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), row


# --------------------------------------------------------------------------- peer side


def _loop_ece_torch(conf: torch.Tensor, acc: torch.Tensor, n_bins: int = 15) -> float:
    """Mukhoti et al.'s ECELoss, as the study's temperature search called it."""
    edges = torch.linspace(0, 1, n_bins + 1)
    ece = torch.zeros(1)
    for lo, hi in itertools.pairwise(edges):
        in_bin = conf.gt(lo.item()) * conf.le(hi.item())
        prop = in_bin.float().mean()
        if prop.item() > 0:
            ece += torch.abs(conf[in_bin].mean() - acc[in_bin].float().mean()) * prop
    return float(ece)


def _grid_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    lg, y = torch.from_numpy(logits), torch.from_numpy(labels)
    best, best_t, t = 1e7, 1.0, 0.1
    for _ in range(100):
        p = torch.softmax(lg / t, 1)
        conf, pred = p.max(1)
        e = _loop_ece_torch(conf, pred.eq(y))
        if e < best:
            best, best_t = e, t
        t += 0.1
    return best_t


def _classwise_loop(p: np.ndarray, y: np.ndarray, b: int) -> float:
    """The study's get_classwise_ece: per class, (lo, hi] bins, mean over classes."""
    n, k = p.shape
    edges = np.linspace(0, 1, b + 1)
    total = 0.0
    for j in range(k):
        s, t = p[:, j], (y == j)
        for lo, hi in itertools.pairwise(edges):
            m = (s > lo) & (s <= hi)
            cnt = m.sum()
            if cnt:
                total += cnt / n * abs(s[m].mean() - t[m].mean())
    return total / k


def _ace_loop(p: np.ndarray, y: np.ndarray, b: int) -> float:
    """The study's get_ace (Nixon's ACE, threshold 0)."""
    n, k = p.shape
    total = 0.0
    for j in range(k):
        s, t = p[:, j], (y == j).astype(np.float64)
        keep = s > 0
        s, t = s[keep], t[keep]
        o = np.argsort(s)
        s, t = s[o], t[o]
        size = len(s) // b
        for i in range(b):
            lo = i * size
            hi = (i + 1) * size if i < b - 1 else len(s)
            if hi > lo:
                total += abs(s[lo:hi].mean() - t[lo:hi].mean()) * (hi - lo) / (n * k)
    return total


def _tl_ece_loop(c: np.ndarray, z: np.ndarray, pred: np.ndarray, b: int = 15) -> float:
    edges = np.linspace(0, 1, b + 1)
    total = 0.0
    for j in np.unique(pred):
        m0 = pred == j
        for lo, hi in itertools.pairwise(edges):
            m = m0 & (c > lo) & (c <= hi)
            if m.any():
                total += m.sum() / len(c) * abs(c[m].mean() - z[m].mean())
    return total


def _ksce_study(c: np.ndarray, z: np.ndarray) -> float:
    o = np.argsort(c)
    n = len(c)
    return float(np.max(np.abs(np.cumsum(c[o]) / n - np.cumsum(z[o]) / n)))


def _kdece_study(p: np.ndarray, y: np.ndarray) -> float:
    """Zhang et al.'s ece_kde_binary as the study ran it (np.trapz restored as np.trapezoid)."""
    from KDEpy import FFTKDE

    n = p.shape[0]
    p = np.clip(p.astype(np.float64), 1e-256, 1 - 1e-256)
    pred = p.argmax(1)
    conf = p[np.arange(n), pred] / p.sum(1)
    hit = pred == y
    bw = np.std(conf[hit]) * (2 * n) ** -0.2
    x = np.linspace(-0.6, 1.6, num=2**14)

    def mirrored(d):
        return np.concatenate([-d[d < 0.5], d, 2 - d[d >= 0.5]])

    pp1 = FFTKDE(bw=bw, kernel="triweight").fit(mirrored(conf[hit])).evaluate(x)
    pp1[x <= 0] = 0
    pp1[x >= 1] = 0
    pp1 *= 2
    pp2 = FFTKDE(bw=bw, kernel="triweight").fit(mirrored(conf)).evaluate(x)
    pp2[x <= 0] = 0
    pp2[x >= 1] = 0
    pp2 *= 2
    perc = hit.mean()
    integral = np.zeros(x.shape)
    for i in range(x.shape[0]):
        c = x[i]
        if np.max([pp1[np.abs(x - c).argmin()], pp2[np.abs(x - c).argmin()]]) > 1e-6:
            with np.errstate(divide="ignore", invalid="ignore"):
                a = np.min([perc * pp1[np.abs(x - c).argmin()] / pp2[np.abs(x - c).argmin()], 1.0])
            if not np.isnan(a):
                integral[i] = np.abs(c - a) * pp2[i]
        elif i > 1:
            integral[i] = integral[i - 1]
    ind = np.where((x >= 0.0) & (x <= 1.0))
    return float(np.trapezoid(integral[ind], x[ind]) / np.trapezoid(pp2[ind], x[ind]))


def _peer_stage(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    import calibration as vc
    import relplot.metrics as rm
    from netcal.metrics import MMCE
    from sklearn.metrics import log_loss, mean_squared_error
    from torchmetrics.functional.classification import multiclass_calibration_error

    k = p.shape[1]
    tp, ty = torch.from_numpy(p), torch.from_numpy(y)
    pred = p.argmax(1)
    c = p.max(1).astype(np.float64)
    z = (pred == y).astype(np.float64)
    r: dict[str, float] = {}
    for b in DATASET_BINS:
        r[f"ECE_{b}"] = multiclass_calibration_error(tp, ty, k, n_bins=b, norm="l1").item()
        r[f"MCE_{b}"] = multiclass_calibration_error(tp, ty, k, n_bins=b, norm="max").item()
        r[f"ECE_em_{b}"] = vc.get_ece_em(p, y, num_bins=b)
        r[f"cwCE_{b}"] = _classwise_loop(p, y, b)
        r[f"cwCE_em_{b}"] = _ace_loop(p, y, b)
    r["KSCE"] = _ksce_study(c, z)
    r["KDECE"] = _kdece_study(p, y)
    r["MMCE"] = float(MMCE().measure(p, y))
    r["NLL"] = log_loss(y, p, labels=list(range(k)))
    onehot = np.eye(k, dtype=p.dtype)[y]
    r["Brier"] = mean_squared_error(onehot, p)
    r["acc"] = float(z.mean())
    r["smECE"] = float(rm.smECE(c, z))
    r["ECE_l2_debiased_15"] = vc.lower_bound_scaling_ce(
        p, y, p=2, debias=True, num_bins=15, binning_scheme=vc.get_equal_bins, mode="top-label"
    )
    r["TL_ECE_15"] = _tl_ece_loop(c, z, pred)
    r["Brier_sum"] = float(((p - onehot) ** 2).sum(1).mean())
    return r


def peer_pipeline(logits: np.ndarray, labels: np.ndarray) -> tuple[float, dict]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = torch.softmax(torch.from_numpy(logits), 1).numpy()
        out = {f"pre_{k}": v for k, v in _peer_stage(p, labels).items()}
        c, z = p.max(1), p.argmax(1) == labels
        out["correct_confidence"], out["incorrect_confidence"] = c[z].mean(), c[~z].mean()
        fit, post = tao2024_split(len(labels))
        t = _grid_temperature(logits[fit], labels[fit])
        pp = torch.softmax(torch.from_numpy(logits[post]) / t, 1).numpy()
        out.update({f"post_{k}": v for k, v in _peer_stage(pp, labels[post]).items()})
        out["temperature"] = t
    return time.perf_counter() - t0, out


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--k", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.n, args.k[0])
        return
    torch.set_num_threads(1)
    rows = []
    for k in args.k:
        logits, labels = make_case(args.n, k)
        t_cal, row = calnas_time(logits, labels, args.repeat)
        mem = calnas_memory(args.n, k)
        line = {"K": k, "N": args.n, "columns": len(row), "calnas_s": t_cal, **mem}
        if not args.skip_peers:
            base = _rss_kib("VmRSS")
            with contextlib.suppress(OSError):
                Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM
            t_peer, peer = peer_pipeline(logits, labels)
            peer_delta = (_rss_kib("VmHWM") - base) / 1024
            line.update(peer_s=t_peer, speedup=t_peer / t_cal, peer_delta_mib=peer_delta)
            for name in (
                "temperature",
                "pre_ECE_15",
                "pre_ECE_em_15",
                "pre_cwCE_em_15",
                "pre_KDECE",
                "pre_MMCE",
                "post_ECE_15",
                "post_smECE",
            ):
                print(f"  K={k} {name:18s} calnas {row[name]:.6f}  peers {peer[name]:.6f}")
        rows.append(line)
        print(json.dumps(line))
    print()
    print(
        "| K | N | columns | calnas evaluate (s) | peer pipeline (s) | speed-up | "
        "calnas peak RSS delta (MiB) | calnas process peak RSS (MiB) | peers peak RSS delta (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        peer = f"{r['peer_s']:.1f}" if "peer_s" in r else "-"
        speed = f"{r['speedup']:.0f}x" if "speedup" in r else "-"
        peer_mem = f"{r['peer_delta_mib']:.0f}" if "peer_delta_mib" in r else "-"
        print(
            f"| {r['K']} | {r['N']} | {r['columns']} | {r['calnas_s']:.2f} | {peer} | {speed} | "
            f"{r['delta_mib']:.0f} | {r['peak_mib']:.0f} | {peer_mem} |"
        )


if __name__ == "__main__":
    main()
