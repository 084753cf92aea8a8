"""Sweeps on a Slurm cluster: `regexp sweep SPEC --executor slurm`, through submitit.

The runner hands every task of a round (a search round, a decide look) at once and calls flush();
the tasks go to Slurm as one job array (submitit's executor.batch()), each array task the same
function call a local worker makes (a pack, or a trial alone), run by `_in_job` with the spec's
`slurm` resources. A thread watches the jobs (the result file submitit writes to the shared folder
for each, and squeue now and then for jobs that end without one) and resolves each task's future
with its results, so the runner records them as it records a local worker's.

Faults. A job that Slurm stops (scancel, preemption, the time limit: submitit asks for SIGUSR2 90 s
before it) gets SIGTERM or SIGUSR2; its trials stop at their next step boundary and end
interrupted, with their resume point, and the task is submitted again, up to RESUBMITS times. A
job that ends with no result at all (killed outright, a node lost) is submitted again too, except
after FAILED or OUT_OF_MEMORY, which a second try does not change. Ctrl-C on the sweep cancels its
jobs. Jobs in flight are listed in jobs.json: a sweep process that died leaves them in the queue,
and the same command run again waits for them first (settle(), under the sweep's lock, before it
plans), so that the trials they finish are kept from their run folders like those of any sweep
that ended before it could record them, and only the rest train.

Files: `<runs dir>/.<name>_<hash>_slurm/` beside the sweep's lock holds submitit's job pickles,
results and logs (`<job>_0_log.err`: a job's traceback) and jobs.json. submitit is an optional
extra (`pip install 'regexp[slurm]'`); nothing here imports it until asked.
"""

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from regexp.errors import SweepStopped, failure_reason, first_line
from regexp.spec import LoadedSpec
from regexp.spec.slurm import Slurm
from regexp.store.contract import Status
from regexp.store.files import write_atomic
from regexp.sweep import slurm_queue
from regexp.sweep.executors import TaskFunction
from regexp.sweep.identity import sweep_identity
from regexp.trial import interrupts
from regexp.trial.result import TrialResult
from regexp.trial.task import Task

RESUBMITS = 3    # more attempts per task when Slurm ends its job before its trials ended
POLL_S = 0.5     # how often the watcher looks for results in the shared folder
QUEUE_S = 10.0   # and asks squeue (an ask costs the controller; results come through the folder)
GRACE_S = 20.0   # a job gone from the queue may still be writing its result to the shared folder


class JobLost(Exception):
    """A task's job ended without results the sweep can use (the runner records its trials failed)."""


@dataclass
class _Task:
    call: tuple                 # (function, Task): what a local worker would be handed
    future: Future = field(default_factory=Future)
    job: object = None          # submitit's SlurmJob once submitted
    attempts: int = 0
    started: bool = False       # seen running: a cancelled job that never started writes no result
    submitted: float = 0.0      # time.monotonic() when its job was submitted
    gone_since: float | None = None  # when squeue first no longer showed its job in flight


def slurm_pool(loaded: LoadedSpec, runs_dir: Path, resume: Path | None, workers: int | None,
               say: Callable[[str], None] | None = None) -> "SlurmPool":
    """The pool of this command's sweep, with `workers` jobs at once (default: what the partition holds)."""
    settings = loaded.spec.slurm
    return SlurmPool(*_where(loaded, runs_dir, resume), settings, workers or slurm_queue.slots(settings), say)


def plan_lines(loaded: LoadedSpec, runs_dir: Path, resume: Path | None, workers: int, tasks: int) -> list[str]:
    """--dry-run: the first round's job array and its sbatch lines."""
    return slurm_queue.array_lines(loaded.spec.slurm, workers, tasks, *_where(loaded, runs_dir, resume))


def _where(loaded: LoadedSpec, runs_dir: Path, resume: Path | None) -> tuple[Path, str]:
    """The folder of a sweep's jobs, beside its lock, and the name its jobs carry in squeue."""
    runs, name, key = sweep_identity(loaded, runs_dir, resume)
    return runs / f".{name}_{key}_slurm", f"regexp-{name}-{key}"


