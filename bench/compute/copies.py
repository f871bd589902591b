"""Which network is computed for which index, and the rows copied to the others.

A compute run trains one *unit* per group of indices that share their measured values: a TSS
isomorphism class (its smallest index), or with ``copy_functional`` a TSS function
(:mod:`bench.arch.functional`); an SSS network is its own unit. The unit's rows are copied to
its other members (``copied=True``), each copy with its own params and FLOPs
(:func:`own_costs`).

Example:
    >>> cfg = ComputeConfig("tss", "digits", copy_functional=True)
    >>> int(unit_of(cfg)[828])
    185
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.compute.config import ComputeConfig
from bench.compute.journal import write_journal

__all__ = ["unit_of", "own_costs", "copies", "copy_from_store"]


def unit_of(cfg: ComputeConfig) -> np.ndarray:
    """For every index of ``cfg.space``, the index computed for it (read-only).

    TSS: the smallest index of its isomorphism class, or with ``cfg.copy_functional`` of its
    function (:func:`bench.arch.functional.function_representatives`); SSS: itself.

    Example:
        >>> from dataclasses import replace
        >>> cfg = ComputeConfig("tss", "digits")
        >>> int(unit_of(cfg)[828]), int(unit_of(replace(cfg, copy_functional=True))[828])
        (828, 185)
    """
    if cfg.copy_functional:
        from bench.arch.functional import function_representatives

        return function_representatives(cfg.space)
    return get_space(cfg.space).representatives()


def own_costs(frame: pd.DataFrame, cfg: ComputeConfig) -> pd.DataFrame:
    """``frame`` with each row's own params and FLOPs, and copied rows' times scaled to them.

    Members of one unit can differ in both: an isomorphism class joins cells whose dead or
    repeated edges differ, and so does a function. A copied row's ``train_time_s`` and
    ``latency_s`` are its unit's scaled by the FLOPs ratio (the rule packs use for their shares);
    computed rows' times are left as measured.

    Example:
        >>> row = pd.DataFrame({"config": [8941], "copied": [True], "params_m": [0.067426],
        ...                     "flops_m": [0.561994], "train_time_s": [1.0]})
        >>> out = own_costs(row, ComputeConfig("tss", "digits"))
        >>> float(out["flops_m"].iloc[0]), round(float(out["train_time_s"].iloc[0]), 3)
        (0.451402, 0.803)
    """
    from bench.arch.costs import cost_all

    C, N = cfg.skeleton
    params, flops = cost_all(get_space(cfg.space).name, cfg.dataset, C=C, N=N)
    configs = frame["config"].to_numpy(dtype=np.int64)
    own = np.round(flops[configs], 6)  # as bench.arch.costs.cost rounds
    copied = frame["copied"].to_numpy(dtype=bool)
    ratio = np.where(copied, own / frame["flops_m"].to_numpy(dtype=float), 1.0)
    out = frame.assign(params_m=np.round(params[configs], 6), flops_m=own)
    for col in ("train_time_s", "latency_s"):
        if col in out:
            out[col] = out[col].to_numpy(dtype=float) * ratio
    return out


def copies(frame: pd.DataFrame, members: Iterable[int], cfg: ComputeConfig) -> pd.DataFrame:
    """A unit's rows copied to its other members (``copied=True``, :func:`own_costs`)."""
    members = [int(m) for m in members]
    if not members:
        return frame.iloc[0:0]
    space = get_space(cfg.space)
    reps = frame[~frame["copied"].astype(bool)] if "copied" in frame else frame
    out = reps.loc[reps.index.repeat(len(members))].reset_index(drop=True)
    configs = np.tile(np.asarray(members, dtype=np.int64), len(reps))
    out["config"] = configs
    out["arch"] = [space.arch(m) for m in configs]
    out["copied"] = True
    return own_costs(out, cfg)


def copy_from_store(store: Any, cfg: ComputeConfig, rep: int, members: list[int]) -> int:
    """Journal rows for ``members`` from their stored representative's rows (no recompute)."""
    space = get_space(cfg.space)
    frame = store.read(
        space.name, cfg.dataset, cfg.source, filters=[("config", "==", rep), ("hp", "==", cfg.hp)]
    )
    if cfg.weights is None:
        frame = frame[frame["seed"] == cfg.seed]
    frame = frame[frame["epoch"].isin(cfg.epochs_measured)]
    if "copied" in frame:
        frame = frame.assign(copied=False)
    out = copies(frame, [m for m in members if m != rep], cfg)
    if len(out):
        write_journal(store, cfg, rep, out)
    return len(out)
