"""Seed-reliability reports as text: the demo build's ``--reliability`` table and what a table
file records, as ``calnas bench info`` prints it (the reports come from
:mod:`bench.analysis.reliability`).

Example:
    >>> print(format_seed_report({"sss": {"measurable": False, "why": "no table"}}))
    sss: not measurable: no table
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.analysis.reliability import sample_report, tau_of_mean

__all__ = ["format_seed_report", "format_recorded_reliability"]


def format_seed_report(report: dict[str, dict]) -> str:
    """The demo build's ``--reliability`` report (per space: Kendall tau per metric between one
    seed and another, between k-seed means, and the Spearman-Brown prediction) as a text table.

    Args:
        report: per space, either ``{"measurable": False, "why": ...}`` or a dict with
            ``dataset``, ``epoch``, ``seeds``, ``architectures``, ``architectures_all_seeds``,
            ``k``, ``splits`` and ``metrics`` (per metric ``tau_one_seed``, ``tau_mean_k``,
            ``tau_mean_k_predicted``, each a float or None), as ``scripts/build_demo_bench.py``
            makes it.

    Returns:
        The table, one line per metric under a header line per space.

    Example:
        >>> print(format_seed_report({"tss": {"measurable": False, "why": "no table"}}))
        tss: not measurable: no table
    """

    def fmt(v: float | None) -> str:
        return "   -  " if v is None else f"{v:6.3f}"

    lines = []
    for space, r in report.items():
        if not r.get("measurable"):
            lines.append(f"{space}: not measurable: {r['why']}")
            continue
        lines.append(
            f"{space} {r['dataset']} epoch {r['epoch']}: seeds {r['seeds']}, "
            f"{r['architectures']} architectures ({r['architectures_all_seeds']} with every "
            f"seed); k = {r['k']} ({r['splits']} disjoint splits)"
        )
        head = f"  {'metric':<12} {'median':>8} {'tau 1 seed':>10} {'tau k-mean':>10}"
        lines.append(f"{head} {'predicted':>10}")
        for m, v in r["metrics"].items():
            lines.append(
                f"  {m:<12} {fmt(v.get('median')):>8} {fmt(v['tau_one_seed']):>10} "
                f"{fmt(v['tau_mean_k']):>10} {fmt(v['tau_mean_k_predicted']):>10}"
            )
    return "\n".join(lines)


def format_recorded_reliability(reports: Sequence[dict[str, Any]]) -> str:
    """A table's recorded seed reliability (``calnas bench info``) as a short text table.

    The first report is the table's own seeds over every network: one seed against another,
    and the Spearman-Brown prediction for the mean of as many seeds as the table holds (what a
    query answers by default). A second report, where the build trained more seeds on a sample
    of the networks, adds the tau between the means of two disjoint halves of them, measured.
    A table of one seed per network cannot measure itself; where the build trained other seeds
    on a sample (fashion8's SSS table: seed 778 on 128 networks), their one-seed tau is shown.

    Args:
        reports: as ``scripts/build_demo_bench.py --export`` records them
            (:func:`bench.table.tablefile.read_reliability`): each a :func:`frame_seed_report`
            dict with ``epoch``; unmeasurable ones say why.

    Example:
        >>> print(format_recorded_reliability([{"measurable": False, "seeds": [777]}]))
          one seed (777) per network: the table cannot say how well its rankings repeat
        >>> sample = {"measurable": True, "seeds": [777, 778], "architectures_all_seeds": 128,
        ...           "epoch": 4, "metrics": {"acc": {"tau_one_seed": 0.377}}}
        >>> print(format_recorded_reliability([{"measurable": False, "seeds": [777]}, sample]))
          metric       seed vs seed
          acc                 0.377
          one seed (777) per network; seed vs seed: seeds 777 and 778 over the 128 networks
          holding them all, at epoch 4
    """
    table = reports[0]
    if not table.get("measurable"):
        if len(table.get("seeds", ())) != 1:
            return f"  not measurable: {table.get('why', 'no report')}"
        one = f"  one seed ({table['seeds'][0]}) per network"
        sample = sample_report(reports)
        if sample is None:
            return f"{one}: the table cannot say how well its rankings repeat"
        # the build trained more seeds on a sample: what one seed against another gives there
        lines = [f"  {'metric':<12} {'seed vs seed':>12}"]
        for name, v in sample["metrics"].items():
            lines.append(f"  {name:<12} {_fmt(v['tau_one_seed']):>12}")
        lines.append(
            f"{one}; seed vs seed: seeds {_seeds(sample['seeds'])} over the "
            f"{sample['architectures_all_seeds']:,} networks holding them all, at epoch "
            f"{sample.get('epoch', '?')}"
        )
        return "\n".join(lines)
    m = len(table["seeds"])
    sample = next((r for r in reports[1:] if r.get("measurable") and r["k"] > 1), None)
    predicted = f"{m}-seed means, predicted"
    head = f"  {'metric':<12} {'seed vs seed':>12} {predicted:>25}"
    if sample is not None:
        measured = f"{sample['k']}-seed means, measured"
        head += f" {measured:>24}"
    lines = [head]
    for name, v in table["metrics"].items():
        tau1 = v["tau_one_seed"]
        pred = None if tau1 is None else tau_of_mean(tau1, m)
        line = f"  {name:<12} {_fmt(tau1):>12} {_fmt(pred):>25}"
        if sample is not None:
            line += f" {_fmt(sample['metrics'].get(name, {}).get('tau_mean_k')):>24}"
        lines.append(line)
    lines.append(
        f"  seed vs seed: seeds {_seeds(table['seeds'])} over {table['architectures']:,} "
        f"networks at epoch {table.get('epoch', '?')}"
    )
    if sample is not None:
        lines.append(
            f"  measured: seeds {_seeds(sample['seeds'])} over the "
            f"{sample['architectures_all_seeds']:,} networks holding them all "
            f"({sample['splits']} splits into halves)"
        )
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _seeds(seeds: Sequence[int]) -> str:
    return (
        ", ".join(str(s) for s in seeds[:-1]) + f" and {seeds[-1]}"
        if len(seeds) > 1
        else str(seeds[0])
    )
