"""search.confirm: after the search's last round, race its `top` best points on fresh seeds.

The point that looked best on the seeds (and the val part) it was selected on is, on average, not
as good on fresh ones: the winner's curse. So the race never reuses them: its seeds start above
every seed the search trained (the seed drives the split too, so the val and test parts are fresh
as well). Look n trains `batch` more fresh seeds of every point still in the race, all on the same
seeds (paired), packed like any trials, through the runner's `step`; report/race.py's `step`
reads the decisions from their run folders: a point decided worse than the leader leaves, and the
race stops when the leader is decided best (every other point worse or tied with it) or at
`max_seeds`. The looks live in sweep.json (`confirm`): a resumed sweep goes on with the look it was
taking and never takes one twice, and a raised max_seeds continues from the last look
(identity.py): the intervals hold at every number of seeds at once. No TensorFlow here.
"""

from collections import defaultdict
from pathlib import Path

from rich.console import Console

from regexp.report import race, sequential
from regexp.report.decisions import estimate, point_text
from regexp.spec import LoadedSpec
from regexp.store.contract import MetricKey, Status, direction
from regexp.store.folders import read_run
from regexp.store.sweep_file import Race, RaceLook, RaceStanding
from regexp.sweep.state import Sweep
from regexp.sweep.trials import Point, Trial, expand, point_key, point_of, rounds


def seeds_from(loaded: LoadedSpec) -> int:
    """The first fresh seed: above every seed the search trains."""
    return max(loaded.spec.seeds()) + 1


def ranked(sweep: Sweep, top: int) -> list[tuple[Point, float]]:
    """The search's `top` best points by its objective (mean over their completed seeds), best first."""
    results = sweep.point_results()
    order = sorted(results, key=results.get, reverse=sweep.state.objective.mode == "max")
    return [(point, results[point]) for point in order[:top]]


def new_record(sweep: Sweep, loaded: LoadedSpec) -> Race | None:
    """The race of the search's best points, not yet started (None: fewer than two points to race)."""
    confirm = loaded.spec.search.confirm
    best = ranked(sweep, confirm.top)
    if len(best) < 2:
        return None
    pairs = len(best) * (len(best) - 1) // 2
    interval = _interval(confirm.metric)
    return Race(metric=confirm.metric, margin=confirm.margin, alpha=confirm.alpha, batch=confirm.batch,
                max_seeds=confirm.max_seeds, method=interval, pairs=pairs,
                sweep_objective=sweep.state.objective.metric, seeds_from=seeds_from(loaded),
                points={point_key(p): dict(p) for p, _ in best}, selected={point_key(p): v for p, v in best})


def _interval(metric: str) -> str:
    return sequential.BETTING_INTERVAL if sequential.method(metric) == sequential.BETTING_METHOD \
        else sequential.T_INTERVAL


def run_race(sweep: Sweep, runner, loaded: LoadedSpec, console: Console | None) -> None:
    """Take looks until the best is decided or the budget is spent (runner: sweep/runner.py's _Runner)."""
    confirm = loaded.spec.search.confirm
    say = (lambda text: console.print(text, highlight=False, soft_wrap=True)) if console else (lambda text: None)
    if sweep.state.confirm is None:
        sweep.state.confirm = new_record(sweep, loaded)
        if sweep.state.confirm is None:
            ranked_points = len(sweep.point_results())
            say(f"search.confirm: nothing to race: the search has {ranked_points} point"
                f"{'s' if ranked_points != 1 else ''} with a completed seed (a race needs two)")
            return
        sweep.save()
    record = sweep.state.confirm
    say(plan_line(loaded, record))
    taken = len(record.looks)
    while True:
        spent = record.looks[-1].seeds if record.looks else 0
        if record.outcome == "best" or spent >= confirm.max_seeds:
            if record.outcome is None:
                record.outcome = "undecided"
                sweep.save()
            if len(record.looks) == taken:  # this invocation took no look
                say("search.confirm: nothing to train: " + ("the best is decided" if record.outcome == "best" else
                                                            f"the budget of {confirm.max_seeds} fresh seeds per point "
                                                            f"is spent ({spent} taken)"))
            return
        record.outcome = None  # a raised budget reopens an undecided race
        alive = racing(record)
        look = len(record.looks) + 1
        trials = race_trials(loaded, look, [point_of(record.points[key]) for key in alive], spent)
        sweep.add(trials)
        for trial in trials:
            sweep.trials[trial.key].phase = "confirm"
        runner.step(trials, f"race look {look}")
        take_look(sweep, record, alive, look, min(spent + confirm.batch, confirm.max_seeds))
        sweep.save()
        say(look_line(record, look))


def racing(record: Race) -> list[str]:
    """The keys of the points still in the race (none decided worse), in the search's order."""
    left = {s.key for s in record.standings if s.verdict == "worse"}
    return [key for key in record.points if key not in left]


