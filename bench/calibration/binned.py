"""Binned calibration errors: ECE, ECE_em, MCE, cwCE, cwCE_em, debiased l2 ECE and top-label ECE.

Every binned metric here is a sum over bins of |sum of scores - sum of targets|, so it only needs
the *cut positions* of the bins in the sorted scores: with float64 prefix sums S, a bin holding
sorted positions [a, b) has n = b - a, score sum S_c[b] - S_c[a] and target sum S_z[b] - S_z[a].
Cuts come from one `searchsorted` of the B+1 edges into the sorted scores, so a bin count costs
O(B log N) once the scores are sorted, and all bin counts share one sort (see
`bench.calibration.inputs`).
Classwise metrics do the same for K rows at once (batched searchsorted).

Edge conventions (`edges=`), with the spec's §6 edge vector giving 0.475 / 0.400 / 0.400 / 0.250:

- ``"dataset"`` (default): bins (lo, hi] on float64 ``np.linspace(0, 1, B+1)``; a score exactly 0
  is in no bin but still counts in N (the study's ``get_ece``, uncertainty-calibration ``get_ece``).
- ``"torchmetrics"``: [lo, hi) on ``torch.linspace`` in the scores' dtype, plus an extra bin for
  exactly 1.0 (torchmetrics >= 1.0).
- ``"relplot"``: bin ``int(c / (1/B))`` in the scores' dtype, B+1 slots (relplot ``binnedECE``).
- ``"netcal"``: [lo, hi) on float64 linspace, last bin closed [lo, 1] (numpy histogram, netcal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.calibration.inputs import Classwise, TopLabel, check_bins, check_labels, check_probs
from bench.errors import InputError

__all__ = [
    "CWCE_EM_VARIANTS",
    "EDGE_CONVENTIONS",
    "cwce",
    "cwce_em",
    "ece",
    "ece_em",
    "ece_l2_debiased",
    "mce",
    "tl_ece",
]

EDGE_CONVENTIONS = ("dataset", "torchmetrics", "relplot", "netcal")
CWCE_EM_VARIANTS = ("ace", "marginal")
_VARIANT_ALIASES = {"ace": "ace", "a": "ace", "marginal": "marginal", "m": "marginal"}


def check_edges(edges: str) -> str:
    """Validate an edge-convention name."""
    if edges not in EDGE_CONVENTIONS:
        raise InputError(f"edges must be one of {EDGE_CONVENTIONS}, got {edges!r}")
    return edges


def check_variant(variant: str) -> str:
    """Validate a cwCE_em variant name ('ace'/'A' or 'marginal'/'M')."""
    v = _VARIANT_ALIASES.get(str(variant).lower())
    if v is None:
        raise InputError(f"variant must be 'ace' (A) or 'marginal' (M), got {variant!r}")
    return v


# --------------------------------------------------------------------------- cut positions


def _search(s: torch.Tensor, q: torch.Tensor, right: bool) -> torch.Tensor:
    """Batched searchsorted: s (..., N) sorted, q (Q,) shared by all rows -> (..., Q)."""
    if s.ndim > 1:
        q = q.expand(*s.shape[:-1], q.shape[-1]).contiguous()
    return torch.searchsorted(s, q, right=right)


def _append(cuts: torch.Tensor, value: int | torch.Tensor, front: bool = False) -> torch.Tensor:
    pad = torch.full((*cuts.shape[:-1], 1), 0, dtype=cuts.dtype, device=cuts.device)
    pad = pad + value if isinstance(value, int) else pad + value.reshape(*cuts.shape[:-1], 1)
    return torch.cat([pad, cuts] if front else [cuts, pad], dim=-1)


def width_cuts(s: torch.Tensor, n_bins: int, edges: str, dtype: torch.dtype) -> torch.Tensor:
    """Cut positions of equal-width bins in sorted float64 scores `s` (..., N).

    Returns (..., nb+1) int64 positions; bin j holds sorted positions [cut_j, cut_{j+1}).
    """
    n = s.shape[-1]
    dev = s.device
    if edges == "dataset":
        e = torch.from_numpy(np.linspace(0.0, 1.0, n_bins + 1)).to(dev)
        # count(c <= e_j): the first cut drops exact zeros, the last cut is N.
        return _search(s, e, right=True)
    if edges == "netcal":
        e = torch.from_numpy(np.linspace(0.0, 1.0, n_bins + 1)[:-1].copy()).to(dev)
        return _append(_search(s, e, right=False), n)
    if edges == "torchmetrics":
        e = torch.linspace(0.0, 1.0, n_bins + 1, dtype=dtype, device=dev).to(torch.float64)
        return _append(_search(s, e, right=False), n)
    if edges == "relplot":
        # relplot: bin = int(f / (1.0 / B)) in the scores' dtype; monotone in f, so bins are runs.
        key = (s.to(dtype) / (1.0 / n_bins)).to(torch.int64).contiguous()
        j = torch.arange(n_bins + 2, device=dev, dtype=torch.int64)
        return _search(key, j, right=False)
    raise InputError(f"edges must be one of {EDGE_CONVENTIONS}, got {edges!r}")


def mass_cuts(s: torch.Tensor, n_bins: int, dtype: torch.dtype) -> torch.Tensor:
    """Cut positions of uncertainty-calibration's ``get_equal_bins`` boundaries.

    array_split the sorted scores into min(B, N) chunks, put a boundary at the midpoint (in the
    scores' dtype) of each pair of neighbouring chunks, end with 1.0, and assign a score to the
    first boundary >= it (``searchsorted`` side='left', so a score on a boundary goes low). Tied
    midpoints would be deduplicated there; here they give empty bins, which add nothing.
    """
    n = s.shape[-1]
    nb = min(n_bins, n)
    q, r = divmod(n, nb)
    sizes = np.full(nb, q, dtype=np.int64)
    sizes[:r] += 1
    ends = torch.from_numpy(np.cumsum(sizes)[:-1].copy()).to(s.device)  # first index of chunk j+1
    if ends.numel():
        lo = s.index_select(-1, ends - 1).to(dtype)
        hi = s.index_select(-1, ends).to(dtype)
        mids = ((lo + hi) / 2).to(torch.float64)
        one = torch.ones((*s.shape[:-1], 1), dtype=torch.float64, device=s.device)
        bounds = torch.cat([mids, one], dim=-1).contiguous()
    else:
        bounds = torch.ones((*s.shape[:-1], 1), dtype=torch.float64, device=s.device)
    cuts = torch.searchsorted(s, bounds, right=True)
    return _append(cuts, 0, front=True)


def ace_cuts(s: torch.Tensor, n_zero: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Cut positions of Nixon et al.'s ACE bins (the study's ``get_ace``) for rows of `s` (K, N).

    Only strictly positive entries are binned (zeros sort first and are skipped); each class gets
    bins of floor(n_k / B) entries with the remainder in the last bin.
    """
    n = s.shape[-1]
    pos = n - n_zero  # (K,)
    size = torch.div(pos, n_bins, rounding_mode="floor")
    j = torch.arange(n_bins, device=s.device, dtype=torch.int64)
    cuts = n_zero.unsqueeze(-1) + size.unsqueeze(-1) * j  # (K, B)
    return _append(cuts, n)


def bin_sums(cuts: torch.Tensor, cs_a: torch.Tensor, cs_b: torch.Tensor):
    """Per-bin (count, sum a, sum b) from cut positions and prefix sums (all float64)."""
    ga = torch.gather(cs_a, -1, cuts)
    gb = torch.gather(cs_b, -1, cuts)
    count = (cuts[..., 1:] - cuts[..., :-1]).to(torch.float64)
    return count, ga[..., 1:] - ga[..., :-1], gb[..., 1:] - gb[..., :-1]


def _l1(cuts: torch.Tensor, cs_a: torch.Tensor, cs_b: torch.Tensor, n: int) -> torch.Tensor:
    """sum_j (n_j / N) |mean a - mean b| = sum_j |sum a - sum b| / N (per row)."""
    _, sa, sb = bin_sums(cuts, cs_a, cs_b)
    return (sa - sb).abs().sum(dim=-1) / n


def _l2(cuts: torch.Tensor, cs_a: torch.Tensor, cs_b: torch.Tensor, n: int) -> torch.Tensor:
    """sqrt(sum_j (n_j / N) (mean a - mean b)^2) (torchmetrics norm='l2', no debiasing)."""
    cnt, sa, sb = bin_sums(cuts, cs_a, cs_b)
    sq = torch.where(cnt > 0, (sa - sb) ** 2 / cnt.clamp_min(1.0), torch.zeros_like(sa))
    return (sq.sum(dim=-1) / n).sqrt()


def _max(cuts: torch.Tensor, cs_a: torch.Tensor, cs_b: torch.Tensor) -> torch.Tensor:
    """Max over non-empty bins of |mean a - mean b| (0 when every bin is empty)."""
    cnt, sa, sb = bin_sums(cuts, cs_a, cs_b)
    gap = torch.where(cnt > 0, (sa - sb).abs() / cnt.clamp_min(1.0), torch.zeros_like(sa))
    return gap.max(dim=-1).values


# --------------------------------------------------------------------------- view-level metrics


def ece_view(top: TopLabel, n_bins: int, edges: str = "dataset", norm: str = "l1") -> float:
    """Equal-width top-label ECE on a prepared view (norm "l1", "l2" or "max")."""
    cuts = width_cuts(top.s_conf, n_bins, edges, top.dtype)
    if norm == "l1":
        return float(_l1(cuts, top.cs_conf, top.cs_correct, top.n))
    if norm == "l2":
        return float(_l2(cuts, top.cs_conf, top.cs_correct, top.n))
    if norm == "max":
        return float(_max(cuts, top.cs_conf, top.cs_correct))
    raise InputError(f"norm must be 'l1', 'l2' or 'max', got {norm!r}")


def mce_view(top: TopLabel, n_bins: int, edges: str = "dataset") -> float:
    """Equal-width top-label MCE on a prepared view."""
    cuts = width_cuts(top.s_conf, n_bins, edges, top.dtype)
    return float(_max(cuts, top.cs_conf, top.cs_correct))


def ece_em_view(top: TopLabel, n_bins: int) -> float:
    """Equal-mass top-label ECE (uncertainty-calibration ``get_ece_em``) on a prepared view."""
    cuts = mass_cuts(top.s_conf, n_bins, top.dtype)
    return float(_l1(cuts, top.cs_conf, top.cs_correct, top.n))


def cwce_view(cw: Classwise, n_bins: int, edges: str = "dataset") -> float:
    """Classwise equal-width ECE, mean over classes, each class weighted by n_jk / N."""
    cuts = width_cuts(cw.vals, n_bins, edges, cw.dtype)
    return float(_l1(cuts, cw.cs_vals, cw.cs_targets, cw.n).mean())


def cwce_em_view(cw: Classwise, n_bins: int, variant: str = "ace") -> float:
    """Classwise equal-mass ECE: variant 'ace' (Nixon, TSS files) or 'marginal' (Kumar, SSS)."""
    if variant == "ace":
        cuts = ace_cuts(cw.vals, cw.n_zero, n_bins)
    else:
        cuts = mass_cuts(cw.vals, n_bins, cw.dtype)
    return float(_l1(cuts, cw.cs_vals, cw.cs_targets, cw.n).mean())


def l2_debiased_view(top: TopLabel, n_bins: int, binning: str = "mass") -> float:
    """Kumar et al. (2019) debiased l2 ECE on a prepared view."""
    if binning == "mass":
        cuts = mass_cuts(top.s_conf, n_bins, top.dtype)
    elif binning == "width":
        # uncertainty-calibration's get_equal_prob_bins: boundaries i/B, side='left', 0 in bin 0.
        b = torch.tensor(
            [i / n_bins for i in range(1, n_bins + 1)],
            dtype=torch.float64,
            device=top.s_conf.device,
        )
        cuts = _append(torch.searchsorted(top.s_conf, b, right=True), 0, front=True)
    else:
        raise InputError(f"binning must be 'mass' or 'width', got {binning!r}")
    cnt, sc, sz = bin_sums(cuts, top.cs_conf, top.cs_correct)
    ok = cnt >= 2
    c = cnt.clamp_min(2.0)
    ybar = sz / c
    term = ((sc - sz) / c) ** 2 - ybar * (1.0 - ybar) / (c - 1.0)
    sq = torch.where(ok, term * cnt / top.n, torch.zeros_like(term)).sum()
    return float(sq.clamp_min(0.0).sqrt())


def tl_ece_view(
    top: TopLabel, n_bins: int, binning: str = "width", edges: str = "dataset"
) -> float:
    """Gupta & Ramdas top-label ECE: sum_k P(pred = k) ECE(c | pred = k)."""
    if top.pred is None:
        raise InputError("TL-ECE needs (N, K) probabilities: it bins within each predicted class")
    if binning not in ("width", "mass"):
        raise InputError(f"binning must be 'width' or 'mass', got {binning!r}")
    c64 = top.conf.to(torch.float64)
    # Sort by (class, confidence): each predicted class is one sorted run.
    o1 = torch.argsort(c64, stable=True)
    order = o1[torch.argsort(top.pred[o1], stable=True)]
    s, z = c64[order], top.correct[order]
    cs_c = torch.nn.functional.pad(torch.cumsum(s, 0), (1, 0))
    cs_z = torch.nn.functional.pad(torch.cumsum(z, 0), (1, 0))
    counts = torch.bincount(top.pred).tolist()
    total = torch.zeros((), dtype=torch.float64, device=s.device)
    start = 0
    for cnt in counts:
        if cnt:
            seg = s[start : start + cnt]
            if binning == "width":
                cuts = width_cuts(seg, n_bins, edges, top.dtype)
            else:
                cuts = mass_cuts(seg, n_bins, top.dtype)
            cuts = cuts + start
            _, sa, sb = bin_sums(cuts, cs_c, cs_z)
            total = total + (sa - sb).abs().sum()
        start += cnt
    return float(total / top.n)


# --------------------------------------------------------------------------- public functions


def _top(probs: Any, labels: Any) -> TopLabel:
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], p.shape[1] if p.ndim == 2 else None, p.device)
    return TopLabel.from_probs(p, y)


