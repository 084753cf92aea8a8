"""The report: rows of runs and groups, their summaries and the comparisons asked for
(`build_report`), from run folders only (never TensorFlow, never the trainer)."""

import math
from collections import Counter
from dataclasses import dataclass, field

from regexp.errors import UserError
from regexp.registry.metrics import NEUTRAL, RANGES, span
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
from regexp.report.options import CORRECTIONS, ReportOptions
from regexp.report.race import RaceSummary, read_races
from regexp.report.search import SearchSummary, read_search
from regexp.report.stats import Comparison, Summary, adjust, compare, family_level, summarize
from regexp.store import scan as scanning
from regexp.store.contract import LOST, MetricKey, direction
from regexp.store.folders import RunRecord, find_runs, read_run


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
    options: ReportOptions = ReportOptions()  # what was asked (its metric, when given, is `focus`)
    notes: list[str] = field(default_factory=list)                         # re-runs set aside, selection
    warnings: list[str] = field(default_factory=list)
    family: int = 0                  # comparisons the correction was over (every row's, before --limit)
    decisions: Decisions | None = None  # a decide: sweep's arms, how each ended, its looks
    races: list[RaceSummary] = field(default_factory=list)  # each search.confirm race: is the best the best?
    searches: list[SearchSummary] = field(default_factory=list)  # each search sweep's importance, expected best
    question: Question | None = None  # what the report answers (report/answer.py), once
    answers: list[Answer] = field(default_factory=list)  # one per arm
    conflicts: list[str] = field(default_factory=list)  # where another metric points another way, in words
    descriptive: str | None = None    # why the baseline comparisons are no verdicts (a decide: sweep's seeds)

    @property
    def comparing(self) -> str | None:
        """One line saying what was compared and how, or None without a baseline."""
        asked = self.options
        if self.baseline is None and asked.against is None:
            return None
        tests = sorted({c.test for c in self.comparisons.values() if c.test})
        tested = self.family
        what = f"{self.focus} vs baseline {self.baseline.id}" if self.baseline else f"{self.focus} vs {asked.against}"
        worst = (" a failed or crashed seed ranks below every completed value (the test) and counts as its arm's "
                 "worst value (Δ);" if asked.failures == "worst" else "")
        folds = " cv folds averaged within each seed (n = seeds);" if any(
            c.folds_averaged for c in self.comparisons.values()) else ""
        tost = (f" equivalence: TOST within ±{asked.margin:g} (a bounded metric: betting tests), its p adjusted over "
                "the same family;" if asked.margin is not None else "")
        bounded = (" a bounded metric whose differences are all equal: a betting interval and test (Waudby-Smith & "
                   "Ramdas, 2023);"
                   if any(c.span is not None for c in self.comparisons.values()) else "")
        text = (f"{what}: {' / '.join(tests) or 'no test'}, p adjusted by {CORRECTIONS[asked.correction]} over "
                f"{tested} comparison{'s' if tested != 1 else ''} (α = 0.05, two-sided); paired on the seeds both "
                f"arms have;{folds}{worst}{tost}{bounded} Δ with its unadjusted 95% CI; effect d_z (paired) or "
                "Hedges' g, small-sample corrected; power: an estimate from the observed spread at the family's "
                "adjusted α")
        return text if self.descriptive is None else f"{text}. Descriptive only: {self.descriptive}"


def build_report(options: ReportOptions, scanned: scanning.Scan | None = None) -> Report:
    """`scanned`: runs_dir's store.scan.scan when the caller took one (the cache key's), else taken here."""
    runs, strays = _read_runs(options, scanned)
    rows, metric = build_rows(runs, group=not options.no_groups, group_by=options.group_by)
    sort = options.sort or sweep_objective(runs)  # a sweep is ranked by its objective
    columns = _columns(runs, rows, metric)
    for option, column in (("--sort", sort), ("--metric", options.metric), ("--against", options.against)):
        if column is not None and column not in columns:
            raise UserError(f"{option} {column}: unknown column (allowed: {', '.join(columns)})")
    focus = _focus(options, sort, metric)
    rows = sort_rows(rows, sort)
    base_row = find_row(rows, options.baseline, option="--baseline") if options.baseline else None
    family = rows  # every comparison the report makes counts in the correction, whatever --limit shows
    limit = options.limit
    picked = rows[0] if limit is not None and sort is not None and rows and rows[0] is not base_row else None
    if limit is not None:
        rows = rows[:limit] + ([base_row] if base_row is not None and base_row not in rows[:limit] else [])
    params = mark_differing(rows, options.all_params)
    if options.group_by:  # a group's runs differ in more than the seed: only the grouping value describes it
        params = [options.group_by]
        for row in rows:
            row.params = {options.group_by: row.id.partition("=")[2]}
    report = Report(rows, params, metric, focus, columns, base_row, options=options)
    report.decisions = read_decisions(runs, rows)
    report.races = read_races(runs)
    if options.importance:
        report.searches = read_search(runs)
    if strays:
        report.warnings.append(f"{options.runs_dir}: {len(strays)} entries are not run folders and were skipped "
                               f"({', '.join(strays[:3])}{', ...' if len(strays) > 3 else ''})")
    for row in rows:
        _summarize(report, row)
    if base_row is not None or options.against is not None:
        _compare_rows(report, runs, family, picked, sort)
        shown = {row.id for row in rows}
        report.family = len([c for c in report.comparisons.values() if c.p is not None])
        report.comparisons = {key: c for key, c in report.comparisons.items() if key in shown}
    answer(report)
    quantiles.remember()  # the next report reads this one's t quantiles instead of importing scipy
    return report


