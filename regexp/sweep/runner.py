"""Run the trials of a spec (repeat × cv × search) and keep their state in a parent folder.

The parent folder `<time>_<name>_<hash>_sweep/sweep.json` lists every trial with its status, run
folder and objective, and the best point so far; it is rewritten atomically after each trial, so
re-running the same command (or `--resume PARENT`) skips completed trials and reruns the rest.
Trials that can share a pack (packed/grouping.py) are trained together (--pack auto|off|N); a pack
or a trial alone is a task, run in-process (one worker), on spawned local workers or as a Ray
task (regexp/sweep/). No TensorFlow is imported by this module itself.
"""

import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from regexp.errors import RunFailed, RunInterrupted, SweepInterrupted, SweepStopped, UserError
from regexp.sweep.executors import InProcess
from regexp.sweep.local_pool import LocalPool
from regexp.packed.grouping import Pack, group
from regexp.sweep.trials import Point, Trial, objective_of, plan_round, point_of, rounds
from regexp.store.contract import Best, RunMetrics, Status, SweepState, SweepStatus, TrialEntry, TrialStatus, direction
from regexp.store.folders import now, read_run, write_atomic, write_json
from regexp.spec import LoadedSpec, load_spec
from regexp.sweep.lock import SweepLock

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

    def record(self, results: list[tuple[Trial, dict]]) -> None:
        """Update these trials' entries, then rewrite sweep.json once: a pack's 225 results are one
        change (saved per trial, the 327 KB file of a 900-trial sweep kept a worker idle for 5 s)."""
        for trial, result in results:
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
              console: Console | None = None, pool=None, pack: str | int = "auto") -> Sweep:
    """Plan and run every round; returns the sweep (raises SweepStopped or SweepInterrupted).
    One process at a time runs a sweep (lock.py): a second invocation is a UserError."""
    if resume is None:
        plan_round(loaded, overrides)  # validate every point against the user's file: errors name its lines
        identity = (runs_dir, loaded.spec.name, loaded.spec_hash())
    else:
        state = _read_state(resume)
        identity = (resume.parent, state.name, state.spec_hash)
    with SweepLock(*identity):
        sweep = Sweep.open(loaded, overrides, runs_dir, resume)
        sweep.state.workers = workers
        runner = _Runner(sweep, runs_dir, workers, max_failures, console, pool, pack)
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


