"""Run the trials of a spec (repeat × cv × search) and keep their state in a parent folder.

The parent folder `<time>_<name>_<hash>_sweep/sweep.json` lists every trial with its status, run
folder and objective, and the best point so far; it is rewritten atomically after each trial, so
re-running the same command (or `--resume PARENT`) skips completed trials and reruns the rest.
Trials run in-process (one worker), in long-lived spawned worker processes, each importing
TensorFlow once with its thread pools sized so that the workers share the cores, or as Ray tasks
(regexp/ray_executor.py).
No TensorFlow is imported by this module itself.
"""

import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from regexp.errors import RunFailed, RunInterrupted, SweepInterrupted, SweepStopped, UserError
from regexp.plan import Point, Trial, objective_of, plan_round, point_of, rounds
from regexp.runfolder import Best, RunMetrics, Status, SweepState, SweepStatus, TrialEntry, TrialStatus, direction
from regexp.runs import now, read_run, write_atomic, write_json
from regexp.spec import LoadedSpec, load_spec
from regexp.sweeplock import SweepLock

MAX_CONSECUTIVE_FAILURES = 3


@dataclass
class Sweep:
    """The parent folder and its sweep.json, kept in memory and rewritten after every change."""

    path: Path
    state: SweepState
    trials: dict[str, TrialEntry] = field(default_factory=dict)  # trial key -> its entry in state.trials

    @classmethod
    def open(cls, loaded: LoadedSpec, overrides: list[str], runs_dir: Path, resume: Path | None) -> "Sweep":
        spec_hash = loaded.spec_hash()
        if resume is None:  # re-running the same command resumes the same sweep
            matches = sorted(runs_dir.glob(f"*_{loaded.spec.name}_{spec_hash}_sweep")) if runs_dir.is_dir() else []
            resume = matches[-1] if matches else None
        if resume is not None:
            state = _read_state(resume)
            return cls(resume, state, {t.key: t for t in state.trials})
        runs_dir.mkdir(parents=True, exist_ok=True)
        path = runs_dir / f"{now():%Y%m%dT%H%M%SZ}_{loaded.spec.name}_{spec_hash}_sweep"
        path.mkdir()
        search = loaded.spec.search
        metric = search.objective.metric if search else "val_loss"
        state = SweepState(
            kind="sweep" if search else "cv" if loaded.spec.cv else "repeat",
            name=loaded.spec.name, spec=str(loaded.file.resolve()), overrides=overrides, spec_hash=spec_hash,
            started=now().isoformat(timespec="milliseconds"), rounds=rounds(loaded),
            objective={"metric": metric, "mode": (search.objective.mode if search else None) or direction(metric)},
        )
        # Trials run from this snapshot (data paths absolute, --set applied), not from the user's
        # file, so editing the spec while a sweep runs or before it resumes cannot change its trials.
        # As written, not resolved: resolved layers pin the defaults that a search point overrides.
        write_atomic(path / "spec.yaml", yaml.safe_dump(loaded.as_written(), sort_keys=False))
        sweep = cls(path, state)
        sweep.save()
        return sweep

    @property
    def spec_file(self) -> str:
        return str(self.path / "spec.yaml")

    @property
    def id(self) -> str:
        return self.path.name

    def save(self) -> None:
        self.state.best = self.best()
        write_json(self.path / "sweep.json", self.state.to_json())

    def add(self, trials: list[Trial]) -> None:
        for trial in trials:
            if trial.key not in self.trials:
                entry = TrialEntry(key=trial.key, round=trial.round, point=dict(trial.point), seed=trial.seed, fold=trial.fold)
                self.state.trials.append(entry)
                self.trials[trial.key] = entry
        self.save()

    def done(self, trial: Trial) -> bool:
        """Completed earlier, and its run folder still says so."""
        entry = self.trials.get(trial.key)
        if entry is None or entry.status != TrialStatus.COMPLETED or not entry.run:
            return False
        return read_run(self.path.parent / entry.run).status == Status.COMPLETED

    def record(self, trial: Trial, result: dict) -> None:
        entry = self.trials[trial.key]
        for key, value in result.items():
            setattr(entry, key, value)
        self.save()

    def point_results(self, round_: int | None = None) -> dict[Point, float]:
        """Mean objective per point over its completed seeds/folds."""
        values: dict[Point, list[float]] = {}
        for entry in self.state.trials:
            if entry.status == TrialStatus.COMPLETED and entry.objective is not None and round_ in (None, entry.round):
                values.setdefault(point_of(entry.point), []).append(entry.objective)
        return {point: sum(v) / len(v) for point, v in values.items()}

    def best(self) -> Best | None:
        results = self.point_results()
        if not results:
            return None
        pick = max if self.state.objective.mode == "max" else min
        point = pick(results, key=results.get)
        runs = [e.run for e in self.state.trials if point_of(e.point) == point and e.status == TrialStatus.COMPLETED]
        return Best(point=dict(point), objective=results[point], n=len(runs), runs=runs)

    def finish(self, status: SweepStatus, message: str | None = None) -> None:
        self.state.status, self.state.ended, self.state.message = status, now().isoformat(timespec="milliseconds"), message
        self.save()


