"""How far ahead of random search can any strategy get on a table? Oracle bounds (issue 8).

For a TSS table and two objectives (default: the embedded demo table, acc vs pre_ECE_15) it prints
the queries (distinct classes) needed to reach normalized hypervolume 0.95, mean over --seeds
seeds, for:

* ``random``: the real ``random`` strategy through ``run_search`` (the peer of perf_search.py);
* ``blind``: uniform draws among the unqueried isomorphism classes (random search without the
  class-size bias of drawing NATS indices);
* ``threshold oracle``: knows the --exact objective of every class and draws uniformly among the
  classes in its best fraction q (then among the rest); the best q of a grid is shown;
* ``model oracle, <exact> known``: knows the --exact objective of every class, and the other
  through an out-of-fold XGBoost model fitted on 80 % of *all* classes (5 folds, the mpls
  features; where the table copied a class's rows to the other classes of its function, as
  fashion8's does, those classes share a fold, so no model is tested on a copy of what it saw);
  from a 10-class uniform start it queries the largest predicted hypervolume improvement,
  against a reference point beyond the worst loss seen, as mpls does;
* ``model oracle, both learned``: the same with both objectives from out-of-fold models.

The oracles know what no search knows (an objective exactly, or models learned from some 5,000
classes where a search that beats the quarter has queried at most a few hundred), so the last row
bounds what a model-guided strategy can reach: where it needs more than a quarter of random's
queries, no strategy that learns from its own queries should be expected to reach the quarter.
The script also prints how learnable each objective is (Kendall tau of the out-of-fold
predictions).

Usage:
    python scripts/search_bounds.py                                  # demo, acc vs pre_ECE_15
    python scripts/search_bounds.py --bench STORE --dataset cifar10-valid \\
        --objectives valid_acc,params_m --exact valid_acc            # NB201
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from search.objectives import Objective, parse_objectives

TARGET = 0.95
#: The two columns of a loss array: already minimized, so the indicators take them as they are.
LOSSES = [Objective("loss 1", "min"), Objective("loss 2", "min")]
FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)


def queries_to(order: np.ndarray, losses: np.ndarray, true_losses: np.ndarray) -> int:
    """Queries until the front of ``losses[order]`` reaches TARGET (len(order) + 1 if never)."""
    from search.indicators import hv_history, pareto_mask

    front = true_losses[pareto_mask(true_losses)]
    hit = np.flatnonzero(hv_history(losses[order], front, LOSSES) >= TARGET)
    return int(hit[0]) + 1 if hit.size else len(order) + 1


def greedy(losses: np.ndarray, guess: np.ndarray, start: np.ndarray) -> int:
    """Queries of the model oracle: greedy largest predicted HV improvement after ``start``."""
    from search.indicators import (
        REFERENCE_MARGIN,
        hv_improvement_2d,
        normalized_hypervolume,
        pareto_mask,
        reference_point,
    )

    true_front = losses[pareto_mask(losses)]
    ref_true = reference_point(true_front, LOSSES)
    left = np.ones(len(losses), dtype=bool)
    left[start] = False
    seen = list(start)
    while left.any():
        q = losses[seen]
        front = q[pareto_mask(q)]
        if normalized_hypervolume(front, true_front, LOSSES, ref_true) >= TARGET:
            break
        span = np.where(q.max(0) > q.min(0), q.max(0) - q.min(0), 1.0)
        ref = q.max(0) + REFERENCE_MARGIN * span  # what mpls uses: beyond the worst loss seen
        cand = np.flatnonzero(left)
        gain = hv_improvement_2d(front, ref, guess[cand])
        pick = cand[np.argmax(gain)] if gain.max() > 0 else cand[np.argmin(guess[cand, 1])]
        seen.append(int(pick))
        left[pick] = False
    return len(seen)


def folds(groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """The fold (0-4) of each row: one uniform draw per group, in sorted group order (rows
    that are each their own group, sorted, get the draws of ``integers(5, size=len(rows))``)."""
    _, member = np.unique(np.asarray(groups), return_inverse=True)
    return np.random.default_rng(seed).integers(5, size=member.max() + 1)[member]


def out_of_fold(
    x: np.ndarray, y: np.ndarray, seed: int = 0, groups: np.ndarray | None = None
) -> np.ndarray:
    """5-fold out-of-fold XGBoost predictions of ``y``; rows of one group (``groups``, sorted
    like the rows where each row is its own group) always share a fold."""
    import xgboost as xgb

    fold = folds(np.arange(len(y)) if groups is None else groups, seed)
    mean, scale = y.mean(), y.std() or 1.0
    out = np.empty(len(y))
    # one thread, as the library's models: with n_jobs=2, one busy core (a build beside it) made
    # a fit 150x slower (0.56 s -> 86 s, OpenMP threads waiting on each other)
    for k in range(5):
        train = fold != k
        model = xgb.XGBRegressor(
            n_estimators=300, max_depth=5, learning_rate=0.05, subsample=0.8,
            colsample_bytree=0.8, tree_method="hist", n_jobs=1, random_state=seed,
        )  # fmt: skip
        model.fit(x[train], (y[train] - mean) / scale)
        out[~train] = model.predict(x[~train]) * scale + mean
    return out


def population(functional: bool = False) -> np.ndarray:
    """The TSS indices a search can query: isomorphism classes, or functions (``functional``)."""
    from bench.arch.spaces import get_space

    sp = get_space("tss")
    return np.unique(sp.function_representatives()) if functional else sp.unique_indices()


def table_losses(
    bench,
    dataset: str,
    objs: list[Objective],
    functional: bool = False,
    constraints: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The TSS classes (or functions) of ``dataset`` that the table answers and ``constraints``
    (``"acc>=0.5"``) allow, and their (n, 2) losses. A class without a value of both objectives (a
    partial table) or outside the constraints is left out: no search counts it, and it is no
    part of the true front either."""
    from search.objectives import objective_columns, parse_constraints

    rules = parse_constraints(constraints)
    classes = population(functional)
    table = bench.query_many("tss", dataset, list(classes), objective_columns(objs, rules))
    losses = np.stack([table[o.name].to_numpy(float) * o.sign for o in objs], axis=1)
    kept = np.isfinite(losses).all(axis=1)
    rows = table.to_dict("records")
    for rule in rules:  # a missing value (NaN) satisfies no constraint
        kept &= np.array([rule.violation(rule.value(row)) <= 0 for row in rows])
    if not kept.any():
        raise ValueError(
            f"the tss/{dataset} table holds no class with {[o.name for o in objs]}"
            + (f" within {constraints}" if constraints else "")
        )
    return classes[kept], losses[kept]


