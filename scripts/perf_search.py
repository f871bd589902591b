"""Quality and speed of the search: queries to normalized HV 0.95 on every table, beside random.

For each table it runs the strategies (default: random and the default, mpls) over --seeds
seeds and prints, per strategy:

* ``mean``, ``std``, ``median``, ``reached``: the queries (distinct architectures) needed to
  reach normalized hypervolume 0.95; a run that does not reach it within its cap counts as its
  cap (``reached`` says how many did);
* ``ratio``: the mean over random search's mean (the goal for the default: at most 1/3);
* ``worst gap``: the smallest difference of mean normalized HV (this strategy minus random) over
  every budget from 50 to 1,000 queries, and the budget where it occurs (negative: worse than
  random there);
* ``hv_at``: the mean normalized HV after 100 and after 1,000 queries (budgets within the cap),
  which still compares strategies on a table where few runs reach 0.95 (a front of a few
  networks: every miss counts as the cap, and the mean queries say little);

and, per table, where the default sits between random search (0) and the oracle bound (1): the
bound is ``scripts/search_bounds.py``'s model oracle with both objectives learned out of fold on
80 % of all classes, which no search that learns from its own queries should be expected to beat.
A last row times 1,000 trials of the default beside 1,000 of random (same table, same process).

Tables (``--tables``, comma-separated keys; ``all`` = every one whose data is present, the
default unless ``--table`` names others):

* ``nb201-{c10,c100,in16}-{latency,train}``: NB201 (the nb201 extra's tables, imported into a
  temporary store unless ``--nb201`` names one), validation accuracy against ``latency_s`` or
  ``train_time_s`` on cifar10-valid, cifar100 and ImageNet16-120;
* ``nb201-c10-params``: the same against ``params_m`` (known in closed form: a feature);
* ``demo-ece``, ``demo-nll``: the embedded digits table, acc against pre_ECE_15 or pre_NLL;
  ``f8-ece``, ``f8-nll``: the same on the embedded fashion8 table (``all`` takes those the
  install holds); ``f8-ece-acc50``: fashion8's acc against pre_ECE_15 under the constraint
  acc >= 0.5, without the networks at chance level (accuracy 0.1, ECE near 0), which stretch
  the unconstrained front's hypervolume;
* ``--table NAME=STORE:DATASET:OBJECTIVES[:CONSTRAINTS]`` (repeatable): any TSS table of any
  store, for example a NATS-Bench archive imported with ``calnas bench import nats``, searched
  under constraints where they are given (``mystore:cifar10:acc,pre_ECE_15:acc>=0.5``).

``--noise seed`` runs every search with one seed's row per query (tables with several seeds per
architecture: NB201), scored on the mean over seeds, to show how each strategy degrades.
``--merge-functional`` searches (and bounds) the 4,930 TSS functions instead of the 6,466
isomorphism classes (``run_search(..., merge_functional=True)``). ``--prior DATASET`` (or
``auto``: each table's partner in :data:`PARTNERS`, from the same store) gives every search
another dataset's table as a warm start (``run_search(..., prior=DATASET)``,
:mod:`search.prior`).

It ends with every figure as one Markdown table (``--from-json FILE ...`` prints it again, the
files' figures in the order given: tables measured by separate runs join into one table).

Usage:
    python scripts/perf_search.py --tables all --seeds 20 --jobs 2 --json figures.json
    python scripts/perf_search.py --tables nb201-c10-latency --strategies random,mpls,pls
    python scripts/perf_search.py --tables nb201-c100-train --noise seed --seeds 10
    python scripts/perf_search.py --tables all --prior auto --bound-seeds 0 --no-timing
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # search_bounds, beside this script

TARGET = 0.95
#: Budgets where a strategy is compared with random search (every one from 50 to 1,000).
BUDGETS = (50, 1000)
#: Budgets at which each strategy's mean normalized HV is reported.
HV_AT = (100, 1000)

NB201 = {
    "nb201-c10-latency": ("cifar10-valid", "valid_acc,latency_s"),
    "nb201-c10-train": ("cifar10-valid", "valid_acc,train_time_s"),
    "nb201-c100-latency": ("cifar100", "valid_acc,latency_s"),
    "nb201-c100-train": ("cifar100", "valid_acc,train_time_s"),
    "nb201-in16-latency": ("ImageNet16-120", "valid_acc,latency_s"),
    "nb201-in16-train": ("ImageNet16-120", "valid_acc,train_time_s"),
    "nb201-c10-params": ("cifar10-valid", "valid_acc,params_m"),
}
DEMO = {
    "demo-ece": ("digits", "acc,pre_ECE_15"),
    "demo-nll": ("digits", "acc,pre_NLL"),
    "f8-ece": ("fashion8", "acc,pre_ECE_15"),
    "f8-nll": ("fashion8", "acc,pre_NLL"),
}
#: Tables searched under constraints (the true front and the bound are the feasible classes'):
#: fashion8's accuracy-against-ECE front without the networks at chance level (accuracy 0.1,
#: ECE near 0: a constant output is perfectly calibrated), which stretch its hypervolume.
CONSTRAINED = {"f8-ece-acc50": ("fashion8", "acc,pre_ECE_15", "acc>=0.5")}
#: ``--prior auto``: the dataset whose table warm-starts a search of each dataset.
PARTNERS = {"cifar10-valid": "cifar100", "cifar100": "cifar10-valid",
            "ImageNet16-120": "cifar100", "fashion8": "digits", "digits": "fashion8"}  # fmt: skip

_BENCHES: dict[str | None, object] = {}


def _no_store() -> Path:
    """A store path with nothing there, so only the embedded demo table answers (a store creates
    nothing until it is written to, and a search never writes to it: nothing is left behind)."""
    return Path(tempfile.gettempdir()) / f"calnas-empty-{uuid.uuid4().hex}"


def _bench(path: str | None):
    """The benchmark at ``path`` (None: an empty store, so only the embedded demo table), once."""
    from bench.table.benchmark import Benchmark

    if path not in _BENCHES:
        _BENCHES[path] = (Benchmark.open(path, demo=False) if path else
                          Benchmark.open(_no_store()))  # fmt: skip
    return _BENCHES[path]


def one_run(job: tuple) -> np.ndarray:
    """Normalized HV after each query of one seeded search of ``floor`` queries, or of ``cap``
    when it has not reached TARGET by then (a seeded search repeats exactly, so the longer run
    begins with the shorter one; rerunning is cheaper than a journal storage)."""
    from search.runner import run_search

    path, dataset, objectives, constraints, strategy, seed, floor, cap, noise, functional, prior = (
        job
    )
    kw = dict(bench=_bench(path), seed=seed, noise=noise, max_repeats=10**6,
              merge_functional=functional, prior=prior, constraints=constraints)  # fmt: skip
    res = run_search("tss", dataset, objectives, strategy, trials=floor, **kw)
    if not (res.hv_history >= TARGET).any() and cap > floor:
        res = run_search("tss", dataset, objectives, strategy, trials=cap, **kw)
    return np.asarray(res.hv_history, dtype=float)


def queries(history: np.ndarray, cap: int) -> int | None:
    """Queries until TARGET, or None if the run never reached it."""
    hit = np.flatnonzero(history[:cap] >= TARGET)
    return int(hit[0]) + 1 if hit.size else None


def curve(histories: list[np.ndarray], upto: int) -> np.ndarray:
    """Mean normalized HV after 1..upto queries (a run that stopped early keeps its last value)."""
    out = np.zeros((len(histories), upto))
    for i, h in enumerate(histories):
        n = min(len(h), upto)
        out[i, :n] = h[:n]
        out[i, n:] = h[n - 1] if n else 0.0
    return out.mean(axis=0)


def timing(path: str | None, dataset: str, objectives: str, strategy: str) -> float:
    """Wall seconds of 1,000 trials of ``strategy`` (seed 0)."""
    from search.runner import run_search

    t0 = time.perf_counter()
    run_search("tss", dataset, objectives, strategy, trials=1000, bench=_bench(path), seed=0,
               max_repeats=10**6)  # fmt: skip
    return time.perf_counter() - t0


def markdown(figures: list[dict]) -> str:
    """The figures as one Markdown table: a row per table and strategy, the default's position."""
    lines = ["| table | objectives | strategy | mean | std | reached | ratio to random | "
             "worst HV gap, 50-1,000 (at) | mean HV at 100 / 1,000 | oracle bound | position |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    position = {f["table"]: f for f in figures if "position" in f}
    for f in figures:
        if "strategy" not in f:
            continue
        gap = f"{f['worst_gap']:+.4f} ({f['worst_gap_at']})" if "worst_gap" in f else ""
        hv = " / ".join(f"{v:.3f}" for v in f.get("hv_at", {}).values())  # older runs: none
        pos = position.get(f["table"], {})
        mine = pos.get("default") == f["strategy"]
        named = f["strategy"] + (f" + prior {f['prior']}" if f.get("prior") else "")
        objectives = f["objectives"] + (f" ({f['constraints']})" if f.get("constraints") else "")
        lines.append(
            f"| {f['table']} | {objectives} | {named} | {f['mean']} | {f['std']} | "
            f"{f['reached']} | {f.get('ratio', '')} | {gap} | {hv} | {pos.get('bound', '')} | "
            f"{_position(pos['position']) if mine else ''} |"
        )
    return "\n".join(lines)


def _saved_figures(path: str) -> list[dict]:
    """The figures a ``--json`` run saved at ``path``; a file that is not one stops the script."""
    try:
        figures = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise SystemExit(f"perf_search: --from-json {path}: {err}") from None
    if not (isinstance(figures, list) and all(isinstance(f, dict) and "table" in f
                                              for f in figures)):  # fmt: skip
        raise SystemExit(f"perf_search: --from-json {path}: not the figures of a --json run")
    return figures


def _position(value: float) -> str:
    """A position, or why there is none (the bound needs as many queries as random search)."""
    return "n/a (bound >= random)" if value != value else str(value)


def main(argv=None) -> int:
    from search.samplers import DEFAULT_STRATEGY, split_strategies

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tables",
        default=None,
        help="table keys, comma-separated, or 'all' (default without --table)",
    )
    ap.add_argument("--table", action="append", default=[], metavar="NAME=STORE:DATASET:OBJ[:CONS]",
                    help="another TSS table (repeatable)")  # fmt: skip
    ap.add_argument("--nb201", help="store holding NB201 (default: import it into a temp store)")
    ap.add_argument("--strategies", default=f"random,{DEFAULT_STRATEGY}")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--cap", type=int, default=1500, help="query cap of every run")
    ap.add_argument("--bound-seeds", type=int, default=10,
                    help="seeds of the oracle bound (0: skip it)")  # fmt: skip
    ap.add_argument("--noise", choices=("seed",), help="answer each query with one seed's row")
    ap.add_argument("--merge-functional", action="store_true",
                    help="search TSS functions, not classes (the bound too)")  # fmt: skip
    ap.add_argument("--prior", metavar="DATASET",
                    help="warm start from DATASET's table (auto: PARTNERS)")  # fmt: skip
    ap.add_argument("--jobs", type=int, default=1, help="processes running searches")
    ap.add_argument("--no-timing", action="store_true", help="skip the 1,000-trial timing")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument(
        "--from-json",
        nargs="+",
        metavar="FILE",
        help="print the Markdown table of figures saved by --json (one or more runs)",
    )
    args = ap.parse_args(argv)
    if args.from_json:
        print(markdown([f for path in args.from_json for f in _saved_figures(path)]))
        return 0

    from search_bounds import copy_groups, learned_bound, learned_losses, table_losses

    from search.objectives import parse_constraints, parse_objectives

    tables = {}  # key -> (store path or None, dataset, objectives, constraints or None)
    keys = args.tables if args.tables is not None else ("" if args.table else "all")
    wanted = {t.strip() for t in keys.split(",") if t.strip()}
    known = {**NB201, **DEMO, **CONSTRAINED}
    unknown = wanted - set(known) - {"all"}
    if unknown:
        raise SystemExit(f"perf_search: unknown table {sorted(unknown)}; known: {sorted(known)}")
    nb201 = [k for k in NB201 if "all" in wanted or k in wanted]
    if nb201:
        path = args.nb201
        if path is None:
            from bench.importers import import_nb201
            from bench.table.store import Store

            path = tempfile.mkdtemp(prefix="calnas-nb201-")
            import_nb201(Store(path))
        tables.update({k: (path, *NB201[k], None) for k in nb201})
    # 'all' takes the embedded tables the install holds; one named outright must be there
    embedded = {**{k: (*v, None) for k, v in DEMO.items()}, **CONSTRAINED}
    held = {d for d in {v[0] for v in embedded.values()} if _bench(None).sources("tss", d)}
    for k, (dataset, objectives, constraints) in embedded.items():
        if k in wanted and dataset not in held:
            raise SystemExit(f"perf_search: {k}: the embedded table holds no tss/{dataset}")
        if k in wanted or ("all" in wanted and dataset in held):
            tables[k] = (None, dataset, objectives, constraints)
    for spec in args.table:
        name, eq, rest = spec.partition("=")
        parts = rest.split(":", 3)
        if not (name and eq and len(parts) >= 3 and all(parts)):
            raise SystemExit(f"perf_search: --table {spec!r}: expected "
                             "NAME=STORE:DATASET:OBJECTIVES[:CONSTRAINTS]")  # fmt: skip
        tables[name] = (*parts[:3], parts[3] if len(parts) > 3 else None)
    for key, (_, _, objectives, constraints) in tables.items():
        try:  # before any search runs: a typo stops the script at once, in one line
            parse_objectives(objectives), parse_constraints(constraints)
        except ValueError as err:
            raise SystemExit(f"perf_search: {key}: {err}") from None

    strategies = split_strategies(args.strategies)
    figures = []
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    for key, (path, dataset, objectives, constraints) in tables.items():
        t0 = time.perf_counter()
        print(f"== {key}: tss/{dataset}, {objectives}, {args.seeds} seeds, cap {args.cap}"
              + (f", constraints {constraints}" if constraints else "")
              + (f", noise={args.noise}" if args.noise else "")
              + (", functions merged" if args.merge_functional else "")
              + (f", prior {PARTNERS.get(dataset) if args.prior == 'auto' else args.prior}"
                 if args.prior else ""), flush=True)  # fmt: skip
        floor = min(BUDGETS[1], args.cap)
        prior = PARTNERS.get(dataset) if args.prior == "auto" else args.prior
        if args.prior and prior is None:
            raise SystemExit(f"perf_search: no partner dataset for {dataset}: name --prior")
        jobs = [(path, dataset, objectives, constraints, s, seed, floor, args.cap, args.noise,
                 args.merge_functional, prior)
                for s in strategies for seed in range(args.seeds)]  # fmt: skip
        runs = list(pool.map(one_run, jobs) if pool else map(one_run, jobs))
        per = {s: runs[i * args.seeds : (i + 1) * args.seeds] for i, s in enumerate(strategies)}
        curves = {s: curve(h, BUDGETS[1]) for s, h in per.items()}
        objs = parse_objectives(objectives)
        bound = float("nan")
        if args.bound_seeds > 0:
            merged = args.merge_functional
            classes, losses = table_losses(_bench(path), dataset, objs, merged, constraints)
            groups = copy_groups(_bench(path), dataset, classes, objs[0].name)
            learned = learned_losses(classes, losses, groups)
            bound = float(np.mean(learned_bound(losses, learned, args.bound_seeds)))
        means = {}
        for s, hist in per.items():
            q = [queries(h, args.cap) for h in hist]
            got = np.array([args.cap if v is None else v for v in q], dtype=float)
            means[s] = float(got.mean())
            reached = f"{sum(v is not None for v in q)}/{len(q)}"
            row = {"table": key, "dataset": dataset, "objectives": objectives,
                   "constraints": constraints, "noise": args.noise, "prior": prior, "strategy": s,
                   "mean": round(means[s], 1),
                   "std": round(float(got.std()), 1), "median": float(np.median(got)),
                   "reached": reached, "per_seed": q,
                   "hv_at": {b: round(float(curves[s][b - 1]), 4) for b in HV_AT
                             if b <= args.cap}}  # fmt: skip
            if "random" in curves and s != "random":
                gap = (curves[s] - curves["random"])[BUDGETS[0] - 1 :]
                worst = int(np.argmin(gap))
                row["ratio"] = round(means[s] / means["random"], 3)
                row["worst_gap"] = round(float(gap[worst]), 4)
                row["worst_gap_at"] = BUDGETS[0] + worst
            figures.append(row)
            hidden = ("table", "dataset", "objectives", "constraints", "noise", "prior", "per_seed")
            shown = {k: v for k, v in row.items() if k not in hidden}
            print("  " + "  ".join(f"{k}={v}" for k, v in shown.items()), flush=True)
        default = DEFAULT_STRATEGY if DEFAULT_STRATEGY in means else strategies[-1]
        if "random" in means and args.bound_seeds > 0:
            span = means["random"] - bound
            pos = (means["random"] - means[default]) / span if span > 0 else float("nan")
            figures.append({"table": key, "noise": args.noise, "bound": round(bound, 1),
                            "random": round(means["random"], 1), "default": default,
                            "default_mean": round(means[default], 1),
                            "position": round(pos, 3)})  # fmt: skip
            print(f"  oracle bound {bound:.1f} queries: {default} sits at {pos:.2f} of the way "
                  f"from random (0) to the bound (1)  [{time.perf_counter() - t0:.0f} s]",
                  flush=True)  # fmt: skip
    if not args.no_timing and tables:
        key, (path, dataset, objectives, _) = next(iter(tables.items()))
        walls = {s: round(timing(path, dataset, objectives, s), 1)
                 for s in ("random", DEFAULT_STRATEGY)}  # fmt: skip
        figures.append({"table": key, "timing_trials": 1000, **walls})
        told = "  ".join(f"{s} {w} s" for s, w in walls.items())
        print(f"timing, 1,000 trials on {key}: {told}")
    if pool:
        pool.shutdown()
    print(markdown(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