def has_trials(loaded: LoadedSpec) -> bool:
    """The spec runs as several trials (repeat seeds or cv folds), not as one run."""
    return loaded.spec.seeds() != [loaded.spec.seed] or loaded.spec.cv is not None


def run_trials(loaded: LoadedSpec, overrides: list[str], runs_dir: Path, *, search: bool, **options) -> Sweep:
    """repeat × cv (× the search when `search`: `regexp sweep`; `regexp train` runs a spec as written)."""
    if not search and loaded.spec.search is not None:
        overrides = [*overrides, "search=null"]
        loaded = load_spec(loaded.file, overrides)
    return run_sweep(loaded, overrides, runs_dir, **options)


def run_sweep(loaded: LoadedSpec, overrides: list[str], runs_dir: Path, *, workers: int = 1,
              resume: Path | None = None, max_failures: int = MAX_CONSECUTIVE_FAILURES,
              console: Console | None = None, pool=None) -> Sweep:
    """Plan and run every round; returns the sweep (raises SweepStopped or SweepInterrupted).
    One process at a time runs a sweep (sweeplock.py): a second invocation is a UserError."""
    if resume is None:
        plan_round(loaded, overrides)  # validate every point against the user's file: errors name its lines
        identity = (runs_dir, loaded.spec.name, loaded.spec_hash())
    else:
        state = _read_state(resume)
        identity = (resume.parent, state.name, state.spec_hash)
    with SweepLock(*identity):
        sweep = Sweep.open(loaded, overrides, runs_dir, resume)
        sweep.state.workers = workers
        runner = _Runner(sweep, runs_dir, workers, max_failures, console, pool)
        try:
            _run_rounds(sweep, runner)
        except KeyboardInterrupt:
            sweep.finish(SweepStatus.INTERRUPTED, "interrupted by the user (Ctrl-C); resume with the same command")
            raise SweepInterrupted(sweep.path) from None
        except SweepStopped as exc:
            sweep.finish(SweepStatus.STOPPED, str(exc))
            raise
        finally:
            runner.close()
        failed = sum(1 for t in sweep.state.trials if t.status != TrialStatus.COMPLETED)
        sweep.finish(SweepStatus.COMPLETED if not failed else SweepStatus.COMPLETED_WITH_FAILURES,
                     f"{failed} trials did not complete" if failed else None)
    return sweep


def _run_rounds(sweep: Sweep, runner: "_Runner") -> None:
    base = load_spec(sweep.spec_file)  # plan from the snapshot: a resumed sweep continues the same plan
    for round_ in range(1, rounds(base) + 1):
        previous = sweep.point_results(round_ - 1) if round_ > 1 else None
        trials = plan_round(base, [], round_, previous)
        sweep.add(trials)
        runner.run([t for t in trials if not sweep.done(t)], sweep.state.objective.metric)


