"""Long-lived spawned worker processes on this machine, each importing TensorFlow once with its
thread pools sized so that the workers share the cores (the default executor for --workers > 1)."""

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path


class LocalPool(ProcessPoolExecutor):
    def __init__(self, workers: int):
        threads = max(1, (os.cpu_count() or 1) // workers)
        super().__init__(workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,))

    def interrupt(self) -> None:
        """SIGTERM to every worker, which turns it into KeyboardInterrupt: its runs end interrupted."""
        if hasattr(self, "terminate_workers"):  # Python 3.14+: the public API
            self.terminate_workers()
            return
        for process in list((self._processes or {}).values()):  # before 3.14 there is no public API for this
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def collect(self, results: list[dict], runs_dir: Path) -> list[dict]:
        return results


def _init_worker(threads: int) -> None:
    """In each spawned worker, before TensorFlow loads: size its thread pools, import it once."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us with SIGTERM
    signal.signal(signal.SIGTERM, _interrupt)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
