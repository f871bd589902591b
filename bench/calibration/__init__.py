"""Calibration metrics: one table row of every measurement (`evaluate`), and each metric alone.

`evaluate` turns one network's test-set logits into the columns of the published dataset (Tao
et al., ICLR 2024) plus calnas's extras, before and after temperature scaling. The functional
metrics take probabilities (an (N, K) array with integer labels, or (N,) top-label confidences
with 0/1 correctness) as numpy arrays or torch tensors on any device, and return Python floats.

Modules: `binned` (ECE and its variants), `kernel` (KSCE, KDECE, MMCE, smECE), `scoring` (NLL,
Brier, accuracy, OOD AUROC), `temperature`, `reliability` (diagrams, bootstrap intervals),
`inputs` (argument checks and the shared sort), `row` (`evaluate`).

Example:
    >>> import numpy as np
    >>> from bench.calibration import ece, evaluate
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 10, 1000)
    >>> logits = (4 * np.eye(10)[labels] + 2 * rng.standard_normal((1000, 10))).astype(np.float32)
    >>> row = evaluate(logits, labels)
    >>> probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    >>> abs(row["pre_ECE_15"] - ece(probs, labels, 15)) < 1e-6
    True
"""

from __future__ import annotations

from bench.calibration.binned import (
    CWCE_EM_VARIANTS,
    EDGE_CONVENTIONS,
    cwce,
    cwce_em,
    ece,
    ece_em,
    ece_l2_debiased,
    mce,
    tl_ece,
)
from bench.calibration.inputs import (
    UndefinedMetricError,
)
from bench.calibration.kernel import (
    kdece,
    ksce,
    mmce,
    smece,
)
from bench.calibration.reliability import (
    bootstrap_ci,
    plot_reliability,
    reliability_data,
)
from bench.calibration.row import (
    DATASET_BINS,
    evaluate,
    temperature_scale,
)
from bench.calibration.scoring import (
    accuracy,
    brier,
    confidence_means,
    nll,
    ood_auroc,
)
from bench.calibration.temperature import (
    PROTOCOLS,
    TEMPERATURE_GRID,
    fit_temperature,
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
