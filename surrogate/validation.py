"""Validation of the surrogate by the protocol of White et al. 2021, "How Powerful are
Performance Predictors in Neural Architecture Search?" (NeurIPS 2021).

Protocol: for each seed the measured architectures are shuffled once; the first ``n_test`` (200)
are the held-out test set and training sets are the first ``n`` of the rest, for every ``n`` in
the training sizes (log-spaced 5..1000 plus 10% and 50% of the table), so a seed's training sets
are nested. Each fit is scored on the test set by Kendall tau (tau-b), Spearman rho, R^2 and the
empirical coverage (and mean width) of its ``1 - alpha`` prediction intervals; results are
averaged over seeds (20 by default). ``n_test=None`` instead tests on every architecture outside
the training set ("the rest of the space").

:func:`validate` runs the protocol on given architectures and values, :func:`validate_on_benchmark`
on the measured rows of a table; :func:`summarize_validation` averages over seeds and
:func:`plot_validation` draws the learning curves. ``calnas surrogate evaluate`` runs all four.

Example:
    >>> default_train_sizes(15625)
    [5, 10, 20, 50, 100, 200, 500, 1000, 1562, 7812]
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from bench.errors import InputError
from bench.fileio import atomic_write_bytes
from surrogate.features import arch_indices
from surrogate.model import DEFAULT_MEMBERS, Surrogate, _as_targets

__all__ = [
    "LOG_SIZES",
    "METRICS",
    "default_train_sizes",
    "score_predictions",
    "validate",
    "validate_on_benchmark",
    "summarize_validation",
    "plot_validation",
]

#: Log-spaced (1-2-5) training sizes of the protocol, before the 10% and 50% fractions.
LOG_SIZES: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500, 1000)
METRICS: tuple[str, ...] = ("kendall_tau", "spearman_rho", "r2", "coverage", "width")


def default_train_sizes(n_rows: int, n_test: int | None = 200) -> list[int]:
    """Protocol training sizes for ``n_rows`` measured architectures, ``n_test`` held out.

    Sizes that would leave fewer than ``n_test`` rows (one, with ``n_test=None``) are dropped.

    Args:
        n_rows: measured architectures available.
        n_test: architectures held out for testing (None: test on the rest).

    Returns:
        :data:`LOG_SIZES` plus 10% and 50% of ``n_rows``, ascending, those that fit.

    Example:
        >>> default_train_sizes(2000)
        [5, 10, 20, 50, 100, 200, 500, 1000]
    """
    sizes = set(LOG_SIZES) | {int(n_rows * 0.1), int(n_rows * 0.5)}
    room = n_rows - (1 if n_test is None else n_test)
    return sorted(s for s in sizes if 5 <= s <= room)


def score_predictions(
    y: np.ndarray,
    mean: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> dict[str, float]:
    """Kendall tau, Spearman rho, R^2, interval coverage and mean width for one target.

    A constant prediction (or constant truth) ranks nothing: its tau and rho are 0, not NaN.

    Args:
        y: (n,) true values.
        mean: (n,) point predictions.
        lower: (n,) lower interval bounds, or None.
        upper: (n,) upper interval bounds, or None.

    Returns:
        ``kendall_tau``, ``spearman_rho``, ``r2`` (NaN for constant ``y``), and with bounds
        ``coverage`` (share of ``y`` inside) and ``width`` (mean ``upper - lower``).

    Example:
        >>> y = np.array([1.0, 2, 3])
        >>> s = score_predictions(y, np.array([1.1, 1.9, 3.2]), y - 0.5, y + 0.1)
        >>> s["kendall_tau"], s["coverage"], round(s["width"], 6)
        (1.0, 1.0, 0.6)
    """
    y = np.asarray(y, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    constant = np.ptp(mean) == 0 or np.ptp(y) == 0
    # a constant prediction ranks nothing: report 0 rather than scipy's NaN
    tau = 0.0 if constant else float(kendalltau(y, mean).statistic)
    rho = 0.0 if constant else float(spearmanr(y, mean).statistic)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - mean) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    out = {"kendall_tau": tau, "spearman_rho": rho, "r2": r2}
    if lower is not None and upper is not None:
        out["coverage"] = float(((y >= lower) & (y <= upper)).mean())
        out["width"] = float((upper - lower).mean())
    return out


def validate(
    space: str,
    archs: Sequence[str | int] | np.ndarray,
    y: Any,
    targets: str | Sequence[str],
    *,
    dataset: str | None = None,
    sizes: Sequence[int] | None = None,
    n_test: int | None = 200,
    seeds: int | Sequence[int] = 20,
    alpha: float = 0.1,
    n_members: int = DEFAULT_MEMBERS,
    xgb_params: dict[str, Any] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Validate surrogates fitted on ``archs`` by the protocol (see the module docstring).

    Args:
        space: ``"tss"`` or ``"sss"``.
        archs: the measured arch strings or NATS indices.
        y: their values: (n,), (n, t), or a DataFrame holding the target columns.
        targets: the column name(s) ``y`` holds.
        dataset: the dataset ``y`` was measured on (selects the cost features).
        sizes: training sizes (None: :func:`default_train_sizes`).
        n_test: archs held out for testing per seed (None: every arch outside the training set).
        seeds: a count k (seeds 0..k-1) or explicit seeds.
        alpha: 1 - the coverage the prediction intervals aim at.
        n_members: bootstrap members per surrogate (0: no intervals, no coverage columns).
        xgb_params: XGBoost parameters for every surrogate.
        progress: show a progress bar.

    Returns:
        One row per (target, n_train, seed): ``target``, ``n_train``, ``seed``, ``n_test``, the
        :data:`METRICS` and ``fit_s`` (the fit time in seconds).

    Raises:
        InputError: bad archs or ``y``, or sizes, ``n_test``, ``seeds`` or ``alpha`` that the
            measured rows cannot serve.

    Example:
        >>> from bench.table.benchmark import Benchmark
        >>> frame = Benchmark.open("/tmp/calnas-doc-bench").frame("sss", "digits", ["acc"])
        >>> runs = validate("sss", frame["config"], frame["acc"], "acc", dataset="digits",
        ...                 sizes=[20, 50], n_test=100, seeds=2, n_members=2,
        ...                 xgb_params={"n_estimators": 10})
        >>> runs[["n_train", "seed", "n_test"]].values.tolist()
        [[20, 0, 100], [50, 0, 100], [20, 1, 100], [50, 1, 100]]
    """
    targets = _as_targets(targets)
    idx = arch_indices(space, archs)
    y = Surrogate(space, targets, dataset=dataset)._check_y(y, len(idx))
    n = len(idx)
    sizes = default_train_sizes(n, n_test) if sizes is None else sorted({int(s) for s in sizes})
    if not sizes or sizes[0] < 1:
        raise InputError(f"training sizes must be positive integers, got {sizes}")
    if n_test is not None and (isinstance(n_test, bool) or n_test < 1):
        raise InputError(f"n_test must be a positive integer or None (the rest), got {n_test!r}")
    held = 0 if n_test is None else n_test
    too_big = [s for s in sizes if s + max(held, 1) > n]
    if too_big:
        raise InputError(
            f"training sizes {too_big} leave no room for "
            f"{n_test if n_test is not None else 'any'} test archs among {n} measured rows"
        )
    if not 0 < alpha < 1:
        raise InputError(f"alpha must satisfy 0 < alpha < 1, got {alpha!r}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise InputError("seeds must be a positive count or a non-empty list")

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(seed_list) * len(sizes), desc="surrogate evaluate", unit="fit")
    rows: list[dict[str, Any]] = []
    for seed in seed_list:
        perm = np.random.default_rng(seed).permutation(n)
        for size in sizes:
            if n_test is None:
                train, test = perm[:size], perm[size:]
            else:
                train, test = perm[n_test : n_test + size], perm[:n_test]
            model = Surrogate(
                space,
                targets,
                dataset=dataset,
                seed=seed,
                n_members=n_members,
                **(xgb_params or {}),
            )
            t0 = time.perf_counter()
            model.fit(idx[train], y[train])
            fit_s = time.perf_counter() - t0
            if n_members:
                mean, lower, upper = model.predict_with_interval(idx[test], alpha)
            else:
                mean, lower, upper = model.predict(idx[test]), None, None
            for t, target in enumerate(targets):
                rows.append(
                    {
                        "target": target,
                        "n_train": size,
                        "seed": seed,
                        "n_test": len(test),
                        **score_predictions(
                            y[test, t],
                            mean[:, t],
                            None if lower is None else lower[:, t],
                            None if upper is None else upper[:, t],
                        ),
                        "fit_s": fit_s,
                    }
                )
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows)


