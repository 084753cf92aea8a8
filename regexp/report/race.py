"""search.confirm: the k best points of a search raced on fresh seeds until the best is decided.

The decision step here is pure (per-seed values in, decisions out); sweep/confirm.py trains the
looks and records them in sweep.json (`confirm`), and the report reads them back (`read_races`).
No TensorFlow, no numpy unless a bounded metric's betting interval needs it.

Every point still in the race trains the same fresh seeds at each look, so two points are compared
on the paired differences of the seeds both have (cv folds averaged within a seed). The leader is
the point with the best mean. A point whose anytime-valid interval for (leader minus it) excludes 0
on the leader's side is decided worse and leaves; a point whose interval lies within ±margin is
tied with the leader. The race stops at the look where every other point is worse or tied (the
leader is named best), or at the budget (undecided between the leader and the points still open).

Error control. The leader is chosen by the data, look after look, so the intervals must hold for
whichever pair ends up compared: each of the k(k-1)/2 pairs of the k points at the start gets a
confidence sequence at alpha / (k(k-1)/2) (Bonferroni over all pairs, the union bound of the
racing and successive-elimination algorithms: Maron & Moore, 1997, "The racing algorithm: model
selection for lazy learners"; Even-Dar, Mannor & Mansour, 2006, "Action elimination and stopping
conditions for the multi-armed bandit and reinforcement learning problems", JMLR 7). Each sequence
holds at every number of seeds at once (report/sequential.py: the t-test sequence, or betting for a
bounded metric), so with probability at least 1 - alpha every interval of every pair covers its
true difference at every look. On that event the truly best point is never decided worse (no point
is surely better than it), so it is the leader or a point tied with the leader, and the point named
best is within the margin of the truly best: naming one that is not has chance at most alpha,
however the looks went, and a raised max_seeds keeps the guarantee (the intervals do not depend on
the budget). bench/racing.py measures it (bench/README.md).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from regexp.report import sequential
from regexp.report.decisions import estimate, point_text
from regexp.store.folders import RunRecord, read_sweep_state
from regexp.store.sweep_file import Race

Verdict = Literal["leader", "worse", "tied", "open"]


@dataclass(frozen=True)
class Rule:
    """How a race decides: the question (metric, margin) and its error control."""

    metric: str
    margin: float
    alpha: float                  # the chance of any wrong statement, over every pair and look
    better: Literal["max", "min"]
    points: int                   # k at the start: the family is its k(k-1)/2 pairs
    interval: str                 # sequential.T_INTERVAL or BETTING_INTERVAL
    resolution: float | None = None  # one sample of the part (accuracy-like metrics): no tie within less

    @property
    def pairs(self) -> int:
        return self.points * (self.points - 1) // 2

    @property
    def pair_alpha(self) -> float:
        return self.alpha / max(self.pairs, 1)


@dataclass(frozen=True)
class Standing:
    """One point at a look: against the leader (the leader itself: verdict `leader`, no difference)."""

    key: str
    verdict: Verdict
    seeds: int                    # its seeds with a value (paired with the leader's, for the others)
    mean: float | None            # its mean over its seeds
    diff: float | None = None     # mean of (leader minus it) over the paired seeds
    ci: tuple[float | None, float | None] | None = None  # the anytime-valid interval of diff (None: infinite)


@dataclass(frozen=True)
class Step:
    leader: str | None
    standings: tuple[Standing, ...]

    @property
    def decided(self) -> bool:
        """Every point but the leader is worse or tied: the leader is named best."""
        return self.leader is not None and all(s.verdict in ("leader", "worse", "tied") for s in self.standings)


def step(values: Mapping[str, Mapping[int, float]], rule: Rule) -> Step:
    """The decisions of one look: `values` holds every point still in the race, point key -> {seed:
    value} (cv folds averaged within a seed; a failed seed has none)."""
    means = {key: sum(v.values()) / len(v) for key, v in values.items() if v}
    if not means:
        return Step(None, tuple(Standing(key, "open", 0, None) for key in values))
    pick = max if rule.better == "max" else min
    leader = pick(means, key=means.get)  # ties: the first in the race's order (the search's ranking)
    out = []
    for key, seeds in values.items():
        if key == leader:
            out.append(Standing(key, "leader", len(seeds), means[key]))
            continue
        shared = sorted(set(seeds) & set(values[leader]))  # in seed order: the order they were collected
        pairs = [values[leader][s] - seeds[s] for s in shared]
        if len(pairs) < 2:
            out.append(Standing(key, "open", len(seeds), means.get(key)))
            continue
        low, high = sequential.anytime_interval(rule.metric, pairs, rule.pair_alpha, rule.interval)
        said = sequential.verdict(low, high, rule.margin, rule.better, rule.resolution)
        # "better": the leader is surely better, so this point is worse; "worse" (the leader surely worse
        # than a point with a lower mean, possible only when failed seeds differ) decides nothing here
        verdict = {"better": "worse", "equivalent": "tied"}.get(said, "open")
        out.append(Standing(key, verdict, len(pairs), means[key], sum(pairs) / len(pairs),
                            (_finite(low), _finite(high))))
    return Step(leader, tuple(out))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no infinity


# ------------------------------------------------------------------------------------------ text
def headline(record: Race) -> str | None:
    """'best: X, better than Y after 10 seeds, tied with Z within ±0.005' or 'undecided between X and
    Y at the budget of 40 seeds' (None while the race has taken no look)."""
    if not record.looks:
        return None
    final = {s.key: s for s in record.standings}
    name = lambda key: point_text(record.points[key])  # noqa: E731
    worse = [s for s in final.values() if s.verdict == "worse"]
    tied = [s for s in final.values() if s.verdict == "tied"]
    still = [s for s in final.values() if s.verdict == "open"]
    parts = [f"better than {name(s.key)} after {s.seeds} seeds" for s in worse]
    parts += [f"tied with {name(s.key)} within ±{record.margin:g}" for s in tied]
    if record.outcome == "best":
        return ", ".join([f"best: {name(record.leader)}", *parts])
    if record.outcome == "undecided":
        between = " and ".join(name(key) for key in [record.leader, *(s.key for s in still)])
        return ", ".join([f"undecided between {between} at the budget of {record.looks[-1].seeds} seeds", *parts])
    return ", ".join([f"leading so far: {name(record.leader)} after {record.looks[-1].seeds} seeds", *parts])


