"""From run folders to report rows: values per run, groups of seeds, differing params, filter, sort.

A row is one run or one group: runs whose resolved configs are equal except for `seed` (and the
cv fold) collapse into a group (repeats of the same experiment), and every numeric column then
holds the values of its completed members so that render and stats can show mean ± std.

A group's replicates are its distinct seeds (seed and fold under cv): a seed trained again (a
re-run, or two invocations of one sweep) is one measurement, not two. The latest completed run of
a seed counts; the others are kept in `reruns` and noted.
"""

import fnmatch
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from regexp.report.facts import GROUP_IGNORED, facts, flatten, mapping, param_text
from regexp.report.lineage import split_generations
from regexp.spec.checks import SHORT_PREFIXES
from regexp.store.contract import (
    MetricKey,
    Status,
    best_epoch,
    default_monitor,
    direction,
    generalization_gap,
)
from regexp.store.folders import RunRecord, read_sweep_state

PARAM_HIDDEN = ("name", "description", "tags")     # shown in their own columns, never as params
MISSING = "<unset>"
MC_DROPOUT = ("mc_accuracy", "mc_loss", "mc_entropy", "mc_entropy_right", "mc_entropy_wrong",
              "mc_std")  # test keys a run with evaluation.mc_dropout writes


@dataclass
class Row:
    kind: str                                   # "run" or "group"
    id: str                                     # run folder name, or "<name>@<hash>" for a group
    name: str
    members: list[RunRecord]
    member_values: dict[str, dict[str, float]] = field(default_factory=dict)  # run id -> column -> value
    params: dict[str, Any] = field(default_factory=dict)                     # filled by mark_differing()
    reruns: list[RunRecord] = field(default_factory=list)                    # same seed again: not counted
    notes: list[str] = field(default_factory=list)                           # why runs were not counted
    replicates: dict[str, tuple] = field(default_factory=dict)               # run id -> (seed, fold[, config])

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
        return ", ".join(f"{n} {status}" + (self._pruned_at() if status == Status.PRUNED else "")
                         for status, n in counts.most_common())

    def _pruned_at(self) -> str:
        """" after epoch 2": where search.halving stopped the pruned members (a point's share one rung)."""
        epochs = sorted({facts(r).epochs_run for r in self.members
                         if r.status == Status.PRUNED and facts(r).epochs_run is not None})
        return f" after epoch {'/'.join(map(str, epochs))}" if epochs else ""

    @property
    def warnings(self) -> list[str]:
        return [f"{run.id}: {w}" for run in self.members for w in run.warnings]

    def column(self, column: str) -> list[float]:
        """The column's values over the members that count (completed ones, for a group)."""
        return [values[column] for values in self.member_values.values() if column in values]

    def by_replicate(self, column: str) -> dict[tuple, float]:
        """{(seed, fold): value} over the members that count: what a paired test pairs on."""
        return {self.replicates[run_id]: values[column] for run_id,
                values in self.member_values.items() if column in values}

    def missing(self, column: str) -> dict[tuple, str]:
        """{replicate: why it has no value of `column`}: its run failed, crashed, ... or lacks the value."""
        counted = self.by_replicate(column)
        return {key: (f"no {column}" if run.status == Status.COMPLETED else str(run.status))
                for run in self.members if (key := self.replicates.get(run.id)) is not None and key not in counted}

    def mean(self, column: str) -> float | None:
        values = self.column(column)
        return sum(values) / len(values) if values else None


def main_metric(runs: list[RunRecord]) -> str:
    """The metric most of the runs track first (accuracy for classification, mae for regression)."""
    firsts = Counter(first for run in runs if (first := facts(run).first_metric) is not None)
    return firsts.most_common(1)[0][0] if firsts else "accuracy"


