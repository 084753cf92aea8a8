"""The report: rows of runs and groups, their summaries and the comparisons asked for
(`build_report`), from run folders only (never TensorFlow, never the trainer)."""

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from regexp.errors import UserError
from regexp.registry.metrics import NEUTRAL, RANGES, span
from regexp.registry.stat_tests import STAT_TESTS
from regexp.report import index as record_index
from regexp.report import quantiles
from regexp.report.answer import Answer, Question, answer
from regexp.report.collect import (
    MC_DROPOUT,
    Row,
    all_match,
    build_rows,
    full_key,
    mark_differing,
    matches,
    other_metrics,
    run_values,
    sort_rows,
    split_rules,
    sweep_objective,
    sweep_objectives,
)
from regexp.report.decisions import Decisions, read_decisions
from regexp.report.facts import facts, flatten, param_text
from regexp.report.lineage import mixing
from regexp.report.race import RaceSummary, read_races
from regexp.report.search import SearchSummary, read_search
from regexp.report.stats import CORRECTIONS, Comparison, Summary, adjust, compare, family_level, summarize
from regexp.store import scan as scanning
from regexp.store.contract import MetricKey, direction
from regexp.store.folders import RunRecord, find_runs, read_run

FAILURES = ("drop", "worst")                      # report --failures
CV_FOLDS = ("average", "nadeau-bengio")           # report --cv-folds
LOST = ("failed", "crashed")                      # statuses that --failures worst counts as the worst value


@dataclass
class Report:
    rows: list[Row]
    params: list[str]                 # the config keys shown (those that differ, or all)
    metric: str                       # the main metric (accuracy, mae, ...)
    focus: str                        # the column that gets the CI and the baseline test
    columns: list[str]
    baseline: Row | None = None
    summaries: dict[str, dict[str, Summary]] = field(default_factory=dict)  # row id -> column -> summary
    comparisons: dict[str, Comparison] = field(default_factory=dict)       # row id -> vs baseline
    expanded: dict[str, list[Row]] = field(default_factory=dict)           # group id -> member rows
    correction: str = "holm"                                               # how p-values were adjusted
    against: str | None = None       # compare each row's focus column with this column of the same runs
    detect: float | None = None      # --detect: the difference seeds_needed plans for
    notes: list[str] = field(default_factory=list)                         # re-runs set aside, selection
    warnings: list[str] = field(default_factory=list)
    family: int = 0                  # comparisons the correction was over (every row's, before --limit)
    failures: str = "drop"           # --failures: drop failed seeds, or count them as the arm's worst value
    margin: float | None = None      # --margin: equivalence (TOST) within ±margin
    test: str = "t"                  # --test: a name in registry/stat_tests.py
    folds: str = "average"           # --cv-folds: average within a seed, or nadeau-bengio fold-level
    decisions: Decisions | None = None  # a decide: sweep's arms, how each ended, its looks
    races: list[RaceSummary] = field(default_factory=list)  # each search.confirm race: is the best the best?
    importance: bool = False  # --importance: `searches` was read
    searches: list[SearchSummary] = field(default_factory=list)  # each search sweep's importance, expected best
    question: Question | None = None  # what the report answers (report/answer.py), once
    answers: list[Answer] = field(default_factory=list)  # one per arm
    conflicts: list[str] = field(default_factory=list)  # where another metric points another way, in words
    descriptive: str | None = None    # why the baseline comparisons are no verdicts (a decide: sweep's seeds)

    @property
    def comparing(self) -> str | None:
        """One line saying what was compared and how, or None without a baseline."""
        if self.baseline is None and self.against is None:
            return None
        tests = sorted({c.test for c in self.comparisons.values() if c.test})
        tested = self.family
        what = f"{self.focus} vs baseline {self.baseline.id}" if self.baseline else f"{self.focus} vs {self.against}"
        worst = (" a failed or crashed seed ranks below every completed value (the test) and counts as its arm's "
                 "worst value (Δ);" if self.failures == "worst" else "")
        folds = " cv folds averaged within each seed (n = seeds);" if any(
            c.folds_averaged for c in self.comparisons.values()) else ""
        tost = (f" equivalence: TOST within ±{self.margin:g} (a bounded metric: betting tests), its p adjusted over "
                "the same family;" if self.margin is not None else "")
        bounded = (" a bounded metric whose differences are all equal: a betting interval and test (Waudby-Smith & "
                   "Ramdas, 2023);"
                   if any(c.span is not None for c in self.comparisons.values()) else "")
        text = (f"{what}: {' / '.join(tests) or 'no test'}, p adjusted by {CORRECTIONS[self.correction]} over "
                f"{tested} comparison{'s' if tested != 1 else ''} (α = 0.05, two-sided); paired on the seeds both "
                f"arms have;{folds}{worst}{tost}{bounded} Δ with its unadjusted 95% CI; effect d_z (paired) or "
                "Hedges' g, small-sample corrected; power: an estimate from the observed spread at the family's "
                "adjusted α")
        return text if self.descriptive is None else f"{text}. Descriptive only: {self.descriptive}"


