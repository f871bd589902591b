"""Every embedded demo file carries the estimator-breakdown flags of its KDECE values and each
row's own costs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import bench
from bench.table.schema import BREAKDOWN_BOUNDS

FILES = sorted((Path(bench.__file__).parent / "data").glob("*.parquet"))
every_file = pytest.mark.parametrize("demo_file", FILES, ids=[f.name for f in FILES])


def test_the_demo_files_are_installed():
    assert FILES, "bench/data holds no embedded demo table"


@every_file
def test_every_kdece_breakdown_is_flagged_and_nothing_else(demo_file):
    frame = pd.read_parquet(demo_file, columns=[*BREAKDOWN_BOUNDS, "flags"])
    flags = frame["flags"].fillna("")
    for column, bound in BREAKDOWN_BOUNDS.items():
        broken = frame[column] > bound
        assert broken.any()  # both proxies have such cells: the rule is exercised
        assert (flags.str.contains(f"breakdown:{column}", regex=False) == broken).all()


@every_file
def test_every_row_carries_its_own_params_and_flops(demo_file):
    # copies used to take their representative's costs (isomorphic cells can differ in both)
    import numpy as np

    from bench.arch.costs import cost_all
    from bench.arch.datasets import dataset_info

    frame = pd.read_parquet(
        demo_file, columns=["space", "dataset", "config", "params_m", "flops_m"]
    )
    for (space, dataset), part in frame.groupby(["space", "dataset"]):
        skeleton = dataset_info(dataset).skeleton if space == "tss" else {}
        params, flops = cost_all(space, dataset, **skeleton)
        configs = part["config"].to_numpy()
        assert np.array_equal(part["flops_m"].to_numpy(), np.round(flops[configs], 6))
        assert np.array_equal(part["params_m"].to_numpy(), np.round(params[configs], 6))
