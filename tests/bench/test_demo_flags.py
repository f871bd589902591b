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
