"""Which trials of a spec already have an up-to-date result: `regexp status` and `train/sweep --needed`.

A trial is up to date when a completed run in the runs folder has its resolved config (run.json
`spec_hash`, which covers the seed, the point and every default) and was trained on the same data
(provenance `data`, the fingerprint of the file(s) as they are now). A spec is up to date when
every trial its first round plans is; otherwise its line says why (not run, running, failed, or
stale: which keys changed, in which file, or that the data changed). No TensorFlow here.
"""

from dataclasses import dataclass, field
from pathlib import Path

from regexp.errors import SpecError
from regexp.report.collect import flatten
from regexp.spec import LoadedSpec, load_spec
from regexp.store.contract import Status
from regexp.store.folders import RunRecord, find_runs, read_run
from regexp.sweep.runner import has_trials
from regexp.sweep.trials import Trial, expand, plan_round
from regexp.trial.provenance import data_fingerprint


@dataclass
class SpecStatus:
    spec: str
    state: str                      # not run | up to date | stale | running | failed | invalid
    why: str = ""
    trials: int = 0
    up_to_date: int = 0
    runs: dict[str, str] = field(default_factory=dict)  # trial key -> its up-to-date run folder

    def line(self) -> str:
        trials = f"{self.trials} trial{'s' if self.trials != 1 else ''}"
        count = ("" if not self.trials or self.state == "not run" else f" ({trials})" if self.state == "up to date"
                 else f" ({self.up_to_date} of {trials} up to date)")
        return f"{self.spec}: {self.state}{count}" + (f": {self.why}" if self.why else "")

    def to_json(self) -> dict:
        return {"spec": self.spec, "state": self.state, "why": self.why or None, "trials": self.trials,
                "up_to_date": self.up_to_date}


def planned(loaded: LoadedSpec, search: bool, every_seed: bool = False) -> list[Trial]:
    """The trials a command would run: a sweep's first round, or (train) repeat × cv as written;
    `every_seed`: a decide sweep's every grid point with every seed up to max_seeds (it plans its
    looks as it goes, so any of them may come); with search.confirm, every point of a grid or random
    search on every fresh seed the race may plan too (tpe's and refine's points come as it learns)."""
    if search and every_seed and loaded.spec.decide is not None:
        from regexp.sweep.decide import arms

        baseline, others = arms(loaded)
        seeds = [loaded.spec.seed + i for i in range(loaded.spec.decide.max_seeds)]
        return expand(loaded, 1, [baseline, *others], seeds)
    if search and loaded.spec.search is not None:
        trials = plan_round(loaded, [])
        confirm, method = loaded.spec.search.confirm, loaded.spec.search.method
        if every_seed and confirm is not None and method != "tpe" and loaded.spec.search.refine is None:
            from regexp.sweep.confirm import seeds_from  # a race's points are among round 1's: any may race

            first = seeds_from(loaded)
            points = list(dict.fromkeys(t.point for t in trials))
            trials += expand(loaded, 1, points, list(range(first, first + confirm.max_seeds)))
        return trials
    return expand(loaded, 1, [()], loaded.spec.seeds())


def needed_runs(loaded: LoadedSpec, overrides: list[str], runs_dir: Path, search: bool) -> dict[str, str]:
    """--needed: {trial key: its up-to-date run in runs_dir}, for every trial the command may plan."""
    return spec_status(loaded.file, read_runs(runs_dir), runs_dir, overrides, search, every_seed=True).runs


def trial_hashes(loaded: LoadedSpec, trials: list[Trial], search: bool, overrides: list[str] = ()) -> dict[str, str]:
    """{trial key: the spec_hash its run.json will carry} (train runs a spec without trials as is)."""
    if not search and not has_trials(loaded):
        return {trials[0].key: loaded.spec_hash()}
    extra = [] if search else ["search=null", "decide=null"]
    return {t.key: load_spec(loaded.file, [*overrides, *extra, *t.overrides]).spec_hash() for t in trials}


