"""NATS-Bench's run records from benchmark rows: :class:`NATSRun` and the helpers that build it.

``query_by_index`` of :mod:`bench.table.nats` answers with these records; they hold what
``nats_bench``'s ``ResultsCount`` holds (per-epoch train/eval accuracies, losses and times).

Example:
    >>> nats_set("cifar10", "ori-test")
    ('cifar10', 'test')
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from bench.errors import InputError
from bench.table.schema import NATS_EVAL_SETS

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NATSRun", "TIME_COLUMNS", "nats_run", "nats_set"]

#: Cumulative time columns, NATS-Bench's "all-time" of training and of each evaluation set.
TIME_COLUMNS = ("train_time_s", "valid_time_s", "test_time_s", "valtest_time_s")


def nats_set(dataset: str, metric_on_set: str) -> tuple[str, str]:
    """(dataset key, column prefix) of NATS-Bench's ``(dataset, metric_on_set)``.

    Remapped as NATS-Bench's ``find_best`` does: ``('cifar10', 'valid')`` is cifar10-valid's
    x-valid, ``('cifar10', 'test')`` cifar10's ori-test, 'test' on cifar100/ImageNet16-120 x-test,
    'valid' elsewhere x-valid; 'train' is the training set. A set the dataset lacks is refused.
    """
    if dataset == "cifar10" and metric_on_set == "valid":
        dataset, metric_on_set = "cifar10-valid", "x-valid"
    elif dataset == "cifar10" and metric_on_set == "test":
        metric_on_set = "ori-test"
    elif dataset in ("cifar100", "ImageNet16-120") and metric_on_set == "test":
        metric_on_set = "x-test"
    elif metric_on_set == "valid":
        metric_on_set = "x-valid"
    if dataset not in NATS_EVAL_SETS:
        raise InputError(
            f"unknown NATS-Bench dataset {dataset!r}; accepted: {', '.join(NATS_EVAL_SETS)}"
        )
    if metric_on_set == "train":
        return dataset, "train"
    sets = NATS_EVAL_SETS[dataset]
    if metric_on_set not in sets:
        raise InputError(
            f"unknown evaluation set {metric_on_set!r} for {dataset}; accepted: train, "
            f"{', '.join(sets)} (and NATS-Bench's aliases valid, test)"
        )
    return dataset, sets[metric_on_set]


class NATSRun(NamedTuple):
    """One training run (dataset, seed, hp) with the fields of NATS-Bench's ``ResultsCount``.

    Accuracies are fractions; per-epoch mappings are keyed by NATS-Bench's 0-based epoch
    (``train_acc1es[11]``, ``eval_acc1es['x-valid@11']``); times are per epoch, in seconds.
    ``latency`` is the run's mean latency (NATS-Bench keeps the list), None when unknown;
    ``eval_names`` come in the order x-valid, x-test, ori-test (the archives' order varies).

    Example (``query_by_index`` gives these; one built by hand):
        >>> run = NATSRun("cifar10", 777, 200, 1.53, 220.1, None, {0: 0.31}, {0: 1.9}, {0: 9.8},
        ...     ("ori-test",), {"ori-test@0": 0.35}, {"ori-test@0": 1.8}, {"ori-test@0": 1.0})
        >>> run.train_acc1es[0], run.eval_names
        (0.31, ('ori-test',))
    """

    name: str
    seed: int
    epochs: int
    params: float | None
    flop: float | None
    latency: float | None
    train_acc1es: dict[int, float]
    train_losses: dict[int, float]
    train_times: dict[int, float]
    eval_names: tuple[str, ...]
    eval_acc1es: dict[str, float]
    eval_losses: dict[str, float]
    eval_times: dict[str, float]


def per_epoch(epochs: np.ndarray, cumulative: np.ndarray) -> dict[int, float]:
    """Per-epoch times (0-based keys) from cumulative ones, where the previous epoch is known."""
    out: dict[int, float] = {}
    total: dict[int, float] = {int(e): float(c) for e, c in zip(epochs, cumulative, strict=True)}
    for e, c in total.items():
        before = 0.0 if e == 1 else total.get(e - 1, math.nan)
        if c == c and before == before:  # neither is NaN (unknown)
            out[e - 1] = c - before
    return out


def nats_run(
    dataset: str, hp: int, seed: int, epochs: np.ndarray, values: dict[str, np.ndarray]
) -> NATSRun:
    """One run's :class:`NATSRun` from its rows (sorted by epoch; NaN: no value)."""

    def series(name: str) -> dict[int, float]:
        col = values.get(name)
        if col is None:
            return {}
        return {int(e) - 1: float(x) for e, x in zip(epochs, col, strict=True) if x == x}

    def first(name: str) -> float | None:
        found = [float(x) for x in values.get(name, ()) if x == x]
        return found[0] if found else None

    def times(prefix: str) -> dict[int, float]:
        col = values.get(f"{prefix}_time_s")
        return {} if col is None else per_epoch(epochs, col)

    names: list[str] = []
    eval_acc: dict[str, float] = {}
    eval_loss: dict[str, float] = {}
    eval_times: dict[str, float] = {}
    for set_name, prefix in NATS_EVAL_SETS.get(dataset, {}).items():
        acc, loss, spent = series(f"{prefix}_acc"), series(f"{prefix}_loss"), times(prefix)
        if not acc and not spent:
            continue
        names.append(set_name)
        eval_acc.update({f"{set_name}@{e}": a for e, a in acc.items()})
        eval_loss.update({f"{set_name}@{e}": x for e, x in loss.items()})
        eval_times.update({f"{set_name}@{e}": t for e, t in spent.items()})
    return NATSRun(
        name=dataset,
        seed=seed,
        epochs=int(hp),
        params=first("params_m"),
        flop=first("flops_m"),
        latency=first("latency_s"),
        train_acc1es=series("train_acc"),
        train_losses=series("train_loss"),
        train_times=times("train"),
        eval_names=tuple(names),
        eval_acc1es=eval_acc,
        eval_losses=eval_loss,
        eval_times=eval_times,
    )