def race_trials(loaded: LoadedSpec, look: int, points: list[Point], spent: int = 0) -> list[Trial]:
    """Look n's trials: the next `batch` fresh seeds of each point after the `spent` of the looks before."""
    confirm, first = loaded.spec.search.confirm, seeds_from(loaded)
    seeds = range(first + spent, first + min(spent + confirm.batch, confirm.max_seeds))
    return expand(loaded, rounds(loaded) + look, points, list(seeds))


def take_look(sweep: Sweep, record: Race, alive: list[str], look: int, seeds: int) -> None:
    """Decide on every fresh seed the points still racing have, and record the look."""
    values, resolution = fresh_values(sweep, record, alive)
    if resolution is not None and (record.resolution is None or resolution > record.resolution):
        record.resolution = resolution
    rule = race.Rule(record.metric, record.margin, record.alpha, direction(record.metric), len(record.points),
                     record.method, record.resolution)
    found = race.step(values, rule)
    standings = [RaceStanding(key=s.key, verdict=s.verdict, seeds=s.seeds, mean=s.mean, diff=s.diff,
                              ci=list(s.ci) if s.ci else None, look=look if s.verdict == "worse" else None)
                 for s in found.standings]
    record.looks.append(RaceLook(seeds=seeds, leader=found.leader, standings=standings))
    kept = {s.key: s for s in record.standings if s.key not in alive}  # those that left at earlier looks
    record.standings = [kept.get(key) or next(s for s in standings if s.key == key) for key in record.points]
    record.leader = found.leader
    record.outcome = "best" if found.decided else "undecided" if seeds >= record.max_seeds else None


def fresh_values(sweep: Sweep, record: Race, keys: list[str]) -> tuple[dict[str, dict[int, float]], float | None]:
    """Point key -> {fresh seed: value} of `record.metric` (cv folds averaged within a seed; failed seeds
    have none), and one sample of the part the metric is scored on (the coarsest; None: continuous)."""
    metric = MetricKey.parse(record.metric)
    folds: dict[str, dict[int, list[float]]] = {key: defaultdict(list) for key in keys}
    steps = []
    for entry in sweep.state.trials:
        key = point_key(point_of(entry.point))
        if entry.phase != "confirm" or key not in folds or entry.status != Status.COMPLETED or not entry.run:
            continue
        run = read_run(Path(sweep.path.parent, entry.run))
        value = run.metrics.value(metric) if run.metrics is not None else None
        if value is not None:
            folds[key][entry.seed].append(value)
        if run.metrics is not None and (step := run.metrics.step(metric)) is not None:
            steps.append(step)
    values = {key: {seed: sum(v) / len(v) for seed, v in sorted(by_seed.items())} for key, by_seed in folds.items()}
    return values, max(steps) if steps else None


def plan_line(loaded: LoadedSpec, record: Race | None = None) -> str:
    """What the race will do: its points (once the search ranked them), seeds, budget and first decision."""
    confirm, search = loaded.spec.search.confirm, loaded.spec.search
    k = len(record.points) if record else confirm.top
    pairs = k * (k - 1) // 2
    first = sequential.first_possible(confirm.metric, confirm.alpha / pairs)
    start = seeds_from(loaded)
    which = (", ".join(point_text(p) for p in record.points.values()) if record else
             f"the {k} best points by {search.objective.metric}")
    return (f"search.confirm: race {which} on {confirm.metric}, on fresh seeds from {start} (the search's: "
            f"{_seeds(loaded.spec.seeds())}), looks of {confirm.batch} up to {confirm.max_seeds} per point (at most "
            f"{k * confirm.max_seeds * _folds(loaded)} trials); alpha {confirm.alpha:g} over {pairs} "
            f"pair{'s' if pairs != 1 else ''}: a decision possible from "
            f"{first if first is not None else 'more than 1000'} paired seeds")


def _seeds(seeds: list[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 else \
        ", ".join(map(str, seeds))


def _folds(loaded: LoadedSpec) -> int:
    return len(expand(loaded, 1, [()], [loaded.spec.seed]))


def look_line(record: Race, look: int) -> str:
    """'race look 2 (10 fresh seeds per point): leader X; Y worse (leader minus it: Δ ..., CI [...]); 1 open'."""
    at = record.looks[-1]
    leader = point_text(record.points[at.leader]) if at.leader else "none yet"
    said = [f"{point_text(record.points[s.key])} {s.verdict} ({estimate(s.diff, s.ci)})" for s in at.standings
            if s.verdict in ("worse", "tied")]
    still = sum(s.verdict == "open" for s in at.standings)
    return f"race look {look} ({at.seeds} fresh seeds per point): leader {leader}; " + "; ".join(
        [*said, f"{still} open"])


def raised_line(record: Race, before: int) -> str:
    """Why raising max_seeds after an undecided race keeps its guarantee (identity.py)."""
    return (f"search.confirm: budget {before} -> {record.max_seeds} fresh seeds per point: the "
            f"{len(record.looks)} looks taken stand and the {len(racing(record))} points still racing go on from "
            f"{record.looks[-1].seeds if record.looks else 0} seeds; the intervals hold at every number of seeds at "
            f"once, so the chance of naming a point outside the margin of the best stays within alpha = "
            f"{record.alpha:g}")
