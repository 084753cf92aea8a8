"""`regexp report`: compare runs from their folders only (never TensorFlow, never the trainer)."""

from dataclasses import dataclass, field
from pathlib import Path

from regexp.errors import UserError
from regexp.report.collect import (
    MC_DROPOUT,
    Row,
    build_rows,
    mark_differing,
    matches,
    other_metrics,
    run_values,
    sort_rows,
    sweep_objective,
    sweep_objectives,
)
from regexp.report.stats import CORRECTIONS, Comparison, Summary, adjust, compare, summarize
from regexp.store.contract import direction
from regexp.store.folders import RunRecord, find_runs, read_run

FORMATS = ("table", "md", "csv", "json", "html")  # report --format: what views/report.py renders


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

    @property
    def comparing(self) -> str | None:
        """One line saying what was compared and how, or None without a baseline."""
        if self.baseline is None and self.against is None:
            return None
        tests = sorted({c.test for c in self.comparisons.values() if c.test})
        tested = sum(1 for c in self.comparisons.values() if c.p is not None)
        what = f"{self.focus} vs baseline {self.baseline.id}" if self.baseline else f"{self.focus} vs {self.against}"
        return (f"{what}: {' / '.join(tests) or 'no test'}, p adjusted by {CORRECTIONS[self.correction]} over "
                f"{tested} comparison{'s' if tested != 1 else ''} (α = 0.05, two-sided); Δ with its 95% CI; "
                f"min detectable at 80% power")


def build_report(targets: list[str], runs_dir: Path, *, filters: list[str] = (), sort: str | None = None,
                 limit: int | None = None, all_params: bool = False, expand: bool = False,
                 baseline: str | None = None, focus: str | None = None, group: bool = True,
                 correction: str = "holm", against: str | None = None, detect: float | None = None,
                 group_by: str | None = None) -> Report:
    strays: list[str] = []
    runs: list[RunRecord] = [read_run(path) for path in find_runs(targets, runs_dir, strays)]
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
    if correction not in CORRECTIONS:
        raise UserError(f"--correction {correction}: not a correction (allowed: {' | '.join(CORRECTIONS)})")
    if against is not None and baseline is not None:
        raise UserError("--against and --baseline: give one (a column of the same runs, or a row to compare with)")
    if group_by is not None and (not group or expand):
        raise UserError("--group-by: cannot be combined with --no-groups or --expand")
    if detect is not None and baseline is None and against is None:
        raise UserError("--detect: needs --baseline (or --against): it plans seeds for a comparison")
    focus = focus or (sort if sort not in (None, "duration_s", "epochs_run", "best_epoch") else f"val_{metric}")
    rows = sort_rows(rows, sort)
    base_row = find_row(rows, baseline, option="--baseline") if baseline else None
    if limit is not None:
        rows = rows[:limit] + ([base_row] if base_row is not None and base_row not in rows[:limit] else [])
    params = mark_differing(rows, all_params)
    if group_by:  # a group's runs differ in more than the seed: only the grouping value describes it
        params = [group_by]
        for row in rows:
            row.params = {group_by: row.id.partition("=")[2]}
    report = Report(rows, params, metric, focus, columns, base_row,
                    correction=correction, against=against, detect=detect)
    if strays:
        report.warnings.append(f"{runs_dir}: {len(strays)} entries are not run folders and were skipped "
                               f"({', '.join(strays[:3])}{', ...' if len(strays) > 3 else ''})")
    for row in rows:
        report.summaries[row.id] = {c: s for c in columns if (s := summarize(row.column(c))) is not None}
        report.warnings.extend(row.warnings)
        report.notes.extend(row.notes)
        if expand and row.kind == "group":
            members = [Row("run", run.id, run.name, [run], {run.id: run_values(run, metric)},
                           replicates={run.id: row.replicates[run.id]}) for run in row.members]
            report.expanded[row.id] = members
            for member in members:
                member.params = dict(row.params, seed=member.seeds[0])
                report.summaries[member.id] = {c: s for c in columns if (s := summarize(member.column(c))) is not None}
    if base_row is not None or against is not None:
        _compare_rows(report, runs)
    return report


def _compare_rows(report: Report, runs: list[RunRecord]) -> None:
    """Every row against the baseline row (or its own --against column), adjusted together."""
    for row in report.rows:
        if row is report.baseline:
            continue
        base = report.baseline.by_replicate(report.focus) if report.baseline else row.by_replicate(report.against)
        comparison = compare(base, row.by_replicate(report.focus))
        if comparison is not None:
            report.comparisons[row.id] = comparison
    # a gap, an epoch count or a duration has no better side: its verdict says higher or lower
    neutral = report.focus.startswith("gap_") or report.focus in ("epochs_run", "best_epoch", "duration_s")
    adjust(list(report.comparisons.values()), report.correction, None if neutral else direction(report.focus))
    selected = sweep_objectives(runs)  # sweep -> the column it chose its best point by
    for row in report.rows:
        comparison = report.comparisons.get(row.id)
        if comparison is None:
            continue
        if report.detect is not None and comparison.design is not None:
            comparison.seeds_needed = comparison.design.seeds_needed(report.detect)
        sweeps = {run.info.parent for r in (row, report.baseline) if r for run in r.members} & set(selected)
        if any(selected[s] == report.focus for s in sweeps):
            test_column = "test_" + report.focus.partition("_")[2]
            comparison.note = (f"optimistic: the sweep chose its best point by {report.focus}; "
                               f"compare on {test_column} (--metric {test_column})")
    if any(c.note for c in report.comparisons.values()):
        report.notes.append(next(c.note for c in report.comparisons.values() if c.note))


def find_row(rows: list[Row], wanted: str, option: str = "") -> Row:
    """The one row a user named by id, name, id prefix or KEY=VALUE of its config (`option`
    prefixes the error)."""
    where = f"{option} " if option else ""
    by_config = "=" in wanted and not any(r.id == wanted or r.name == wanted for r in rows)
    for test in ((lambda r: matches(r.members[0], wanted)),) if by_config else (
            lambda r: r.id == wanted, lambda r: r.name == wanted,
            lambda r: r.id.startswith(wanted) or any(run.id.startswith(wanted) for run in r.members)):
        found = [r for r in rows if test(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UserError(f"{where}{wanted}: matches {len(found)} rows ({', '.join(r.id for r in found[:4])}); "
                             "name one by its id")
    raise UserError(f"{where}{wanted}: no run or group has this " + ("config value" if by_config else "id or name"))


__all__ = ["Report", "build_report"]
