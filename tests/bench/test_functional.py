"""bench.arch.functional: TSS isomorphism classes that compute the same function."""

from __future__ import annotations

import numpy as np
import pytest

from bench.arch.functional import function_key, function_representatives, functional_duplicates
from bench.arch.spaces import get_space
from bench.errors import InputError

TSS = get_space("tss")
SSS = get_space("sss")
S, N, C1, C3, P = "skip_connect", "none", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"


def cell(*ops: str) -> str:
    """A TSS arch string from six ops in edge order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)."""
    o = ops
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def test_816_and_828_compute_conv3x3_of_conv1x1():
    assert TSS.canonical(816) != TSS.canonical(828)  # two isomorphism classes ...
    assert function_key(816) == function_key(828) == "nor_conv_3x3(nor_conv_1x1(x))"  # one function
    reps = function_representatives()
    assert reps[816] == reps[828] == 185 and function_key(185) == function_key(816)


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        (cell(S, N, S, N, N, C3), cell(N, N, N, C3, N, N), "a skip chain is the identity"),
        (cell(C3, N, N, N, S, P), cell(C3, N, N, N, S, N), "an op of a zero node is zero"),
        (cell(C1, S, S, N, N, S), cell(C1, N, N, S, S, N), "zero terms drop out of a sum"),
        (cell(C1, S, P, P, S, S), cell(C1, P, S, S, P, S), "a sum through skip is flattened"),
        (cell(N, N, C3, N, N, C3), cell(N, N, N, N, N, N), "a cell of zero ops of zero is zero"),
    ],
)
def test_isomorphism_classes_that_compute_the_same_function(a, b, why):
    assert TSS.canonical(a) != TSS.canonical(b), why  # NATS-Bench keeps them apart
    assert function_key(a) == function_key(b), why
    assert function_representatives()[TSS.index(a)] == function_representatives()[TSS.index(b)]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (cell(S, S, N, S, S, N), cell(S, N, N, S, N, N)),  # x + x is not x
        (cell(C1, N, N, N, N, C3), cell(N, N, N, C3, N, N)),  # convs do not collapse
        (cell(C1, S, S, C3, N, C3), cell(C1, S, S, C3, C3, N)),  # what a conv wraps counts
        (cell(P, N, N, N, C3, N), cell(C3, N, N, N, P, N)),  # order of ops along a path counts
        (cell(C1, S, S, N, N, P), cell(C1, N, N, P, P, N)),  # avg_pool's linearity is not used
    ],
)
def test_different_functions_stay_apart(a, b):
    assert function_key(a) != function_key(b)


def test_keys_of_hand_built_cells():
    assert function_key(cell(N, N, N, N, N, N)) == "0"
    assert function_key(cell(S, S, N, S, S, N)) == "x+x"
    assert function_key((4, 0, 1, 0, 0, 4)) == "avg_pool_3x3(avg_pool_3x3(x))"
    assert function_key((4, 0, 0, 0, 1, 4)) == "avg_pool_3x3(x)"  # node 2 is zero
    assert function_key(np.array(TSS.parse_code(cell(C1, S, S, N, N, C3)))) == (
        "nor_conv_3x3(nor_conv_1x1(x)+x)"
    )
    assert function_key(np.int64(828)) == function_key(TSS.arch(828))


def test_function_classes_are_unions_of_isomorphism_classes():
    reps, iso = function_representatives(), TSS.representatives()
    assert (reps[iso] == reps).all()  # every member maps where its class representative maps
    assert (reps <= np.arange(TSS.size)).all() and (reps[reps] == reps).all()


def test_count_of_functions_and_duplicates():
    reps = function_representatives()
    dups = functional_duplicates()
    assert np.unique(reps).size == 4930
    assert dups.size == 1536 == TSS.unique_indices().size - 4930
    assert 828 in dups and 185 not in dups and (np.diff(dups) > 0).all()
    assert np.isin(dups, TSS.unique_indices()).all()


def test_results_are_cached_and_read_only():
    reps = function_representatives()
    assert reps is function_representatives("TSS") and not reps.flags.writeable
    assert TSS.function_representatives() is reps
    with pytest.raises(ValueError):
        reps[0] = 1


def test_sss_is_the_identity():
    reps = function_representatives("sss")
    assert (reps == np.arange(SSS.size)).all() and not reps.flags.writeable
    assert SSS.function_representatives() is reps
    assert functional_duplicates("sss").size == 0


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation"),
        ("8:8:8:8:8", "must start and end with"),
        (15625, "out of range"),
        (-1, "out of range"),
        (True, "must be an integer"),
        ((0, 1, 2), "6 integers"),
        ((0, 1, 2, 3, 4, 5), "6 integers"),
        (2.0, "must be an integer"),
    ],
)
def test_bad_input_is_an_input_error(bad, match):
    with pytest.raises(InputError, match=match):
        function_key(bad)


def test_unknown_space_is_an_input_error():
    with pytest.raises(InputError, match="unknown search space"):
        function_representatives("nb101")


# -- where users see it: calnas bench info, the analysis loader, calnas analyze ----------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    from search.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bench_info_prints_the_function_classes(capsys, fresh_home):
    code, out, _ = run(capsys, "bench", "info")
    summary = [line for line in out.splitlines() if line.startswith("TSS: ")]
    assert code == 0 and summary == [
        "TSS: 15,625 cells, 6,466 isomorphism classes, 4,930 distinct functions "
        "(1,536 classes duplicate another's function)"
    ]
    code, out, _ = run(capsys, "bench", "info", "--format", "json")
    assert code == 0 and "distinct functions" not in out  # the JSON stays one entry per table


def test_loader_keeps_one_row_per_function_class(fresh_home):
    from bench import Benchmark
    from bench.analysis.data import load

    bench = Benchmark.open()
    plain = load(bench, "tss", "digits", ["acc"])
    got = load(bench, "tss", "digits", ["acc"], merge_functional=True)
    configs = got.frame["config"].to_numpy()
    assert len(plain.frame) == 6466 and plain.functional_left_out is None
    assert len(got.frame) == 4930 and got.functional_left_out == 1536
    assert (function_representatives()[configs] == configs).all()
    assert got.describe()["functional_duplicates_left_out"] == 1536
    assert "functional_duplicates_left_out" not in plain.describe()
    sss = load(bench, "sss", "digits", ["acc"], merge_functional=True)
    assert sss.functional_left_out == 0 and len(sss.frame) == len(
        load(bench, "sss", "digits", []).frame
    )


def test_analyze_merge_functional(capsys, fresh_home):
    import json

    # digits: one trained row per class (fashion8's classes that share a function share a row)
    cols = ("analyze", "kendall", "--dataset", "digits", "--columns", "acc,pre_ECE_15", "--format")
    code, text, _ = run(capsys, *cols, "json", "--merge-functional")
    data = json.loads(text)
    assert code == 0 and data["n"] == 4930 and data["functional_duplicates_left_out"] == 1536
    code, text, _ = run(capsys, *cols, "table", "--merge-functional")
    assert "(n=4930)" in text and "one row per function class: 1536 rows left out" in text
    code, text, _ = run(capsys, *cols, "json")
    assert json.loads(text)["n"] == 6466 and "functional_duplicates_left_out" not in text
    code, text, _ = run(
        capsys, "analyze", "rq5", "--dataset", "digits", "--merge-functional", "--format", "json"
    )
    data = json.loads(text)
    assert code == 0 and data["inputs"][0]["rows"] == 4930
    assert any("--merge-functional" in n and "1536 rows" in n for n in data["notes"])
