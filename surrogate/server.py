"""HTTP prediction API for fitted surrogates: FastAPI app, served by uvicorn (``calnas serve``).

Endpoints:

- ``POST /predict`` with ``{"space": "tss", "dataset": "cifar10", "archs": [...], "alpha": 0.1}``
  (``archs``: arch strings or NATS indices; optional ``targets`` selects a subset) returns, per
  arch, its index, arch string, canonical class (representative index and NATS canonical form),
  and per target the mean and the ``1 - alpha`` interval. A space/dataset no loaded model was
  fitted for, an unknown arch or target is a 422 whose ``detail[].loc`` names the bad field.
- ``GET /health``: liveness and the number of loaded models.
- ``GET /models``: what each loaded model predicts (space, dataset, targets, training size).
- ``GET /openapi.json`` (and ``/docs``): the schema FastAPI derives from the models below.

Every malformed request is a 4xx, never a 500: types are strict (``"alpha": "0.1"`` is refused),
``NaN``, ``Infinity`` and numbers that overflow a float are refused, strings must be valid Unicode
(a lone UTF-16 surrogate such as ``"\\ud800"`` is refused), ``targets`` must name one or more
distinct targets, and a 422 echoes the offending input only in a JSON-safe, shortened form.

Limits: request bodies over ``max_body_bytes`` get 413 (FastAPI's own ``max_body_size``, which
also counts chunked bodies), more than ``max_archs`` archs in one request get 422. A request
whose body has not fully arrived ``request_timeout`` seconds after its headers gets 408 and its
connection is closed; under :func:`serve`, a connection that has not sent complete headers
within ``request_timeout`` seconds is closed too, one that stops reading its response for
``write_timeout`` seconds is cut off, and at most ``max_connections`` connections are served at
once (more get 503). A request that finds ``max_pending`` others being answered gets 503 at once
(with ``Retry-After``) instead of waiting in an unbounded queue.

How each limit is enforced is :mod:`surrogate.guard`'s.

Prediction uses :meth:`xgboost.Booster.inplace_predict`, which XGBoost documents as thread
safe, so the synchronous handler runs in the server's thread pool without a lock.

Example:
    >>> from fastapi.testclient import TestClient
    >>> model = Surrogate("sss", "acc", dataset="cifar10", n_members=2, n_estimators=5)
    >>> _ = model.fit(["8:8:8:8:8", "64:64:64:64:64", "8:64:8:64:8"], [0.5, 0.9, 0.6])
    >>> client = TestClient(create_app([model]))
    >>> reply = client.post("/predict", json={"space": "sss", "dataset": "cifar10", "archs": [0]})
    >>> reply.status_code, sorted(reply.json()["predictions"][0])
    (200, ['arch', 'canonical', 'index', 'lower', 'mean', 'upper'])
    >>> client.get("/health").json()["models"]
    1
"""

from __future__ import annotations

import math
import socket
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field, StrictInt, StrictStr

from bench import __version__
from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.errors import InputError
from surrogate.features import arch_indices
from surrogate.guard import RequestGuard, check_listen, check_seconds, deadline_protocol, listen
from surrogate.model import Surrogate

__all__ = [
    "create_app",
    "serve",
    "RequestGuard",
    "make_server",
    "check_listen",
    "listen",
    "DEFAULT_MAX_ARCHS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_WRITE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_PENDING",
]

#: Largest batch one request may ask for: the whole TSS space fits.
DEFAULT_MAX_ARCHS = 16_384
#: Largest request body: 16,384 TSS arch strings (~90 bytes each as JSON) fit with room.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
#: Seconds a client has to send a request's headers, and again its body (slower: 408, closed).
DEFAULT_REQUEST_TIMEOUT = 10.0
#: Seconds one write of a response may wait for a client that does not read (then: closed).
DEFAULT_WRITE_TIMEOUT = 60.0
#: Connections served at once; more get 503 (each stalled one is closed after the timeout).
DEFAULT_MAX_CONNECTIONS = 512
#: Requests in progress at once; more get 503 at once. Above what a healthy server holds
#: (200 requests/s of ~2.5 ms each keep about one in progress), so it only sheds an overload
#: (see "Under load" in docs/surrogate.md).
DEFAULT_MAX_PENDING = 64

# how much of a bad input a 422 echoes: strings and containers are cut, depth is bounded
_ECHO_CHARS = 200
_ECHO_ITEMS = 10
_ECHO_DEPTH = 4


def _valid_unicode(text: str) -> str:
    """Refuse a string JSON allowed but UTF-8 cannot encode (a lone UTF-16 surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "the string holds a lone UTF-16 surrogate (e.g. \\ud800): send valid Unicode"
        ) from None
    return text


#: A string field: strict (no coercion from numbers) and valid Unicode.
_Text = Annotated[StrictStr, AfterValidator(_valid_unicode)]


def _echo(value: Any, depth: int = 0) -> Any:
    """``value`` in a form JSON can always carry: non-finite floats and invalid Unicode become
    text, long strings and containers are cut, deep nesting is summarized."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else _echo(str(value), depth)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "..."
    if depth >= _ECHO_DEPTH:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(_echo(str(k), depth + 1)): _echo(v, depth + 1) for k, v in items[:_ECHO_ITEMS]}
        if len(items) > _ECHO_ITEMS:
            out["..."] = f"{len(items) - _ECHO_ITEMS} more keys"
        return out
    if isinstance(value, (list, tuple)):
        out_list = [_echo(v, depth + 1) for v in value[:_ECHO_ITEMS]]
        if len(value) > _ECHO_ITEMS:
            out_list.append(f"... {len(value) - _ECHO_ITEMS} more items")
        return out_list
    return _echo(str(value), depth)


def _safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's validation errors, each field made JSON-safe (see :func:`_echo`)."""
    out = []
    for err in errors[:_ECHO_ITEMS]:
        item: dict[str, Any] = {
            "type": _echo(err.get("type")),
            "loc": [_echo(part) for part in err.get("loc", ())],
            "msg": _echo(str(err.get("msg", ""))),
            "input": _echo(err.get("input")),
        }
        if err.get("ctx"):
            item["ctx"] = {str(k): _echo(v if isinstance(v, (int, float)) else str(v))
                           for k, v in err["ctx"].items()}  # fmt: skip
        out.append(item)
    return out


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own handler echoes the input as is: NaN or a lone surrogate then fails to
    # serialize and the client gets a 500 (and loses its keep-alive connection)
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _safe_errors(exc.errors())}, status_code=422)


class CanonicalClass(BaseModel):
    """The isomorphism class of an architecture."""

    index: int = Field(description="smallest NATS index of the class (its representative)")
    form: str = Field(description="NATS-Bench's canonical expression (SSS: the arch itself)")


class ArchPrediction(BaseModel):
    """Predictions for one requested architecture."""

    index: int = Field(description="NATS-Bench index")
    arch: str
    canonical: CanonicalClass
    mean: dict[str, float] = Field(description="point prediction per target")
    lower: dict[str, float] = Field(description="lower end of the 1 - alpha interval")
    upper: dict[str, float] = Field(description="upper end of the 1 - alpha interval")


class PredictResponse(BaseModel):
    """The reply to ``POST /predict``: the request's space, dataset and alpha, and one
    :class:`ArchPrediction` per requested architecture, in request order."""

    space: str
    dataset: str | None
    alpha: float
    targets: list[str]
    predictions: list[ArchPrediction]


class ModelInfo(BaseModel):
    """One loaded model, as ``GET /models`` lists it."""

    space: str
    dataset: str | None
    targets: list[str]
    n_train: int
    n_members: int
    source: str | None = None


class Health(BaseModel):
    """The reply to ``GET /health``."""

    status: Literal["ok"]
    models: int
    version: str


def _error(loc: tuple[Any, ...], msg: str, value: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's own format, so every validation error reads the same."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": value}]
    )


