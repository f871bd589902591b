"""Differential test: calnas's NATS-Bench facade against the real ``nats_bench`` (1.8).

The sample archives (``../shared/fixtures/nats-bench-sample``: TSS and SSS, architectures 0, 11
and 284, four datasets, every hp tag) go through calnas's importer into a temporary store; then
every verb both APIs offer is called on both sides for every architecture, dataset, hp and epoch,
and the answers compared. The differences that are meant are listed once, in the constants below
(the README's NATS-Bench paragraph lists the same); everything else must be equal.
"""

from __future__ import annotations

import collections
import functools
import itertools
import random

import pytest

nats_bench = pytest.importorskip(
    "nats_bench", reason="nats_bench is not installed (pip install -e '.[test]')"
)

from bench import importers  # noqa: E402
from bench.importers.nats_archive import ARCHIVE_NAMES, HP_TAGS, record_files  # noqa: E402
from bench.table.catalog import MissingEntry  # noqa: E402
from bench.table.nats import create  # noqa: E402
from bench.table.schema import NATS_EVAL_SETS  # noqa: E402
from bench.table.store import Store  # noqa: E402

# every verb on every sample record, against the real nats_bench (~35 s): the slow tier
pytestmark = pytest.mark.slow

# -- the meant differences (README "NATS-Bench compatibility" lists the same) ---------------------
#: calnas gives accuracies as fractions, nats_bench in percent: its accuracies are divided by this.
PERCENT = 100.0
#: nats_bench's hp default is '12'; calnas's is the longest schedule the table holds.
NATS_DEFAULT_HP = "12"
CALNAS_DEFAULT_HP = {"tss": "200", "sss": "90"}
#: nats_bench's ``get_more_info`` draws a seed by default (is_random=True); calnas averages the
#: seeds (is_random=False) unless asked.
NATS_DEFAULT_IS_RANDOM = True
CALNAS_DEFAULT_IS_RANDOM = False
#: ``get_more_info`` keys calnas adds (which run answered), and nats_bench's calnas leaves out.
CALNAS_EXTRA_INFO_KEYS = frozenset({"epoch", "hp", "seed", "source"})
NATS_ONLY_INFO_KEYS = frozenset({"comment"})
#: ``query_by_index`` gives calnas ``NATSRun`` records with these ResultsCount fields; the seed is
#: an int (nats_bench: zero-padded string), the latency one number (nats_bench: a list, whose
#: mean its ``get_latency`` gives), ``eval_names`` in calnas's set order (the archives' order
#: differs between hp tags); the fields below are not stored (no weights, top-5 or net config).
RUN_FIELDS = (
    "name",
    "seed",
    "epochs",
    "params",
    "flop",
    "latency",
    "train_acc1es",
    "train_losses",
    "train_times",
    "eval_names",
    "eval_acc1es",
    "eval_losses",
    "eval_times",
)
NATS_ONLY_RUN_FIELDS = frozenset({"train_acc5es", "arch_config", "net_state_dict"})
#: ``is_random=True`` draws with calnas's seeded generator, nats_bench with Python's ``random``:
#: a drawn answer is checked to be one seed's answer.
#: ``find_best`` when no architecture qualifies: nats_bench returns this, calnas raises
#: MissingEntry (and refuses a set the dataset lacks even then: nats_bench checks only qualifiers).
NATS_FIND_BEST_NONE = (-1, None)

REL, ABS = 1e-9, 1e-12  # float tolerance: means over seeds and cumulative times are summed apart
SETS = ("train", "valid", "test", "x-valid", "x-test", "ori-test")
DATASETS = tuple(NATS_EVAL_SETS)


def _close(ours, theirs, what: str, *, percent: bool = False) -> None:
    if theirs is None or ours is None:
        assert ours is None and theirs is None, f"{what}: calnas {ours!r}, nats_bench {theirs!r}"
        return
    expected = float(theirs) / (PERCENT if percent else 1.0)
    assert ours == pytest.approx(expected, rel=REL, abs=ABS), f"{what}: {ours!r} vs {expected!r}"


def _same_dict(ours: dict, theirs: dict, what: str, *, extra=frozenset(), missing=frozenset()):
    assert set(ours) - extra == set(theirs) - missing, what
    for key in set(theirs) - missing:
        _close(ours[key], theirs[key], f"{what} {key}", percent=str(key).endswith("accuracy"))


