"""Unbinned calibration errors: KS-CE, KDE-ECE, MMCE and smooth ECE.

- KSCE (Gupta et al. 2021): max over prefixes of the sorted confidences of
  |(1/N) sum c - (1/N) sum z|, from the shared prefix sums.
- MMCE (Kumar, Sarawagi & Jain 2018, netcal ``MMCE``): the V-statistic
  sqrt((1/N^2) sum_ij w_i w_j exp(-|c_i - c_j| / 0.4)), w = z - c, computed exactly in O(N log N)
  time and O(N) memory: on sorted c, exp(-a(c_i - c_j)) = exp(-a c_i) exp(a c_j) for j <= i, so the
  double sum is one prefix sum (never an N x N matrix).
- KDECE (Zhang, Kailkhura & Han 2020 ``ece_kde_binary``, spec 3.7): triweight KDE with KDEpy's
  bw = standard-deviation convention, reflection at 0 and 1, the carry-forward rule and the division
  by trapz(f2). The KDE is KDEpy ``FFTKDE``'s algorithm (linear binning onto the 2^14 grid, then a
  discrete convolution with the sampled kernel), so it matches FFTKDE to float rounding.
- smECE (Blasiok & Nakkiran 2023): relplot's discretised reflected-Gaussian smoothing and its
  bisection for the self-consistent bandwidth.

KDECE and smECE work on a 1-D grid; they copy the N confidences to the host (O(N)) and run there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.signal
import torch

from bench.calibration.inputs import TopLabel, UndefinedMetricError, check_labels, check_probs
from bench.errors import InputError

__all__ = ["kdece", "ksce", "mmce", "smece"]

KSCE_TIES = ("blocks", "input")


# --------------------------------------------------------------------------- KSCE


def ksce_view(top: TopLabel, ties: str = "blocks") -> float:
    """KS calibration error on a prepared view (see `ksce`)."""
    if ties == "blocks":
        gap = (top.cs_conf[1:] - top.cs_correct[1:]).abs()
        # Only the last position of each run of equal confidences is a valid prefix: inside a
        # run the value would depend on the order of tied samples.
        last = torch.ones_like(top.s_conf, dtype=torch.bool)
        last[:-1] = top.s_conf[1:] != top.s_conf[:-1]
        return float(gap[last].max() / top.n)
    if ties == "input":
        c64 = top.conf.to(torch.float64)
        order = torch.argsort(c64, stable=True)
        d = torch.cumsum(c64[order] - top.correct[order], 0)
        return float(d.abs().max() / top.n)
    raise InputError(f"ties must be one of {KSCE_TIES}, got {ties!r}")


# --------------------------------------------------------------------------- MMCE


def mmce_view(top: TopLabel, width: float = 0.4) -> float:
    """MMCE on a prepared view (see `mmce`)."""
    a = 1.0 / width
    c = top.s_conf
    w = top.s_correct - c
    # Shift the exponent by the largest confidence so every factor is <= 1 (no overflow for
    # any width); exp(-a (c_i - c_j)) = e_i^-1 e_j with e = exp(a (c - c_max)).
    e = torch.exp(a * (c - c[-1]))
    we = w * e
    prev = torch.cumsum(we, 0) - we  # sum_{j < i} w_j e_j
    cross = (w / e * prev).sum()
    total = (w * w).sum() + 2.0 * cross
    # The kernel is positive definite, so total >= 0; clamp only float rounding (~1e-16 N).
    return float(total.clamp_min(0.0).sqrt() / top.n)


# --------------------------------------------------------------------------- KDECE

_KDE_GRID = np.linspace(-0.6, 1.6, num=2**14)


def _triweight_fftkde(data: np.ndarray, bw: float, grid: np.ndarray) -> np.ndarray:
    """KDEpy ``FFTKDE(kernel='triweight', bw=bw).fit(data).evaluate(grid)`` (unit weights)."""
    n_int = grid.shape[0] - 1
    lo, hi = float(grid.min()), float(grid.max())
    dx = (hi - lo) / n_int
    # Linear binning: each point splits its weight between its two neighbouring grid nodes.
    frac, whole = np.modf((data - lo) / dx)
    idx = whole.astype(np.int64)
    w = np.full(data.shape[0], 1.0 / data.shape[0])
    binned = np.bincount(idx, (1.0 - frac) * w, minlength=n_int + 2)
    binned += np.bincount(idx + 1, frac * w, minlength=n_int + 2)
    binned = binned[: n_int + 1]
    # KDEpy scales kernels so bw is their standard deviation: triweight has variance 1/9 on
    # [-1, 1], so the support half-width is bw / sqrt(1/9) = 3 bw.
    real_bw = bw / np.sqrt(1 / 9)
    support = (1.0 / np.sqrt(1 / 9)) * bw
    n_half = int(min(np.floor(support / dx), n_int + 1))
    u = np.abs(np.linspace(-dx * n_half, dx * n_half, 2 * n_half + 1)) / real_bw
    kern = np.where(u < 1, np.maximum(0.0, 1.0 - u * u) ** 3, 0.0) / (48 / 105)
    kern = kern / (real_bw * 2.0)  # 2 = volume of the 1-D unit ball
    return scipy.signal.convolve(binned, kern, mode="same")


def _mirror(d: np.ndarray) -> np.ndarray:
    """Reflect every point once about the nearer of 0 and 1 (the data plus its mirror images)."""
    low = d[d < 0.5]
    high = d[d >= 0.5]
    return np.concatenate([-low, d, 2.0 - high])


def kdece_from(conf: np.ndarray, correct: np.ndarray) -> float:
    """KDECE of float64 confidences and 0/1 correctness (spec 3.7); raises when undefined."""
    n = conf.shape[0]
    hit = conf[correct > 0.5]
    if hit.size == 0:
        raise UndefinedMetricError(
            "KDECE is undefined when no prediction is correct (its bandwidth is the "
            "spread of the correct predictions' confidences)"
        )
    bw = float(np.std(hit)) * (n * 2) ** -0.2
    if not bw > 0.0:
        raise UndefinedMetricError(
            "KDECE is undefined when all correct predictions have the same "
            "confidence (zero kernel bandwidth)"
        )
    x = _KDE_GRID
    outside = (x <= 0.0) | (x >= 1.0)
    f1 = _triweight_fftkde(_mirror(hit), bw, x)
    f2 = _triweight_fftkde(_mirror(conf), bw, x)
    f1[outside] = 0.0
    f2[outside] = 0.0
    f1 *= 2.0
    f2 *= 2.0
    acc = float(np.mean(correct))
    active = np.maximum(f1, f2) > 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.minimum(acc * f1 / f2, 1.0)
    ok = active & ~np.isnan(rel)
    g = np.where(ok, np.abs(x - np.where(ok, rel, 0.0)) * f2, 0.0)
    # Where neither density is above 1e-6 the reference carries the previous value forward
    # (from the third grid point on); vectorised as a forward fill from the last anchor.
    idx = np.arange(x.shape[0])
    anchor = active | (idx <= 1)
    last = np.maximum.accumulate(np.where(anchor, idx, 0))
    g = g[last]
    inside = (x >= 0.0) & (x <= 1.0)
    return float(np.trapezoid(g[inside], x[inside]) / np.trapezoid(f2[inside], x[inside]))


def kdece_probs(p: torch.Tensor, y: torch.Tensor) -> float:
    """KDECE of validated (N, K) or (N,) probabilities and labels, following the reference's paths.

    (N, K), K != 2: top-label, the winning score divided by its row sum. K = 2: the reference's
    binary path, score P[:, 1] / row sum and target = label. (N,): confidences with 0/1 flags.
    """
    if p.ndim == 1:
        return kdece_from(p.to(torch.float64).cpu().numpy(), y.to(torch.float64).cpu().numpy())
    p64 = p.to(torch.float64)
    rows = p64.sum(dim=1)
    if p.shape[1] == 2:
        return kdece_from((p64[:, 1] / rows).cpu().numpy(), y.to(torch.float64).cpu().numpy())
    pred = p64.argmax(dim=1)
    conf = p64.gather(1, pred.unsqueeze(1)).squeeze(1) / rows
    return kdece_from(conf.cpu().numpy(), (pred == y).to(torch.float64).cpu().numpy())


# --------------------------------------------------------------------------- smECE


def _smooth_grid(f: np.ndarray, v: np.ndarray, sigma: float, t: np.ndarray) -> np.ndarray:
    """relplot ReflectedGaussianKernel.apply: grid, reflect, convolve, interpolate at t."""
    m = max(2000, round(20 / sigma)) // 2 + 1
    pos = f * (m - 1)
    b = pos.astype(np.int64).clip(0, m - 2)
    frac = pos - b
    vals = np.bincount(b, (1 - frac) * v, minlength=m) + np.bincount(b + 1, frac * v, minlength=m)
    s = np.linspace(0, 1, m)
    ker = np.exp(-(s - 0.5) * (s - 0.5) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    ext = np.concatenate([np.flip(vals)[:-1], vals, np.flip(vals)[1:]])
    sm = scipy.signal.fftconvolve(ext, ker, mode="valid")[m // 2 : m // 2 + m]
    step = 1 / (m - 1)
    i = (t * (m - 1)).astype(np.int64).clip(0, m - 2)
    r = (t - i * step) / step
    return sm[i] * (1 - r) + sm[i + 1] * r


def smece_sigma(conf: np.ndarray, correct: np.ndarray, sigma: float) -> float:
    """Smooth ECE at a fixed bandwidth (relplot ``smECE_sigma``)."""
    t = np.linspace(0, 1, max(round(10 / sigma), 200))
    ys = _smooth_grid(conf, conf - correct, sigma, t)
    dens = _smooth_grid(conf, np.ones_like(conf), sigma, t) + 1e-4
    return float(np.sum(np.abs(ys / dens) * dens) / np.sum(dens))


def smece_from(conf: np.ndarray, correct: np.ndarray, eps: float = 0.001) -> tuple[float, float]:
    """(smECE, sigma*) with relplot's self-consistent bandwidth search (10 halvings)."""

    def fixed_point_above(alpha: float) -> bool:
        return alpha < eps or alpha < smece_sigma(conf, correct, alpha)

    if fixed_point_above(1.0):
        sigma = 1.0
    else:
        start, end = 1.0, 0.0
        for _ in range(10):
            mid = (start + end) / 2
            if fixed_point_above(mid):
                end = mid
            else:
                start = mid
        sigma = start
    return smece_sigma(conf, correct, sigma), sigma


