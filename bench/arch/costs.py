"""Parameter and FLOP counts of NATS-Bench networks in closed form (numpy only, no torch).

Conventions follow NATS-Bench: params are trainable parameters (BN running stats excluded) in
millions; FLOPs are multiply-accumulates of Conv2d and Linear layers for one image, in millions
(pooling, BN, ReLU, additions and zero ops are free). The forms hold for any skeleton (C, N),
input channels, resolution and class count, so the digits proxy is costed like CIFAR.

Example:
    >>> from bench.arch.costs import cost
    >>> cost("tss", 11, "cifar10")
    {'params_m': 0.802426, 'flops_m': 113.95137}
    >>> cost("sss", "64:64:64:64:64", "cifar10")
    {'params_m': 0.713674, 'flops_m': 274.399882}
"""

from __future__ import annotations

import numpy as np

from bench.arch.datasets import dataset_info
from bench.arch.spaces import OPS, get_space

__all__ = ["cost", "cost_all"]

_N3 = OPS.index("nor_conv_3x3")
_N1 = OPS.index("nor_conv_1x1")


def _tss_counts(
    n3: np.ndarray, n1: np.ndarray, *, C: int, N: int, cin: int, hw: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Raw (params, MACs) of TSS networks with n3 conv3x3 and n1 conv1x1 edges per cell."""
    params = 9 * cin * C + 2 * C  # stem conv + BN
    flops = 9 * cin * C * hw
    per3_p = per1_p = per3_f = per1_f = 0
    c, res = C, hw
    for stage in range(3):
        if stage:  # residual reduction block c/2 -> c at stride 2
            cin_r, res = c // 2, res // 4
            params += 10 * cin_r * c + 9 * c * c + 4 * c
            flops += (10 * cin_r * c + 9 * c * c) * res
        per3_p += N * (9 * c * c + 2 * c)
        per1_p += N * (c * c + 2 * c)
        per3_f += N * 9 * c * c * res
        per1_f += N * c * c * res
        if stage < 2:
            c *= 2
    params += 2 * c + c * k + k  # head BN + classifier
    flops += c * k + k
    return params + per3_p * n3 + per1_p * n1, flops + per3_f * n3 + per1_f * n1


def _sss_counts(ch: np.ndarray, *, cin: int, hw: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw (params, MACs) of SSS networks from a (n, 5) array of widths."""
    ch = ch.astype(np.int64)
    c0, c1, c2, c3, c4 = (ch[:, i] for i in range(5))

    def cell(ci: np.ndarray, co: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
        # 5 conv3x3 edges (2 from the input at ci->co) and a skip that becomes 1x1 conv if ci != co
        proj = ci != co
        p = 18 * ci * co + 27 * co * co + 10 * co + proj * (ci * co + 2 * co)
        f = (18 * ci * co + 27 * co * co + proj * ci * co) * res
        return p, f

    def residual(ci: np.ndarray, co: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
        return 10 * ci * co + 9 * co * co + 4 * co, (10 * ci * co + 9 * co * co) * res

    params = 9 * cin * c0 + 2 * c0
    flops = 9 * cin * c0 * hw
    for p, f in (
        cell(c0, c0, hw),
        residual(c0, c1, hw // 4),
        cell(c1, c2, hw // 4),
        residual(c2, c3, hw // 16),
        cell(c3, c4, hw // 16),
    ):
        params = params + p
        flops = flops + f
    params = params + 2 * c4 + c4 * k + k
    flops = flops + c4 * k + k
    return params, flops


def _counts(space: str, codes: np.ndarray, dataset: str, C: int | None, N: int | None):
    info = dataset_info(dataset)
    sp = get_space(space)
    hw = info.resolution**2
    if sp.name == "tss":
        C = info.skeleton.get("C", 16) if C is None else C
        N = info.skeleton.get("N", 5) if N is None else N
        n3 = (codes == _N3).sum(axis=1)
        n1 = (codes == _N1).sum(axis=1)
        return _tss_counts(n3, n1, C=C, N=N, cin=info.in_channels, hw=hw, k=info.num_classes)
    widths = np.asarray(sp.choices())[codes]
    return _sss_counts(widths, cin=info.in_channels, hw=hw, k=info.num_classes)


def cost(
    space: str, arch: str | int, dataset: str, *, C: int | None = None, N: int | None = None
) -> dict[str, float]:
    """Params and FLOPs (millions, rounded to 6 decimals) of one network on ``dataset``.

    Args:
        space: ``"tss"`` or ``"sss"``.
        arch: an arch string or a NATS index.
        dataset: a dataset name (``cifar10``, ``cifar100``, ``ImageNet16-120``, ``digits``).
        C: TSS stem width (None: NATS-Bench's 16, or the proxy skeleton the dataset declares).
        N: TSS cells per stage (None: NATS-Bench's 5, or the dataset's proxy skeleton).

    Returns:
        ``{"params_m": ..., "flops_m": ...}``.

    Raises:
        InputError: an unknown space or dataset, or a bad arch.

    Example:
        >>> cost("tss", 11, "cifar10", C=8, N=1)
        {'params_m': 0.055362, 'flops_m': 7.364938}
    """
    sp = get_space(space)
    code = sp.codes()[sp.index(arch)][None, :]
    params, flops = _counts(space, code, dataset, C, N)
    return {
        "params_m": round(float(params[0]) / 1e6, 6),
        "flops_m": round(float(flops[0]) / 1e6, 6),
    }


def cost_all(
    space: str, dataset: str, *, C: int | None = None, N: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Params and FLOPs (millions, float64) of every architecture of ``space``, by NATS index.

    Args:
        space: ``"tss"`` or ``"sss"``.
        dataset: a dataset name, as for :func:`cost`.
        C: TSS stem width (None: the dataset's default skeleton).
        N: TSS cells per stage (None: the dataset's default skeleton).

    Returns:
        ``(params_m, flops_m)``, two float64 arrays of the space's size.

    Raises:
        InputError: an unknown space or dataset.

    Example:
        >>> params, flops = cost_all("tss", "cifar10")
        >>> round(float(params.max()), 6)
        1.531546
    """
    params, flops = _counts(space, get_space(space).codes(), dataset, C, N)
    return params / 1e6, flops / 1e6
