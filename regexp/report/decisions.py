"""A `decide:` sweep's decisions in the report: which row each arm is, how it ended ("better after
10 seeds") and its interval look by look, read from the sweep's sweep.json (sweep/decide.py writes
it). No TensorFlow here."""

import math
from dataclasses import dataclass

from regexp.report.collect import Row
from regexp.report.facts import facts
from regexp.store.folders import RunRecord, read_sweep_state
from regexp.store.sweep_file import ArmDecision, Decision


@dataclass
class Decisions:
    sweep: str                      # the sweep folder's name
    record: Decision
    rows: dict[str, ArmDecision]    # row id -> the arm it is
    baseline_row: str | None

    def to_json(self) -> dict:
        return {"sweep": self.sweep, **self.record.model_dump(), "baseline_row": self.baseline_row,
                "rows": {row: arm.model_dump() for row, arm in self.rows.items()}}


def point_text(point: dict) -> str:
    """dropout=0.5,l2=0.001: the last part of each searched key."""
    return ",".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in point.items())


def ended(arm: ArmDecision, record: Decision, verdict: str | None = None) -> str:
    """'better after 10 seeds: Δ +0.0120, CI [+0.0040, +0.0200]' or 'undecided at 30 seeds (budget
    spent): Δ -0.0083, CI [-0.0173, +0.0006]': the point estimate with its interval, decided or not.
    `verdict`: the report's answer when it differs from the record's (see report/answer.py)."""
    verdict = verdict or arm.verdict
    if verdict == "undecided":
        budget = "budget spent" if arm.seeds >= record.max_seeds else "still open"
        return f"undecided at {arm.seeds} seeds ({budget})" + (f": {estimate(arm.diff, arm.ci)}" if arm.diff is not None
                                                               else "")
    return f"{verdict} after {arm.seeds} seeds: {estimate(arm.diff, arm.ci)}"


def estimate(diff: float, ci: list | tuple | None) -> str:
    """'Δ -0.0083, CI [-0.0173, +0.0006]' (∞ for an end not yet finite), in as many decimals as the
    numbers need: 4, more for tiny ones."""
    low, high = ci or (None, None)
    scale = max([abs(v) for v in (diff, low, high) if v is not None and math.isfinite(v)] + [0.0])
    digits = 4 if scale == 0 or scale >= 1e-3 else 3 - math.floor(math.log10(scale))
    text = lambda v, end="": end + "∞" if v is None or not math.isfinite(v) else f"{v:+.{digits}f}"  # noqa: E731
    return f"Δ {text(diff)}, CI [{text(low, '-')}, {text(high, '+')}]"


def read_decisions(runs: list[RunRecord], rows: list[Row]) -> Decisions | None:
    """The decisions of the one `decide:` sweep the rows come from (None for any other report)."""
    parents = {parent for run in runs if (parent := facts(run).parent)}
    for parent in sorted(parents):
        run = next(r for r in runs if facts(r).parent == parent)
        state = read_sweep_state(run.path.parent / parent, warnings=[])
        if state is None or state.decide is None:
            continue
        record = state.decide
        point_of_trial = {entry.key: entry.point for entry in state.trials}  # run.json `trial` names the entry
        by_row, baseline = {}, None
        for row in rows:
            if facts(row.members[0]).parent != parent:
                continue
            point = point_of_trial.get(row.members[0].info.trial)
            if point is None:
                continue
            if point == record.baseline_point:
                baseline = row.id
            arm = next((a for a in record.arms if a.point == point), None)
            if arm is not None:
                by_row[row.id] = arm
        return Decisions(parent, record, by_row, baseline)
    return None
