"""Commands of the surrogate layer (``calnas surrogate ...``, ``calnas serve``)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount this layer's commands on the top-level ``calnas`` parser (none have landed yet)."""