def _classwise(probs: Any, labels: Any) -> Classwise:
    p = check_probs(probs)
    if p.ndim != 2:
        raise InputError("classwise metrics need (N, K) probabilities, not 1-D confidences")
    y = check_labels(labels, p.shape[0], p.shape[1], p.device)
    return Classwise.from_probs(p, y)


def ece(
    probs: Any, labels: Any, n_bins: int = 15, *, edges: str = "dataset", norm: str = "l1"
) -> float:
    """Expected calibration error with B equal-width bins (top-label).

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_bins: number of bins B.
        edges: bin-edge convention, one of :data:`EDGE_CONVENTIONS` (see the module docstring).
        norm: "l1" (default, the dataset's ECE), "l2" (root of the size-weighted mean squared
            gap, torchmetrics norm='l2' without debiasing) or "max" (= :func:`mce`).

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, a bad ``n_bins``, ``edges`` or ``norm``.

    Example:
        >>> import numpy as np
        >>> c = np.array([0.5, 0.5, 0.6, 0.75, 0.75, 0.9, 1.0, 1.0])
        >>> z = np.array([0, 0, 1, 1, 1, 1, 0, 0])
        >>> round(ece(c, z, 4), 3), round(ece(c, z, 4, edges="netcal"), 3)
        (0.475, 0.25)
    """
    return ece_view(_top(probs, labels), check_bins(n_bins), check_edges(edges), norm)