def create_app(
    models: Surrogate | Sequence[Surrogate],
    *,
    max_archs: int = DEFAULT_MAX_ARCHS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_pending: int | None = DEFAULT_MAX_PENDING,
) -> FastAPI:
    """The FastAPI application serving ``models`` (one per space and dataset).

    Args:
        models: fitted surrogates, at most one per (space, dataset).
        max_archs: the most archs one request may ask for (more: 422).
        max_body_bytes: the largest request body (larger: 413).
        request_timeout: seconds to receive a request body (slower: 408); see
            :class:`RequestGuard`.
        max_pending: requests in progress at once (more: 503); None: no bound.

    Returns:
        The app; run it with uvicorn (:func:`serve`) or test it with FastAPI's ``TestClient``.

    Raises:
        InputError: no models, an unfitted one, two for one space and dataset, or bad limits.

    Example:
        >>> create_app([])
        Traceback (most recent call last):
        ...
        bench.errors.InputError: give at least one fitted model to serve
    """
    if isinstance(models, Surrogate):
        models = [models]
    table: dict[tuple[str, str | None], Surrogate] = {}
    for m in models:
        if not isinstance(m, Surrogate) or not m.is_fitted:
            raise InputError(f"every served model must be a fitted Surrogate, got {m!r}")
        key = (m.space, m.dataset)
        if key in table:
            raise InputError(f"two models for space={key[0]} dataset={key[1]}: serve one of them")
        table[key] = m
    if not table:
        raise InputError("give at least one fitted model to serve")
    check_int(max_archs, "max_archs")
    check_int(max_body_bytes, "max_body_bytes")
    if max_pending is not None:
        check_int(max_pending, "max_pending")
    check_seconds(request_timeout)
    loaded = ", ".join(f"{s}/{d}" for s, d in table)

    class PredictRequest(BaseModel):
        space: Literal["tss", "sss"] = Field(description="search space of the archs")
        dataset: _Text | None = Field(description="dataset the predictions are for")
        archs: Annotated[list[_Text | StrictInt], Field(min_length=1, max_length=max_archs)] = (
            Field(description="arch strings or NATS indices")
        )
        alpha: float = Field(
            0.1,
            gt=0,
            lt=1,
            strict=True,
            allow_inf_nan=False,
            description="1 - alpha is the interval coverage (a number, not a string)",
        )
        targets: Annotated[list[_Text], Field(min_length=1)] | None = Field(
            None, description="subset of the model targets (one or more; default: all)"
        )

        model_config = {
            "extra": "forbid",
            "json_schema_extra": {
                "examples": [
                    {
                        "space": "tss",
                        "dataset": "cifar10",
                        "archs": [
                            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
                            "|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
                            11,
                        ],
                        "alpha": 0.1,
                    }
                ]
            },
        }

    app = FastAPI(
        title="calnas surrogate",
        version=__version__,
        description="Predicted accuracy and calibration of NATS-Bench architectures, with "
        f"conformal intervals. Loaded models: {loaded}.",
        max_body_size=max_body_bytes,
        exception_handlers={RequestValidationError: _validation_error},
    )
    app.add_middleware(
        RequestGuard,
        timeout=request_timeout,
        max_body_bytes=max_body_bytes,
        max_pending=max_pending,
    )

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(table), "version": __version__}

    @app.get("/models", response_model=list[ModelInfo])
    def list_models() -> list[dict[str, Any]]:
        return [
            {
                "space": m.space,
                "dataset": m.dataset,
                "targets": list(m.targets),
                "n_train": m.n_train_,
                "n_members": len(m.members_),
                "source": getattr(m, "source_", None),
            }
            for m in table.values()
        ]

    def predict(req: PredictRequest) -> dict[str, Any]:
        model = table.get((req.space, req.dataset))
        if model is None:
            field = "space" if all(s != req.space for s, _ in table) else "dataset"
            value = req.space if field == "space" else req.dataset
            raise _error(
                (field,),
                f"no model is loaded for space={req.space} dataset={req.dataset}; loaded: {loaded}",
                value,
            )
        targets = list(model.targets) if req.targets is None else req.targets
        for i, t in enumerate(targets):
            if t in targets[:i]:
                raise _error(("targets", i), f"target {t!r} is named twice", t)
            if t not in model.targets:
                raise _error(
                    ("targets", i),
                    f"unknown target {t!r}; this model predicts {list(model.targets)}",
                    t,
                )
        try:
            idx = arch_indices(model.space, req.archs)
        except ValueError as err:
            pos = str(err).partition("]")[0].removeprefix("archs[")
            loc = ("archs", int(pos)) if pos.isdigit() else ("archs",)
            raise _error(loc, str(err), req.archs[loc[1]] if len(loc) > 1 else None) from None
        cols = [model.targets.index(t) for t in targets]
        if model.members_:
            mean, lower, upper = model.predict_with_interval(idx, req.alpha)
        else:
            mean = model.predict(idx)
            lower = upper = mean
        space = get_space(model.space)
        reps = space.representatives()
        canon = space.canonical_strings()
        strings = space._strings()
        out = []
        for row, i in enumerate(idx.tolist()):
            out.append(
                {
                    "index": i,
                    "arch": strings[i],
                    "canonical": {"index": int(reps[i]), "form": canon[i]},
                    "mean": {t: float(mean[row, c]) for t, c in zip(targets, cols, strict=True)},
                    "lower": {t: float(lower[row, c]) for t, c in zip(targets, cols, strict=True)},
                    "upper": {t: float(upper[row, c]) for t, c in zip(targets, cols, strict=True)},
                }
            )
        return {
            "space": model.space,
            "dataset": model.dataset,
            "alpha": req.alpha,
            "targets": targets,
            "predictions": out,
        }

    # PredictRequest is local (its max_length is this app's), so the string annotation that
    # `from __future__ import annotations` leaves cannot be resolved by name: pass the class.
    predict.__annotations__["req"] = PredictRequest
    app.post("/predict", response_model=PredictResponse)(predict)
    return app


