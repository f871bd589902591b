"""Quality and speed of the search layer (issue 8, section 7).

For each table -- the embedded demo benchmark (TSS digits, acc vs pre_ECE_15) when it is present,
and NB201 (TSS cifar10-valid, valid_acc vs params_m, imported through bench.importers into a
temporary store unless --bench names one) -- it prints:

* the queries (distinct architectures) each strategy needs to reach normalized hypervolume 0.95,
  mean over --seeds seeds (a run that does not reach it within its cap counts as that cap, and
  is reported in ``reached``), and the ratio to random search (target: <= 0.25);
* the wall time of 1,000 trials of the default strategy (target: < 60 s).

Each table has its own caps (random search needs far more queries on the demo table, where
the front is harder to find): ``--nb201-caps RANDOM,OTHERS`` and ``--demo-caps RANDOM,OTHERS``.

Usage:
    python scripts/perf_search.py                      # NB201 (+ demo when present), 20 seeds
    python scripts/perf_search.py --strategies random,tpe,rea --seeds 5 --bench /path/to/store
    python scripts/perf_search.py --tables demo --json figures.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np

from search.runner import run_search
from search.samplers import DEFAULT_STRATEGY, split_strategies


def queries_to(bench, dataset, objectives, strategy, seeds, cap, target=0.95):
    out = []
    for s in range(seeds):
        rep = run_search("tss", dataset, objectives, strategy, trials=cap, bench=bench, seed=s)
        hit = np.flatnonzero(rep.hv_history >= target)
        out.append(int(hit[0]) + 1 if hit.size else None)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", help="store holding NB201 (default: import into a temp store)")
    ap.add_argument("--strategies", default=f"random,{DEFAULT_STRATEGY}")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--nb201-caps", default="1500,400",
                    help="NB201 query caps: random search, the other strategies")  # fmt: skip
    ap.add_argument("--demo-caps", default="4000,1500",
                    help="demo-table query caps: random search, the other strategies")  # fmt: skip
    ap.add_argument("--tables", default="demo,nb201", help="which tables to measure")
    ap.add_argument("--demo-bench", help="a store holding the demo build (TSS digits, source "
                    "computed) to measure instead of the embedded demo table")  # fmt: skip
    ap.add_argument("--timing-trials", type=int, default=1000)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)

    from bench.table.benchmark import Benchmark

    def caps(text: str) -> tuple[int, int]:
        a, b = (int(x) for x in text.split(","))
        return a, b

    wanted = {t.strip() for t in args.tables.split(",") if t.strip()}
    tables = []
    if args.demo_bench:
        demo = Benchmark.open(args.demo_bench, demo=False)
    else:
        demo = Benchmark.open(tempfile.mkdtemp(prefix="calnas-empty-"))
    if "demo" not in wanted:
        pass
    elif demo.sources("tss", "digits"):
        tables.append(("demo tss/digits", demo, "digits", "acc,pre_ECE_15", caps(args.demo_caps)))
    else:
        print("demo table absent (bench/data/*.parquet): measuring NB201 only", file=sys.stderr)
    path = args.bench
    if "nb201" not in wanted:
        pass
    elif path is None:
        from bench.importers import import_nb201
        from bench.table.store import Store

        path = tempfile.mkdtemp(prefix="calnas-nb201-")
        import_nb201(Store(path))
    if "nb201" in wanted:
        tables.append(("nb201 tss/cifar10-valid", Benchmark.open(path, demo=False),
                       "cifar10-valid", "valid_acc,params_m", caps(args.nb201_caps)))  # fmt: skip

    figures = []
    for label, bench, dataset, objectives, (cap_random, cap_other) in tables:
        print(f"== {label}: {objectives}, {args.seeds} seeds, target normalized HV 0.95")
        means = {}
        for strat in split_strategies(args.strategies):
            cap = cap_random if strat == "random" else cap_other
            t0 = time.perf_counter()
            q = queries_to(bench, dataset, objectives, strat, args.seeds, cap)
            got = np.array([cap if v is None else v for v in q], dtype=float)
            means[strat] = float(got.mean())
            row = {
                "table": label,
                "strategy": strat,
                "mean_queries": round(means[strat], 1),
                "std": round(float(got.std()), 1),
                "median": float(np.median(got)),
                "reached": f"{sum(v is not None for v in q)}/{len(q)}",
                "seconds": round(time.perf_counter() - t0, 1),
                "cap": cap,
                "per_seed": q,
            }
            if "random" in means:
                row["ratio_to_random"] = round(means[strat] / means["random"], 3)
            figures.append(row)
            shown = {k: v for k, v in row.items() if k not in ("table", "per_seed")}
            print("  " + "  ".join(f"{k}={v}" for k, v in shown.items()), flush=True)
        t0 = time.perf_counter()
        res = run_search("tss", dataset, objectives, DEFAULT_STRATEGY, trials=args.timing_trials,
                         bench=bench, seed=0, max_repeats=10**6)  # fmt: skip
        wall = time.perf_counter() - t0
        timing = {
            "table": label,
            "timing_strategy": DEFAULT_STRATEGY,
            "queries": res.report["queries"],
            "trials": res.report["trials"],
            "wall_s": round(wall, 1),
        }
        figures.append(timing)
        print("  timing: " + "  ".join(f"{k}={v}" for k, v in timing.items() if k != "table"),
              flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
