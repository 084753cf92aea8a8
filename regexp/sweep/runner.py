"""Run the trials of a spec (repeat × cv × search) and keep their state in a sweep folder (state.py).

Re-running the same command (or `--resume PARENT`) skips completed trials and reruns the rest.
Trials that can share a pack (packed/grouping.py) are trained together (--pack auto|off|N); a pack
or a trial alone is a task (tasks.py), run by an executor (executors.py): in-process (one worker),
on spawned local workers or as Ray tasks. The runner knows only the executor protocol and the
TrialResult each task returns. A trial whose point has a spec or data error fails alone and the
sweep goes on; it ends "completed with failures" (exit 1). No TensorFlow in this process.
"""

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from regexp.errors import SweepInterrupted, SweepStopped, failure_reason
from regexp.packed.grouping import Pack, group
from regexp.spec import LoadedSpec, load_spec
from regexp.store.contract import FINISHED, Status
from regexp.sweep.executors import Executor, InProcess, TaskFunction
from regexp.sweep.halving import Halving
from regexp.sweep.identity import sweep_identity
from regexp.sweep.lock import SweepLock
from regexp.sweep.pace import Pace
from regexp.sweep.state import Sweep
from regexp.sweep.tasks import train_alone, train_pack
from regexp.sweep.trials import Trial, plan_round, rounds
from regexp.trial import interrupts
from regexp.trial.result import TrialResult
from regexp.trial.task import Task, TaskTrial

MAX_CONSECUTIVE_FAILURES = 3
POLL_S = 0.2  # how often the runner looks at the stop flag while tasks run elsewhere


def has_trials(loaded: LoadedSpec) -> bool:
    """The spec runs as several trials (repeat seeds or cv folds), not as one run."""
    return loaded.spec.seeds() != [loaded.spec.seed] or loaded.spec.cv is not None


def run_trials(loaded: LoadedSpec, overrides: list[str], runs_dir: Path, *, search: bool, **options) -> Sweep:
    """repeat × cv (× the search when `search`: `regexp sweep`; `regexp train` runs a spec as written)."""
    if not search and loaded.spec.search is not None:
        overrides = [*overrides, "search=null", "decide=null"]
        loaded = load_spec(loaded.file, overrides)
    return run_sweep(loaded, overrides, runs_dir, **options)


def run_sweep(loaded: LoadedSpec, overrides: list[str], runs_dir: Path, *, workers: int = 1,
              resume: Path | None = None, max_failures: int = MAX_CONSECUTIVE_FAILURES,
              console: Console | None = None, pool: Executor | None = None, pack: str | int = "auto",
              needed: dict[str, str] | None = None) -> Sweep:
    """Plan and run every round; returns the sweep (raises SweepStopped or SweepInterrupted).
    One process at a time runs a sweep (lock.py): a second invocation is a UserError. `needed`
    (--needed): {trial key: its up-to-date run in runs_dir}, trials that count as done."""
    if resume is None:
        plan_round(loaded, overrides)  # validate every point against the user's file: errors name its lines
    with SweepLock(*sweep_identity(loaded, runs_dir, resume)):
        if hasattr(pool, "settle"):  # Slurm: the jobs a sweep process that died left in the queue end first,
            pool.settle()            # so that adopt_finished_runs below keeps what they train
        sweep = Sweep.open(loaded, overrides, runs_dir, resume)
        adopted = sweep.adopt_finished_runs()
        if console is not None:
            if adopted:
                console.print(f"{adopted} trials had completed after sweep.json was last written; kept, not trained "
                              "again")
            for line in budget_lines(sweep):
                console.print(escape(line), highlight=False, soft_wrap=True)
        sweep.state.workers = workers
        runner = _Runner(sweep, runs_dir, workers, max_failures, console, pool, pack, needed)
        try:
            _run_rounds(sweep, runner)
        except KeyboardInterrupt as exc:
            how = interrupts.how(exc)
            sweep.finish(Status.INTERRUPTED, f"interrupted ({how}); resume with the same command")
            raise SweepInterrupted(sweep.path, how) from None
        except SweepStopped as exc:
            sweep.finish(Status.STOPPED, str(exc))
            raise
        finally:
            runner.close()
        failed = sum(1 for t in sweep.state.trials if t.status not in FINISHED)
        sweep.finish(Status.COMPLETED if not failed else Status.COMPLETED_WITH_FAILURES,
                     f"{failed} trials did not complete" if failed else None)
    return sweep


