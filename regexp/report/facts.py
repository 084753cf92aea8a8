"""What the report derives from one run before it groups and compares: its group key, replicate,
data and split fingerprints, sweep, tracked metrics and final scores (`Facts`).

Computed once per run (`facts`), and for finished runs kept in the report's record index
(report/index.py), so that a report over 10,000 runs need not parse the 10,000 run folders again
to know them. Everything else about a run (its whole config, history, provenance) is read from
the run's own files when a view asks for it.
"""

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import orjson

from regexp.store.folders import RunRecord

GROUP_IGNORED = ("seed", "cv.fold", "description", "tags")  # differ between repeats/folds of one experiment


@dataclass(slots=True)
class Facts:
    group_key: str | None       # the resolved config minus GROUP_IGNORED, hashed; None without a config
    fold: Any                   # cv.fold, None outside cross-validation
    data: str | None            # run.json provenance.data (other data is another experiment)
    split: str | None           # provenance.split (another split of a seed is not its re-run)
    parent: str | None          # the sweep (or cv/repeat) folder that ran it
    first_metric: str | None    # the first metric it tracks besides loss (report's main metric is the most common)
    directions: list[str]       # every metric metrics.json scores (loss, accuracy, ece, ...); [] without one
    parts: dict[str, dict[str, float | None]] | None  # metrics.json train/val/test/gap; None without one
    epochs_run: int | None
    best_epoch: int | None
    duration_s: float | None

    def to_json(self) -> list:
        return [getattr(self, name) for name in self.__slots__]


def facts(run: RunRecord) -> Facts:
    """The run's Facts, computed from its record the first time and kept on it."""
    found = getattr(run, "facts", None)
    if found is None:
        found = run.facts = _derive(run)
    return found


def _derive(run: RunRecord) -> Facts:
    config, metrics, provenance = mapping(run.config), run.metrics, run.info.provenance
    tracked = [m for m in metrics.directions if m != "loss"] if metrics else []
    configured = mapping(config.get("training")).get("metrics")
    tracked = tracked or (configured if isinstance(configured, list) else [])
    parts = None
    if metrics is not None:
        parts = {"train": metrics.train, "val": metrics.val, "test": metrics.test,
                 "gap": metrics.generalization_gap or {}}
    return Facts(
        group_key=group_key(config) if config else None,
        fold=mapping(config.get("cv")).get("fold"),
        data=provenance.data if provenance is not None else None,
        split=provenance.split if provenance is not None else None,
        parent=run.info.parent,
        first_metric=tracked[0] if tracked and isinstance(tracked[0], str) else None,
        directions=list(metrics.directions) if metrics else [],
        parts=parts,
        epochs_run=metrics.epochs_run if metrics else None,
        best_epoch=metrics.best_epoch if metrics else None,
        duration_s=run.info.duration_s,
    )


def group_key(config: dict) -> str:
    """Runs with equal keys are repeats of one experiment: their configs differ only in GROUP_IGNORED."""
    shared = {k: v for k, v in config.items() if k not in GROUP_IGNORED}  # the same key, cheaper: runs of one
    if isinstance(shared.get("cv"), dict):                                 # point differ in these only
        shared["cv"] = {k: v for k, v in shared["cv"].items() if k != "fold"}
    return _group_key_of(orjson.dumps(shared, option=orjson.OPT_SORT_KEYS, default=str))


@functools.lru_cache(maxsize=4096)  # 10,000 runs of a sweep share a few hundred points: flatten each once
def _group_key_of(config_json: bytes) -> str:
    shared = {k: v for k, v in flatten(json.loads(config_json)).items() if k not in GROUP_IGNORED}
    return hashlib.sha256(json.dumps(shared, sort_keys=True, default=str).encode()).hexdigest()


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """{'model': {'layers': [{'units': 8}]}} -> {'model.layers.0.units': 8}; scalar lists stay whole."""
    if isinstance(config, dict):
        out: dict[str, Any] = {}
        for key, value in config.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(config, list) and config and all(isinstance(v, dict) and len(v) == 1 for v in config):
        # training.augment: a pipeline of one-key items reads as one value, 'rotate 0.04 -> zoom 0.1'
        return {prefix[:-1]: " -> ".join(f"{k} {param_text(v)}" for item in config for k, v in item.items())}
    if isinstance(config, list) and any(isinstance(v, (dict, list)) for v in config):
        out = {}
        for i, value in enumerate(config):
            out.update(flatten(value, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: tuple(config) if isinstance(config, list) else config}


def param_text(value: Any) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)


def mapping(value: Any) -> dict:
    """A dict from a file, or {} when a damaged file holds something else there."""
    return value if isinstance(value, dict) else {}
