"""The embedded demo table carries the estimator-breakdown flags of its KDECE values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import bench
from bench.table.schema import BREAKDOWN_BOUNDS

DEMO = Path(bench.__file__).parent / "data" / "demo.parquet"


def test_every_kdece_breakdown_is_flagged_and_nothing_else():
    frame = pd.read_parquet(DEMO, columns=[*BREAKDOWN_BOUNDS, "flags"])
    flags = frame["flags"].fillna("")
    for column, bound in BREAKDOWN_BOUNDS.items():
        broken = frame[column] > bound
        assert broken.any()  # the 4-epoch proxy has such cells: the rule is exercised
        assert (flags.str.contains(f"breakdown:{column}", regex=False) == broken).all()


def test_every_row_carries_its_own_params_and_flops():
    # copies used to take their representative's costs (isomorphic cells can differ in both)
    import numpy as np

    from bench.arch.costs import cost_all
    from bench.arch.datasets import dataset_info

    frame = pd.read_parquet(DEMO, columns=["space", "dataset", "config", "params_m", "flops_m"])
    for (space, dataset), part in frame.groupby(["space", "dataset"]):
        skeleton = dataset_info(dataset).skeleton if space == "tss" else {}
        params, flops = cost_all(space, dataset, **skeleton)
        configs = part["config"].to_numpy()
        assert np.array_equal(part["flops_m"].to_numpy(), np.round(flops[configs], 6))
        assert np.array_equal(part["params_m"].to_numpy(), np.round(params[configs], 6))
