"""Writers of test files in the exact published formats (calibration CSVs, robustness CSVs).

Values are random but realistic (fractions, small calibration errors); the header is the real
154-column one from bench.table.schema (checked against ../shared/specs/official-columns.txt in
test_schema.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.table.schema import (
    ATTACK_COLUMNS,
    CORRUPTION_COLUMNS,
    PUBLISHED_COLUMNS,
    parse_metric,
)


def official_frame(space: str, *, seed: int = 0, columns=PUBLISHED_COLUMNS) -> pd.DataFrame:
    """A full-size published calibration table (all indices of ``space``)."""
    sp = get_space(space)
    n = sp.size
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for col in columns:
        if col == "config":
            data[col] = np.arange(n)
        elif col == "arch":
            data[col] = sp.archs()
        elif col == "acc":
            data[col] = np.round(rng.uniform(0.1, 0.95, n), 4)
        elif col in ("correct_confidence", "incorrect_confidence") or col.startswith("auc_"):
            data[col] = np.round(rng.uniform(0.5, 0.99, n), 3)
        elif col in ATTACK_COLUMNS or col in CORRUPTION_COLUMNS:
            data[col] = np.round(rng.uniform(0.0, 0.9, n), 3)
        else:
            family = parse_metric(col).family
            high = {"NLL": 2.5, "MCE": 0.8}.get(family, 0.2)
            data[col] = rng.uniform(0.0, high, n)
    return pd.DataFrame(data, columns=list(columns))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write like ``frame.to_csv(path, index=False)`` (plain header, no quoting), but faster."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    frame = frame.copy()
    for col in frame.columns:  # mixed columns (a bad value planted by a test) as plain text
        if frame[col].dtype == object:
            frame[col] = [("" if v is None or v != v else str(v)) for v in frame[col]]
    with open(path, "wb") as fh:
        fh.write((",".join(frame.columns) + "\n").encode())
        pacsv.write_csv(
            pa.Table.from_pandas(frame, preserve_index=False),
            fh,
            pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )
    return path


def write_official(directory: Path, name: str, frame: pd.DataFrame) -> Path:
    return write_csv(Path(directory) / name, frame)


def robustness_frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(attack, corruption) tables: 15,625 rows, row i = TSS index i, copies within classes."""
    sp = get_space("tss")
    reps = sp.representatives()
    rng = np.random.default_rng(seed)
    n = sp.size
    attack = np.round(rng.uniform(0.0, 0.95, (n, 1 + len(ATTACK_COLUMNS))), 4)[reps]
    corruption = np.round(rng.uniform(0.0, 0.9, (n, len(CORRUPTION_COLUMNS))), 4)[reps]
    return (
        pd.DataFrame(attack, columns=["clean_acc", *ATTACK_COLUMNS]),
        pd.DataFrame(corruption, columns=list(CORRUPTION_COLUMNS)),
    )


def write_robustness(directory: Path, seed: int = 0) -> dict[str, Path]:
    attack, corruption = robustness_frames(seed)
    out = {}
    for name in ("attack_acc.csv", "attack_acc_cifar100.csv", "attack_acc_imagenet.csv"):
        out[name] = write_csv(Path(directory) / name, attack)
    for name in ("corruption_acc.csv", "corruption_acc_cifar100.csv"):
        out[name] = write_csv(Path(directory) / name, corruption)
    return out
