"""A search's progress bar on stderr (tqdm): what a worker shows while it runs.

Example:
    >>> from search import run_search
    >>> _ = run_search("tss", "digits", "acc,pre_ECE_15", "random", trials=5, progress=True)
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

from search.config import SearchConfig
from search.indicators import normalized_hypervolume, reference_point
from search.problem import Problem

if TYPE_CHECKING:
    from search.worker import Ledger

__all__ = ["Progress"]


class Progress:
    """A tqdm bar: distinct architectures queried (of the budget, else of all the table holds),
    with trials, simulated seconds, the best value of each objective and the normalized HV of
    the (final-epoch, feasible) front found so far. Redrawn at most twice a second.

    Args:
        problem: what is searched.
        config: the search (for its budget).
        n_unique: distinct architectures the table can answer.
    """

    _EVERY_S = 0.5

    def __init__(self, problem: Problem, config: SearchConfig, n_unique: int) -> None:
        from tqdm import tqdm

        self.problem, self.config = problem, config
        total = n_unique if config.trials is None else min(config.trials, n_unique)
        self.bar = tqdm(total=total, unit="arch", desc=f"{problem.space}/{problem.dataset}",
                        file=sys.stderr, dynamic_ncols=True, leave=True)  # fmt: skip
        self.true: np.ndarray | None = None
        self.ref: np.ndarray | None = None
        if problem.compute is None:  # the compute backend's true front is known only at the end
            try:
                self.true = problem.true_front()[1]
                self.ref = reference_point(self.true, problem.objectives)
            except ValueError:
                self.true = None
        self._found: dict[int, list[float]] = {}  # rep -> objective values, usable and feasible
        self._done: set[int] = set()
        self._last = -math.inf

    def show(self, ledger: Ledger, *, force: bool = False) -> None:
        """Redraw from the ledger (unless the last redraw is under half a second old)."""
        now = time.monotonic()
        if not force and now - self._last < self._EVERY_S:
            return
        self._last = now
        self.bar.n = min(len(ledger.charges), self.bar.total)
        self.bar.set_postfix_str(self._postfix(ledger), refresh=False)
        self.bar.refresh()

    def close(self, ledger: Ledger) -> None:
        """Draw the final state and close the bar."""
        self.show(ledger, force=True)
        self.bar.close()

    def _postfix(self, ledger: Ledger) -> str:
        objs = self.problem.objectives
        for rep in ledger.complete - self._done:
            self._done.add(rep)
            vals = self.problem.final_values(rep)
            v = [o.value(vals) for o in objs]
            if all(math.isfinite(x) for x in v) and self.problem.feasible(vals):
                self._found[rep] = v
        budget = f"/{self.config.budget_seconds:,.0f}" if self.config.budget_seconds else ""
        parts = [f"trials {ledger.trials}", f"sim {ledger.clock:,.0f}{budget} s"]
        if self._found:
            found = np.array(list(self._found.values()), dtype=np.float64)
            best = [(found[:, j].max() if o.sign < 0 else found[:, j].min())
                    for j, o in enumerate(objs)]  # fmt: skip
            parts.append(
                "best " + " ".join(f"{o.name} {b:.4g}" for o, b in zip(objs, best, strict=True))
            )
            if self.true is not None:
                nhv = normalized_hypervolume(found, self.true, objs, self.ref)
                parts.append(f"HV {nhv:.3f}")
        return ", ".join(parts)
