"""The two kinds of task an executor runs: one trial alone, or one pack of trials. Each returns one
TrialResult per trial and never raises for a trial that failed or was interrupted. TensorFlow is
imported inside, so the sweep's own process (which only plans and records) never loads it."""

import time
from pathlib import Path

from regexp.errors import failure_reason
from regexp.spec import load_spec
from regexp.store.contract import FINISHED, Status
from regexp.trial import interrupts
from regexp.trial.result import TrialResult, failed_before_start
from regexp.trial.task import Task


def train_alone(task: Task) -> list[TrialResult]:
    """The task's one trial, trained alone (trial/train.py)."""
    (trial,) = task.trials
    started = time.perf_counter()
    try:
        from regexp.trial.train import train_trial

        result = train_trial(load_spec(task.spec_file, list(trial.overrides)), Path(task.runs_dir), task.parent,
                             task.metric, trial.key, task.halving, trial.point)
    except KeyboardInterrupt as exc:  # before its run folder existed: nothing to mark
        return [TrialResult(Status.INTERRUPTED, error=f"interrupted ({interrupts.how(exc)})")]
    except Exception as exc:  # the point's spec or data is wrong (SpecError), or loading it failed
        return [failed_before_start(failure_reason(exc))]
    if result.status in FINISHED:
        result.seconds = round(time.perf_counter() - started, 3)
    return [result]


def train_pack(task: Task) -> list[TrialResult]:
    """The task's trials, trained as one pack (packed/trainer.py)."""
    try:
        from regexp.packed.trainer import run_pack
    except KeyboardInterrupt as exc:
        return [TrialResult(Status.INTERRUPTED, error=f"interrupted ({interrupts.how(exc)})") for _ in task.trials]
    return run_pack(task)
