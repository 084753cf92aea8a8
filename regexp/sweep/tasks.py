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


def train_alone(spec_file: str, overrides: list[str], runs_dir: str, parent: str, metric: str,
                key: str, halving: tuple | None = None) -> list[TrialResult]:
    started = time.perf_counter()
    try:
        from regexp.trial.train import train_trial

        result = train_trial(load_spec(spec_file, overrides), Path(runs_dir), parent, metric, key, halving)
    except KeyboardInterrupt as exc:  # before its run folder existed: nothing to mark
        return [TrialResult(Status.INTERRUPTED, error=f"interrupted ({interrupts.how(exc)})")]
    except Exception as exc:  # the point's spec or data is wrong (SpecError), or loading it failed
        return [failed_before_start(failure_reason(exc))]
    if result.status in FINISHED:
        result.seconds = round(time.perf_counter() - started, 3)
    return [result]


def train_pack(spec_file: str, overrides: list[list[str]], runs_dir: str, parent: str, metric: str,
               keys: list[str], pack_id: str, halving=None, points: list[str] | None = None) -> list[TrialResult]:
    try:
        from regexp.packed.trainer import run_pack
    except KeyboardInterrupt as exc:
        return [TrialResult(Status.INTERRUPTED, error=f"interrupted ({interrupts.how(exc)})") for _ in keys]
    return run_pack(spec_file, overrides, runs_dir, parent, metric, pack_id, keys, halving, points)
