"""optuna-dashboard opens the storages calnas writes (its WSGI app, in process, no network)."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from search.runner import run_search

DATASET = "digits"  # the embedded demo table
OBJECTIVES = "acc,pre_ECE_15"


def _get(app, path: str, query: str = "") -> tuple[str, dict]:
    """One GET request through the WSGI interface, as a server would make it."""
    environ: dict = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(b"")
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
    return status[0], json.loads(body)


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_dashboard_opens_the_storage(demo, tmp_path, kind):
    dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed")
    if kind == "journal":
        storage = str(tmp_path / "study.journal")  # what `optuna-dashboard study.journal` is given
    else:
        storage = f"sqlite:///{tmp_path / 'study.db'}"
    res = run_search("tss", DATASET, OBJECTIVES, "pls", trials=12, bench=demo, storage=storage,
                     study_name="dash", seed=0)  # fmt: skip
    # the URL/path exactly as a user passes it to the optuna-dashboard command
    app = dashboard.wsgi(storage)
    status, listing = _get(app, "/api/studies")
    assert status.startswith("200")
    (summary,) = listing["study_summaries"]
    assert summary["study_name"] == "dash"
    assert summary["directions"] == ["maximize", "minimize"]
    status, detail = _get(app, f"/api/studies/{summary['study_id']}", "after=0")
    assert status.startswith("200")
    assert len(detail["trials"]) == len(res.study.trials) >= 12
    assert {t["state"] for t in detail["trials"]} <= {"Complete", "Fail"}
    first = detail["trials"][0]
    assert {p["name"] for p in first["params"]} == set(res.study.trials[0].params)
    assert len(detail["best_trials"]) >= 1  # the dashboard computes the found Pareto front too
    attrs = {a["key"] for a in first["user_attrs"]}
    assert {"index", "rep", "charge_s", "cached"} <= attrs
