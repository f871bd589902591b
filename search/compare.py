"""Compare strategies over many seeds: :func:`compare_strategies`.

Example:
    >>> rows = compare_strategies("tss", "digits", "acc,pre_ECE_15", ["random"], runs=2,
    ...                           budgets=[3, 5])
    >>> sorted(rows[0])
    ['hv@3', 'hv@5', 'queries_to_0.95', 'reached', 'runs', 'std@3', 'std@5', 'strategy']
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from bench.checks import check_int
from bench.errors import InputError
from search.config import SearchConfig
from search.problem import open_bench
from search.runner import run_search

__all__ = ["compare_strategies"]


def compare_strategies(
    space: str,
    dataset: str,
    objectives: str | Sequence[str],
    strategies: Sequence[str],
    *,
    runs: int = 20,
    budgets: Sequence[int] = (25, 50, 100, 200),
    target: float = 0.95,
    seed: int = 0,
    bench: Any = None,
    progress: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """Mean and std of normalized HV at fixed query budgets, and queries needed to reach ``target``.

    Each strategy runs ``runs`` times (seeds ``seed .. seed+runs-1``) with ``max(budgets)``
    queries. ``queries_to_target`` averages over the runs that reached the target; ``reached``
    says how many did.

    Args:
        space: the search space (``"tss"`` or ``"sss"``).
        dataset: the table's dataset.
        objectives: what is optimized (see :class:`~search.config.SearchConfig`).
        strategies: the strategies to compare (each ``name`` or ``name:key=value,...``).
        runs: seeds per strategy.
        budgets: query budgets at which the normalized HV is reported.
        target: the normalized HV whose first query is counted.
        seed: the first seed.
        bench: the benchmark (opened once for every run).
        progress: a tqdm bar over the runs on stderr.
        **options: further :class:`~search.config.SearchConfig` fields (``constraints``,
            ``source``, ``backend``, ...).

    Returns:
        One row per strategy: strategy, runs, ``hv@B`` and ``std@B`` per budget,
        ``queries_to_<target>`` (None when no run reached it) and ``reached`` (``"k/runs"``).

    Raises:
        InputError: no strategy, a bad strategy, run count, budget, target or option (before any
            run starts).
    """
    if not strategies:
        raise InputError("give at least one strategy to compare")
    check_int(runs, "runs")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise InputError(f"budgets must be positive integers, got {list(budgets)}")
    if not 0 < target <= 1:
        raise InputError(f"target must be in (0, 1], got {target}")
    # every configuration is built (and so checked) before the first run
    configs = [SearchConfig(space, dataset, objectives, s, trials=budgets[-1], seed=seed,
                            bench=bench, **options) for s in strategies]  # fmt: skip
    bm = open_bench(bench)
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(strategies) * runs, unit="run", desc="compare", file=sys.stderr,
                   dynamic_ncols=True)  # fmt: skip
    for config in configs:
        strat = config.strategy
        hv = np.zeros((runs, len(budgets)))
        reach: list[int] = []
        for r in range(runs):
            res = run_search(replace(config, seed=seed + r, bench=bm))
            if bar is not None:
                nhv = res.report["normalized_hv"]
                bar.set_postfix_str(f"{strat} seed {seed + r}: HV {nhv:.3f}")
                bar.update(1)
            h = res.hv_history
            for j, b in enumerate(budgets):
                hv[r, j] = h[min(b, len(h)) - 1] if len(h) else 0.0
            hit = np.flatnonzero(h >= target)
            if hit.size:
                reach.append(int(hit[0]) + 1)
        row: dict[str, Any] = {"strategy": strat, "runs": runs}
        for j, b in enumerate(budgets):
            row[f"hv@{b}"] = round(float(hv[:, j].mean()), 4)
            row[f"std@{b}"] = round(float(hv[:, j].std()), 4)
        row[f"queries_to_{target:g}"] = round(float(np.mean(reach)), 1) if reach else None
        row["reached"] = f"{len(reach)}/{runs}"
        rows.append(row)
    if bar is not None:
        bar.close()
    return rows
