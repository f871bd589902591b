"""Computing missing entries: read a dataset, build and train (or load) a network, measure every
metric on its predictions, and store the rows; resumable, several processes at once.

Public names (imported on first use, so ``import bench.compute`` does not import torch):
``ComputeConfig`` (what to compute and how), ``compute`` (a run over many networks, returning a
``ComputeReport``) and ``compute_network`` (one network's rows).

Modules: `config` (ComputeConfig, checked up front), `readers` and `ood` (the dataset files),
`transforms` (tensors and augmentation), `training` (the NATS-Bench protocol), `pack` and
`pack_train` (many TSS networks trained at once, each as alone), `measure` (one network: train or
load, predict, measure), `measure_pack` (a pack of networks, measured as one network is), `journal`
(finished networks and claims), `backends` (in-process, loky, dask), `job` (the run: plan, skip,
dispatch, collect, store, report), `cli` (`calnas bench compute`).

Example:
    >>> from bench.compute import ComputeConfig, compute_network
    >>> rows = compute_network(ComputeConfig("sss", "digits", epochs=1), 0)
    >>> rows[["config", "epoch"]].values.tolist()
    [[0, 1]]
"""

from __future__ import annotations

from bench.lazy import lazy_exports

__all__ = ["ComputeConfig", "ComputeReport", "compute", "compute_network"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ComputeConfig": "bench.compute.config",
        "ComputeReport": "bench.compute.job",
        "compute": "bench.compute.job",
        "compute_network": "bench.compute.measure",
    },
)
