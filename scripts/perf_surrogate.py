"""Surrogate speed: fit 15,625 TSS rows with 2 targets, predict all 15,625, beside NASLib's XGBoost.

Reads the NB201 table (``calnas bench import nb201 --bench PATH`` first) and times:

1. calnas ``Surrogate`` (defaults: 200 rounds + 5 half-round bootstrap members, one training
   thread) fitted on all 15,625 cells with targets ``valid_acc`` and ``latency_s``;
   predicting all 15,625 cells (point predictions) and with 90% intervals.
2. NASLib's XGBoost predictor settings, as published in NASLib
   (naslib/predictors/trees/xgb.py): objective reg:squarederror, max_depth 6,
   min_child_weight 1, colsample_bytree 1, colsample_bylevel 1, learning_rate 0.3,
   500 boosting rounds, on NASLib's NB201 encoding (adjacency one-hot: 6 edges x 5 ops = 30-d),
   one booster per target, same data, same thread count.
3. Kendall tau of both at 1,000 training cells on the rest of the space (valid_acc).

Usage:
    python scripts/perf_surrogate.py --bench /path/to/bench [--dataset cifar10-valid] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import xgboost as xgb
from scipy.stats import kendalltau

from bench.arch.spaces import get_space
from bench.table.benchmark import Benchmark
from surrogate.features import feature_table
from surrogate.model import DEFAULT_MEMBERS, Surrogate

NASLIB_PARAMS = {
    "objective": "reg:squarederror",
    "eval_metric": "rmse",
    "booster": "gbtree",
    "max_depth": 6,
    "min_child_weight": 1,
    "colsample_bytree": 1,
    "learning_rate": 0.3,
    "colsample_bylevel": 1,
}
NASLIB_ROUNDS = 500


def _best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` runs (the CPU time of that run goes to _CPU)."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    _CPU[fn] = best[1]
    return best[0]


#: CPU seconds of the best run: on a host shared with other jobs wall time includes waiting
_CPU: dict = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="benchmark directory with the nb201 import")
    parser.add_argument("--dataset", default="cifar10-valid")
    parser.add_argument("--repeat", type=int, default=3, help="prediction timings: best of N")
    parser.add_argument("--nthread", type=int, default=1, help="training threads for both")
    args = parser.parse_args()

    targets = ["valid_acc", "latency_s"]
    frame = Benchmark.open(args.bench, demo=False).frame(
        "tss", args.dataset, targets, source="nb201", complete=True
    )
    configs = frame["config"].to_numpy()
    y = frame[targets].to_numpy()
    archs = get_space("tss").archs()
    print(f"data: tss/{args.dataset} nb201, {len(frame)} rows, targets {targets}")
    print(f"host: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")

    feature_table("tss", args.dataset)  # build the cached feature table outside the timings
    model = Surrogate("tss", targets, dataset=args.dataset, nthread=args.nthread)
    t0 = time.perf_counter()
    model.fit(configs, y)
    fit_s = time.perf_counter() - t0
    predict_all = lambda: model.predict(archs)  # noqa: E731
    pred_s = _best(predict_all, args.repeat)
    interval_s = _best(lambda: model.predict_interval(archs, 0.1), args.repeat)

    onehot = get_space("tss").encode_all("onehot")
    params = {**NASLIB_PARAMS, "nthread": args.nthread, "verbosity": 0}
    t0 = time.perf_counter()
    boosters = [
        xgb.train(params, xgb.DMatrix(onehot[configs], label=y[:, t]), NASLIB_ROUNDS)
        for t in range(len(targets))
    ]
    naslib_fit_s = time.perf_counter() - t0

    def naslib_predict() -> None:
        # the same work as calnas: arch strings -> indices -> features -> predictions
        x = onehot[get_space("tss").indices(archs)]
        for b in boosters:
            b.inplace_predict(x)

    naslib_pred_s = _best(naslib_predict, args.repeat)

    perm = np.random.default_rng(0).permutation(len(configs))
    tr, te = perm[:1000], perm[1000:]
    ours = Surrogate("tss", "valid_acc", dataset=args.dataset, n_members=0).fit(
        configs[tr], y[tr, 0]
    )
    tau_ours = kendalltau(y[te, 0], ours.predict(configs[te])[:, 0]).statistic
    nb = xgb.train(params, xgb.DMatrix(onehot[configs[tr]], label=y[tr, 0]), NASLIB_ROUNDS)
    tau_naslib = kendalltau(y[te, 0], nb.inplace_predict(onehot[configs[te]])).statistic

    rows = [
        (f"calnas Surrogate (171 features, 200 rounds + {DEFAULT_MEMBERS} members)", fit_s, pred_s,
         tau_ours),
        ("NASLib XGBoost settings (30-d one-hot, 500 rounds)", naslib_fit_s, naslib_pred_s,
         tau_naslib),
    ]  # fmt: skip
    print(f"\n{'model':58s} {'fit 15,625x2 (s)':>17s} {'predict all (s)':>16s} {'tau@1000':>9s}")
    for name, f, p, tau in rows:
        print(f"{name:58s} {f:17.2f} {p:16.4f} {tau:9.4f}")
    print(f"calnas predict all with 90% intervals: {interval_s:.4f} s")
    print(f"calnas predict all, CPU time of the best run: {_CPU[predict_all]:.4f} s "
          f"(NASLib settings: {_CPU[naslib_predict]:.4f} s)")  # fmt: skip
    print(f"budget: fit < 30 s -> {'ok' if fit_s < 30 else 'OVER'}; "
          f"predict < 0.1 s -> {'ok' if pred_s < 0.1 else 'OVER'}")  # fmt: skip


if __name__ == "__main__":
    main()