class SlurmPool:
    """The subset of concurrent.futures.Executor the sweep runner uses, on Slurm job arrays."""

    def __init__(self, folder: Path, job_name: str, settings: Slurm, workers: int,
                 say: Callable[[str], None] | None = None):
        self.folder, self.job_name, self.say = folder, job_name, say or (lambda line: None)
        self.threads, self.gpus, self.slots = settings.cpus_per_task, settings.gpus_per_task, workers
        self.ledger = folder / "jobs.json"
        parameters = slurm_queue.sbatch_parameters(settings, workers, job_name)
        slurm_queue.check_sbatch(settings, parameters, folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.executor = slurm_queue.submitit().SlurmExecutor(folder=folder, max_num_timeout=0)
        self.executor.update_parameters(**parameters)
        self.tasks: list[_Task] = []  # submitted, not resolved yet
        self.buffered: list[_Task] = []
        self.stopping = False
        self.lock = threading.RLock()
        self.closed = threading.Event()
        self.watcher: threading.Thread | None = None
        self.states: dict[str, str] | None = {}  # squeue's answer at its last ask (None: it did not answer)
        self.asked = -QUEUE_S

    # ------------------------------------------------------------------------------ the runner's side
    def settle(self) -> None:
        """Wait for the jobs an earlier sweep process submitted and left queued or running (jobs.json):
        what they finish is then in their run folders, and this sweep keeps it instead of training
        those trials again. Ctrl-C cancels them."""
        earlier = _read_ledger(self.ledger)
        waiting = self._in_flight(earlier) if earlier else []
        if waiting:
            self.say(f"slurm: waiting for {_count(len(waiting), 'job')} that an earlier run of this sweep submitted "
                     f"({', '.join(waiting)}); the trials they finish are kept, not trained again")
        try:
            while waiting:
                for _ in range(int(QUEUE_S / 0.2)):
                    interrupts.check()
                    time.sleep(0.2)
                waiting = self._in_flight(waiting)
        except KeyboardInterrupt:
            slurm_queue.cancel(waiting)
            raise
        self._save_ledger()

    def _in_flight(self, jobs: list[str]) -> list[str]:
        """Those of `jobs` still queued or running (all of them while squeue does not answer)."""
        states = slurm_queue.queue_states(self.job_name)
        return [job for job in jobs if states is None or states.get(job) in slurm_queue.IN_FLIGHT]

    def submit(self, fn: TaskFunction, task: Task) -> Future:
        """Take a task; flush() submits it."""
        task = _Task((fn, task))
        with self.lock:
            self.buffered.append(task)
        return task.future

    def flush(self) -> None:
        """Submit the tasks taken since the last flush as one job array."""
        with self.lock:
            tasks, self.buffered = self.buffered, []
            if tasks:
                self._sbatch(tasks)
            if self.tasks and (self.watcher is None or not self.watcher.is_alive()):
                self.watcher = threading.Thread(target=self._watch, daemon=True, name="slurm-watcher")
                self.watcher.start()

    def collect(self, results: list[TrialResult], runs_dir: Path) -> list[TrialResult]:
        return results  # the run folders are on the shared filesystem already

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM on the sweep: cancel its jobs. Running ones get SIGTERM from Slurm and end
        their trials interrupted; queued ones never start."""
        with self.lock:
            self.stopping, self.asked = True, -QUEUE_S  # and ask squeue at the next look: what never started ends now
            for task in self.buffered:
                task.future.set_exception(JobLost("never submitted"))
            self.buffered = []
            slurm_queue.cancel(sorted({task.job.job_id.split("_")[0] for task in self.tasks}))

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.closed.set()
        if self.watcher is not None:
            self.watcher.join(timeout=2 * POLL_S)

    # ------------------------------------------------------------------------------ submitting
    def _sbatch(self, tasks: list[_Task]) -> None:
        """One job array for `tasks` (lock held). sbatch refusing it stops the sweep with its reason."""
        from submitit.core.utils import FailedJobError

        try:
            with self.executor.batch():
                jobs = [self.executor.submit(_in_job, *task.call, self.threads, self.gpus) for task in tasks]
        except FailedJobError as exc:
            reason = "; ".join(line.removeprefix("sbatch: error: ") for line in str(exc).splitlines() if line.strip())
            for task in tasks:
                task.future.set_exception(JobLost(f"sbatch refused its job: {reason}"))
            raise SweepStopped(f"sbatch refused a job array of {len(tasks)} tasks: {reason}") from None
        for task, job in zip(tasks, jobs):
            task.job, task.attempts, task.started, task.gone_since = job, task.attempts + 1, False, None
            task.submitted = time.monotonic()
        self.tasks += tasks
        self._save_ledger()
        self.say(f"slurm: job array {jobs[0].job_id.split('_')[0]} submitted ({_count(len(tasks), 'task')}; logs in "
                 f"{self.folder})")

    def _save_ledger(self) -> None:
        """jobs.json: the jobs in flight, for the next sweep process should this one die."""
        write_atomic(self.ledger, json.dumps([task.job.job_id for task in self.tasks]))

    # ------------------------------------------------------------------------------ watching
    def _watch(self) -> None:
        while not self.closed.wait(POLL_S):
            try:
                self._look()
            except Exception as exc:  # a bug here would leave the sweep waiting for ever: its tasks fail instead
                with self.lock:
                    for task in list(self.tasks):
                        self._resolve(task, JobLost(f"watching its Slurm job failed: {failure_reason(exc)}"))
                return

    def _look(self) -> None:
        """One look at every job in flight: resolve those that ended, resubmit those Slurm stopped."""
        with self.lock:
            tasks = list(self.tasks)
        if tasks and time.monotonic() - self.asked >= QUEUE_S:
            self.states, self.asked = slurm_queue.queue_states(self.job_name), time.monotonic()
        states = self.states
        if states is None:
            return  # squeue did not answer: nothing is judged lost on its silence
        again: list[tuple[_Task, str]] = []
        for task in tasks:
            state = states.get(task.job.job_id)  # as squeue said at its last ask
            task.started = task.started or state in ("RUNNING", "COMPLETING")
            if task.job.paths.result_pickle.exists():
                self._ended(task, self._results(task), state or "COMPLETED", again)
            elif state in slurm_queue.IN_FLIGHT or self.asked < task.submitted:  # or squeue has not seen it yet
                task.gone_since = None
            else:  # gone without a result: it may still be on its way through the shared filesystem
                task.gone_since = task.gone_since or time.monotonic()
                grace = 0.0 if self.stopping and not task.started else GRACE_S  # cancelled while queued
                if time.monotonic() - task.gone_since >= grace:
                    state = state or slurm_queue.accounted_state(task.job.job_id) or "ended (state unknown)"
                    self._ended(task, None, state, again)
        if again:
            self._resubmit(again)

    def _results(self, task: _Task) -> list[TrialResult] | JobLost:
        try:
            return task.job.result()
        except Exception as exc:  # the task raised in the job: submitit's message holds its traceback
            parts = str(exc).split("-" * 22)
            lines = [line for line in (parts[1] if len(parts) > 2 else str(exc)).splitlines() if line.strip()]
            return JobLost(f"Slurm job {task.job.job_id} raised {first_line(lines[-1] if lines else str(exc))} "
                           f"(log: {task.job.paths.stderr})")

    def _ended(self, task: _Task, results, state: str, again: list) -> None:
        """Resolve a task whose job ended, or put it in `again` to resubmit."""
        interrupted = isinstance(results, list) and any(r.status == Status.INTERRUPTED for r in results)
        if isinstance(results, list) and (self.stopping or not interrupted):
            return self._resolve(task, results)
        if isinstance(results, JobLost):
            return self._resolve(task, results)
        stopped_all = results is None or all(r.status == Status.INTERRUPTED for r in results)
        if not self.stopping and stopped_all and state not in slurm_queue.HOPELESS and task.attempts <= RESUBMITS:
            # squeue's state of a job whose result came is as old as its last ask: the trials say what stopped them
            again.append((task, f"{state}, no result" if results is None else f"its trials {results[0].error}"))
        elif results is None:
            self._resolve(task, JobLost(f"Slurm job {task.job.job_id} ended {state} without a result "
                                        f"(log: {task.job.paths.stderr})"))
        else:  # a pack some of whose trials ended before Slurm stopped it, or out of attempts: kept as they are
            self._resolve(task, [_stopped_by_slurm(r, task) for r in results])

    def _resolve(self, task: _Task, outcome) -> None:
        with self.lock:
            self.tasks.remove(task)
            self._save_ledger()
        if isinstance(outcome, Exception):
            task.future.set_exception(outcome)
        else:
            task.future.set_result(outcome)

    def _resubmit(self, again: list[tuple[_Task, str]]) -> None:
        with self.lock:
            if self.stopping:
                for task, state in again:
                    self._resolve(task, JobLost(f"Slurm job {task.job.job_id} ended {state}"))
                return
            slurm_queue.cancel([task.job.job_id for task, _ in again])  # in case Slurm itself requeued one
            for task, state in again:
                self.tasks.remove(task)
                self.say(f"slurm: job {task.job.job_id} ended before its trials did ({state}): submitted again "
                         f"(attempt {task.attempts + 1} of {RESUBMITS + 1})")
            try:
                self._sbatch([task for task, _ in again])
            except SweepStopped as exc:
                self.say(str(exc))


def _in_job(fn: TaskFunction, task: Task, threads: int, gpus: int) -> list[TrialResult]:
    """Runs in each Slurm job (submitit unpickles and calls it): the task as a local worker runs it,
    TensorFlow sized to the job's CPUs. scancel's and preemption's SIGTERM and the time limit's
    SIGUSR2 (in place of submitit's handlers, which would requeue the job or raise mid-step) stop
    the trials at their next step boundary, interrupted, as Ctrl-C does on a local worker."""
    from regexp.sweep.local_pool import init_worker

    if not gpus:  # a CPU task on a GPU node leaves the node's GPUs to the jobs that asked for them
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    init_worker(threads)
    signal.signal(signal.SIGUSR2, lambda number, frame: os.kill(os.getpid(), signal.SIGTERM))
    return fn(task)


def _stopped_by_slurm(result: TrialResult, task: _Task) -> TrialResult:
    """An interrupted trial the sweep will not run again now: failed in sweep.json (so that the sweep
    goes on; running the command again trains it), its run folder interrupted with its resume point."""
    if result.status != Status.INTERRUPTED:
        return result
    return TrialResult(Status.FAILED, run=result.run, error=f"Slurm stopped its job {task.job.job_id} "
                       f"({result.error}) after {task.attempts} attempts; run the same command to train it again")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("s" if n != 1 else "")


def _read_ledger(path: Path) -> list[str]:
    try:
        jobs = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [job for job in jobs if isinstance(job, str)] if isinstance(jobs, list) else []