def build_report(targets: list[str], runs_dir: Path, *, filters: list[str] = (), sort: str | None = None,
                 limit: int | None = None, all_params: bool = False, expand: bool = False,
                 baseline: str | None = None, focus: str | None = None, group: bool = True,
                 correction: str = "holm", against: str | None = None, detect: float | None = None,
                 group_by: str | None = None, failures: str = "drop", margin: float | None = None,
                 test: str = "t", folds: str = "average", scanned: scanning.Scan | None = None,
                 importance: bool = False) -> Report:
    """`scanned`: runs_dir's store.scan.scan when the caller took one (the cache key's), else taken here."""
    strays: list[str] = []
    scanned = scanned if scanned is not None or targets else scanning.scan(runs_dir)
    if scanned is not None:  # the whole runs folder: finished runs unchanged since the last report come from its index
        strays = scanning.strays(scanned)
        runs: list[RunRecord] = record_index.read_runs(runs_dir, scanned)
    else:
        runs = [read_run(path) for path in find_runs(targets, runs_dir, strays)]
    runs = [run for run in runs if all(matches(run, rule) for rule in filters)]
    rows, metric = build_rows(runs, group=group, group_by=group_by)
    sort = sort or sweep_objective(runs)  # a sweep is ranked by its objective
    columns = ["epochs_run", "best_epoch", "train_loss", "val_loss", "test_loss",
               f"train_{metric}", f"val_{metric}", f"test_{metric}", "gap_loss", f"gap_{metric}", "duration_s"]
    columns += [f"{part}_{name}" for name in other_metrics(runs, metric) for part in ("val", "test")]
    columns += [f"test_{name}" for name in MC_DROPOUT if any(row.column(f"test_{name}") for row in rows)]
    if sort is not None and sort not in columns:
        raise UserError(f"--sort {sort}: unknown column (allowed: {', '.join(columns)})")
    for option, column in (("--metric", focus), ("--against", against)):
        if column is not None and column not in columns:
            raise UserError(f"{option} {column}: unknown column (allowed: {', '.join(columns)})")
    if folds not in CV_FOLDS:
        raise UserError(f"--cv-folds {folds}: not a choice (allowed: {' | '.join(CV_FOLDS)})")
    if test not in STAT_TESTS:
        raise UserError(f"--test {test}: not a test (allowed: {' | '.join(STAT_TESTS)})")
    if margin is not None and baseline is None:
        raise UserError("--margin: needs --baseline: equivalence is to a baseline row")
    if failures not in FAILURES:
        raise UserError(f"--failures {failures}: not a policy (allowed: {' | '.join(FAILURES)})")
    if correction not in CORRECTIONS:
        raise UserError(f"--correction {correction}: not a correction (allowed: {' | '.join(CORRECTIONS)})")
    if against is not None and baseline is not None:
        raise UserError("--against and --baseline: give one (a column of the same runs, or a row to compare with)")
    if group_by is not None and (not group or expand):
        raise UserError("--group-by: cannot be combined with --no-groups or --expand")
    if detect is not None and baseline is None and against is None:
        raise UserError("--detect: needs --baseline (or --against): it plans seeds for a comparison")
    focus = focus or (sort if sort not in (None, "duration_s", "epochs_run", "best_epoch") else f"val_{metric}")
    width = None if _neutral(focus) else span(MetricKey.parse(focus).name)
    if margin is not None and width is not None and margin >= width:
        raise UserError(f"--margin {margin:g}: the whole range of {focus} is {width:g} wide, so every difference would "
                        "be within it (a margin is in the metric's units: 0.01 is one point of accuracy)")
    if failures == "worst" and _neutral(focus):
        raise UserError(f"--failures worst: {focus} has no better side (a gap, a count or a diagnostic), so a failed "
                        "seed cannot rank last on it; compare on a loss or a metric (--metric val_loss)")
    rows = sort_rows(rows, sort)
    base_row = find_row(rows, baseline, option="--baseline") if baseline else None
    family = rows  # every comparison the report makes counts in the correction, whatever --limit shows
    picked = rows[0] if limit is not None and sort is not None and rows and rows[0] is not base_row else None
    if limit is not None:
        rows = rows[:limit] + ([base_row] if base_row is not None and base_row not in rows[:limit] else [])
    params = mark_differing(rows, all_params)
    if group_by:  # a group's runs differ in more than the seed: only the grouping value describes it
        params = [group_by]
        for row in rows:
            row.params = {group_by: row.id.partition("=")[2]}
    report = Report(rows, params, metric, focus, columns, base_row,
                    correction=correction, against=against, detect=detect, failures=failures, margin=margin,
                    test=test, folds=folds)
    report.decisions = read_decisions(runs, rows)
    report.races = read_races(runs)
    if importance:
        report.importance, report.searches = True, read_search(runs)
    if strays:
        report.warnings.append(f"{runs_dir}: {len(strays)} entries are not run folders and were skipped "
                               f"({', '.join(strays[:3])}{', ...' if len(strays) > 3 else ''})")
    for row in rows:
        report.summaries[row.id] = {c: s for c in columns if (s := summarize(row.column(c), _range(c))) is not None}
        report.warnings.extend(row.warnings)
        report.notes.extend(row.notes)
        if expand and row.kind == "group":
            members = [Row("run", run.id, run.name, [run], {run.id: run_values(run, metric)},
                           replicates={run.id: row.replicates[run.id]}) for run in row.members]
            report.expanded[row.id] = members
            for member in members:
                member.params = dict(row.params, seed=member.seeds[0])
                report.summaries[member.id] = {c: s for c in columns
                                               if (s := summarize(member.column(c), _range(c))) is not None}
    if base_row is not None or against is not None:
        _compare_rows(report, runs, family, picked, sort)
        shown = {row.id for row in rows}
        report.family = len([c for c in report.comparisons.values() if c.p is not None])
        report.comparisons = {key: c for key, c in report.comparisons.items() if key in shown}
    answer(report)
    quantiles.remember()  # the next report reads this one's t quantiles instead of importing scipy
    return report


