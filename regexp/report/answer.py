"""One question, one answer per arm: what every view of a report says (terminal, md, json, html).

The question (baseline, metric, margin, family, how it is decided) is a value the report carries,
built here once; each view renders it. On a `decide:` sweep the decision is the answer, on decide's
metric, with its estimate, interval and seeds. A fixed-n test over seeds that a sequential rule
chose to collect is no verdict (its p-value assumes n was fixed in advance): the report's baseline
comparisons of such rows are kept as description ("descriptive"), and where one points another way
than the answer on another metric, one plain sentence says so. Without `decide:`, the answer is
the baseline comparison's verdict (report/stats.py). No TensorFlow here.
"""

from dataclasses import asdict, dataclass, field

from regexp.registry.metrics import NEUTRAL, counts_right, margin_below
from regexp.report.decisions import ended, estimate, point_text
from regexp.report.stats import ALPHA
from regexp.store.contract import MetricKey, direction

SEQUENTIAL = ("decide collected these seeds sequentially (it stopped each arm when its interval decided it), so a "
              "fixed-n test over them is no verdict: its p-value assumes n fixed in advance")


@dataclass
class Question:
    kind: str                  # "decide" | "fixed"
    baseline: str              # decide's baseline as the spec names it, or the baseline row (or --against column)
    metric: str
    margin: float | None
    family: int                # the arms compared
    alpha: float
    method: str
    resolution: float | None = None  # one sample of the part the metric is scored on (accuracy-like metrics)
    text: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    row: str
    arm: str                   # the grid point (decide) or the row id
    verdict: str
    metric: str
    diff: float | None
    ci: list | None
    seeds: int | str
    text: str                  # "better after 10 seeds: Δ +0.0120, CI [+0.0040, +0.0200]"
    p_adjusted: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def answer(report) -> None:
    """Set report.question, .answers and .conflicts (a report with no baseline and no decide: none)."""
    if report.decisions is not None:
        _decided(report)
    elif report.comparing and report.comparisons:
        _tested(report)


def column_step(rows, column: str) -> float | None:
    """One sample of the part `column` is scored on, the coarsest over the rows' runs (None: continuous)."""
    key = MetricKey.parse(column)
    steps = [step for row in rows for run in row.members
             if run.metrics is not None and (step := run.metrics.step(key)) is not None]
    return max(steps) if steps else None


def _decided(report) -> None:
    decisions, record = report.decisions, report.decisions.record
    rows = [row for row in report.rows if row.id in decisions.rows or row.id == decisions.baseline_row]
    step = record.resolution if record.resolution is not None else column_step(rows, record.metric)
    below = step is not None and record.margin < step
    report.question = Question(
        "decide", record.baseline, record.metric, record.margin, len(record.arms), record.alpha, record.method, step,
        f"The question (decide, {decisions.sweep}): is each of the {len(record.arms)} arms better than, worse than "
        f"or equivalent (within ±{record.margin:g}) to the baseline {record.baseline} on {record.metric}? One answer "
        f"per arm, decided by {record.method}; the chance of any wrong decision over all arms and "
        f"{len(record.looks)} look{'s' if len(record.looks) != 1 else ''} is at most {record.alpha:g}.")
    if below:
        report.warnings.append(f"decide.margin {margin_below(record.margin, step, record.metric)}")
    for row, arm in decisions.rows.items():
        verdict, notes = arm.verdict, []
        if verdict == "equivalent" and below:  # an older sweep's: decided before the resolution was checked
            verdict = "undecided"
            notes.append(f"recorded as equivalent, but the margin {record.margin:g} is below one sample ({step:.4g})")
        report.answers.append(Answer(row, point_text(arm.point), verdict, record.metric, arm.diff, arm.ci, arm.seeds,
                                     ended(arm, record, verdict), notes=notes))
    ours = set(decisions.rows) | {decisions.baseline_row}
    descriptive = report.baseline is not None and report.baseline.id in ours
    for row, c in report.comparisons.items():
        if descriptive or row in ours:
            c.descriptive, c.verdict, c.p_adjusted = SEQUENTIAL, "descriptive", None
            if c.equivalence:
                c.equivalence["equivalent"] = False
    if any(c.descriptive for c in report.comparisons.values()):
        report.descriptive = SEQUENTIAL
    for a in report.answers:
        c = report.comparisons.get(a.row)
        if c is not None and c.descriptive and report.focus != a.metric:
            sentence = conflict(a, report.focus, c.diff, c.diff_ci95)
            if sentence:
                report.conflicts.append(sentence)


def _tested(report) -> None:
    rows = [*report.rows, *([report.baseline] if report.baseline else [])]
    step = column_step(rows, report.focus) if report.options.margin is not None else None
    below = step is not None and report.options.margin < step
    baseline = report.baseline.id if report.baseline else f"the same runs' {report.options.against}"
    report.question = Question("fixed", baseline, report.focus, report.options.margin, report.family, ALPHA,
                               report.options.correction, step, report.comparing)
    if below:
        report.warnings.append(f"--margin {margin_below(report.options.margin, step, report.focus)}")
    for row, c in report.comparisons.items():
        notes = [c.note] if c.note else []
        if c.verdict == "equivalent" and below:
            c.verdict = "inconclusive"
            notes.append(f"not equivalent: the margin {report.options.margin:g} is below one sample ({step:.4g})")
        numbers = estimate(c.diff, c.diff_ci95).replace("CI", "95% CI")
        p = f", p adj {c.p_adjusted:.3g}" if c.p_adjusted is not None else ""
        report.answers.append(Answer(row, row, c.verdict, report.focus, c.diff,
                                     list(c.diff_ci95) if c.diff_ci95 else None, c.n,
                                     f"{c.verdict} ({c.n}): {numbers}{p}", c.p_adjusted, notes))


def conflict(a: Answer, other: str, diff: float, ci) -> str | None:
    """One plain sentence where the descriptive difference on `other` points another way than the
    answer on the question's metric (None when it does not, or has no clear direction)."""
    if ci is None or ci[0] <= 0 <= ci[1]:
        return None
    up = ci[0] > 0
    key, asked = MetricKey.parse(other), MetricKey.parse(a.metric)
    sense = None if key.name in NEUTRAL or key.part == "gap" else (
        "better" if up == (direction(other) == "max") else "worse")
    if sense == a.verdict:
        return None
    word = "higher" if up else "lower"
    if key.name == "loss" and counts_right(asked.name) and a.verdict == "equivalent":
        reading = (f"a {word} loss with the same {asked.name} means {'less' if up else 'more'} confident predictions, "
                   f"not {'less' if up else 'more'} often right ones")
    elif a.verdict == "undecided":
        reading = f"the difference in {key.name} is description, not an answer"
    else:
        reading = f"the two metrics measure different things, and the answer is the one on {a.metric}"
    numbers = estimate(diff, ci).replace("CI", "95% CI")
    return (f"{a.arm}: {other} is {word} than the baseline's ({numbers}, descriptive), but on {a.metric}, the "
            f"question's metric, it is {a.verdict}: {reading}.")


def to_json(report) -> dict:
    """json's `question`, `answers` and `conflicts`."""
    return {"question": report.question.to_json() if report.question else None,
            "answers": [a.to_json() for a in report.answers], "conflicts": report.conflicts}


__all__ = ["Answer", "Question", "answer", "column_step", "conflict", "to_json"]