def mce(probs: Any, labels: Any, n_bins: int = 15, *, edges: str = "dataset") -> float:
    """Maximum calibration error over non-empty equal-width bins.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_bins: number of bins B.
        edges: bin-edge convention, one of :data:`EDGE_CONVENTIONS` (see the module docstring).

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, a bad ``n_bins`` or ``edges``.

    Example:
        >>> import numpy as np
        >>> round(mce(np.array([0.9, 0.6, 0.2]), np.array([1, 0, 1]), 2), 2)
        0.8
    """
    return mce_view(_top(probs, labels), check_bins(n_bins), check_edges(edges))


def ece_em(probs: Any, labels: Any, n_bins: int = 15) -> float:
    """ECE with equal-mass bins, exactly uncertainty-calibration's ``get_ece_em``.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_bins: number of bins B (min(B, N) are used).

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, or a bad ``n_bins``.

    Example:
        >>> import numpy as np
        >>> round(ece_em(np.array([0.6, 0.7, 0.8, 0.9]), np.array([1, 1, 0, 1]), 2), 3)
        0.35
    """
    return ece_em_view(_top(probs, labels), check_bins(n_bins))


def cwce(probs: Any, labels: Any, n_bins: int = 15, *, edges: str = "dataset") -> float:
    """Classwise ECE (Nixon's SCE, the study's ``get_classwise_ece``): mean over classes.

    Args:
        probs: (N, K) probabilities.
        labels: (N,) class indices.
        n_bins: number of bins B.
        edges: bin-edge convention, one of :data:`EDGE_CONVENTIONS` (see the module docstring).

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, 1-D ``probs``, a bad ``n_bins`` or ``edges``.

    Example:
        >>> import numpy as np
        >>> p = np.array([[0.8, 0.2], [0.3, 0.7]])
        >>> round(cwce(p, np.array([0, 0]), 2), 3)
        0.45
    """
    return cwce_view(_classwise(probs, labels), check_bins(n_bins), check_edges(edges))


