"""What a sweep folder's sweep.json holds (a part of the contract with store/contract.py): every
trial with its status, the best point, a `decide:` sweep's looks and a `search.confirm` race's. No
TensorFlow here."""

from typing import Any, Literal, Optional

from pydantic import BaseModel, Field

from regexp.store.contract import Record, Status


class Objective(BaseModel):
    metric: str = Field(description="The metric that ranks points (val_loss, val_accuracy, ...).")
    mode: Literal["min", "max"] = Field(description="min or max is better.")


class TrialEntry(Record):
    """One planned trial: a search point with one seed and one cv fold."""

    key: str = Field(description="Stable hash of (point, seed, fold): how a resumed sweep recognizes a trial.")
    round: int = Field(1, description="Search round (refine: 1, 2, ...).")
    point: dict[str, Any] = Field(default_factory=dict, description="Dotted spec key -> value of this search point.")
    seed: int = Field(description="The trial's seed.")
    fold: Optional[int] = Field(None, description="The cv fold, or null.")
    status: Status = Field(Status.PENDING,
                                description="pending | running | completed | failed | interrupted | pruned.")
    run: Optional[str] = Field(None, description="The trial's run folder (a sibling of the sweep folder).")
    objective: Optional[float] = Field(None, description="The objective metric of the completed run.")
    error: Optional[str] = Field(None, description="Why it failed or was pruned, one line.")
    seconds: Optional[float] = Field(None, description="Wall-clock seconds of the trial, data loading included (in a "
                                                       "pack: its share).")
    phase: Literal["search", "confirm"] = Field("search", description="search: a trial of the search (it ranks "
                                                                      "the points); confirm: a race look's, on a "
                                                                      "fresh seed (search.confirm), never ranked.")


class Best(BaseModel):
    """The best point so far by the objective, averaged over its completed runs."""

    point: dict[str, Any] = Field(description="The best point so far.")
    objective: float = Field(description="Its mean objective over its completed seeds/folds.")
    n: int = Field(description="How many runs that mean is over.")
    runs: list[str] = Field(description="Those run folders.")


class ArmDecision(BaseModel):
    """One arm against the baseline at a look (or, in `arms`, where it ended)."""

    point: dict[str, Any] = Field(description="The arm's grid point.")
    verdict: Literal["better", "worse", "equivalent", "undecided"] = Field(description="better | worse | "
                                                                                       "equivalent | undecided.")
    seeds: int = Field(description="The paired seeds the comparison had (folds averaged within a seed).")
    diff: Optional[float] = Field(None, description="Mean of the paired differences, arm minus baseline.")
    ci: Optional[list[Optional[float]]] = Field(None, description="The anytime-valid confidence interval of the "
                                                                  "difference at this look, at the arm's share of "
                                                                  "alpha; null bounds: not yet finite.")
    look: Optional[int] = Field(None, description="The look at which it was decided (null: still open).")
    left_out: list[str] = Field(default_factory=list, description="Seeds only one of the two has, and why.")


class Look(BaseModel):
    seeds: int = Field(description="Seeds per arm planned up to this look.")
    arms: list[ArmDecision] = Field(description="Every arm still open at this look.")


class Decision(BaseModel):
    """sweep.json `decide`: the question, the method and what each look found."""

    baseline: str = Field(description="The baseline as the spec names it.")
    baseline_point: dict[str, Any] = Field(description="Its grid point.")
    metric: str = Field(description="The column decided on.")
    margin: float = Field(description="Differences within ±margin are equivalent.")
    alpha: float = Field(description="The chance of any wrong decision over all arms and looks.")
    batch: int = Field(description="Seeds added per look.")
    max_seeds: int = Field(description="The budget of seeds per arm, as the last command set it (budget_changes).")
    method: str = Field(description="How the intervals are made (docs/decide.md).")
    resolution: Optional[float] = Field(None, description="One sample of the part the metric is scored on (1/n, the "
                                                          "coarsest over the runs), for an accuracy-like metric: no "
                                                          "arm is equivalent within a margin below it.")
    looks: list[Look] = Field(default_factory=list, description="Each look taken, in order.")
    arms: list[ArmDecision] = Field(default_factory=list, description="Each arm as it stands: its decision, or "
                                                                      "undecided with its last interval.")


class RaceStanding(BaseModel):
    """One point of a `search.confirm` race at a look (or, in `standings`, where it ended)."""

    key: str = Field(description="The point's key (`points`).")
    verdict: Literal["leader", "worse", "tied", "open"] = Field(description="leader (the best mean) | worse (decided "
                                                                            "worse than the leader: it left) | tied "
                                                                            "(within ±margin of the leader) | open.")
    seeds: int = Field(description="Its fresh seeds with a value (paired with the leader's, for the others).")
    mean: Optional[float] = Field(None, description="Its mean over those seeds.")
    diff: Optional[float] = Field(None, description="Mean of the paired differences, leader minus this point.")
    ci: Optional[list[Optional[float]]] = Field(None, description="The anytime-valid interval of `diff`, at alpha "
                                                                  "over all pairs; null bounds: not yet finite.")
    look: Optional[int] = Field(None, description="The look at which it was decided worse and left.")


