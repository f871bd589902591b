"""Jung et al.'s robustness dataset: ``attack_acc*.csv`` and ``corruption_acc*.csv`` (TSS only).

The files have no index column: row i is TSS index i. Rows equal to their isomorphism
representative's row are marked ``copied``. Malformed input raises an error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.arch.spaces import get_space
from bench.errors import InputError
from bench.importers.common import (
    ImportReport,
    locate_files,
    read_csv,
    validated_rows,
)
from bench.table.schema import (
    ATTACK_COLUMNS,
    CORRUPTION_COLUMNS,
)
from bench.table.store import Store

__all__ = ["ROBUSTNESS_FILES", "read_robustness", "import_robustness"]

#: file name -> (dataset, kind) of the robustness dataset (TSS only; no ImageNet corruptions)
ROBUSTNESS_FILES: dict[str, tuple[str, str]] = {
    "attack_acc.csv": ("cifar10", "attack"),
    "attack_acc_cifar100.csv": ("cifar100", "attack"),
    "attack_acc_imagenet.csv": ("ImageNet16-120", "attack"),
    "corruption_acc.csv": ("cifar10", "corruption"),
    "corruption_acc_cifar100.csv": ("cifar100", "corruption"),
}
_ROBUSTNESS_HEADER = {
    "attack": ("clean_acc", *ATTACK_COLUMNS),
    "corruption": CORRUPTION_COLUMNS,
}


def read_robustness(path: str | Path) -> tuple[pd.DataFrame, ImportReport]:
    """Read and validate the robustness CSVs under ``path`` (nothing is written).

    Args:
        path: a folder holding some of :data:`ROBUSTNESS_FILES`, or one of those files.

    Returns:
        ``(rows, report)``: TSS rows (row i of a file is index i), ``copied`` where a row
        equals its isomorphism representative's row.

    Raises:
        MissingFileError: ``path`` does not exist or holds none of the files.
        InputError: a malformed file (header, row count, values).

    Example:
        >>> import numpy as np, pandas as pd, tempfile
        >>> from bench.table.schema import CORRUPTION_COLUMNS
        >>> folder = Path(tempfile.mkdtemp())
        >>> values = np.random.default_rng(0).uniform(0.1, 0.9, (15625, len(CORRUPTION_COLUMNS)))
        >>> pd.DataFrame(values, columns=CORRUPTION_COLUMNS).to_csv(folder / "corruption_acc.csv")
        >>> rows, report = read_robustness(folder)
        >>> len(rows), int(rows["copied"].sum())
        (15625, 0)
    """
    files = locate_files(path, ROBUSTNESS_FILES, "robustness dataset CSV")
    report = ImportReport("robustness", [str(f) for f in files])
    sp = get_space("tss")
    reps = sp.representatives()
    by_dataset: dict[str, list[pd.DataFrame]] = {}
    for file in files:
        dataset, kind = ROBUSTNESS_FILES[file.name]
        expected = _ROBUSTNESS_HEADER[kind]
        frame = read_csv(file, expected)
        lacking = [c for c in expected if c not in frame.columns]
        if lacking:
            raise InputError(f"{file}: header lacks {lacking[:4]} ({len(lacking)} in all)")
        if len(frame) != sp.size:
            raise InputError(
                f"{file}: {len(frame)} rows; the robustness files hold one row per TSS index "
                f"({sp.size}), row i being index i"
            )
        # each file's values checked on their own, so that a complaint names the file and line
        validated_rows(
            file,
            frame[list(expected)]
            .assign(space="tss", dataset=dataset, source="robustness", config=np.arange(sp.size))
            .assign(hp=200, epoch=200),
            csv_lines=True,
        )
        by_dataset.setdefault(dataset, []).append(frame[list(expected)])
        report.rows[file.name] = len(frame)
    frames = []
    for dataset, parts in by_dataset.items():
        frame = pd.concat(parts, axis=1)
        values = frame.to_numpy(dtype=np.float64)
        same = ((values == values[reps]) | (np.isnan(values) & np.isnan(values[reps]))).all(axis=1)
        copied = same & (reps != np.arange(sp.size))
        differs = int(((reps != np.arange(sp.size)) & ~same).sum())
        if differs:
            report.notes.append(f"{dataset}: {differs} rows differ from their representative")
        frame = frame.assign(
            space="tss",
            dataset=dataset,
            source="robustness",
            protocol="jung2023",
            config=np.arange(sp.size),
            hp=200,
            epoch=200,
            seed=-1,
            copied=copied,
        )
        frames.append(validated_rows(Path(path), frame))
    return pd.concat(frames, ignore_index=True), report


def import_robustness(store: Store, path: str | Path) -> ImportReport:
    """Import the robustness dataset CSVs (all files found under ``path``, or one file).

    Args:
        store: the store to write to.
        path: as :func:`read_robustness`.

    Returns:
        The report, with ``written`` set.

    Raises:
        MissingFileError: as :func:`read_robustness`.
        InputError: as :func:`read_robustness`; nothing is written.

    Example:
        >>> from bench.table.store import Store
        >>> import numpy as np, pandas as pd, tempfile
        >>> from bench.table.schema import CORRUPTION_COLUMNS
        >>> folder = Path(tempfile.mkdtemp())
        >>> values = np.random.default_rng(0).uniform(0.1, 0.9, (15625, len(CORRUPTION_COLUMNS)))
        >>> pd.DataFrame(values, columns=CORRUPTION_COLUMNS).to_csv(folder / "corruption_acc.csv")
        >>> import_robustness(Store(folder / "bench"), folder).as_dict()["inserted"]
        15625
    """
    rows, report = read_robustness(path)
    report.written = store.upsert(rows)
    return report