class _Runner:
    """Groups trials into tasks (packs, or trials alone), runs them on an executor, records each result."""

    def __init__(self, sweep: Sweep, runs_dir: Path, workers: int, max_failures: int, console: Console | None,
                 pool=None, pack: str | int = "auto"):
        self.sweep, self.runs_dir = sweep, runs_dir
        self.workers, self.max_failures, self.console, self.pack = workers, max_failures, console, pack
        self.pool = pool  # a RayPool, or made on first use: InProcess for one worker, else a LocalPool
        self.consecutive_failures = 0

    def tasks(self, trials: list[Trial], metric: str) -> list[tuple]:
        """(function, arguments, trials) per task: one per pack, one per trial that runs alone."""
        packs = plan_packs(self.sweep.spec_file, [], trials, self.pack, self.workers)
        if self.console is not None:
            for line in pack_lines(packs, len(trials)):
                self.console.print(line, highlight=False)
        common = (str(self.runs_dir), self.sweep.id, metric)
        out = []
        for i, pack in enumerate(packs):
            members = [trials[m] for m in pack.members]
            if len(members) == 1:
                out.append((run_alone, (self.sweep.spec_file, members[0].overrides, *common), members))
            else:
                pack_id = f"{self.sweep.id}/round{members[0].round}-pack{i}"
                out.append((run_pack, (self.sweep.spec_file, [t.overrides for t in members], *common, pack_id), members))
        return out

    def run(self, trials: list[Trial], metric: str) -> None:
        if not trials:
            return
        tasks = self.tasks(trials, metric)
        progress = Progress(TextColumn("trials"), MofNCompleteColumn(), BarColumn(bar_width=20), TimeRemainingColumn(),
                            TextColumn("{task.description}"), console=self.console, disable=self.console is None)
        bar = progress.add_task("", total=len(trials))
        counts = {"running": 0, "failed": 0}

        def show():
            best = self.sweep.best()
            text = f"{counts['running']} running, {counts['failed']} failed"
            if best is not None:
                text += f", best {metric} {best.objective:.4f}"
            progress.update(bar, description=text)

        with progress:
            pool = self._pool()
            pending: dict[Future, list[Trial]] = {}
            queue = list(tasks)
            try:
                while queue or pending:
                    while queue and len(pending) < self.workers:  # keep every worker busy, no more
                        fn, args, members = queue.pop(0)
                        self.sweep.record([(trial, {"status": TrialStatus.RUNNING}) for trial in members])
                        counts["running"] = len(members) + sum(len(m) for m in pending.values())
                        show()
                        pending[pool.submit(fn, *args)] = members
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        members = pending.pop(future)
                        self._record(members, self._results(future, members), counts)
                        progress.advance(bar, len(members))
                    counts["running"] = sum(len(m) for m in pending.values())
                    show()
            except (KeyboardInterrupt, SweepStopped):
                self._stop(pending)
                raise

    def _record(self, trials: list[Trial], results: list[dict], counts: dict) -> None:
        self.sweep.record(list(zip(trials, results)))
        interrupted = False
        for trial, result in zip(trials, results):
            if result["status"] == TrialStatus.INTERRUPTED:
                interrupted = True
            elif result["status"] == TrialStatus.COMPLETED:
                self.consecutive_failures = 0
            else:
                counts["failed"] += 1
                self.consecutive_failures += 1
                if self.console is not None:
                    self.console.print(f"[red]trial failed[/] ({escape(trial.label())}): {escape(str(result['error']))}",
                                       highlight=False)
        if interrupted:
            raise KeyboardInterrupt
        if self.consecutive_failures >= self.max_failures:
            raise SweepStopped(f"{self.consecutive_failures} trials failed in a row (the last: {results[-1]['error']}); "
                               f"fix the spec and resume: regexp sweep --resume {self.sweep.path}")

    def _results(self, future: Future, trials: list[Trial], timeout: float | None = None,
                 lost: TrialStatus = TrialStatus.FAILED) -> list[dict]:
        try:
            return self.pool.collect(future.result(timeout), self.runs_dir)
        except Exception as exc:  # the worker died (and Ray's retry too): its run folders read `crashed`
            return [{"status": lost, "run": None, "objective": None, "error": f"worker lost: {type(exc).__name__}: {exc}"}
                    for _ in trials]

    def _stop(self, pending: dict[Future, list[Trial]]) -> None:
        """Ctrl-C or too many failures: running trials finish as interrupted, queued ones never start.
        A second Ctrl-C (or the process-group copy of the first) must not cut this bookkeeping short."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.pool.interrupt()
            for future, trials in pending.items():
                self.sweep.record(list(zip(trials, self._results(future, trials, timeout=60, lost=TrialStatus.INTERRUPTED))))
        finally:
            signal.signal(signal.SIGINT, previous)

    def _pool(self):
        if self.pool is None:
            self.pool = InProcess() if self.workers == 1 else LocalPool(self.workers)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def plan_packs(spec_file, overrides: list[str], trials: list[Trial], pack: str | int, workers: int) -> list[Pack]:
    """Which trials train together (packed/grouping.py); with --pack off no trial's spec needs loading."""
    specs = [load_spec(spec_file, [*overrides, *t.overrides]) for t in trials] if pack != "off" else trials
    return group(specs, pack, workers)


def pack_lines(packs: list[Pack], trials: int) -> list[str]:
    """How the trials were grouped, and why any runs alone (shown before a sweep and by --dry-run)."""
    packed = [p for p in packs if len(p.members) > 1]
    alone = [p for p in packs if len(p.members) == 1]
    sizes = sorted({len(p.members) for p in packed})
    lines = [f"{trials} trials: {sum(len(p.members) for p in packed)} in {len(packed)} packs"
             + (f" of {'/'.join(map(str, sizes))}" if sizes else "") + f", {len(alone)} alone"]
    reasons: dict[str, int] = {}
    for p in alone:
        reasons[p.reason or "alone"] = reasons.get(p.reason or "alone", 0) + 1
    lines += [f"  alone ({n}): {reason}" for reason, n in reasons.items()]
    return lines


def run_alone(spec_file: str, overrides: list[str], runs_dir: str, parent: str, metric: str) -> list[dict]:
    return [run_trial(spec_file, overrides, runs_dir, parent, metric)]


def run_pack(spec_file: str, overrides: list[list[str]], runs_dir: str, parent: str, metric: str,
             pack_id: str) -> list[dict]:
    from regexp.packed.trainer import run_pack as train_pack  # TensorFlow: only where the pack trains

    return train_pack(spec_file, overrides, runs_dir, parent, metric, pack_id)


def run_trial(spec_file: str, overrides: list[str], runs_dir: str, parent: str, metric: str) -> dict:
    """One trial, in a worker or in-process: never raises for a failed or interrupted run."""
    from regexp.trial.train import train

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
