"""Where a sweep's tasks run. The sweep runner (runner.py) does not know which executor it has.

A task is a function and its arguments that trains one trial (runner.run_trial) or one pack of
trials (packed/trainer.run_pack) and returns one result dict per trial. Every executor offers:

    submit(fn, *args) -> Future          start a task (the in-process one runs it right away)
    collect(results, runs_dir) -> list   results as the runner records them (Ray unpacks folders)
    interrupt()                          Ctrl-C: running tasks end with their runs interrupted
    shutdown(wait, cancel_futures)

InProcess (here), LocalPool (local.py: spawned workers) and RayPool (ray.py: Ray tasks).
"""

from concurrent.futures import Future
from pathlib import Path


class InProcess:
    """Runs each task in this process when it is submitted (one worker: no process start-up)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))  # the task functions return failures; KeyboardInterrupt propagates
        return future

    def collect(self, results: list[dict], runs_dir: Path) -> list[dict]:
        return results

    def interrupt(self) -> None:
        pass  # the KeyboardInterrupt already reached the running task in this process

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass
