"""The bad-file corpus of the importers and of ``bench validate``/``query``/``export`` (issue #14).

Each case hands ``calnas`` a malformed data file and asserts what a careless or hostile user must
get: exit status 2, exactly one line on stderr that names the file and the problem, and nothing
written (the store is not created, the input folder is unchanged). Files are derived from one
good file per format by cutting, corrupting or editing its bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from published_files import official_frame, robustness_frames, write_csv

from search.cli import main

#: the small SSS calibration CSV the CSV cases start from (SSS files may lack metric columns)
SSS_COLUMNS = ("config", "arch", "acc", "correct_confidence", "pre_ECE_15", "post_ECE_15")


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folders`` with (size, mtime in ns); folders as (-1, 0)."""
    seen = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in [folder, *folder.rglob("*")]:
            st = path.lstat()
            seen[str(path)] = (-1, 0) if path.is_dir() else (st.st_size, st.st_mtime_ns)
    return seen


def refused(capsys, argv, *names, watch=()) -> str:
    """Run ``calnas argv``: exit 2, one stderr line holding every one of ``names``, no writes."""
    watch = tuple(Path(w) for w in watch)
    before = snapshot(*watch)
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    lines = out.err.splitlines()
    assert code == 2, (code, out.err)
    assert len(lines) == 1, out.err
    assert lines[0].startswith("calnas: error: "), lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    assert snapshot(*watch) == before, "something was written"
    return lines[0]