def copy_groups(bench, dataset: str, classes: np.ndarray, column: str) -> np.ndarray:
    """A group per class for the out-of-fold models: the classes of one TSS function share one
    where the table copied a class's rows to the others of its function (fashion8 trains each
    function once), so that no model trains on a class and is tested on its copy; elsewhere
    each class is its own group (``column``: any column the table answers)."""
    from bench.arch.spaces import get_space

    copied = bench.query_many("tss", dataset, list(classes), [column])["copied"].to_numpy(bool)
    func = get_space("tss").function_representatives()[classes]
    return np.where(np.isin(func, func[copied]), func, classes)


def learned_losses(
    classes: np.ndarray, losses: np.ndarray, groups: np.ndarray | None = None
) -> np.ndarray:
    """Out-of-fold predictions of every column of ``losses`` (5 folds, the mpls features of
    ``classes``; ``groups``: see :func:`copy_groups`)."""
    from surrogate.features import feature_table

    x = feature_table("tss")[classes]
    return np.stack(
        [out_of_fold(x, losses[:, j], groups=groups) for j in range(losses.shape[1])], axis=1
    )


def starts(n_classes: int, seeds: int) -> list[np.ndarray]:
    """The class orders of the oracles, one per seed (seed s draws with 1000 + s)."""
    return [np.random.default_rng(1000 + s).permutation(n_classes) for s in range(seeds)]


