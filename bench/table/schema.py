"""Column grammar of the benchmark table: metric names, the published columns, types, directions.

A metric column is ``{stage}_{family}[_{bins}]`` with stage ``pre`` (before temperature scaling)
or ``post`` (after it), for example ``pre_ECE_15`` or ``post_cwCE_em_100``. Binned families take
any positive bin count; unbinned families take none. Other columns are plain names: ``config``
(the NATS index), ``arch``, ``acc``, the robustness columns with their published names, the
learning-curve, cost and provenance columns. Accuracies are always fractions in [0, 1].

This module is pure Python (no numpy, pandas or torch) so that anything may import it.

Example:
    >>> from bench.table.schema import parse_metric, format_metric, direction
    >>> parse_metric("post_ECE_em_15")
    MetricName(stage='post', family='ECE_em', bins=15)
    >>> format_metric("pre", "KSCE")
    'pre_KSCE'
    >>> direction("pre_ECE_15"), direction("acc")
    ('min', 'max')
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from bench.errors import InputError

__all__ = [
    "STAGES",
    "BINS",
    "BINNED_FAMILIES",
    "UNBINNED_FAMILIES",
    "EXTRA_BINNED_FAMILIES",
    "EXTRA_UNBINNED_FAMILIES",
    "ATTACK_COLUMNS",
    "CORRUPTION_COLUMNS",
    "ROBUSTNESS_COLUMNS",
    "PUBLISHED_COLUMNS",
    "CALIBRATION_COLUMNS",
    "TRAINING_COLUMNS",
    "COST_COLUMNS",
    "PROVENANCE_COLUMNS",
    "KEY",
    "BREAKDOWN_BOUNDS",
    "breakdown_flags",
    "SOURCES",
    "SOURCE_PRIORITY",
    "DATASETS",
    "NATS_EVAL_SETS",
    "MetricName",
    "ColumnSpec",
    "parse_metric",
    "format_metric",
    "is_metric",
    "column_spec",
    "check_column",
    "check_columns",
    "direction",
    "is_known",
    "is_value_column",
]

STAGES: tuple[str, ...] = ("pre", "post")
#: Bin counts of the published dataset (any positive count is a valid name).
BINS: tuple[int, ...] = (5, 10, 15, 20, 25, 50, 100, 200, 500)
BINNED_FAMILIES: tuple[str, ...] = ("ECE", "ECE_em", "cwCE", "cwCE_em", "MCE")
UNBINNED_FAMILIES: tuple[str, ...] = ("KSCE", "KDECE", "MMCE", "NLL", "Brier")
EXTRA_BINNED_FAMILIES: tuple[str, ...] = ("ECE_l2_debiased", "TL_ECE")
EXTRA_UNBINNED_FAMILIES: tuple[str, ...] = ("smECE", "Brier_sum", "acc")
_BINNED = BINNED_FAMILIES + EXTRA_BINNED_FAMILIES
_UNBINNED = UNBINNED_FAMILIES + EXTRA_UNBINNED_FAMILIES

_EPS_FGSM = ("0_1", "0_5", "1_0", "2_0", "3_0", "4_0", "5_0", "6_0", "7_0", "8_0", "255_0")
_EPS_OTHER = ("0_1", "0_5", "1_0", "2_0", "3_0", "4_0", "8_0")
#: The 32 attack accuracy columns of the robustness dataset, in published order.
ATTACK_COLUMNS: tuple[str, ...] = (
    tuple(f"fgsm_Linf_acc{e}" for e in _EPS_FGSM)
    + tuple(f"pgd_Linf_acc{e}" for e in _EPS_OTHER)
    + tuple(f"aa_apgd_ce_Linf_acc{e}" for e in _EPS_OTHER)
    + tuple(f"aa_square_Linf_acc{e}" for e in _EPS_OTHER)
)
#: The 15 CIFAR-C corruption accuracy columns (severity 3), in published order.
CORRUPTION_COLUMNS: tuple[str, ...] = (
    "brightness",
    "contrast",
    "defocus_blur",
    "elastic_transform",
    "fog",
    "frost",
    "gaussian_noise",
    "glass_blur",
    "impulse_noise",
    "jpeg_compression",
    "motion_blur",
    "pixelate",
    "shot_noise",
    "snow",
    "zoom_blur",
)
ROBUSTNESS_COLUMNS: tuple[str, ...] = ("clean_acc", *ATTACK_COLUMNS, *CORRUPTION_COLUMNS)

#: The 100 published calibration columns in published order (binned families, pre/post per bin).
CALIBRATION_COLUMNS: tuple[str, ...] = tuple(
    f"{stage}_{family}_{b}" for family in BINNED_FAMILIES for b in BINS for stage in STAGES
) + tuple(f"{stage}_{family}" for family in UNBINNED_FAMILIES for stage in STAGES)

#: The 154 columns of the published calibration CSVs, in file order (official-columns.txt).
PUBLISHED_COLUMNS: tuple[str, ...] = (
    "config",
    "acc",
    "correct_confidence",
    "incorrect_confidence",
    "arch",
    *CALIBRATION_COLUMNS,
    "auc_cifar10c",
    "auc_svhn",
    *ATTACK_COLUMNS,
    *CORRUPTION_COLUMNS,
)

#: Learning-curve columns (NATS-Bench records): fractions and cross-entropy losses. ``valtest``
#: is NATS's ori-test set of cifar100/ImageNet16-120 (the union of its valid and test halves).
TRAINING_COLUMNS: tuple[str, ...] = (
    "train_acc",
    "train_loss",
    "valid_acc",
    "valid_loss",
    "test_acc",
    "test_loss",
    "valtest_acc",
    "valtest_loss",
)
#: Costs: millions of parameters and FLOPs, seconds. The ``*_time_s`` columns are cumulative, as
#: NATS-Bench's "all-time": ``train_time_s`` the simulated time spent training up to ``epoch``,
#: ``valid_time_s``/``test_time_s``/``valtest_time_s`` the time spent evaluating that set after
#: each epoch up to ``epoch`` (divide by ``epoch`` for the time of one pass).
COST_COLUMNS: tuple[str, ...] = (
    "params_m",
    "flops_m",
    "latency_s",
    "train_time_s",
    "valid_time_s",
    "test_time_s",
    "valtest_time_s",
)
#: Where a row comes from. ``flags`` lists data-quality findings of the importer (";"-joined).
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "space",
    "dataset",
    "source",
    "protocol",
    "hp",
    "epoch",
    "seed",
    "copied",
    "flags",
    "created",
    "calnas_version",
)
_OTHER_PLAIN: tuple[str, ...] = ("temperature",)

#: Estimators that can leave their range, and the bound they break. The study's KDECE (a kernel
#: density estimate with its carry-forward rule) exceeds 1 near chance accuracy (36.19 was seen on
#: a random-label cell): the value is kept as computed and the row flagged ``breakdown:<column>``,
#: like the study's silent zeros, so that analyses can leave it out.
BREAKDOWN_BOUNDS: dict[str, float] = {"pre_KDECE": 1.0, "post_KDECE": 1.0}


def breakdown_flags(columns: Mapping[str, Iterable[object]], n: int) -> list[list[str]]:
    """Per row of ``n``, the ``breakdown:<column>`` flags of :data:`BREAKDOWN_BOUNDS`.

    ``columns`` maps names to the rows' values (a pandas DataFrame works); absent columns and
    missing values raise no flag.

    Example:
        >>> breakdown_flags({"pre_KDECE": [0.2, 36.19, None]}, 3)
        [[], ['breakdown:pre_KDECE'], []]
    """
    flags: list[list[str]] = [[] for _ in range(n)]
    for name, bound in BREAKDOWN_BOUNDS.items():
        if name in columns:
            for row, value in enumerate(columns[name]):
                if isinstance(value, (int, float)) and value > bound:
                    flags[row].append(f"breakdown:{name}")
    return flags


#: Upsert key. ``hp`` (length of the training schedule) is part of it because NATS-Bench's hp
#: tags 12 and 200 are different training runs that both have, for example, an epoch 12.
KEY: tuple[str, ...] = ("space", "dataset", "config", "source", "hp", "epoch", "seed")

#: Every source a row can come from.
SOURCES: tuple[str, ...] = ("official", "robustness", "computed", "nats", "nb201", "demo")
#: Which source wins when several hold a value for the same (config, metric), first wins.
SOURCE_PRIORITY: tuple[str, ...] = ("official", "robustness", "computed", "nats", "nb201", "demo")
#: Dataset names of the store: NATS-Bench's, ``cifar10-valid`` (NATS-Bench's CIFAR-10 run trained
#: on the 25k train split, the one whose validation accuracy NATS searches use) and the proxy
#: tasks ``digits`` and ``fashion8``.
DATASETS: tuple[str, ...] = (
    "cifar10",
    "cifar10-valid",
    "cifar100",
    "ImageNet16-120",
    "digits",
    "fashion8",
)
#: NATS-Bench's evaluation sets per dataset key -> the column prefix holding them (``valid_acc``,
#: ``test_time_s``...): ``valtest`` is the ori-test set of cifar100/ImageNet16-120 (its valid and
#: test halves together), and on the CIFAR-10 keys ori-test is plain ``test``.
NATS_EVAL_SETS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"x-valid": "valid", "ori-test": "test"},
    "cifar10": {"ori-test": "test"},
    "cifar100": {"x-valid": "valid", "x-test": "test", "ori-test": "valtest"},
    "ImageNet16-120": {"x-valid": "valid", "x-test": "test", "ori-test": "valtest"},
}

# KDECE is not bounded by 1: the study's estimator carries g forward over grid points where both
# densities vanish, so near-chance networks can exceed 1 (faithfully reproduced, not clipped).
_FRACTION_FAMILIES = frozenset(
    {"ECE", "ECE_em", "cwCE", "cwCE_em", "MCE", "KSCE", "Brier", "TL_ECE", "smECE", "acc"}
)


class MetricName(NamedTuple):
    """A parsed metric column name (see :func:`parse_metric`).

    Example:
        >>> MetricName("pre", "ECE", 15).family
        'ECE'
    """

    stage: str
    family: str
    bins: int | None


class ColumnSpec(NamedTuple):
    """Type, range and direction of one column.

    ``dtype`` is one of ``int64``, ``float64``, ``string``, ``bool``, ``timestamp``; ``low`` and
    ``high`` bound finite values (inclusive); ``direction`` is ``max``, ``min`` or None for
    columns that are not objectives. (A NamedTuple, not a dataclass: importing dataclasses costs
    a new process more than a whole benchmark query.)

    Example:
        >>> column_spec("acc").is_fraction, column_spec("acc").direction
        (True, 'max')
    """

    name: str
    dtype: str
    kind: str
    low: float = -math.inf
    high: float = math.inf
    direction: str | None = None
    nullable: bool = True

    @property
    def is_fraction(self) -> bool:
        """Whether the column holds a fraction in [0, 1] (an accuracy, a rate, a confidence)."""
        return self.low == 0.0 and self.high == 1.0


def parse_metric(name: str) -> MetricName:
    """Split a metric column name into (stage, family, bins); ValueError if it is not one.

    Example:
        >>> parse_metric("pre_ECE_l2_debiased_15")
        MetricName(stage='pre', family='ECE_l2_debiased', bins=15)
        >>> parse_metric("post_Brier")
        MetricName(stage='post', family='Brier', bins=None)
    """
    if not isinstance(name, str):
        raise InputError(f"a metric name must be a string, got {type(name).__name__}")
    stage, sep, rest = name.partition("_")
    if not sep or stage not in STAGES:
        raise InputError(_unknown(name, "metric", _metric_examples()))
    if rest in _UNBINNED:
        return MetricName(stage, rest, None)
    family, sep, bins = rest.rpartition("_")
    if sep and family in _BINNED and bins.isdigit() and not bins.startswith("0"):
        return MetricName(stage, family, int(bins))
    if rest in _BINNED:
        raise InputError(f"metric {name!r} needs a bin count: {name}_15, for example")
    if family in _UNBINNED and bins.isdigit():
        raise InputError(f"metric family {family!r} takes no bin count: use {stage}_{family}")
    raise InputError(_unknown(name, "metric", _metric_examples()))


def format_metric(stage: str, family: str, bins: int | None = None) -> str:
    """The column name of (stage, family, bins); ValueError when the parts do not fit.

    Example:
        >>> format_metric("post", "cwCE_em", 100)
        'post_cwCE_em_100'
    """
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; accepted: {', '.join(STAGES)}")
    if family in _UNBINNED:
        if bins is not None:
            raise InputError(f"metric family {family!r} takes no bin count")
        return f"{stage}_{family}"
    if family not in _BINNED:
        raise InputError(_unknown(family, "metric family", _BINNED + _UNBINNED))
    if isinstance(bins, bool) or not isinstance(bins, int) or bins <= 0:
        raise InputError(
            f"metric family {family!r} needs a positive integer bin count, got {bins!r}"
        )
    return f"{stage}_{family}_{bins}"


def is_metric(name: str) -> bool:
    """True if ``name`` follows the ``{stage}_{family}[_{bins}]`` grammar.

    Example:
        >>> is_metric("post_ECE_em_15"), is_metric("acc")
        (True, False)
    """
    try:
        parse_metric(name)
    except ValueError:
        return False
    return True


def _metric_examples() -> tuple[str, ...]:
    return (
        CALIBRATION_COLUMNS
        + tuple(f"{s}_{f}_15" for f in EXTRA_BINNED_FAMILIES for s in STAGES)
        + tuple(f"{s}_{f}" for f in EXTRA_UNBINNED_FAMILIES for s in STAGES)
    )


def _plain_specs() -> dict[str, ColumnSpec]:
    specs: dict[str, ColumnSpec] = {
        "config": ColumnSpec("config", "int64", "id", 0, math.inf, None, nullable=False),
        "arch": ColumnSpec("arch", "string", "id"),
        "acc": ColumnSpec("acc", "float64", "accuracy", 0.0, 1.0, "max"),
        # confidences are not objectives: a calibrated model is not "more confident"
        "correct_confidence": ColumnSpec("correct_confidence", "float64", "confidence", 0.0, 1.0),
        "incorrect_confidence": ColumnSpec("incorrect_confidence", "float64", "confidence", 0, 1),
        "temperature": ColumnSpec("temperature", "float64", "temperature", 0.0, math.inf),
        "auc_cifar10c": ColumnSpec("auc_cifar10c", "float64", "ood", 0.0, 1.0, "max"),
        "auc_svhn": ColumnSpec("auc_svhn", "float64", "ood", 0.0, 1.0, "max"),
    }
    for name in ROBUSTNESS_COLUMNS:
        specs[name] = ColumnSpec(name, "float64", "robustness", 0.0, 1.0, "max")
    for name in TRAINING_COLUMNS:
        if name.endswith("_acc"):
            specs[name] = ColumnSpec(name, "float64", "training", 0.0, 1.0, "max")
        else:
            specs[name] = ColumnSpec(name, "float64", "training", 0.0, math.inf, "min")
    for name in COST_COLUMNS:
        specs[name] = ColumnSpec(name, "float64", "cost", 0.0, math.inf, "min")
    prov = {
        "space": "string",
        "dataset": "string",
        "source": "string",
        "protocol": "string",
        "hp": "int64",
        "epoch": "int64",
        "seed": "int64",
        "copied": "bool",
        "flags": "string",
        "created": "timestamp",
        "calnas_version": "string",
    }
    for name, dtype in prov.items():
        low = {"hp": 0, "epoch": 0, "seed": -1}.get(name, -math.inf)
        nullable = name in ("protocol", "flags")
        specs[name] = ColumnSpec(name, dtype, "provenance", low, math.inf, None, nullable)
    return specs


_PLAIN = _plain_specs()


def _metric_spec(name: str, m: MetricName) -> ColumnSpec:
    if m.family == "acc":
        return ColumnSpec(name, "float64", "accuracy", 0.0, 1.0, "max")
    if m.family in _FRACTION_FAMILIES:
        return ColumnSpec(name, "float64", "calibration", 0.0, 1.0, "min")
    if m.family == "Brier_sum":
        return ColumnSpec(name, "float64", "calibration", 0.0, 2.0, "min")
    if m.family == "ECE_l2_debiased":  # a debiased estimate can fall below zero
        return ColumnSpec(name, "float64", "calibration", -math.inf, math.inf, "min")
    return ColumnSpec(name, "float64", "calibration", 0.0, math.inf, "min")  # NLL, MMCE


def is_known(name: str) -> bool:
    """True if ``name`` is a column calnas knows (plain or following the metric grammar).

    Example:
        >>> is_known("acc"), is_known("pre_smECE"), is_known("accuracy")
        (True, True, False)
    """
    return isinstance(name, str) and (name in _PLAIN or is_metric(name))


def column_spec(name: str) -> ColumnSpec:
    """Type, range and direction of a column; ValueError listing close matches if unknown.

    Example:
        >>> column_spec("post_NLL").dtype, column_spec("frost").direction
        ('float64', 'max')
    """
    spec = _PLAIN.get(name) if isinstance(name, str) else None
    if spec is not None:
        return spec
    if isinstance(name, str) and name.startswith(tuple(f"{s}_" for s in STAGES)):
        return _metric_spec(name, parse_metric(name))
    raise InputError(_unknown(name, "column", (*_PLAIN, *_metric_examples())))


def check_column(name: str) -> str:
    """Return ``name`` if it is a known column, else raise ValueError with close matches.

    Example:
        >>> check_column("pre_ECE_15")
        'pre_ECE_15'
    """
    column_spec(name)
    return name


def check_columns(names: Iterable[str]) -> list[str]:
    """Check several column names at once (the first unknown one raises).

    Example:
        >>> check_columns(["acc", "pre_ECE_15"])
        ['acc', 'pre_ECE_15']
    """
    return [check_column(n) for n in names]


def is_value_column(name: str) -> bool:
    """Whether column ``name`` holds a measured value: a float that is not a key or provenance.

    Example:
        >>> is_value_column("pre_ECE_15"), is_value_column("config"), is_value_column("seed")
        (True, False, False)
    """
    spec = column_spec(name)
    return spec.dtype == "float64" and spec.kind not in ("id", "provenance")


def direction(name: str) -> str:
    """``'max'`` or ``'min'``: how an objective on this column is optimized.

    Accuracies (``acc``, ``*_acc``, attack and corruption accuracies) and OOD AUCs are maximized;
    calibration errors, NLL, Brier, losses and costs are minimized. Columns that are not
    objectives (ids, provenance, confidences, temperature) raise ValueError.

    Example:
        >>> direction("post_cwCE_em_100"), direction("aa_square_Linf_acc8_0")
        ('min', 'max')
    """
    spec = column_spec(name)
    if spec.direction is None:
        raise InputError(f"column {name!r} ({spec.kind}) is not an objective and has no direction")
    return spec.direction


def _unknown(name: object, what: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(candidates), n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (
        f"unknown {what} {name!r}{hint} (metrics follow {{pre|post}}_{{family}}[_{{bins}}] with "
        f"binned families {', '.join(_BINNED)} and unbinned {', '.join(_UNBINNED)})"
    )