def budget_lines(sweep: Sweep) -> list[str]:
    """What this invocation's budget changes mean (identity.py): the same sweep goes on."""
    lines = []
    for change in sweep.changes:
        how = _how(change.before, change.after)
        lines.append(f"budget {how}: {change.key} {change.before} -> {change.after}; the same sweep ({sweep.id}) "
                     "goes on: " + ("nothing new to train for it; the trials it ran beyond the new budget stay in "
                                    "its results" if how == "lowered" else
                                    "its completed trials are kept, only new ones train"))
        if change.key == "decide.max_seeds" and how == "raised" and sweep.state.decide is not None:
            from regexp.sweep.decide import raised_line

            lines.append(raised_line(sweep.state.decide, change.before))
        if change.key == "search.confirm.max_seeds" and how == "raised" and sweep.state.confirm is not None:
            from regexp.sweep import confirm

            lines.append(confirm.raised_line(sweep.state.confirm, change.before))
    return lines


def _how(before, after) -> str:
    """raised | lowered | changed (a seed list that is neither more nor fewer of the same seeds)."""
    if isinstance(before, list) and isinstance(after, list):
        return "raised" if set(after) > set(before) else "lowered" if set(after) < set(before) else "changed"
    size = lambda value: len(value) if isinstance(value, list) else value  # noqa: E731
    return "raised" if size(after) > size(before) else "lowered" if size(after) < size(before) else "changed"


def _run_rounds(sweep: Sweep, runner: "_Runner") -> None:
    base = load_spec(sweep.spec_file)  # plan from the snapshot: a resumed sweep continues the same plan
    if base.spec.decide is not None:
        from regexp.sweep.decide import run_looks

        return run_looks(sweep, runner, base, runner.console)
    runner.halving = Halving.of(base.spec, sweep.path, sweep.state.objective.mode)
    if runner.halving and runner.workers > 1 and runner.console is not None:
        runner.console.print(f"search.halving with {runner.workers} workers: which points reach a rung first is up to "
                             "timing, so the points kept can differ between runs (--workers 1 decides the same way "
                             "every time)", highlight=False)
    count = rounds(base)
    for round_ in range(1, count + 1):
        previous = sweep.point_results(round_ - 1) if round_ > 1 else None
        trials = plan_round(base, [], round_, previous, told=sweep.told(round_))
        runner.step(trials, f"round {round_}" if count > 1 else None)
    if base.spec.search is not None and base.spec.search.confirm is not None:
        from regexp.sweep.confirm import run_race

        runner.halving = None  # the race trains every point to the end
        run_race(sweep, runner, base, runner.console)


