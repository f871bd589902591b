"""The bad-file corpus of the importers and of ``bench validate``/``query``/``export`` (issue #14).

Each case hands ``calnas`` a malformed data file and asserts what a careless or hostile user must
get: exit status 2, exactly one line on stderr that names the file and the problem, and nothing
written (the store is not created, the input folder is unchanged). Files are derived from one
good file per format by cutting, corrupting or editing its bytes.
"""

from __future__ import annotations

import bz2
import gzip
import pickle
import random
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    ("percent", lambda d: _set_cell(d, 3, "clean_acc", b"85.5"), ["percentage", "(line 3: 85.5"]),
    ("inf", lambda d: _set_cell(d, 5, "clean_acc", b"-inf"), ["'-inf'", "line 5"]),
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


# -- NATS-Bench archives and NB201 tables: compressed pickles --------------------------------------
def _nats_copy(nats_sample_dir: Path, tmp_path: Path) -> Path:
    archive = tmp_path / "in" / "NATS-sss-v1_0-50262-simple"
    shutil.copytree(nats_sample_dir / "NATS-sss-v1_0-50262-simple", archive)
    return archive


def _record(archive: Path) -> bytes:
    return (archive / "000000.pickle.pbz2").read_bytes()


NATS_CASES = [
    # (case id, file, new bytes from the archive, fragments)
    ("bomb", "000000.pickle.pbz2", lambda a: bz2.compress(bytes(1 << 20)) * 1024, ["64 MiB"]),
    ("truncated", "000011.pickle.pbz2", lambda a: _record(a)[:5000], ["truncated compressed"]),
    ("corrupt", "000284.pickle.pbz2", lambda a: _record(a)[:10] + b"\xa5" * 400, ["corrupt"]),
    ("empty", "000000.pickle.pbz2", lambda a: b"", ["not a readable pickle"]),
    ("garbage-meta", "meta.pickle.pbz2", lambda a: b"\xa5" * 300, ["not a readable pickle"]),
    (
        "evil-meta",
        "meta.pickle.pbz2",
        lambda a: bz2.compress(pickle.dumps(print)),
        ["refused global builtins.print"],
    ),
    ("not-a-dict", "000000.pickle.pbz2", lambda a: bz2.compress(pickle.dumps([1, 2])), []),
]


@pytest.mark.parametrize(
    ("name", "make", "fragments"), [c[1:] for c in NATS_CASES], ids=[c[0] for c in NATS_CASES]
)
def test_bad_nats_archive(capsys, tmp_path, nats_sample_dir, name, make, fragments):
    archive = _nats_copy(nats_sample_dir, tmp_path)
    (archive / name).write_bytes(make(archive))
    bench = tmp_path / "bench"
    argv = ["bench", "import", "nats", archive, "--bench", bench, "--quiet"]
    refused(capsys, argv, archive / name, *fragments, watch=[tmp_path])
    assert not bench.exists()


NB201_CASES = [
    ("gzip-bomb", lambda: gzip.compress(bytes(1 << 20)) * 100, ["64 MiB"]),
    ("truncated", lambda: pickle.dumps({"000000": {}})[:-3], ["not a readable pickle"]),
    ("garbage", lambda: b"\x80\x05garbage" * 10, ["not a readable pickle"]),
    ("evil", lambda: pickle.dumps(print), ["refused global builtins.print"]),
    ("wrong-shape", lambda: pickle.dumps({"99": 1}), ["key '99'"]),
]


@pytest.mark.parametrize(
    ("make", "fragments"), [c[1:] for c in NB201_CASES], ids=[c[0] for c in NB201_CASES]
)
def test_bad_nb201_table(capsys, tmp_path, make, fragments):
    path = tmp_path / "in" / "cifar10.pkl"
    path.parent.mkdir()
    path.write_bytes(make())
    bench = tmp_path / "bench"
    argv = ["bench", "import", "nb201", path.parent, "--bench", bench]
    refused(capsys, argv, path, *fragments, watch=[tmp_path])
    assert not bench.exists()