class RaceLook(BaseModel):
    seeds: int = Field(description="Fresh seeds per point planned up to this look.")
    leader: Optional[str] = Field(None, description="The point with the best mean at this look.")
    standings: list[RaceStanding] = Field(description="Every point still in the race at this look.")


class Race(BaseModel):
    """sweep.json `confirm`: the k best points of the search raced on fresh seeds (sweep/confirm.py)."""

    metric: str = Field(description="The column raced on.")
    margin: float = Field(description="Points within ±margin of the leader are tied.")
    alpha: float = Field(description="The chance of naming a point not within the margin of the truly best, over "
                                     "all looks.")
    batch: int = Field(description="Fresh seeds added per look to every point still in the race.")
    max_seeds: int = Field(description="The budget of fresh seeds per point, as the last command set it.")
    method: str = Field(description="How each pair's interval is made (report/race.py).")
    pairs: int = Field(description="The pairs alpha is split over: k(k-1)/2 of the k points raced.")
    sweep_objective: str = Field(description="What picked the points: the search's objective.")
    seeds_from: int = Field(description="The first fresh seed: above every seed the search trained.")
    points: dict[str, dict[str, Any]] = Field(description="Point key -> the point, best of the search first.")
    selected: dict[str, Optional[float]] = Field(description="Point key -> its mean objective in the search (the "
                                                             "value it was picked on).")
    resolution: Optional[float] = Field(None, description="One sample of the part the metric is scored on (an "
                                                          "accuracy-like metric): no tie within a margin below it.")
    looks: list[RaceLook] = Field(default_factory=list, description="Each look taken, in order.")
    standings: list[RaceStanding] = Field(default_factory=list, description="Every point as it stands: the "
                                                                            "leaver's at its last look.")
    leader: Optional[str] = Field(None, description="The leader at the last look (the best, once decided).")
    outcome: Optional[Literal["best", "undecided"]] = Field(None, description="best: every other point worse or "
                                                                              "tied; undecided: the budget was "
                                                                              "spent first; null: still racing.")


class BudgetChange(BaseModel):
    """The command ran with another budget than the sweep had: the same sweep went on with it."""

    key: str = Field(description="repeat | search.trials | search.refine.rounds | decide.max_seeds.")
    before: Any = Field(description="The value the sweep had.")
    after: Any = Field(description="The value it goes on with.")
    at: str = Field(description="When, UTC.")


class SweepState(Record):
    """sweep.json in `<time>_<name>_<hash>_sweep/`: every trial, rewritten atomically after each one."""

    kind: Literal["sweep", "cv", "repeat"] = Field(description="sweep (a search) | cv | repeat.")
    name: str = Field(description="The spec's name.")
    spec: str = Field(description="The spec file as given; the trials run from spec.yaml beside sweep.json.")
    overrides: list[str] = Field(default_factory=list, description="--set overrides of the command.")
    spec_hash: str = Field(description="Hash of the spec with overrides, without its budget (repeat, search.trials, "
                                       "search.refine.rounds, decide.max_seeds; sweep/identity.py): how re-running "
                                       "the command finds this folder, whatever the budget. Older folders hold the "
                                       "whole spec's hash (found by their spec.yaml).")
    status: Status = Field(Status.RUNNING, description="running | completed | completed with failures | "
                                                                 "interrupted | stopped.")
    started: str = Field(description="Start time, UTC.")
    ended: Optional[str] = Field(None, description="End time.")
    message: Optional[str] = Field(None, description="Why it stopped, or how many trials did not complete.")
    objective: Objective = Field(description="What ranks the points.")
    rounds: int = Field(1, description="Search rounds in all.")
    workers: Optional[int] = Field(None, description="Trials run in parallel by the last invocation.")
    trials: list[TrialEntry] = Field(default_factory=list, description="Every planned trial, in plan order.")
    best: Optional[Best] = Field(None, description="The best point so far (mean objective over its runs).")
    provenance: Optional[dict[str, Any]] = Field(None, description="The git state of the spec when the sweep began "
                                                                   "(run.json provenance's git fields), which its "
                                                                   "trials record.")
    budget_changes: list[BudgetChange] = Field(default_factory=list, description="Each run of the command with "
                                                                                 "another budget: raised, only the "
                                                                                 "new trials trained; lowered, "
                                                                                 "nothing new.")
    decide: Optional[Decision] = Field(None, description="The spec's `decide:`: its looks and each arm's decision "
                                                         "(sweep/decide.py); null without one.")
    confirm: Optional[Race] = Field(None, description="The race of search.confirm: its looks and how each point "
                                                      "ended (sweep/confirm.py); null without one.")
