"""What a sweep hands an executor: one task, a trial alone or a pack of trials trained as one graph,
as one picklable record. The executor (sweep/executors.py, local_pool.py, ray_pool.py, or any other
that keeps the protocol) calls a task function with it in some process; the function returns one
TrialResult per trial (trial/result.py).

Defined here, below the sweep, because the engines that run a task (trial/train.py, packed/trainer.py)
read it; search.halving reaches them as `Rungs`, the part of the sweep's rule a trial applies.
"""

from dataclasses import dataclass, replace
from typing import Protocol


class Rungs(Protocol):
    """search.halving as a trial applies it (sweep/halving.py's Halving): at each rung epoch it
    reports its `column` and learns whether its point goes on."""

    rungs: tuple[int, ...]
    column: str  # the objective's history column

    def decide(self, epoch: int, reports: dict[str, tuple[str, float]]) -> dict[str, str | None]:
        """trial key -> (point key, value) at `epoch`; returns trial key -> None (go on) or why it is pruned."""


@dataclass(frozen=True)
class TaskTrial:
    """One trial of a task."""

    key: str                    # its key in sweep.json
    overrides: tuple[str, ...]  # its point, seed and fold as --set overrides of the sweep's spec snapshot
    point: str                  # its point's key: search.halving decides per point, over its seeds and folds


@dataclass(frozen=True)
class Task:
    """One unit of work for an executor: `trials` train alone (one) or as a pack (several)."""

    spec_file: str                  # the sweep's spec.yaml snapshot
    runs_dir: str                   # where the run folders go
    parent: str                     # the sweep's id, written into each run.json
    metric: str                     # the sweep's objective, each run's reported value
    trials: tuple[TaskTrial, ...]
    pack_id: str | None = None      # a pack's id (its runs name it); None for a trial alone
    halving: Rungs | None = None    # the sweep's search.halving, shared by every task

    def elsewhere(self, spec_file: str, runs_dir: str) -> "Task":
        """The same task reading its spec and writing its runs at other paths (a Ray node's scratch)."""
        return replace(self, spec_file=spec_file, runs_dir=runs_dir)
