"""Rules that span several keys of a spec (pydantic checks one key at a time): errors and warnings
as (dotted key, message) pairs, which load.py turns into FILE:LINE problems."""

import itertools
import re
from collections.abc import Callable
from typing import Any, Optional

import yaml

from regexp.registry.datasets import accepting
from regexp.registry.metrics import METRICS, NEUTRAL, RANGES, margin_below, resolution, span
from regexp.registry.optimizers import COMMON_PARAMS, OPTIMIZERS, reads
from regexp.registry.schedules import SCHEDULES
from regexp.spec.datasets import builtin_checks, notes_form_hints, part_sizes
from regexp.spec.schema import SPATIAL, WEIGHTED, Data, Decide, Distribution, Model, Search, Spec
from regexp.spec.sequences import sequence_checks, unreached_defaults, window_checks
from regexp.spec.training import Optimizer
from regexp.store.contract import MetricKey


def cross_checks(spec: Spec, same_file: Callable[[str, str], bool] = lambda a, b: True, resolved: bool = False
                 ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Rules that span several keys: returns (errors, warnings) as (dotted key, message) pairs.

    `same_file(key_a, key_b)`: whether both keys were written in one file (load.py knows where
    each key came from; an `extends` base or a --set is another source). `resolved`: the spec is a
    run's config.yaml, which writes every key with its default."""
    unreached, warnings = unreached_defaults(spec)
    errors = [*_data_checks(spec.data), *window_checks(spec), *sequence_checks(spec), *_layer_checks(spec.model),
              *_schedule_checks(spec), *_run_checks(spec), *unreached]
    warnings += _selu_warnings(spec.model)
    training = spec.training
    if spec.search is not None:
        errors.extend(_search_checks(spec.search, training.metrics, training.epochs))
    if spec.decide is not None:
        errors.extend(_decide_checks(spec, training.metrics))
    if spec.search is not None and spec.search.confirm is not None:
        errors.extend(_confirm_checks(spec, training.metrics))
    for found, problem in zip((errors, warnings), margin_problems(spec)):
        found.extend(problem)

    errors.extend(builtin_checks(spec))
    warnings.extend(notes_form_hints(spec))
    name_searched = spec.search is not None and "training.optimizer.name" in spec.search.params
    for key, message, chosen_here in _unused_optimizer_keys(training.optimizer, same_file, resolved):
        # a key that serves the other optimizers a search tries is no mistake
        (errors if chosen_here and not name_searched else warnings).append((key, message))
    return errors, warnings


def _schedule_checks(spec: Spec) -> list[tuple[str, str]]:
    """The monitors of early stopping and of a schedule that reacts to a metric, and a schedule's own rules."""
    errors, training = [], spec.training
    monitors = []
    if training.early_stopping is not None:
        monitors.append(("training.early_stopping.monitor", training.early_stopping.monitor))
    schedule = training.lr_schedule
    if schedule is not None and SCHEDULES[schedule.name].monitors:
        monitors.append(("training.lr_schedule.monitor", schedule.monitor))
        if schedule.unit == "step":
            errors.append(("training.lr_schedule.unit", f"{schedule.name} reacts to epoch metrics: use unit: epoch"))
    if schedule is not None and schedule.name == "piecewise" and len(schedule.values) != len(schedule.boundaries) + 1:
        errors.append(("training.lr_schedule.values", f"needs one more value than boundaries "
                                                      f"(got {len(schedule.values)} values, {len(schedule.boundaries)} "
                                                      "boundaries)"))
    if (schedule is not None and schedule.name in ("step", "piecewise")
            and schedule.boundaries != sorted(set(schedule.boundaries))):
        errors.append(("training.lr_schedule.boundaries", f"must be strictly increasing (got {schedule.boundaries})"))
    return errors + [problem for key, monitor in monitors for problem in _monitor_checks(spec, key, monitor)]


def _monitor_checks(spec: Spec, key: str, monitor: str) -> list[tuple[str, str]]:
    """A monitored metric must be a history.csv column the run has."""
    errors, training = [], spec.training
    column = MetricKey.parse(monitor)
    if column.part == "val" and spec.data.split.val == 0:
        errors.append((key, f"{monitor} needs a validation part but data.split.val is 0"))
    # a monitor is a history.csv column: loss, accuracy, val_loss, ... (train_loss and test_ are not)
    base = column.name if column.part in ("train", "val") and column.history_column == monitor else monitor
    if base != "loss" and base not in METRICS:
        errors.append((key, f"unknown metric {monitor!r} (allowed: loss, val_loss, or a metric of training.metrics "
                            "with or without val_)"))
    elif base != "loss" and base not in (training.metrics or ["accuracy", "mae"]):
        errors.append((key, f"{monitor} is not tracked: add {base} to training.metrics"))
    return errors


def _run_checks(spec: Spec) -> list[tuple[str, str]]:
    errors, data, training = [], spec.data, spec.training
    if training.mixup is not None and training.cutmix is not None:
        errors.append(("training.cutmix", "choose mixup or cutmix for a run, not both"))
    if isinstance(spec.repeat, list) and len(set(spec.repeat)) != len(spec.repeat):
        errors.append(("repeat", f"seeds must be distinct (got {spec.repeat})"))
    if spec.cv is not None and spec.cv.fold is not None and spec.cv.fold >= spec.cv.folds:
        errors.append(("cv.fold", f"must be below cv.folds = {spec.cv.folds} (got {spec.cv.fold})"))
    if spec.cv is not None and data.val_path is not None:
        errors.append(("data.val_path", "cross-validation takes its validation folds from train+val of one source; "
                                        "drop cv or val_path"))
    if spec.cv is not None and data.split.val == 0 and data.split.train == 0:
        errors.append(("cv", "cross-validation needs train+val samples"))
    return errors


def _data_checks(data: Data) -> list[tuple[str, str]]:
    """Which data keys go together: a dataset or a file, a generated dataset's keys, a table's."""
    errors = []
    if (data.dataset is None) == (data.path is None):
        errors.append(("data", "give exactly one of data.dataset or data.path"))
    for key in ("samples", "noise", "features", "classes", "length"):  # what shapes a generated dataset
        allowed = accepting(key)
        if getattr(data, key) is not None and data.dataset not in allowed:
            errors.append((f"data.{key}", f"applies only to data.dataset {' | '.join(allowed)} (got dataset "
                                          f"{data.dataset})"))
    if data.dataset is not None:  # what a built-in dataset's columns are is fixed
        for key, default in (("na_values", []), ("columns", None), ("drop", []), ("sep", "auto")):
            if getattr(data, key) != default:
                errors.append((f"data.{key}", f"applies to a csv/parquet data.path (got dataset {data.dataset})"))
    overlap = sorted(set(data.columns or ()) & set(data.drop))
    if overlap:
        errors.append(("data.drop", f"{', '.join(map(repr, overlap))} is also in data.columns: keep or drop, not both"))
    return errors


def _layer_checks(model: Model) -> list[tuple[str, str]]:
    """What each layer's neighbours and options allow: flatten before dense, one normalization."""
    errors = []
    seen_spatial = False  # after a conv/pool layer the tensor is 4-D until flatten/global pool
    for i, layer in enumerate(model.resolved_layers()):
        where = f"model.layers.{i}"
        if layer.type in SPATIAL:
            seen_spatial = True
        elif layer.type in ("flatten", "global_avg_pool"):
            seen_spatial = False
        elif layer.type == "dense" and seen_spatial:
            errors.append((where, "a dense layer after conv2d/pooling needs a {type: flatten} or "
                                  "{type: global_avg_pool} layer before it"))
        if layer.type == "dense" and layer.dropout_type == "spatial" and layer.dropout > 0:
            errors.append((f"{where}.dropout_type", "spatial dropout drops whole feature maps: conv2d layers only "
                                                    "(allowed for dense: standard | alpha | gaussian)"))
        if isinstance(layer, WEIGHTED) and layer.batch_norm != "none" and layer.norm is not None:
            errors.append((f"{where}.norm", f"choose one normalization (got batch_norm: {layer.batch_norm} and norm: "
                                            f"{layer.norm})"))
        if layer.type == "dense" and layer.norm == "instance":
            key = f"{where}.norm" if model.layers[i].norm is not None else "model.defaults.norm"
            errors.append((key, f"instance norm normalizes each unit over its own single value on a dense layer "
                                f"(model.layers.{i}), so every output is 0 and the network cannot learn; use "
                                "norm: layer (over the units) or norm: group (conv2d takes instance: per feature map)"))
        if isinstance(layer, WEIGHTED) and layer.norm == "group":
            width = layer.units if layer.type == "dense" else layer.filters
            if width % layer.groups:
                errors.append((f"{where}.groups", f"groups must divide the layer's {width} units/filters (got "
                                                  f"{layer.groups})"))
    return errors


def unused_optimizer_keys(optimizer: Optimizer, defaults_too: bool = False) -> list[str]:
    """Keys written (with a value of their own, unless `defaults_too`) that the chosen optimizer never reads."""
    return [key
            for key in sorted(optimizer.model_fields_set - COMMON_PARAMS - reads(optimizer.name))
            if defaults_too or getattr(optimizer, key) != type(optimizer).model_fields[key].default]


def _unused_optimizer_keys(optimizer: Optimizer, same_file, resolved: bool) -> list[tuple[str, str, bool]]:
    """An error when the key sits in the file that names the optimizer (a mistake there), a warning
    when it was inherited through `extends` or came with a --set (the base may serve other optimizers).
    A run's config.yaml writes every default, so there only a value of its own counts."""
    out = []
    for key in unused_optimizer_keys(optimizer, defaults_too=not resolved):
        read = ", ".join(sorted(COMMON_PARAMS - {"name"} | reads(optimizer.name)))
        meant = OPTIMIZERS[optimizer.name].meant.get(key)
        hint = (f"; did you mean {meant!r}? ({meant}: {type(optimizer).model_fields[meant].description})" if meant else
                "; plain sgd has no velocity: use name: momentum" if key == "momentum" else "")
        dotted = f"training.optimizer.{key}"
        out.append((dotted, f"is not used by optimizer {optimizer.name}{hint} ({optimizer.name} reads: {read})",
                    same_file(dotted, "training.optimizer.name")))
    return out


def _search_checks(search: Search, metrics: Optional[list[str]], epochs: int) -> list[tuple[str, str]]:
    errors = []
    if not search.params:
        errors.append(("search.params", "needs at least one dotted path to vary"))
    for path, values in search.params.items():
        key = f"search.params.{path}"
        if path.split(".")[0] in ("search", "repeat", "cv", "seed", "name", "extends"):
            errors.append((key, "cannot be searched: the seeds and folds come from repeat and cv "
                                "(search over model, training and data keys)"))
        if isinstance(values, list) and not values:
            errors.append((key, "an empty list has nothing to try"))
        if isinstance(values, Distribution) and search.method == "grid":
            errors.append((key, f"a {values.kind} distribution needs method: random (grid takes lists)"))
    if search.method == "tpe":
        from regexp.sweep import tpe

        if not tpe.available():
            errors.append(("search.method", f"tpe needs Optuna, which is not installed: {tpe.INSTALL}"))
    if search.refine is not None and search.method != "random":
        errors.append(("search.refine", "coarse-to-fine rounds sample points: use method: random"))
    objective = MetricKey.parse(search.objective.metric)
    base = objective.name if objective.part != "gap" else search.objective.metric
    if base != "loss" and base not in (metrics or ["accuracy", "mae"]):
        errors.append(("search.objective.metric", f"{search.objective.metric} is not tracked (allowed: loss or "
                                                  f"a metric of training.metrics, with train_/val_/test_)"))
    if search.halving is not None:
        errors.extend(_halving_checks(search, objective, epochs))
    return errors


def _halving_checks(search: Search, objective: MetricKey, epochs: int) -> list[tuple[str, str]]:
    errors = []
    if search.halving.min_epochs >= epochs:
        errors.append(("search.halving.min_epochs", f"must be below training.epochs = {epochs} (got "
                                                    f"{search.halving.min_epochs}): there is no rung to decide at"))
    if objective.part not in ("train", "val"):
        errors.append(("search.halving", f"decides on the objective's value at an epoch, which {objective.column} "
                                         "has not (use a val_ or train metric as search.objective.metric)"))
    if "training.epochs" in search.params:
        errors.append(("search.halving", "the rungs are epochs of training.epochs, which the search varies: "
                                         "drop halving or the search over training.epochs"))
    return errors


SHORT_PREFIXES = ("model.defaults.", "training.", "model.", "data.")  # the report's params column drops these


def grid_points(search: Search) -> list[dict[str, Any]]:
    """Every point of a grid search, {dotted path: value}, in the order the sweep plans them."""
    paths = list(search.params)
    return [dict(zip(paths, values)) for values in itertools.product(*(search.params[p] for p in paths))]


def find_grid_point(search: Search, wanted: str) -> tuple[dict[str, Any] | None, str | None]:
    """The one grid point that KEY=VALUE rules joined by commas name (keys as dotted paths, the
    report's short names or a path's last part when no other searched key ends so; values as YAML):
    (point, None), or (None, what is wrong)."""
    rules = {}
    for rule in re.split(r",(?=\s*[\w.]+=)", wanted):
        key, sep, text = rule.strip().partition("=")
        named = [p for p in search.params
                 if key in (p, p.rsplit(".", 1)[-1], *(p.removeprefix(x) for x in SHORT_PREFIXES))]
        path = named[0] if len(named) == 1 else None
        if not sep or path is None:
            return None, (f"{rule.strip()!r} is not KEY=VALUE of a searched key (searched: "
                          f"{', '.join(search.params)})")
        rules[path] = yaml.safe_load(text) if text else None
    found = [point for point in grid_points(search) if all(point[p] == v for p, v in rules.items())]
    if len(found) != 1:
        shown = "; ".join(",".join(f"{p}={v}" for p, v in point.items()) for point in grid_points(search)[:4])
        return None, (f"{wanted} matches {len(found)} grid points (name every searched key; the grid has: "
                      f"{shown}{', ...' if len(grid_points(search)) > 4 else ''})")
    return found[0], None


def _decide_checks(spec: Spec, metrics: Optional[list[str]]) -> list[tuple[str, str]]:
    decide: Decide = spec.decide
    search = spec.search
    if search is None or search.method != "grid" or search.refine is not None:
        return [("decide", "needs a grid search (search.method: grid, no refine): each grid point is an arm "
                           "compared with the baseline point")]
    errors = []
    if spec.repeat != 1:
        errors.append(("repeat", "decide chooses the seeds (batches of decide.batch from seed, up to "
                                 "decide.max_seeds): drop repeat"))
    if search.halving is not None:
        errors.append(("search.halving", "decide compares every arm on all its seeds: an arm stopped at a rung "
                                         "would have none (drop halving or decide)"))
    errors += _budget_checks("decide", decide)
    if all(not isinstance(v, Distribution) for v in search.params.values()):
        point, problem = find_grid_point(search, decide.baseline)
        if problem:
            errors.append(("decide.baseline", problem))
        elif len(grid_points(search)) < 2:
            errors.append(("decide.baseline", "the grid has no other point to compare with it"))
    return errors + _metric_checks("decide.metric", decide.metric, metrics)


def _metric_checks(where: str, metric: str, metrics: Optional[list[str]]) -> list[tuple[str, str]]:
    """The metric of a question (decide, search.confirm): a tracked val_ or test_ column with a better side."""
    key = MetricKey.parse(metric)
    if key.part not in ("val", "test") or key.name in NEUTRAL:
        return [(where, f"{metric}: decide on a val_ or test_ loss or metric with a better side (a gap or a "
                        "diagnostic has none)")]
    if key.name != "loss" and key.name not in (metrics or ["accuracy", "mae"]):
        return [(where, f"{metric} is not tracked (allowed: loss or a metric of training.metrics, with val_/test_)")]
    return []


def _confirm_checks(spec: Spec, metrics: Optional[list[str]]) -> list[tuple[str, str]]:
    confirm = spec.search.confirm
    errors = []
    if spec.decide is not None:
        errors.append(("search.confirm", "races the search's best points on fresh seeds, and decide compares every "
                                         "grid point with a baseline: give one of them"))
    return errors + _budget_checks("search.confirm", confirm) + _metric_checks("search.confirm.metric",
                                                                                confirm.metric, metrics)


def _budget_checks(where: str, question) -> list[tuple[str, str]]:
    """A sequential question's budget holds at least one look (decide, search.confirm)."""
    if question.max_seeds < question.batch:
        return [(f"{where}.max_seeds", f"must be at least {where}.batch = {question.batch} (got "
                                       f"{question.max_seeds})")]
    return []


def margin_problems(spec: Spec, rows: int | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """decide.margin and search.confirm.margin against their metric: at least the whole range of the
    metric is an error (every difference but the extremes would be equivalent); below one sample of
    the part (1/n, known here for built-in datasets, and for a table once validate has read its
    `rows`; decide and report warn too, once they read the runs' sizes) is a warning: per-seed
    differences come in steps of one sample, and no arm is called equivalent within less
    (docs/decide.md)."""
    errors, warnings = [], []
    for where, question in (("decide", spec.decide), ("search.confirm", spec.search and spec.search.confirm)):
        if question is None:
            continue
        key = MetricKey.parse(question.metric)
        margin, width = question.margin, span(key.name)
        if width is not None and margin >= width:
            low, high = RANGES[key.name]
            errors.append((f"{where}.margin", f"{margin:g} is the whole range of {key.column} ([{low:g}, {high:g}]): "
                                              "every difference would be within it (a margin is in the metric's "
                                              "units: 0.01 is one point of accuracy)"))
            continue
        sizes = part_sizes(spec, rows) if key.part in ("val", "test") else None
        step = resolution(key.name, sizes[key.part]) if sizes else None
        if step is not None and margin < step:
            warnings.append((f"{where}.margin", margin_below(margin, step, key.column, sizes[key.part])))
    return errors, warnings


def _selu_warnings(model: Model) -> list[tuple[str, str]]:
    """SELU self-normalizes only with LeCun-normal weights and alpha dropout (Klambauer et al., 2017)."""
    out = []
    for i, layer in enumerate(model.resolved_layers()):
        if not isinstance(layer, WEIGHTED) or layer.activation != "selu":
            continue
        if layer.initializer != "lecun_normal":
            out.append((f"model.layers.{i}.initializer", f"selu self-normalizes only with lecun_normal weights "
                                                         f"(Klambauer et al., 2017); got {layer.initializer}"))
        if layer.dropout > 0 and layer.dropout_type != "alpha":
            out.append((f"model.layers.{i}.dropout_type", f"{layer.dropout_type} dropout breaks selu's "
                                                          "self-normalization; alpha dropout keeps mean and variance"))
    return out