@pytest.fixture(scope="module")
def pair(nats_sample_dir, tmp_path_factory):
    """{space: (calnas facade, nats_bench API, archive indices)} over the same sample archives."""
    root = tmp_path_factory.mktemp("nats-compat")
    importers.import_nats(Store(root), nats_sample_dir)
    out = {}
    for space, base in ARCHIVE_NAMES.items():
        archive = nats_sample_dir / f"{base}-simple"
        theirs = nats_bench.create(str(archive), space, fast_mode=True, verbose=False)
        indices = [i for i, _ in record_files(archive)]
        for i in indices:  # loaded: find_best(enforce_all=False) scans the loaded ones
            theirs.query_by_index(i)
        out[space] = (create(root, space), theirs, indices)
    return out


SPACES = pytest.mark.parametrize("space", ["tss", "sss"])


@SPACES
def test_index_mapping_and_create(pair, space):
    ours, theirs, indices = pair[space]
    assert len(ours) == len(theirs)
    archs = list(theirs.meta_archs)
    assert [ours[i] for i in range(len(ours))] == archs
    assert [ours.query_index_by_arch(a) for a in archs] == list(range(len(archs)))
    assert [theirs.query_index_by_arch(a) for a in archs] == list(range(len(archs)))
    assert ours[-1] == theirs[-1]
    for i in (0, *indices, len(theirs) - 1):
        assert ours.arch(i) == theirs.arch(i)
        arch = theirs.arch(i)
        assert ours.query_index_by_arch(arch) == theirs.query_index_by_arch(arch) == i
        assert ours.query_index_by_arch(i) == theirs.query_index_by_arch(i) == i

        class Genotype:  # nats_bench accepts any object with tostr()
            def tostr(self, arch=arch):
                return arch

        assert ours.query_index_by_arch(Genotype()) == theirs.query_index_by_arch(Genotype()) == i
    assert ours.query_index_by_arch("|bogus|") == theirs.query_index_by_arch("|bogus|") == -1
    for bad in (-1, len(theirs)):
        with pytest.raises(ValueError):
            theirs.arch(bad)
        with pytest.raises(ValueError):
            ours.arch(bad)
        with pytest.raises(ValueError):
            theirs.query_index_by_arch(bad)
        with pytest.raises(ValueError):
            ours.query_index_by_arch(bad)
    root = ours.bench.store.root
    alias = {"tss": "topology", "sss": "size"}[space]
    assert len(create(root, alias, fast_mode=True, verbose=False)) == len(theirs)
    with pytest.raises(ValueError):
        create(root, "xss")


@SPACES
def test_get_more_info_every_epoch_and_seed(pair, space):
    ours, theirs, indices = pair[space]
    for i in indices:
        for hp in HP_TAGS[space]:
            for dataset in DATASETS:
                seeds = sorted(theirs.query_by_index(i, dataset, hp=hp))
                for iepoch in (None, *range(int(hp))):
                    for is_random in (False, *seeds):
                        what = f"{space} {i} {dataset} hp {hp} iepoch {iepoch} seed {is_random}"
                        a = ours.get_more_info(i, dataset, iepoch, hp, is_random)
                        b = theirs.get_more_info(i, dataset, iepoch, hp, is_random)
                        _same_dict(
                            a, b, what, extra=CALNAS_EXTRA_INFO_KEYS, missing=NATS_ONLY_INFO_KEYS
                        )
                        assert a["epoch"] == (int(hp) if iepoch is None else iepoch + 1), what
                        assert a["hp"] == int(hp) and a["source"] == "nats", what
                        assert a["seed"] == (None if is_random is False else is_random), what
                # a drawn seed's answer is one of the seeds' answers
                drawn = ours.get_more_info(i, dataset, None, hp, is_random=True)
                assert drawn["seed"] in seeds
                b = theirs.get_more_info(i, dataset, None, hp, is_random=drawn["seed"])
                _same_dict(
                    drawn, b, "drawn", extra=CALNAS_EXTRA_INFO_KEYS, missing=NATS_ONLY_INFO_KEYS
                )
        # an arch string is accepted as the index, on both sides
        arch = theirs.arch(i)
        a = ours.get_more_info(arch, "cifar100", None, HP_TAGS[space][-1], False)
        b = theirs.get_more_info(arch, "cifar100", None, HP_TAGS[space][-1], False)
        _same_dict(a, b, "by arch", extra=CALNAS_EXTRA_INFO_KEYS, missing=NATS_ONLY_INFO_KEYS)


