"""Shared fixtures; tests that need ../shared (specs, NATS-Bench samples) skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# Property tests draw the same examples on every run, so a suite never fails on a new draw that
# no change of the code caused; CALNAS_HYPOTHESIS=explore draws new ones (a search for bugs).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("CALNAS_HYPOTHESIS", "repeatable"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared folder beside the checkout (skips the test where it is absent)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: shared fixtures and specs live beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def nats_sample_dir(shared_dir: Path) -> Path:
    """The NATS-Bench sample archives (TSS and SSS 'simple' directories)."""
    path = shared_dir / "fixtures" / "nats-bench-sample"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture()
def fresh_home(tmp_path, monkeypatch) -> Path:
    """An empty CALNAS_HOME: only the embedded demo table is there, as after an install."""
    home = tmp_path / "home"
    monkeypatch.setenv("CALNAS_HOME", str(home))
    return home


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collect no conftest.py as a doctest module (they hold fixtures, no examples): under
    ``--doctest-modules`` two of them share the module name ``conftest``, and running two test
    folders together (``pytest tests/search tests/surrogate``) failed on the second one."""
    return True if collection_path.name == "conftest.py" else None
