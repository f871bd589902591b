"""Every use of Optuna's private API in calnas, each with why it is needed.

Optuna's public API lacks four things a search over a shared storage needs: a trial created with
its owner in one write, popping a user's enqueued trial without ``ask``, failing a trial a dead
process left RUNNING, and the per-``ask`` cached trial list its own samplers read. Hypervolume for
three or more objectives is private too. Everything else in ``search`` uses the public API, so an
Optuna upgrade that renames these breaks this module only (checked with Optuna 4 and 5). The
journal file's format (one JSON record a line, appended under the journal's lock) is Optuna's too:
:func:`repair_journal` is the one place that reads it.

Example:
    >>> import optuna
    >>> from search import _optuna
    >>> study = optuna.create_study()
    >>> trial = _optuna.ask_owned(study, "host:1")
    >>> trial.user_attrs["worker"]
    'host:1'
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Container, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.errors import InputError
from bench.fileio import atomic_write_bytes

__all__ = [
    "ask_owned",
    "cached_trials",
    "create_trial",
    "fail_trial",
    "hypervolume_wfg",
    "repair_journal",
]

log = logging.getLogger("calnas.search")


def cached_trials(
    study: optuna.Study, states: Container[TrialState] | None = None
) -> list[FrozenTrial]:
    """The study's trials as Optuna's samplers see them: read once per ``ask``, not copied.

    Private: ``Study._get_trials(use_cache=True)``. The public ``get_trials`` reads the storage
    at every call (a journal replay or a SQL query), and a sampler calls it several times per
    trial; the cache is reset by ``ask`` (and :func:`ask_owned`), so it is never stale.

    Args:
        study: the study a sampler proposes for.
        states: keep only trials in these states (None: all).

    Returns:
        The trials, by number; not deep copies, so callers must not change them.

    Example:
        >>> study = optuna.create_study()
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        >>> len(cached_trials(study, states=(TrialState.COMPLETE,)))
        2
    """
    return study._get_trials(deepcopy=False, states=states, use_cache=True)


def create_trial(study: optuna.Study, template: FrozenTrial) -> int:
    """Create a trial from ``template`` (state, start time, user attributes) in one storage write.

    Private: ``Study._storage`` and ``Study._study_id``. ``Study.add_trial`` accepts finished
    trials only, and ``ask`` creates a bare trial whose attributes need further writes.

    Args:
        study: the study to add the trial to.
        template: the trial's state and attributes (its number and id are assigned).

    Returns:
        The new trial's storage id.

    Example:
        >>> study = optuna.create_study()
        >>> tid = create_trial(study, _running({"worker": "a:1"}))
        >>> study.trials[0].state.name
        'RUNNING'
    """
    return study._storage.create_new_trial(study._study_id, template_trial=template)


def ask_owned(study: optuna.Study, owner: str) -> optuna.Trial:
    """``study.ask()`` whose trial carries ``user_attrs["worker"] = owner`` from the start.

    A trial is created and tagged in one storage write, so a process killed at any moment leaves
    no RUNNING trial without an owner (``ask`` then ``set_user_attr`` is two writes, and a kill
    between them left an orphan that no later run could attribute to a dead process). A trial the
    user enqueued is popped first, as ``ask`` does, and tagged right after; the search's orphan
    check covers that one short window by age.

    Private: ``Study._thread_local.cached_all_trials`` (reset as ``ask`` does, so samplers see the
    latest trials), ``Study._pop_waiting_trial_id`` (``ask``'s queue pop; no public equivalent)
    and ``Study._storage`` (to tag the popped trial and create the new one).

    Args:
        study: the study to ask.
        owner: ``"host:pid"`` of the asking process.

    Returns:
        The trial, RUNNING, ready for ``suggest_*`` and ``study.tell``.

    Example:
        >>> study = optuna.create_study()
        >>> study.enqueue_trial({"x": 0.5})
        >>> trial = ask_owned(study, "host:2")
        >>> trial.suggest_float("x", 0, 1), trial.user_attrs["worker"]
        (0.5, 'host:2')
    """
    study._thread_local.cached_all_trials = None
    waiting = study._pop_waiting_trial_id()
    if waiting is not None:
        study._storage.set_trial_user_attr(waiting, "worker", owner)
        return optuna.Trial(study, waiting)
    return optuna.Trial(study, create_trial(study, _running({"worker": owner})))


def fail_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Mark ``trial`` (RUNNING, left by a process that died) as failed.

    Private: ``Study._storage``, ``FrozenTrial._trial_id``. The public ``study.tell`` would also
    call the sampler's ``after_trial`` for a trial this process never ran.

    Args:
        study: the study holding the trial.
        trial: the RUNNING trial to fail.

    Example:
        >>> study = optuna.create_study()
        >>> _ = create_trial(study, _running({}))
        >>> fail_trial(study, study.trials[0])
        >>> study.trials[0].state.name
        'FAIL'
    """
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def hypervolume_wfg(losses: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of non-dominated ``losses`` (minimized) up to ``ref``, any number of objectives.

    Private: ``optuna._hypervolume.compute_hypervolume`` (the WFG algorithm). Optuna has no
    public hypervolume function.

    Args:
        losses: (n, k) non-dominated points, each below ``ref`` in every objective.
        ref: (k,) reference point.

    Returns:
        The dominated volume.

    Example:
        >>> hypervolume_wfg(np.array([[0.0, 0.0, 0.0]]), np.array([1.0, 2.0, 3.0]))
        6.0
    """
    from optuna._hypervolume import compute_hypervolume

    return float(compute_hypervolume(losses, ref, assume_pareto=True))


def repair_journal(path: str | os.PathLike[str], lock: Any) -> Path | None:
    """Cut a torn last record off an Optuna journal file; refuse one with garbage inside.

    A process killed while appending leaves the file ending in part of a record. Optuna skips
    that tail when it reads, but appends after it, so the next record is glued to the fragment
    and every later read fails. Under the journal's ``lock`` (the one Optuna's appends take, so
    no live writer is mid-record), the tail after the last complete record is copied to
    ``<file>.torn-<UTC time>`` (kept, not deleted), the file is truncated to its complete
    records, and a warning naming both files is logged. A last line that ends in a newline but
    is not a record (a fragment an older calnas appended after) is a torn tail too.

    Private: the journal file's format (one JSON record a line), which Optuna does not document.

    Args:
        path: the journal file (absent or empty: nothing to do).
        lock: the journal's lock (``acquire()``/``release()``, as ``JournalFileOpenLock``).

    Returns:
        The file the torn tail was moved to, or None if the journal was whole.

    Raises:
        InputError: a line before the last is not a journal record (not a torn tail: the file
            was damaged), or the file holds no record and does not start as one (not a
            journal); the message names the file and the line.

    Example:
        >>> import tempfile
        >>> from optuna.storages.journal import JournalFileOpenLock
        >>> path = Path(tempfile.mkdtemp()) / "s.journal"
        >>> _ = path.write_bytes(b'{"op_code": 0}\\n{"op_co')
        >>> logging.getLogger("calnas.search").disabled = True  # no warning in the example
        >>> repair_journal(path, JournalFileOpenLock(str(path))).read_bytes()
        b'{"op_co'
        >>> logging.getLogger("calnas.search").disabled = False
        >>> path.read_bytes()
        b'{"op_code": 0}\\n'
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:  # most journals are whole: check without the lock, so running writers never wait
        data = path.read_bytes()
        if _complete_records(path, data) == len(data):
            return None
    except InputError:
        pass  # maybe a writer mid-record: judge it again under the lock
    lock.acquire()
    try:
        data = path.read_bytes()
        good = _complete_records(path, data)
        if good == len(data):
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.name}.torn-{stamp}-{os.getpid()}")
        atomic_write_bytes(aside, data[good:])
        os.truncate(path, good)
    finally:
        lock.release()
    log.warning(
        "journal %s ended in a torn record (%d bytes; a process was killed while writing): "
        "moved to %s, the %d complete records kept",
        path, len(data) - good, aside, data[:good].count(b"\n"),
    )  # fmt: skip
    return aside


