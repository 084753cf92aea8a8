"""`regexp report --across data`: the report's comparison on each dataset, then the aggregate over
datasets as rliable reports it (report/aggregate.py): per arm the interquartile mean (IQM) of
normalized scores and the probability of improvement over the baseline, each with a stratified
bootstrap 95% interval, beside the per-dataset table.

A run's dataset is its `data.dataset` (a built-in) or its `data.path` (a file); runs that differ
in other data keys (scale, split) on one dataset are arms of that dataset, not datasets. Each
dataset's comparison is exactly `regexp report --filter data.dataset=NAME` (or data.path=FILE) with
the same options; their p-values are then adjusted again together, one family over every dataset,
since the table is read as one set of findings. An arm is matched across datasets by the params
that tell it from the other rows of its dataset (dropout=0.5), or by its name when none differ.

Scores are normalized per dataset to [0, 1], higher better, before they are pooled (the IQM needs
a common scale; the probability of improvement is rank-based and the same under any of them):
a bounded metric by its range (accuracy as it is, an ece as 1 - ece), an unbounded one (a loss,
an mae, a gap) min-max over every value of every compared arm on that dataset, flipped when lower
is better. A column with no better side (a gap, an entropy) counts higher as the improvement.
Seeds: each completed run is one sample, resampled independently per arm as rliable does; the
pairing by seed (and `--failures worst`) is used by the per-dataset tests, not by the aggregate
(which is conservative when the arms' seeds correlate).
"""

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from regexp.errors import UserError
from regexp.report import aggregate
from regexp.report import index as record_index
from regexp.report.build import Report, build_report, column_range, neutral_column
from regexp.report.collect import Row, matches
from regexp.report.facts import mapping
from regexp.report.options import CORRECTIONS, ReportOptions
from regexp.report.stats import Comparison, Summary, adjust, by_seed, summarize
from regexp.store import scan as scanning
from regexp.store.contract import direction
from regexp.store.folders import RunRecord, find_runs, read_run

FORMATS = ("table", "md", "json", "latex")  # what views/across.py renders


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its stratified-bootstrap 95% percentile interval."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high]}


@dataclass(frozen=True)
class DatasetLine:
    """One arm on one dataset: both sides' focus values and the per-dataset comparison."""

    dataset: str
    baseline: Summary | None
    arm: Summary | None
    comparison: Comparison | None

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "baseline": self.baseline.to_json() if self.baseline else None,
                "arm": self.arm.to_json() if self.arm else None,
                "comparison": self.comparison.to_json() if self.comparison else None}


@dataclass(frozen=True)
class ArmAcross:
    """One arm over every dataset it was compared on."""

    arm: str
    lines: tuple[DatasetLine, ...]
    iqm: Estimate                 # the arm's IQM of normalized scores
    baseline_iqm: Estimate        # the baseline's, over the same datasets
    improvement: Estimate         # P(a run of the arm beats a run of the baseline), averaged over datasets

    def verdicts(self) -> dict[str, int]:
        """Datasets by the per-dataset verdict (better, worse, higher, lower, equivalent, inconclusive)."""
        counts: dict[str, int] = {}
        for line in self.lines:
            verdict = line.comparison.verdict if line.comparison is not None else "no values"
            counts[verdict] = counts.get(verdict, 0) + 1
        return counts

    def to_json(self) -> dict:
        return {"arm": self.arm, "datasets": len(self.lines), "verdicts": self.verdicts(), "iqm": self.iqm.to_json(),
                "baseline_iqm": self.baseline_iqm.to_json(), "improvement": self.improvement.to_json(),
                "per_dataset": [line.to_json() for line in self.lines]}


