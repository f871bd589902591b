"""Where the networks of a run are computed: in this process, in loky workers, or on dask.

:func:`dispatch` runs one function over a lazy stream of argument tuples and yields the results
as they finish, in any order. ``jobs=0`` runs them here, one after the other (no pool, either
backend); ``backend="loky"`` runs them in ``jobs`` long-lived worker processes on this host
(each reads the dataset once); ``backend="dask"`` sends them to ``jobs`` workers of a dask
cluster. Only as many tasks are taken from the stream as there are free workers, so a caller
can claim each unit just before it is dispatched.

Example:
    >>> from bench.compute.backends import dispatch
    >>> list(dispatch(pow, [(2, 3), (3, 2)], jobs=0))
    [8, 9]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from bench.checks import check_int
from bench.errors import InputError
from bench.extras import require

__all__ = ["BACKENDS", "check_backend", "check_scheduler", "dispatch"]

#: The pools :func:`dispatch` can use (``jobs=0`` uses none).
BACKENDS = ("loky", "dask")

R = TypeVar("R")


def check_backend(jobs: int, backend: str, scheduler: str | None) -> None:
    """Check a run's parallel options before any work starts.

    Args:
        jobs: worker processes (0: in this process).
        backend: one of :data:`BACKENDS`.
        scheduler: the dask scheduler's address (``backend="dask"`` only).

    Raises:
        InputError: ``jobs`` is not an integer >= 0, ``backend`` is unknown, or ``dask`` lacks
            a scheduler address.
        MissingExtra: ``dask`` without the dask extra installed.

    Example:
        >>> check_backend(2, "loky", None)
        >>> check_backend(1, "dask", None)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        InputError: --backend dask needs --scheduler tcp://HOST:PORT
    """
    check_int(jobs, "jobs", minimum=0)
    if backend not in BACKENDS:
        raise InputError(f"backend must be 'loky' or 'dask', got {backend!r}")
    if backend == "dask":
        require("dask.distributed", "dask", "--backend dask")  # the extra before the address
        if scheduler is None:
            raise InputError("--backend dask needs --scheduler tcp://HOST:PORT")


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Check that a dask scheduler answers at ``address`` (a TCP connect, ``timeout`` seconds).

    dask's client waits 30 s before it gives up; a run checks this first, before any claim, so a
    wrong or unreachable address fails at once. Other dask transports (``inproc://``,
    ``ucx://``, ...) are left to dask.

    Args:
        address: ``tcp://HOST:PORT`` (or ``tls://``; ``HOST:PORT`` alone is taken as tcp).
        timeout: seconds to wait for the connection.

    Raises:
        InputError: the address is malformed, or nothing accepts a connection there.

    Example:
        >>> check_scheduler("tcp://127.0.0.1:1", timeout=1)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        InputError: --scheduler tcp://127.0.0.1:1: no dask scheduler answers (...)
    """
    import socket
    from urllib.parse import urlsplit

    text = address if "://" in address else f"tcp://{address}"
    if text.split("://", 1)[0] not in ("tcp", "tls"):
        return
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as err:
        raise InputError(f"--scheduler {address!r}: {err}; give tcp://HOST:PORT") from None
    if not host or port is None or port == 0:
        raise InputError(f"--scheduler {address!r} is not an address: give tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise InputError(
            f"--scheduler {address}: no dask scheduler answers ({why} within {timeout:g} s)"
        ) from None


def dispatch(
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    *,
    jobs: int,
    backend: str = "loky",
    scheduler: str | None = None,
) -> Iterator[R]:
    """``fn(*args)`` for each ``args`` of ``tasks``, yielded as each finishes (in any order).

    Args:
        fn: a module-level function (the pools pickle it by name).
        tasks: argument tuples, drawn lazily: one more each time a worker is free.
        jobs: worker processes (0: in this process, one task after the other).
        backend: one of :data:`BACKENDS`.
        scheduler: the dask scheduler's address, ``tcp://HOST:PORT``.

    Yields:
        The results.

    Raises:
        InputError: bad options (see :func:`check_backend`).
        MissingExtra: ``backend="dask"`` without the dask extra installed.

    Example:
        >>> sorted(dispatch(divmod, [(7, 2), (9, 4)], jobs=1))  # in one loky worker
        [(2, 1), (3, 1)]
    """
    check_backend(jobs, backend, scheduler)
    if jobs == 0:
        for args in tasks:
            yield fn(*args)
        return
    from joblib import delayed

    with _pool(jobs, backend, scheduler) as parallel:
        yield from parallel(delayed(fn)(*args) for args in tasks)


@contextlib.contextmanager
def _pool(jobs: int, backend: str, scheduler: str | None) -> Iterator[Any]:
    """A joblib ``Parallel`` that yields results as they come, on the chosen backend."""
    import joblib

    if backend == "loky":
        yield joblib.Parallel(
            n_jobs=jobs, backend="loky", return_as="generator_unordered", pre_dispatch="n_jobs"
        )
        return
    client_cls = require("dask.distributed", "dask", "--backend dask").Client
    with client_cls(scheduler, timeout="30s"), joblib.parallel_config(backend="dask"):
        yield joblib.Parallel(n_jobs=jobs, return_as="generator_unordered", pre_dispatch="n_jobs")
