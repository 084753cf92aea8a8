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
look it was taking and never takes one twice, and a raised max_seeds continues the same sweep from
its last look (sweep/identity.py): the intervals do not depend on the budget. No TensorFlow here.
"""

import math
from pathlib import Path

from rich.console import Console

from regexp.registry.metrics import margin_below
from regexp.report import sequential
from regexp.report.collect import build_rows
from regexp.report.decisions import point_text
from regexp.report.stats import compare
from regexp.spec import LoadedSpec
from regexp.spec.checks import find_grid_point
from regexp.store.contract import FINISHED, MetricKey, Status, direction
from regexp.store.folders import read_run
from regexp.store.sweep_file import ArmDecision, Decision, Look
from regexp.sweep.state import Sweep
from regexp.sweep.trials import Point, Trial, expand, frozen, grid, point_of

METHOD = sequential.T_METHOD  # an unbounded metric's; sequential.method(metric) picks


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
            alpha=decide.alpha, batch=decide.batch, max_seeds=decide.max_seeds,
            method=sequential.method(decide.metric),
            arms=[ArmDecision(point=dict(p), verdict="undecided", seeds=0) for p in others])
        sweep.save()
    record = sweep.state.decide
    if console is not None:
        console.print(plan_line(loaded), highlight=False)
    taken = len(record.looks)
    while True:
        open_points = [point for point in others if _arm(record, point).verdict == "undecided"]
        spent = record.looks[-1].seeds if record.looks else 0  # the looks taken, under whichever budget
        if not open_points or spent >= decide.max_seeds:
            if console is not None and len(record.looks) == taken:  # this invocation took no look
                why = "every arm is decided" if not open_points else (
                    f"the budget of {decide.max_seeds} seeds per arm is spent ({spent} taken)")
                console.print(f"decide: nothing to train: {why}", highlight=False)
            return
        look = len(record.looks) + 1
        runner.step(look_trials(loaded, look, [baseline, *open_points], spent), f"look {look}",
                    outlook=lambda todo: outlook(sweep, loaded, look, spent, todo, len(others), len(open_points)))
        found, step = take_look(sweep, baseline, open_points, decide.alpha / len(others), decide.margin,
                                decide.metric)
        if step is not None and (record.resolution is None or step > record.resolution):
            if console is not None and step > decide.margin >= (record.resolution or 0):
                console.print(f"warning: decide.margin {margin_below(decide.margin, step, decide.metric)}",
                              highlight=False)
            record.resolution = step
        for arm in found:
            if arm.verdict != "undecided":
                arm.look = look
            record.arms[[point_of(a.point) for a in record.arms].index(point_of(arm.point))] = arm
        record.looks.append(Look(seeds=min(spent + decide.batch, decide.max_seeds), arms=found))
        sweep.save()
        if console is not None:
            console.print(look_line(record.looks[-1], look, record), highlight=False)


def outlook(sweep: Sweep, loaded: LoadedSpec, look: int, spent: int, todo: int, arms: int, open_arms: int):
    """The progress line of look `look` (runner.run's `outlook`), which starts after `spent` seeds per arm:
    given how many of its `todo` trials have ended, where the sweep stands ("val_accuracy: look 2 of at
    most 6, 3 of 3 arms open; trials 24 done, at most 96 left") and the trials at most left: this look's,
    then every later look's as if every open arm stayed open."""
    decide = loaded.spec.decide
    end = min(spent + decide.batch, decide.max_seeds)  # seeds per arm once this look is taken
    most = look + math.ceil((decide.max_seeds - end) / decide.batch)
    per_seed = len(expand(loaded, look, [()], [loaded.spec.seed]))  # cv folds per seed
    later = (decide.max_seeds - end) * per_seed * (open_arms + 1)
    before = sum(1 for t in sweep.state.trials if t.status in (*FINISHED, Status.FAILED))

    def where(ended: int) -> tuple[str, int]:
        left = todo - ended + later
        return (f"{decide.metric}: look {look} of at most {most}, {open_arms} of {arms} arms open; trials "
                f"{before + ended} done, at most {left} left"), left
    return where


def look_trials(loaded: LoadedSpec, look: int, points: list[Point], spent: int = 0) -> list[Trial]:
    """Look k's trials: the next `batch` seeds of each point after the `spent` seeds per arm of the
    looks before (from the spec's seed), within the budget. After a budget was raised the first new
    look starts where the last one ended, even when that look was cut short by the old budget."""
    decide, first = loaded.spec.decide, loaded.spec.seed + spent
    return expand(loaded, look, points, list(range(first, min(first + decide.batch,
                                                              loaded.spec.seed + decide.max_seeds))))


def raised_line(record: Decision, before: int) -> str:
    """Why raising max_seeds after some looks keeps the error rate (identity.py, docs/decide.md)."""
    still, looks = sum(a.verdict == "undecided" for a in record.arms), len(record.looks)
    taken = record.looks[-1].seeds if record.looks else 0
    goes_on = (f"{still} open arm{'s go' if still != 1 else ' goes'} on from {taken} seeds, in looks of "
               f"{record.batch}, up to {record.max_seeds}" if still else "no arm is open, so no look is taken")
    stand = f"the {looks} looks taken stand" if looks != 1 else "the look taken stands"
    return (f"decide: budget {before} -> {record.max_seeds} seeds per arm: {stand} and {goes_on}. The intervals "
            "are anytime-valid (they hold at every number of seeds at once), so going on past the old budget keeps "
            f"the chance of any wrong decision within alpha = {record.alpha:g}; nothing is recomputed "
            "(docs/decide.md)")


def plan_line(loaded: LoadedSpec) -> str:
    decide, (_, others) = loaded.spec.decide, arms(loaded)
    first = sequential.first_possible(decide.metric, decide.alpha / len(others))
    when = ("intervals are finite (a decision possible) from" if sequential.method(decide.metric) == sequential.T_METHOD
            else f"{decide.metric} is bounded: intervals for bounded differences (betting), a decision possible from")
    return (f"decide: {len(others)} arms against {decide.baseline} on {decide.metric}, looks of {decide.batch} seeds "
            f"up to {decide.max_seeds}; {when} {first if first is not None else 'more than 1000'} paired seeds")


def take_look(sweep: Sweep, baseline: Point, points: list[Point], alpha: float, margin: float,
              metric: str) -> tuple[list[ArmDecision], float | None]:
    """Each arm of `points` against the baseline on the runs the sweep has so far, and one sample of
    the part the metric is scored on (the coarsest over those runs; None for a continuous metric)."""
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
    key, how = MetricKey.parse(metric), sweep.state.decide.method if sweep.state.decide else sequential.method(metric)
    steps = [step for run in runs if run.metrics is not None and (step := run.metrics.step(key)) is not None]
    resolution = max(steps) if steps else None
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
        low, high = sequential.anytime_interval(metric, pairs, alpha, how)
        out.append(ArmDecision(point=dict(point), verdict=sequential.verdict(low, high, margin, direction(metric),
                                                                             resolution),
                               seeds=len(pairs), diff=sum(pairs) / len(pairs), ci=[_finite(low), _finite(high)],
                               left_out=c.left_out))
    return out, resolution


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