@SPACES
def test_defaults_differ_as_documented(pair, space):
    ours, theirs, indices = pair[space]
    i = indices[-1]
    ours_default = ours.get_more_info(i, "cifar10")
    assert ours_default["seed"] is None and not CALNAS_DEFAULT_IS_RANDOM
    as_ours = theirs.get_more_info(
        i, "cifar10", hp=CALNAS_DEFAULT_HP[space], is_random=CALNAS_DEFAULT_IS_RANDOM
    )
    _same_dict(ours_default, as_ours, "defaults", extra=CALNAS_EXTRA_INFO_KEYS, missing={"comment"})
    # nats_bench's defaults, passed explicitly to calnas
    theirs_default = theirs.get_more_info(i, "cifar10")  # hp '12', one drawn seed
    assert NATS_DEFAULT_IS_RANDOM
    seeds = sorted(theirs.query_by_index(i, "cifar10", hp=NATS_DEFAULT_HP))
    answers = [ours.get_more_info(i, "cifar10", hp=NATS_DEFAULT_HP, is_random=s) for s in seeds]
    assert any(
        a["train-loss"] == pytest.approx(theirs_default["train-loss"], rel=REL) for a in answers
    )
    _same_dict(
        ours.get_cost_info(i, "cifar10"),
        theirs.get_cost_info(i, "cifar10", hp=CALNAS_DEFAULT_HP[space]),
        "default cost",
    )


@SPACES
def test_cost_info_latency_and_runs(pair, space):
    ours, theirs, indices = pair[space]
    for i in indices:
        for hp in HP_TAGS[space]:
            for dataset in DATASETS:
                what = f"{space} {i} {dataset} hp {hp}"
                _same_dict(
                    ours.get_cost_info(i, dataset, hp), theirs.get_cost_info(i, dataset, hp), what
                )
                _close(ours.get_latency(i, dataset, hp), theirs.get_latency(i, dataset, hp), what)
                _same_runs(
                    ours.query_by_index(i, dataset, hp), theirs.query_by_index(i, dataset, hp), what
                )
            # without a dataset: every dataset (nats_bench: its ArchResults)
            ours_all = ours.query_by_index(i, hp=hp)
            theirs_all = theirs.query_by_index(i, hp=hp)
            assert set(ours_all) == set(theirs_all.get_dataset_names())
            for dataset, runs in ours_all.items():
                _same_runs(runs, theirs_all.query(dataset), f"{space} {i} hp {hp} all {dataset}")


def _same_runs(ours: dict, theirs: dict, what: str) -> None:
    assert sorted(ours) == sorted(theirs), what
    for seed, b in theirs.items():
        a = ours[seed]
        assert set(vars(b)) - NATS_ONLY_RUN_FIELDS == set(RUN_FIELDS), what
        assert (a.name, a.seed, a.epochs) == (b.name, int(b.seed), b.epochs), what
        _close(a.params, b.params, f"{what} params")
        _close(a.flop, b.flop, f"{what} flop")
        _close(a.latency, b.get_latency(), f"{what} latency")
        assert set(a.eval_names) == set(b.eval_names), what
        for field in RUN_FIELDS[6:]:
            if field == "eval_names":
                continue
            mine, other = getattr(a, field), getattr(b, field)
            assert set(mine) == set(other), f"{what} {field} keys"
            for key, value in other.items():
                _close(mine[key], value, f"{what} {field}[{key}]", percent="acc" in field)