def make_server(
    models: Sequence[Surrogate],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_archs: int = DEFAULT_MAX_ARCHS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_pending: int | None = DEFAULT_MAX_PENDING,
    write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
    log_level: str = "info",
) -> tuple[Any, socket.socket]:
    """The uvicorn server :func:`serve` runs, and the socket it listens on (already bound).

    Run it with ``server.run(sockets=[sock])``; set ``server.should_exit = True`` to stop it.
    Arguments as :func:`serve`.

    Raises:
        InputError: as :func:`create_app` and :func:`listen`, or bad limits.
    """
    import uvicorn

    check_listen(host, port)
    check_int(max_connections, "max_connections")
    request_timeout = check_seconds(request_timeout)
    app = create_app(
        models,
        max_archs=max_archs,
        max_body_bytes=max_body_bytes,
        request_timeout=request_timeout,
        max_pending=max_pending,
    )
    if write_timeout is not None:
        write_timeout = check_seconds(write_timeout, "write_timeout")
    sock = listen(host, port)
    config = uvicorn.Config(
        app,
        http=deadline_protocol(request_timeout, write_timeout),
        log_level=log_level,
        limit_concurrency=max_connections,
        timeout_keep_alive=5,
    )
    return uvicorn.Server(config), sock


def serve(
    models: Sequence[Surrogate],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_archs: int = DEFAULT_MAX_ARCHS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_pending: int | None = DEFAULT_MAX_PENDING,
    write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
    log_level: str = "info",
) -> None:
    """Run the app under uvicorn until interrupted (what ``calnas serve`` calls).

    Args:
        models: as :func:`create_app`.
        host: the interface to listen on (the default accepts local connections only; the
            empty string is refused, give ``0.0.0.0`` for every interface).
        port: the TCP port, 1 to 65535.
        max_archs: as :func:`create_app`.
        max_body_bytes: as :func:`create_app`.
        request_timeout: seconds a client has to send a request's headers, and again its body
            (slower: 408 and the connection closed).
        max_connections: connections served at once (more: 503).
        max_pending: requests in progress at once (more: 503 with ``Retry-After``; default
            64); None: no bound.
        write_timeout: seconds one write of a response may wait for a client that does not
            read (then the connection is closed; default 60); None: no bound.
        log_level: uvicorn's log level.

    Raises:
        InputError: as :func:`create_app`; a bad host or port, or one that cannot be bound
            (in use, unknown host): one line naming the address.

    Example:
        >>> serve([Surrogate.load("models/tss-cifar10")], port=8000)  # blocks  # doctest: +SKIP
    """
    server, sock = make_server(
        models,
        host=host,
        port=port,
        max_archs=max_archs,
        max_body_bytes=max_body_bytes,
        request_timeout=request_timeout,
        max_connections=max_connections,
        max_pending=max_pending,
        write_timeout=write_timeout,
        log_level=log_level,
    )
    with sock:
        server.run(sockets=[sock])