def run_values(run: RunRecord, metric: str) -> dict[str, float]:
    """The numeric columns of one run: from metrics.json, or the history of an unfinished run."""
    values: dict[str, float | None] = {}
    names = ("loss", metric)
    known = facts(run)
    if known.parts is not None:  # metrics.json
        names = tuple(dict.fromkeys([*names, *known.directions]))  # every tracked metric (ece, auc, ...)
        parts = known.parts
        values.update(epochs_run=known.epochs_run, best_epoch=known.best_epoch)
    elif run.status == Status.COMPLETED:  # metrics.json unreadable: damaged, never filled in from history
        parts = {}
    elif run.history:  # running, failed, interrupted, crashed: what the epochs so far say
        history, last = run.history, run.history[-1]
        train = {name: last[name] for name in names if last.get(name) is not None}
        val = {name: last[f"val_{name}"] for name in names if last.get(f"val_{name}") is not None}
        parts = {"train": train, "val": val, "gap": generalization_gap(train, val)}
        stopping = mapping(mapping(run.config.get("training")).get("early_stopping")).get("monitor")
        values["epochs_run"] = len(history)
        values["best_epoch"] = best_epoch(history,
                                          default_monitor(stopping if isinstance(stopping, str) else None, bool(val)))
    else:
        parts = {}
    for part, found in parts.items():  # one pass per part: 10,000 runs in a report
        values.update({f"{part}_{name}": found[name] for name in names if name in found})
    test = parts.get("test", {})
    values.update({f"test_{name}": test[name] for name in MC_DROPOUT if name in test})  # evaluation.mc_dropout
    values["duration_s"] = known.duration_s
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def other_metrics(runs: list[RunRecord], metric: str) -> list[str]:
    """Tracked metrics besides loss and the main one (e.g. ece): extra val/test columns."""
    return sorted({name for run in runs for name in facts(run).directions} - {"loss", metric})


def build_rows(runs: list[RunRecord], group: bool = True, group_by: str | None = None) -> tuple[list[Row], str]:
    """Rows (groups of repeats when `group`) and the main metric they report.

    `group_by` (a config key, or name) groups instead every run with the same value of it: each
    distinct resolved config (seed included) is then one sample, e.g. the trials of two random
    searches compared as two distributions."""
    metric = main_metric(runs)
    buckets: dict[str, list[RunRecord]] = {}
    for run in runs:
        if group_by:
            key = f"{group_by}={param_text(flatten(run.config).get(group_by, MISSING))}"
        else:
            known = facts(run)
            key = known.group_key if group and known.group_key else run.id
            if known.data is not None:  # other data is another experiment, never its seeds
                key = hashlib.sha256(f"{key}|{known.data}".encode()).hexdigest()
        buckets.setdefault(key, []).append(run)
    if not group_by:
        buckets = {new: same for key, bucket in buckets.items()
                   for new, same in split_generations(key, bucket, replicate).items()}
    rows = []
    for key, runs_of_key in buckets.items():
        kept, reruns, notes = one_run_per_replicate(runs_of_key, by_config=group_by is not None)
        members = list(kept.values())
        if group_by:
            row = Row("group", key, members[0].name, members)
        elif len(members) == 1:
            row = Row("run", members[0].id, members[0].name, members)
        else:
            row = Row("group", f"{members[0].name}@{key[:6]}", members[0].name, members)
        row.reruns, row.notes = reruns, notes
        row.replicates = {run.id: key for key, run in kept.items()}
        counted = [r for r in members if r.status == Status.COMPLETED] if row.kind == "group" else members
        row.member_values = {run.id: run_values(run, metric) for run in counted}
        rows.append(row)
    return rows, metric


def replicate(run: RunRecord, by_config: bool = False) -> tuple:
    """What makes a run an independent replicate of its experiment: its seed, its fold under cv,
    and (`by_config`, for --group-by) the rest of its resolved config."""
    known = facts(run)
    return (run.seed, known.fold, known.group_key) if by_config else (run.seed, known.fold)


def replicate_text(key: tuple) -> str:
    seed, fold = key[:2]
    return f"seed {seed}" + ("" if fold is None else f" fold {fold}") + (" of one config" if len(key) > 2 else "")


def one_run_per_replicate(runs: list[RunRecord], by_config: bool = False
                          ) -> tuple[dict[tuple, RunRecord], list[RunRecord], list[str]]:
    """({replicate: the run that counts for it}, the re-runs set aside, a note per re-run seed).

    The latest completed run of a seed counts (the latest run when none completed); copies of
    one measurement must not pass as independent samples. `by_config`: a replicate is a
    distinct resolved config with its seed (runs of a group differ in more than the seed)."""
    by_key: dict[tuple, list[RunRecord]] = {}
    for run in runs:
        by_key.setdefault(replicate(run, by_config), []).append(run)
    members, reruns, notes = {}, [], []
    for key, same in by_key.items():
        same = sorted(same, key=lambda r: (r.status == Status.COMPLETED, r.started))
        kept, ignored = same[-1], same[:-1]
        members[key] = kept
        reruns.extend(ignored)
        if ignored:
            times = "twice" if len(same) == 2 else f"{len(same)} times"
            others = "s are" if len(ignored) > 1 else " is"
            if kept.status == Status.COMPLETED and all(r.started <= kept.started for r in ignored):
                which = f"the older run{others} ignored"
            else:
                latest = "latest completed" if kept.status == Status.COMPLETED else "latest"
                which = f"{kept.id} (the {latest} run) counts, the other{others} ignored"
            notes.append(
                f"{kept.name}: {replicate_text(key)} ran {times}; {which} ({', '.join(r.id for r in ignored)})")
    return members, reruns, notes