def _compare_rows(report: Report, runs: list[RunRecord], family: list[Row], picked: Row | None,
                  sort: str | None) -> None:
    """Every row of the family (all rows, before --limit) against the baseline row (or its own
    --against column), adjusted together; a selected row says that its comparison is optimistic."""
    for row in family:
        if row is report.baseline:
            continue
        if report.baseline:
            base = _values(report, report.baseline)
            why = {"baseline": report.baseline.missing(report.focus), "arm": row.missing(report.focus)}
        else:
            base, why = row.by_replicate(report.against), {}
        better = None if _neutral(report.focus) else direction(report.focus)
        comparison = compare(base, _values(report, row), why, report.test, better, folds=report.folds,
                             span=None if better is None else span(MetricKey.parse(report.focus).name))
        if comparison is None:
            continue
        report.comparisons[row.id] = comparison
        if report.baseline:
            comparison.counts = {"baseline": _counts(report.baseline), "arm": _counts(row)}
            lost = {side: sum(counts.get(s, 0) for s in LOST) for side, counts in comparison.counts.items()}
            mixed = mixing([report.baseline, row])
            if mixed:
                report.warnings.append(f"{row.id}: the arm and the baseline come from different sources ({mixed}); "
                                       "the difference may be theirs, not the configs'")
            if report.failures == "drop" and (lost["arm"] or lost["baseline"]):
                report.warnings.append(
                    f"{row.id}: {lost['arm']} failed or crashed runs, the baseline {lost['baseline']}, left out: valid "
                    "only if a failure says nothing about how the seed would have scored; when failures track bad "
                    "outcomes, leaving them out flatters the arm that fails more (--failures worst ranks each failure "
                    "below every completed value, a test that holds either way)")
    adjust(list(report.comparisons.values()), report.correction,
           None if _neutral(report.focus) else direction(report.focus), report.margin)
    level = family_level(sum(c.p is not None for c in report.comparisons.values()), report.correction)
    for comparison in report.comparisons.values():
        if report.detect is not None and comparison.design is not None:
            comparison.seeds_needed = comparison.design.seeds_needed(report.detect, level)
    focus = MetricKey.parse(report.focus)
    test_column = f"test_{focus.name}"
    for parent, objective in sweep_objectives(runs).items():  # the point each sweep chose as its best
        best = _best_row(family, parent, objective)
        if best is not None and MetricKey.parse(objective).part == focus.part != "test":
            _note(report, best, f"optimistic: the sweep chose this point as its best by {objective}, on the same "
                                f"{focus.part} part; compare on {test_column} (--metric {test_column})")
    if picked is not None and sort is not None and MetricKey.parse(sort).part == focus.part != "test":
        _note(report, picked, f"optimistic: this row was picked as the best of {len(family)} by --sort {sort}; "
                              f"compare on {test_column} (--metric {test_column})")


