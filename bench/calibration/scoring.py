"""Scoring rules and summary metrics: NLL, Brier, accuracy, confidence means, OOD AUROC.

All take probabilities (an (N, K) array with integer labels; accuracy and the confidence means
also (N,) top-label confidences with 0/1 correctness) as numpy arrays or torch tensors on any
device, accumulate in float64, and return Python floats.

Example:
    >>> import numpy as np
    >>> from bench.calibration import nll, brier
    >>> p, y = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1])
    >>> round(nll(p, y), 4), round(brier(p, y), 4)
    (0.1643, 0.025)
"""

from __future__ import annotations

from typing import Any

import torch

from bench.calibration.inputs import (
    TopLabel,
    UndefinedMetricError,
    check_labels,
    check_logits,
    check_probs,
)
from bench.errors import InputError

__all__ = ["OOD_SCORES", "accuracy", "brier", "confidence_means", "nll", "ood_auroc"]

OOD_SCORES = ("entropy", "maxprob")


def _probs_labels(
    probs: Any, labels: Any, *, need_2d: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    p = check_probs(probs)
    if need_2d and p.ndim != 2:
        raise InputError("this metric needs (N, K) probabilities, not 1-D confidences")
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

    Args:
        probs: (N, K) probabilities.
        labels: (N,) class indices.

    Returns:
        The NLL, a float >= 0 (eps is the machine epsilon of the probabilities' dtype).

    Raises:
        InputError: bad probabilities or labels, or 1-D ``probs``.

    Example:
        >>> import numpy as np
        >>> round(nll(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0])), 4)
        0.3993
    """
    return _nll(*_probs_labels(probs, labels, need_2d=True))


def brier(probs: Any, labels: Any, *, form: str = "mean") -> float:
    """Brier score: the squared distance of the probabilities from the one-hot label.

    Args:
        probs: (N, K) probabilities.
        labels: (N,) class indices.
        form: ``"mean"`` (default, the dataset's ``Brier``): mean over samples *and* classes,
            i.e. sklearn ``mean_squared_error(onehot, P)``. ``"sum"``: sum over classes, mean
            over samples (torch-uncertainty, sklearn >= 1.7 ``brier_score_loss``) = K x mean form.

    Returns:
        The score, a float in [0, 2] (``sum``) or [0, 2/K] (``mean``).

    Raises:
        InputError: bad probabilities or labels, 1-D ``probs``, or an unknown ``form``.

    Example:
        >>> import numpy as np
        >>> p, y = np.array([[1.0, 0.0]]), np.array([1])
        >>> brier(p, y), brier(p, y, form="sum")
        (1.0, 2.0)
    """
    if form not in ("mean", "sum"):
        raise InputError(f"form must be 'mean' or 'sum', got {form!r}")
    return _brier(*_probs_labels(probs, labels, need_2d=True), form)


def accuracy(probs: Any, labels: Any) -> float:
    """Fraction of samples whose argmax (first on ties) equals the label.

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.

    Returns:
        The accuracy, a float in [0, 1] (not a percentage).

    Raises:
        InputError: bad probabilities or labels.

    Example:
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

    Args:
        probs: (N, K) probabilities, or (N,) top-label confidences.
        labels: (N,) class indices, or 0/1 correctness for 1-D ``probs``.

    Returns:
        ``(correct_confidence, incorrect_confidence)``.

    Raises:
        UndefinedMetricError: every prediction is correct, or none is.
        InputError: bad probabilities or labels.

    Example:
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

    Args:
        id_logits: (N, K) logits of the in-distribution test set.
        ood_logits: (M, K) logits of the out-of-distribution set.
        score: ``"entropy"`` (default, the dataset's ``auc_*``): predictive entropy of
            softmax(logits), higher = more OOD. ``"maxprob"``: max softmax probability, lower =
            more OOD (equal to roc_auc_score with ID positive and score max p).

    Returns:
        The AUROC, a float in [0, 1]; ties count one half.

    Raises:
        InputError: bad logits, different class counts, or an unknown ``score``.

    Example:
        >>> import numpy as np
        >>> ood_auroc(np.array([[5.0, 0.0], [4.0, 0.0]]), np.array([[0.1, 0.0], [0.0, 0.2]]))
        1.0
    """
    if score not in OOD_SCORES:
        raise InputError(f"score must be one of {OOD_SCORES}, got {score!r}")
    a = check_logits(id_logits, "id_logits")
    b = check_logits(ood_logits, "ood_logits")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"id_logits has K = {a.shape[1]} classes but ood_logits has {b.shape[1]}")
    return _auroc(_ood_scores(a, score), _ood_scores(b.to(a.device), score))