# -- the store: files that are not calnas tables ---------------------------------------------------
def _store_with(tmp_path: Path, write) -> tuple[Path, Path]:
    """A store with one good table, and ``write(path)`` at tables/tss/cifar10/computed.parquet."""
    from bench.table.store import Store

    bench = tmp_path / "bench"
    good = pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "official"}, index=[0, 1])
    Store(bench).upsert(good.assign(config=[0, 1], hp=200, epoch=200, acc=[0.8, 0.9]))
    path = bench / "tables" / "tss" / "cifar10" / "computed.parquet"
    write(path)
    return bench, path


STORE_CASES = [
    ("foreign-schema", lambda p: pd.DataFrame({"x": [1], "y": ["a"]}).to_parquet(p), ["lacks"]),
    (
        "keys-as-text",
        lambda p: (
            pd.DataFrame(
                {"space": "tss", "dataset": "cifar10", "source": "computed", "config": ["a"]}
            )
            .assign(hp="x", epoch="y")
            .to_parquet(p)
        ),
        ["column 'config' holds", "calnas stores int64"],
    ),
    (
        "unknown-column",
        lambda p: (
            pd.DataFrame(
                {"space": "tss", "dataset": "cifar10", "source": "computed", "config": [0]}
            )
            .assign(hp=200, epoch=200, bogus=1.0)
            .to_parquet(p)
        ),
        ["unknown column 'bogus'"],
    ),
    ("garbage", lambda p: p.write_bytes(b"\xa5" * 100), ["not a readable parquet file"]),
    ("empty", lambda p: p.write_bytes(b""), ["not a readable parquet file"]),
    ("truncated", lambda p: p.write_bytes(b"PAR1" + b"\x00" * 40), ["not a readable parquet"]),
]
STORE_COMMANDS = [
    ["validate"],
    ["info"],
    ["query", "--space", "tss", "--dataset", "cifar10", "--index", "0"],
    ["query", "--space", "tss", "--dataset", "cifar10", "--index", "0", "--source", "computed"],
    ["export", "--space", "tss", "--dataset", "cifar10", "--metrics", "acc"],
]


@pytest.mark.parametrize(
    "command", STORE_COMMANDS, ids=[" ".join(c[:1] + c[-1:]) for c in STORE_COMMANDS]
)
@pytest.mark.parametrize(
    ("write", "fragments"), [c[1:] for c in STORE_CASES], ids=[c[0] for c in STORE_CASES]
)
def test_store_file_that_is_not_a_table(capsys, tmp_path, command, write, fragments):
    bench, path = _store_with(tmp_path, write)
    refused(
        capsys,
        ["bench", command[0], "--bench", bench, *command[1:]],
        path,
        *fragments,
        watch=[bench],
    )


def test_upsert_refuses_to_merge_into_a_foreign_file(tmp_path):
    from bench.table.store import Store

    bench, path = _store_with(tmp_path, lambda p: pd.DataFrame({"x": [1]}).to_parquet(p))
    before = snapshot(bench)
    rows = pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "computed", "config": [0]})
    with pytest.raises(ValueError, match=rf"^{path}: not a calnas table"):
        Store(bench).upsert(rows.assign(hp=200, epoch=200, acc=0.5))
    after = snapshot(bench)
    assert {k: v for k, v in after.items() if "locks" not in k} == {
        k: v for k, v in before.items() if "locks" not in k
    }


def test_validate_finds_rows_under_the_wrong_path(capsys, tmp_path):
    """tables/tss/mnist/nats.parquet holding cifar10 rows of source computed: three problems."""
    from bench.table.store import Store

    bench = tmp_path / "bench"
    rows = pd.DataFrame({"space": "tss", "dataset": "cifar10", "source": "computed"}, index=[0, 1])
    Store(bench).upsert(rows.assign(config=[0, 1], hp=200, epoch=200, acc=[0.8, 0.9]))
    wrong = bench / "tables" / "tss" / "mnist" / "nats.parquet"
    wrong.parent.mkdir()
    shutil.copy(bench / "tables" / "tss" / "cifar10" / "computed.parquet", wrong)
    before = snapshot(bench)
    code = main(["bench", "validate", "--bench", str(bench)])
    out = capsys.readouterr()
    assert code == 2 and out.err == "calnas: error: validation found 3 problem(s)\n"
    mine = out.out.split("tss/mnist/nats:")[1]
    assert "PROBLEMS" in mine and f"{wrong} names unknown dataset 'mnist'" in mine
    assert "rows of dataset cifar10 in the file of dataset 'mnist'" in mine
    assert "rows of source computed in the file of source 'nats'" in mine
    assert "tss/cifar10/computed: 2 rows, 2 configs, 0 copied: ok" in out.out
    # no table changed (a reader may write the sidecar the copied table lacks: by design)
    tables = {k: v for k, v in snapshot(bench).items() if k.endswith(".parquet")}
    assert tables == {k: v for k, v in before.items() if k.endswith(".parquet")}


