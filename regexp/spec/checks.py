"""Rules that span several keys of a spec (pydantic checks one key at a time): errors and warnings
as (dotted key, message) pairs, which load.py turns into FILE:LINE problems."""

from typing import Optional

from regexp.metrics import METRICS
from regexp.runfolder import MetricKey
from regexp.spec.schema import SPATIAL, SYNTHETIC_DATASETS, WEIGHTED, Distribution, Model, Search, Spec
from regexp.spec.training import COMMON_OPTIMIZER_PARAMS, OPTIMIZER_PARAMS


def cross_checks(spec: Spec) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Rules that span several keys: returns (errors, warnings) as (dotted key, message) pairs."""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    data, model, training = spec.data, spec.model, spec.training

    if (data.dataset is None) == (data.path is None):
        errors.append(("data", "give exactly one of data.dataset or data.path"))
    synthetic_keys = {"samples": SYNTHETIC_DATASETS, "noise": SYNTHETIC_DATASETS,
                      "features": ("classification", "regression"), "classes": ("classification",)}
    for key, allowed in synthetic_keys.items():
        if getattr(data, key) is not None and data.dataset not in allowed:
            errors.append((f"data.{key}", f"applies only to data.dataset {' | '.join(allowed)} (got dataset {data.dataset})"))

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
            errors.append((f"{where}.norm", f"choose one normalization (got batch_norm: {layer.batch_norm} and norm: {layer.norm})"))
        if isinstance(layer, WEIGHTED) and layer.norm == "group":
            width = layer.units if layer.type == "dense" else layer.filters
            if width % layer.groups:
                errors.append((f"{where}.groups", f"groups must divide the layer's {width} units/filters (got {layer.groups})"))

    monitors = []
    if training.early_stopping is not None:
        monitors.append(("training.early_stopping.monitor", training.early_stopping.monitor))
    schedule = training.lr_schedule
    if schedule is not None and schedule.name == "plateau":
        monitors.append(("training.lr_schedule.monitor", schedule.monitor))
        if schedule.unit == "step":
            errors.append(("training.lr_schedule.unit", "plateau reacts to epoch metrics: use unit: epoch"))
    if schedule is not None and schedule.name == "piecewise" and len(schedule.values) != len(schedule.boundaries) + 1:
        errors.append(("training.lr_schedule.values", f"needs one more value than boundaries "
                                                      f"(got {len(schedule.values)} values, {len(schedule.boundaries)} boundaries)"))
    if schedule is not None and schedule.name in ("step", "piecewise") and schedule.boundaries != sorted(set(schedule.boundaries)):
        errors.append(("training.lr_schedule.boundaries", f"must be strictly increasing (got {schedule.boundaries})"))
    for key, monitor in monitors:
        column = MetricKey.parse(monitor)
        if column.part == "val" and data.split.val == 0:
            errors.append((key, f"{monitor} needs a validation part but data.split.val is 0"))
        # a monitor is a history.csv column: loss, accuracy, val_loss, ... (train_loss and test_ are not)
        base = column.name if column.part in ("train", "val") and column.history_column == monitor else monitor
        if base != "loss" and base not in METRICS:
            errors.append((key, f"unknown metric {monitor!r} (allowed: loss, val_loss, or a metric of training.metrics with or without val_)"))
        elif base != "loss" and base not in (training.metrics or ["accuracy", "mae"]):
            errors.append((key, f"{monitor} is not tracked: add {base} to training.metrics"))

    if training.mixup is not None and training.cutmix is not None:
        errors.append(("training.cutmix", "choose mixup or cutmix for a run, not both"))
    warnings.extend(_selu_warnings(model))
    if isinstance(spec.repeat, list) and len(set(spec.repeat)) != len(spec.repeat):
        errors.append(("repeat", f"seeds must be distinct (got {spec.repeat})"))
    if spec.cv is not None and spec.cv.fold is not None and spec.cv.fold >= spec.cv.folds:
        errors.append(("cv.fold", f"must be below cv.folds = {spec.cv.folds} (got {spec.cv.fold})"))
    if spec.cv is not None and data.split.val == 0 and data.split.train == 0:
        errors.append(("cv", "cross-validation needs train+val samples"))
    if spec.search is not None:
        errors.extend(_search_checks(spec.search, training.metrics))

    optimizer = training.optimizer
    for key in sorted(optimizer.model_fields_set - COMMON_OPTIMIZER_PARAMS - OPTIMIZER_PARAMS[optimizer.name]):
        if getattr(optimizer, key) == type(optimizer).model_fields[key].default:
            continue  # a resolved config.yaml writes every default: only a value someone chose is worth a warning
        warnings.append((f"training.optimizer.{key}", f"is not used by optimizer {training.optimizer.name}"))
    return errors, warnings


def _search_checks(search: Search, metrics: Optional[list[str]]) -> list[tuple[str, str]]:
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
    if search.refine is not None and search.method != "random":
        errors.append(("search.refine", "coarse-to-fine rounds sample points: use method: random"))
    objective = MetricKey.parse(search.objective.metric)
    base = objective.name if objective.part != "gap" else search.objective.metric
    if base != "loss" and base not in (metrics or ["accuracy", "mae"]):
        errors.append(("search.objective.metric", f"{search.objective.metric} is not tracked (allowed: loss or "
                                                  f"a metric of training.metrics, with train_/val_/test_)"))
    return errors


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