def cwce_em(probs: Any, labels: Any, n_bins: int = 15, *, variant: str = "ace") -> float:
    """Classwise equal-mass ECE.

    ``variant="ace"`` (default, alias "A"): Nixon et al.'s ACE as the study's ``get_ace`` wrote the
    TSS ``cwCE_em`` columns: per class, the strictly positive probabilities sorted, floor(n_k/B)
    per bin with the remainder in the last bin, summed |sum p - sum t| / (N K). Ties are ordered by
    target (the study's unstable sort left them arbitrary); when n_k < B the empty bins add 0
    (the study produced NaN there). ``variant="marginal"`` (alias "M"): Kumar's marginal
    equal-mass CE, uncertainty-calibration ``get_ece_em(mode='marginal')`` (the SSS files).

    Args:
        probs: (N, K) probabilities.
        labels: (N,) class indices.
        n_bins: number of bins B.
        variant: ``"ace"``/``"A"`` or ``"marginal"``/``"M"``.

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, 1-D ``probs``, a bad ``n_bins`` or ``variant``.

    Example:
        >>> import numpy as np
        >>> p = np.array([[0.8, 0.2], [0.3, 0.7]])
        >>> round(cwce_em(p, np.array([0, 1]), 1), 3)
        0.05
    """
    return cwce_em_view(_classwise(probs, labels), check_bins(n_bins), check_variant(variant))


