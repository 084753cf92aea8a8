"""What the built-in datasets are, known without loading them: features, image shape, task and
classes. `validate` checks a spec against these, so a cutmix on a table or a binary task on ten
classes is a spec error before anything loads (data/prepare.py checks the same for files, once
they are read). A test keeps this table equal to what the loaders return."""

import math
from dataclasses import dataclass
from typing import Optional

from regexp.registry.metrics import METRICS
from regexp.spec.schema import SPATIAL, Spec
from regexp.spec.sequences import SEQUENCE_DATASETS, sequence_facts


@dataclass(frozen=True)
class Facts:
    features: int
    shape: Optional[tuple[int, ...]]  # the natural image shape, None for a table
    task: str                         # classification | binary | regression
    classes: int                      # 0 for regression
    samples: int = 1000               # before the split (mnist/fashion_mnist/cifar10: their train part)


def facts(spec: Spec) -> Optional[Facts]:
    """The facts of spec's built-in dataset (synthetic ones follow their keys); None for data.path."""
    d = spec.data
    if d.dataset in ("classification", "regression"):
        features = d.features or 20
        if d.dataset == "regression":
            return Facts(features, None, "regression", 0, d.samples or 1000)
        classes = d.classes or 2
        return Facts(features, None, "binary" if classes == 2 else "classification", classes, d.samples or 1000)
    if d.dataset in ("moons", "circles"):
        return Facts(2, None, "binary", 2, d.samples or 1000)
    if d.dataset in SEQUENCE_DATASETS:
        return Facts(*sequence_facts(d.dataset, d.samples, d.length, d.classes))
    return BUILTIN.get(d.dataset)


BUILTIN = {
    "digits": Facts(64, (8, 8, 1), "classification", 10, 1797),
    "breast_cancer": Facts(30, None, "binary", 2, 569),
    "wine": Facts(13, None, "classification", 3, 178),
    "iris": Facts(4, None, "classification", 3, 150),
    "mnist": Facts(784, (28, 28, 1), "classification", 10, 60000),
    "fashion_mnist": Facts(784, (28, 28, 1), "classification", 10, 60000),
    "cifar10": Facts(3072, (32, 32, 3), "classification", 10, 50000),
}


SHIPPED_TEST = {"mnist": 10000, "fashion_mnist": 10000, "cifar10": 10000}  # their own test parts


def part_sizes(spec: Spec, rows: int | None = None) -> Optional[dict[str, int]]:
    """Samples in the val and test parts of a built-in dataset, or of data.path's `rows` once the
    file is read (without val_path/test_path), as data/prepare.py cuts them (scikit-learn's
    train_test_split takes ceil(fraction * n); under cv the smallest fold); None when unknown."""
    known = facts(spec)
    if known is None and (rows is None or spec.data.val_path or spec.data.test_path):
        return None
    split, n = spec.data.split, known.samples if known is not None else rows
    test = SHIPPED_TEST.get(spec.data.dataset)
    if test is None:
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
    name, errors = spec.data.dataset, []
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


def _task_checks(spec: Spec, known: Facts) -> list[tuple[str, str]]:
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
    shipped_test = spec.data.dataset in ("mnist", "fashion_mnist", "cifar10")  # samples is their train part already
    m = None if known is None else known.samples if shipped_test else round(known.samples * spec.data.split.train)
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