def lines(record: Race) -> list[str]:
    """The headline, then each point with its estimate and interval against the leader."""
    top = headline(record)
    if top is None:
        return [f"race: not started ({len(record.points)} points, looks of {record.batch} fresh seeds)"]
    out = [top]
    for s in record.standings:
        label = point_text(record.points[s.key])
        mean = f"{record.metric} {s.mean:.4f} (mean of {s.seeds} fresh seeds)" if s.mean is not None else "no value"
        picked = record.selected.get(s.key)
        mean += f"; picked with {record.sweep_objective} {picked:.4f} on the search's seeds" if picked is not None \
            else ""
        if s.verdict == "leader":
            out.append(f"  {label}: {'best' if record.outcome == 'best' else 'leader'}: {mean}")
            continue
        what = {"worse": f"worse, decided at look {s.look}", "tied": f"tied within ±{record.margin:g}",
                "open": "open"}[s.verdict]
        numbers = estimate(s.diff, s.ci).replace("Δ", "leader minus it:") if s.diff is not None else "too few seeds"
        out.append(f"  {label}: {what}: {numbers}; {mean}")
    return out


def rule_text(record: Race) -> str:
    """The question and its guarantee, one line."""
    first = record.seeds_from
    pairs = f"{record.pairs} pair{'s' if record.pairs != 1 else ''}"
    return (f"race ({record.sweep_objective} picked the {len(record.points)} best points; raced on {record.metric} "
            f"on fresh seeds from {first}, never the search's): looks of {record.batch} seeds up to "
            f"{record.max_seeds}, {record.method}, alpha {record.alpha:g} split over the {pairs} (Bonferroni): the "
            f"point named best is within ±{record.margin:g} of the truly best with probability at least "
            f"{1 - record.alpha:g}")


@dataclass
class RaceSummary:
    sweep: str
    record: Race

    @property
    def heading(self) -> str:
        return rule_text(self.record)

    def lines(self) -> list[str]:
        return [line.strip() for line in lines(self.record)]  # a report's section lists them, unindented

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "headline": headline(self.record), **self.record.model_dump()}


def read_races(runs: list[RunRecord]) -> list[RaceSummary]:
    """The race of each sweep with `search.confirm` that the report's runs come from."""
    out = []
    for parent in sorted({run.info.parent for run in runs if run.info.parent}):
        folder = next(r for r in runs if r.info.parent == parent).path.parent / parent
        state = read_sweep_state(folder, warnings=[])
        if state is not None and state.confirm is not None:
            out.append(RaceSummary(parent, state.confirm))
    return out


__all__ = ["RaceSummary", "Rule", "Standing", "Step", "headline", "lines", "read_races", "rule_text", "step"]
