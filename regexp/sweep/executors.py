"""Where a sweep's tasks run. The sweep runner (runner.py) knows only the Executor protocol, the
Task it submits (trial/task.py) and the TrialResults a task function returns: `fn(task)` (tasks.py)
trains one trial alone or one pack and returns one TrialResult per trial, never raising for a trial
that failed or was interrupted. InProcess (here), LocalPool (local_pool.py: spawned workers),
RayPool (ray_pool.py: Ray tasks) and SlurmPool (slurm_pool.py: Slurm job arrays) implement it; `fn`
and `task` pickle, for executors in other processes. An executor with a queue of its own
(SlurmPool) also has flush(), which starts the tasks handed to it since the last one, and settle(),
which the runner calls before it plans.
"""

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from regexp.trial.result import TrialResult
from regexp.trial.task import Task

TaskFunction = Callable[[Task], list[TrialResult]]


class Executor(Protocol):
    def submit(self, fn: TaskFunction, task: Task) -> Future:
        """Start `fn(task)`; the future's result is its list of TrialResult (the in-process executor runs it
        right away)."""

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        """A finished task's results as the runner records them (Ray unpacks shipped run folders)."""

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM: running tasks stop at their next step boundary, their runs interrupted."""

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None: ...


class InProcess:
    """Runs each task in this process when it is submitted (one worker: no process start-up)."""

    def submit(self, fn: TaskFunction, task: Task) -> Future:
        future: Future = Future()
        future.set_result(fn(task))  # tasks return failures and interrupts as results
        return future

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        return results

    def interrupt(self) -> None:
        pass  # the running task saw the same flag (trial/interrupts.py) in this process

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass
