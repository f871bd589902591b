"""The demo build's export side: the parquet file with its seed reliability, the repair of a
written file, the reliability report, the figure (used by ``build_demo_bench.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_plan import (
    MAX_MB,
    MAX_SPLITS,
    RELIABILITY_METRICS,
    configs,
    plan_spaces,
)

from bench.analysis.reliability import frame_seed_report
from bench.arch.functional import function_representatives
from bench.arch.spaces import get_space
from bench.fileio import atomic_path
from bench.table.costs import own_costs
from bench.table.schema import breakdown_flags
from bench.table.store import Store
from bench.table.tablefile import read_reliability, with_reliability


def reliability(
    bench: Path,
    dataset: str = "digits",
    spaces: list[str] | None = None,
    epochs: int | None = None,
    metrics: tuple[str, ...] = RELIABILITY_METRICS,
    seeds: tuple[int, ...] | None = None,
    per_class: int | None = None,
    complete_only: bool = False,
) -> dict[str, dict]:
    """Seed reliability of the build store's final-epoch rows, per space and metric
    (bench.analysis.reliability.frame_seed_report: tau between seeds, between k-seed means, the
    Spearman-Brown prediction). Only rows of this build's protocol (``epochs``, ``per_class``)
    count; copies are left out: one row per trained network. ``seeds``: only these (default:
    every seed the store holds); ``complete_only``: only the networks holding every one of them.
    """
    store = Store(bench)
    out: dict[str, dict] = {}
    for space in spaces or plan_spaces(dataset):
        cfg = configs(dataset, epochs, per_class=per_class)[space]
        if not store.has(space, dataset, "computed"):
            out[space] = {"measurable": False, "why": f"no {space}/{dataset} table in {bench}"}
            continue
        have = set(store.columns(space, dataset, "computed"))
        cols = [m for m in metrics if m in have]
        base = ["config", "hp", "epoch", "seed", "copied", "protocol"]
        df = store.read(space, dataset, "computed", columns=base + cols)
        df = df[(df["hp"] == cfg.hp) & (df["epoch"] == cfg.epochs) & ~df["copied"].astype(bool)]
        df = df[df["protocol"] == cfg.protocol()]
        if seeds is not None:
            df = df[df["seed"].isin(seeds)]
        if complete_only:
            held = df.groupby("config")["seed"].transform("nunique")
            df = df[held == df["seed"].nunique()]
        report = frame_seed_report(df, cols, MAX_SPLITS)
        if not report["measurable"]:
            report["why"] = (
                f"{len(report['seeds'])} seed(s) with rows of this protocol ({cfg.epochs}-epoch "
                "schedule, --epochs; --per-class) at its end: two are needed"
            )
            out[space] = report
            continue
        out[space] = {
            "dataset": dataset,
            "hp": cfg.hp,
            "epoch": cfg.epochs,
            "protocol": cfg.protocol(),
            **report,
            "missing_metrics": [m for m in metrics if m not in have],
        }
    return out


def export(
    bench: Path,
    out: Path,
    figure: Path | None,
    dataset: str = "digits",
    epochs: int | None = None,
    *,
    seeds: dict[str, tuple[int, ...]] | None = None,
    per_class: int | None = None,
    spaces: list[str] | None = None,
) -> pd.DataFrame:
    """Write the demo parquet (source 'demo') with its seed reliability in the file's metadata,
    print spread and Kendall tau, draw the figure. ``seeds``: per space, only these seeds' rows
    are written (default, or a space it lacks: every seed); the reliability is measured on
    them, and, where the store holds more seeds, on the networks holding every seed too (the
    reliability sample). ``spaces``: only these spaces' tables (default: every one the store
    holds)."""
    from scipy.stats import kendalltau

    store = Store(bench)
    parts, written = [], []
    for space in spaces or ("tss", "sss"):
        if store.has(space, dataset, "computed"):
            part = store.read(space, dataset, "computed")
            keep = (seeds or {}).get(space)
            parts.append(part if keep is None else part[part["seed"].isin(keep)])
            written.append(space)
    if not parts:
        raise SystemExit(f"{bench} holds no {dataset} tables yet: build first")
    reports = _reliability_reports(bench, dataset, written, epochs, seeds, per_class)
    frame, recosted = _own_costs(pd.concat(parts, ignore_index=True), dataset)
    if recosted:  # rows copied before copies kept their own costs (bench.table.costs.own_costs)
        print(f"{recosted} copied rows given their own params and FLOPs")
    frame["source"] = "demo"
    frame = frame.iloc[_storage_order(frame)].reset_index(drop=True)
    # accuracies (k / n), temperatures (a grid) and costs have few distinct values: kept exact
    exact = {"temperature", "params_m", "flops_m"}
    floats = [
        c
        for c in frame.columns
        if frame[c].dtype == np.float64 and c not in exact and not c.endswith("acc")
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    for bits in (16, 14, 12, 10):
        # round each value to a float32 with `bits` mantissa bits (16: relative error < 8e-6,
        # 10: < 5e-4, each far below the sampling error of the test images) so the table fits
        rounded = frame.copy()
        for c in floats:
            rounded[c] = _round_mantissa(frame[c].to_numpy(), bits)
        _write(rounded, tmp, reports)
        if tmp.stat().st_size <= MAX_MB[dataset] * 1e6:
            break
    else:
        size, limit = tmp.stat().st_size / 1e6, MAX_MB[dataset]
        tmp.unlink()
        raise SystemExit(f"the {dataset} demo table needs {size:.1f} MB > {limit} MB")
    tmp.replace(out)
    frame = rounded
    print(f"floats rounded to {bits} mantissa bits (relative error < {2.0 ** -(bits + 1):.1e})")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(frame)} rows)")
    for space, cfg in configs(dataset, epochs).items():
        df = frame[(frame["space"] == space) & (frame["epoch"] == cfg.epochs)]
        df = df[~df["copied"].astype(bool)]
        if df.empty:
            continue
        seeds = _seeds_each(df)
        # one value per network: the mean over its seeds, as a query answers by default
        df = df.groupby("config")[["acc", "pre_ECE_15", "post_ECE_15"]].mean()
        tau = kendalltau(df["acc"], df["pre_ECE_15"]).statistic
        q = lambda s: np.round(np.percentile(s, [0, 10, 50, 90, 100]), 4).tolist()  # noqa: E731
        print(
            f"{space}: {len(df)} networks x {seeds} at epoch {cfg.epochs} (seed means)\n"
            f"  acc        min/p10/median/p90/max {q(df['acc'])}  std {df['acc'].std():.4f}\n"
            f"  pre_ECE_15 min/p10/median/p90/max {q(df['pre_ECE_15'])}  "
            f"std {df['pre_ECE_15'].std():.4f}\n"
            f"  post_ECE_15 median {df['post_ECE_15'].median():.4f}\n"
            f"  Kendall tau(acc, pre_ECE_15) = {tau:.3f}"
        )
    if figure is not None:
        _figure(frame, figure, dataset, epochs)
    return frame


def repair(path: Path, dataset: str = "digits") -> None:
    """Repair a written demo table in place: set its ``flags`` column from the breakdown rule of
    ``bench.table.schema.breakdown_flags`` (KDECE > 1 near chance), and give copied rows their
    own params and FLOPs (``bench.table.costs.own_costs``); every measured value stays as it is.
    A table that records no seed reliability gets the one its own rows give (final epoch, one
    row per trained network; with one seed: not measurable, and it says so).

    The shipped digits table was built before computed rows carried that flag and while copies
    took their representative's costs; a new build has all of it right.
    """
    frame = pd.read_parquet(path)
    flags = breakdown_flags(frame, len(frame))
    frame["flags"] = pd.array([";".join(f) if f else None for f in flags], dtype="string")
    frame, recosted = _own_costs(frame, dataset)
    reports = {}
    for (space, name), part in frame.groupby(["space", "dataset"], sort=False):
        recorded = read_reliability(path, space, name)
        reports[f"{space}/{name}"] = recorded or [_file_reliability(part)]
    with atomic_path(path) as tmp:
        _write(frame, Path(tmp), reports)
    flagged = int(frame["flags"].notna().sum())
    print(
        f"{path}: {flagged} rows flagged, {recosted} copied rows given their own costs "
        f"({path.stat().st_size / 1e6:.2f} MB)"
    )


def _file_reliability(part: pd.DataFrame) -> dict:
    """The seed reliability of one table's own final-epoch rows (one per trained network)."""
    last = part[(part["epoch"] == part["hp"]) & ~part["copied"].astype(bool)]
    hp = int(last["hp"].max())
    last = last[last["hp"] == hp]
    metrics = [m for m in RELIABILITY_METRICS if m in last]
    report = frame_seed_report(last, metrics, MAX_SPLITS)
    return {"label": "the table's seeds, every network", "epoch": hp, **report}


