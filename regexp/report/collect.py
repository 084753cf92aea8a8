"""From run folders to report rows: values per run, groups of seeds, differing params, filter, sort.

A row is one run or one group: runs whose resolved configs are equal except for `seed` collapse
into a group (repeats of the same experiment), and every numeric column then holds the values of
its completed members so that render and stats can show mean ± std.
"""

import fnmatch
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from regexp.metrics import PARTS, direction
from regexp.runs import RunRecord

GROUP_IGNORED = ("seed", "cv.fold", "description", "tags")  # differ between repeats/folds of one experiment
PARAM_HIDDEN = ("name", "description", "tags")     # shown in their own columns, never as params
_MISSING = "<unset>"
MC_DROPOUT = ("mc_accuracy", "mc_loss", "mc_entropy", "mc_std")  # test keys a run with evaluation.mc_dropout writes


@dataclass
class Row:
    kind: str                                   # "run" or "group"
    id: str                                     # run folder name, or "<name>@<hash>" for a group
    name: str
    members: list[RunRecord]
    member_values: dict[str, dict[str, float]] = field(default_factory=dict)  # run id -> column -> value
    params: dict[str, Any] = field(default_factory=dict)                     # filled by mark_differing()

    @property
    def started(self) -> str:
        return max(run.started for run in self.members)

    @property
    def seeds(self) -> list[Any]:
        return [run.seed for run in self.members]

    @property
    def status(self) -> str:
        if self.kind == "run":
            return self.members[0].status
        counts = Counter(run.status for run in self.members)
        return ", ".join(f"{n} {status}" for status, n in counts.most_common())

    @property
    def warnings(self) -> list[str]:
        return [f"{run.id}: {w}" for run in self.members for w in run.warnings]

    def column(self, column: str) -> list[float]:
        """The column's values over the members that count (completed ones, for a group)."""
        return [values[column] for values in self.member_values.values() if column in values]

    def by_seed(self, column: str) -> dict[Any, float]:
        seeds = {run.id: run.seed for run in self.members}
        return {seeds[run_id]: values[column] for run_id, values in self.member_values.items() if column in values}

    def mean(self, column: str) -> float | None:
        values = self.column(column)
        return sum(values) / len(values) if values else None


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """{'model': {'layers': [{'units': 8}]}} -> {'model.layers.0.units': 8}; scalar lists stay whole."""
    if isinstance(config, dict):
        out: dict[str, Any] = {}
        for key, value in config.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(config, list) and config and all(isinstance(v, dict) and len(v) == 1 for v in config):
        # training.augment: a pipeline of one-key items reads as one value, 'rotate 0.04 -> zoom 0.1'
        return {prefix[:-1]: " -> ".join(f"{k} {_param_text(v)}" for item in config for k, v in item.items())}
    if isinstance(config, list) and any(isinstance(v, (dict, list)) for v in config):
        out = {}
        for i, value in enumerate(config):
            out.update(flatten(value, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: tuple(config) if isinstance(config, list) else config}


def _param_text(value: Any) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)


def main_metric(runs: list[RunRecord]) -> str:
    """The metric most of the runs track first (accuracy for classification, mae for regression)."""
    firsts = Counter()
    for run in runs:
        tracked = [m for m in mapping(run.metrics.get("directions")) if m != "loss"]
        configured = mapping(run.config.get("training")).get("metrics")
        tracked = tracked or (configured if isinstance(configured, list) else [])
        if tracked and isinstance(tracked[0], str):
            firsts[tracked[0]] += 1
    return firsts.most_common(1)[0][0] if firsts else "accuracy"


def run_values(run: RunRecord, metric: str) -> dict[str, float]:
    """The numeric columns of one run: from metrics.json, or the history of an unfinished run."""
    values: dict[str, float] = {}
    m = run.metrics
    if m:
        for part in PARTS:
            for name in ("loss", metric):
                if _number(mapping(m.get(part)).get(name)):
                    values[f"{part}_{name}"] = float(m[part][name])
        for name in MC_DROPOUT:  # evaluation.mc_dropout: test metrics of the MC-averaged prediction
            if _number(mapping(m.get("test")).get(name)):
                values[f"test_{name}"] = float(m["test"][name])
        for key in ("epochs_run", "best_epoch"):
            if _number(m.get(key)):
                values[key] = float(m[key])
    else:  # running, failed, interrupted, crashed: what the epochs so far say
        history = run.history
        if history:
            last = history[-1]
            for name in ("loss", metric):
                for part, key in (("train", name), ("val", f"val_{name}")):
                    if last.get(key) is not None:
                        values[f"{part}_{name}"] = last[key]
            values["epochs_run"] = float(len(history))
            val = [(r["val_loss"], r["epoch"]) for r in history if r.get("val_loss") is not None]
            if val:
                values["best_epoch"] = min(val)[1]
    for name in ("loss", metric):
        if f"train_{name}" in values and f"val_{name}" in values:
            values[f"gap_{name}"] = values[f"train_{name}"] - values[f"val_{name}"]
    if _number(run.info.get("duration_s")):
        values["duration_s"] = float(run.info["duration_s"])
    return {k: v for k, v in values.items() if math.isfinite(v)}


