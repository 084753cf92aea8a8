"""search.method: tpe — Optuna's TPE sampler through its ask/tell interface (Optuna is the optional
extra `regexp[search]`; nothing here is a sampler of its own).

A tpe search runs in rounds of `search.batch` points (each round trains as packs, all its seeds and
folds, before the next is asked), `search.trials` points in all. Round r's points come from a
fresh study with TPESampler(seed = [search seed, r]) that is told every earlier point's mean
objective over its seeds and folds (as sweep.json records them; a point with no completed
replicate is told as failed, a point pruned by search.halving as pruned with its mean at its last
rung as the intermediate value, which TPE ranks below every completed point), then asked `batch`
times with Optuna's constant liar, so that the points of one batch spread out. The points of a
round therefore depend only on the seed and the results before it: a resumed sweep plans the
interrupted round again and gets the same points, so it neither repeats a finished trial nor loses one.

Distributions map to Optuna's: uniform and log_uniform to FloatDistribution (log=True), int_uniform
to IntDistribution, log_uniform_1m samples 1 - x log-uniformly (FloatDistribution on
[1 - high, 1 - low], log=True, transformed back), and a list is a categorical choice of its index
(values may be mappings, which Optuna's choices may not hold).
"""

import math
from typing import Any

from regexp.spec.schema import Search
from regexp.store.contract import direction

INSTALL = "pip install 'regexp[search]' (Optuna)"


def available() -> bool:
    """Whether Optuna is installed, without importing it (validate stays fast)."""
    import importlib.util

    return importlib.util.find_spec("optuna") is not None


def rounds(search: Search) -> int:
    return math.ceil(search.trials / search.batch)


def ask(search: Search, seed: int, round_: int,
        told: list[tuple[dict[str, Any], float | None, tuple[int, float] | None]]) -> list[dict[str, Any]]:
    """Round `round_`'s points (as dicts in search.params order, made Points by the caller), after telling the
    sampler `told`: (point as a dict, mean objective or None for a point that never completed, and
    (rung epoch, mean there) for a pruned point)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {path: distribution(values) for path, values in search.params.items()}
    mode = search.objective.mode or direction(search.objective.metric)
    sampler = optuna.samplers.TPESampler(seed=_mix(seed, round_), constant_liar=True)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize", sampler=sampler)
    states = optuna.trial.TrialState
    for point, value, rung in told:
        params = {path: to_optuna(search.params[path], point[path]) for path in search.params}
        state = states.PRUNED if rung is not None else states.COMPLETE if value is not None else states.FAIL
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                  value=value if state == states.COMPLETE else None, state=state,
                                                  intermediate_values=dict([rung]) if rung else None))
    count = min(search.batch, search.trials - (round_ - 1) * search.batch)
    asked = [study.ask(distributions) for _ in range(count)]
    return [{path: _from_optuna(values, trial.params[path]) for path, values in search.params.items()}
            for trial in asked]


def _mix(seed: int, round_: int) -> int:
    return (seed * 1_000_003 + round_) % (2**32)


def distribution(values):
    """Optuna's distribution of one searched key: a list as its indices, 1-beta on its own log scale."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(values, list):
        return CategoricalDistribution(list(range(len(values))))
    low, high = values.bounds
    if values.kind == "int_uniform":
        return IntDistribution(int(low), int(high))
    if values.kind == "log_uniform_1m":
        return FloatDistribution(1 - high, 1 - low, log=True)
    return FloatDistribution(low, high, log=values.kind == "log_uniform")


def to_optuna(values, value):
    """A point's value as the sampler sees it: a list's index, 1 - x on the 1-beta scale."""
    if isinstance(values, list):
        return next(i for i, v in enumerate(values) if v == value)
    return 1 - value if values.kind == "log_uniform_1m" else value


def _from_optuna(values, sampled):
    if isinstance(values, list):
        return values[sampled]
    if values.kind == "int_uniform":
        return int(sampled)
    value = 1 - sampled if values.kind == "log_uniform_1m" else sampled
    low, high = values.bounds
    return min(max(float(f"{value:.6g}"), low), high)  # readable configs, as random's; still in range
