"""Long-lived spawned worker processes on this machine, each importing TensorFlow once with its
thread pools sized so that the workers share the cores (the default executor for --workers > 1)."""

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from regexp import compat
from regexp.trial import interrupts


class LocalPool(ProcessPoolExecutor):
    def __init__(self, workers: int):
        threads = max(1, (os.cpu_count() or 1) // workers)
        super().__init__(workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,))

    def interrupt(self) -> None:
        """SIGTERM to every worker: each stops its trial or pack at the next step boundary, its runs interrupted."""
        compat.signal_workers(self, signal.SIGTERM)

    def collect(self, results: list, runs_dir: Path) -> list:
        return results


def _init_worker(threads: int) -> None:
    """In each spawned worker, before TensorFlow loads: size its thread pools, import it once."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which asks us with SIGTERM
    interrupts.install((signal.SIGTERM,))
    if not os.environ.get("REGEXP_VERBOSE"):
        compat.QuietTensorFlowImport.install()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
