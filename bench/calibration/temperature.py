"""Temperature scaling: the study's split and grid search ("tao2024") and an NLL fit ("nll").

The study (spec section 4) split the evaluated set with numpy's legacy generator:
``np.random.seed(42)`` then ``np.random.shuffle`` of ``list(range(N))``; the first
floor(0.2 N) indices fit T and the rest give the post_ metrics. T came from Mukhoti et al.'s
grid search: T = 0.1, then T += 0.1 a hundred times (so 0.30000000000000004 occurs), keeping
the T with the lowest 15-bin (lo, hi] ECE of softmax(logits / T) under a strict '<' (the first
T wins ties). The NLL-optimal T was printed and not used. ``protocol="nll"`` instead minimises
the mean NLL with a bounded 1-D optimizer (Brent, over log T in [0.01, 100]).

The split uses a private ``np.random.RandomState(42)``, which is the same generator and the
same shuffle as the global one, so the caller's global numpy random state is left untouched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.optimize
import torch

from bench.calibration.inputs import check_labels, check_logits
from bench.checks import check_int
from bench.errors import InputError

__all__ = [
    "PROTOCOLS",
    "TEMPERATURE_GRID",
    "fit_temperature",
    "tao2024_split",
]

PROTOCOLS = ("tao2024", "nll")
NLL_BOUNDS = (0.01, 100.0)


def _grid() -> tuple[float, ...]:
    t, out = 0.1, []
    for _ in range(100):
        out.append(t)
        t += 0.1  # repeated float addition, exactly as the reference loop
    return tuple(out)


TEMPERATURE_GRID: tuple[float, ...] = _grid()


def check_protocol(protocol: str) -> str:
    """Validate a temperature-scaling protocol name."""
    if protocol not in PROTOCOLS:
        raise InputError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return protocol


def tao2024_split(
    n: int, valid_fraction: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """The study's split of N evaluated samples into (fit indices, post indices).

    Args:
        n: the number of evaluated samples (at least 5).
        valid_fraction: the share that fits T (floor of ``valid_fraction * n`` samples).
        seed: the seed of the private legacy ``RandomState``.

    Returns:
        ``(fit, post)``: two int64 index arrays that partition ``range(n)``.

    Raises:
        InputError: ``n`` is not a positive integer, or leaves the fit or post split empty.

    Example:
        >>> fit, post = tao2024_split(10)
        >>> len(fit), len(post), sorted(np.concatenate([fit, post]).tolist()) == list(range(10))
        (2, 8, True)
    """
    n = check_int(n, "n")
    n_fit = math.floor(valid_fraction * n)
    if n_fit < 1 or n_fit >= n:
        raise InputError(
            f"the tao2024 split needs N >= 5 (floor(0.2 N) >= 1 fit sample and a "
            f"non-empty post split), got N = {n}"
        )
    order = list(range(int(n)))
    np.random.RandomState(seed).shuffle(order)
    order_arr = np.asarray(order, dtype=np.int64)
    return order_arr[:n_fit], order_arr[n_fit:]


def _grid_eces(logits: torch.Tensor, correct: torch.Tensor, temps: tuple[float, ...]) -> np.ndarray:
    """15-bin (lo, hi] ECE of softmax(logits / T) for every T, bins counted with one bincount."""
    n = logits.shape[0]
    confs = torch.stack([torch.softmax(logits / t, dim=1).max(dim=1).values for t in temps])
    c64 = confs.to(torch.float64)
    edges = torch.from_numpy(np.linspace(0.0, 1.0, 16)).to(logits.device)
    # (lo, hi]: index j with e_j < c <= e_{j+1}; softmax maxima are >= 1/K > 0, so j >= 0.
    j = torch.searchsorted(edges, c64.contiguous(), right=False) - 1
    j = j.clamp(0, 14) + 15 * torch.arange(len(temps), device=logits.device).unsqueeze(1)
    flat = j.reshape(-1)
    size = 15 * len(temps)
    sc = torch.bincount(flat, weights=c64.reshape(-1), minlength=size)
    sz = torch.bincount(flat, weights=correct.repeat(len(temps)), minlength=size)
    return ((sc - sz).abs().reshape(len(temps), 15).sum(dim=1) / n).cpu().numpy()


def fit_temperature_grid(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The study's T: first grid value with the lowest 15-bin ECE (strict '<')."""
    correct = (logits.argmax(dim=1) == labels).to(torch.float64)
    eces = _grid_eces(logits, correct, TEMPERATURE_GRID)
    best, best_t = 10.0**7, 1.0
    for t, e in zip(TEMPERATURE_GRID, eces.tolist(), strict=True):
        if e < best:
            best, best_t = e, t
    return best_t


def fit_temperature_nll(
    logits: torch.Tensor, labels: torch.Tensor, bounds: tuple[float, float] = NLL_BOUNDS
) -> float:
    """T minimising the mean NLL, bounded Brent search over log T in `bounds`."""
    lg = logits.to(torch.float64)
    idx = labels.unsqueeze(1)

    def nll(u: float) -> float:
        lp = torch.log_softmax(lg / math.exp(u), dim=1)
        return float(-lp.gather(1, idx).mean())

    # NLL is convex in 1/T, so it is unimodal in log T and Brent's bounded search finds it.
    res = scipy.optimize.minimize_scalar(
        nll,
        bounds=(math.log(bounds[0]), math.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-7},
    )
    return float(math.exp(res.x))


def fit_temperature(logits: Any, labels: Any, protocol: str = "tao2024") -> float:
    """Fit a temperature on (logits, labels) by the protocol's criterion (no split here).

    Args:
        logits: (N, K) logits.
        labels: (N,) class indices.
        protocol: ``"tao2024"`` (the study's grid, lowest 15-bin ECE) or ``"nll"`` (bounded
            NLL minimisation).

    Returns:
        T > 0; divide the logits by it before the softmax.

    Raises:
        InputError: bad logits or labels, or an unknown ``protocol``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 3, 200)
        >>> lg = 5 * np.eye(3)[y] + 3 * rng.standard_normal((200, 3))
        >>> 0.1 <= fit_temperature(lg, y) <= 10.0
        True
    """
    lg = check_logits(logits)
    y = check_labels(labels, lg.shape[0], lg.shape[1], lg.device)
    if check_protocol(protocol) == "tao2024":
        return fit_temperature_grid(lg, y)
    return fit_temperature_nll(lg, y)
