"""Sweeps on a Ray cluster: `regexp sweep SPEC --executor ray [--address ADDRESS]`.

Each task (one trial, or one pack of trials) is a Ray task that runs the same function as a local
worker, with the CPUs/GPUs given on the command line; Ray's own scheduler places it, and a task
whose worker process dies (killed, out of memory, node lost) is retried once by Ray. Without
--address a local Ray instance is started and stopped with the sweep. Trials write their run
folders to --runs-dir, which must be a path every node reaches (a shared filesystem); with `--no-
shared-fs` each trial trains into a scratch folder on its node and its run folder travels back to
the driver as an archive instead.

Ray is an optional extra (`pip install 'regexp[ray]'`); nothing here imports it until asked.
"""

import io
import os
import tarfile
import tempfile
from concurrent.futures import Future
from pathlib import Path

from regexp.errors import SpecError
from regexp.sweep.executors import TaskFunction
from regexp.trial.result import TrialResult
from regexp.trial.task import Task


class RayPool:
    """The subset of concurrent.futures.Executor the sweep runner uses, on Ray tasks."""

    def __init__(self, address: str | None, cpus: float, gpus: float, shared_fs: bool = True):
        try:
            import ray
        except ImportError:
            raise SpecError("--executor ray needs Ray, an optional extra: pip install 'regexp[ray]'") from None
        self.ray, self.shared_fs = ray, shared_fs
        self.started_here = not ray.is_initialized()
        if self.started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        threads = str(max(1, int(cpus)))  # each trial's TensorFlow sized to its CPUs, as local workers are
        self.options = {"num_cpus": cpus, "num_gpus": gpus, "max_retries": 1,
                        "runtime_env": {"env_vars": {"TF_NUM_INTRAOP_THREADS": threads,
                                                     "TF_NUM_INTEROP_THREADS": threads,
                                                     "OMP_NUM_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "3"}}}
        self.task = ray.remote(**self.options)(_remote_trial)
        self.refs: dict[Future, object] = {}

    @property
    def slots(self) -> int:
        """How many trials the cluster can run at once with these resources."""
        resources = self.ray.cluster_resources()
        fits = [resources.get("CPU", 1) / max(self.options["num_cpus"], 1e-9)]
        if self.options["num_gpus"]:
            fits.append(resources.get("GPU", 0) / self.options["num_gpus"])
        return max(1, int(min(fits)))

    def submit(self, fn: TaskFunction, task: Task) -> Future:
        # the spec snapshot travels as text: a node without the shared filesystem cannot read the file
        ref = self.task.remote(fn, task, Path(task.spec_file).read_text(), self.shared_fs)
        future = ref.future()
        self.refs[future] = ref
        return future

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        """With --no-shared-fs, unpack the run folders that came back with the results."""
        for result in results:
            if result.archive is not None:
                with tarfile.open(fileobj=io.BytesIO(result.archive), mode="r:gz") as tar:
                    tar.extractall(runs_dir, filter="data")
                result.archive = None
        return results

    def interrupt(self) -> None:
        """Ctrl-C: each running trial gets a KeyboardInterrupt and marks its run interrupted."""
        for future, ref in self.refs.items():
            if not future.done():
                self.ray.cancel(ref)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if self.started_here:
            self.ray.shutdown()


def _remote_trial(fn: TaskFunction, task: Task, spec_text: str, shared_fs: bool) -> list[TrialResult]:
    """Runs on a Ray worker: the task from a local copy of the snapshot, its folders shared or shipped."""
    with tempfile.TemporaryDirectory(prefix="regexp-trial-") as scratch:
        spec_file = Path(scratch) / "spec.yaml"  # data paths in the snapshot are absolute already
        spec_file.write_text(spec_text)
        target = task.runs_dir if shared_fs else os.path.join(scratch, "runs")
        results = fn(task.elsewhere(str(spec_file), target))
        for result in results if not shared_fs else []:
            if result.run:
                buffer = io.BytesIO()
                with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                    tar.add(os.path.join(target, result.run), arcname=result.run)
                result.archive = buffer.getvalue()
        return results
