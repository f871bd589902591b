"""Seed reliability: does a column's ranking of architectures survive a change of seed?

The study trained nothing anew and used one seed per architecture, so none of its rankings says
how much of a metric's spread is the architecture and how much the training draw. Where a table
holds several seeds per architecture (NATS-Bench archives do; ``calnas bench compute`` can),
this module measures, per column:

- **test-retest tau**: Kendall tau-b between two seeds' values over the architectures both hold,
  averaged over every pair of seeds;
- **within- and between-architecture spread**: the pooled standard deviation across seeds of
  one architecture, and the standard deviation of the architectures' means;
- **intraclass correlation**: ICC(1), the share of a single seed's variance that is the
  architecture's, and ICC(1,k), the reliability of the mean of k seeds (one-way random effects,
  over the architectures that hold every seed);
- **split-half tau**: Kendall tau-b between the means of two disjoint k-seed halves, the
  measured counterpart of the predicted tau of a k-seed mean (:func:`tau_of_halves`);
- **seeds needed**: how many seeds a mean needs for its ranking to repeat at a target tau. Tau is
  turned into a correlation with Greiner's relation r = sin(pi tau / 2) (exact for normal
  data), the Spearman-Brown formula r_m = m r / (1 + (m - 1) r) gives the mean of m seeds, and
  the result goes back to tau with tau = 2 / pi * arcsin(r_m).

A column whose ranking does not survive a change of seed cannot support a conclusion about
architectures, whatever its other rankings say.

Example:
    >>> spearman_brown_seeds(0.5, 0.8)
    9
    >>> round(tau_of_mean(0.5, 3), 3)
    0.683
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench.analysis import data as _data
from bench.analysis.kendall import tau_b
from bench.errors import InputError

if TYPE_CHECKING:
    from bench.table.benchmark import Benchmark

__all__ = [
    "seed_reliability",
    "reliability_of",
    "tau_of_halves",
    "frame_seed_report",
    "sample_report",
    "spearman_brown_seeds",
    "tau_of_mean",
    "icc",
    "DEFAULT_TARGET_TAU",
]

#: The tau a mean of seeds should reach by default.
DEFAULT_TARGET_TAU = 0.8


def tau_of_mean(tau1: float, seeds: int) -> float:
    """Predicted test-retest tau of the mean of ``seeds`` seeds, from one seed's ``tau1``.

    Example:
        >>> round(tau_of_mean(0.27, 1), 2), round(tau_of_mean(0.27, 10), 2)
        (0.27, 0.68)
    """
    if not -1 <= tau1 <= 1:
        raise InputError(f"tau must lie in [-1, 1], got {tau1}")
    r = math.sin(math.pi * tau1 / 2)
    if r <= 0:
        return tau1
    rm = seeds * r / (1 + (seeds - 1) * r)
    return 2 / math.pi * math.asin(min(1.0, rm))


def spearman_brown_seeds(tau1: float, target: float = DEFAULT_TARGET_TAU) -> int | None:
    """Seeds a mean needs for its test-retest tau to reach ``target``; None if no number does.

    Args:
        tau1: test-retest tau of one seed.
        target: the tau wanted, in (0, 1).

    Returns:
        The smallest such number of seeds (1 when one seed already reaches it), or None when
        ``tau1 <= 0`` (no repeatable ranking to average towards).

    Raises:
        InputError: ``target`` outside (0, 1) or ``tau1`` outside [-1, 1].

    Example:
        >>> spearman_brown_seeds(0.13), spearman_brown_seeds(0.9), spearman_brown_seeds(-0.1)
        (77, 1, None)
    """
    if not 0 < target < 1:
        raise InputError(f"the target tau must lie in (0, 1), got {target}")
    if not -1 <= tau1 <= 1:
        raise InputError(f"tau must lie in [-1, 1], got {tau1}")
    if tau1 <= 0:
        return None
    if tau1 >= target:
        return 1
    r1 = math.sin(math.pi * tau1 / 2)
    rt = math.sin(math.pi * target / 2)
    m = rt * (1 - r1) / (r1 * (1 - rt))
    return max(1, math.ceil(m - 1e-9))


def icc(values: np.ndarray) -> tuple[float, float]:
    """ICC(1) and ICC(1,k) of an (architectures, seeds) array without NaN (one-way random).

    Example:
        >>> import numpy as np
        >>> [round(v, 3) for v in icc(np.array([[1.0, 1.2], [2.0, 2.1], [3.0, 2.8]]))]
        [0.982, 0.991]
    """
    a, k = values.shape
    if a < 2 or k < 2:
        return math.nan, math.nan
    means = values.mean(axis=1)
    msb = k * means.var(ddof=1)
    msw = values.var(axis=1, ddof=1).mean()
    if msb + (k - 1) * msw == 0 or msb == 0:
        return math.nan, math.nan
    return float((msb - msw) / (msb + (k - 1) * msw)), float((msb - msw) / msb)


def tau_of_halves(
    per_seed: dict[int, np.ndarray], k: int | None = None, max_splits: int = 35
) -> tuple[float, int]:
    """Measured tau of a k-seed mean: tau-b between two disjoint k-seed halves' means.

    Each unordered pair of disjoint k-seed halves is one split (the first ``max_splits`` in
    lexicographic order: 10 seeds would give 126); the result is the mean over splits. Means are
    taken over the architectures that hold every seed, so each is a mean of exactly k values.

    Args:
        per_seed: seed -> values over the same architectures (NaN: that seed lacks it).
        k: seeds per half (default: half the seeds, rounded down).
        max_splits: the most splits averaged.

    Returns:
        ``(tau, splits)``: the mean tau-b (NaN when no split gives one) and the splits used.

    Raises:
        InputError: fewer than ``2 k`` seeds, or ``k`` < 1.

    Example:
        >>> import numpy as np
        >>> rows = [[0, 1, 2, 3, 4], [0, 2, 1, 3, 4], [1, 0, 2, 4, 3], [0, 1, 3, 2, 4]]
        >>> tau, n = tau_of_halves({s: np.array(r, float) for s, r in enumerate(rows)})
        >>> round(tau, 3), n
        (0.891, 3)
    """
    seeds = sorted(per_seed)
    k = len(seeds) // 2 if k is None else k
    if k < 1 or 2 * k > len(seeds):
        raise InputError(f"halves of {k} seeds need 2 x {k} seeds, got {len(seeds)}")
    mat = np.column_stack([per_seed[s] for s in seeds])
    mat = mat[~np.isnan(mat).any(axis=1)]
    col = {s: i for i, s in enumerate(seeds)}
    taus: list[float] = []
    splits = 0
    for a in itertools.combinations(seeds, k):
        rest = [s for s in seeds if s not in a]
        for b in itertools.combinations(rest, k):
            if a > b or splits >= max_splits:  # (a, b) and (b, a) are one split
                continue
            splits += 1
            t = tau_b(mat[:, [col[s] for s in a]].mean(axis=1), mat[:, [col[s] for s in b]].mean(1))
            if not math.isnan(t):
                taus.append(t)
    return (float(np.mean(taus)) if taus else math.nan), splits


def reliability_of(
    per_seed: dict[int, np.ndarray], target: float = DEFAULT_TARGET_TAU
) -> dict[str, Any]:
    """Reliability of one column from its values per seed (arrays aligned by architecture).

    Args:
        per_seed: seed -> values over the same architectures (NaN: that seed lacks it).
        target: the tau the mean of seeds should reach.

    Returns:
        ``{tau, tau_pairs, n, within_sd, between_sd, icc1, icck, seeds_needed, tau_of_mean}``.

    Example:
        >>> import numpy as np
        >>> r = reliability_of({1: np.array([1.0, 2, 3, 4]), 2: np.array([1.1, 2.2, 2.9, 4.1])})
        >>> r["tau"], r["seeds_needed"]
        (1.0, 1)
    """
    seeds = sorted(per_seed)
    mat = np.column_stack([per_seed[s] for s in seeds])
    pairs = {}
    for a, b in itertools.combinations(range(len(seeds)), 2):
        pairs[f"{seeds[a]}-{seeds[b]}"] = tau_b(mat[:, a], mat[:, b])
    good = [t for t in pairs.values() if not math.isnan(t)]
    tau1 = float(np.mean(good)) if good else math.nan
    have = (~np.isnan(mat)).sum(axis=1)
    multi = mat[have >= 2]
    within = (
        float(np.sqrt(np.nanmean(np.nanvar(multi, axis=1, ddof=1)))) if len(multi) else math.nan
    )
    means = np.nanmean(mat[have >= 1], axis=1) if (have >= 1).any() else np.zeros(0)
    between = float(np.std(means, ddof=1)) if len(means) > 1 else math.nan
    complete = mat[have == len(seeds)]
    icc1, icck = icc(complete)
    return {
        "tau": tau1,
        "tau_pairs": pairs,
        "n": int((have >= 2).sum()),
        "within_sd": within,
        "between_sd": between,
        "icc1": icc1,
        "icck": icck,
        "seeds_needed": None if math.isnan(tau1) else spearman_brown_seeds(tau1, target),
        "tau_of_mean": None if math.isnan(tau1) else tau_of_mean(tau1, len(seeds)),
    }


def seed_reliability(
    bench: Benchmark,
    space: str,
    dataset: str,
    columns: Sequence[str],
    *,
    source: str | None = None,
    hp: int | None = None,
    epoch: int | None = None,
    include_flagged: bool = False,
    target: float = DEFAULT_TARGET_TAU,
    merge_functional: bool = False,
) -> dict[str, Any]:
    """Seed reliability of ``columns`` on (space, dataset), or why it cannot be measured.

    Args:
        bench: the benchmark.
        space: ``tss`` or ``sss``.
        dataset: the dataset.
        columns: the columns to measure (absent ones are listed, not measured).
        source: read only this source.
        hp: training-schedule length (default: the longest).
        epoch: epoch (default: the schedule's end).
        include_flagged: keep flagged values.
        target: the tau a mean of seeds should reach (for ``seeds_needed``).
        merge_functional: one row per function class (:func:`bench.analysis.data.load`).

    Returns:
        ``{"measurable": False, "why": ..., "seeds": [...]}`` with fewer than two seeds, else
        ``{"measurable": True, "seeds", "target_tau", "columns": {col: reliability_of(...)},
        "test_retest_tau": {col: tau}, "missing_columns"}``.

    Example:
        >>> from bench import Benchmark
        >>> r = seed_reliability(Benchmark.open("/tmp/calnas-doc-empty"), "tss", "digits", ["acc"])
        >>> r["measurable"], r["seeds"]
        (False, [777])
    """
    first = _data.load(bench, space, dataset, [], source=source, hp=hp, epoch=epoch)
    found = [s for s in first.seeds if s >= 0]
    if len(found) < 2:
        why = (
            f"one seed ({found[0]}) per architecture"
            if found
            else "no per-seed rows (the values are not one seed's)"
        )
        recorded = _recorded_sample(bench, space, dataset, source, columns) if found else None
        if recorded:
            why += f"; {recorded}"
        return {"measurable": False, "why": why, "seeds": first.seeds}
    per: dict[int, Any] = {}
    for s in found:
        per[s] = _data.load(
            bench,
            space,
            dataset,
            columns,
            source=source,
            hp=first.hp,
            epoch=first.epoch,
            seed=s,
            include_flagged=include_flagged,
            merge_functional=merge_functional,
        )
    missing = per[found[0]].missing
    configs = np.unique(np.concatenate([p.frame["config"].to_numpy() for p in per.values()]))
    out: dict[str, Any] = {}
    for c in columns:
        if c in missing:
            continue
        aligned = {}
        for s, p in per.items():
            arr = np.full(len(configs), np.nan)
            at = np.searchsorted(configs, p.frame["config"].to_numpy())
            arr[at] = p.frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            aligned[s] = arr
        out[c] = reliability_of(aligned, target)
    return {
        "measurable": True,
        "seeds": found,
        "hp": first.hp,
        "epoch": first.epoch,
        "target_tau": target,
        "columns": out,
        "test_retest_tau": {c: r["tau"] for c, r in out.items()},
        "missing_columns": missing,
    }


def sample_report(reports: Sequence[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The first measurable report after a table's own (``reports[0]``): the seeds its build
    trained on a sample of the networks, or None.

    Example:
        >>> sample_report([{"measurable": False}, {"measurable": True, "seeds": [1, 2]}])["seeds"]
        [1, 2]
    """
    return next((r for r in (reports or [])[1:] if r.get("measurable")), None)


def _recorded_sample(
    bench: Benchmark, space: str, dataset: str, source: str | None, columns: Sequence[str]
) -> str | None:
    """What a one-seed table's file records of the other seeds its build trained on a sample
    (fashion8's SSS table: 778 beside the shipped 777), as text; None where it records none."""
    for src in [source] if source else bench.sources(space, dataset):
        table = bench.tables().get((space, dataset, src))
        report = sample_report(table.reliability() if table is not None else None)
        metrics = report.get("metrics", {}) if report else {}
        taus = {c: metrics[c]["tau_one_seed"] for c in columns if c in metrics}
        if not taus:
            continue
        parts = ", ".join(f"{c} {'-' if t is None else f'{t:.2f}'}" for c, t in taus.items())
        seeds = ", ".join(str(x) for x in report["seeds"])
        return (
            f"the build's seeds {seeds} on {report['architectures_all_seeds']:,} of them "
            f"(recorded in the table's file), seed vs seed at epoch {report['epoch']}: {parts}"
        )
    return None


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def frame_seed_report(
    frame: pd.DataFrame, metrics: Sequence[str], max_splits: int = 35
) -> dict[str, Any]:
    """Seed reliability of long-format rows, one per (architecture, seed), per metric.

    Per metric: ``tau_one_seed`` (Kendall tau-b between two seeds, mean over seed pairs: see
    :func:`reliability_of`), ``tau_pairs``, ``n`` (architectures with two seeds or more),
    ``median`` (over every row), and with 2k >= 2 seeds ``tau_mean_k`` (tau-b between the
    means of two disjoint k-seed halves over the architectures holding every seed, mean over at
    most ``max_splits`` splits: :func:`tau_of_halves`) beside ``tau_mean_k_predicted``
    (Spearman-Brown from ``tau_one_seed``: :func:`tau_of_mean`); ``n_complete`` counts the
    architectures holding every seed. NaN becomes None (the report goes to JSON).

    Args:
        frame: columns ``config``, ``seed`` and each metric; negative seeds are left out.
        metrics: the metric columns to report.
        max_splits: the most disjoint-halves splits averaged.

    Returns:
        ``{"measurable": False, "why", "seeds"}`` with fewer than two seeds; else
        ``{"measurable": True, "seeds", "k", "splits", "architectures",
        "architectures_all_seeds", "architectures_per_seed", "metrics"}``.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"config": [0, 1, 2, 0, 1, 2], "seed": [1, 1, 1, 2, 2, 2],
        ...                   "acc": [0.5, 0.6, 0.7, 0.52, 0.61, 0.69]})
        >>> r = frame_seed_report(f, ["acc"])
        >>> r["k"], r["metrics"]["acc"]["tau_one_seed"], r["metrics"]["acc"]["median"]
        (1, 1.0, 0.605)
    """
    frame = frame[frame["seed"] >= 0]
    found = sorted(int(s) for s in frame["seed"].unique())
    if len(found) < 2:
        return {"measurable": False, "why": f"{len(found)} seed(s): two are needed", "seeds": found}
    k = len(found) // 2
    splits = 0
    per_metric = {}
    for m in metrics:
        wide = frame.pivot_table(index="config", columns="seed", values=m, aggfunc="first")
        wide = wide.reindex(columns=found)
        per_seed = {s: wide[s].to_numpy(dtype=np.float64) for s in found}
        rel = reliability_of(per_seed)
        tau_k, splits = tau_of_halves(per_seed, k, max_splits)
        tau1 = _finite(rel["tau"])
        per_metric[m] = {
            "tau_one_seed": tau1,
            "tau_pairs": {p: _finite(t) for p, t in rel["tau_pairs"].items()},
            "n": rel["n"],
            "median": _finite(float(frame[m].median())),
            "tau_mean_k": _finite(tau_k),
            "tau_mean_k_predicted": None if tau1 is None else tau_of_mean(tau1, k),
            "n_complete": int(wide.notna().all(axis=1).sum()),
        }
    per_seed_n = frame.groupby("seed")["config"].nunique()
    return {
        "measurable": True,
        "seeds": found,
        "k": k,
        "splits": splits,
        "architectures": int(frame["config"].nunique()),
        "architectures_all_seeds": int(
            (frame.groupby("config")["seed"].nunique() == len(found)).sum()
        ),
        "architectures_per_seed": {str(s): int(n) for s, n in per_seed_n.items()},
        "metrics": per_metric,
    }