@dataclass
class Across:
    focus: str
    metric: str
    better: str                   # "max" or "min": the side the scores were oriented to
    neutral: bool                 # the focus has no better side: higher counted as the improvement
    scaling: str                  # how scores were normalized, in words
    datasets: list[str]
    baseline: str                 # the --baseline option, or "--against COLUMN"
    correction: str
    family: int                   # comparisons the correction was over, every dataset's
    arms: list[ArmAcross]
    reports: dict[str, Report] = field(default_factory=dict)   # dataset -> its report
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[Row]:
        return [row for report in self.reports.values() for row in report.rows]

    @property
    def comparing(self) -> str:
        side = "higher" if self.neutral else "better"
        tests = sorted({line.comparison.test for arm in self.arms for line in arm.lines
                        if line.comparison is not None and line.comparison.test})
        return (f"{self.focus} vs {self.baseline} on each of {len(self.datasets)} datasets: "
                f"{' / '.join(tests) or 'no test'}, p adjusted by {CORRECTIONS[self.correction]} over the "
                f"{self.family} comparisons of every dataset together; across datasets (Agarwal et al., 2021): the "
                f"IQM of scores normalized per dataset ({self.scaling}) and P(arm {side} than baseline), each with a "
                f"stratified bootstrap 95% CI ({aggregate.REPS:,} resamples of the runs within each dataset)")


def check_options(across: str, fmt: str, plot: Path | None) -> None:
    """The CLI's checks of how an --across report is rendered (ReportOptions checks the rest)."""
    if fmt not in FORMATS:
        raise UserError(f"--across {across} --format {fmt}: the aggregate renders as {' | '.join(FORMATS)}")
    if plot is not None:
        raise UserError(f"--across {across}: takes no --plot (draw each dataset's curves with --filter)")


def dataset_rule(run: RunRecord) -> str | None:
    """The --filter rule that selects a run's dataset: data.dataset=NAME or data.path=FILE."""
    data = mapping(run.config.get("data"))
    for key in ("dataset", "path"):
        if isinstance(data.get(key), str) and data[key]:
            return f"data.{key}={data[key]}"
    return None


def build_across(options: ReportOptions, scanned: scanning.Scan | None = None) -> Across:
    """Every dataset's report (the same options, its dataset's filter added), adjusted together, and the
    aggregate per arm."""
    scanned = scanned if scanned is not None or not options.whole_folder else scanning.scan(options.runs_dir)
    runs = (record_index.read_runs(options.runs_dir, scanned) if scanned is not None
            else [read_run(path) for path in find_runs(list(options.targets), options.runs_dir)])
    kept = [run for run in runs if all(matches(run, f) for f in options.filters)]
    rules = sorted({rule for run in kept if (rule := dataset_rule(run))})
    nameless = [run.id for run in kept if dataset_rule(run) is None]
    reports: dict[str, Report] = {}
    for rule, label in zip(rules, _labels(rules)):
        try:
            reports[label] = build_report(replace(options, filters=(*options.filters, rule)), scanned)
        except UserError as error:
            raise UserError([f"--across data, dataset {label} ({rule}): {p}" for p in error.problems]) from None
    focuses = {report.focus for report in reports.values()}
    if len(focuses) > 1:
        raise UserError(f"--across data: the datasets compare different columns ({', '.join(sorted(focuses))}); "
                        "name one with --metric")
    first = next(iter(reports.values()), None)
    focus = first.focus if first else (options.metric or "")
    neutral = bool(focus) and neutral_column(focus)
    better = "max" if neutral or not focus else direction(focus)
    comparisons = [c for report in reports.values() for c in report.comparisons.values()]
    correction = options.correction
    adjust(comparisons, correction, None if neutral else better, options.margin)
    low, high = column_range(focus) if focus else (None, None)
    bounded = low is not None and high is not None
    result = Across(focus, first.metric if first else "", better, neutral,
                    f"by its range [{low:g}, {high:g}]" if bounded else "min-max over the compared runs",
                    list(reports), options.baseline or f"--against {options.against}", correction,
                    sum(c.p is not None for c in comparisons), _arms(reports, options.against, better, (low, high)),
                    reports)
    if nameless:
        result.warnings.append(f"--across data: {len(nameless)} runs name no data.dataset or data.path and were left "
                               f"out ({', '.join(nameless[:3])}{', ...' if len(nameless) > 3 else ''})")
    for label, report in reports.items():
        result.notes += [f"{label}: {note}" for note in report.notes]
        result.warnings += [f"{label}: {warning}" for warning in report.warnings]
    return result


def _labels(rules: list[str]) -> list[str]:
    """Each dataset's name: the built-in's, or the file's name (its path where two share one)."""
    names = [rule.partition("=")[2] for rule in rules]
    short = [Path(name).name if rule.startswith("data.path=") else name for rule, name in zip(rules, names)]
    return [s if short.count(s) == 1 else name for s, name in zip(short, names)]


def _arms(reports: dict[str, Report], against: str | None, better: str,
          bounds: tuple[float | None, float | None]) -> list[ArmAcross]:
    """Per arm (in order of first appearance): its line on each dataset and the aggregate."""
    found: dict[str, list[tuple[DatasetLine, np.ndarray, np.ndarray]]] = {}
    for dataset, report in reports.items():
        compared = [row for row in report.rows if row.id in report.comparisons]
        sides = [(row, _values(row, report.focus),
                  _values(report.baseline, report.focus) if report.baseline is not None else _values(row, against))
                 for row in compared]
        pooled = np.concatenate([v for _, arm, base in sides for v in (arm, base)]) if sides else np.zeros(0)
        for row, arm, base in sides:
            line = DatasetLine(dataset, summarize(base.tolist()), summarize(arm.tolist()), report.comparisons[row.id])
            found.setdefault(arm_label(row), []).append(
                (line, _normalized(arm, pooled, better, bounds), _normalized(base, pooled, better, bounds)))
    arms = []
    for label, lines in found.items():
        kept = [(line, arm, base) for line, arm, base in lines if len(arm) and len(base)]
        arm_scores, base_scores = [arm for _, arm, _ in kept], [base for _, _, base in kept]
        if not kept:
            continue
        arms.append(ArmAcross(
            label, tuple(line for line, _, _ in lines),
            _estimate(aggregate.iqm(arm_scores), aggregate.iqm_replicates(arm_scores)),
            _estimate(aggregate.iqm(base_scores), aggregate.iqm_replicates(base_scores)),
            _estimate(aggregate.improvement(arm_scores, base_scores),
                      aggregate.improvement_replicates(arm_scores, base_scores))))
    return arms


def arm_label(row: Row) -> str:
    """What tells an arm from the other rows of its dataset: its params (dropout=0.5), else its name."""
    return ", ".join(f"{key}={value}" for key, value in row.params.items()) or row.name


def _values(row: Row, column: str) -> np.ndarray:
    """The column's value per seed (cross-validation folds averaged within their seed)."""
    values = row.by_replicate(column)
    if any(len(key) > 1 and key[1] is not None for key in values):
        values = by_seed(values)
    return np.array([v for v in values.values() if math.isfinite(v)], dtype=float)


def _normalized(values: np.ndarray, pooled: np.ndarray, better: str,
                bounds: tuple[float | None, float | None]) -> np.ndarray:
    """Scores in [0, 1], higher better: by the metric's range when it has one, else min-max over
    `pooled` (every compared value on the dataset); a dataset where all are equal scores 0.5."""
    low, high = bounds
    if low is None or high is None:
        low, high = (float(pooled.min()), float(pooled.max())) if len(pooled) else (0.0, 0.0)
    scaled = (values - low) / (high - low) if high > low else np.full_like(values, 0.5)
    return 1.0 - scaled if better == "min" else scaled


def _estimate(value: float, replicates: np.ndarray) -> Estimate:
    return Estimate(value, *aggregate.interval(replicates))
