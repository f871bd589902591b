"""Where a search's study lives: opening storages, creating or resuming a study, orphaned trials.

In memory by default; a file path means an Optuna journal file (``JournalFileBackend``); a URL
(``sqlite:///x.db``, ``postgresql://...``) an RDB storage. Re-running with the same storage and
study name resumes: :func:`open_study` checks that the study holds the same search, and
:func:`fail_orphans` marks failed the trials a killed process left RUNNING.
``optuna-dashboard <storage>`` opens any of these.

Example:
    >>> type(open_storage(None)).__name__
    'InMemoryStorage'
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.errors import InputError, MissingFileError
from search import _optuna
from search.problem import Problem

__all__ = ["open_storage", "open_study", "fail_orphans", "owner_tag"]

_LOCK_GRACE_S = 5
# A RUNNING trial with no owner this old was left by a killed process (owners tag in milliseconds).
_UNTAGGED_GRACE_S = 30.0


def open_storage(storage: str | None) -> optuna.storages.BaseStorage:
    """None -> in-memory storage; a path -> journal file; a URL -> RDB storage.

    Args:
        storage: None, a journal file path, or a database URL.

    Returns:
        The Optuna storage.

    Raises:
        InputError: a URL SQLAlchemy cannot use or a server it cannot reach (the password is
            hidden in the message).
        MissingFileError: a journal file in a folder that does not exist.
        InputError: a journal path that is a folder, or a journal with garbage before its last
            line (a torn last record, left by a process killed while writing, is moved aside to
            ``<file>.torn-<time>`` with a warning, and the complete records are kept).
        MissingExtra: a PostgreSQL URL without a PostgreSQL driver installed.

    Example:
        >>> open_storage("nosuchdb://x/y")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        bench.errors.InputError: cannot open storage 'nosuchdb://x/y': ...
    """
    if storage is None:
        return optuna.storages.InMemoryStorage()
    if not isinstance(storage, str) or not storage.strip():
        raise InputError(f"storage must be a journal file path or a database URL, got {storage!r}")
    if "://" not in storage:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        folder = os.path.dirname(os.path.abspath(storage))
        if not os.path.isdir(folder):
            what = "is not a folder" if os.path.exists(folder) else "does not exist"
            raise MissingFileError(f"journal storage {storage!r}: {folder} {what}")
        if os.path.exists(storage) and not os.path.isfile(storage):
            raise InputError(
                f"journal storage {storage!r} is a folder, not a file: give a file path such "
                "as study.journal, or a database URL"
            )
        # The open-lock works on every file system (the symlink lock does not on some mounts).
        # A process killed inside a write leaves the lock behind; our writes take milliseconds,
        # so a lock older than 5 s is stale (Optuna's default waits 30 s).
        lock = JournalFileOpenLock(storage, grace_period=_LOCK_GRACE_S)
        _optuna.repair_journal(storage, lock)  # a torn last record, left by a kill: cut it off
        return optuna.storages.JournalStorage(JournalFileBackend(storage, lock_obj=lock))
    scheme = storage.split("://", 1)[0]
    if not scheme or not all(c.isalnum() or c in "+_-" for c in scheme):
        raise InputError(f"storage URL {storage!r} has no valid scheme (e.g. sqlite:///x.db)")
    storage = _pg_driver(storage)
    try:
        return optuna.storages.RDBStorage(storage, engine_kwargs={"pool_pre_ping": True})
    except Exception as err:  # SQLAlchemy raises many types; say which URL failed and why
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot open storage {_redact(storage)!r}: {first}") from None


def open_study(
    store: optuna.storages.BaseStorage, study_name: str, problem: Problem, backend: str
) -> optuna.Study:
    """Create study ``study_name`` for ``problem``, or resume it if it holds the same search.

    The study records what it searches (space, dataset, objectives, constraints, backend) in its
    user attribute ``calnas``; resuming it for another search is refused.

    Args:
        store: from :func:`open_storage`.
        study_name: the study's name.
        problem: what is searched.
        backend: the search's backend.

    Returns:
        The study.

    Raises:
        InputError: the study already holds a different search.

    Example:
        >>> from search.config import SearchConfig
        >>> from search.problem import load_problem, open_bench
        >>> cfg = SearchConfig("tss", "digits", "acc,pre_ECE_15", trials=5)
        >>> problem = load_problem(open_bench(None), cfg)
        >>> study = open_study(open_storage(None), "s", problem, "table")
        >>> study.user_attrs["calnas"]["objectives"]
        ['acc:max', 'pre_ECE_15:min']
    """
    identity = {
        "space": problem.space,
        "dataset": problem.dataset,
        "objectives": [str(o) for o in problem.objectives],
        "constraints": [str(c) for c in problem.constraints],
        "backend": backend,
    }
    if problem.noisy is not None:  # only when set: studies stored before keep their identity
        identity["noise"] = "seed"
    if problem.functional:
        identity["functional"] = True
    study = optuna.create_study(
        storage=store,
        study_name=study_name,
        directions=[o.optuna_direction for o in problem.objectives],
        load_if_exists=True,
    )
    held = study.user_attrs.get("calnas")
    if held is None:
        study.set_user_attr("calnas", identity)
    elif held != identity:
        raise InputError(
            f"study {study_name!r} already holds a different search ({held}); "
            "give another study_name"
        )
    return study


def owner_tag() -> str:
    """``"host:pid"`` of this process: the owner a worker writes into each trial it creates.

    Example:
        >>> owner_tag().endswith(f":{os.getpid()}")
        True
    """
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_orphans(study: optuna.Study) -> None:
    """Mark RUNNING trials of dead processes on this host as failed (after a kill).

    A trial belongs to the ``host:pid`` in its ``worker`` attribute; one whose process on this
    host is gone is failed, as is one without an owner older than the tagging delay (a popped
    enqueued trial is briefly untagged; a live worker tags it at once).

    Args:
        study: the study being resumed.

    Example:
        >>> from search import _optuna
        >>> study = optuna.create_study()
        >>> _ = _optuna.create_trial(study, optuna.trial.FrozenTrial(
        ...     number=-1, state=TrialState.RUNNING, value=None, values=None,
        ...     datetime_start=datetime(2020, 1, 1), datetime_complete=None, params={},
        ...     distributions={}, user_attrs={}, system_attrs={}, intermediate_values={},
        ...     trial_id=-1))
        >>> fail_orphans(study)  # untagged and years old: its process is gone
        >>> study.trials[0].state.name
        'FAIL'
    """
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(t.user_attrs.get("worker", ""))
        h, _, pid = owner.rpartition(":")
        dead = h == host and pid.isdigit() and not _alive(int(pid))
        untagged = not owner and _age_s(t) > _UNTAGGED_GRACE_S
        if dead or untagged:
            _optuna.fail_trial(study, t)


def _age_s(trial: FrozenTrial) -> float:
    start = trial.datetime_start
    if start is None:
        return 0.0
    now = datetime.now(start.tzinfo) if start.tzinfo else datetime.now()
    return (now - start).total_seconds()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pg_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only it is there."""
    from bench.extras import MissingExtra, has

    if url.startswith(("postgresql://", "postgres://")) and not has("psycopg"):
        if not has("psycopg2"):
            raise MissingExtra(
                "a PostgreSQL storage needs psycopg2: pip install 'calnas[postgres]'"
            )
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def _redact(url: str) -> str:
    """Hide a password in a database URL before it goes into an error message."""
    head, sep, tail = url.partition("://")
    if "@" in tail:
        cred, _, host = tail.rpartition("@")
        user = cred.split(":", 1)[0]
        return f"{head}{sep}{user}:***@{host}"
    return url
