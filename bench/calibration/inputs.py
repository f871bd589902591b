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
    prediction). A ValueError, so callers that only catch ValueError still see it."""


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """Wrap a numpy array, torch tensor or nested list as a tensor (no copy for numpy/torch)."""
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
    """Return `n_bins` as an int >= 1 or raise ValueError."""
    return check_int(n_bins, "n_bins")


def check_logits(logits: Any, name: str = "logits") -> torch.Tensor:
    """Validate an (N, K) logit matrix (finite, N >= 1, K >= 2) and return it as a float tensor."""
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
    """Validate integer labels of length n in [0, k) (k None: 0/1 correctness) -> int64 tensor."""
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
    """Softmax in the logits' dtype, as the study did (float32 in, float32 out)."""
    if temperature == 1.0:
        return torch.softmax(logits, dim=1)
    return torch.softmax(logits / temperature, dim=1)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's CPU intra-op thread count (None: leave it alone).

    The metric engine issues many small ops; on a busy machine extra threads mostly spin.
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
    """Top-label view. `conf`/`correct`/`pred` are in input order; `s_*` are sorted by (c, z)."""

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
        """Top-label view of validated (N, K) probabilities (or (N,) confidences + 0/1 flags)."""
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
        """Build the view from confidences (input dtype) and 0/1 correctness."""
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
    """Classwise view: columns of P as rows of (K, N) tensors, each sorted by (p, t)."""

    n: int
    k: int
    dtype: torch.dtype
    vals: torch.Tensor  # (K, N) float64 sorted ascending per row
    cs_vals: torch.Tensor  # (K, N+1) float64
    cs_targets: torch.Tensor  # (K, N+1) float64
    n_zero: torch.Tensor  # (K,) int64: entries exactly 0 (they sort first)

    @classmethod
    def from_probs(cls, probs: torch.Tensor, labels: torch.Tensor) -> Classwise:
        """Classwise view of validated (N, K) probabilities and int labels."""
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
