"""merge_functional: TSS classes that compute the same function searched as one architecture.

Real searches on the embedded demo table (every install has it), through run_search and the CLI.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.arch.spaces import get_space
from bench.errors import InputError
from search import run_search
from search.cli import main
from search.config import SearchConfig
from search.problem import class_map, load_problem
from search.report import describe_table
from search.samplers.pareto_local import ParetoLocalSampler

OBJ = "acc,pre_ECE_15"
TSS = get_space("tss")
FUNC = TSS.function_representatives()


@pytest.mark.parametrize("strategy", ["mpls", "pls", "random"])
def test_one_query_per_function(demo, strategy):
    res = run_search("tss", "digits", OBJ, strategy, trials=40, seed=3, bench=demo,
                     merge_functional=True)  # fmt: skip
    idx = np.array([q["index"] for q in res.queries])
    assert len(idx) == 40 == res.report["queries"]
    assert (FUNC[idx] == idx).all()  # each answer is a function's own row
    assert len(set(FUNC[idx].tolist())) == 40  # never two classes of one function
    assert res.report["distinct_architectures"] == len(np.unique(FUNC)) == 4930
    assert res.report["merge_functional"] is True
    if strategy != "random":  # pls/mpls know the classes: no trial is spent on a repeat
        assert res.report["trials"] == 40
    assert "same function counted as one" in describe_table(res.report)


def test_the_true_front_is_over_functions(demo):
    merged = load_problem(demo, SearchConfig("tss", "digits", OBJ, trials=5,
                                             merge_functional=True))  # fmt: skip
    plain = load_problem(demo, SearchConfig("tss", "digits", OBJ, trials=5))
    idx, _ = merged.true_front()
    assert (FUNC[idx] == idx).all()
    # a class whose function has a smaller representative answers with that one's row
    dup = np.flatnonzero(TSS.representatives() != FUNC)
    assert len(dup) and np.array_equal(merged.final["acc"][dup], plain.final["acc"][FUNC[dup]])
    assert merged.functional and not plain.functional
    assert class_map(TSS, functional=True)[828] == 185


def test_sss_is_unchanged(demo):
    a = run_search("sss", "digits", OBJ, "mpls", trials=15, seed=1, bench=demo)
    b = run_search("sss", "digits", OBJ, "mpls", trials=15, seed=1, bench=demo,
                   merge_functional=True)  # fmt: skip
    assert [q["index"] for q in a.queries] == [q["index"] for q in b.queries]
    assert a.report["distinct_architectures"] == b.report["distinct_architectures"]


def test_bad_inputs_are_refused(demo, tmp_path):
    with pytest.raises(InputError, match="merge_functional must be True or False, got 'yes'"):
        SearchConfig("tss", "digits", OBJ, trials=5, merge_functional="yes")
    with pytest.raises(InputError, match="classes must map each of the 15625 indices of tss"):
        ParetoLocalSampler(TSS, classes=np.arange(10))
    # a stored study keeps its populations: resuming it with the other setting is refused
    journal = str(tmp_path / "s.journal")
    run_search("tss", "digits", OBJ, "random", trials=5, bench=demo, storage=journal,
               study_name="s", merge_functional=True)  # fmt: skip
    with pytest.raises(InputError, match="already holds a different search"):
        run_search("tss", "digits", OBJ, "random", trials=10, bench=demo, storage=journal,
                   study_name="s")  # fmt: skip


def test_cli_merge_functional(demo_path, tmp_path, capsys):
    rc = main(["search", "run", "--bench", str(demo_path), "--dataset", "digits",
               "--merge-functional", "--trials", "12",
               "--format", "json", "--out", str(tmp_path / "o")])  # fmt: skip
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["merge_functional"] is True and rep["distinct_architectures"] == 4930
    assert json.loads((tmp_path / "o" / "report.json").read_text())["merge_functional"] is True
    rc = main(["search", "compare", "--bench", str(demo_path), "--dataset", "digits",
               "--merge-functional", "--strategies",
               "random", "--runs", "2", "--budgets", "5", "--format", "json"])  # fmt: skip
    assert rc == 0 and json.loads(capsys.readouterr().out)[0]["strategy"] == "random"
