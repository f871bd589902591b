"""calnas calibration metrics engine: every measurement of the published dataset, and more.

Public entry point. `evaluate` turns one network's test-set logits into a table row (the published
columns of Tao et al. 2024 plus calnas's extras); the functional metrics below take probabilities
(an (N, K) array with integer labels, or (N,) top-label confidences with 0/1 correctness) as numpy
arrays or torch tensors on any device, and return Python floats.

Definitions follow ../shared/specs/calibration-metrics.md; the modules behind this one are
`bench.binning` (binned errors), `bench.kernel_metrics` (KSCE, KDECE, MMCE, smECE),
`bench.temperature` (temperature scaling) and `bench.reliability` (diagrams, bootstrap).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> labels = rng.integers(0, 10, 1000)
>>> logits = 4 * np.eye(10)[labels] + 2 * rng.standard_normal((1000, 10))
>>> row = evaluate(logits.astype(np.float32), labels)
>>> len([k for k in row if k.startswith(("pre_", "post_"))]) >= 100, 0 < row["acc"] <= 1
(True, True)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch

from bench.binning import (
    CWCE_EM_VARIANTS,
    EDGE_CONVENTIONS,
    _l1,
    _max,
    ace_cuts,
    check_edges,
    check_variant,
    cwce,
    cwce_em,
    ece,
    ece_em,
    ece_l2_debiased,
    l2_debiased_view,
    mass_cuts,
    mce,
    tl_ece,
    tl_ece_view,
    width_cuts,
)
from bench.calib_inputs import (
    Classwise,
    TopLabel,
    UndefinedMetricError,
    check_bins,
    check_labels,
    check_logits,
    check_probs,
    softmax,
    torch_threads,
)
from bench.kernel_metrics import (
    kdece,
    kdece_probs,
    ksce,
    ksce_view,
    mmce,
    mmce_view,
    smece,
    smece_view,
)
from bench.reliability import bootstrap_ci, plot_reliability, reliability_data
from bench.temperature import (
    PROTOCOLS,
    TEMPERATURE_GRID,
    check_protocol,
    fit_temperature,
    fit_temperature_grid,
    fit_temperature_nll,
    tao2024_split,
)

__all__ = [
    "CWCE_EM_VARIANTS",
    "DATASET_BINS",
    "EDGE_CONVENTIONS",
    "PROTOCOLS",
    "TEMPERATURE_GRID",
    "UndefinedMetricError",
    "accuracy",
    "bootstrap_ci",
    "brier",
    "confidence_means",
    "cwce",
    "cwce_em",
    "ece",
    "ece_em",
    "ece_l2_debiased",
    "evaluate",
    "fit_temperature",
    "kdece",
    "ksce",
    "mce",
    "mmce",
    "nll",
    "ood_auroc",
    "plot_reliability",
    "reliability_data",
    "smece",
    "tao2024_split",
    "temperature_scale",
    "tl_ece",
]

DATASET_BINS: tuple[int, ...] = (5, 10, 15, 20, 25, 50, 100, 200, 500)
BINNED_FAMILIES = ("ECE", "ECE_em", "cwCE", "cwCE_em", "MCE")
UNBINNED_FAMILIES = ("KSCE", "KDECE", "MMCE", "NLL", "Brier")
OOD_SCORES = ("entropy", "maxprob")
_UNDEFINED = ("raise", "nan")


# --------------------------------------------------------------------------- scalar metrics


def _probs_labels(
    probs: Any, labels: Any, *, need_2d: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    p = check_probs(probs)
    if need_2d and p.ndim != 2:
        raise ValueError("this metric needs (N, K) probabilities, not 1-D confidences")
    y = check_labels(labels, p.shape[0], p.shape[1] if p.ndim == 2 else None, p.device)
    return p, y


def _nll(p: torch.Tensor, y: torch.Tensor) -> float:
    # sklearn's log_loss clipping: eps = machine eps of the probabilities' dtype.
    eps = torch.finfo(p.dtype).eps
    pt = p.gather(1, y.unsqueeze(1)).squeeze(1).to(torch.float64).clamp(eps, 1.0 - eps)
    return float(-torch.log(pt).mean())


def _brier(p: torch.Tensor, y: torch.Tensor, form: str) -> float:
    p64 = p.to(torch.float64)
    pt = p64.gather(1, y.unsqueeze(1)).squeeze(1)
    per_row = (p64 * p64).sum(dim=1) - 2.0 * pt + 1.0  # sum_k (P_ik - 1[y_i = k])^2
    total = float(per_row.mean())
    return total / p.shape[1] if form == "mean" else total


def nll(probs: Any, labels: Any) -> float:
    """Mean negative log-likelihood (natural log), sklearn ``log_loss`` clipping to [eps, 1 - eps].

    >>> import numpy as np
    >>> round(nll(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0])), 4)
    0.3993
    """
    return _nll(*_probs_labels(probs, labels, need_2d=True))


def brier(probs: Any, labels: Any, *, form: str = "mean") -> float:
    """Brier score. ``form="mean"`` (default, the dataset's ``Brier``): mean over samples *and*
    classes, i.e. sklearn ``mean_squared_error(onehot, P)``. ``form="sum"``: sum over classes,
    mean over samples (torch-uncertainty, sklearn >= 1.7 ``brier_score_loss``) = K x mean form.

    >>> import numpy as np
    >>> p, y = np.array([[1.0, 0.0]]), np.array([1])
    >>> brier(p, y), brier(p, y, form="sum")
    (1.0, 2.0)
    """
    if form not in ("mean", "sum"):
        raise ValueError(f"form must be 'mean' or 'sum', got {form!r}")
    return _brier(*_probs_labels(probs, labels, need_2d=True), form)


def accuracy(probs: Any, labels: Any) -> float:
    """Fraction of samples whose argmax (first on ties) equals the label.

    >>> import numpy as np
    >>> accuracy(np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([0, 0]))
    0.5
    """
    p, y = _probs_labels(probs, labels)
    return float(TopLabel.from_probs(p, y).correct.mean())


def _confidence_means(top: TopLabel) -> tuple[float, float]:
    hit = top.correct > 0.5
    n_hit = int(hit.sum())
    if n_hit == 0:
        raise UndefinedMetricError("correct_confidence is undefined: no prediction is correct")
    if n_hit == top.n:
        raise UndefinedMetricError("incorrect_confidence is undefined: every prediction is correct")
    c = top.conf.to(torch.float64)
    return float(c[hit].mean()), float(c[~hit].mean())


def confidence_means(probs: Any, labels: Any) -> tuple[float, float]:
    """(mean confidence of correct predictions, mean confidence of incorrect ones).

    Raises `UndefinedMetricError` (a ValueError) when either group is empty.

    >>> import numpy as np
    >>> confidence_means(np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([0, 0]))
    (0.6, 0.7)
    """
    p, y = _probs_labels(probs, labels)
    return _confidence_means(TopLabel.from_probs(p, y))


def _ood_scores(logits: torch.Tensor, score: str) -> torch.Tensor:
    if score == "entropy":
        # As the study (Mukhoti et al.'s get_roc_auc): -sum softmax * log_softmax, logits' dtype.
        lp = torch.log_softmax(logits, dim=1)
        return -(torch.softmax(logits, dim=1) * lp).sum(dim=1).to(torch.float64)
    # Max-probability: in-distribution scores high; negate so that OOD is the positive class.
    return -torch.softmax(logits, dim=1).max(dim=1).values.to(torch.float64)


def _auroc(neg: torch.Tensor, pos: torch.Tensor) -> float:
    """AUROC = Mann-Whitney U / (n0 n1) with average ranks for ties (= sklearn roc_auc_score)."""
    s = torch.cat([neg, pos])
    _, inv, cnt = torch.unique(s, sorted=True, return_inverse=True, return_counts=True)
    cnt = cnt.to(torch.float64)
    avg_rank = torch.cumsum(cnt, 0) - (cnt - 1.0) / 2.0
    n0, n1 = neg.shape[0], pos.shape[0]
    r1 = float(avg_rank[inv[n0:]].sum())
    return (r1 - n1 * (n1 + 1) / 2.0) / (n0 * n1)


def ood_auroc(id_logits: Any, ood_logits: Any, *, score: str = "entropy") -> float:
    """OOD detection AUROC, OOD = positive class.

    ``score="entropy"`` (default, the dataset's ``auc_*``): predictive entropy of softmax(logits),
    higher = more OOD. ``score="maxprob"``: max softmax probability, lower = more OOD (equal to
    roc_auc_score with ID positive and score max p).

    >>> import numpy as np
    >>> ood_auroc(np.array([[5.0, 0.0], [4.0, 0.0]]), np.array([[0.1, 0.0], [0.0, 0.2]]))
    1.0
    """
    if score not in OOD_SCORES:
        raise ValueError(f"score must be one of {OOD_SCORES}, got {score!r}")
    a = check_logits(id_logits, "id_logits")
    b = check_logits(ood_logits, "ood_logits")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"id_logits has K = {a.shape[1]} classes but ood_logits has {b.shape[1]}")
    return _auroc(_ood_scores(a, score), _ood_scores(b.to(a.device), score))


# --------------------------------------------------------------------------- evaluate


def _check_bin_list(bins: Iterable[int]) -> tuple[int, ...]:
    if isinstance(bins, (int, np.integer)):
        bins = (bins,)
    try:
        items = list(bins)
    except TypeError as exc:
        raise ValueError(f"bins must be a sequence of positive integers, got {bins!r}") from exc
    out: list[int] = []
    for b in items:
        b = check_bins(b)
        if b not in out:
            out.append(b)
    return tuple(out)


def _guard(fn: Callable[[], float], undefined: str) -> float:
    if undefined == "raise":
        return fn()
    try:
        return fn()
    except UndefinedMetricError:
        return float("nan")


def _stage(
    p: torch.Tensor,
    y: torch.Tensor,
    bins: tuple[int, ...],
    *,
    extras: bool,
    variant: str,
    edges: str,
    undefined: str,
) -> tuple[dict[str, float], TopLabel]:
    """Every metric of one stage (pre or post) on shared sorted views (and the top-label view)."""
    top = TopLabel.from_probs(p, y)
    cw = Classwise.from_probs(p, y)
    r: dict[str, float] = {}
    for b in bins:
        cuts = width_cuts(top.s_conf, b, edges, top.dtype)
        r[f"ECE_{b}"] = float(_l1(cuts, top.cs_conf, top.cs_correct, top.n))
        r[f"MCE_{b}"] = float(_max(cuts, top.cs_conf, top.cs_correct))
        r[f"ECE_em_{b}"] = float(
            _l1(mass_cuts(top.s_conf, b, top.dtype), top.cs_conf, top.cs_correct, top.n)
        )
        cw_cuts = width_cuts(cw.vals, b, edges, cw.dtype)
        r[f"cwCE_{b}"] = float(_l1(cw_cuts, cw.cs_vals, cw.cs_targets, cw.n).mean())
        em = (
            ace_cuts(cw.vals, cw.n_zero, b) if variant == "ace" else mass_cuts(cw.vals, b, cw.dtype)
        )
        r[f"cwCE_em_{b}"] = float(_l1(em, cw.cs_vals, cw.cs_targets, cw.n).mean())
    del cw
    r["KSCE"] = ksce_view(top)
    r["KDECE"] = _guard(lambda: kdece_probs(p, y), undefined)
    r["MMCE"] = mmce_view(top)
    r["NLL"] = _nll(p, y)
    r["Brier"] = _brier(p, y, "mean")
    r["acc"] = float(top.correct.mean())
    if extras:
        r["smECE"] = smece_view(top)
        r["ECE_l2_debiased_15"] = l2_debiased_view(top, 15, "mass")
        r["TL_ECE_15"] = tl_ece_view(top, 15, "width", edges)
        r["Brier_sum"] = r["Brier"] * p.shape[1]
    return r, top


def temperature_scale(
    logits: Any,
    labels: Any,
    *,
    protocol: str = "tao2024",
    bins: Iterable[int] = DATASET_BINS,
    extras: bool = True,
    cwce_em_variant: str = "ace",
    edges: str = "dataset",
    undefined: str = "raise",
) -> dict[str, float]:
    """Fit T on the study's 20% split and return {"temperature": T, post_* metrics on the 80%}.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = rng.integers(0, 5, 500)
    >>> lg = 6 * np.eye(5)[y] + 3 * rng.standard_normal((500, 5))
    >>> out = temperature_scale(lg, y, protocol="nll", bins=(15,), extras=False)
    >>> sorted(out)[:3], out["temperature"] > 0
    (['post_Brier', 'post_ECE_15', 'post_ECE_em_15'], True)
    """
    row = evaluate(
        logits,
        labels,
        protocol=protocol,
        bins=bins,
        extras=extras,
        cwce_em_variant=cwce_em_variant,
        edges=edges,
        undefined=undefined,
        pre=False,
    )
    return row


def evaluate(
    logits: Any,
    labels: Any,
    *,
    ood: Mapping[str, Any] | None = None,
    protocol: str | None = "tao2024",
    bins: Iterable[int] = DATASET_BINS,
    extras: bool = True,
    cwce_em_variant: str = "ace",
    edges: str = "dataset",
    ood_score: str = "entropy",
    undefined: str = "raise",
    pre: bool = True,
    threads: int | None = 1,
) -> dict[str, float]:
    """All calibration columns of one table row from test-set logits and labels.

    Parameters
    ----------
    logits: (N, K) numpy array or torch tensor (any device, any float dtype). Probabilities are
        softmax(logits) in the logits' dtype, as the study did (float32 in -> float32 softmax).
    labels: (N,) integer class indices.
    ood: {"cifar10c": logits, "svhn": logits, ...} -> ``auc_<name>`` (pre only, entropy score by
        default; ``ood_score="maxprob"`` switches).
    protocol: "tao2024" (default: seed-42 20/80 split, grid T by 15-bin ECE), "nll" (same split,
        T by bounded NLL minimisation), or None (no temperature scaling, no post_ columns).
    bins: bin counts for the binned families (default: the dataset's nine).
    extras: add pre/post ``smECE``, ``ECE_l2_debiased_15``, ``TL_ECE_15``, ``Brier_sum`` and
        ``post_acc``.
    cwce_em_variant: "ace" (default; Nixon's ACE, as the official TSS files) or "marginal"
        (Kumar's marginal equal-mass CE, as the SSS files).
    edges: bin-edge convention, see `bench.binning` (default "dataset").
    undefined: "raise" (default) raises `UndefinedMetricError` when a metric is undefined (KDECE
        or correct_confidence with no correct prediction, incorrect_confidence with no error);
        "nan" stores NaN for exactly those metrics instead.
    pre: compute the pre_ stage and the plain columns (False: post_ columns only, as
        `temperature_scale` does).
    threads: torch CPU intra-op threads during the call, restored afterwards (default 1: the
        work is many small ops, which extra threads slow down on a busy machine); None leaves
        torch's setting alone. Ignored for tensors on an accelerator.

    Returns ``acc``, ``correct_confidence``, ``incorrect_confidence``, ``{pre,post}_{family}_{b}``,
    ``{pre,post}_{KSCE,KDECE,MMCE,NLL,Brier}``, ``temperature``, ``auc_*`` and extras, in the
    official column order. Raises ValueError on bad input.
    """
    lg = check_logits(logits)
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    with torch_threads(threads if lg.device.type == "cpu" else None):
        return _evaluate(
            lg,
            labels,
            ood=ood,
            protocol=protocol,
            bins=bins,
            extras=extras,
            cwce_em_variant=cwce_em_variant,
            edges=edges,
            ood_score=ood_score,
            undefined=undefined,
            pre=pre,
        )


def _evaluate(
    lg: torch.Tensor,
    labels: Any,
    *,
    ood: Mapping[str, Any] | None,
    protocol: str | None,
    bins: Iterable[int],
    extras: bool,
    cwce_em_variant: str,
    edges: str,
    ood_score: str,
    undefined: str,
    pre: bool,
) -> dict[str, float]:
    n, k = lg.shape
    y = check_labels(labels, n, k, lg.device)
    bin_list = _check_bin_list(bins)
    variant = check_variant(cwce_em_variant)
    edges = check_edges(edges)
    if undefined not in _UNDEFINED:
        raise ValueError(f"undefined must be one of {_UNDEFINED}, got {undefined!r}")
    if protocol is not None:
        check_protocol(protocol)
    if ood_score not in OOD_SCORES:
        raise ValueError(f"ood_score must be one of {OOD_SCORES}, got {ood_score!r}")
    ood_items: list[tuple[str, torch.Tensor]] = []
    for name, value in (ood or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"ood names must be letters, digits or '_', got {name!r}")
        o = check_logits(value, f"ood[{name!r}]")
        if o.shape[1] != k:
            raise ValueError(f"ood[{name!r}] has K = {o.shape[1]} classes, logits have K = {k}")
        ood_items.append((name, o.to(lg.device)))
    if not pre and protocol is None:
        raise ValueError("pre=False and protocol=None leave nothing to compute; pass a protocol")
    if ood_items and not pre:
        raise ValueError("ood AUROC columns are pre-scaling columns; they need pre=True")

    # Check the split first: a bad N should fail before any metric work.
    split = tao2024_split(n) if protocol is not None else None
    opts = {"extras": extras, "variant": variant, "edges": edges, "undefined": undefined}
    stages: dict[str, dict[str, float]] = {}
    row: dict[str, float] = {}
    if pre:
        stages["pre"], top = _stage(softmax(lg), y, bin_list, **opts)
        row["acc"] = stages["pre"]["acc"]
        if undefined == "raise":
            cc, ic = _confidence_means(top)
        else:
            try:
                cc, ic = _confidence_means(top)
            except UndefinedMetricError:
                hit = top.correct > 0.5
                c = top.conf.to(torch.float64)
                cc = float(c[hit].mean()) if bool(hit.any()) else float("nan")
                ic = float(c[~hit].mean()) if bool((~hit).any()) else float("nan")
        row["correct_confidence"], row["incorrect_confidence"] = cc, ic
    temperature = None
    if split is not None:
        fit_idx, post_idx = (torch.from_numpy(a).to(lg.device) for a in split)
        lg_fit, y_fit = lg.index_select(0, fit_idx), y.index_select(0, fit_idx)
        if protocol == "tao2024":
            temperature = fit_temperature_grid(lg_fit, y_fit)
        else:
            temperature = fit_temperature_nll(lg_fit, y_fit)
        lg_post, y_post = lg.index_select(0, post_idx), y.index_select(0, post_idx)
        stages["post"], _ = _stage(softmax(lg_post, temperature), y_post, bin_list, **opts)

    names = [st for st in ("pre", "post") if st in stages]
    for fam in BINNED_FAMILIES:
        for b in bin_list:
            for st in names:
                row[f"{st}_{fam}_{b}"] = stages[st][f"{fam}_{b}"]
    for fam in UNBINNED_FAMILIES:
        for st in names:
            row[f"{st}_{fam}"] = stages[st][fam]
    if temperature is not None:
        row["temperature"] = float(temperature)
    for name, o in ood_items:
        row[f"auc_{name}"] = _auroc(_ood_scores(lg, ood_score), _ood_scores(o, ood_score))
    if extras:
        for fam in ("smECE", "ECE_l2_debiased_15", "TL_ECE_15", "Brier_sum"):
            for st in names:
                row[f"{st}_{fam}"] = stages[st][fam]
        if "post" in stages:
            row["post_acc"] = stages["post"]["acc"]
    return row