def test_garbage_compute_journal_is_named(capsys, tmp_path):
    """A journal file damaged on disk: one line naming it, before any work; no table written."""
    bench = tmp_path / "bench"
    journal = bench / "journal" / "sss__digits__computed" / "hp1_seed777_000007.parquet"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"\xa5\xa5 not parquet")
    argv = ["bench", "compute", "--space", "sss", "--dataset", "digits", "--archs", "0"]
    argv += ["--epochs", "1", "--bench", bench, "--quiet"]
    refused(capsys, argv, journal, "not a readable journal file", watch=[journal.parent])
    assert not (bench / "tables").exists()


# -- property: bytes in, a frame or one InputError out ---------------------------------------------
_CELL = st.one_of(
    st.just(""),
    st.floats(allow_nan=False, width=32).map(repr),
    st.integers(-5, 10**20).map(str),
    st.text(st.characters(blacklist_characters=',\n\r"', blacklist_categories=("Cs",)), max_size=6),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(_CELL, min_size=1, max_size=5), min_size=1, max_size=6),
    final_newline=st.booleans(),
)
def test_read_csv_refuses_every_ragged_file(tmp_path, rows, final_newline):
    """A generated CSV (header of 3 columns): every row of another width is refused by line;
    whatever else happens is a frame of all rows or one InputError naming the file."""
    from bench.errors import InputError
    from bench.importers.common import read_csv

    path = tmp_path / "t.csv"
    text = "config,acc,pre_ECE_15\n" + "\n".join(",".join(r) for r in rows)
    path.write_text(text + ("\n" if final_newline else ""), encoding="utf-8")
    while rows and rows[-1] == [""]:  # blank lines at the end are harmless
        rows = rows[:-1]
    ragged = [i + 2 for i, r in enumerate(rows) if len(r) != 3]
    try:
        frame = read_csv(path, ["config", "acc", "pre_ECE_15"])
    except InputError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
        if "\x00" in text:  # binary content: not a CSV file at all, whatever its rows' widths
            assert "binary content (a NUL byte)" in str(err)
        elif ragged:
            first = ragged[0]
            blank = rows[first - 2] == [""]
            assert re.search(rf"line {first}\b", str(err)), str(err)
            assert not blank or f"line {first} is empty" in str(err)
        return
    assert not ragged, f"rows of another width accepted: lines {ragged}"
    assert len(frame) == len(rows)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400), cut=st.integers(0, 2000))
def test_mangled_csv_never_escapes_as_another_error(tmp_path, sss_csv, data, cut):
    """The good file cut anywhere in its first lines, then random bytes: a frame or InputError."""
    from bench.errors import InputError
    from bench.importers.common import read_csv

    path = tmp_path / "m.csv"
    path.write_bytes(sss_csv[:cut] + data)
    try:
        read_csv(path, SSS_COLUMNS)
    except InputError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err)


