"""Synthetic tables for the analysis tests: columns with an exact Kendall tau, exact medians.

A column ``y`` with tau-b ``t`` against a column ``x`` of distinct values is built from a
permutation with exactly ``D = (1 - t) n (n - 1) / 4`` inversions (a Lehmer code filled greedily:
a reversed block, one element out of place, the rest in order), so tau-b is ``1 - 2 D / n0`` to
the rounding of ``D``: the study's two-decimal numbers are reproduced exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.table.store import Store


def perm_with_inversions(n: int, d: int) -> np.ndarray:
    """A permutation of 0..n-1 with exactly ``d`` inversions."""
    n0 = n * (n - 1) // 2
    if not 0 <= d <= n0:
        raise ValueError(f"{d} inversions impossible for n={n}")
    rest = list(range(n))
    out = []
    for i in range(n):
        c = min(d, n - 1 - i)
        d -= c
        out.append(rest.pop(c))
    return np.array(out)


def ranks_with_tau(n: int, tau: float) -> np.ndarray:
    """Ranks (0..n-1) whose tau-b against 0..n-1 is ``tau`` to the nearest 2/n0."""
    n0 = n * (n - 1) // 2
    return perm_with_inversions(n, round((1 - tau) * n0 / 2))


def with_tau(x: np.ndarray, tau: float, low: float, high: float) -> np.ndarray:
    """Values in [low, high] (distinct) whose tau-b against ``x`` (distinct) is ``tau``."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    ranks = ranks_with_tau(n, tau)
    levels = np.linspace(low, high, n)
    y = np.empty(n)
    y[np.argsort(x, kind="stable")] = levels[ranks]
    return y


def with_median(n: int, median: float, spread: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` (odd) distinct values whose median is exactly ``median``, in random order."""
    if n % 2 == 0:
        raise ValueError("an odd count keeps the median one of the values")
    half = n // 2
    vals = np.concatenate(
        [
            median - spread * np.linspace(1, 1e-3, half),
            [median],
            median + spread * np.linspace(1e-3, 1, half),
        ]
    )
    return rng.permutation(vals)


def store(tmp: Path, frames: list[pd.DataFrame]) -> Path:
    """A benchmark directory holding ``frames`` (each with space, dataset, source, hp...)."""
    root = Path(tmp) / "bench"
    st = Store(root)
    for f in frames:
        st.upsert(f)
    return root


def official(space: str, dataset: str, columns: dict[str, np.ndarray], **extra) -> pd.DataFrame:
    """Rows of an official table: config 0..n-1 and the given columns."""
    n = len(next(iter(columns.values())))
    hp = 200 if space == "tss" else 90
    frame = pd.DataFrame({"config": np.arange(n), **columns})
    return frame.assign(space=space, dataset=dataset, source="official", hp=hp, epoch=hp, **extra)


def two_taus(
    x1: np.ndarray, x2: np.ndarray, t1: float, t2: float, rng: np.random.Generator
) -> np.ndarray:
    """Values whose tau-b is ``t1`` against ``x1`` and ``t2`` against ``x2`` (to 0.005), by
    local search over swaps from a start with the first tau exact (small n only: O(n^2))."""
    n = len(x1)
    s1 = np.sign(np.subtract.outer(x1, x1))
    s2 = np.sign(np.subtract.outer(x2, x2))
    n0 = n * (n - 1)

    def taus(y: np.ndarray) -> tuple[float, float]:
        sy = np.sign(np.subtract.outer(y, y))
        return float((s1 * sy).sum() / n0), float((s2 * sy).sum() / n0)

    y = with_tau(x1, t1, 0.0, 1.0)
    err = sum((a - b) ** 2 for a, b in zip(taus(y), (t1, t2), strict=True))
    for _ in range(20000):
        if err < 1e-6:
            break
        i, j = rng.integers(0, n, 2)
        y[i], y[j] = y[j], y[i]
        new = sum((a - b) ** 2 for a, b in zip(taus(y), (t1, t2), strict=True))
        if new <= err:
            err = new
        else:
            y[i], y[j] = y[j], y[i]
    return y


def fill_median(fixed: np.ndarray, n: int, median: float, spread: float) -> np.ndarray:
    """``n - len(fixed)`` more values such that the median of all ``n`` (odd) is ``median``."""
    if n % 2 == 0:
        raise ValueError("n must be odd")
    mid = n // 2
    below = int((fixed < median).sum())
    equal = int((fixed == median).sum())
    m = n - len(fixed)
    nb = mid - below
    ne = 0 if equal else 1
    na = m - nb - ne
    if nb < 0 or na < 0:
        raise ValueError("the fixed values leave no room for that median")
    return np.concatenate(
        [
            median - spread * np.linspace(1, 0.01, nb),
            [median] * ne,
            median + spread * np.linspace(0.01, 1, na),
        ]
    )