@pytest.fixture(scope="module")
def sss_csv(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("sss")
    return write_csv(
        folder / "x.csv", official_frame("sss", seed=7, columns=SSS_COLUMNS)
    ).read_bytes()


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _set_cell(data: bytes, line: int, column: str, value: bytes) -> bytes:
    """``data`` with the cell of ``column`` at (1-based) ``line`` replaced by ``value``."""
    lines = _lines(data)
    header = lines[0].split(b",")
    cells = lines[line - 1].split(b",")
    cells[header.index(column.encode())] = value
    lines[line - 1] = b",".join(cells)
    return b"\n".join(lines)


def _with_line(data: bytes, line: int, new: bytes | None) -> bytes:
    lines = _lines(data)
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return b"\n".join(lines)


def _cut_mid_line(data: bytes, line: int) -> bytes:
    """``data`` cut in the middle of (1-based) ``line``, as a copy interrupted there would be."""
    start = sum(len(x) + 1 for x in _lines(data)[: line - 1])
    return data[: start + len(_lines(data)[line - 1]) // 2]


# (case id, mutation of the good file's bytes, fragments the one line must hold)
CSV_CASES = [
    ("empty", lambda d: b"", ["empty file"]),
    ("only-newlines", lambda d: b"\n\n\n", ["empty file"]),
    ("header-only", lambda d: _lines(d)[0] + b"\n", ["32768 configs missing"]),
    ("binary", lambda d: random.Random(1).randbytes(5000), ["not UTF-8 text", "line 1"]),
    ("byte-0xa5", lambda d: _set_cell(d, 3, "acc", b"\xa5\xa5"), ["byte 0xa5 at line 3"]),
    ("latin-1", lambda d: _set_cell(d, 9, "arch", "8:16:é".encode("latin-1")), ["line 9"]),
    ("nul-byte", lambda d: _set_cell(d, 4, "acc", b"0.5\x00"), ["NUL byte", "line 4"]),
    ("huge-header", lambda d: b"config," + b"a" * (2 << 20) + b"\n0,1\n", ["header line"]),
    ("cut-last-line", lambda d: d[: len(d.rstrip(b"\n")) - 20], ["line 32769", "truncated"]),
    ("cut-mid-file", lambda d: _cut_mid_line(d, 16000), ["line 16000", "truncated"]),
    ("ragged-row", lambda d: _with_line(d, 10, _lines(d)[10] + b",7,8"), ["line 10 has 8"]),
    ("short-row", lambda d: _with_line(d, 5, b",".join(_lines(d)[4].split(b",")[:3])), ["line 5"]),
    ("blank-line", lambda d: _with_line(d, 7, b""), ["line 7 is empty"]),
    ("crlf-short-row", lambda d: _with_line(d, 6, b"5,8:8:8:8:8\r"), ["line 6 has 2"]),
    ("duplicate-config", lambda d: _set_cell(d, 11, "config", b"8"), ["duplicate config 8"]),
    ("config-1e30", lambda d: _set_cell(d, 2, "config", b"1e30"), ["config 1e30 at line 2"]),
    (
        "config-inf",
        lambda d: _set_cell(d, 2, "config", b"inf"),
        ["non-finite value 'inf' in column 'config' at line 2"],
    ),
    (
        "config-negative",
        lambda d: _set_cell(d, 3, "config", b"-1"),
        ["config -1 at line 3", "range"],
    ),
    ("config-fraction", lambda d: _set_cell(d, 2, "config", b"2.5"), ["config 2.5 at line 2"]),
    ("config-empty", lambda d: _set_cell(d, 4, "config", b""), ["empty config at line 4"]),
    (
        "acc-inf",
        lambda d: _set_cell(d, 2, "acc", b"inf"),
        ["non-finite value 'inf' in column 'acc' at line 2"],
    ),
    (
        "acc-percent",
        lambda d: _set_cell(d, 2, "acc", b"85.5"),
        ["acc", "percentage", "(line 2: 85.5"],
    ),
    (
        "acc-negative",
        lambda d: _set_cell(d, 2, "acc", b"-0.5"),
        ["acc", "outside", "(line 2: -0.5"],
    ),
    (
        "acc-1e400",
        lambda d: _set_cell(d, 2, "acc", b"1e400"),
        ["'1e400' in column 'acc' at line 2"],
    ),
    ("acc-text", lambda d: _set_cell(d, 6, "acc", b"n/a"), ["'n/a'", "line 6"]),
    ("unicode-column", lambda d: d.replace(b"acc,", "accé,".encode(), 1), ["'accé'"]),
    ("unicode-arch", lambda d: _set_cell(d, 2, "arch", "8:8:8:8:ü".encode()), ["line 2", "ü"]),
    ("duplicate-header", lambda d: d.replace(b"post_ECE_15", b"pre_ECE_15", 1), ["duplicate"]),
    (
        "quoted-ragged",
        lambda d: _with_line(d, 4, b'3,"8:8\n:8",0.5'),
        ["has 3 fields", "header has 6"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "fragments"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES]
)
def test_bad_official_csv(capsys, tmp_path, sss_csv, mutate, fragments):
    path = tmp_path / "in" / "cifar10_sss.csv"
    path.parent.mkdir()
    path.write_bytes(mutate(sss_csv))
    bench = tmp_path / "bench"
    argv = ["bench", "import", "official", path, "--bench", bench]
    refused(capsys, argv, path, *fragments, watch=[tmp_path])
    assert not bench.exists()


def test_good_csv_with_bom_and_crlf_imports(capsys, tmp_path, sss_csv):
    """The controls: a UTF-8 BOM and Windows line ends are not malformed, nor an empty cell."""
    path = tmp_path / "cifar10_sss.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + _set_cell(sss_csv, 5, "pre_ECE_15", b"").replace(b"\n", b"\r\n")
    )
    code = main(["bench", "import", "official", str(path), "--bench", str(tmp_path / "b")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "32768 rows" in out.out


def test_huge_csv_is_refused_unread(capsys, tmp_path):
    path = tmp_path / "cifar10_tss.csv"
    with open(path, "wb") as fh:  # sparse: 1 GiB + 1 byte that take no disk
        fh.write(b"config,arch,acc\n")
        fh.truncate((1 << 30) + 1)
    refused(capsys, ["bench", "import", "official", path, "--bench", tmp_path / "b"], path, "1 GiB")


@pytest.mark.slow  # a full-size official TSS CSV (154 columns, 15,625 rows; ~2 s)
def test_truncated_official_tss_csv_is_refused(capsys, tmp_path):
    """The issue's case: cut in the middle of its last line, it imported config 15624 with 95
    empty columns and exit 0."""
    path = write_csv(tmp_path / "cifar10_tss.csv", official_frame("tss", seed=3))
    data = path.read_bytes()
    path.write_bytes(data[:-500])
    line = refused(
        capsys,
        ["bench", "import", "official", path, "--bench", tmp_path / "b"],
        path,
        "line 15626",
        "the header has 154",
        "truncated",
        watch=[tmp_path],
    )
    assert "\n" not in line


@pytest.fixture(scope="module")
def attack_csv(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("rob")
    return write_csv(folder / "attack_acc.csv", robustness_frames(seed=2)[0]).read_bytes()


ROBUSTNESS_CASES = [
    ("cut-last-line", lambda d: d[: len(d.rstrip(b"\n")) - 7], ["line 15626", "truncated"]),
    ("byte-0xa5", lambda d: d[:200] + b"\xa5" + d[201:], ["byte 0xa5 at line"]),
    ("short-row", lambda d: _with_line(d, 3, b"0.5,0.1"), ["line 3 has 2 fields"]),
    ("blank-line", lambda d: _with_line(d, 4, b""), ["line 4 is empty"]),
    ("empty", lambda d: b"", ["empty file"]),
    ("binary", lambda d: random.Random(2).randbytes(3000), ["not UTF-8"]),
]


@pytest.mark.parametrize(
    ("mutate", "fragments"), [c[1:] for c in ROBUSTNESS_CASES], ids=[c[0] for c in ROBUSTNESS_CASES]
)
def test_bad_robustness_csv(capsys, tmp_path, attack_csv, mutate, fragments):
    path = tmp_path / "in" / "attack_acc.csv"
    path.parent.mkdir()
    path.write_bytes(mutate(attack_csv))
    bench = tmp_path / "bench"
    argv = ["bench", "import", "robustness", path.parent, "--bench", bench]
    refused(capsys, argv, path, *fragments, watch=[tmp_path])
    assert not bench.exists()
