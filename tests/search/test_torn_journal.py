"""A journal whose last record a kill tore is repaired (tail kept aside), never compounded;
garbage before the last line is refused with one line naming the file and the line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from search.cli import main
from search.storage import open_storage

RUN = ["search", "run", "--strategy", "random", "--quiet", "--format", "json"]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_torn_last_record_is_moved_aside_and_the_study_resumes(demo_path, tmp_path, capsys):
    journal = tmp_path / "s.journal"
    args = [*RUN, "--bench", str(demo_path), "--storage", str(journal), "--study-name", "s"]
    code, _ = _run([*args, "--trials", "8", "--out", str(tmp_path / "r1")], capsys)
    assert code == 0
    whole = journal.read_bytes()
    os.truncate(journal, len(whole) - 40)  # what a kill in the middle of an append leaves
    kept = whole[: whole.rstrip(b"\n").rfind(b"\n") + 1]

    code, err = _run([*args, "--trials", "12", "--out", str(tmp_path / "r2")], capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "torn" in line]
    assert len(warnings) == 1 and str(journal) in warnings[0]
    (aside,) = tmp_path.glob("s.journal.torn-*")
    assert aside.read_bytes() == whole[len(kept) : len(whole) - 40]  # the tail, not deleted
    assert journal.read_bytes().startswith(kept)  # the complete records kept, then appended to
    records = [json.loads(line) for line in journal.read_bytes().splitlines()]
    assert records  # every line is a whole record: nothing glued to the fragment

    code, err = _run([*args, "--trials", "14", "--out", str(tmp_path / "r3")], capsys)
    assert code == 0 and "torn" not in err  # repaired once, for good
    study = optuna.load_study(study_name="s", storage=open_storage(str(journal)))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len({t.user_attrs["rep"] for t in done}) >= 14


def test_a_fragment_with_a_record_glued_after_it_is_a_torn_tail(tmp_path):
    # what an older calnas left: it appended after the torn record, so the last line is garbage
    journal = tmp_path / "old.journal"
    good = b'{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}\n'
    journal.write_bytes(good + b'{"op_code": 4, "trial_id{"op_code": 5}\n')
    open_storage(str(journal))
    assert journal.read_bytes() == good
    assert len(list(tmp_path.glob("old.journal.torn-*"))) == 1


def test_garbage_inside_a_journal_is_refused_naming_file_and_line(demo_path, tmp_path, capsys):
    journal = tmp_path / "bad.journal"
    rec = b'{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}\n'
    journal.write_bytes(rec + b"\x00garbage\n" + rec)
    before = _files(tmp_path)
    argv = [*RUN, "--bench", str(demo_path), "--storage", str(journal), "--trials", "3",
            "--out", str(tmp_path / "out")]  # fmt: skip
    code, err = _run(argv, capsys)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert str(journal) in err and "line 2" in err
    assert _files(tmp_path) == before


_CHILD = """
import sys
from search.runner import run_search
run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=100000, bench=sys.argv[1],
           storage=sys.argv[2], study_name="k", seed=0)
"""


def _wait_for_records(journal: Path, beyond: int, child: subprocess.Popen) -> None:
    """Wait until the child has appended records past ``beyond`` bytes (a loaded machine can
    take seconds to start it: a fixed sleep killed it before it had written anything)."""
    deadline = time.monotonic() + 120
    while not (journal.exists() and journal.stat().st_size > beyond + 2000):
        assert child.poll() is None, "the search ended before it wrote its journal"
        assert time.monotonic() < deadline, "the search wrote nothing to its journal in 120 s"
        time.sleep(0.02)


@pytest.mark.slow  # three searches killed at different moments and resumed (~15 s)
def test_killed_torn_and_resumed_three_times(demo_path, tmp_path):
    journal = tmp_path / "k.journal"
    for round_ in range(3):
        before = journal.stat().st_size if journal.exists() else 0
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(demo_path), str(journal)])
        try:
            _wait_for_records(journal, before, child)
            time.sleep(0.2 + round_ * 0.37)  # then a different moment each time
            assert child.poll() is None, "the search should still be running"
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        size = journal.stat().st_size
        os.truncate(journal, size - 40)
        store = open_storage(str(journal))  # repairs
        study = optuna.load_study(study_name="k", storage=store)
        n = len(study.trials)
        assert all(json.loads(line) for line in journal.read_bytes().splitlines())
    assert len(list(tmp_path.glob("k.journal.torn-*"))) == 3
    from search.runner import run_search

    res = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=n + 5,
                     bench=str(demo_path), storage=str(journal), study_name="k")  # fmt: skip
    assert res.report["queries"] >= 1
    states = {t.state for t in res.study.trials}
    assert optuna.trial.TrialState.RUNNING not in states
