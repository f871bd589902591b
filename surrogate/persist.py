"""The saved form of a :class:`~surrogate.model.Surrogate`: a directory, never a pickle.

``surrogate.json`` holds the metadata (space, dataset, targets, XGBoost parameters, scaling,
calibration residuals, training indices, the feature names and the SHA-256 of each booster) and
``mean.ubj``, ``member_{k}.ubj`` the boosters in XGBoost's UBJSON format. The directory is built
aside and renamed into place (:func:`bench.fileio.atomic_dir`), with the modes the umask gives.
Reading checks the format, every field, the features and every checksum, and says what is wrong.

Example:
    >>> import os, tempfile
    >>> from surrogate.model import Surrogate
    >>> s = Surrogate("sss", "acc", n_members=1, n_estimators=5)
    >>> _ = s.fit(["8:8:8:8:8", "64:64:64:64:64"], [0.5, 0.9])
    >>> path = write_model(s, os.path.join(tempfile.mkdtemp(), "m"))
    >>> read_model(path).targets
    ('acc',)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xgboost as xgb

from bench import __version__ as _calnas_version
from bench.errors import InputError, MissingFileError
from bench.fileio import atomic_dir
from surrogate.features import feature_names

if TYPE_CHECKING:
    from surrogate.model import Surrogate

__all__ = ["FORMAT", "check_save_path", "read_model", "write_model"]

#: The ``format`` field of ``surrogate.json``.
FORMAT = "calnas-surrogate"
_FORMAT_VERSION = 1
_META = "surrogate.json"
#: Fields every ``surrogate.json`` must hold, and their JSON types.
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "space": str,
    "dataset": (str, type(None)),
    "targets": list,
    "seed": int,
    "n_members": int,
    "xgb_params": dict,
    "features": list,
    "y_mean": list,
    "y_std": list,
    "scores": list,
    "train_indices": list,
    "n_train": int,
    "fit_seconds": (int, float),
    "files": dict,
}


def check_save_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, if a surrogate may be saved there: new, or a saved surrogate.

    The command line checks this before it fits, so a bad ``--out`` fails in a second.

    Raises:
        InputError: ``path`` exists and is not a saved surrogate (it would be replaced).

    Example:
        >>> import tempfile
        >>> check_save_path(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bench.errors.InputError: ... exists and is not a saved surrogate; ...
    """
    path = Path(path)
    if path.exists() and not (path.is_dir() and (path / _META).is_file()):
        raise InputError(
            f"{path} exists and is not a saved surrogate; choose a new path "
            "(a surrogate is saved as a directory)"
        )
    return path


def write_model(model: Surrogate, path: str | os.PathLike) -> Path:
    """Write a fitted ``model`` to directory ``path``, atomically.

    Args:
        model: a fitted surrogate.
        path: the directory to write; an existing saved surrogate there is replaced.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        InputError: ``path`` exists and is not a saved surrogate.
    """
    path = check_save_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the whole folder is written aside and renamed into place: no per-file temp needed
    with atomic_dir(path) as tmp:
        files: dict[str, str] = {}
        for name, booster in [("mean.ubj", model.booster_)] + [
            (f"member_{k}.ubj", m) for k, m in enumerate(model.members_)
        ]:
            raw = bytes(booster.save_raw(raw_format="ubj"))
            (tmp / name).write_bytes(raw)
            files[name] = hashlib.sha256(raw).hexdigest()
        meta = {
            **model.info(),
            "format_version": _FORMAT_VERSION,
            "calnas_version": _calnas_version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "features": list(feature_names(model.space)),
            "y_mean": model.y_mean_.tolist(),
            "y_std": model.y_std_.tolist(),
            "scores": [s.tolist() for s in model.scores_],
            "train_indices": model.train_indices_.tolist(),
            "fit_seconds": model.fit_seconds_,
            "files": files,
        }
        (tmp / _META).write_text(json.dumps(meta))
    return path


def read_model(path: str | os.PathLike) -> Surrogate:
    """Read a surrogate written by :func:`write_model`, checking every field and checksum.

    Args:
        path: a directory written by :func:`write_model`.

    Returns:
        The fitted surrogate.

    Raises:
        MissingFileError: no ``surrogate.json`` at ``path``, or a booster file is missing.
        InputError: the metadata is not a calnas surrogate of this format version, lacks or
            mistypes a field, holds no booster, was fitted on other features than this calnas
            computes, or a file fails its checksum.
    """
    from surrogate.model import Surrogate

    path = Path(path)
    meta_path = path / _META
    if not meta_path.is_file():
        raise MissingFileError(f"no saved surrogate at {path} (expected a directory with {_META})")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{meta_path} is not valid JSON: {err}") from None
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT:
        raise InputError(f"{meta_path} is not a calnas surrogate (format != {FORMAT!r})")
    if meta.get("format_version") != _FORMAT_VERSION:
        raise InputError(
            f"{meta_path} has format_version {meta.get('format_version')!r}; this calnas "
            f"reads {_FORMAT_VERSION}"
        )
    for field, kind in _FIELDS.items():
        if not isinstance(meta.get(field), kind) or isinstance(meta.get(field), bool):
            raise InputError(
                f"{meta_path} lacks a valid {field!r} field: the file is damaged or not written "
                "by calnas; refit the model"
            )
    if not meta["files"] or "mean.ubj" not in meta["files"]:
        raise InputError(f"{meta_path} lists no booster files: the saved model is incomplete")
    if list(meta["features"]) != list(feature_names(meta["space"])):
        raise InputError(f"{path} was fitted on other features than this calnas computes; refit it")
    model = Surrogate(
        meta["space"],
        meta["targets"],
        dataset=meta["dataset"],
        seed=meta["seed"],
        n_members=meta["n_members"],
        **meta["xgb_params"],
    )
    boosters = []
    for name, digest in meta["files"].items():
        fpath = path / name
        if not fpath.is_file():
            raise MissingFileError(f"{fpath} is missing from the saved surrogate")
        raw = fpath.read_bytes()
        if hashlib.sha256(raw).hexdigest() != digest:
            raise InputError(f"{fpath} does not match its checksum: the file is corrupt")
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        boosters.append(booster)
    model.booster_ = boosters[0]
    model.members_ = boosters[1:]
    model.y_mean_ = np.asarray(meta["y_mean"], dtype=np.float64)
    model.y_std_ = np.asarray(meta["y_std"], dtype=np.float64)
    model.scores_ = [np.asarray(s, dtype=np.float64) for s in meta["scores"]]
    model.train_indices_ = np.asarray(meta["train_indices"], dtype=np.int64)
    model.n_train_ = int(meta["n_train"])
    model.fit_seconds_ = float(meta["fit_seconds"])
    model.source_ = meta.get("source")
    return model
