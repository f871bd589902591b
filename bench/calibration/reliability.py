"""Reliability diagrams (data and a matplotlib plot) and seeded bootstrap confidence intervals.

matplotlib is imported lazily and only through its object-oriented Agg canvas, so importing this
module is cheap and never changes the caller's pyplot backend.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.calibration.binned import bin_sums, check_edges, mass_cuts, width_cuts
from bench.calibration.inputs import TopLabel, check_bins, check_labels, check_probs, torch_threads
from bench.checks import check_int
from bench.errors import InputError
from bench.fileio import atomic_write_bytes

__all__ = ["bootstrap_ci", "plot_reliability", "reliability_data"]


def reliability_data(
    probs: Any, labels: Any, n_bins: int = 15, *, binning: str = "width", edges: str = "dataset"
) -> dict[str, np.ndarray | float]:
    """Per-bin data of a top-label reliability diagram.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_bins: number of bins B.
        binning: "width" (equal width, ``edges`` convention) or "mass" (uncertainty-calibration
            equal-mass).
        edges: bin-edge convention of :func:`~bench.calibration.binned.ece`. Under
            ``"torchmetrics"``/``"relplot"`` the last entry is the [1, 1] bin.

    Returns:
        Numpy arrays ``lower``, ``upper`` (bin limits), ``count``, ``confidence`` (mean c) and
        ``accuracy`` (mean z), one entry per bin, plus the scalar ``ece`` of those bins. Empty
        bins have count 0 and NaN mean confidence/accuracy (there is nothing to average).

    Raises:
        InputError: bad probabilities or labels, a bad ``n_bins``, ``binning`` or ``edges``.

    Example:
        >>> import numpy as np
        >>> d = reliability_data(np.array([0.2, 0.7, 0.9]), np.array([0, 1, 1]), 2)
        >>> d["count"].tolist(), round(float(d["ece"]), 3)
        ([1.0, 2.0], 0.2)
    """
    n_bins = check_bins(n_bins)
    edges = check_edges(edges)
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1] if p.ndim == 2 else None, p.device)
    top = TopLabel.from_probs(p, y)
    s = top.s_conf
    if binning == "width":
        cuts = width_cuts(s, n_bins, edges, top.dtype)
        e = np.linspace(0.0, 1.0, n_bins + 1)
        lower, upper = e[:-1], e[1:]
        if edges in ("torchmetrics", "relplot"):
            lower, upper = np.append(lower, 1.0), np.append(upper, 1.0)
    elif binning == "mass":
        cuts = mass_cuts(s, n_bins, top.dtype)
        c = cuts.cpu().numpy()
        sv = s.cpu().numpy()
        # Report each bin's limits as the midpoints the bins were cut at (0 and 1 at the ends).
        inner = [
            (sv[i - 1] + sv[i]) / 2 if 0 < i < len(sv) else (0.0 if i == 0 else 1.0)
            for i in c[1:-1]
        ]
        lower = np.array([0.0, *inner])
        upper = np.array([*inner, 1.0])
    else:
        raise InputError(f"binning must be 'width' or 'mass', got {binning!r}")
    cnt, sc, sz = bin_sums(cuts, top.cs_conf, top.cs_correct)
    cnt_np, sc_np, sz_np = (t.cpu().numpy() for t in (cnt, sc, sz))
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(cnt_np > 0, sc_np / cnt_np, np.nan)
        acc = np.where(cnt_np > 0, sz_np / cnt_np, np.nan)
    return {
        "lower": np.asarray(lower, dtype=np.float64),
        "upper": np.asarray(upper, dtype=np.float64),
        "count": cnt_np,
        "confidence": conf,
        "accuracy": acc,
        "ece": float(np.abs(sc_np - sz_np).sum() / top.n),
    }


def plot_reliability(
    probs: Any,
    labels: Any,
    n_bins: int = 15,
    *,
    binning: str = "width",
    edges: str = "dataset",
    title: str | None = None,
    path: str | Path | None = None,
) -> Any:
    """Reliability diagram with a count histogram; returns the matplotlib Figure.

    Top panel: accuracy per bin (bars at the bin limits) against the diagonal, with the gap to
    the mean confidence shaded; bottom panel: samples per bin.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_bins: number of bins B.
        binning: "width" or "mass" (see :func:`reliability_data`).
        edges: bin-edge convention (see :func:`reliability_data`).
        title: the top panel's title (None: the ECE of the bins).
        path: if given, save the figure there, in the format its suffix names (``.png``,
            ``.pdf``, ``.svg``; PNG without one), written atomically.

    Returns:
        The matplotlib ``Figure`` (not registered with pyplot).

    Raises:
        InputError: as :func:`reliability_data`.

    Example:
        >>> import numpy as np, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "reliability.png")
        >>> fig = plot_reliability(np.array([0.2, 0.7, 0.9]), np.array([0, 1, 1]), 2, path=path)
        >>> len(fig.axes), open(path, "rb").read(4)
        (2, b'\x89PNG')
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    d = reliability_data(probs, labels, n_bins, binning=binning, edges=edges)
    lower, upper = d["lower"], d["upper"]
    width = np.maximum(upper - lower, 1e-3)
    fig = Figure(figsize=(5, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax, hx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ok = d["count"] > 0
    ax.bar(
        lower[ok],
        d["accuracy"][ok],
        width=width[ok],
        align="edge",
        color="#4c72b0",
        edgecolor="black",
        label="accuracy",
    )
    ax.bar(
        lower[ok],
        d["confidence"][ok] - d["accuracy"][ok],
        bottom=d["accuracy"][ok],
        width=width[ok],
        align="edge",
        color="#dd8452",
        alpha=0.5,
        edgecolor="#dd8452",
        label="gap to confidence",
    )
    ax.plot([0, 1], [0, 1], "--", color="gray")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    ax.set_title(title or f"ECE ({binning}, {n_bins} bins) = {d['ece']:.4f}")
    hx.bar(lower, d["count"], width=width, align="edge", color="gray", edgecolor="black")
    hx.set_xlabel("confidence")
    hx.set_ylabel("count")
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format=Path(path).suffix.lstrip(".").lower() or "png")
        atomic_write_bytes(path, buf.getvalue())
    return fig


def bootstrap_ci(
    metric: Callable[[Any, Any], float],
    probs: Any,
    labels: Any,
    *,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    method: str = "percentile",
) -> dict[str, float]:
    """Seeded bootstrap confidence interval for any metric ``metric(probs, labels) -> float``.

    Resamples rows with replacement (numpy ``default_rng(seed)``) and recomputes the metric,
    which receives the same kind of arrays it was given (numpy or torch). The same seed gives
    the same interval.

    Args:
        metric: a function ``metric(probs, labels) -> float``, such as
            :func:`~bench.calibration.binned.ece`.
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_resamples: bootstrap resamples (at least 2).
        alpha: 1 - confidence level, in (0, 1).
        seed: seed of the resampling generator.
        method: ``"percentile"``: the alpha/2 and 1 - alpha/2 quantiles; ``"basic"``: those
            reflected around the plug-in estimate (uncertainty-calibration's convention).

    Returns:
        ``estimate`` (the metric on all rows), ``low``, ``high`` and ``std`` (of the resamples).

    Raises:
        InputError: a metric that is not callable, bad probabilities or labels, or a bad
            ``n_resamples``, ``alpha`` or ``method``.

    Example:
        >>> import numpy as np
        >>> from bench.calibration.binned import ece
        >>> rng = np.random.default_rng(0)
        >>> c = rng.uniform(0.5, 1, 300); z = (rng.uniform(size=300) < c).astype(int)
        >>> ci = bootstrap_ci(ece, c, z, n_resamples=50)
        >>> ci["low"] <= ci["high"] and ci == bootstrap_ci(ece, c, z, n_resamples=50)
        True
    """
    if not callable(metric):
        raise InputError("metric must be a callable metric(probs, labels) -> float")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=2)
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise InputError(f"alpha must be in (0, 1), got {alpha!r}")
    if method not in ("percentile", "basic"):
        raise InputError(f"method must be 'percentile' or 'basic', got {method!r}")
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1] if p.ndim == 2 else None, p.device)
    # Hand the metric the caller's own kind of array: numpy stays numpy, torch stays torch.
    as_numpy = not isinstance(probs, torch.Tensor)
    if as_numpy:
        p_in, y_in = p.cpu().numpy(), y.cpu().numpy()
    else:
        p_in, y_in = p, y
    estimate = float(metric(p_in, y_in))
    rng = np.random.default_rng(seed)
    n = p.shape[0]
    stats = np.empty(int(n_resamples))
    with torch_threads(1 if p.device.type == "cpu" else None):
        for i in range(int(n_resamples)):
            idx = rng.integers(0, n, size=n)
            if as_numpy:
                stats[i] = float(metric(p_in[idx], y_in[idx]))
            else:
                t_idx = torch.from_numpy(idx).to(p.device)
                stats[i] = float(metric(p_in.index_select(0, t_idx), y_in.index_select(0, t_idx)))
    lo_q, hi_q = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    if method == "basic":
        lo_q, hi_q = 2 * estimate - hi_q, 2 * estimate - lo_q
    return {
        "estimate": estimate,
        "low": float(lo_q),
        "high": float(hi_q),
        "std": float(stats.std(ddof=1)),
    }
