"""The metric registry: one MetricDef per metric a run records, with its tasks, direction, range,
resolution, how Keras computes it and how a pack reduces it. The spec's allowed values, the Keras
model's metrics (net/scoring.py), the pack's sums (packed/measures.py) and what packs refuse
(packed/grouping.py), the report's directions, ranges and headers all read it. No numpy or
TensorFlow at import: the callables import Keras when called. Column names (val_accuracy,
gap_loss) are MetricKeys (regexp/store/contract.py).

Adding a metric is one MetricDef in METRIC_DEFS plus its test (tests/test_registries.py holds
each pack reduction against its Keras metric).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from regexp.registry.calibration import calibration, calibration_error, hits

EVAL_BATCH = 1024  # evaluation has no gradient noise to trade for speed: big batches, same numbers
CLASSES = frozenset({"classification", "binary"})


@dataclass(frozen=True)
class PackReduce:
    """How a pack computes a metric per slice. `per_sample(batch)`: (K, B, ...) values for one batch
    of every slice (batch: packed/measures.py's PackBatch), summed over the batches of an epoch or
    part; `finish(sums, n)`: one slice's sums (numpy) over n samples -> the metric."""
    per_sample: Callable[[Any], Any]
    finish: Callable[[Any, float], float] = lambda sums, n: float(sums) / n


@dataclass(frozen=True)
class MetricDef:
    name: str
    tasks: frozenset[str]  # what training.metrics accepts it for; empty: a diagnostic every run records
    direction: Literal["max", "min"] | None  # None: no better side (a comparison says higher or lower)
    bounds: tuple[float | None, float | None] = (None, None)  # its values' (and intervals') range
    # the step of its values on a part of n samples (1/n for a share of samples), None: continuous
    resolution: Callable[[int], float] | None = None
    keras: Callable[[str], Any] | None = None  # task -> the keras.metrics.Metric a model compiles
    pack: PackReduce | None = None  # None: packs refuse it, saying `unpacked`
    unpacked: str = "no pack reduction is written for it"  # why packs refuse it, when pack is None
    counts_right: bool = False  # how often right (a loss difference beside an equal one is confidence)
    short: str | None = None  # the report's narrow column header


def one_sample(samples: int) -> float:
    return 1.0 / samples


def _keras_f1(task: str):
    import keras

    return keras.metrics.F1Score(average="macro", threshold=0.5 if task == "binary" else None, name="f1")


def f1_counts(y_true, y_pred):
    """(..., 3, classes) per sample: true positives, false positives, false negatives, as
    keras.metrics.F1Score counts them (threshold 0.5 on one sigmoid output, else the top class)."""
    from keras import ops

    if y_pred.shape[-1] == 1:
        predicted = ops.cast(y_pred > 0.5, y_pred.dtype)
    else:
        top = ops.logical_and(y_pred >= ops.max(y_pred, axis=-1, keepdims=True), ops.abs(y_pred) > 1e-9)
        predicted = ops.cast(top, y_pred.dtype)
    return ops.stack([predicted * y_true, predicted * (1 - y_true), (1 - predicted) * y_true], axis=-2)


def macro_f1(sums, samples: float, epsilon: float = 1e-7) -> float:
    """F1Score(average="macro")'s result from f1_counts's sums (3, classes), Keras's formula and epsilon
    (a ratio of counts: the number of samples does not enter)."""
    tp, fp, fn = (sums[i].astype("float32") for i in range(3))
    precision, recall = tp / (tp + fp + epsilon), tp / (tp + fn + epsilon)
    return float((2 * precision * recall / (precision + recall + epsilon)).mean())


def _keras(class_name: str, **kwargs) -> Callable[[str], Any]:
    def build(task: str):
        import keras

        return getattr(keras.metrics, class_name)(**kwargs)
    return build


def _keras_accuracy(task: str):
    """The argmax of a mixed label is its primary sample's label (net/pipeline.py's mixup)."""
    import keras

    from regexp.registry.keras_parts import MajorityBinaryAccuracy

    if task == "classification":
        return keras.metrics.CategoricalAccuracy(name="accuracy")
    return MajorityBinaryAccuracy(name="accuracy")


def _keras_ece(task: str):
    from regexp.registry.keras_parts import ExpectedCalibrationError

    return ExpectedCalibrationError(name="ece")


def _top3(batch):
    from keras import ops

    top3 = ops.top_k(batch.p, k=min(3, batch.p.shape[-1]))[1]
    label = ops.cast(ops.argmax(batch.y, axis=-1), top3.dtype)[..., None]
    return ops.cast(ops.any(ops.equal(top3, label), axis=-1), "float32")


def _mean_over_outputs(value: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def per_sample(batch):
        from keras import ops

        return ops.mean(value(batch.logits - batch.y), axis=-1)
    return per_sample


_squared_error = _mean_over_outputs(lambda error: error * error)
UNIT, NON_NEGATIVE = (0.0, 1.0), (0.0, None)
# the tracked metrics: the values of training.metrics
METRIC_DEFS = (
    MetricDef("accuracy", CLASSES, "max", UNIT, one_sample, _keras_accuracy,
              PackReduce(lambda batch: hits(batch.y, batch.p)[1]), counts_right=True, short="acc"),
    MetricDef("auc", frozenset({"binary"}), "max", UNIT, keras=_keras("AUC", name="auc"), counts_right=True,
              unpacked="Keras's AUC integrates 200 thresholds over the whole part"),
    MetricDef("precision", frozenset({"binary"}), "max", UNIT, keras=_keras("Precision", name="precision"),
              counts_right=True, short="prec", unpacked="a ratio of counts over the part, not a mean"),
    MetricDef("recall", frozenset({"binary"}), "max", UNIT, keras=_keras("Recall", name="recall"), counts_right=True,
              short="rec", unpacked="a ratio of counts over the part, not a mean"),
    MetricDef("f1", CLASSES, "max", UNIT, keras=_keras_f1, counts_right=True,  # macro: the mean over classes
              pack=PackReduce(lambda batch: f1_counts(batch.y, batch.p), macro_f1)),
    MetricDef("top3_accuracy", frozenset({"classification"}), "max", UNIT, one_sample,
              _keras("TopKCategoricalAccuracy", k=3, name="top3_accuracy"), PackReduce(_top3), counts_right=True,
              short="top3"),
    MetricDef("ece", CLASSES, "min", UNIT, keras=_keras_ece,
              pack=PackReduce(lambda batch: calibration(batch.y, batch.p), lambda sums, n: float(
                  calibration_error(sums)))),
    MetricDef("mae", frozenset({"regression"}), "min", NON_NEGATIVE, keras=_keras("MeanAbsoluteError", name="mae"),
              pack=PackReduce(_mean_over_outputs(abs))),
    MetricDef("mse", frozenset({"regression"}), "min", NON_NEGATIVE, keras=_keras("MeanSquaredError", name="mse"),
              pack=PackReduce(_squared_error)),
    MetricDef("rmse", frozenset({"regression"}), "min", NON_NEGATIVE,
              keras=_keras("RootMeanSquaredError", name="rmse"),
              pack=PackReduce(_squared_error, lambda sums, n: (float(sums) / n) ** 0.5)),
    MetricDef("r2", frozenset({"regression"}), "max", (None, 1.0), keras=_keras("R2Score", name="r2"),
              unpacked="R2Score divides by the part's target variance"),
)
# what every run records besides: the data loss, the L1/L2 penalty, and MC-dropout's diagnostics
DIAGNOSTICS = (
    MetricDef("loss", frozenset(), "min", NON_NEGATIVE),
    MetricDef("penalty", frozenset(), None, NON_NEGATIVE),
    MetricDef("mc_accuracy", frozenset(), "max", UNIT, one_sample, counts_right=True, short="mc acc"),
    MetricDef("mc_loss", frozenset(), "min", NON_NEGATIVE),
    *(MetricDef(name, frozenset(), None, NON_NEGATIVE)
      for name in ("mc_entropy", "mc_entropy_right", "mc_entropy_wrong", "mc_std")),
)
BY_NAME: dict[str, MetricDef] = {m.name: m for m in (*METRIC_DEFS, *DIAGNOSTICS)}

# views by the names other modules read
METRICS: dict[str, frozenset[str]] = {m.name: m.tasks for m in METRIC_DEFS}  # training.metrics name -> tasks
NEUTRAL = frozenset(m.name for m in BY_NAME.values() if m.direction is None)
RANGES = {m.name: m.bounds for m in BY_NAME.values() if m.bounds != (None, None)}
RESOLVED = tuple(m.name for m in BY_NAME.values() if m.resolution is not None)
ALIASES = {"acc": "accuracy"}  # Keras accepts metrics=["acc"]; its history then says accuracy


def maximized(name: str) -> bool:
    """Whether higher is better; names that are no metric (epochs_run, duration_s) are minimized."""
    return name in BY_NAME and BY_NAME[name].direction == "max"


def counts_right(name: str) -> bool:
    return name in BY_NAME and BY_NAME[name].counts_right


def short_name(name: str) -> str:
    """The report's narrow header of a metric name (acc for accuracy), the name where it has none."""
    return (BY_NAME[name].short if name in BY_NAME else None) or name


def for_task(task: str) -> list[str]:
    return [m.name for m in METRIC_DEFS if task in m.tasks]


def canonical(name):
    """`acc`, `val_acc`, `test_acc` ... -> the catalogue's name (accuracy, val_accuracy, ...)."""
    if not isinstance(name, str):
        return name
    for prefix in ("", "train_", "val_", "test_", "gap_"):
        for alias, full in ALIASES.items():
            if name == prefix + alias:
                return prefix + full
    return name


def span(name: str) -> float | None:
    """The width of a metric's range (1 for an accuracy), None when a side is open: a paired
    difference lies in [-span, +span]."""
    low, high = RANGES.get(name, (None, None))
    return None if low is None or high is None else high - low


def resolution(name: str, samples: int | None) -> float | None:
    """The step of a metric's values on a part of `samples` samples: 1/n for an accuracy-like metric,
    None for a continuous one (or an unknown size)."""
    step = BY_NAME[name].resolution if name in BY_NAME else None
    return step(samples) if step is not None and samples else None


def margin_below(margin: float, step: float, column: str, samples: int | None = None) -> str:
    """Why a margin below the resolution decides no equivalence, naming both numbers."""
    samples = samples or (round(1 / step) if abs(1 / step - round(1 / step)) < 1e-6 else None)
    one = f"1/{samples} = {step:.4g}" if samples else f"{step:.4g}"
    return (f"{margin:g} is below one sample of the part {column} is scored on ({one}): paired differences come in "
            f"steps of {step:.4g}, so no arm will be called equivalent; an arm can still be better or worse (a margin "
            f"of at least {step:.4g}, or a larger part, makes equivalence decidable)")
