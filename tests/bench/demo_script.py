"""``scripts/build_demo_bench.py`` loaded as a module, for the tests that drive the demo build."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def build_script() -> ModuleType:
    """The build script's module (loaded once; it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location(
        "build_demo_bench", REPO / "scripts" / "build_demo_bench.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
