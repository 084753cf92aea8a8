"""`decide:`: seeds in looks until each arm of a grid is decided against the baseline point.

Look k trains `batch` more seeds of every open arm and of the baseline (packed like any trials),
compares each open arm with the baseline on the report's own terms (report/collect.py's rows,
report/stats.py's `compare`: paired on the seeds both have, cv folds averaged within a seed, failed
seeds left out and named) and reads a verdict from the anytime-valid interval of the mean paired
difference (report/sequential.py) at alpha / arms, Bonferroni over the arms: better or worse when it
excludes 0, equivalent when it lies within ±margin. A decided arm gets no more seeds; the sweep ends
when every arm is decided or has max_seeds. The intervals cover every arm's true difference at every
look at once with probability 1 - alpha, so a decision is wrong with at most that probability,
whenever it is taken. The looks live in sweep.json (`decide`): a resumed sweep continues with the
look it was taking and never takes one twice. No TensorFlow here.
"""

import math
from pathlib import Path

from rich.console import Console

from regexp.report import sequential
from regexp.report.collect import build_rows
from regexp.report.decisions import point_text
from regexp.report.stats import compare
from regexp.spec import LoadedSpec
from regexp.spec.checks import find_grid_point
from regexp.store.contract import FINISHED, TrialStatus, direction
from regexp.store.folders import read_run
from regexp.store.sweep_file import ArmDecision, Decision, Look
from regexp.sweep.state import Sweep
from regexp.sweep.trials import Point, Trial, expand, frozen, grid, point_of

METHOD = (f"anytime-valid confidence sequence (t-test Bayes factor, normal prior g = {sequential.G:g}), alpha split "
          "equally over the arms (Bonferroni)")


def arms(loaded: LoadedSpec) -> tuple[Point, list[Point]]:
    """(the baseline point, every other grid point) in the grid's order."""
    search = loaded.spec.search
    chosen, _ = find_grid_point(search, loaded.spec.decide.baseline)  # validated when the spec loaded
    baseline = tuple((path, frozen(chosen[path])) for path in search.params)
    return baseline, [point for point in grid(search) if point != baseline]


def run_looks(sweep: Sweep, runner, loaded: LoadedSpec, console: Console | None) -> None:
    """Take looks until every arm is decided or the budget is spent (runner: sweep/runner.py's _Runner)."""
    decide = loaded.spec.decide
    baseline, others = arms(loaded)
    if sweep.state.decide is None:
        sweep.state.decide = Decision(
            baseline=decide.baseline, baseline_point=dict(baseline), metric=decide.metric, margin=decide.margin,
            alpha=decide.alpha, batch=decide.batch, max_seeds=decide.max_seeds, method=METHOD,
            arms=[ArmDecision(point=dict(p), verdict="undecided", seeds=0) for p in others])
        sweep.save()
    record = sweep.state.decide
    if console is not None:
        console.print(plan_line(loaded), highlight=False)
    while True:
        open_points = [point for point in others if _arm(record, point).verdict == "undecided"]
        spent = len(record.looks) * decide.batch
        if not open_points or spent >= decide.max_seeds:
            return
        look = len(record.looks) + 1
        trials = look_trials(loaded, look, [baseline, *open_points])
        sweep.add(trials)
        todo = [t for t in trials if not sweep.done(t)]
        runner.run(todo, sweep.state.objective.metric, outlook=outlook(sweep, loaded, look, len(todo), len(others),
                                                                       len(open_points)))
        found = take_look(sweep, baseline, open_points, decide.alpha / len(others), decide.margin, decide.metric)
        for arm in found:
            if arm.verdict != "undecided":
                arm.look = look
            record.arms[[point_of(a.point) for a in record.arms].index(point_of(arm.point))] = arm
        record.looks.append(Look(seeds=min(spent + decide.batch, decide.max_seeds), arms=found))
        sweep.save()
        if console is not None:
            console.print(look_line(record.looks[-1], look, record), highlight=False)


