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

Limits: request bodies over ``max_body_bytes`` get 413 (FastAPI's own ``max_body_size``, which
also counts chunked bodies), more than ``max_archs`` archs in one request get 422.

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

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictInt, StrictStr

from bench import __version__
from bench.arch.spaces import get_space
from bench.checks import check_int
from bench.errors import InputError
from surrogate.features import arch_indices
from surrogate.model import Surrogate

__all__ = ["create_app", "serve", "DEFAULT_MAX_ARCHS", "DEFAULT_MAX_BODY_BYTES"]

#: Largest batch one request may ask for: the whole TSS space fits.
DEFAULT_MAX_ARCHS = 16_384
#: Largest request body: 16,384 TSS arch strings (~90 bytes each as JSON) fit with room.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024


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
) -> FastAPI:
    """The FastAPI application serving ``models`` (one per space and dataset).

    Args:
        models: fitted surrogates, at most one per (space, dataset).
        max_archs: the most archs one request may ask for (more: 422).
        max_body_bytes: the largest request body (larger: 413).

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
    loaded = ", ".join(f"{s}/{d}" for s, d in table)

    class PredictRequest(BaseModel):
        space: Literal["tss", "sss"] = Field(description="search space of the archs")
        dataset: str | None = Field(description="dataset the predictions are for")
        archs: Annotated[list[StrictStr | StrictInt], Field(min_length=1, max_length=max_archs)] = (
            Field(description="arch strings or NATS indices")
        )
        alpha: float = Field(0.1, gt=0, lt=1, description="1 - alpha is the interval coverage")
        targets: list[StrictStr] | None = Field(None, description="subset of the model targets")

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


def serve(
    models: Sequence[Surrogate],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_archs: int = DEFAULT_MAX_ARCHS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    log_level: str = "info",
) -> None:
    """Run the app under uvicorn until interrupted (what ``calnas serve`` calls).

    Args:
        models: as :func:`create_app`.
        host: the interface to listen on (the default accepts local connections only).
        port: the TCP port.
        max_archs: as :func:`create_app`.
        max_body_bytes: as :func:`create_app`.
        log_level: uvicorn's log level.

    Raises:
        InputError: as :func:`create_app`.

    Example:
        >>> serve([Surrogate.load("models/tss-cifar10")], port=8000)  # blocks  # doctest: +SKIP
    """
    import uvicorn

    app = create_app(models, max_archs=max_archs, max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
