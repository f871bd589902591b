"""The README's set-up commands are the ones CI runs, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    """The indented command lines of the README's "Set-up" section (4-space code blocks)."""
    text = (ROOT / "README.md").read_text()
    setup = re.search(r"^## Set-up\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert setup, "README.md has no '## Set-up' section"
    return [line[4:] for line in setup.group(1).splitlines() if line.startswith("    pip ")]


def test_readme_commands_are_the_ones_ci_runs():
    first, test = _readme_commands()
    assert "pip install -e . " in first and "[test]" not in first  # bare install, main job
    assert "[test]" in test and "pytest" in test
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert first in ci and test in ci, "README set-up commands and .ci/run differ"
    assert ci.index(first) < ci.index(test)  # the bare install runs before the test extra