@SPACES
def test_find_best_every_set_and_bound(pair, space):
    ours, theirs, indices = pair[space]
    seen = collections.Counter()
    for hp in HP_TAGS[space]:
        for dataset in DATASETS:
            costs = [theirs.get_cost_info(i, dataset, hp) for i in indices]
            # bounds between the architectures' values (not on them: means are summed apart)
            flops = sorted({c["flops"] for c in costs})
            params = sorted({c["params"] for c in costs})
            cuts = [None, *((a + b) / 2 for a, b in itertools.pairwise(flops))]
            caps = [None, *((a + b) / 2 for a, b in itertools.pairwise(params))]
            cases = [(f, None) for f in cuts] + [(None, p) for p in caps[1:]]
            cases.append((flops[0] / 2, None))  # nothing qualifies
            for metric_on_set in SETS:
                try:
                    theirs.find_best(dataset, metric_on_set, hp=hp, enforce_all=False)
                    known = True
                except Exception:  # nats_bench has no such set (a KeyError deep inside)
                    known = False
                for flop_max, param_max in cases:
                    what = f"{space} {dataset} {metric_on_set} hp {hp} <= {flop_max}, {param_max}"
                    if not known:  # calnas refuses it too, with a ValueError naming the sets
                        with pytest.raises(ValueError, match="unknown evaluation set"):
                            ours.find_best(dataset, metric_on_set, flop_max, param_max, hp)
                        seen["unknown set"] += 1
                        continue
                    expected = theirs.find_best(
                        dataset, metric_on_set, flop_max, param_max, hp, enforce_all=False
                    )
                    if expected == NATS_FIND_BEST_NONE:
                        with pytest.raises(MissingEntry):
                            ours.find_best(dataset, metric_on_set, flop_max, param_max, hp)
                        seen["none qualifies"] += 1
                        continue
                    got = ours.find_best(dataset, metric_on_set, flop_max, param_max, hp)
                    assert got[0] == expected[0], what
                    _close(got[1], expected[1], what, percent=True)
                    seen[f"best {got[0]}"] += 1
    # every kind of answer was met, and the bounds changed the winner
    assert seen["unknown set"] and seen["none qualifies"], seen
    assert len([k for k in seen if k.startswith("best")]) >= 2, seen


@SPACES
def test_simulate_train_eval(pair, space, monkeypatch):
    ours, theirs, indices = pair[space]
    # nats_bench deep-copies a whole record for each latency (10 ms); the latency depends on
    # (index, dataset, hp) only (compared in test_cost_info_latency_and_runs): remember it
    monkeypatch.setattr(theirs, "get_latency", functools.cache(theirs.get_latency))
    ours.reset_time()
    theirs.reset_time()
    random.seed(0)
    for i in indices:
        for hp in HP_TAGS[space]:
            for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
                key = "cifar10-valid" if dataset == "cifar10" else dataset
                runs = theirs.query_by_index(i, key, hp=hp).values()
                for iepoch in (None, *range(int(hp))):
                    what = f"{space} {i} {dataset} hp {hp} iepoch {iepoch}"
                    acc, latency, cost, used = ours.simulate_train_eval(i, dataset, iepoch, hp)
                    b = theirs.simulate_train_eval(i, dataset, iepoch, hp)
                    _close(latency, b[1], f"{what} latency")
                    _close(cost, b[2], f"{what} time cost")
                    _close(used, b[3], f"{what} used time")
                    assert ours.used_time == used
                    # the accuracy is one seed's (x-valid, or ori-test where x-valid is not kept)
                    e = int(hp) - 1 if iepoch is None else iepoch
                    options = [
                        r.eval_acc1es.get(f"x-valid@{e}", r.eval_acc1es.get(f"ori-test@{e}"))
                        for r in runs
                    ]
                    assert any(acc == pytest.approx(o / PERCENT, rel=REL) for o in options), what
    # account_time=False charges nothing; reset_time starts again; the draws are seeded
    before = ours.used_time
    a = ours.simulate_train_eval(indices[0], "cifar100", None, HP_TAGS[space][-1], False)
    b = theirs.simulate_train_eval(indices[0], "cifar100", None, HP_TAGS[space][-1], False)
    assert ours.used_time == before and a[3] == before
    _close(a[3], b[3], "used time after account_time=False")
    ours.reset_time()
    theirs.reset_time()
    assert ours.used_time == theirs.used_time == 0
    root = ours.bench.store.root
    draws = [
        [create(root, space, seed=7).simulate_train_eval(i, "cifar10", 0, "12")[0] for i in indices]
        for _ in range(2)
    ]
    assert draws[0] == draws[1]
    for bad in ("cifar10-valid", "mnist"):
        with pytest.raises(ValueError):
            theirs.simulate_train_eval(indices[0], bad, None, "12")
        with pytest.raises(ValueError):
            ours.simulate_train_eval(indices[0], bad, None, "12")
