"""Where a sweep's tasks run. The sweep runner (runner.py) knows only the Executor protocol and
TrialResult: a task (tasks.py) trains one trial alone or one pack and returns one TrialResult per
trial. InProcess (here), LocalPool (local_pool.py: spawned workers), RayPool (ray_pool.py: Ray
tasks) and SlurmPool (slurm_pool.py: Slurm job arrays) implement it. An executor with a queue of its
own (SlurmPool) also has flush(), which starts the tasks handed to it since the last one, and
settle(), which the runner calls before it plans.
"""

from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from regexp.trial.result import TrialResult


class Executor(Protocol):
    def submit(self, fn, *args) -> Future:
        """Start a task (the in-process executor runs it right away)."""

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        """A finished task's results as the runner records them (Ray unpacks shipped run folders)."""

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM: running tasks stop at their next step boundary, their runs interrupted."""

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None: ...


class InProcess:
    """Runs each task in this process when it is submitted (one worker: no process start-up)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))  # tasks return failures and interrupts as results
        return future

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        return results

    def interrupt(self) -> None:
        pass  # the running task saw the same flag (trial/interrupts.py) in this process

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass
