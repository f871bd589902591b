"""``calnas analyze``: the demo table from a fresh install, formats, as-published everywhere,
one-line errors, and an imported official-format table."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import numpy as np
import pytest
from published_files import official_frame, write_official

from bench import Benchmark
from bench.analysis.questions import Context, module, run_question
from search.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_all_on_the_demo_table_from_a_fresh_install(capsys, tmp_path, fresh_home):
    out = tmp_path / "report"
    code, text, _ = run(capsys, "analyze", "all", "--out", str(out))
    assert code == 0, text
    for q in ("rq1", "rq2", "rq3", "rq4", "rq5", "rq6", "rq7", "reliability"):
        data = json.loads((out / f"{q}.json").read_text())
        assert data["question"] == q and data["as_published"] is False
        assert data["reliability"] or q == "reliability"
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {
        "rq1_all.png",
        "rq2_lines.png",
        "rq5_scatter.png",
        "rq6_bins.png",
        "rq7_top20.png",
    } <= set(pngs)
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs)  # self-contained
    first = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page).group(1)
    assert base64.b64decode(first)[:4] == b"\x89PNG"
    assert "src='http" not in page and "<link" not in page
    assert "report:" in text and "rq7:" in text
    # rq7 finds more than the printout shows: it says so, and the JSON file holds them all
    rq7 = json.loads((out / "rq7.json").read_text())["findings"]
    assert len(rq7) > 3 and rq7[3] not in text
    assert f"  ({len(rq7) - 3} more findings: rq7.json, report.html)" in text
    # the one-dataset questions read the embedded main table, as a search given no dataset does
    notes = json.loads((out / "rq5.json").read_text())["notes"]
    lacks = "the study used tss/cifar10, which this benchmark lacks; answered on tss/fashion8"
    assert lacks in notes
    rel = json.loads((out / "reliability.json").read_text())
    assert rel["reliability"]["tss/digits"] == {
        "measurable": False,
        "why": "one seed (777) per architecture",
        "seeds": [777],
    }


def test_as_published_says_so_on_every_output(capsys, tmp_path, fresh_home):
    code, text, _ = run(capsys, "analyze", "rq2", "--as-published", "--format", "table")
    assert code == 0 and text.splitlines()[1].startswith("AS PUBLISHED")
    assert "the 1000 least accurate models" in text
    code, text, _ = run(capsys, "analyze", "rq2", "--as-published", "--format", "csv")
    assert text.startswith("# AS PUBLISHED")
    code, text, _ = run(capsys, "analyze", "rq2", "--as-published", "--format", "json")
    data = json.loads(text)
    assert data["as_published"] and data["as_published_note"].startswith("AS PUBLISHED")
    ctx = Context(Benchmark.open(), as_published=True)
    for q in ("rq1", "rq2", "rq6"):
        for _, fig in module(q).figures(run_question(q, ctx)):
            titles = [fig._suptitle.get_text()] if fig._suptitle else []
            titles += [ax.get_title() for ax in fig.axes]
            assert any("[as published]" in t for t in titles)
    out = tmp_path / "pub"
    code, text, _ = run(capsys, "analyze", "all", "--as-published", "--out", str(out))
    assert text.startswith("AS PUBLISHED")
    page = (out / "report.html").read_text()
    assert page.count("class='banner'") == 1 + 8  # the page and every question
    # the default differs: the most accurate models
    code, text, _ = run(capsys, "analyze", "rq2", "--format", "table")
    assert "AS PUBLISHED" not in text and "the 1000 most accurate models" in text


def test_kendall_formats_and_populations(capsys, fresh_home):
    cols = "acc,pre_ECE_15,pre_KSCE"
    # digits: one trained row per class (6,466; fashion8's classes sharing a function share one)
    code, text, _ = run(
        capsys, "analyze", "kendall", "--dataset", "digits", "--columns", cols, "--format", "json"
    )
    data = json.loads(text)
    assert code == 0 and data["columns"] == cols.split(",")
    assert data["n"] == 6466 and data["population"] == {"by": None, "top": None, "order": None}
    assert data["isomorphic_copies_left_out"] == 9159
    tau = np.array(data["tau"])
    assert tau.shape == (3, 3) and (np.diag(tau) == 1).all()
    code, text, _ = run(
        capsys,
        "analyze",
        "kendall",
        "--columns",
        cols,
        "--by",
        "acc",
        "--top",
        "100",
        "--order",
        "asc",
        "--format",
        "json",
    )
    data = json.loads(text)
    assert data["n"] == 100 and data["population"] == {"by": "acc", "top": 100, "order": "asc"}
    code, text, _ = run(capsys, "analyze", "kendall", "--columns", cols, "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["", *cols.split(",")] and float(rows[1][1]) == 1.0
    code, text, _ = run(
        capsys, "analyze", "kendall", "--columns", cols, "--by", "acc", "--top", "50"
    )
    assert "the 50 largest by acc (n=50)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["kendall", "--columns", "acc,nope"], "unknown column 'nope'"),
        (["kendall", "--columns", "acc,frost"], "a tau needs two"),
        (["kendall", "--columns", "acc,pre_ECE_15", "--top", "5"], "needs both --by and --top"),
        (["kendall", "--columns", "acc,pre_ECE_15", "--dataset", "cifar10"], "holds nothing"),
        (["rq2", "--dataset", "cifar10"], "holds no tss rows for 'cifar10'"),
        (["rq3", "--source", "official"], "no 'official' rows"),
        (["reliability", "--target-tau", "1.5"], "--target-tau must lie in (0, 1)"),
    ],
)
def test_bad_requests_are_one_line_errors(capsys, fresh_home, argv, message):
    code, out, err = run(capsys, "analyze", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_include_flagged_keeps_the_breakdowns(capsys, fresh_home):
    code, text, _ = run(capsys, "analyze", "rq3", "--format", "json")
    left = json.loads(text)["inputs"][0]
    assert left["flagged_left_out"]["pre_KDECE"] > 0
    code, text, _ = run(capsys, "analyze", "rq3", "--include-flagged", "--format", "json")
    assert code == 0
    kept = json.loads(text)["inputs"][0]
    assert kept["flagged_left_out"] == {} and kept["flagged_values"] == left["flagged_left_out"]


@pytest.mark.slow
def test_an_imported_official_table(capsys, tmp_path):
    frame = official_frame("tss", seed=3)
    frame.loc[:99, "pre_KSCE"] = 0.0  # the study's caught exceptions: flagged by the importer
    src = tmp_path / "csv"
    src.mkdir()
    write_official(src, "cifar10_tss.csv", frame)
    bench = str(tmp_path / "bench")
    code, _, err = run(capsys, "bench", "import", "official", str(src), "--bench", bench)
    assert code == 0, err
    code, text, _ = run(
        capsys, "analyze", "rq3", "--bench", bench, "--source", "official", "--format", "json"
    )
    data = json.loads(text)
    assert data["inputs"][0]["dataset"] == "cifar10" and data["inputs"][0]["rows"] == 15625
    assert data["inputs"][0]["flagged_left_out"] == {"pre_KSCE": 100}
    out = tmp_path / "report"
    code, text, _ = run(
        capsys, "analyze", "all", "--bench", bench, "--source", "official", "--out", str(out)
    )
    assert code == 0
    rq2 = json.loads((out / "rq2.json").read_text())
    labels = rq2["tables"]["k1000_cifar10"]["labels"]
    assert {"fgsm1", "frost", "aucSVHN"} <= set(labels)  # the robustness columns are there
    assert len(rq2["tables"]["lines_ece"]["rows"]) == 16
