"""Expand one spec into trials: search points × repeat seeds × cv folds. No TensorFlow here.

Each trial is the spec plus `--set` overrides (the point, `seed=`, `cv.fold=`), so it is
validated, resolved and reproduced exactly like a hand-written spec, and an invalid point is an
error that names it. Every point runs with the same seeds and folds (a paired design): arms differ
only in what the search varies.
"""

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from regexp.errors import SpecError
from regexp.spec import LoadedSpec, load_spec
from regexp.spec.schema import Distribution, Search
from regexp.store.contract import MetricKey, RunMetrics, direction

if TYPE_CHECKING:
    import numpy

Point = tuple[tuple[str, Any], ...]  # (dotted path, value) pairs, in the order of search.params


class _FrozenDict(dict):
    """A section as a search value (`training.mixup: [null, {alpha: 0.2}]`): still a dict for
    json.dumps and labels, but hashable, so that points can key dicts and sets."""

    def __hash__(self):
        return hash(json.dumps(self, sort_keys=True, default=str))


def frozen(value: Any) -> Any:
    """A search value made hashable (a dict stays a dict, a list becomes a tuple)."""
    if isinstance(value, dict):
        return _FrozenDict({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(frozen(v) for v in value)  # json.dumps writes a tuple as a list
    return value


@dataclass(frozen=True)
class Trial:
    round: int
    point: Point
    seed: int
    fold: int | None

    @property
    def overrides(self) -> list[str]:
        """--set overrides that turn the base spec into this trial (values as JSON, which is YAML)."""
        out = [f"{path}={json.dumps(value)}" for path, value in self.point]
        out += [f"seed={self.seed}", "repeat=1", "search=null", "decide=null"]
        return out + ([f"cv.fold={self.fold}"] if self.fold is not None else [])

    @property
    def key(self) -> str:
        """Stable across runs of the same plan: how resume recognizes a finished trial."""
        text = json.dumps([self.point, self.seed, self.fold], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def point_key(self) -> str:
        """The point's own key (its seeds and folds share it): how search.halving's ledger names it."""
        return point_key(self.point)

    def label(self) -> str:
        parts = [f"{path.rsplit('.', 1)[-1]}={_short(v)}" for path, v in self.point]
        parts.append(f"seed={self.seed}")
        if self.fold is not None:
            parts.append(f"fold={self.fold}")
        return " ".join(parts)


def point_key(point: Point) -> str:
    return hashlib.sha256(json.dumps(point, default=str).encode()).hexdigest()[:12]


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plan_round(loaded: LoadedSpec, overrides: list[str], round_: int = 1,
               results: dict[Point, float] | None = None,
               told: list[tuple[Point, float | None, tuple | None]] | None = None) -> list[Trial]:
    """The trials of one round; rounds after the first need the mean objective of earlier points
    (refine: the round before's `results`; tpe: every earlier point, `told`, None where it never
    completed, with its last rung where it was pruned)."""
    spec = loaded.spec
    search = spec.search
    if search is None:
        points: list[Point] = [()]
    elif search.method == "tpe":
        from regexp.sweep import tpe

        asked = tpe.ask(search, _seed(loaded), round_, [(dict(p), v, rung) for p, v, rung in told or []])
        points = [point_of(values) for values in asked]
    elif round_ == 1:
        points = grid(search) if search.method == "grid" else sample(search, _seed(loaded), round_, search.trials)
    else:
        points = _refine(search, _seed(loaded), round_, results or {})
    trials = expand(loaded, round_, points, spec.seeds())
    validate_points(loaded, overrides, trials)
    return trials


def expand(loaded: LoadedSpec, round_: int, points: list[Point], seeds: list[int]) -> list[Trial]:
    """points × seeds × the spec's cv folds (one fold when cv.fold is set, none without cv)."""
    cv = loaded.spec.cv
    folds = range(cv.folds) if cv is not None and cv.fold is None else [cv.fold if cv else None]
    return [Trial(round_, point, seed, fold) for point in points for seed in seeds for fold in folds]


def rounds(loaded: LoadedSpec) -> int:
    search = loaded.spec.search
    if search is not None and search.method == "tpe":
        from regexp.sweep import tpe

        return tpe.rounds(search)
    return search.refine.rounds if search is not None and search.refine is not None else 1


def validate_points(loaded: LoadedSpec, overrides: list[str], trials: list[Trial]) -> None:
    """Every point must make a valid spec before anything runs; the error names the point, and the
    spec line that gives a bad value (`spec.yaml:12: search point dropout=1.5: ...`)."""
    problems: dict[tuple[str, str], list[str]] = {}  # (where, problem) -> the points that have it
    for point in dict.fromkeys(trial.point for trial in trials):
        fold = next(t for t in trials if t.point == point)
        try:
            load_spec(loaded.file, [*overrides, *fold.overrides])
        except SpecError as exc:
            name = ", ".join(f"{p}={_short(v)}" for p, v in point) or "the spec"
            for line in exc.problems:
                problems.setdefault(_located(loaded, point, line), []).append(name)
    if problems:
        more = lambda names: f" (and {len(names) - 1} more points)" if len(names) > 1 else ""  # noqa: E731
        raise SpecError([f"{where}search point {names[0]}: {line}{more(names)}"
                         for (where, line), names in problems.items()])


def _located(loaded: LoadedSpec, point: Point, line: str) -> tuple[str, str]:
    """A point's problem as the user wrote it: the trial's `--set PATH=VALUE` (an override regexp
    made from the point, which the user never typed) becomes the search.params line of that value."""
    for path, value in point:
        made = f"--set {path}={json.dumps(value)}: "
        if line.startswith(made):
            values = loaded.spec.search.params.get(path) if loaded.spec.search is not None else None
            index = next((i for i, v in enumerate(values) if frozen(v) == value), None) if isinstance(
                values, list) else None
            where = (loaded.locations.get(("search", "params", path, index)) if index is not None else None) or \
                loaded.locations.get(("search", "params", path)) or loaded.where("search.params")
            return f"{where}: ", line[len(made):]
    return "", line


def _seed(loaded: LoadedSpec) -> int:
    search = loaded.spec.search
    return search.seed if search.seed is not None else loaded.spec.seed


def grid(search: Search) -> list[Point]:
    paths = list(search.params)
    return [tuple(zip(paths, map(frozen, values))) for values in itertools.product(*(search.params[p] for p in paths))]


# Distributions are sampled uniformly in a transformed space: identity, log, or log(1 - x).
def _to_space(kind: str, x: float) -> float:
    return math.log(x) if kind == "log_uniform" else math.log(1 - x) if kind == "log_uniform_1m" else x


def _from_space(kind: str, u: float) -> float | int:
    if kind == "log_uniform":
        return math.exp(u)
    if kind == "log_uniform_1m":
        return 1 - math.exp(u)
    return int(round(u)) if kind == "int_uniform" else u


def _draw(dist: Distribution, rng: "numpy.random.Generator", low: float | None = None, high: float | None = None):
    """One value of a distribution, optionally within [low, high] of its transformed space."""
    a, b = sorted(_to_space(dist.kind, v) for v in dist.bounds)
    low, high = max(a, low if low is not None else a), min(b, high if high is not None else b)
    if dist.kind == "int_uniform":
        return int(rng.integers(math.ceil(low), math.floor(high) + 1))
    value = _from_space(dist.kind, float(rng.uniform(low, high)))
    return float(f"{value:.6g}")  # readable configs and run names; far below any effect size


def sample(search: Search, seed: int, round_: int, count: int) -> list[Point]:
    """`count` random points of a search (round 1 of method: random)."""
    import numpy as np  # here: `validate` plans grid rounds, which need no numpy

    rng = np.random.default_rng([seed, round_])
    points = []
    for _ in range(count):
        point = []
        for path, values in search.params.items():
            value = frozen(values[int(rng.integers(len(values)))]) if isinstance(values, list) else _draw(values, rng)
            point.append((path, value))
        points.append(tuple(point))
    return points


def _refine(search: Search, seed: int, round_: int, results: dict[Point, float]) -> list[Point]:
    """Sample around the best `keep` points: each distribution's range shrinks by `shrink` per
    round around a kept point (in its transformed space); lists keep the kept points' values."""
    if not results:
        raise ValueError(f"round {round_} needs the results of round {round_ - 1}")
    mode = search.objective.mode or direction(search.objective.metric)
    ranked = sorted(results, key=lambda p: results[p], reverse=(mode == "max"))
    kept = ranked[: search.refine.keep]
    import numpy as np

    rng = np.random.default_rng([seed, round_])
    width = search.refine.shrink ** (round_ - 1)
    points = []
    for i in range(search.trials):
        center = dict(kept[i % len(kept)])
        point = []
        for path, values in search.params.items():
            if isinstance(values, list):
                value = [dict(k)[path] for k in kept][int(rng.integers(len(kept)))]
            else:
                a, b = sorted(_to_space(values.kind, v) for v in values.bounds)
                c, half = _to_space(values.kind, center[path]), width * (b - a) / 2
                value = _draw(values, rng, c - half, c + half)
            point.append((path, value))
        points.append(tuple(point))
    return points


def objective_of(metrics: RunMetrics, metric: str) -> float | None:
    """The objective's value in a run's metrics: val_loss -> the val part's loss, loss -> train."""
    return metrics.value(MetricKey.parse(metric))


def point_of(values: dict[str, Any]) -> Point:
    """A point from its dict form in sweep.json (hashable again, for resumed sweeps)."""
    return tuple((path, frozen(value)) for path, value in values.items())
