"""Noisy measurements: answer each query with one training seed's row (``noise="seed"``).

A calibration metric measured on one training run is noisy; the table's default answer is the
mean over the seeds it holds. Under ``noise="seed"`` a search sees what one training run would
have shown: :func:`load_seed_signal` loads every seed's rows of the signal columns, and
:func:`draw` picks the seed that answers a class. The pick is a function of (run seed, class
representative) only, so a repeat of a class, another worker, and a resumed study all see the
same observation (the worker's cache stays exact), while another run seed draws differently.

Example:
    >>> import numpy as np
    >>> sig = SeedSignal(np.array([777, 888]), {"acc": np.array([[0.5, 0.6], [0.7, np.nan]])},
    ...                  cost=np.array([[10.0, 20.0], [11.0, 21.0]]))
    >>> draw(sig, 0, 1)  # class 1: only seed 777 has a value
    (777, {'acc': 0.6}, 20.0)
    >>> draw(sig, 0, 0) == draw(sig, 0, 0)  # the same class, the same run seed: the same row
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import InputError
from bench.table.catalog import MissingEntry

__all__ = ["SeedSignal", "draw", "load_seed_signal"]


@dataclass
class SeedSignal:
    """Every seed's values of the signal columns, per NATS index (mapped through the class map).

    Attributes:
        seeds: the seeds, (S,) ints (-1 marks a row stored as the mean of several seeds).
        values: column -> (S, space size) array; NaN where that seed has no value.
        cost: (S, space size) ``train_time_s`` per seed, or None when the table has none.
    """

    seeds: np.ndarray
    values: dict[str, np.ndarray]
    cost: np.ndarray | None = None

    def available(self, rep: int) -> np.ndarray:
        """The positions (into ``seeds``) of the seeds with a value of every column for ``rep``.

        Example:
            >>> SeedSignal(np.array([1, 2]), {"a": np.array([[np.nan], [0.5]])}).available(0)
            array([1])
        """
        ok = np.ones(len(self.seeds), dtype=bool)
        for arr in self.values.values():
            ok &= np.isfinite(arr[:, rep])
        return np.flatnonzero(ok)


def draw(
    signal: SeedSignal, run_seed: int, rep: int
) -> tuple[int, dict[str, float], float | None] | None:
    """The seed that answers class ``rep`` in the run seeded ``run_seed``, its row and charge.

    The seed is drawn uniformly among those with a value of every column, by
    ``np.random.default_rng([run_seed, rep])``: deterministic per (run seed, class).

    Args:
        signal: from :func:`load_seed_signal`.
        run_seed: the search's seed (``SearchConfig.seed``; >= 0).
        rep: the class representative's NATS index.

    Returns:
        ``(seed, {column: value}, train seconds or None)``, or None when no seed has the row.

    Example:
        >>> sig = SeedSignal(np.array([1, 2, 3]), {"a": np.array([[0.1], [0.2], [0.3]])})
        >>> sorted({draw(sig, s, 0)[0] for s in range(20)})
        [1, 2, 3]
    """
    choices = signal.available(rep)
    if choices.size == 0:
        return None
    k = int(choices[np.random.default_rng([int(run_seed), int(rep)]).integers(choices.size)])
    row = {c: float(a[k, rep]) for c, a in signal.values.items()}
    charge = None
    if signal.cost is not None and math.isfinite(signal.cost[k, rep]):
        charge = float(signal.cost[k, rep])
    return int(signal.seeds[k]), row, charge


def load_seed_signal(
    bm: Any,
    config: Any,
    columns: Sequence[str],
    reps: np.ndarray,
    *,
    hp: int | None = None,
    epoch: int | None = None,
    with_cost: bool = True,
) -> SeedSignal:
    """Every seed's rows of ``columns`` (and ``train_time_s``) at the signal's (hp, epoch).

    Args:
        bm: the benchmark.
        config: the search (its space, dataset and source are read).
        columns: the signal columns (the objectives' and constraints' columns).
        reps: index -> class representative (``Problem.reps``).
        hp: the training schedule of the problem's signal (None: the longest).
        epoch: the epoch of the problem's signal (None: the final epoch).
        with_cost: load ``train_time_s`` too (the table has that column).

    Returns:
        The :class:`SeedSignal`.

    Raises:
        InputError: the table holds fewer than two seeds for this selection, or no class has
            values from two of them.
    """
    space, dataset, source = config.space, config.dataset, config.source
    seeds = bm.seeds(space, dataset, source, hp=hp, epoch=epoch)
    size = len(reps)
    values = {c: np.full((len(seeds), size), np.nan) for c in columns}
    cost = np.full((len(seeds), size), np.nan) if with_cost else None
    for k, s in enumerate(seeds):
        got = _seed_arrays(bm, config, list(columns), s, hp, epoch, size)
        for c, arr in got.items():
            values[c][k] = arr
        if cost is not None:  # apart: a seed whose rows lack train_time_s still answers
            cost[k] = _seed_arrays(bm, config, ["train_time_s"], s, hp, epoch, size).get(
                "train_time_s", np.nan)  # fmt: skip
    signal = SeedSignal(np.asarray(seeds, dtype=np.int64), {c: a[:, reps] for c, a in
                        values.items()}, None if cost is None else cost[:, reps])  # fmt: skip
    answered = np.ones((len(seeds), size), dtype=bool)
    for arr in signal.values.values():
        answered &= np.isfinite(arr)
    if answered.sum(axis=0).max(initial=0) < 2:
        if not seeds:
            held = "no rows"
        elif len(seeds) == 1:
            held = f"one (seed {seeds[0]})"
        else:
            held = (f"seeds {', '.join(map(str, seeds))} but no architecture measured under "
                    "two of them")  # fmt: skip
        where = f"{space}/{dataset} table" + (f" (source {source!r})" if source else "")
        raise InputError(
            f"noise='seed' needs a table with several seeds per architecture; the {where} "
            f"holds {held}"
        )
    return signal


def _seed_arrays(
    bm: Any,
    config: Any,
    cols: list[str],
    seed: int,
    hp: int | None,
    epoch: int | None,
    size: int,
) -> dict[str, np.ndarray]:
    """Column -> values of seed ``seed`` per NATS index (NaN where it has no row)."""
    try:
        frame = bm.frame(config.space, config.dataset, cols, source=config.source, epoch=epoch,
                         hp=hp, seed=seed)  # fmt: skip
    except MissingEntry:
        return {}  # this seed holds none of these columns at this selection
    idx = frame["config"].to_numpy(dtype=np.int64)
    out = {}
    for c in cols:
        arr = np.full(size, np.nan)
        if c in frame.columns:
            arr[idx] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        out[c] = arr
    return out