def _complete_records(path: Path, data: bytes) -> int:
    """The length of ``data``'s leading complete records; garbage before the last line refuses."""
    lines = data.split(b"\n")  # the last item is what follows the last newline (b"" if none)
    end = 0
    for number, line in enumerate(lines[:-1], start=1):
        try:
            record = json.loads(line)
            ok = isinstance(record, dict)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            ok = False
        if not ok:
            if number == len(lines) - 1 and not lines[-1] and end > 0:
                return end  # the last line: a fragment with a record glued after it
            if end == 0:
                raise InputError(
                    f"{path} is not an Optuna journal (line 1: {line[:40]!r}); give a journal "
                    "file calnas wrote, a new file name, or a database URL"
                )
            raise InputError(
                f"journal {path}: line {number} is not a journal record ({line[:40]!r}), and "
                "records follow it, so it is not a torn tail; restore the file from a copy or "
                "give another --storage"
            )
        end += len(line) + 1
    if end == 0 and not lines[-1].lstrip().startswith(b"{"):
        raise InputError(
            f"{path} is not an Optuna journal (it starts {lines[-1][:40]!r}); give a journal "
            "file calnas wrote, a new file name, or a database URL"
        )
    return end


def _running(user_attrs: Mapping[str, Any]) -> FrozenTrial:
    """A RUNNING trial template started now."""
    return FrozenTrial(
        number=-1, state=TrialState.RUNNING, value=None, values=None,
        datetime_start=datetime.now(), datetime_complete=None, params={},
        distributions={}, user_attrs=dict(user_attrs), system_attrs={},
        intermediate_values={}, trial_id=-1,
    )  # fmt: skip