def mapping(value: Any) -> dict:
    """A dict from a file, or {} when a damaged file holds something else there."""
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def build_rows(runs: list[RunRecord], group: bool = True) -> tuple[list[Row], str]:
    """Rows (groups of repeats when `group`) and the main metric they report."""
    metric = main_metric(runs)
    buckets: dict[str, list[RunRecord]] = {}
    for run in runs:
        key = _group_key(run) if group and run.config else run.id
        buckets.setdefault(key, []).append(run)
    rows = []
    for key, members in buckets.items():
        if len(members) == 1:
            row = Row("run", members[0].id, members[0].name, members)
        else:
            row = Row("group", f"{members[0].name}@{key[:6]}", members[0].name, members)
        counted = [r for r in members if r.status == "completed"] if row.kind == "group" else members
        row.member_values = {run.id: run_values(run, metric) for run in counted}
        rows.append(row)
    return rows, metric


def _group_key(run: RunRecord) -> str:
    shared = {k: v for k, v in flatten(run.config).items() if k not in GROUP_IGNORED}
    return hashlib.sha256(json.dumps(shared, sort_keys=True, default=str).encode()).hexdigest()


def mark_differing(rows: list[Row], all_params: bool = False) -> list[str]:
    """Fill each row's params with the config keys whose values differ between rows."""
    flats = []
    for row in rows:
        flat = flatten(row.members[0].config)
        if row.kind == "group":
            for key in GROUP_IGNORED:
                flat.pop(key, None)
        flats.append({k: v for k, v in flat.items() if k not in PARAM_HIDDEN})
    _summarize_layers(rows, flats)
    _expand_switched_off(flats)
    keys = sorted({k for flat in flats for k in flat})
    if not all_params:
        keys = [k for k in keys if len({repr(flat.get(k, _MISSING)) for flat in flats}) > 1
                and not _mirrors_default(k, flats)]
    for row, flat in zip(rows, flats):
        row.params = {k: flat.get(k, _MISSING if row.kind == "run" or k != "seed" else None) for k in keys}
    return keys


def _summarize_layers(rows: list[Row], flats: list[dict]) -> None:
    """When the rows have different numbers of layers, compare the stacks as one `model.layers`
    value ('dense 64 -> dense 32') instead of listing every key of layers some rows lack."""
    stacks = [mapping(row.members[0].config.get("model")).get("layers") for row in rows]
    stacks = [[layer for layer in stack if isinstance(layer, dict)] if isinstance(stack, list) else [] for stack in stacks]
    if len({len(stack) for stack in stacks}) <= 1:
        return
    for flat, stack in zip(flats, stacks):
        for key in [k for k in flat if k.startswith("model.layers.")]:
            del flat[key]
        flat["model.layers"] = " -> ".join(
            f"{layer.get('type')} {layer.get('units') or layer.get('filters') or ''}".strip() for layer in stack)


def _expand_switched_off(flats: list[dict]) -> None:
    """`training.cutout: null` in one row and `{size: 0.25}` in another compare as
    cutout.size=off vs cutout.size=0.25, not as two half-empty keys."""
    children: dict[str, set[str]] = {}
    for flat in flats:
        for key in flat:
            parent, _, child = key.rpartition(".")
            children.setdefault(parent, set()).add(child)
    for flat in flats:
        for key in [k for k, v in flat.items() if v is None and k in children]:
            del flat[key]
            flat.update({f"{key}.{child}": "off" for child in children[key]})


def _mirrors_default(key: str, flats: list[dict]) -> bool:
    """model.layers.0.dropout differs only because model.defaults.dropout does (resolved configs
    write every default into every layer): show the default once, not each layer again."""
    parts = key.split(".")
    if len(parts) != 4 or parts[:2] != ["model", "layers"]:
        return False
    default = f"model.defaults.{parts[3]}"
    return all(default in flat and flat.get(key) == flat[default] for flat in flats)


def matches(run: RunRecord, rule: str) -> bool:
    """--filter rules: name=GLOB, tag=T, status=S, parent=SWEEP, or a dotted config key=value (value as YAML)."""
    key, _, wanted = rule.partition("=")
    if key == "name":
        return fnmatch.fnmatch(run.name, wanted)
    if key == "parent":
        parent = run.info.get("parent")
        return isinstance(parent, str) and fnmatch.fnmatch(parent, wanted)
    if key == "tag":
        tags = run.config.get("tags")
        return isinstance(tags, list) and wanted in tags
    if key == "status":
        return run.status == wanted
    flat = flatten(run.config)
    if key not in flat:
        return False
    value = flat[key]
    parsed = yaml.safe_load(wanted) if wanted else None
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return value == parsed or (isinstance(value, str) and fnmatch.fnmatch(value, wanted))


def sweep_objective(runs: list[RunRecord]) -> str | None:
    """When every listed run belongs to one sweep, the column its objective ranks by."""
    parents = {run.info.get("parent") for run in runs}
    if len(parents) != 1 or not runs or not isinstance(next(iter(parents)), str):
        return None
    try:
        state = json.loads((runs[0].path.parent / next(iter(parents)) / "sweep.json").read_text())
        metric = state["objective"]["metric"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return metric if metric.startswith(("train_", "val_", "test_")) else f"train_{metric}"


def sort_rows(rows: list[Row], column: str | None) -> list[Row]:
    """Newest first by default; a metric column by its direction, rows without a value last."""
    if column is None:
        return sorted(rows, key=lambda r: r.started, reverse=True)
    sign = 1 if direction(column) == "min" else -1
    with_value = [r for r in rows if r.mean(column) is not None]
    without = [r for r in rows if r.mean(column) is None]
    return sorted(with_value, key=lambda r: sign * r.mean(column)) + without