def ece_l2_debiased(probs: Any, labels: Any, n_bins: int = 15, *, binning: str = "mass") -> float:
    """Debiased l2 ECE of Kumar et al. (2019), top-label.

    Per bin with n_b >= 2: (mean c - mean z)^2 - zbar (1 - zbar) / (n_b - 1), weighted n_b / N;
    the sum is clipped at 0 and square-rooted (uncertainty-calibration ``get_ece`` / ``_get_ce``
    with p=2, debias=True).

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.
        n_bins: number of bins B.
        binning: "mass" (get_equal_bins, default) or "width" (boundaries i/B).

    Returns:
        The debiased l2 error, a float >= 0.

    Raises:
        InputError: bad probabilities or labels, a bad ``n_bins`` or ``binning``.

    Example:
        >>> import numpy as np
        >>> ece_l2_debiased(np.array([0.9, 0.9, 0.9, 0.9]), np.array([1, 1, 1, 1]), 1) > 0
        True
    """
    return l2_debiased_view(_top(probs, labels), check_bins(n_bins), binning)


def tl_ece(
    probs: Any, labels: Any, n_bins: int = 15, *, binning: str = "width", edges: str = "dataset"
) -> float:
    """Top-label ECE (Gupta & Ramdas 2021): bins within each predicted class, weighted by size.

    Args:
        probs: (N, K) probabilities.
        labels: (N,) class indices.
        n_bins: number of bins B.
        binning: "width" (default) or "mass" bins within each class.
        edges: bin-edge convention, one of :data:`EDGE_CONVENTIONS` (see the module docstring).

    Returns:
        The error, a float in [0, 1].

    Raises:
        InputError: bad probabilities or labels, 1-D ``probs``, a bad ``n_bins``, ``binning``
            or ``edges``.

    Example:
        >>> import numpy as np
        >>> p = np.array([[0.9, 0.1], [0.2, 0.8]])
        >>> round(tl_ece(p, np.array([0, 0]), 1), 3)
        0.45
    """
    return tl_ece_view(_top(probs, labels), check_bins(n_bins), binning, check_edges(edges))
