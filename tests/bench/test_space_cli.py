"""`calnas space info|show`: output formats and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from search.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits for its own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_space_info_json(capsys) -> None:
    code, out, _ = _run(capsys, "space", "info", "--space", "tss", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "space": "tss",
        "size": 15625,
        "unique": 6466,
        "ops": ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"],
    }
    code, out, _ = _run(capsys, "space", "info", "--space", "sss", "--format", "json")
    assert json.loads(out) == {
        "space": "sss",
        "size": 32768,
        "unique": 32768,
        "channels": [8, 16, 24, 32, 40, 48, 56, 64],
    }


def test_space_show_json(capsys) -> None:
    arch = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|"
    code, out, _ = _run(
        capsys,
        "space",
        "show",
        "--space",
        "tss",
        "--arch",
        arch,
        "--format",
        "json",
        "--dataset",
        "ImageNet16-120",
    )
    assert code == 0
    assert json.loads(out) == {
        "index": 284,
        "arch": arch,
        "unique_index": 41,
        "encoding": [1, 1, 1, 0, 2, 0],
        "params_m": 0.108456,
        "flops_m": 2.93644,
    }


def test_space_show_table_and_duplicate_class(capsys) -> None:
    code, out, _ = _run(capsys, "space", "show", "--space", "sss", "--index", "32767")
    assert code == 0
    assert "64:64:64:64:64" in out and "0.713674" in out and "274.399882" in out
    # an isomorphic duplicate names its representative
    from bench.arch.spaces import get_space

    tss = get_space("tss")
    dup = int(next(i for i in range(tss.size) if tss.representative(i) != i))
    code, out, _ = _run(capsys, "space", "show", "--index", str(dup), "--format", "json")
    assert json.loads(out)["unique_index"] == tss.representative(dup)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["space", "show", "--space", "sss", "--arch", "8:8"], "has 2 layer"),
        (["space", "show", "--index", "99999"], "out of range"),
        (["space", "show", "--space", "tss"], "one of the arguments --index --arch is required"),
        (["space", "info", "--space", "nb101"], "invalid choice: 'nb101'"),
        (["space", "show", "--index", "1", "--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["space", "show", "--index", "abc"], "invalid int value: 'abc'"),
    ],
)
def test_bad_arguments_one_line_exit_2(capsys, argv, message) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_console_script_entry_point() -> None:
    cmd = [sys.executable, "-m", "search.cli", "space", "info", "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["unique"] == 6466