def learned_bound(losses: np.ndarray, learned: np.ndarray, seeds: int) -> list[int]:
    """Per seed, the queries of the model oracle with both objectives learned (see above)."""
    return [greedy(losses, learned, p[:10]) for p in starts(len(losses), seeds)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", help="store to read (default: the embedded demo table)")
    ap.add_argument("--dataset", default=None, help="default: the embedded demo's main dataset")
    ap.add_argument("--objectives", default="acc,pre_ECE_15")
    ap.add_argument("--exact", help="the objective the oracles know exactly (default: the first)")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--random-cap", type=int, default=4000, help="query cap of the random runs")
    ap.add_argument("--no-random", action="store_true", help="skip the real random strategy")
    args = ap.parse_args(argv)

    from scipy.stats import kendalltau

    from bench.table.benchmark import Benchmark
    from bench.table.embedded import default_dataset
    from search.runner import run_search

    try:
        objs = parse_objectives(args.objectives)
    except ValueError as err:
        raise SystemExit(f"search_bounds: {err}") from None
    if len(objs) != 2:
        raise SystemExit("search_bounds: exactly two objectives, e.g. acc,pre_ECE_15")
    names = [o.name for o in objs]
    if (args.exact or names[0]) not in names:
        raise SystemExit(f"search_bounds: --exact must be one of {names}")
    exact = names.index(args.exact or names[0])
    args.dataset = args.dataset or default_dataset("tss")
    if args.seeds < 1 or args.random_cap < 1:
        raise SystemExit("search_bounds: --seeds and --random-cap must be positive")
    try:
        bench = (
            Benchmark.open(args.bench, demo=False)
            if args.bench
            # a store path with nothing there (never created): only the demo table answers
            else Benchmark.open(Path(tempfile.gettempdir()) / f"calnas-empty-{uuid.uuid4().hex}")
        )
        classes, losses = table_losses(bench, args.dataset, objs)
    except (ValueError, KeyError, OSError) as err:
        raise SystemExit(f"search_bounds: {err}") from None
    print(f"== tss/{args.dataset}: {args.objectives}, {len(losses)} classes, {args.seeds} seeds, "
          f"queries to normalized HV {TARGET}; oracles know {names[exact]} exactly")  # fmt: skip

    t0 = time.perf_counter()
    learned = learned_losses(classes, losses, copy_groups(bench, args.dataset, classes, names[0]))
    for j, name in enumerate(names):
        tau = kendalltau(learned[:, j], losses[:, j])[0]
        print(f"  learnable: {name} out-of-fold Kendall tau {tau:.3f} (5 folds, 80 % of all "
              "classes to train)")  # fmt: skip
    guess = learned.copy()
    guess[:, exact] = losses[:, exact]
    rows = {}
    if not args.no_random:
        got = []
        for s in range(args.seeds):
            rep = run_search("tss", args.dataset, args.objectives, "random",
                             trials=args.random_cap, bench=bench, seed=s)  # fmt: skip
            hit = np.flatnonzero(rep.hv_history >= TARGET)
            got.append(int(hit[0]) + 1 if hit.size else args.random_cap)
        rows["random (the strategy)"] = got
    perms = starts(len(losses), args.seeds)
    rows["blind (uniform over classes)"] = [queries_to(p, losses, losses) for p in perms]
    key = losses[:, exact]
    best_q, best = None, None
    for q in FRACTIONS:
        top = key <= np.quantile(key, q)
        got = [queries_to(np.concatenate((p[top[p]], p[~top[p]])), losses, losses) for p in perms]
        if best is None or np.mean(got) < np.mean(best):
            best_q, best = q, got
    rows[f"threshold oracle (best q = {best_q})"] = best
    rows[f"model oracle, {names[exact]} known"] = [greedy(losses, guess, p[:10]) for p in perms]
    rows["model oracle, both learned"] = learned_bound(losses, learned, args.seeds)
    base = np.mean(rows.get("random (the strategy)", rows["blind (uniform over classes)"]))
    for label, got in rows.items():
        print(f"  {label:36s} mean {np.mean(got):7.1f}  median {np.median(got):7.1f}  "
              f"ratio to random {np.mean(got) / base:.2f}")  # fmt: skip
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