def spec_status(file: Path, runs: list[RunRecord], runs_dir: Path, overrides: list[str] = (),
                search: bool | None = None, every_seed: bool = False) -> SpecStatus:
    """`search`: judge as `regexp sweep` would run it (default: when the spec has a search);
    `every_seed`: a decide sweep's trials one by one (--needed), not its sweep folder (status)."""
    try:
        loaded = load_spec(file, overrides)
        search = loaded.spec.search is not None if search is None else search
        if search and loaded.spec.decide is not None and not every_seed:
            return _decide_status(loaded, runs_dir)
        trials = planned(loaded, search, every_seed)
        hashes = trial_hashes(loaded, trials, search, overrides)
    except SpecError as exc:
        return SpecStatus(str(file), "invalid", exc.problems[0])
    data = data_fingerprint(loaded) if _data_readable(loaded) else None
    mine = [run for run in runs if run.info.name == loaded.spec.name]
    by_hash: dict[str, list[RunRecord]] = {}
    for run in mine:
        by_hash.setdefault(run.info.spec_hash, []).append(run)
    status = SpecStatus(str(file), "up to date", trials=len(trials))
    states = []
    for trial in trials:
        same = sorted(by_hash.get(hashes[trial.key], []), key=lambda r: r.info.started or "")
        # pruned: its sweep's search.halving stopped it, an outcome of the sweep and not a run still to make
        fresh = [r for r in same if r.status in (Status.COMPLETED, Status.PRUNED) and _data(r) == data]
        if fresh:
            status.runs[trial.key] = fresh[-1].id
            states.append("up to date")
        elif any(r.status == Status.RUNNING for r in same):
            states.append(Status.RUNNING)
        elif same and same[-1].status == Status.COMPLETED:
            states.append("data")  # the config ran, on other data
        elif same:
            states.append(Status.FAILED)
        else:
            states.append("missing")
    status.up_to_date = states.count("up to date")
    if status.up_to_date == len(trials):
        return status
    if Status.RUNNING in states:
        status.state = Status.RUNNING
    elif "data" in states:
        recorded = _data(max(mine, key=lambda r: r.info.started or ""))
        status.state = "stale"
        status.why = (f"the data changed since its runs ({recorded} -> {data})" if recorded else
                      "its runs predate data fingerprints (train again to record them)")
    elif Status.FAILED in states and "missing" not in states:
        status.state, status.why = Status.FAILED, "its latest runs failed"
    elif not mine:
        status.state = "not run"
    elif status.up_to_date == 0 and Status.FAILED not in states:
        status.state, status.why = "stale", _what_changed(loaded, max(mine, key=lambda r: r.info.started or ""))
    else:
        status.state = "stale"
        status.why = f"{states.count('missing')} trials never ran with this config" + (
            f", {states.count(Status.FAILED)} failed" if Status.FAILED in states else "")
    return status


def _decide_status(loaded: LoadedSpec, runs_dir: Path) -> SpecStatus:
    """A decide: sweep plans its seeds as it goes: its sweep folder says how far it got."""
    from regexp.store.folders import read_sweep_state
    from regexp.sweep.identity import find_sweep

    folder = find_sweep(runs_dir, loaded)
    state = read_sweep_state(folder, warnings=[]) if folder is not None else None
    if state is None:
        return SpecStatus(str(loaded.file), "not run")
    done = sum(t.status == Status.COMPLETED for t in state.trials)
    shown = {Status.COMPLETED: "up to date", Status.RUNNING: Status.RUNNING}.get(state.status, "stale")
    why = "" if shown != "stale" else f"its sweep ended {state.status}"
    record, budget = state.decide, loaded.spec.decide.max_seeds
    taken = record.looks[-1].seeds if record is not None and record.looks else 0
    if shown == "up to date" and record is not None and budget > taken and any(
            arm.verdict == "undecided" for arm in record.arms):
        shown, why = "stale", f"decide.max_seeds is {budget}; its sweep stopped at {taken} seeds per arm with arms open"
    return SpecStatus(str(loaded.file), shown, why, trials=len(state.trials), up_to_date=done)


def _data(run: RunRecord) -> str | None:
    return run.info.provenance.data if run.info.provenance is not None else None


def _data_readable(loaded: LoadedSpec) -> bool:
    from regexp.spec.load import DATA_PATHS, resolve_data_path

    return all(resolve_data_path(loaded, f"data.{key}").exists() for key in DATA_PATHS
               if getattr(loaded.spec.data, key) is not None)


def _what_changed(loaded: LoadedSpec, newest: RunRecord) -> str:
    """The keys whose value differs from the newest run's config, and the file that sets each now."""
    now = flatten({**loaded.resolved(), "seed": newest.config.get("seed")})
    then = flatten(newest.config)
    keys = sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k) and not k.startswith(("search",
                                                                                                      "repeat")))
    if not keys:
        return f"its newest run ({newest.id}) was made from another search or seed list"
    shown = [f"{k} {then.get(k)!r} -> {now.get(k)!r} ({_file_of(loaded, k)})" for k in keys[:3]]
    return "changed since its newest run: " + "; ".join(shown) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _file_of(loaded: LoadedSpec, key: str) -> str:
    where = loaded.where(key)
    return Path(where.rsplit(":", 1)[0]).name if ":" in where else "default"


def read_runs(runs_dir: Path) -> list[RunRecord]:
    return [read_run(path) for path in find_runs([], runs_dir)]
