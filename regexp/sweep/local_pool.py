"""Long-lived spawned worker processes on this machine, each importing TensorFlow once with its
thread pools sized so that the workers share the cores (the default executor for --workers > 1)."""

import atexit
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from regexp import compat
from regexp.trial import interrupts
from regexp.trial.result import TrialResult


class LocalPool(ProcessPoolExecutor):
    def __init__(self, workers: int):
        threads = max(1, (os.cpu_count() or 1) // workers)
        super().__init__(workers, mp_context=get_context("spawn"), initializer=init_worker, initargs=(threads,))
        for _ in range(workers):  # each submit starts a worker: they import TensorFlow while the parent plans
            self.submit(_started)

    def interrupt(self) -> None:
        """SIGTERM to every worker: each stops its trial or pack at the next step boundary, its runs interrupted."""
        compat.signal_workers(self, signal.SIGTERM)

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        return results


def init_worker(threads: int) -> None:
    """In each spawned worker, before TensorFlow loads: size its thread pools, import it once."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which asks us with SIGTERM
    interrupts.install((signal.SIGTERM,))
    if not os.environ.get("REGEXP_VERBOSE"):
        compat.QuietTensorFlowImport.install()
    atexit.register(_exit_now)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _started() -> None:
    """The task that starts a worker early; nothing to do."""


def _exit_now() -> None:
    """A worker's last step (the first atexit handler to run): Python's finalization would spend
    about a second tearing TensorFlow down while the sweep waits for its workers to end. Every
    result has been sent by then (the pool's result queue writes synchronously) and every run
    folder's files are closed, as in __main__.main."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