def smece_view(top: TopLabel, sigma: float | None = None) -> float:
    """Smooth ECE on a prepared view (see `smece`)."""
    c = top.conf.to(torch.float64).cpu().numpy()
    z = top.correct.cpu().numpy()
    if sigma is not None:
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise InputError(f"sigma must be a positive number, got {sigma!r}")
        return smece_sigma(c, z, float(sigma))
    return smece_from(c, z)[0]


# --------------------------------------------------------------------------- public functions


def _top(probs: Any, labels: Any) -> TopLabel:
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1] if p.ndim == 2 else None, p.device)
    return TopLabel.from_probs(p, y)


def ksce(probs: Any, labels: Any, *, ties: str = "blocks") -> float:
    """Kolmogorov-Smirnov calibration error (top-label).

    ``ties="blocks"`` (default) takes the maximum only at the ends of runs of equal confidences,
    so the value does not depend on sample order. ``ties="input"`` keeps tied samples in input
    order and looks at every prefix, the study's rule with a deterministic order (the study's
    unstable argsort made tied runs arbitrary). Both agree when confidences are distinct.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        ties: ``"blocks"`` or ``"input"``.

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, or an unknown ``ties``.

    Example:
        >>> import numpy as np
        >>> round(ksce(np.array([0.6, 0.9]), np.array([1, 1])), 3)
        0.25
    """
    return ksce_view(_top(probs, labels), ties)


def mmce(probs: Any, labels: Any, *, width: float = 0.4) -> float:
    """Maximum mean calibration error with the Laplacian kernel exp(-|c - c'| / width).

    Exact, O(N log N) time and O(N) memory. Same value as netcal ``MMCE().measure``.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        width: the kernel's width, a number >= 1/600 (below, the kernel underflows float64).

    Returns:
        The error, a float >= 0.

    Raises:
        InputError: bad probabilities or labels, or a bad ``width``.

    Example:
        >>> import numpy as np
        >>> round(mmce(np.array([0.8, 0.8]), np.array([1, 0])), 3)
        0.3
    """
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width >= 1 / 600):
        # Below 1/600 exp(-|c - c'| / width) underflows float64 across [0, 1].
        raise InputError(f"width must be a number >= 1/600, got {width!r}")
    return mmce_view(_top(probs, labels), float(width))


def kdece(probs: Any, labels: Any) -> float:
    """KDE-based ECE of Zhang et al. (2020), exactly as the study computed KDECE (spec 3.7).

    Top-label for (N, K) input with K != 2 and for (N,) confidences with 0/1 correctness. For
    K = 2 the reference switches to its binary path (score P[:, 1], target = label), and so do we.
    The study returned 0 where the metric is undefined; calnas raises instead.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.

    Returns:
        The error, a float >= 0 (above 1 means the estimator broke down on this input).

    Raises:
        UndefinedMetricError: no correct prediction, or every correct prediction has the same
            confidence (bandwidth 0).
        InputError: bad probabilities or labels.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> c = rng.uniform(0.5, 1.0, 500)
        >>> 0.0 <= kdece(c, (rng.uniform(size=500) < c).astype(int)) < 0.1
        True
    """
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1] if p.ndim == 2 else None, p.device)
    return kdece_probs(p, y)


def smece(probs: Any, labels: Any, *, sigma: float | None = None) -> float:
    """Smooth ECE (Blasiok & Nakkiran 2023), top-label; matches relplot ``smECE`` to ~1e-10.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        sigma: the smoothing bandwidth; None searches the self-consistent one as relplot does.

    Returns:
        The error, a float >= 0.

    Raises:
        InputError: bad probabilities or labels, or a ``sigma`` that is not a positive number.

    Example:
        >>> import numpy as np
        >>> smece(np.array([0.7, 0.7, 0.7, 0.7]), np.array([1, 1, 0, 1])) < 0.1
        True
    """
    return smece_view(_top(probs, labels), sigma)