def _read_state(folder: Path) -> SweepState:
    try:
        return SweepState.model_validate_json((folder / "sweep.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"--resume {folder}: not a sweep folder (its sweep.json is missing or damaged: "
                        f"{type(exc).__name__})") from None


class _LocalPool(ProcessPoolExecutor):
    """Long-lived spawned worker processes on this machine (the default executor)."""

    def __init__(self, workers: int):
        threads = max(1, (os.cpu_count() or 1) // workers)
        super().__init__(workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,))

    def interrupt(self) -> None:
        """SIGTERM to every worker, which turns it into KeyboardInterrupt: its run ends interrupted."""
        if hasattr(self, "terminate_workers"):  # Python 3.14+: the public API
            self.terminate_workers()
            return
        for process in list((self._processes or {}).values()):  # before 3.14 there is no public API for this
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def collect(self, result: dict, runs_dir: Path) -> dict:
        return result


class _Runner:
    """Runs trials in-process, on a pool of spawned workers or on Ray tasks, recording each result."""

    def __init__(self, sweep: Sweep, runs_dir: Path, workers: int, max_failures: int, console: Console | None,
                 pool=None):
        self.sweep, self.runs_dir = sweep, runs_dir
        self.workers, self.max_failures, self.console = workers, max_failures, console
        self.pool = pool  # a RayPool, or a _LocalPool made on first use
        self.consecutive_failures = 0

    def run(self, trials: list[Trial], metric: str) -> None:
        if not trials:
            return
        progress = Progress(TextColumn("trials"), MofNCompleteColumn(), BarColumn(bar_width=20), TimeRemainingColumn(),
                            TextColumn("{task.description}"), console=self.console, disable=self.console is None)
        task = progress.add_task("", total=len(trials))
        counts = {"running": 0, "failed": 0}

        def show():
            best = self.sweep.best()
            text = f"{counts['running']} running, {counts['failed']} failed"
            if best is not None:
                text += f", best {metric} {best.objective:.4f}"
            progress.update(task, description=text)

        with progress:
            if self.workers == 1 and self.pool is None:
                for trial in trials:
                    counts["running"] = 1
                    show()
                    self._record(trial, run_trial(self.sweep.spec_file, trial.overrides,
                                                   str(self.runs_dir), self.sweep.id, metric), counts)
                    counts["running"] = 0
                    progress.advance(task)
                    show()
                return
            pool = self._pool()
            pending: dict[Future, Trial] = {}
            queue = list(trials)
            try:
                while queue or pending:
                    while queue and len(pending) < self.workers:  # keep every worker busy, no more
                        trial = queue.pop(0)
                        self.sweep.record(trial, {"status": TrialStatus.RUNNING})
                        pending[pool.submit(run_trial, self.sweep.spec_file, trial.overrides,
                                            str(self.runs_dir), self.sweep.id, metric)] = trial
                    counts["running"] = len(pending)
                    show()
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        trial = pending.pop(future)
                        self._record(trial, self._result(future), counts)
                        progress.advance(task)
                    show()
                counts["running"] = 0
                show()
            except (KeyboardInterrupt, SweepStopped):
                self._stop(pending)
                raise

    def _record(self, trial: Trial, result: dict, counts: dict) -> None:
        self.sweep.record(trial, result)
        if result["status"] == TrialStatus.INTERRUPTED:
            raise KeyboardInterrupt
        if result["status"] == TrialStatus.COMPLETED:
            self.consecutive_failures = 0
            return
        counts["failed"] += 1
        self.consecutive_failures += 1
        if self.console is not None:
            self.console.print(f"[red]trial failed[/] ({escape(trial.label())}): {escape(str(result['error']))}", highlight=False)
        if self.consecutive_failures >= self.max_failures:
            raise SweepStopped(f"{self.consecutive_failures} trials failed in a row (the last: {result['error']}); "
                               f"fix the spec and resume: regexp sweep --resume {self.sweep.path}")

    def _result(self, future: Future, timeout: float | None = None, lost: TrialStatus = TrialStatus.FAILED) -> dict:
        try:
            return self.pool.collect(future.result(timeout), self.runs_dir)
        except Exception as exc:  # the worker died (and Ray's retry too): its run folder reads `crashed`
            return {"status": lost, "run": None, "objective": None, "error": f"worker lost: {type(exc).__name__}: {exc}"}

    def _stop(self, pending: dict[Future, Trial]) -> None:
        """Ctrl-C or too many failures: running trials finish as interrupted, queued ones never start.
        A second Ctrl-C (or the process-group copy of the first) must not cut this bookkeeping short."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if self.pool is not None:
                self.pool.interrupt()
            for future, trial in pending.items():
                self.sweep.record(trial, self._result(future, timeout=60, lost=TrialStatus.INTERRUPTED))
        finally:
            signal.signal(signal.SIGINT, previous)

    def _pool(self):
        if self.pool is None:
            self.pool = _LocalPool(self.workers)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


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


def run_trial(spec_file: str, overrides: list[str], runs_dir: str, parent: str, metric: str) -> dict:
    """One trial, in a worker or in-process: never raises for a failed or interrupted run."""
    from regexp.train import train

    started = time.perf_counter()
    loaded = load_spec(spec_file, overrides)
    try:
        path = train(loaded, Path(runs_dir), console=None, parent=parent)
    except RunFailed as exc:
        return {"status": TrialStatus.FAILED, "run": Path(exc.run_path).name, "objective": None, "error": exc.reason}
    except KeyboardInterrupt as exc:
        run = Path(exc.run_path).name if isinstance(exc, RunInterrupted) else None
        return {"status": TrialStatus.INTERRUPTED, "run": run, "objective": None, "error": "interrupted"}
    metrics = RunMetrics.model_validate_json((path / "metrics.json").read_text())
    return {"status": TrialStatus.COMPLETED, "run": path.name, "objective": objective_of(metrics, metric), "error": None,
            "seconds": round(time.perf_counter() - started, 3)}
