"""A missing optional dependency: one line naming the extra to install, exit status 2."""

from __future__ import annotations

import shlex
import sys

import pytest

from search.cli import main


@pytest.mark.parametrize(
    ("missing", "argv", "extra"),
    [
        ("duckdb", "bench sql 'SELECT 1'", "sql"),
        ("fastapi", "serve --model m", "serve"),
        ("uvicorn", "serve --model m", "serve"),
        (
            "dask.distributed",
            "bench compute --space tss --dataset digits --archs 0 "
            "--backend dask --scheduler tcp://127.0.0.1:1",
            "dask",
        ),
        ("psycopg2", "search run --trials 2 --storage postgresql://u@127.0.0.1:1/db", "postgres"),
    ],
)
def test_missing_extra_is_one_line(monkeypatch, capsys, tmp_path, missing, argv, extra):
    monkeypatch.setitem(sys.modules, missing, None)  # what an absent package looks like to import
    if missing == "psycopg2":
        monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(argv) + (["--bench", str(tmp_path / "b")] if argv[0] == "b" else [])
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"pip install 'calnas[{extra}]'" in err
    assert not (tmp_path / "calnas-search").exists()  # nothing written
