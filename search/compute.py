"""The compute backend: answer from rows measured with one protocol, compute the missing ones.

A search with ``backend="compute"`` reads the store's rows measured with exactly its
``ComputeConfig`` (its source, ``hp`` = epochs, seed; final epoch). A trial whose architecture
has no such row trains, measures and upserts it through ``bench.compute.compute``; the clock
charges the measured train time. The true front is the front of everything measured with that
protocol when the search ends.

Example:
    >>> compute_config("tss", "digits", {"epochs": 1}).epochs
    1
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.arch.spaces import get_space
from bench.errors import InputError
from search.config import SearchConfig
from search.objectives import HCS_ECE, objective_columns
from search.problem import Problem, class_map

__all__ = ["compute_config", "load_compute_problem", "compute_row"]


def compute_config(space: str, dataset: str, compute: Any) -> Any:
    """The ``ComputeConfig`` of a compute-backend search, checked against space and dataset.

    Args:
        space: the search's space (canonical name).
        dataset: the search's dataset.
        compute: None (NATS's 12-epoch schedule), a ``ComputeConfig``, or a dict of its fields.

    Returns:
        A ``bench.compute.ComputeConfig``.

    Raises:
        InputError: bad fields, another space or dataset, or a weights archive.
    """
    from bench.compute import ComputeConfig

    if compute is None:
        return ComputeConfig(space, dataset)
    if isinstance(compute, ComputeConfig):
        cfg = compute
    elif isinstance(compute, Mapping):
        fields = {k: v for k, v in compute.items() if k not in ("space", "dataset")}
        try:
            cfg = ComputeConfig(space, dataset, **fields)
        except TypeError as err:
            raise InputError(f"compute: bad ComputeConfig fields {sorted(fields)}: {err}") from None
    else:
        raise InputError(
            f"compute must be a bench.compute.ComputeConfig or a dict, got {type(compute).__name__}"
        )
    if get_space(cfg.space).name != space or cfg.dataset != dataset:
        raise InputError(
            f"compute config is for {cfg.space}/{cfg.dataset}, the search for {space}/{dataset}"
        )
    if cfg.weights is not None:
        raise InputError("the compute backend trains networks; a weights archive is not used here")
    return cfg


def load_compute_problem(bm: Any, config: SearchConfig) -> Problem:
    """The problem of a compute-backend search: rows measured with its protocol (NaN elsewhere).

    Args:
        bm: the benchmark whose store is read and written.
        config: the search (``backend="compute"``).

    Returns:
        A :class:`~search.problem.Problem` whose ``compute`` is the ``ComputeConfig``.

    Raises:
        InputError: another source than the protocol's, no store, or an objective the
            computation does not produce.
    """
    from bench.table.schema import check_columns

    space, dataset = config.space, config.dataset
    objs, cons = config.objective_list(), config.constraint_list()
    ccfg = compute_config(space, dataset, config.compute)
    if config.source is not None and config.source != ccfg.source:
        raise InputError(
            f"the compute backend reads and writes source {ccfg.source!r}, not {config.source!r}"
        )
    store = getattr(bm, "store", None)
    if store is None:
        raise InputError("the compute backend needs a store to write to: give bench=PATH")
    sp = get_space(space)
    needed = objective_columns(objs, cons)
    check_columns(needed)  # a name no computation can produce fails before any training
    extras = [c for c in ("acc", HCS_ECE) if c not in needed]
    cols = needed + extras
    frame = _computed_rows(store, ccfg)
    final = {c: np.full(sp.size, np.nan) for c in cols}
    cost = np.full(sp.size, np.nan)
    if len(frame):
        _check_computed_columns(frame, needed, ccfg)
        idx = frame["config"].to_numpy(dtype=np.int64)
        for c in cols:
            if c in frame.columns:
                final[c][idx] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        cost[idx] = frame["train_time_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    reps = class_map(sp, config.merge_functional)
    final = {c: a[reps] for c, a in final.items()}
    return Problem(space, dataset, objs, cons, reps, final, final, cost[reps], [], ccfg.epochs,
                   ccfg.epochs, False, ccfg, str(store.root), [ccfg.source], ccfg.hp,
                   functional=config.merge_functional)  # fmt: skip


def compute_row(problem: Problem, rep: int) -> bool:
    """Train and measure architecture ``rep`` with the problem's protocol, store its row, and
    write its values into ``problem.signal`` and ``problem.cost``.

    Another process computing the same class holds its claim: wait for its rows (a claim of a
    dead process is taken over by ``bench.compute.compute``).

    Args:
        problem: a compute-backend problem.
        rep: the class representative to compute.

    Returns:
        Whether this call trained a network (False: another process did, or the row was stored).

    Raises:
        RuntimeError: the computation failed.
        InputError: the computed row lacks an objective's column.
    """
    from bench.compute import compute
    from bench.compute.journal import merge_journal
    from bench.table.store import Store

    ccfg = problem.compute
    store = Store(problem.bench_root)
    needed = objective_columns(problem.objectives, problem.constraints)
    while True:
        rep_report = compute(ccfg, [int(rep)], bench=problem.bench_root, jobs=0, quiet=True)
        if rep_report.failures:
            raise RuntimeError(f"computing architecture {rep} failed: {rep_report.failures[0]}")
        merge_journal(store, ccfg)  # rows another process left in the journal
        frame = _computed_rows(store, ccfg, rep)
        if len(frame):
            break
        time.sleep(1.0)  # claimed by a live process: its rows arrive when it finishes
    _check_computed_columns(frame, needed, ccfg)
    row = frame.iloc[0]
    for c, arr in problem.signal.items():
        arr[problem.reps == rep] = float(row[c]) if c in frame.columns else math.nan
    if problem.cost is not None:
        problem.cost[problem.reps == rep] = float(row["train_time_s"])
    return bool(rep_report.networks)


def _computed_rows(store: Any, ccfg: Any, config: int | None = None) -> Any:
    """Final-epoch rows of the compute protocol (its source, hp, seed) in the store."""
    import pandas as pd

    filters = [("hp", "==", ccfg.hp), ("epoch", "==", ccfg.epochs), ("seed", "==", ccfg.seed)]
    if config is not None:
        filters.append(("config", "==", int(config)))
    try:
        frame = store.read(get_space(ccfg.space).name, ccfg.dataset, ccfg.source, filters=filters)
    except FileNotFoundError:
        return pd.DataFrame({"config": pd.Series(dtype=np.int64)})
    return frame.drop_duplicates("config", keep="last")


def _check_computed_columns(frame: Any, needed: list[str], ccfg: Any) -> None:
    absent = [c for c in needed if c not in frame.columns or frame[c].isna().all()]
    if absent:
        raise InputError(
            f"unknown metric {', '.join(map(repr, absent))}: the compute pipeline does not "
            f"measure it for {ccfg.space}/{ccfg.dataset}"
        )
