"""`regexp report --importance`: what a sweep's search found, read from its sweep.json and the spec
snapshot beside it. No TensorFlow here; Optuna (the `regexp[search]` extra) only for importance.

- Parameter importance: the share of the objective's variance each searched parameter explains,
  by fANOVA (Hutter et al., 2014) as Optuna's FanovaImportanceEvaluator computes it (a random
  forest fitted to the points, seed 0), over the points with a completed replicate, each at its
  mean objective over seeds and folds. The shares sum to 1; n is the number of points it rests on.
- Expected best vs budget (Dodge et al., 2019, "Show Your Work"): for a random or tpe search, the
  expected best mean objective among k points drawn from the n evaluated ones, with its standard
  deviation, for k = 1..n: with the points sorted worst to best, P(best of k <= v_(i)) = (i/n)^k.
  It is the fair way to compare search methods at equal budgets (bench/README.md, tpe vs random).
"""

import math
from dataclasses import dataclass, field

from regexp.errors import SpecError
from regexp.store.contract import Status
from regexp.store.folders import RunRecord, read_sweep_state
from regexp.store.sweep_file import SweepState


@dataclass
class SearchSummary:
    sweep: str
    method: str
    metric: str
    mode: str                                   # min | max
    points: list[tuple[dict, float]]            # (point, mean objective) of every point with a completed replicate
    importance: dict[str, float] = field(default_factory=dict)  # searched key -> share of variance, largest first
    importance_note: str | None = None          # why importance is missing
    expected: list[tuple[int, float, float]] = field(default_factory=list)  # (k, expected best, sd)
    scales: dict[str, str] = field(default_factory=dict)  # searched key -> linear | log | choice (the picture's axes)
    pruned: int = 0                             # points search.halving stopped at a rung (not in `points`)

    @property
    def heading(self) -> str:
        pruned = (f" ({self.pruned} more pruned by halving, not counted: what follows rests on the points that "
                  "survived every rung)") if self.pruned else ""
        points = f"{len(self.points)} point{'s' if len(self.points) != 1 else ''}"
        return (f"search ({self.sweep}): {self.method}, {points} with a completed replicate{pruned}, "
                f"objective {self.metric} ({self.mode})")

    def lines(self) -> list[str]:
        """Importance and expected best (under `heading`)."""
        out = []
        if self.importance:
            out.append(f"parameter importance (fANOVA, Optuna's FanovaImportanceEvaluator, n = {len(self.points)} "
                       "points): " + ", ".join(f"{key} {share:.2f}" for key, share in self.importance.items()))
        elif self.importance_note:
            out.append(f"parameter importance: {self.importance_note}")
        if self.expected:
            shown = [e for e in self.expected if e[0] in _budgets(len(self.expected))]
            out.append("expected best vs budget (Dodge et al. 2019): " + ", ".join(
                f"k={k} {mean:.4g} ± {sd:.2g}" for k, mean, sd in shown))
        return out

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "method": self.method, "metric": self.metric, "mode": self.mode,
                "n": len(self.points), "pruned": self.pruned,
                "importance": self.importance or None, "importance_note": self.importance_note,
                "expected_best": [{"k": k, "mean": mean, "sd": sd} for k, mean, sd in self.expected],
                "points": [{"point": point, "objective": value} for point, value in self.points]}


def read_search(runs: list[RunRecord]) -> list[SearchSummary]:
    """One summary per search sweep (grid, random or tpe) that the report's runs come from."""
    from regexp.spec import load_spec

    out = []
    for parent in sorted({run.info.parent for run in runs if run.info.parent}):
        folder = next(r for r in runs if r.info.parent == parent).path.parent / parent
        state = read_sweep_state(folder, warnings=[])
        if state is None or state.kind != "sweep":
            continue
        try:
            search = load_spec(folder / "spec.yaml").spec.search
        except (SpecError, OSError):  # a damaged or missing snapshot: no search to describe
            continue
        if search is None:
            continue
        summary = SearchSummary(parent, search.method, state.objective.metric, state.objective.mode, _points(state),
                                pruned=len(_pruned(state)))
        summary.importance, summary.importance_note = importance(search, summary.points)
        summary.scales = {key: "choice" if isinstance(v, list) else "log" if v.kind.startswith("log") else "linear"
                          for key, v in search.params.items()}
        if search.method in ("random", "tpe"):
            summary.expected = expected_best([v for _, v in summary.points], state.objective.mode)
        out.append(summary)
    return out


def _pruned(state: SweepState) -> set[str]:
    return {repr(sorted(entry.point.items())) for entry in state.trials if entry.status == Status.PRUNED}


def _points(state: SweepState) -> list[tuple[dict, float]]:
    """Each point's mean objective over its completed replicates; a pruned point has none (as sweep.json's best)."""
    values: dict[str, tuple[dict, list[float]]] = {}
    pruned = _pruned(state)
    for entry in state.trials:
        key = repr(sorted(entry.point.items()))
        if entry.status == Status.COMPLETED and entry.objective is not None and key not in pruned:
            values.setdefault(key, (entry.point, []))[1].append(entry.objective)
    return [(point, sum(v) / len(v)) for point, v in values.values()]


def importance(search, points: list[tuple[dict, float]]) -> tuple[dict[str, float], str | None]:
    """fANOVA shares of the objective's variance per searched key (largest first), or a note why not."""
    if len(search.params) < 2:
        return {}, "needs two or more searched parameters"
    if len(points) < 4:
        return {}, f"needs 4 or more evaluated points (has {len(points)})"
    try:
        import optuna
    except ImportError:
        from regexp.sweep.tpe import INSTALL

        return {}, f"needs Optuna: {INSTALL}"
    from regexp.sweep.tpe import distribution, to_optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {key: distribution(values) for key, values in search.params.items()}
    study = optuna.create_study()
    for point, value in points:
        params = {key: to_optuna(search.params[key], point[key]) for key in search.params}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
    shares = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return dict(sorted(((k, float(v)) for k, v in shares.items()), key=lambda kv: -kv[1])), None


def expected_best(values: list[float], mode: str) -> list[tuple[int, float, float]]:
    """(k, E[best of k], sd) for k = 1..n, k points drawn with replacement from the empirical
    distribution of `values` (Dodge et al. 2019, eq. 1); best is the max, or the min for mode min."""
    n = len(values)
    ordered = sorted(values, reverse=(mode == "min"))  # worst first: the best of k is the largest index drawn
    out = []
    for k in range(1, n + 1):
        weights = [((i + 1) / n) ** k - (i / n) ** k for i in range(n)]
        mean = sum(w * v for w, v in zip(weights, ordered))
        var = sum(w * v * v for w, v in zip(weights, ordered)) - mean * mean
        out.append((k, mean, math.sqrt(max(var, 0.0))))
    return out


def _budgets(n: int) -> set[int]:
    """The k shown in a text line: 1, 2, 5, 10, 20, 50, ... and n."""
    shown, base = {n}, 1
    while base <= n:
        shown |= {b for b in (base, 2 * base, 5 * base) if b <= n}
        base *= 10
    return shown