class _Runner:
    """Groups trials into tasks (packs, or trials alone), runs them on an executor, records each result."""

    def __init__(self, sweep: Sweep, runs_dir: Path, workers: int, max_failures: int, console: Console | None,
                 pool: Executor | None = None, pack: str | int = "auto", needed: dict[str, str] | None = None):
        self.sweep, self.runs_dir = sweep, runs_dir
        self.workers, self.max_failures, self.console, self.pack = workers, max_failures, console, pack
        self.needed = needed  # --needed: {trial key: an up-to-date run elsewhere in runs_dir}; None without it
        # a RayPool, or made by _pool() when the first trials are to train (InProcess for one worker, else a
        # LocalPool): a sweep with nothing left to train never starts workers, which import TensorFlow
        self.pool = pool
        self.consecutive_failures = 0
        self.halving: Halving | None = None  # the sweep's search.halving, shared by every task
        self.pace = Pace()  # seconds per trial over every round or look: the progress line's ETA

    def step(self, trials: list[Trial], what: str | None = None,
             outlook: Callable[[int], Callable[[int], tuple[str, int]]] | None = None) -> None:
        """Plan `trials` into the sweep (a round, or a decide look: `what`) and train those not done
        yet; says how many were done already when some were, and always under --needed."""
        self.sweep.add(trials)
        elsewhere = self.sweep.take_elsewhere(trials, self.needed) if self.needed else 0
        todo = [t for t in trials if not self.sweep.done(t)]
        if self.console is not None and (len(todo) < len(trials) or self.needed is not None):
            self.console.print(step_line(len(trials), len(todo), elsewhere, self.needed is not None, what),
                               highlight=False, soft_wrap=True)
        self.run(todo, self.sweep.state.objective.metric, outlook=outlook(len(todo)) if outlook else None)

    def tasks(self, trials: list[Trial], metric: str) -> list[tuple[TaskFunction, Task, list[Trial]]]:
        """(function, task, trials) per task: one per pack, one per trial that runs alone."""
        packs = plan_packs(self.sweep.spec_file, [], trials, self.pack, self.workers, self.halving is not None)
        if self.console is not None:
            for line in pack_lines(packs, len(trials)):
                self.console.print(line, highlight=False)
        out = []
        for i, pack in enumerate(packs):
            members = [trials[m] for m in pack.members]
            alone = len(members) == 1
            task = Task(self.sweep.spec_file, str(self.runs_dir), self.sweep.id, metric,
                        tuple(TaskTrial(t.key, tuple(t.overrides), t.point_key) for t in members),
                        pack_id=None if alone else f"{self.sweep.id}/round{members[0].round}-pack{i}",
                        halving=self.halving)
            out.append((train_alone if alone else train_pack, task, members))
        return out

    def run(self, trials: list[Trial], metric: str, outlook: Callable[[int], tuple[str, int]] | None = None) -> None:
        """Run the trials. `outlook(ended)`, given how many of them have ended, says where the whole
        sweep stands and how many trials are at most left in it (a decide: sweep's looks); without
        it, the progress line shows the best objective and the ETA of these trials."""
        if not trials:
            return
        pool = self._pool()  # local workers start importing TensorFlow while the trials are packed
        tasks = self.tasks(trials, metric)
        progress = Progress(TextColumn("trials"), MofNCompleteColumn(), BarColumn(bar_width=20),
                            TextColumn("{task.fields[eta]}"), TextColumn("{task.description}"), console=self.console,
                            disable=self.console is None)
        bar = progress.add_task("", total=len(trials), eta="")
        counts = {Status.RUNNING: 0, Status.FAILED: 0, Status.PRUNED: 0, "ended": 0}

        def show():
            text = f"{counts[Status.RUNNING]} running, {counts[Status.FAILED]} failed"
            text += f", {counts[Status.PRUNED]} pruned" if self.halving else ""
            if outlook is not None:
                where, left = outlook(counts["ended"])
                text += f"; {where}"
            else:
                best, left = self.sweep.best(), len(trials) - counts["ended"]
                text += f", best {metric} {best.objective:.4f}" if best is not None else ""
            progress.update(bar, description=text, eta=self.pace.eta(left, at_most=outlook is not None))

        # an executor with a queue of its own (Slurm) takes every task at once and starts them on flush(): one job array
        flush = getattr(pool, "flush", None)
        limit = len(tasks) if flush else self.workers
        self.pace.start()
        with progress:
            pending: dict[Future, list[Trial]] = {}
            queue = list(tasks)
            try:
                while queue or pending:
                    while queue and len(pending) < limit:  # keep every worker busy, no more
                        interrupts.check()
                        fn, task, members = queue.pop(0)
                        self.sweep.record([(trial, {"status": Status.RUNNING}) for trial in members])
                        counts[Status.RUNNING] = len(members) + sum(len(m) for m in pending.values())
                        show()
                        pending[pool.submit(fn, task)] = members
                    if flush:
                        flush()
                    finished, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for future in finished:
                        members = pending.pop(future)
                        self.pace.add(len(members))
                        counts["ended"] += len(members)
                        self._record(members, self._results(future, members), counts)
                        progress.advance(bar, len(members))
                    counts[Status.RUNNING] = sum(len(m) for m in pending.values())
                    show()
                    interrupts.check()
            except (KeyboardInterrupt, SweepStopped):
                self._stop(pending)
                raise
            finally:
                self.pace.stop()

    def _record(self, trials: list[Trial], results: list[TrialResult], counts: dict) -> None:
        self.sweep.record([(trial, result.entry()) for trial, result in zip(trials, results)])
        interrupted = None
        for trial, result in zip(trials, results):
            if result.status == Status.INTERRUPTED:
                interrupted = result.error
            elif result.status in FINISHED:
                self.consecutive_failures = 0
                counts[Status.PRUNED] += result.status == Status.PRUNED
            else:
                counts[Status.FAILED] += 1
                # a point whose spec or data is wrong fails at once and alone: it says nothing about the others
                self.consecutive_failures += not result.before_start
                if self.console is not None:
                    self.console.print(f"[red]trial failed[/] ({escape(trial.label())}): {escape(str(result.error))}",
                                       highlight=False)
        if interrupted:
            raise KeyboardInterrupt(interrupts.requested() or "Ctrl-C")
        if self.consecutive_failures >= self.max_failures:
            raise SweepStopped(f"{self.consecutive_failures} trials failed in a row (the last: {results[-1].error}); "
                               f"fix the spec and resume: regexp sweep --resume {self.sweep.path}")

    def _results(self, future: Future, trials: list[Trial], timeout: float | None = None,
                 lost: Status = Status.FAILED) -> list[TrialResult]:
        try:
            return self.pool.collect(future.result(timeout), self.runs_dir)
        except Exception as exc:  # the worker process died (and Ray's retry too): its run folders read `crashed`
            return [TrialResult(lost, error=f"worker lost: {failure_reason(exc)}") for _ in trials]

    def _stop(self, pending: dict[Future, list[Trial]]) -> None:
        """Ctrl-C, SIGTERM or too many failures: running tasks stop at their next step boundary and
        their trials are recorded interrupted; queued ones never start. A second signal stops at once
        (the workers still end their own folders; the next run adopts what they completed)."""
        self.pool.interrupt()
        for future, trials in pending.items():
            self.sweep.record([(trial, result.entry()) for trial, result in
                               zip(trials, self._results(future, trials, timeout=60, lost=Status.INTERRUPTED))])

    def _pool(self) -> Executor:
        if self.pool is None and self.workers > 1:
            from regexp.sweep.local_pool import LocalPool

            self.pool = LocalPool(self.workers)
        elif self.pool is None:
            self.pool = InProcess()
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def step_line(planned: int, todo: int, elsewhere: int, needed: bool, what: str | None = None) -> str:
    """'37 of 40 trials already completed, training 3'; with --needed, how many of them are runs made
    outside this sweep, or that none of the trials left has one."""
    text = f"{planned - todo} of {planned} trials already completed"
    if elsewhere:
        text += f" ({elsewhere} of them by an up-to-date run outside this sweep, --needed)"
    text += f", training {todo}" if todo else ", nothing to train"
    if needed and todo:
        text += f" (--needed: no up-to-date run has {'it' if todo == 1 else 'them'})"
    return f"{what}: {text}" if what else text


def plan_packs(spec_file, overrides: list[str], trials: list[Trial], pack: str | int, workers: int,
               halving: bool = False) -> list[Pack]:
    """Which trials train together (packed/grouping.py); with --pack off no trial's spec needs loading.
    Under search.halving a point's seeds and folds share a pack: its rungs decide on all of them."""
    specs = [load_spec(spec_file, [*overrides, *t.overrides]) for t in trials] if pack != "off" else trials
    return group(specs, pack, workers, [t.point_key for t in trials] if halving else None)


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
