"""Input validation and the shared, sorted views that every calibration metric reads.

Why a separate module: every metric family (binned, kernel, scoring rules) starts from the same
two views of a prediction set, and `bench.calibration.evaluate` builds each view once per stage
and hands it to all metrics and all bin counts.

- `TopLabel`: top-label confidence c_i = max_k P_ik and correctness z_i = 1[argmax_k P_ik = y_i],
  sorted by (c, z) with float64 prefix sums.
- `Classwise`: every column P_.k with its one-vs-rest target, each column sorted by (p, t), with
  float64 prefix sums.

Everything is torch and stays on the input's device; numpy input is wrapped without a copy.
Values keep the input dtype where a reference implementation computes in it (equal-mass midpoints);
all sums accumulate in float64.

Example:
    >>> import numpy as np
    >>> from bench.calibration.inputs import TopLabel, check_labels, check_probs
    >>> probs = check_probs(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]))
    >>> view = TopLabel.from_probs(probs, check_labels([0, 0, 1], 3, 2, probs.device))
    >>> view.s_conf.tolist(), view.s_correct.tolist()
    ([0.6, 0.7, 0.9], [0.0, 0.0, 1.0])
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.checks import check_int
from bench.errors import InputError

__all__ = [
    "Classwise",
    "UndefinedMetricError",
    "TopLabel",
    "as_tensor",
    "check_bins",
    "check_labels",
    "check_logits",
    "check_probs",
    "softmax",
    "torch_threads",
]


class UndefinedMetricError(InputError):
    """A metric that is mathematically undefined for this input (e.g. KDECE with no correct
    prediction). A ValueError, so callers that only catch ValueError still see it.

    Example:
        >>> from bench.calibration import kdece
        >>> kdece([0.9, 0.6], [0, 0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bench.calibration.inputs.UndefinedMetricError: ...
    """


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """Wrap a numpy array, torch tensor or nested list as a tensor (no copy for numpy/torch).

    A read-only, non-contiguous or big-endian numpy array is copied first; a tensor is detached.

    Args:
        x: the array-like to wrap.
        name: the argument's name, for the message.

    Returns:
        A tensor on the input's device (CPU for numpy and lists).

    Raises:
        InputError: ``x`` is not numeric, cannot be read as an array, or is on an MPS device.

    Example:
        >>> as_tensor([[1, 2], [3, 4]], "x").shape
        torch.Size([2, 2])
    """
    if isinstance(x, torch.Tensor):
        if x.device.type == "mps":
            # Every sum here is float64, which Apple's MPS backend does not implement.
            raise InputError(f"{name} is on an MPS device, which has no float64; pass .cpu()")
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise InputError(f"{name} is not numeric (dtype {x.dtype}); pass a numeric array")
        if not x.dtype.isnative:  # big-endian data from some file formats
            x = x.astype(x.dtype.newbyteorder("="))
        if not x.flags.writeable or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x).copy()
        return torch.from_numpy(x)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # re-raised with the argument name
        raise InputError(f"{name} could not be read as an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise InputError(f"{name} is not numeric (dtype {arr.dtype})")
    return torch.from_numpy(np.ascontiguousarray(arr))


def _float_view(t: torch.Tensor, name: str) -> torch.Tensor:
    if t.dtype not in _FLOATS:
        if t.dtype == torch.bool or t.dtype.is_complex:
            raise InputError(f"{name} must be real floating point, got {t.dtype}")
        t = t.to(torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        # Half precision cannot hold the sums or midpoints we need; float32 is exact for it.
        t = t.to(torch.float32)
    return t


def _check_finite(t: torch.Tensor, name: str) -> None:
    if t.numel() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise InputError(f"{name} contains {bad} NaN or infinite value(s)")


def check_bins(n_bins: Any) -> int:
    """Return ``n_bins`` as an int >= 1.

    Args:
        n_bins: the requested number of bins.

    Returns:
        ``int(n_bins)``.

    Raises:
        InputError: ``n_bins`` is not a positive integer.

    Example:
        >>> check_bins(15)
        15
    """
    return check_int(n_bins, "n_bins")


def check_logits(logits: Any, name: str = "logits") -> torch.Tensor:
    """Validate an (N, K) logit matrix (finite, N >= 1, K >= 2) and return it as a float tensor.

    Args:
        logits: an (N, K) array or tensor.
        name: the argument's name, for the message.

    Returns:
        A float tensor (half precision widened to float32, integers to float64).

    Raises:
        InputError: wrong shape, empty, fewer than 2 classes, or a NaN or infinite value.

    Example:
        >>> check_logits([[1, 2], [0, 0]]).dtype
        torch.float64
    """
    t = _float_view(as_tensor(logits, name), name)
    if t.ndim != 2:
        raise InputError(f"{name} must be 2-D (N, K), got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise InputError(f"{name} is empty (N = 0)")
    if t.shape[1] < 2:
        raise InputError(f"{name} needs at least 2 classes, got K = {t.shape[1]}")
    _check_finite(t, name)
    return t


def check_probs(probs: Any, name: str = "probs") -> torch.Tensor:
    """Validate probabilities: (N, K) rows on the simplex, or (N,) top-label confidences in [0, 1].

    Rows must sum to 1 within sqrt(machine eps) of their dtype (3.5e-4 for float32, 1.5e-8 for
    float64), which accepts any softmax output and refuses logits passed by mistake.

    Args:
        probs: an (N, K) or (N,) array or tensor.
        name: the argument's name, for the message.

    Returns:
        A float tensor, as :func:`check_logits` widens it.

    Raises:
        InputError: wrong shape, empty, a value outside [0, 1] or not finite, or a row that does
            not sum to 1.

    Example:
        >>> check_probs([0.2, 0.9]).tolist()
        [0.2, 0.9]
        >>> check_probs([[2.0, -1.0]])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bench.errors.InputError: probs must lie in [0, 1] (got min -1, max 2); ...
    """
    t = _float_view(as_tensor(probs, name), name)
    if t.ndim not in (1, 2):
        raise InputError(
            f"{name} must be (N, K) probabilities or (N,) confidences, got shape {tuple(t.shape)}"
        )
    if t.shape[0] == 0:
        raise InputError(f"{name} is empty (N = 0)")
    if t.ndim == 2 and t.shape[1] < 2:
        raise InputError(f"{name} needs at least 2 classes, got K = {t.shape[1]}")
    _check_finite(t, name)
    lo, hi = float(t.min()), float(t.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"{name} must lie in [0, 1] (got min {lo:.6g}, max {hi:.6g}); "
            "pass logits to evaluate(), or apply softmax first"
        )
    if t.ndim == 2:
        tol = math.sqrt(torch.finfo(t.dtype).eps)
        dev = float((t.sum(dim=1, dtype=torch.float64) - 1.0).abs().max())
        if dev > tol:
            raise InputError(
                f"{name} rows must sum to 1 (largest deviation {dev:.3g} > {tol:.2g}); "
                "apply softmax to logits first"
            )
    return t


def check_labels(
    labels: Any, n: int, k: int | None, device: torch.device, name: str = "labels"
) -> torch.Tensor:
    """Validate integer labels of length n in [0, k) (k None: 0/1 correctness) -> int64 tensor.

    Args:
        labels: a 1-D integer (or bool) array or tensor.
        n: the number of predictions they must match.
        k: the number of classes, or None for 0/1 correctness flags.
        device: where the returned tensor lives (the predictions' device).
        name: the argument's name, for the message.

    Returns:
        An int64 tensor on ``device``.

    Raises:
        InputError: not 1-D, wrong length, not integers, or a value out of range.

    Example:
        >>> import torch
        >>> check_labels([True, False], 2, None, torch.device("cpu")).tolist()
        [1, 0]
    """
    t = as_tensor(labels, name)
    if t.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if t.shape[0] != n:
        raise InputError(f"{name} has length {t.shape[0]} but the predictions have N = {n}")
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.dtype.is_floating_point or t.dtype.is_complex:
        raise InputError(f"{name} must be integers, got {t.dtype} (cast with .astype(int))")
    t = t.to(device=device, dtype=torch.int64)
    if n:
        lo, hi = int(t.min()), int(t.max())
        top = 1 if k is None else k - 1
        if lo < 0 or hi > top:
            what = "correctness flags (0/1)" if k is None else f"class indices in [0, {k - 1}]"
            raise InputError(f"{name} must be {what}; got values from {lo} to {hi}")
    return t


def softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Softmax in the logits' dtype, as the study did (float32 in, float32 out).

    Args:
        logits: an (N, K) float tensor.
        temperature: divide the logits by this first.

    Returns:
        An (N, K) tensor of row-wise probabilities.

    Example:
        >>> import torch
        >>> softmax(torch.tensor([[0.0, 0.0]]), temperature=2.0).tolist()
        [[0.5, 0.5]]
    """
    if temperature == 1.0:
        return torch.softmax(logits, dim=1)
    return torch.softmax(logits / temperature, dim=1)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's CPU intra-op thread count (None: leave it alone).

    The metric engine issues many small ops; on a busy machine extra threads mostly spin.

    Args:
        n: threads inside the block, restored on exit.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _prefix(x: torch.Tensor) -> torch.Tensor:
    """Float64 prefix sums along the last axis with a leading 0: S[..., j] = sum of x[..., :j]."""
    cs = torch.cumsum(x.to(torch.float64), dim=-1)
    return torch.nn.functional.pad(cs, (1, 0))


def _sort_pairs(vals: torch.Tensor, flags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort rows of (vals, 0/1 flags) by (value, flag) with one integer sort.

    Non-negative float64 values order exactly like their IEEE bit patterns read as int64, and
    those patterns are < 2^62, so (bits << 1) | flag is an order-preserving int64 key: one sort
    (no argsort + gather) yields both sorted arrays, and ties are broken by the flag, which makes
    every downstream result independent of sample order.
    """
    v = (vals.to(torch.float64) + 0.0).contiguous()  # + 0.0 turns a -0.0 into +0.0
    key = (v.view(torch.int64) << 1) | flags.to(torch.int64)
    key = torch.sort(key, dim=-1).values
    return (key >> 1).view(torch.float64), (key & 1).to(torch.float64)


@dataclass(frozen=True)
class TopLabel:
    """Top-label view. `conf`/`correct`/`pred` are in input order; `s_*` are sorted by (c, z).

    Build it with :meth:`from_probs` or :meth:`from_conf`; ``cs_*`` are the float64 prefix sums
    of the sorted arrays, with a leading 0.

    Example:
        >>> import torch
        >>> view = TopLabel.from_conf(torch.tensor([0.8, 0.6]), torch.tensor([1.0, 0.0]))
        >>> view.n, view.cs_correct.tolist()
        (2, [0.0, 0.0, 1.0])
    """

    n: int
    dtype: torch.dtype
    conf: torch.Tensor  # (N,) input dtype
    correct: torch.Tensor  # (N,) float64 0/1
    pred: torch.Tensor | None  # (N,) int64 predicted class; None for 1-D input
    s_conf: torch.Tensor  # (N,) float64, ascending
    s_correct: torch.Tensor  # (N,) float64
    cs_conf: torch.Tensor  # (N+1,) float64
    cs_correct: torch.Tensor  # (N+1,) float64

    @classmethod
    def from_probs(cls, probs: torch.Tensor, labels: torch.Tensor) -> TopLabel:
        """Top-label view of validated (N, K) probabilities (or (N,) confidences + 0/1 flags).

        Args:
            probs: from :func:`check_probs`.
            labels: from :func:`check_labels` (class indices, or 0/1 flags for 1-D ``probs``).

        Returns:
            The view; ties in the arg max go to the first class, as numpy's do.

        Example:
            >>> import torch
            >>> view = TopLabel.from_probs(torch.tensor([[0.5, 0.5]]), torch.tensor([1]))
            >>> view.pred.tolist(), view.correct.tolist()
            ([0], [0.0])
        """
        if probs.ndim == 2:
            # torch.argmax returns the first maximum, like numpy's argmax in the study.
            conf = probs.max(dim=1).values
            pred = probs.argmax(dim=1)
            correct = (pred == labels).to(torch.float64)
        else:
            conf, pred, correct = probs, None, labels.to(torch.float64)
        return cls.from_conf(conf, correct, pred)

    @classmethod
    def from_conf(
        cls, conf: torch.Tensor, correct: torch.Tensor, pred: torch.Tensor | None = None
    ) -> TopLabel:
        """Build the view from confidences (input dtype) and 0/1 correctness.

        Args:
            conf: (N,) top-label confidences.
            correct: (N,) 0/1 correctness.
            pred: (N,) predicted classes, if known.

        Returns:
            The view.

        Example:
            >>> import torch
            >>> conf = torch.tensor([0.75, 0.25], dtype=torch.float64)
            >>> TopLabel.from_conf(conf, torch.tensor([1, 0])).s_conf.tolist()
            [0.25, 0.75]
        """
        s_conf, s_correct = _sort_pairs(conf, correct)
        return cls(
            n=int(conf.shape[0]),
            dtype=conf.dtype,
            conf=conf,
            correct=correct,
            pred=pred,
            s_conf=s_conf,
            s_correct=s_correct,
            cs_conf=_prefix(s_conf),
            cs_correct=_prefix(s_correct),
        )


@dataclass(frozen=True)
class Classwise:
    """Classwise view: columns of P as rows of (K, N) tensors, each sorted by (p, t).

    Example:
        >>> import torch
        >>> probs = torch.tensor([[0.75, 0.25], [0.0, 1.0]])
        >>> view = Classwise.from_probs(probs, torch.tensor([0, 1]))
        >>> view.k, view.vals.tolist(), view.n_zero.tolist()
        (2, [[0.0, 0.75], [0.25, 1.0]], [1, 0])
    """

    n: int
    k: int
    dtype: torch.dtype
    vals: torch.Tensor  # (K, N) float64 sorted ascending per row
    cs_vals: torch.Tensor  # (K, N+1) float64
    cs_targets: torch.Tensor  # (K, N+1) float64
    n_zero: torch.Tensor  # (K,) int64: entries exactly 0 (they sort first)

    @classmethod
    def from_probs(cls, probs: torch.Tensor, labels: torch.Tensor) -> Classwise:
        """Classwise view of validated (N, K) probabilities and int labels.

        Args:
            probs: (N, K) probabilities from :func:`check_probs`.
            labels: class indices from :func:`check_labels`.

        Returns:
            The view.

        Raises:
            InputError: ``probs`` is 1-D (classwise metrics need every class's probability).

        Example:
            >>> import torch
            >>> view = Classwise.from_probs(torch.tensor([[0.5, 0.5]]), torch.tensor([0]))
            >>> view.cs_targets.tolist()
            [[0.0, 1.0], [0.0, 0.0]]
        """
        if probs.ndim != 2:
            raise InputError("classwise metrics need (N, K) probabilities, not 1-D confidences")
        n, k = probs.shape
        classes = torch.arange(k, device=probs.device).unsqueeze(1)
        targets = labels.unsqueeze(0) == classes  # (K, N)
        # float64 holds float32 values exactly, so sorting in float64 changes no value.
        vals, t_sorted = _sort_pairs(probs.t(), targets)
        del targets
        n_zero = (vals == 0).sum(dim=1)
        return cls(
            n=int(n),
            k=int(k),
            dtype=probs.dtype,
            vals=vals,
            cs_vals=_prefix(vals),
            cs_targets=_prefix(t_sorted),
            n_zero=n_zero,
        )
