"""The ``calnas`` console command: mounts every layer's subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import bench.cli
import surrogate.cli
from bench import __version__
from bench.cliutil import ArgumentParser, CLIError

__all__ = ["main", "build_parser", "register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount the search layer's commands (none have landed yet)."""


def build_parser() -> ArgumentParser:
    """The top-level parser with the commands of all three layers."""
    parser = ArgumentParser(prog="calnas", description="Calibration-aware NAS over NATS-Bench.")
    parser.add_argument("--version", action="version", version=f"calnas {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subparsers._parser_class = ArgumentParser  # subcommands report errors on one line too
    for layer in (bench.cli, surrogate.cli, sys.modules[__name__]):
        layer.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``calnas``; bad requests print one line and return exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (CLIError, ValueError, FileNotFoundError) as err:
        print(f"calnas: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