def mark_differing(rows: list[Row], all_params: bool = False) -> list[str]:
    """Fill each row's params with the config keys whose values differ between rows (and `data`,
    the data fingerprint, when rows come from different data)."""
    keys = _differing_config(rows, all_params)
    if len({facts(row.members[0]).data for row in rows}) > 1:
        keys.append("data")
        for row in rows:
            row.params["data"] = facts(row.members[0]).data or "(not recorded)"
    return keys


def _differing_config(rows: list[Row], all_params: bool) -> list[str]:
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
        keys = [k for k in keys if len({repr(flat.get(k, MISSING)) for flat in flats}) > 1
                and not _mirrors_default(k, flats)]
    for row, flat in zip(rows, flats):
        row.params = {k: flat.get(k, MISSING if row.kind == "run" or k != "seed" else None) for k in keys}
    return keys


def _summarize_layers(rows: list[Row], flats: list[dict]) -> None:
    """When the rows have different numbers of layers, compare the stacks as one `model.layers`
    value ('dense 64 -> dense 32') instead of listing every key of layers some rows lack."""
    stacks = [mapping(row.members[0].config.get("model")).get("layers") for row in rows]
    stacks = [[layer for layer in stack if isinstance(layer, dict)] if isinstance(stack, list) else []
              for stack in stacks]
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
        parent = facts(run).parent
        return parent is not None and fnmatch.fnmatch(parent, wanted)
    if key == "tag":
        tags = run.config.get("tags")
        return isinstance(tags, list) and wanted in tags
    if key == "status":
        return run.status == wanted
    flat = flatten(run.config)
    key = full_key(key, flat)
    if key not in flat:
        return False
    value = flat[key]
    parsed = yaml.safe_load(wanted) if wanted else None
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return value == parsed or (isinstance(value, str) and fnmatch.fnmatch(value, wanted))


def full_key(key: str, flat: dict) -> str:
    """A config key as the params column shows it (dropout, optimizer.learning_rate, learning_rate,
    layers.0.units) -> its dotted path: a short prefix dropped, else the one key it is a dotted suffix of."""
    if key in flat:
        return key
    found = next((prefix + key for prefix in SHORT_PREFIXES if prefix + key in flat), None)
    if found is not None:
        return found
    tails = [k for k in flat if k.endswith("." + key)]
    return tails[0] if len(tails) == 1 else key


def all_match(run: RunRecord, rules: str) -> bool:
    """Several KEY=VALUE rules at once, comma-separated: dropout=0.0,l2=0.001."""
    return all(matches(run, rule) for rule in split_rules(rules))


def split_rules(rules: str) -> list[str]:
    return [rule.strip() for rule in re.split(r",(?=\s*[\w.]+=)", rules)]


def sweep_objective(runs: list[RunRecord]) -> str | None:
    """When every listed run belongs to one sweep, the column its objective ranks by."""
    parents = {facts(run).parent for run in runs}
    if len(parents) != 1 or None in parents:
        return None
    return sweep_objectives(runs).get(parents.pop())


def sweep_objectives(runs: list[RunRecord]) -> dict[str, str]:
    """{sweep folder name: the column its objective chose the best point by} for the runs' parents
    that are sweeps (a cv or repeat parent has no search objective)."""
    out = {}
    for parent, run in {parent: run for run in runs if (parent := facts(run).parent)}.items():
        state = read_sweep_state(run.path.parent / parent, warnings=[])  # a damaged one: no objective note
        if state is not None and state.kind == "sweep":
            out[parent] = MetricKey.parse(state.objective.metric).column
    return out


def sort_rows(rows: list[Row], column: str | None) -> list[Row]:
    """Newest first by default; a metric column by its direction, rows without a value last."""
    if column is None:
        return sorted(rows, key=lambda r: r.started, reverse=True)
    sign = 1 if direction(column) == "min" else -1
    with_value = [r for r in rows if r.mean(column) is not None]
    without = [r for r in rows if r.mean(column) is None]
    return sorted(with_value, key=lambda r: sign * r.mean(column)) + without
