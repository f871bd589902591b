"""The study's six calibration CSVs (Tao et al., ICLR 2024), ``cifar10_tss.csv`` and the others.

Each has the 154 columns of ``schema.PUBLISHED_COLUMNS`` (SSS files may lack some metric columns).
Exact zeros in KSCE/KDECE/MMCE/cwCE_em and ECE = 0 at chance accuracy (what the authors'
``try/except: return 0`` and degenerate cells produce), and KDECE values above 1 (the estimator's
breakdown near chance) are kept unchanged and flagged in the ``flags`` column and in the report.
Malformed input raises an error naming the file, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.arch.datasets import dataset_info
from bench.arch.spaces import get_space
from bench.errors import InputError, MissingFileError
from bench.importers.common import (
    ImportReport,
    check_arch,
    check_configs,
    locate_files,
    read_csv,
    validated_rows,
)
from bench.table.schema import (
    BREAKDOWN_BOUNDS,
    CALIBRATION_COLUMNS,
    PUBLISHED_COLUMNS,
    breakdown_flags,
    parse_metric,
)
from bench.table.store import Store

__all__ = ["OFFICIAL_FILES", "read_official", "import_official"]

#: file name -> (space, dataset) of the published calibration CSVs
OFFICIAL_FILES: dict[str, tuple[str, str]] = {
    "cifar10_tss.csv": ("tss", "cifar10"),
    "cifar100_tss.csv": ("tss", "cifar100"),
    "ImageNet_tss.csv": ("tss", "ImageNet16-120"),
    "cifar10_sss.csv": ("sss", "cifar10"),
    "cifar100_sss.csv": ("sss", "cifar100"),
    "ImageNet_sss.csv": ("sss", "ImageNet16-120"),
}
#: the released models: TSS trained 200 epochs, SSS 90 (paper-protocol 1.1)
_OFFICIAL_HP = {"tss": 200, "sss": 90}
_ZERO_FLAG_FAMILIES = ("KSCE", "KDECE", "MMCE", "cwCE_em")


def _official_flags(frame: pd.DataFrame, num_classes: int) -> tuple[np.ndarray, dict[str, int]]:
    n = len(frame)
    parts: list[list[str]] = [[] for _ in range(n)]
    counts: dict[str, int] = {}
    for col in frame.columns:
        try:
            family = parse_metric(col).family
        except ValueError:
            continue
        if family in _ZERO_FLAG_FAMILIES:
            rows = np.flatnonzero(frame[col].to_numpy() == 0.0)
            for r in rows:
                parts[r].append(f"zero:{col}")
            if rows.size:
                counts[f"exact zero in {col}"] = int(rows.size)
    if "acc" in frame:
        chance = frame["acc"].to_numpy() <= 1.0 / num_classes + 0.005
        ece_cols = [c for c in frame.columns if _family(c) == "ECE"]
        if ece_cols:
            zero_ece = (frame[ece_cols].to_numpy() == 0.0).any(axis=1) & chance
            for r in np.flatnonzero(zero_ece):
                parts[r].append("ece0-at-chance")
            if zero_ece.any():
                counts["ECE = 0 at chance accuracy"] = int(zero_ece.sum())
    for r, found in enumerate(breakdown_flags(frame, n)):
        parts[r] += found
        for flag in found:
            column = flag.split(":", 1)[1]
            key = f"estimator breakdown ({column} > {BREAKDOWN_BOUNDS[column]:g})"
            counts[key] = counts.get(key, 0) + 1
    flags = np.array([";".join(p) if p else None for p in parts], dtype=object)
    return flags, counts


def _family(col: str) -> str | None:
    try:
        return parse_metric(col).family
    except ValueError:
        return None


def read_official(
    path: str | Path, *, require_all: bool = False
) -> tuple[pd.DataFrame, ImportReport]:
    """Read and validate the official calibration CSVs under ``path`` (nothing is written).

    Args:
        path: a folder holding some of :data:`OFFICIAL_FILES`, or one of those files.
        require_all: refuse a folder that lacks any of the six files.

    Returns:
        ``(rows, report)``: the rows ready for ``Store.upsert`` and what was read and flagged.

    Raises:
        MissingFileError: ``path`` does not exist, holds none of the files, or (with
            ``require_all``) lacks one.
        InputError: a malformed file: header, value, config coverage or arch (the message
            names the file and line).

    Example:
        >>> import numpy as np, pandas as pd, tempfile
        >>> from bench.arch.spaces import get_space
        >>> folder, sss = Path(tempfile.mkdtemp()), get_space("sss")
        >>> acc = np.random.default_rng(0).uniform(0.3, 0.9, sss.size)
        >>> table = pd.DataFrame({"config": range(sss.size), "arch": sss.archs(), "acc": acc})
        >>> table.to_csv(folder / "cifar10_sss.csv", index=False)
        >>> rows, report = read_official(folder)
        >>> len(rows), report.notes[0].split(":")[0]
        (32768, 'not present, skipped')
    """
    files = locate_files(path, OFFICIAL_FILES, "official calibration CSV")
    report = ImportReport("official", [str(f) for f in files])
    absent = [n for n in OFFICIAL_FILES if Path(path).is_dir() and not (Path(path) / n).is_file()]
    if absent:
        if require_all:
            raise MissingFileError(f"{path}: missing {', '.join(absent)}")
        report.notes.append(f"not present, skipped: {', '.join(absent)}")
    frames = []
    for file in files:
        space, dataset = OFFICIAL_FILES[file.name]
        sp = get_space(space)
        frame = read_csv(file, PUBLISHED_COLUMNS)
        required = ["config", "arch", "acc"]
        if space == "tss":
            required += list(CALIBRATION_COLUMNS)
        lacking = [c for c in required if c not in frame.columns]
        if lacking:
            raise InputError(
                f"{file}: header lacks {len(lacking)} required columns, e.g. {lacking[:4]}"
            )
        if frame["arch"].isna().any():
            line = int(np.flatnonzero(frame["arch"].isna().to_numpy())[0]) + 2
            raise InputError(f"{file}: empty arch at line {line}")
        config = check_configs(file, frame, sp.size)
        frame["config"] = config
        check_arch(file, space, config, frame["arch"])
        flags, counts = _official_flags(frame, dataset_info(dataset).num_classes)
        for k, v in counts.items():
            report.flags[f"{file.name}: {k}"] = v
        hp = _OFFICIAL_HP[space]
        frame = frame.copy().assign(
            space=space,
            dataset=dataset,
            source="official",
            protocol="tao2024",
            hp=hp,
            epoch=hp,
            seed=-1,  # the first seed of NATS's dict: which one is not recorded
            copied=False,
            flags=flags,
        )
        frames.append(validated_rows(file, frame, csv_lines=True))
        report.rows[file.name] = len(frame)
    return pd.concat(frames, ignore_index=True), report


def import_official(store: Store, path: str | Path, *, require_all: bool = False) -> ImportReport:
    """Import the official calibration CSVs (all files found under ``path``, or one file).

    Args:
        store: the store to write to.
        path: as :func:`read_official`.
        require_all: as :func:`read_official`.

    Returns:
        The report, with ``written`` set.

    Raises:
        MissingFileError: as :func:`read_official`.
        InputError: as :func:`read_official`; nothing is written.

    Example:
        >>> from bench.table.store import Store
        >>> import numpy as np, pandas as pd, tempfile
        >>> from bench.arch.spaces import get_space
        >>> folder, sss = Path(tempfile.mkdtemp()), get_space("sss")
        >>> acc = np.random.default_rng(0).uniform(0.3, 0.9, sss.size)
        >>> table = pd.DataFrame({"config": range(sss.size), "arch": sss.archs(), "acc": acc})
        >>> table.to_csv(folder / "cifar10_sss.csv", index=False)
        >>> report = import_official(Store(folder / "bench"), folder / "cifar10_sss.csv")
        >>> report.as_dict()["inserted"]
        32768
    """
    rows, report = read_official(path, require_all=require_all)
    report.written = store.upsert(rows)
    return report
