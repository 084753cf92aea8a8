"""A spec against its built-in dataset, known without loading it (registry/datasets.py: features,
image shape, task, classes). `validate` checks a spec against these, so a cutmix on a table or a
binary task on ten classes is a spec error before anything loads (data/prepare.py checks the same
for files, once they are read). A test keeps the registry equal to what the loaders return."""

import math
from typing import Optional

from regexp.registry.datasets import DATASETS, DatasetDef
from regexp.registry.metrics import METRICS
from regexp.spec.schema import SPATIAL, Spec


def facts(spec: Spec) -> Optional[DatasetDef]:
    """spec's built-in dataset with the values of its data keys (a generated one's samples, features,
    classes); None for data.path."""
    known = DATASETS.get(spec.data.dataset)
    return known.resolved(spec.data) if known is not None else None


def part_sizes(spec: Spec, rows: int | None = None) -> Optional[dict[str, int]]:
    """Samples in the val and test parts of a built-in dataset, or of data.path's `rows` once the
    file is read (without val_path/test_path), as data/prepare.py cuts them (scikit-learn's
    train_test_split takes ceil(fraction * n); under cv the smallest fold); None when unknown."""
    known = facts(spec)
    if known is None and (rows is None or spec.data.val_path or spec.data.test_path):
        return None
    split, n = spec.data.split, known.samples if known is not None else rows
    test = known.shipped_test if known is not None else 0
    if not test:
        test = math.ceil(split.test * n) if split.test else 0
        n -= test
    if spec.cv is not None:
        val = n // spec.cv.folds
    else:
        val = math.ceil(split.val / (split.train + split.val) * n) if split.val else 0
    return {"val": val, "test": test}


def builtin_checks(spec: Spec) -> list[tuple[str, str]]:
    """Shape and task mistakes against a built-in dataset, as (dotted key, message) pairs."""
    known = facts(spec)
    if known is None:
        return []
    name, errors = spec.data.dataset, list(known.limits(known)) if known.limits else []
    shape = tuple(spec.data.shape) if spec.data.shape is not None else known.shape
    if spec.data.shape is not None and _product(shape) != known.features:
        errors.append(("data.shape", f"{list(shape)} holds {_product(shape)} values but each {name} sample has "
                                     f"{known.features} features"))
    elif shape is None:
        what = f"{name} is a table of {known.features} features with no image shape"
        for key in ("cutmix", "cutout", "augment"):
            if getattr(spec.training, key):
                errors.append((f"training.{key}", f"works on images; {what} (remove it, or set data.shape to an "
                                                  f"image shape with a product of {known.features})"))
        for i, layer in enumerate(spec.model.layers):
            if layer.type in SPATIAL:
                errors.append((f"model.layers.{i}", f"{layer.type} needs images; {what} (use dense layers, or set "
                                                    f"data.shape with a product of {known.features})"))
                break
    else:
        for i, item in enumerate(spec.training.augment):
            if item.crop is not None and (item.crop[0] > shape[0] or item.crop[1] > shape[1]):
                errors.append((f"training.augment.{i}.crop", f"a crop of {item.crop} does not fit in {name}'s "
                                                             f"{shape[0]}x{shape[1]} images"))
    errors.extend(_task_checks(spec, known))
    return errors


def _task_checks(spec: Spec, known: DatasetDef) -> list[tuple[str, str]]:
    name, wanted, errors = spec.data.dataset, spec.model.task, []
    if wanted == "binary" and known.classes != 2:
        errors.append(("model.task", f"binary needs 2 classes; {name} has "
                                     f"{known.classes or 'continuous labels, not'} classes (use task: {known.task})"))
    if wanted in ("classification", "binary") and known.task == "regression":
        errors.append(("model.task", f"{name} has continuous labels: use task: regression (or auto)"))
    task = known.task if wanted == "auto" else wanted
    for i, metric in enumerate(spec.training.metrics or []):
        if task not in METRICS[metric]:
            errors.append((f"training.metrics.{i}", f"{metric} does not apply to a {task} task (allowed: "
                                                    f"{', '.join(m for m, t in METRICS.items() if task in t)})"))
    if task == "regression" and spec.training.label_smoothing > 0:
        errors.append(("training.label_smoothing", f"applies to classification only ({name} is regression)"))
    return errors


def _product(shape) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def notes_form_hints(spec: Spec) -> list[tuple[str, str]]:
    """Warnings where a value looks written in the course notes' form rather than Keras's
    (docs/formulas.md maps one to the other)."""
    hints = []
    known = facts(spec)
    # a shipped test part: samples is the train part already
    m = None if known is None else known.samples if known.shipped_test else round(known.samples * spec.data.split.train)
    layers = [("model.defaults.l2", spec.model.defaults.l2)] + [
        (f"model.layers.{i}.l2", layer.l2) for i, layer in enumerate(spec.model.layers) if getattr(layer, "l2", None)]
    for key, l2 in layers:
        if l2 is not None and l2 >= 0.1:
            example = (f"on m = {m} train samples, l2 = {l2:g}/(2·{m}) = {l2 / (2 * m):.2g}" if m
                       else "l2 = λ/(2m) for m train samples")
            hints.append((key, f"{l2:g} adds {l2:g}·Σw² to the loss (Keras's form, no 1/2m); if this is the "
                               f"notes' λ in λ/(2m)·‖w‖², {example} (docs/formulas.md)"))
    optimizer = spec.training.optimizer
    if optimizer.name == "rmsprop" and optimizer.epsilon <= 1e-8:
        hints.append(("training.optimizer.epsilon", "Keras's rmsprop adds epsilon inside the root, sqrt(S + ε); the "
                                                    "notes' ε = 1e-8 sits outside, sqrt(S) + ε (docs/formulas.md)"))
    return hints
