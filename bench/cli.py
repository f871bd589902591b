"""Commands of the bench layer: ``calnas space ...`` (and ``calnas bench ...`` as it lands)."""

from __future__ import annotations

import argparse

from bench.cliutil import CLIError, add_format, emit
from bench.datasets import DATASETS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount this layer's commands on the top-level ``calnas`` parser."""
    space = subparsers.add_parser("space", help="the NATS-Bench search spaces")
    cmds = space.add_subparsers(dest="space_command", required=True, metavar="COMMAND")

    info = cmds.add_parser("info", help="size, isomorphism classes and choices of a space")
    info.add_argument("--space", choices=("tss", "sss"), default="tss")
    add_format(info)
    info.set_defaults(func=_space_info)

    show = cmds.add_parser("show", help="one architecture: index, string, class, encoding, cost")
    show.add_argument("--space", choices=("tss", "sss"), default="tss")
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, help="NATS-Bench index")
    which.add_argument("--arch", help="arch string")
    show.add_argument("--dataset", choices=tuple(DATASETS), default="cifar10")
    add_format(show)
    show.set_defaults(func=_space_show)


def _space_info(args: argparse.Namespace) -> None:
    from bench.spaces import get_space

    emit(get_space(args.space).info(), args.format)


def _space_show(args: argparse.Namespace) -> None:
    from bench.costs import cost
    from bench.spaces import get_space

    space = get_space(args.space)
    try:
        index, arch = space.resolve(args.arch if args.arch is not None else args.index)
    except ValueError as err:
        raise CLIError(str(err)) from None
    kind = "ops" if space.name == "tss" else "channels"
    emit(
        {
            "index": index,
            "arch": arch,
            "unique_index": space.representative(index),
            "encoding": space.encode(index, kind).tolist(),
            **cost(space.name, index, args.dataset),
        },
        args.format,
    )
