"""`regexp report`: compare runs from their folders only (never TensorFlow, never the trainer)."""

from dataclasses import dataclass, field
from pathlib import Path

from regexp.errors import UserError
from regexp.report.collect import MC_DROPOUT, Row, build_rows, mark_differing, matches, run_values, sort_rows, sweep_objective
from regexp.report.stats import Comparison, Summary, compare, summarize
from regexp.runs import RunRecord, find_runs, read_run


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
    warnings: list[str] = field(default_factory=list)


def build_report(targets: list[str], runs_dir: Path, *, filters: list[str] = (), sort: str | None = None,
                 limit: int | None = None, all_params: bool = False, expand: bool = False,
                 baseline: str | None = None, focus: str | None = None, group: bool = True) -> Report:
    strays: list[str] = []
    runs: list[RunRecord] = [read_run(path) for path in find_runs(targets, runs_dir, strays)]
    runs = [run for run in runs if all(matches(run, rule) for rule in filters)]
    rows, metric = build_rows(runs, group=group)
    sort = sort or sweep_objective(runs)  # a sweep is ranked by its objective
    columns = ["epochs_run", "best_epoch", "train_loss", "val_loss", "test_loss",
               f"train_{metric}", f"val_{metric}", f"test_{metric}", f"gap_{metric}", "duration_s"]
    columns += [f"test_{name}" for name in MC_DROPOUT if any(row.column(f"test_{name}") for row in rows)]
    if sort is not None and sort not in columns:
        raise UserError(f"--sort {sort}: unknown column (allowed: {', '.join(columns)})")
    if focus is not None and focus not in columns:
        raise UserError(f"--metric {focus}: unknown column (allowed: {', '.join(columns)})")
    focus = focus or (sort if sort not in (None, "duration_s", "epochs_run", "best_epoch") else f"val_{metric}")
    rows = sort_rows(rows, sort)
    base_row = find_row(rows, baseline, option="--baseline") if baseline else None
    if limit is not None:
        rows = rows[:limit] + ([base_row] if base_row is not None and base_row not in rows[:limit] else [])
    report = Report(rows, mark_differing(rows, all_params), metric, focus, columns, base_row)
    if strays:
        report.warnings.append(f"{runs_dir}: {len(strays)} entries are not run folders and were skipped "
                               f"({', '.join(strays[:3])}{', ...' if len(strays) > 3 else ''})")
    for row in rows:
        report.summaries[row.id] = {c: s for c in columns if (s := summarize(row.column(c))) is not None}
        report.warnings.extend(row.warnings)
        if base_row is not None and row is not base_row:
            comparison = compare(base_row, row, focus)
            if comparison is not None:
                report.comparisons[row.id] = comparison
        if expand and row.kind == "group":
            members = [Row("run", run.id, run.name, [run], {run.id: run_values(run, metric)}) for run in row.members]
            report.expanded[row.id] = members
            for member in members:
                member.params = dict(row.params, seed=member.seeds[0])
                report.summaries[member.id] = {c: s for c in columns if (s := summarize(member.column(c))) is not None}
    return report


def find_row(rows: list[Row], wanted: str, option: str = "") -> Row:
    """The one row a user named by id, name or id prefix (`option` prefixes the error)."""
    where = f"{option} " if option else ""
    for test in (lambda r: r.id == wanted, lambda r: r.name == wanted,
                 lambda r: r.id.startswith(wanted) or any(run.id.startswith(wanted) for run in r.members)):
        found = [r for r in rows if test(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UserError(f"{where}{wanted}: matches {len(found)} rows ({', '.join(r.id for r in found[:4])}); "
                             "name one by its id")
    raise UserError(f"{where}{wanted}: no run or group has this id or name")


__all__ = ["Report", "build_report"]
