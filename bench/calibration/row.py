"""One table row: every calibration measurement of one network's predictions.

`evaluate` turns one network's test-set logits into a table row (the published
columns of Tao et al. 2024 plus calnas's extras); the functional metrics below take probabilities
(an (N, K) array with integer labels, or (N,) top-label confidences with 0/1 correctness) as numpy
arrays or torch tensors on any device, and return Python floats.

Definitions follow ../shared/specs/calibration-metrics.md. The metrics themselves live in
`bench.calibration.binned` (binned errors), `bench.calibration.kernel` (KSCE, KDECE, MMCE, smECE),
`bench.calibration.scoring` (NLL, Brier, accuracy, OOD AUROC) and
`bench.calibration.temperature` (temperature scaling); this module assembles them into a row.

Example:
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

from bench.calibration.binned import (
    _l1,
    _max,
    ace_cuts,
    check_edges,
    check_variant,
    l2_debiased_view,
    mass_cuts,
    tl_ece_view,
    width_cuts,
)
from bench.calibration.inputs import (
    Classwise,
    TopLabel,
    UndefinedMetricError,
    check_bins,
    check_labels,
    check_logits,
    softmax,
    torch_threads,
)
from bench.calibration.kernel import (
    kdece_probs,
    ksce_view,
    mmce_view,
    smece_view,
)
from bench.calibration.scoring import (
    OOD_SCORES,
    _auroc,
    _brier,
    _confidence_means,
    _nll,
    _ood_scores,
)
from bench.calibration.temperature import (
    check_protocol,
    fit_temperature_grid,
    fit_temperature_nll,
    tao2024_split,
)
from bench.checks import check_int
from bench.errors import InputError

__all__ = ["DATASET_BINS", "evaluate", "temperature_scale"]

DATASET_BINS: tuple[int, ...] = (5, 10, 15, 20, 25, 50, 100, 200, 500)
BINNED_FAMILIES = ("ECE", "ECE_em", "cwCE", "cwCE_em", "MCE")
UNBINNED_FAMILIES = ("KSCE", "KDECE", "MMCE", "NLL", "Brier")
_UNDEFINED = ("raise", "nan")


# --------------------------------------------------------------------------- evaluate


def _check_bin_list(bins: Iterable[int]) -> tuple[int, ...]:
    if isinstance(bins, (int, np.integer)):
        bins = (bins,)
    try:
        items = list(bins)
    except TypeError as exc:
        raise InputError(f"bins must be a sequence of positive integers, got {bins!r}") from exc
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

    The same as :func:`evaluate` with ``pre=False``.

    Args:
        logits: (N, K) logits, N >= 5.
        labels: (N,) class indices.
        protocol: ``"tao2024"`` or ``"nll"`` (see :func:`evaluate`).
        bins: bin counts for the binned families.
        extras: add calnas's extra columns.
        cwce_em_variant: ``"ace"`` or ``"marginal"``.
        edges: bin-edge convention.
        undefined: ``"raise"`` or ``"nan"``.

    Returns:
        ``temperature`` and the ``post_*`` columns.

    Raises:
        InputError: bad input or options (see :func:`evaluate`).
        UndefinedMetricError: an undefined metric under ``undefined="raise"``.

    Example:
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

    Args:
        logits: (N, K) numpy array or torch tensor (any device, any float dtype). Probabilities
            are softmax(logits) in the logits' dtype, as the study did (float32 in -> float32
            softmax).
        labels: (N,) integer class indices.
        ood: {"cifar10c": logits, "svhn": logits, ...} -> ``auc_<name>`` (pre only, entropy
            score by default; ``ood_score="maxprob"`` switches).
        protocol: "tao2024" (default: seed-42 20/80 split, grid T by 15-bin ECE), "nll" (same
            split, T by bounded NLL minimisation), or None (no temperature scaling, no post_
            columns).
        bins: bin counts for the binned families (default: the dataset's nine).
        extras: add pre/post ``smECE``, ``ECE_l2_debiased_15``, ``TL_ECE_15``, ``Brier_sum`` and
            ``post_acc``.
        cwce_em_variant: "ace" (default; Nixon's ACE, as the official TSS files) or "marginal"
            (Kumar's marginal equal-mass CE, as the SSS files).
        edges: bin-edge convention, see :mod:`bench.calibration.binned` (default "dataset").
        ood_score: "entropy" (default) or "maxprob", the score of the ``auc_*`` columns.
        undefined: "raise" (default) raises :class:`UndefinedMetricError` when a metric is
            undefined (KDECE or correct_confidence with no correct prediction,
            incorrect_confidence with no error); "nan" stores NaN for exactly those metrics.
        pre: compute the pre_ stage and the plain columns (False: post_ columns only, as
            :func:`temperature_scale` does).
        threads: torch CPU intra-op threads during the call, restored afterwards (default 1: the
            work is many small ops, which extra threads slow down on a busy machine); None
            leaves torch's setting alone. Ignored for tensors on an accelerator.

    Returns:
        ``acc``, ``correct_confidence``, ``incorrect_confidence``, ``{pre,post}_{family}_{b}``,
        ``{pre,post}_{KSCE,KDECE,MMCE,NLL,Brier}``, ``temperature``, ``auc_*`` and extras, in
        the official column order; every value a Python float.

    Raises:
        InputError: bad logits, labels or OOD logits, a bad option, N too small for the split,
            or nothing to compute (``pre=False`` with ``protocol=None``).
        UndefinedMetricError: an undefined metric under ``undefined="raise"``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 3, 200)
        >>> lg = 5 * np.eye(3)[y] + 2 * rng.standard_normal((200, 3))
        >>> ood = {"noise": rng.standard_normal((50, 3))}
        >>> row = evaluate(lg, y, ood=ood, protocol=None, bins=(15,), extras=False)
        >>> list(row)[:4], 0.5 < row["auc_noise"] <= 1
        (['acc', 'correct_confidence', 'incorrect_confidence', 'pre_ECE_15'], True)
    """
    lg = check_logits(logits)
    if threads is not None:
        threads = check_int(threads, "threads")
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
        raise InputError(f"undefined must be one of {_UNDEFINED}, got {undefined!r}")
    if protocol is not None:
        check_protocol(protocol)
    if ood_score not in OOD_SCORES:
        raise InputError(f"ood_score must be one of {OOD_SCORES}, got {ood_score!r}")
    ood_items: list[tuple[str, torch.Tensor]] = []
    for name, value in (ood or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise InputError(f"ood names must be letters, digits or '_', got {name!r}")
        o = check_logits(value, f"ood[{name!r}]")
        if o.shape[1] != k:
            raise InputError(f"ood[{name!r}] has K = {o.shape[1]} classes, logits have K = {k}")
        ood_items.append((name, o.to(lg.device)))
    if not pre and protocol is None:
        raise InputError("pre=False and protocol=None leave nothing to compute; pass a protocol")
    if ood_items and not pre:
        raise InputError("ood AUROC columns are pre-scaling columns; they need pre=True")

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
