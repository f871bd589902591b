"""Each computed TSS row's own parameter and FLOP counts: :func:`own_costs`, :func:`stale_costs`
and :func:`repair_costs`.

Cells of one isomorphism class (or one function) share their measured values, not their costs:
a dead or repeated edge changes the parameters and FLOPs (8941 and its representative 82 differ:
0.451 against 0.562 MFLOPs at C=8, N=1). Rows copied from a class's representative get their own
costs, and their train time and latency scaled by the FLOPs ratio. Stores computed before copies
did so (calnas before 2026-12-05) hold copies with their representative's costs;
``calnas bench validate`` reports them and ``calnas bench validate --repair`` repairs them in
place, measured values untouched. The skeleton (C, N) of a computed row is read from its
``protocol`` string (``skeleton=C8N1``); rows without one (imported tables) are left alone.

Example:
    >>> row = pd.DataFrame({"config": [8941], "copied": [True], "params_m": [0.067426],
    ...                     "flops_m": [0.561994], "train_time_s": [1.0]})
    >>> out = own_costs(row, "tss", "digits", 8, 1)
    >>> float(out["flops_m"].iloc[0]), round(float(out["train_time_s"].iloc[0]), 3)
    (0.451402, 0.803)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from bench.table.schema import KEY
from bench.table.store import Store

__all__ = ["own_costs", "repair_costs", "skeleton_of", "stale_costs"]

_SKELETON = re.compile(r"(?:^|;)skeleton=C(\d+)N(\d+)(?:;|$)")


def skeleton_of(protocol: Any) -> tuple[int, int] | None:
    """(C, N) named by a computed row's ``protocol`` string, or None.

    Example:
        >>> skeleton_of("calnas-compute;train=nats[...];skeleton=C8N1;metrics=tao2024")
        (8, 1)
        >>> skeleton_of(None) is None
        True
    """
    m = _SKELETON.search(protocol) if isinstance(protocol, str) else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def own_costs(frame: pd.DataFrame, space: str, dataset: str, C: int, N: int) -> pd.DataFrame:
    """``frame`` with each row's own params and FLOPs (skeleton C, N), and copied rows' times
    scaled to them.

    A copied row's ``train_time_s`` and ``latency_s`` are its unit's scaled by the FLOPs ratio
    (the rule packs use for their shares); computed rows' times are left as measured. A row
    that already has its own costs is returned unchanged, so this can be applied twice.

    Args:
        frame: rows with ``config``, ``copied``, ``params_m`` and ``flops_m``.
        space: the table's space.
        dataset: the table's dataset.
        C: the stem width the rows were computed with.
        N: the cells per stage the rows were computed with.

    Returns:
        A new frame, same index.
    """
    from bench.arch.costs import cost_all
    from bench.arch.spaces import get_space

    params, flops = cost_all(get_space(space).name, dataset, C=C, N=N)
    configs = frame["config"].to_numpy(dtype=np.int64)
    own = np.round(flops[configs], 6)  # as bench.arch.costs.cost rounds
    copied = frame["copied"].to_numpy(dtype=bool)
    ratio = np.where(copied, own / frame["flops_m"].to_numpy(dtype=float), 1.0)
    out = frame.assign(params_m=np.round(params[configs], 6), flops_m=own)
    for col in ("train_time_s", "latency_s"):
        if col in out:
            out[col] = out[col].to_numpy(dtype=float) * ratio
    return out


def stale_costs(frame: pd.DataFrame, space: str, dataset: str) -> np.ndarray:
    """Which rows of a TSS table carry params or FLOPs other than their own (rows whose
    protocol names no skeleton are never stale: their costs are not calnas's to judge).

    Example:
        >>> rows = pd.DataFrame({"config": [82, 8941], "copied": [False, True],
        ...     "params_m": [0.067426, 0.067426], "flops_m": [0.561994, 0.561994],
        ...     "protocol": ["skeleton=C8N1"] * 2})
        >>> stale_costs(rows, "tss", "digits").tolist()
        [False, True]
    """
    stale = np.zeros(len(frame), dtype=bool)
    if space != "tss" or len(frame) == 0 or not {"params_m", "flops_m", "protocol"} <= set(frame):
        return stale
    for protocol, at in frame.groupby("protocol", dropna=True).indices.items():
        skeleton = skeleton_of(protocol)
        if skeleton is None:
            continue
        part = frame.iloc[at]
        fixed = own_costs(part.assign(copied=False), space, dataset, *skeleton)
        for col in ("params_m", "flops_m"):
            stale[at] |= ~np.isclose(part[col].to_numpy(float), fixed[col].to_numpy(), atol=1e-9)
    return stale


def repair_costs(store: Store, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """Give every stale row of the store's TSS tables its own costs (:func:`own_costs`).

    Only ``params_m``, ``flops_m``, and copied rows' ``train_time_s`` and ``latency_s`` change;
    every measured value stays. Each table is rewritten through :meth:`Store.upsert` (validated,
    atomic, under the table's lock).

    Args:
        store: the user's store (the embedded demo files are read-only and already right).
        dry_run: only count.

    Returns:
        One entry per TSS table: ``table`` ('space/dataset/source'), ``rows``, ``stale``.

    Example:
        >>> import tempfile
        >>> repair_costs(Store(tempfile.mkdtemp()))
        []
    """
    report = []
    for info in store.tables():
        if info.space != "tss" or not {"params_m", "flops_m", "protocol"} <= set(info.columns):
            continue
        frame = store.read(info.space, info.dataset, info.source)
        stale = stale_costs(frame, info.space, info.dataset)
        entry = {"table": f"{info.space}/{info.dataset}/{info.source}", "rows": len(frame),
                 "stale": int(stale.sum())}  # fmt: skip
        report.append(entry)
        if dry_run or not stale.any():
            continue
        part = frame[stale]
        cols = [c for c in (*KEY, "copied", "params_m", "flops_m", "train_time_s", "latency_s")
                if c in part]  # fmt: skip
        fixed = [
            own_costs(rows, info.space, info.dataset, *skeleton_of(protocol))  # type: ignore[misc]
            for protocol, rows in part.groupby("protocol")
        ]
        store.upsert(pd.concat(fixed)[cols])
    return report