def outlook(sweep: Sweep, loaded: LoadedSpec, look: int, todo: int, arms: int, open_arms: int):
    """The progress line of look `look` (runner.run's `outlook`): given how many of its `todo` trials
    have ended, where the sweep stands ("val_accuracy: look 2 of at most 6, 3 of 3 arms open; trials
    24 done, at most 96 left") and the trials at most left: this look's, then every later look's as
    if every open arm stayed open."""
    decide = loaded.spec.decide
    most = math.ceil(decide.max_seeds / decide.batch)
    per_seed = len(expand(loaded, look, [()], [loaded.spec.seed]))  # cv folds per seed
    later = sum(len(range(k * decide.batch, min((k + 1) * decide.batch, decide.max_seeds))) for k in
                range(look, most)) * per_seed * (open_arms + 1)
    before = sum(1 for t in sweep.state.trials if t.status in (*FINISHED, TrialStatus.FAILED))

    def where(ended: int) -> tuple[str, int]:
        left = todo - ended + later
        return (f"{decide.metric}: look {look} of at most {most}, {open_arms} of {arms} arms open; trials "
                f"{before + ended} done, at most {left} left"), left
    return where


def look_trials(loaded: LoadedSpec, look: int, points: list[Point]) -> list[Trial]:
    """Look k's trials: the next `batch` seeds (from the spec's seed) of each point, within the budget."""
    decide, first = loaded.spec.decide, loaded.spec.seed + (look - 1) * loaded.spec.decide.batch
    return expand(loaded, look, points, list(range(first, min(first + decide.batch,
                                                              loaded.spec.seed + decide.max_seeds))))


def plan_line(loaded: LoadedSpec) -> str:
    decide, (_, others) = loaded.spec.decide, arms(loaded)
    return (f"decide: {len(others)} arms against {decide.baseline} on {decide.metric}, looks of {decide.batch} seeds "
            f"up to {decide.max_seeds}; intervals are finite (a decision possible) from "
            f"{sequential.needed(decide.alpha / len(others))} paired seeds")


def take_look(sweep: Sweep, baseline: Point, points: list[Point], alpha: float, margin: float,
              metric: str) -> list[ArmDecision]:
    """Each arm of `points` against the baseline on the runs the sweep has so far."""
    runs, point_by_run = [], {}
    for entry in sweep.state.trials:
        if entry.run and point_of(entry.point) in (baseline, *points):
            folder = Path(sweep.path.parent, entry.run)
            if (folder / "run.json").is_file():
                run = read_run(folder)
                runs.append(run)
                point_by_run[run.id] = point_of(entry.point)
    rows = {point_by_run[row.members[0].id]: row for row in build_rows(runs)[0]} if runs else {}
    base = rows.get(baseline)
    out = []
    for point in points:
        row = rows.get(point)
        if base is None or row is None:
            out.append(ArmDecision(point=dict(point), verdict="undecided", seeds=0))
            continue
        why = {"baseline": base.missing(metric), "arm": row.missing(metric)}
        c = compare(base.by_replicate(metric), row.by_replicate(metric), why, better=direction(metric))
        pairs = c.pairs if c is not None and c.test == "paired t-test" else []
        if len(pairs) < 2:
            out.append(ArmDecision(point=dict(point), verdict="undecided", seeds=len(pairs),
                                   left_out=c.left_out if c else []))
            continue
        low, high = sequential.interval(pairs, alpha)
        out.append(ArmDecision(point=dict(point), verdict=sequential.verdict(low, high, margin, direction(metric)),
                               seeds=len(pairs), diff=sum(pairs) / len(pairs), ci=[_finite(low), _finite(high)],
                               left_out=c.left_out))
    return out


def look_line(look: Look, number: int, record: Decision) -> str:
    decided = [a for a in look.arms if a.verdict != "undecided"]
    still = len([a for a in record.arms if a.verdict == "undecided"])
    text = "; ".join(f"{point_text(a.point)}: {a.verdict} ({arm_numbers(a)})" for a in decided) or "none decided"
    return f"look {number} ({look.seeds} seeds per arm): {text}; {still} open"


def arm_numbers(arm: ArmDecision) -> str:
    """'Δ +0.0123, CI [+0.0040, +0.0206], 10 seeds'."""
    if arm.diff is None:
        return f"{arm.seeds} seeds"
    low, high = ((f"{v:+.4g}" if v is not None else "∞") for v in (arm.ci or [None, None]))
    return f"Δ {arm.diff:+.4g}, CI [{low}, {high}], {arm.seeds} seeds"


def _arm(record: Decision, point: Point) -> ArmDecision:
    return next(a for a in record.arms if point_of(a.point) == point)


def _finite(value: float) -> float | None:
    return value if abs(value) != float("inf") else None