def _read_runs(options: ReportOptions, scanned: scanning.Scan | None) -> tuple[list[RunRecord], list[str]]:
    """The runs the report is over (filters applied) and the entries of runs_dir that are no run folders."""
    strays: list[str] = []
    scanned = scanned if scanned is not None or not options.whole_folder else scanning.scan(options.runs_dir)
    if scanned is not None:  # the whole runs folder: finished runs unchanged since the last report come from its index
        strays = scanning.strays(scanned)
        runs: list[RunRecord] = record_index.read_runs(options.runs_dir, scanned)
    else:
        runs = [read_run(path) for path in find_runs(list(options.targets), options.runs_dir, strays)]
    return [run for run in runs if all(matches(run, rule) for rule in options.filters)], strays


def _columns(runs: list[RunRecord], rows: list[Row], metric: str) -> list[str]:
    """The report's columns: the losses and the main metric per part, the other metrics, MC dropout's."""
    columns = ["epochs_run", "best_epoch", "train_loss", "val_loss", "test_loss",
               f"train_{metric}", f"val_{metric}", f"test_{metric}", "gap_loss", f"gap_{metric}", "duration_s"]
    columns += [f"{part}_{name}" for name in other_metrics(runs, metric) for part in ("val", "test")]
    return columns + [f"test_{name}" for name in MC_DROPOUT if any(row.column(f"test_{name}") for row in rows)]


def _focus(options: ReportOptions, sort: str | None, metric: str) -> str:
    """The column that gets the CI and the baseline test: --metric, else a metric --sort, else val_<metric>;
    --margin and --failures worst checked against it."""
    focus = options.metric or (sort if sort not in (None, "duration_s", "epochs_run", "best_epoch") else
                               f"val_{metric}")
    width = None if neutral_column(focus) else span(MetricKey.parse(focus).name)
    margin = options.margin
    if margin is not None and width is not None and margin >= width:
        raise UserError(f"--margin {margin:g}: the whole range of {focus} is {width:g} wide, so every difference would "
                        "be within it (a margin is in the metric's units: 0.01 is one point of accuracy)")
    if options.failures == "worst" and neutral_column(focus):
        raise UserError(f"--failures worst: {focus} has no better side (a gap, a count or a diagnostic), so a failed "
                        "seed cannot rank last on it; compare on a loss or a metric (--metric val_loss)")
    return focus


def _summarize(report: Report, row: Row) -> None:
    """A row's column summaries, its warnings and notes; with --expand a group's members as rows too."""
    report.summaries[row.id] = {c: s for c in report.columns
                                if (s := summarize(row.column(c), column_range(c))) is not None}
    report.warnings.extend(row.warnings)
    report.notes.extend(row.notes)
    if report.options.expand and row.kind == "group":
        members = [Row("run", run.id, run.name, [run], {run.id: run_values(run, report.metric)},
                       replicates={run.id: row.replicates[run.id]}) for run in row.members]
        report.expanded[row.id] = members
        for member in members:
            member.params = dict(row.params, seed=member.seeds[0])
            report.summaries[member.id] = {c: s for c in report.columns
                                           if (s := summarize(member.column(c), column_range(c))) is not None}


def _compare_rows(report: Report, runs: list[RunRecord], family: list[Row], picked: Row | None,
                  sort: str | None) -> None:
    """Every row of the family (all rows, before --limit) against the baseline row (or its own
    --against column), adjusted together; a selected row says that its comparison is optimistic."""
    asked = report.options
    for row in family:
        if row is report.baseline:
            continue
        if report.baseline:
            base = _values(report, report.baseline)
            why = {"baseline": report.baseline.missing(report.focus), "arm": row.missing(report.focus)}
        else:
            base, why = row.by_replicate(asked.against), {}
        better = None if neutral_column(report.focus) else direction(report.focus)
        comparison = compare(base, _values(report, row), why, asked.test, better, folds=asked.cv_folds,
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
            if asked.failures == "drop" and (lost["arm"] or lost["baseline"]):
                report.warnings.append(
                    f"{row.id}: {lost['arm']} failed or crashed runs, the baseline {lost['baseline']}, left out: valid "
                    "only if a failure says nothing about how the seed would have scored; when failures track bad "
                    "outcomes, leaving them out flatters the arm that fails more (--failures worst ranks each failure "
                    "below every completed value, a test that holds either way)")
    adjust(list(report.comparisons.values()), asked.correction,
           None if neutral_column(report.focus) else direction(report.focus), asked.margin)
    level = family_level(sum(c.p is not None for c in report.comparisons.values()), asked.correction)
    for comparison in report.comparisons.values():
        if asked.detect is not None and comparison.design is not None:
            comparison.seeds_needed = comparison.design.seeds_needed(asked.detect, level)
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


def neutral_column(column: str) -> bool:
    """A gap, an epoch count, a duration or a diagnostic has no better side: higher or lower."""
    return (column.startswith("gap_") or column in ("epochs_run", "best_epoch", "duration_s")
            or MetricKey.parse(column).name in NEUTRAL)


def _values(report: Report, row: Row) -> dict[tuple, float]:
    """The focus column by replicate; with --failures worst a failed or crashed seed is NaN, which
    stats.compare ranks below every completed value (and counts as the arm's worst value in Δ)."""
    values = row.by_replicate(report.focus)
    if report.options.failures == "worst" and values:
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


def column_range(column: str) -> tuple[float | None, float | None]:
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
