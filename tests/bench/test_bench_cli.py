"""calnas bench: info, import, query, export, validate, sql; one-line errors with status 2."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest
from published_files import official_frame, write_official

from search.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def official_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    write_official(d, "cifar10_tss.csv", official_frame("tss", seed=5))
    return d


@pytest.mark.slow  # imports official CSVs and NATS archives (~4 s)
def test_import_info_query_export(capsys, tmp_path, official_dir, nats_sample_dir):
    b = str(tmp_path / "bench")
    code, out, _ = run(capsys, "bench", "import", "official", str(official_dir), "--bench", b)
    assert code == 0 and "cifar10_tss.csv: 15625 rows" in out
    code, out, _ = run(
        capsys,
        "bench",
        "import",
        "nats",
        str(nats_sample_dir),
        "--bench",
        b,
        "--final-only",
        "--quiet",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["kind"] == "nats"
    code, out, _ = run(capsys, "bench", "info", "--bench", b, "--format", "json")
    info = json.loads(out)
    official = [
        t for t in info if (t["space"], t["dataset"], t["source"]) == ("tss", "cifar10", "official")
    ]
    assert official[0]["rows"] == 15625 and official[0]["columns"] >= 154
    assert all(
        set(t) == {"space", "dataset", "source", "rows", "columns", "reliability"} for t in info
    )
    # recorded by the demo build only: the digits tables say they hold one seed, fashion8's
    # TSS table measures its three
    for t in info:
        if t["source"] != "demo":
            assert t["reliability"] is None
        elif t["dataset"] == "digits":
            assert t["reliability"][0]["seeds"] == [777] and not t["reliability"][0]["measurable"]
        elif t["space"] == "tss":
            table = t["reliability"][0]
            assert table["seeds"] == [777, 778, 779] and table["measurable"]
    expected = official_frame("tss", seed=5).loc[11]
    code, out, _ = run(
        capsys,
        "bench",
        "query",
        "--bench",
        b,
        "--space",
        "tss",
        "--dataset",
        "cifar10",
        "--index",
        "11",
        "--metrics",
        "acc,pre_ECE_15",
    )
    row = json.loads(out)
    assert code == 0 and row["index"] == 11 and row["source"] == "official"
    assert row["values"] == {
        "acc": expected["acc"],
        "pre_ECE_15": pytest.approx(expected["pre_ECE_15"]),
    }
    code, out, _ = run(
        capsys,
        "bench",
        "query",
        "--bench",
        b,
        "--space",
        "tss",
        "--dataset",
        "cifar10",
        "--arch",
        expected["arch"],
        "--metrics",
        "acc",
        "--format",
        "csv",
    )
    assert out.splitlines()[0] == "index,arch,source,hp,epoch,acc"
    assert out.splitlines()[1].startswith("11,")
    code, out, _ = run(
        capsys,
        "bench",
        "query",
        "--bench",
        b,
        "--space",
        "tss",
        "--dataset",
        "cifar10",
        "--index",
        "0",
        "--metrics",
        "test_acc",
        "--source",
        "nats",
        "--format",
        "table",
    )
    assert "test_acc" in out and "0.858633" in out
    target = tmp_path / "out.parquet"
    code, _, _err = run(
        capsys,
        "bench",
        "export",
        "--bench",
        b,
        "--space",
        "tss",
        "--dataset",
        "cifar10",
        "--metrics",
        "acc",
        "--output",
        str(target),
    )
    assert code == 0 and len(pd.read_parquet(target)) == 15625
    code, out, _ = run(
        capsys,
        "bench",
        "sql",
        "--bench",
        b,
        "--format",
        "json",
        "SELECT count(*) AS n FROM tss_cifar10_official WHERE acc > 0.5",
    )
    n = json.loads(out)[0]["n"]
    frame = official_frame("tss", seed=5)
    assert n == int((frame["acc"] > 0.5).sum())
    code, out, _ = run(
        capsys,
        "bench",
        "sql",
        "--bench",
        b,
        "--format",
        "csv",
        "SELECT source, count(*) AS n FROM bench GROUP BY 1 ORDER BY 1",
    )
    assert out.splitlines()[0] == "source,n" and "official,15625" in out
    code, out, _ = run(capsys, "bench", "validate", "--bench", b)
    assert code == 0 and "tss/cifar10/official: 15625 rows" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "query", "--space", "tss", "--dataset", "cifar10", "--index", "0"],
        ["bench", "query", "--space", "tss", "--dataset", "cifar10", "--index", "99999"],
        ["bench", "query", "--space", "tss", "--dataset", "cifar10", "--arch", "|x~0|"],
        ["bench", "import", "official", "/definitely/not/here"],
        ["bench", "import", "official"],
        ["bench", "sql", "SELEC 1"],
        ["bench", "export", "--space", "tss", "--dataset", "cifar10", "-o", "x.xlsx"],
    ],
)
def test_errors_are_one_line_with_status_2(capsys, tmp_path, argv):
    code, _out, err = run(capsys, *argv, "--bench", str(tmp_path / "empty"))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("calnas: error:")


@pytest.mark.slow  # validates whole imported tables (~3 s)
def test_bad_metric_and_validate_problem(capsys, tmp_path, official_dir):
    b = str(tmp_path / "bench")
    assert run(capsys, "bench", "import", "official", str(official_dir), "--bench", b)[0] == 0
    code, _, err = run(
        capsys,
        "bench",
        "query",
        "--bench",
        b,
        "--space",
        "tss",
        "--dataset",
        "cifar10",
        "--index",
        "0",
        "--metrics",
        "pre_ECEE_15",
    )
    assert code == 2 and "did you mean pre_ECE_15" in err
    # a table damaged behind the store's back is reported
    path = tmp_path / "bench" / "tables" / "tss" / "cifar10" / "official.parquet"
    frame = pd.read_parquet(path)
    pd.concat([frame, frame.iloc[:3]]).to_parquet(path)
    code, out, err = run(capsys, "bench", "validate", "--bench", b)
    assert code == 2 and "duplicate" in out and "problem" in err


def test_space_commands_still_work(capsys):
    code, out, _ = run(capsys, "space", "info", "--space", "sss", "--format", "json")
    assert code == 0 and json.loads(out)["size"] == 32768


def test_every_command_sees_the_embedded_tables(capsys, tmp_path):
    """A fresh install: info, sql and validate list the same tables, the demo ones included."""
    b = str(tmp_path / "fresh")
    code, out, _ = run(capsys, "bench", "info", "--bench", b, "--format", "json")
    listed = {(t["space"], t["dataset"], t["source"]): t["rows"] for t in json.loads(out)}
    assert code == 0 and ("tss", "digits", "demo") in listed
    query = "SELECT space, dataset, source, count(*) AS n FROM bench GROUP BY ALL ORDER BY ALL"
    code, out, _ = run(capsys, "bench", "sql", "--bench", b, "--format", "json", query)
    counted = {(r["space"], r["dataset"], r["source"]): r["n"] for r in json.loads(out)}
    assert code == 0 and counted == listed
    code, out, _ = run(
        capsys, "bench", "sql", "--bench", b, "--format", "csv",
        "SELECT count(*) AS n FROM tss_digits_demo",
    )  # fmt: skip
    assert out.splitlines() == ["n", str(listed[("tss", "digits", "demo")])]
    code, out, _ = run(capsys, "bench", "validate", "--bench", b, "--format", "json")
    checked = {tuple(e["table"].split("/")): e["rows"] for e in json.loads(out)}
    assert code == 0 and checked == listed


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_export_writes_atomically_with_the_umask(capsys, tmp_path, suffix):
    out = tmp_path / "out" / f"acc{suffix}"
    out.parent.mkdir()
    out.write_text("old")
    argv = ["bench", "export", "--bench", str(tmp_path / "fresh"), "--space", "sss"]
    argv += ["--dataset", "digits", "--metrics", "acc", "-o", str(out)]
    old = os.umask(0o027)
    try:
        code, _, err = run(capsys, *argv)
    finally:
        os.umask(old)
    assert code == 0 and "rows written" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # replaced, no temp left
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}[suffix]
    assert list(read(out).columns) == ["config", "arch", "source", "hp", "epoch", "copied", "acc"]
