"""Commands of the surrogate layer: ``calnas surrogate fit|predict|evaluate`` and ``calnas serve``.

Example:
    calnas surrogate fit --space tss --dataset cifar10 --targets valid_acc --source nb201 \\
        --n-train 1000 --out models/tss-cifar10
    calnas surrogate predict --model models/tss-cifar10 --index 11 --alpha 0.1
    calnas surrogate evaluate --space tss --dataset cifar10 --targets valid_acc --source nb201
    calnas serve --model models/tss-cifar10 --port 8000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.cliutil import CLIError, add_format, emit
from bench.errors import MissingFileError

__all__ = ["register"]


def _targets(text: str) -> list[str]:
    out = [t.strip() for t in text.split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError("give one or more comma-separated target columns")
    return out


def _sizes(text: str) -> list[int]:
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes takes comma-separated integers, got {text!r}"
        ) from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"--sizes must be positive integers, got {text!r}")
    return out


def _n_test(text: str) -> int | None:
    if text == "rest":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--n-test takes an integer or 'rest', got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--n-test must be positive, got {value}")
    return value


def _positive(option: str):
    """An argparse type: a positive integer (0 or less is refused, never read as the default)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
        return value

    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to 65535, got {text!r}")
    return value


def _host(text: str) -> str:
    if not text.strip():
        # uvicorn would read "" as every interface: say so explicitly instead
        raise argparse.ArgumentTypeError(
            "empty; give an interface, e.g. 127.0.0.1 (local) or 0.0.0.0 (all)"
        )
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _seed(text: str) -> int:
    """An argparse type: a seed, an integer >= 0 (numpy and XGBoost refuse negative ones)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


@contextlib.contextmanager
def _xgboost_refusals() -> Iterator[None]:
    """XGBoost's refusal of a ``--param`` (a multi-line C++ message) as one line, exit 2."""
    try:
        yield
    except Exception as err:
        if type(err).__name__ != "XGBoostError":
            raise
        lines = [line for line in str(err).splitlines() if line.strip()]
        first = re.sub(r"^\[[^\]]*\]\s*\S+:\d+:\s*", "", lines[0] if lines else "")
        raise CLIError(f"XGBoost refused the parameters (--param): {first.strip()}") from None


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--param takes KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _add_table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bench", help="benchmark directory (default: $CALNAS_HOME or ~/.calnas)")
    p.add_argument("--space", choices=("tss", "sss"), default="tss")
    p.add_argument(
        "--dataset", required=True, help="fashion8, digits, cifar10, cifar100, ImageNet16-120, ..."
    )
    p.add_argument(
        "--targets", type=_targets, required=True, help="comma-separated columns to predict"
    )
    p.add_argument("--source", help="table source (official, nb201, demo, ...); default: all")
    p.add_argument("--epoch", type=int, help="fidelity (epochs trained); default: the final one")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument(
        "--n-members",
        type=int,
        help="bootstrap boosters for intervals (default: surrogate.model.DEFAULT_MEMBERS, 8)",
    )
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="XGBoost parameter override, e.g. --param max_depth=8 (repeatable)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Mount ``calnas surrogate ...`` and ``calnas serve`` on the top-level parser.

    Args:
        subparsers: the top-level parser's ``add_subparsers()`` object; each command sets
            ``func``, which takes the parsed namespace.

    Example:
        >>> from bench.cliutil import ArgumentParser
        >>> parser = ArgumentParser(prog="calnas")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["surrogate", "predict", "--model", "m", "--index", "11"])
        >>> args.model, args.index, args.alpha
        ('m', [11], 0.1)
    """
    sur = subparsers.add_parser("surrogate", help="XGBoost surrogates of the benchmark table")
    cmds = sur.add_subparsers(dest="surrogate_command", required=True, metavar="COMMAND")

    fit = cmds.add_parser("fit", help="fit a surrogate on the table and save it")
    _add_table_args(fit)
    fit.add_argument("--n-train", type=int, help="random training archs (default: all measured)")
    fit.add_argument("--out", required=True, help="directory to save the model to")
    add_format(fit)
    fit.set_defaults(func=_fit)

    pred = cmds.add_parser("predict", help="predict with intervals for archs")
    pred.add_argument("--model", required=True, help="directory written by 'surrogate fit'")
    pred.add_argument("--arch", action="append", default=[], help="arch string (repeatable)")
    pred.add_argument("--index", type=int, action="append", default=[], help="NATS index")
    pred.add_argument("--archs-file", help="file with one arch string or index per line")
    pred.add_argument("--all", action="store_true", help="every arch of the space")
    pred.add_argument("--alpha", type=float, default=0.1, help="1 - alpha interval coverage")
    add_format(pred, "json", "table", "csv")
    pred.set_defaults(func=_predict)

    ev = cmds.add_parser("evaluate", help="White et al. 2021 protocol: tau, rho, R2, coverage")
    _add_table_args(ev)
    ev.add_argument(
        "--sizes", type=_sizes, help="training sizes (default: 5..1000 log-spaced, 10%%, 50%%)"
    )
    ev.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    ev.add_argument("--n-test", type=_n_test, default=200, help="held-out archs, or 'rest'")
    ev.add_argument("--alpha", type=float, default=0.1)
    ev.add_argument("--plot", help="image path (default: surrogate-eval-SPACE-DATASET.png)")
    ev.add_argument("--results", help="also write the per-seed results as CSV here")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    add_format(ev)
    ev.set_defaults(func=_validate)

    srv = subparsers.add_parser("serve", help="HTTP prediction API for saved surrogates")
    srv.add_argument(
        "--model", action="append", required=True, help="saved surrogate directory (repeatable)"
    )
    srv.add_argument(
        "--host", type=_host, default="127.0.0.1", help="interface (0.0.0.0: all; default local)"
    )
    srv.add_argument("--port", type=_port, default=8000, help="TCP port, 1-65535 (default 8000)")
    srv.add_argument(
        "--max-archs", type=_positive("--max-archs"), help="archs per request (default 16384)"
    )
    srv.add_argument(
        "--max-body-bytes", type=_positive("--max-body-bytes"), help="request size (default 2 MiB)"
    )
    srv.add_argument(
        "--request-timeout",
        type=_seconds,
        default=10.0,
        help="seconds to send a request's headers, and again its body (slower: 408; default 10)",
    )
    srv.add_argument(
        "--write-timeout",
        type=_seconds,
        default=60.0,
        help="seconds a response may wait for a client that does not read (then: closed)",
    )
    srv.add_argument(
        "--max-connections",
        type=_positive("--max-connections"),
        default=512,
        help="connections served at once (more: 503; default 512)",
    )
    srv.add_argument(
        "--max-pending",
        type=_positive("--max-pending"),
        default=64,
        help="requests in progress at once; more get 503 at once (default 64)",
    )
    srv.set_defaults(func=_serve)


def _fit(args: argparse.Namespace) -> None:
    from bench.fileio import check_output_dir
    from surrogate.model import Surrogate
    from surrogate.persist import check_save_path

    check_output_dir(args.out, "--out")  # before the fit: a bad --out fails at once
    check_save_path(args.out)  # (a folder that is not a saved model is never replaced)
    with _xgboost_refusals():
        model = Surrogate.from_benchmark(
            args.bench,
            args.space,
            args.dataset,
            args.targets,
            source=args.source,
            n_train=args.n_train,
            seed=args.seed,
            epoch=args.epoch,
            **_members(args),
            **dict(args.param),
        )
    path = model.save(args.out)
    info = model.info()
    emit(
        {
            "model": str(path),
            "space": info["space"],
            "dataset": info["dataset"],
            "targets": info["targets"],
            "n_train": info["n_train"],
            "fit_seconds": round(model.fit_seconds_, 3),
        },
        args.format,
    )


def _read_archs(args: argparse.Namespace, space_size: int) -> list[str | int]:
    archs: list[str | int] = [*args.arch, *args.index]
    if args.archs_file:
        path = Path(args.archs_file)
        if not path.is_file():
            raise MissingFileError(f"--archs-file {path} does not exist")
        for line in path.read_text().splitlines():
            line = line.strip()
            if line:
                archs.append(int(line) if line.lstrip("-").isdigit() else line)
    if args.all:
        archs.extend(range(space_size))
    if not archs:
        raise CLIError("give archs with --arch, --index, --archs-file or --all")
    return archs


def _predict(args: argparse.Namespace) -> None:
    from bench.arch.spaces import get_space
    from surrogate.features import arch_indices
    from surrogate.model import Surrogate

    model = Surrogate.load(args.model)
    space = get_space(model.space)
    idx = arch_indices(model.space, _read_archs(args, space.size))
    if model.members_:
        mean, lower, upper = model.predict_with_interval(idx, args.alpha)
    else:
        mean = lower = upper = model.predict(idx)
    reps = space.representatives()
    rows = []
    for r, i in enumerate(idx.tolist()):
        row: dict[str, Any] = {"index": i, "arch": space.arch(i), "canonical": int(reps[i])}
        for t, name in enumerate(model.targets):
            row[name] = float(mean[r, t])
            row[f"{name}_lower"] = float(lower[r, t])
            row[f"{name}_upper"] = float(upper[r, t])
        rows.append(row)
    if args.format == "csv":
        import pandas as pd

        pd.DataFrame(rows).to_csv(sys.stdout, index=False)
        return
    emit(rows, args.format)


def _validate(args: argparse.Namespace) -> None:
    # the command keeps its user-facing name, "evaluate"; what it runs is a validation
    from bench.fileio import atomic_write_text, check_output_file
    from surrogate.validation import plot_validation, summarize_validation, validate_on_benchmark

    if args.seeds < 1:
        raise CLIError(f"--seeds must be positive, got {args.seeds}")
    # the outputs are checked before the evaluation, not after it: nothing is computed in vain
    path = args.plot or f"surrogate-eval-{args.space}-{args.dataset}.png"
    check_output_file(path, "--plot")
    if args.results:
        check_output_file(args.results, "--results")
    with _xgboost_refusals():
        results = validate_on_benchmark(
            args.bench,
            args.space,
            args.dataset,
            args.targets,
            source=args.source,
            epoch=args.epoch,
            sizes=args.sizes,
            n_test=args.n_test,
            seeds=args.seeds,
            alpha=args.alpha,
            **_members(args),
            xgb_params=dict(args.param),
            progress=not args.quiet and sys.stderr.isatty(),
        )
    summary = summarize_validation(results)
    if args.results:
        atomic_write_text(args.results, results.to_csv(index=False))
    plot_validation(summary, path, alpha=args.alpha, title=f"{args.space} {args.dataset}")
    cols = ["target", "n_train", "seeds", "n_test", "kendall_tau", "kendall_tau_std"]
    cols += ["spearman_rho", "r2", "coverage", "width", "fit_s"]
    table = summary[[c for c in cols if c in summary.columns]].round(4)
    emit(table.to_dict(orient="records"), args.format)
    print(f"plot: {path}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> None:
    from bench.extras import require

    for module in ("fastapi", "uvicorn"):
        require(module, "serve", "calnas serve")
    from surrogate.model import Surrogate
    from surrogate.server import DEFAULT_MAX_ARCHS, DEFAULT_MAX_BODY_BYTES, serve

    models = [Surrogate.load(p) for p in args.model]
    serve(
        models,
        host=args.host,
        port=args.port,
        max_archs=DEFAULT_MAX_ARCHS if args.max_archs is None else args.max_archs,
        max_body_bytes=(
            DEFAULT_MAX_BODY_BYTES if args.max_body_bytes is None else args.max_body_bytes
        ),
        request_timeout=args.request_timeout,
        max_connections=args.max_connections,
        max_pending=args.max_pending,
        write_timeout=args.write_timeout,
    )


def _members(args: argparse.Namespace) -> dict[str, int]:
    # the model's own default applies unless --n-members is given (importing the model to read
    # it here would load XGBoost for every calnas command)
    return {} if args.n_members is None else {"n_members": args.n_members}