def _damage(column: str, values) -> callable:
    """A writer of the good table with ``column`` replaced (a table edited behind the store)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(path: Path) -> None:
        good = path.with_name("official.parquet")
        table = pq.read_table(good)
        columns = {n: table.column(n) for n in table.column_names}
        columns[column] = pa.array(values, type=table.schema.field(column).type)
        columns["source"] = pa.array(["computed", "computed"])
        pq.write_table(pa.table(columns), path)

    return write


DAMAGED_CASES = [
    ("config-null", _damage("config", [None, 1]), ["column 'config' holds missing"]),
    ("config-out-of-range", _damage("config", [99999, 1]), ["out-of-range", "0..15624"]),
    ("config-negative", _damage("config", [-5, 1]), ["out-of-range"]),
    ("epoch-null", _damage("epoch", [None, 200]), ["column 'epoch' holds missing"]),
]


@pytest.mark.parametrize("command", STORE_COMMANDS[2:], ids=["query", "query-source", "export"])
@pytest.mark.parametrize(
    ("write", "fragments"), [c[1:] for c in DAMAGED_CASES], ids=[c[0] for c in DAMAGED_CASES]
)
def test_damaged_table_contents(capsys, tmp_path, command, write, fragments):
    """A calnas table whose key values were damaged: one line naming it, not an IndexError
    (the sidecar, a cache, may be written: the table is not)."""
    bench, path = _store_with(tmp_path, write)
    before = {k: v for k, v in snapshot(bench).items() if k.endswith(".parquet")}
    before_path = snapshot(path)
    argv = ["bench", command[0], "--bench", bench, *command[1:]]
    refused(capsys, argv, path, *fragments, watch=[])
    assert {k: v for k, v in snapshot(bench).items() if k.endswith(".parquet")} == before
    assert snapshot(path) == before_path


def test_folder_named_like_a_table(capsys, tmp_path):
    bench, path = _store_with(tmp_path, lambda p: p.mkdir())
    refused(capsys, ["bench", "validate", "--bench", bench], path, "a folder", watch=[bench])


@pytest.mark.parametrize("folder", ["données", "数据 集", "emoji-😀"])
def test_unicode_paths_are_named_as_given(capsys, tmp_path, sss_csv, folder):
    path = tmp_path / folder / "cifar10_sss.csv"
    path.parent.mkdir()
    path.write_bytes(sss_csv[:-30])  # cut in its last line
    bench = tmp_path / folder / "bench"
    argv = ["bench", "import", "official", path.parent, "--bench", bench]
    refused(capsys, argv, path, "truncated", watch=[tmp_path])
    assert not bench.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (lambda good: b"\xa5garbage", "is not a pickle (first byte 0xa5)"),
        (lambda good: b"", "is empty"),
        (lambda good: good[: len(good) // 2], "is truncated"),
    ],
    ids=["garbage", "empty", "truncated"],
)
def test_garbage_dataset_batch_is_refused_once_up_front(capsys, tmp_path, content, fragment):
    """A CIFAR batch that cannot be a pickle: one line naming it before any network is claimed
    (it was found by every worker, each logging a traceback)."""
    from dataset_files import write_cifar10

    write_cifar10(tmp_path / "data")
    batch = next((tmp_path / "data").rglob("data_batch_1"))
    batch.write_bytes(content(batch.read_bytes()))
    bench = tmp_path / "bench"
    argv = ["bench", "compute", "--space", "tss", "--dataset", "cifar10", "--archs", "0"]
    argv += ["--data-root", tmp_path / "data", "--epochs", "1", "--bench", bench, "--quiet"]
    refused(capsys, argv, batch, fragment, watch=[tmp_path / "data"])
    assert not (bench / "tables").exists() and not (bench / "claims").exists()


@pytest.mark.parametrize("length", [2**36, 2**63 + 5, 3], ids=["64GiB", "2^63", "short"])
def test_damaged_sidecar_is_ignored_and_rebuilt(capsys, tmp_path, length):
    """A sidecar (a cache) whose header length is garbage: not read (no 64 GiB allocation, no
    OverflowError); the query answers from the parquet file and the sidecar is written anew."""
    from bench.table.sidecar import _MAGIC, Sidecar

    bench, _ = _store_with(tmp_path, lambda p: None)
    path = bench / "tables" / "tss" / "cifar10" / "official.parquet"
    side = path.with_suffix(".npcols")
    side.write_bytes(_MAGIC + length.to_bytes(8, "little") + b'{"version": 3}')
    assert Sidecar.open(path) is None
    argv = ["bench", "query", "--bench", bench, "--space", "tss", "--dataset", "cifar10"]
    code = main([str(a) for a in [*argv, "--index", "1", "--metrics", "acc"]])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert '"acc": 0.9' in out.out
    assert Sidecar.open(path) is not None  # rebuilt