def validate_on_benchmark(
    bench: Any,
    space: str,
    dataset: str,
    targets: str | Sequence[str],
    *,
    source: str | None = None,
    epoch: int | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`validate` on the measured rows of a benchmark table: one row per network that was
    measured. Rows a table copied from another architecture (``copied``: an isomorphic cell, or
    a class computing the same function) are left out, since a copy in the test set whose
    original is in the training set tests nothing: on the digits demo table, counting copies
    raised the Kendall tau of 1,000 training cells from 0.41 to 0.55 (accuracy) and from 0.19
    to 0.33 (pre_ECE_15).

    Args:
        bench: a :class:`bench.table.benchmark.Benchmark`, a path to a store, or None for the
            default store.
        space: ``"tss"`` or ``"sss"``.
        dataset: the table's dataset.
        targets: the column name(s) to predict.
        source: only rows of this source (None: the table's default resolution).
        epoch: only rows of this training epoch (None: the table's default).
        **kwargs: passed to :func:`validate` (``sizes``, ``n_test``, ``seeds``, ``alpha``, ...).

    Returns:
        The rows of :func:`validate`.

    Raises:
        InputError: a target that is not a column, no measured rows, or as :func:`validate`.

    Example:
        >>> runs = validate_on_benchmark("/tmp/calnas-doc-bench", "sss", "digits", "acc",
        ...                              sizes=[20], n_test=100, seeds=1, n_members=0,
        ...                              xgb_params={"n_estimators": 10})
        >>> list(runs.columns)
        ['target', 'n_train', 'seed', 'n_test', 'kendall_tau', 'spearman_rho', 'r2', 'fit_s']
    """
    from bench.table.benchmark import Benchmark

    if bench is None or isinstance(bench, (str, Path)):
        bench = Benchmark.open(bench)
    targets = _as_targets(targets)
    frame = bench.frame(space, dataset, list(targets), source=source, epoch=epoch)
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise InputError(f"target(s) {missing} are not columns of the {space}/{dataset} table")
    frame = frame[~frame["copied"].astype(bool)].dropna(subset=list(targets))
    if frame.empty:
        raise InputError(f"no {space}/{dataset} rows have all of {list(targets)} measured")
    return validate(
        space,
        frame["config"].to_numpy(dtype=np.int64),
        frame[list(targets)],
        targets,
        dataset=dataset,
        **kwargs,
    )


def summarize_validation(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds, one row per (target, n_train).

    Args:
        results: the rows of :func:`validate`.

    Returns:
        Columns ``target``, ``n_train``, ``seeds``, ``n_test``, then ``<metric>`` and
        ``<metric>_std`` (population std over seeds) for each metric present and ``fit_s``.

    Raises:
        InputError: ``results`` is empty.

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"target": "acc", "n_train": 5, "seed": [0, 1], "n_test": 200,
        ...                      "kendall_tau": [0.4, 0.6]})
        >>> summarize_validation(runs)[["n_train", "seeds", "kendall_tau", "kendall_tau_std"]]
           n_train  seeds  kendall_tau  kendall_tau_std
        0        5      2          0.5              0.1
    """
    if results.empty:
        raise InputError("no validation results to summarize")
    metrics = [m for m in (*METRICS, "fit_s") if m in results.columns]
    grouped = results.groupby(["target", "n_train"], sort=True)
    mean = grouped[metrics].mean()
    std = grouped[metrics].std(ddof=0).add_suffix("_std")
    out = pd.concat([grouped["seed"].nunique().rename("seeds"), grouped["n_test"].min()], axis=1)
    out = pd.concat([out, mean, std], axis=1).reset_index()
    order = ["target", "n_train", "seeds", "n_test"]
    for m in metrics:
        order += [m, f"{m}_std"]
    return out[order]


def plot_validation(
    summary: pd.DataFrame, path: str | Path, *, alpha: float = 0.1, title: str = ""
) -> Path:
    """Save Kendall tau and interval coverage against training size (log x) as an image.

    Args:
        summary: the output of :func:`summarize_validation`.
        path: the image file, in the format its suffix names (PNG without one); missing
            folders are created and the file is written atomically.
        alpha: the intervals' alpha, for the nominal-coverage line.
        title: the figure's title.

    Returns:
        ``path`` as a ``Path``.

    Example:
        >>> import os, pandas as pd, tempfile
        >>> summary = pd.DataFrame({"target": "acc", "n_train": [5, 50], "kendall_tau": [0.3, 0.6],
        ...                         "kendall_tau_std": [0.1, 0.05]})
        >>> plot_validation(summary, os.path.join(tempfile.mkdtemp(), "curve.png")).suffix
        '.png'
    """
    # the object-oriented API: no pyplot, so the caller's backend and figures are left alone
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    has_cov = "coverage" in summary.columns
    fig = Figure(figsize=(10 if has_cov else 5.5, 4))
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, 2 if has_cov else 1))
    for target, part in summary.groupby("target", sort=False):
        x = part["n_train"].to_numpy()
        for ax, metric in zip(axes, ("kendall_tau", "coverage"), strict=False):
            m = part[metric].to_numpy()
            s = part[f"{metric}_std"].to_numpy()
            ax.plot(x, m, marker="o", label=str(target))
            ax.fill_between(x, m - s, m + s, alpha=0.2)
    axes[0].set(xscale="log", xlabel="training architectures", ylabel="Kendall tau")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    if has_cov:
        axes[1].axhline(1 - alpha, color="k", ls="--", lw=1, label=f"nominal {1 - alpha:.0%}")
        axes[1].set(xscale="log", xlabel="training architectures", ylabel="interval coverage")
        axes[1].set_ylim(0, 1.02)
        axes[1].grid(alpha=0.3)
        axes[1].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png", dpi=120)
    return atomic_write_bytes(path, buf.getvalue())
