"""Which network is computed for which index, and the rows copied to the others.

A compute run trains one *unit* per group of indices that share their measured values: a TSS
isomorphism class (its smallest index), or with ``copy_functional`` a TSS function
(:mod:`bench.arch.functional`); an SSS network is its own unit. The unit's rows are copied to
its other members (``copied=True``), each copy with its own params and FLOPs
(:func:`bench.table.costs.own_costs`).

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
from bench.table.costs import own_costs

__all__ = ["unit_of", "copies", "copy_from_store"]


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


def copies(frame: pd.DataFrame, members: Iterable[int], cfg: ComputeConfig) -> pd.DataFrame:
    """A unit's rows copied to its other members (``copied=True``, each with its own costs:
    :func:`bench.table.costs.own_costs`)."""
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
    return own_costs(out, cfg.space, cfg.dataset, *cfg.skeleton)


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
