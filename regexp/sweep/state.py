"""The sweep folder `<time>_<name>_<hash>_sweep/`: spec.yaml (the snapshot trials run from) and
sweep.json (every trial with its status, run folder and objective, and the best point so far),
kept in memory and rewritten atomically after each change. Every reader goes through
store/folders.py's read_sweep_state. No TensorFlow here."""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from regexp.spec import LoadedSpec, load_spec
from regexp.store.contract import FINISHED, Status, direction
from regexp.store.files import write_atomic
from regexp.store.folders import now, read_run, read_sweep_state, write_json
from regexp.store.sweep_file import Best, BudgetChange, SweepState, TrialEntry
from regexp.sweep.halving import last_rungs
from regexp.sweep.identity import budget, find_sweep, set_paths, snapshot_hash, sweep_hash
from regexp.sweep.trials import Point, Trial, objective_of, point_key, point_of, rounds
from regexp.trial.provenance import extends_chain, git_state


@dataclass
class Sweep:
    path: Path
    state: SweepState
    trials: dict[str, TrialEntry] = field(default_factory=dict)  # trial key -> its entry in state.trials
    changes: list[BudgetChange] = field(default_factory=list)  # budget changes made by this invocation

    @classmethod
    def open(cls, loaded: LoadedSpec, overrides: list[str], runs_dir: Path, resume: Path | None) -> "Sweep":
        """The sweep of this spec's identity in runs_dir (or `resume`), made when there is none. Its
        budget (identity.py) is the spec's from now on: raised, only the new trials train."""
        spec_hash = sweep_hash(loaded)
        if resume is None:  # re-running the same command, whatever its budget, resumes the same sweep
            resume = find_sweep(runs_dir, loaded)
        if resume is not None:
            state = read_sweep_state(resume)
            sweep = cls(resume, state, {t.key: t for t in state.trials})
            if snapshot_hash(resume) == spec_hash:  # --resume with another spec keeps the folder's plan
                sweep.set_budget(loaded)
            return sweep
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
        state.provenance = git_state(extends_chain(loaded.file))  # the snapshot below is not in git; trials take this
        # Trials run from this snapshot (data paths absolute, --set applied), not from the user's
        # file, so editing the spec while a sweep runs or before it resumes cannot change its trials.
        # As written, not resolved: resolved layers pin the defaults that a search point overrides.
        write_atomic(path / "spec.yaml", yaml.safe_dump(loaded.as_written(), sort_keys=False))
        sweep = cls(path, state)
        sweep.save()
        return sweep

    def set_budget(self, loaded: LoadedSpec) -> None:
        """Give the snapshot `loaded`'s budget where it differs (only those keys: the rest of the
        snapshot is the sweep's own); each change goes to sweep.json and to self.changes."""
        before, after = budget(load_spec(self.spec_file)), budget(loaded)
        changed = {key: value for key, value in after.items() if before.get(key) != value}
        if not changed:
            return
        written = yaml.safe_load((self.path / "spec.yaml").read_text())
        write_atomic(self.path / "spec.yaml", yaml.safe_dump(set_paths(written, changed), sort_keys=False))
        at = now().isoformat(timespec="milliseconds")
        self.changes = [BudgetChange(key=key, before=before.get(key), after=value, at=at)
                        for key, value in changed.items()]
        self.state.budget_changes += self.changes
        self.state.rounds = rounds(load_spec(self.spec_file))
        if self.state.decide is not None and "decide.max_seeds" in changed:
            self.state.decide.max_seeds = changed["decide.max_seeds"]
        if self.state.confirm is not None and "search.confirm.max_seeds" in changed:
            self.state.confirm.max_seeds = changed["search.confirm.max_seeds"]
        self.save()

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
                entry = TrialEntry(key=trial.key, round=trial.round, point=dict(trial.point), seed=trial.seed,
                                   fold=trial.fold)
                self.state.trials.append(entry)
                self.trials[trial.key] = entry
        self.save()

    def done(self, trial: Trial) -> bool:
        """Completed (or pruned) earlier, and its run folder still says so: never trained again."""
        entry = self.trials.get(trial.key)
        if entry is None or entry.status not in FINISHED or not entry.run:
            return False
        return read_run(self.path.parent / entry.run).status == entry.status

    def take_elsewhere(self, trials: list[Trial], runs: dict[str, str]) -> int:
        """--needed: trials not done here whose up-to-date run (`runs`: trial key -> run folder, in
        runs_dir, freshness.py) was made elsewhere are recorded with that run; returns how many."""
        taken = []
        for trial in trials:
            if trial.key in runs and not self.done(trial):
                record = read_run(self.path.parent / runs[trial.key])
                pruned = record.status == Status.PRUNED
                value = None if pruned or record.metrics is None else objective_of(record.metrics,
                                                                                    self.state.objective.metric)
                taken.append((trial, {"status": record.status, "run": runs[trial.key], "objective": value,
                                      "error": record.info.error}))
        if taken:
            self.record(taken)
        return len(taken)

    def record(self, results: list[tuple[Trial, dict]]) -> None:
        """Update these trials' entries, then rewrite sweep.json once: a pack's results are one change
        (rewriting a large sweep's file per trial keeps the workers waiting)."""
        for trial, fields in results:
            entry = self.trials[trial.key]
            for key, value in fields.items():
                setattr(entry, key, value)
        self.save()

    def adopt_finished_runs(self) -> int:
        """Trials that sweep.json still calls running (the sweep ended before it could record them:
        a full disk, a kill) whose run folder completed: recorded as completed, never trained twice.
        Run folders name their trial (run.json `trial`); returns how many were adopted."""
        open_keys = {e.key for e in self.state.trials if e.status == Status.RUNNING}
        if not open_keys:
            return 0
        adopted = []
        for folder in sorted(self.path.parent.glob(f"*_{self.state.name}_*")):
            if not (folder / "run.json").is_file():
                continue
            record = read_run(folder)
            key = getattr(record.info, "trial", None)
            if key in open_keys and record.info.parent == self.id and record.status in FINISHED \
                    and record.metrics is not None:
                pruned = record.status == Status.PRUNED
                value = None if pruned else objective_of(record.metrics, self.state.objective.metric)
                adopted.append((self.trials[key], {"status": record.status, "run": folder.name,
                                                   "objective": value, "error": record.info.error}))
                open_keys.discard(key)
        for entry, fields in adopted:
            for name, value in fields.items():
                setattr(entry, name, value)
        if adopted:
            self.save()
        return len(adopted)

    def point_results(self, round_: int | None = None) -> dict[Point, float]:
        """Mean objective per point over its completed seeds/folds of the search; a point with a pruned
        trial has none (its seeds that completed before a rung are not the point's result). A race's
        fresh seeds (search.confirm) are no part of it: the search's ranking is what picked the points."""
        values: dict[Point, list[float]] = {}
        pruned = self.pruned_points()
        for entry in self.state.trials:
            if entry.status == Status.COMPLETED and entry.objective is not None and round_ in (None, entry.round) \
                    and entry.phase == "search":
                values.setdefault(point_of(entry.point), []).append(entry.objective)
        return {point: sum(v) / len(v) for point, v in values.items() if point not in pruned}

    def pruned_points(self) -> set[Point]:
        return {point_of(e.point) for e in self.state.trials if e.status == Status.PRUNED}

    def told(self, before_round: int) -> list[tuple[Point, float | None, tuple[int, float] | None]]:
        """Every point of the rounds before `before_round`, in the order they were planned, with its
        mean objective (None: no completed seed or fold) and, for a pruned point, (its last rung, its
        mean there) from search.halving's ledger: what a tpe round is told."""
        results = self.point_results()
        rungs = last_rungs(self.path) if self.pruned_points() else {}
        points = dict.fromkeys(point_of(e.point) for e in self.state.trials if e.round < before_round)
        return [(point, results.get(point), rungs.get(point_key(point))) for point in points]

    def best(self) -> Best | None:
        results = self.point_results()
        if not results:
            return None
        pick = max if self.state.objective.mode == "max" else min
        point = pick(results, key=results.get)
        runs = [e.run for e in self.state.trials
                if point_of(e.point) == point and e.status == Status.COMPLETED and e.phase == "search"]
        return Best(point=dict(point), objective=results[point], n=len(runs), runs=runs)

    def finish(self, status: Status, message: str | None = None) -> None:
        self.state.status, self.state.ended, self.state.message = status, now().isoformat(
            timespec="milliseconds"), message
        self.save()

