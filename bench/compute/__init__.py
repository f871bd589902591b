"""Computing missing entries: read a dataset, build and train (or load) a network, measure every
metric on its predictions, and store the rows; resumable, several processes at once.

Modules: `datasets` (readers of the on-disk formats), `training` (the NATS-Bench protocol),
`run` (the configuration, one network's measurement, the journal and claims, the job), `cli`
(`calnas bench compute`).
"""
