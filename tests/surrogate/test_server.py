"""The prediction API against a real ``calnas serve`` process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench.arch.spaces import get_space
from surrogate.model import Surrogate

TARGET = "valid_acc"  # NB201 200-epoch validation accuracy (fraction)

TSS = get_space("tss")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(cifar10_frame, tmp_path_factory) -> Path:
    rows = cifar10_frame.iloc[::20]
    model = Surrogate("tss", TARGET, dataset="cifar10-valid", n_members=4, n_estimators=100)
    model.fit(rows["config"], rows[TARGET])
    return model.save(tmp_path_factory.mktemp("served") / "tss-cifar10")


@pytest.fixture(scope="module")
def server(model_dir):
    port = _free_port()
    cmd = [sys.executable, "-m", "search.cli", "serve", "--model", str(model_dir)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--max-archs", "1000"]
    cmd += ["--max-body-bytes", "100000"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ}
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stdout.read().decode()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_health_models_and_schema(server) -> None:
    assert server.get("/health").json()["status"] == "ok"
    models = server.get("/models").json()
    assert models == [
        {
            "space": "tss",
            "dataset": "cifar10-valid",
            "targets": [TARGET],
            "n_train": 782,
            "n_members": 4,
            "source": None,
        }
    ]
    schema = server.get("/openapi.json").json()
    assert {"/predict", "/health", "/models"} <= set(schema["paths"])
    body = schema["components"]["schemas"]["PredictRequest"]["properties"]
    assert body["archs"]["maxItems"] == 1000


def test_predict_matches_the_python_api(server, model_dir) -> None:
    archs = [TSS.arch(11), 0, 15624]
    r = server.post(
        "/predict", json={"space": "tss", "dataset": "cifar10-valid", "archs": archs, "alpha": 0.2}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["targets"] == [TARGET] and out["alpha"] == 0.2
    preds = out["predictions"]
    assert [p["index"] for p in preds] == [11, 0, 15624]
    assert preds[0]["arch"] == TSS.arch(11)
    assert preds[2]["canonical"]["index"] == TSS.representative(15624)
    assert preds[2]["canonical"]["form"] == TSS.canonical(15624)
    mean, lower, upper = Surrogate.load(model_dir).predict_with_interval([11, 0, 15624], 0.2)
    np.testing.assert_allclose([p["mean"][TARGET] for p in preds], mean[:, 0], rtol=1e-6)
    np.testing.assert_allclose([p["lower"][TARGET] for p in preds], lower[:, 0], rtol=1e-6)
    np.testing.assert_allclose([p["upper"][TARGET] for p in preds], upper[:, 0], rtol=1e-6)


C10 = "cifar10-valid"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"space": "tss", "dataset": "cifar100", "archs": [1]}, ["body", "dataset"]),
        ({"space": "sss", "dataset": C10, "archs": [1]}, ["body", "space"]),
        ({"space": "nb101", "dataset": C10, "archs": [1]}, ["body", "space"]),
        ({"space": "tss", "dataset": C10, "archs": [1, "|x~0|"]}, ["body", "archs", 1]),
        ({"space": "tss", "dataset": C10, "archs": [99999]}, ["body", "archs", 0]),
        ({"space": "tss", "dataset": C10, "archs": []}, ["body", "archs"]),
        ({"space": "tss", "dataset": C10, "archs": [1], "alpha": 0}, ["body", "alpha"]),
        ({"space": "tss", "dataset": C10, "archs": [1], "targets": ["x"]}, ["body", "targets", 0]),
        ({"space": "tss", "dataset": C10, "archs": list(range(1001))}, ["body", "archs"]),
        ({"space": "tss", "dataset": C10}, ["body", "archs"]),
        ({"space": "tss", "dataset": C10, "archs": [1], "extra": 1}, ["body", "extra"]),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(server, body, loc) -> None:
    r = server.post("/predict", json=body)
    assert r.status_code == 422, r.text
    assert loc in [d["loc"][: len(loc)] for d in r.json()["detail"]]


def test_request_size_limit(server) -> None:
    big = {"space": "tss", "dataset": "cifar10-valid", "archs": [TSS.arch(0)] * 1500}
    assert server.post("/predict", json=big).status_code == 413
    r = server.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