def _reliability_reports(
    bench: Path,
    dataset: str,
    spaces: list[str],
    epochs: int | None,
    seeds: dict[str, tuple[int, ...]] | None,
    per_class: int | None,
) -> dict[str, list[dict]]:
    """Per ``space/dataset``: the reliability of the written seeds over every network, and, where
    the store holds more seeds, of every seed over the networks holding them all."""
    every = reliability(bench, dataset, spaces, epochs, per_class=per_class, complete_only=True)
    out = {}
    for space in spaces:
        keep = (seeds or {}).get(space)
        table = reliability(bench, dataset, [space], epochs, seeds=keep, per_class=per_class)
        reports = [{"label": "the table's seeds, every network", **table[space]}]
        if every[space].get("seeds") != table[space].get("seeds"):
            label = "every seed built, on the networks holding them all"
            reports.append({"label": label, **every[space]})
        out[f"{space}/{dataset}"] = reports
    return out


def _write(frame: pd.DataFrame, path: Path, reports: dict[str, list[dict]]) -> None:
    """The demo parquet file (zstd 19) with ``reports`` in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = with_reliability(pa.Table.from_pandas(frame, preserve_index=False), reports)
    floats = [f.name for f in table.schema if pa.types.is_floating(f.type)]
    # floats byte-stream-split (each byte position its own stream: the rounded mantissas' zero
    # bytes compress away) instead of dictionary-encoded: the digits table 13.98 -> 9.42 MB
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        use_dictionary=[c for c in table.column_names if c not in floats],
        use_byte_stream_split=floats,
    )


def _storage_order(frame: pd.DataFrame) -> np.ndarray:
    """The row order of the written file: per space, the rows of one TSS function (its
    isomorphism classes, each representative before its copies), each network's seeds and, for
    each seed, its epochs in turn. A copy then repeats its representative's run of values
    byte for byte, which zstd stores almost for free (the fashion8 TSS table at 4,371 trained
    functions, both at 14 mantissa bits: 14.2 MB sorted by class and epoch, 10.0 MB in this
    order)."""
    config = frame["config"].to_numpy()
    tss = (frame["space"] == "tss").to_numpy()
    reps = get_space("tss").representatives()
    functions = function_representatives("tss")
    rep = np.where(tss, reps[config % len(reps)], -1)
    function = np.where(tss, functions[config % len(functions)], -1)
    keys = (frame["epoch"], frame["seed"], config, frame["copied"], rep, function, frame["hp"])
    return np.lexsort((*keys, frame["space"]))


def _own_costs(frame: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, int]:
    """``frame`` with every row's own params/FLOPs (per space's build config); rows changed."""
    parts, changed = [], 0
    for space, cfg in configs(dataset).items():
        part = frame[frame["space"] == space]
        fixed = own_costs(part, cfg.space, cfg.dataset, *cfg.skeleton)
        changed += int((fixed["flops_m"].to_numpy() != part["flops_m"].to_numpy()).sum())
        parts.append(fixed)
    rest = frame[~frame["space"].isin(configs(dataset))]
    out = pd.concat([*parts, rest]).loc[frame.index]  # the rows in their order
    return out, changed


def _round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
    """float64 -> nearest float32 with only ``bits`` mantissa bits kept (NaN stays NaN)."""
    f32 = values.astype(np.float32)
    raw = f32.view(np.uint32).astype(np.uint64)
    drop = 23 - bits
    raw = ((raw + (1 << (drop - 1))) >> drop) << drop
    out = raw.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.where(np.isfinite(values), out, values)


def _seeds_each(rows: pd.DataFrame) -> str:
    """How many seeds each network of ``rows`` has: "3 seeds", or "1-3 seeds" (a partial build)."""
    held = rows.groupby("config")["seed"].nunique()
    lo, hi = int(held.min()), int(held.max())
    count = str(hi) if lo == hi else f"{lo}-{hi}"
    return f"{count} seed" + ("" if count == "1" else "s")


def _figure(
    frame: pd.DataFrame, path: Path, dataset: str = "digits", epochs: int | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = configs(dataset, epochs)["tss"].epochs
    df = frame[(frame["space"] == "tss") & (frame["epoch"] == epochs)]
    df = df[~df["copied"].astype(bool)]
    if df.empty:
        return
    seeds = _seeds_each(df)
    df = df.groupby("config")[["acc", "pre_ECE_15", "params_m"]].mean()  # seed means
    # the view starts at the 2nd percentile of accuracy: the few cells at chance level (no
    # path from input to output) would otherwise squeeze everything else into a sliver
    lo = max(0.0, float(df["acc"].quantile(0.02)) - 0.01)
    shown = df[df["acc"] >= lo]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    sc = ax.scatter(
        shown["acc"], shown["pre_ECE_15"], c=shown["params_m"], s=4, cmap="viridis", alpha=0.7
    )
    fig.colorbar(sc, ax=ax, label="params (M)")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("ECE (15 bins, before temperature scaling)")
    what = "one seed" if seeds == "1 seed" else f"mean of {seeds}"
    ax.set_title(
        f"demo benchmark: TSS on {dataset}, {epochs} epochs\n"
        f"{len(df):,} trained networks ({what} each)",
        fontsize=10,
    )
    if len(shown) < len(df):
        ax.text(
            0.02, 0.97, f"{len(df) - len(shown)} networks below accuracy {lo:.2f} not shown",
            transform=ax.transAxes, va="top", fontsize=8,
        )  # fmt: skip
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"wrote {path}")