def _neutral(column: str) -> bool:
    """A gap, an epoch count, a duration or a diagnostic has no better side: higher or lower."""
    return (column.startswith("gap_") or column in ("epochs_run", "best_epoch", "duration_s")
            or MetricKey.parse(column).name in NEUTRAL)


def _values(report: Report, row: Row) -> dict[tuple, float]:
    """The focus column by replicate; with --failures worst a failed or crashed seed is NaN, which
    stats.compare ranks below every completed value (and counts as the arm's worst value in Δ)."""
    values = row.by_replicate(report.focus)
    if report.failures == "worst" and values:
        values.update({key: math.nan for key, why in row.missing(report.focus).items() if why in LOST})
    return values


def _counts(row: Row) -> dict[str, int]:
    return dict(Counter(str(run.status) for run in row.members))


def _best_row(rows: list[Row], parent: str, objective: str) -> Row | None:
    """The row of a sweep's best point: the best mean of its objective among that sweep's rows."""
    mine = [row for row in rows if any(facts(run).parent == parent for run in row.members) and row.mean(objective)
            is not None]
    if not mine:
        return None
    pick = max if direction(objective) == "max" else min
    return pick(mine, key=lambda row: row.mean(objective))


def _note(report: Report, row: Row, text: str) -> None:
    comparison = report.comparisons.get(row.id)
    if comparison is not None and comparison.note is None:
        comparison.note = text
        report.notes.append(f"{row.id}: {text}")


def _range(column: str) -> tuple[float | None, float | None]:
    """The range of a column's values: accuracy [0, 1], losses >= 0; gaps and durations unbounded."""
    key = MetricKey.parse(column)
    return (None, None) if key.part == "gap" else RANGES.get(key.name, (None, None))


def find_row(rows: list[Row], wanted: str, option: str = "") -> Row:
    """The one row a user named by id, name, id prefix or KEY=VALUE of its config (`option`
    prefixes the error)."""
    where = f"{option} " if option else ""
    by_config = "=" in wanted and not any(r.id == wanted or r.name == wanted for r in rows)
    for test in ((lambda r: all_match(r.members[0], wanted)),) if by_config else (
            lambda r: r.id == wanted, lambda r: r.name == wanted,
            lambda r: r.id.startswith(wanted) or any(run.id.startswith(wanted) for run in r.members)):
        found = [r for r in rows if test(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UserError(f"{where}{wanted}: matches {len(found)} rows ({', '.join(r.id for r in found[:4])}); "
                             "name one by its id")
    if by_config:
        raise UserError(f"{where}{wanted}: no run or group has this config value ({_existing(rows, wanted)})")
    raise UserError(f"{where}{wanted}: no run or group has this id or name")


def _existing(rows: list[Row], wanted: str) -> str:
    """The values each KEY of `wanted` has in the rows: "dropout has 0.0, 0.5; l2 has 0.0, 0.001"."""
    flats = [flatten(row.members[0].config) for row in rows]
    parts = []
    for rule in split_rules(wanted):
        key = rule.partition("=")[0]
        runs = [run for row in rows for run in row.members]
        values = ({run.name for run in runs} if key == "name" else {str(run.status) for run in runs} if key == "status"
                  else {facts(run).parent or "(none)" for run in runs} if key == "parent"
                  else {str(t) for run in runs for t in (run.config.get("tags") or [])} if key == "tag"
                  else {param_text(flat[full]) for flat in flats if (full := full_key(key, flat)) in flat})
        shown = sorted(values, key=lambda v: (_number(v) is None, _number(v) or 0.0, v))
        parts.append(f"{key} has {', '.join(shown[:12])}{', ...' if len(shown) > 12 else ''}" if values
                     else f"{key} is in no run's config")
    return "; ".join(parts)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
