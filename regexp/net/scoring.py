"""The task's loss, its data-loss metric, the tracked metrics, targets and scoring: what training,
`evaluate` and `gradcheck` must compute the same way. Imports Keras (only training-side code uses it).
"""

import keras
import numpy as np

from regexp.data import Prepared
from regexp.registry.metrics import EVAL_BATCH


def loss(task: str, label_smoothing: float) -> keras.losses.Loss:
    """What the optimizer minimizes (Keras adds the L1/L2 penalties to it)."""
    if task == "classification":  # one-hot targets: Keras's sparse loss has no label smoothing
        return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    if task == "binary":
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    return keras.losses.MeanSquaredError()


def loss_metrics(task: str, label_smoothing: float) -> list[keras.metrics.Metric]:
    """The data loss as a metric: the task's loss against the *true* labels, without the L1/L2 penalties.

    With label smoothing the optimizer's loss is cross-entropy against smoothed targets, whose floor
    is the smoothed distribution's entropy; measured that way a smoothing arm would look worse on
    val_loss for no reason. So `data_loss` never smooths, and a second metric, `smoothed_loss`, is
    the smoothed cross-entropy the optimizer saw: the penalty is `loss - smoothed_loss`.
    """
    if task == "regression":
        return [keras.metrics.MeanSquaredError(name="data_loss")]
    cross_entropy = (keras.metrics.CategoricalCrossentropy if task == "classification"
                     else keras.metrics.BinaryCrossentropy)
    smoothed = [cross_entropy(name="smoothed_loss", label_smoothing=label_smoothing)] if label_smoothing else []
    return [cross_entropy(name="data_loss"), *smoothed]


def split_penalty(values: dict) -> dict:
    """Keras's `loss` (data loss + L1/L2 terms, smoothed targets) -> the data loss and `penalty`."""
    objective = float(values.pop("loss"))
    values["loss"] = values.pop("data_loss")
    values["penalty"] = objective - float(values.pop("smoothed_loss", values["loss"]))
    return values


@keras.saving.register_keras_serializable(package="regexp")
class MajorityBinaryAccuracy(keras.metrics.Metric):
    """Accuracy against the label that dominates a mixed (soft) target; plain accuracy on hard ones.

    A registered class, not a wrapped function: a function in a model file's compile config reads
    as foreign code, and saved.py refused to load every binary model."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.mean = keras.metrics.Mean()

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = keras.metrics.binary_accuracy(keras.ops.cast(y_true > 0.5, y_pred.dtype), y_pred)
        self.mean.update_state(hits, sample_weight)

    def result(self):
        return self.mean.result()

    def reset_state(self):
        self.mean.reset_state()


def metric(name: str, task: str) -> keras.metrics.Metric:
    """The Keras metric of a training.metrics name."""
    m = keras.metrics
    if name == "accuracy":  # argmax of a mixed label is its primary sample's label (see mixed_batches)
        if task == "classification":
            return m.CategoricalAccuracy(name=name)
        return MajorityBinaryAccuracy(name=name)
    return {
        "auc": lambda: m.AUC(name=name), "precision": lambda: m.Precision(name=name),
        "recall": lambda: m.Recall(name=name), "top3_accuracy": lambda: m.TopKCategoricalAccuracy(k=3, name=name),
        "mae": lambda: m.MeanAbsoluteError(name=name), "mse": lambda: m.MeanSquaredError(name=name),
        "rmse": lambda: m.RootMeanSquaredError(name=name), "r2": lambda: m.R2Score(name=name),
        "ece": lambda: ExpectedCalibrationError(name=name),
    }[name]()


@keras.saving.register_keras_serializable(package="regexp")
class ExpectedCalibrationError(keras.metrics.Metric):
    """ECE (Guo et al., 2017): predictions binned by confidence into 15 equal-width bins on [0, 1];
    the sum over bins of (bin size / n) * |accuracy in the bin - mean confidence in the bin|.

    Written by hand: Keras has no calibration metric. Confidence is the top class probability
    (binary: max(p, 1 - p)); the true class is the argmax of the target, so mixed targets count as
    their dominant label, as accuracy does.
    """

    BINS = 15

    def __init__(self, name="ece", **kwargs):
        super().__init__(name=name, **kwargs)
        shape = (self.BINS,)
        self.count = self.add_variable(shape=shape, initializer="zeros", name="count")
        self.confidence = self.add_variable(shape=shape, initializer="zeros", name="confidence")
        self.correct = self.add_variable(shape=shape, initializer="zeros", name="correct")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        y_pred = ops.cast(y_pred, "float32")
        if y_pred.shape[-1] == 1:  # binary: one sigmoid output
            p, label = y_pred[:, 0], ops.cast(y_true[:, 0] > 0.5, "float32")
            confidence = ops.maximum(p, 1 - p)
            correct = ops.cast(ops.equal(ops.cast(p > 0.5, "float32"), label), "float32")
        else:
            confidence = ops.max(y_pred, axis=-1)
            correct = ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), ops.argmax(y_true, axis=-1)), "float32")
        # bin i holds confidences in (i/15, (i+1)/15]; a confidence of exactly 0 joins the first bin
        bins = ops.clip(ops.cast(ops.ceil(confidence * self.BINS), "int32") - 1, 0, self.BINS - 1)
        one_hot = ops.one_hot(bins, self.BINS)
        self.count.assign_add(ops.sum(one_hot, axis=0))
        self.confidence.assign_add(ops.sum(one_hot * confidence[:, None], axis=0))
        self.correct.assign_add(ops.sum(one_hot * correct[:, None], axis=0))

    def result(self):
        ops = keras.ops
        total = ops.maximum(ops.sum(self.count), 1.0)
        return ops.sum(ops.abs(self.correct - self.confidence)) / total  # |acc - conf| * size / n, summed

    def reset_state(self):
        for variable in (self.count, self.confidence, self.correct):
            variable.assign(keras.ops.zeros_like(variable))


def targets(y: np.ndarray, data: Prepared) -> np.ndarray:
    """Labels as the model's output: one-hot float32 for classification, a float32 column otherwise."""
    if data.task == "classification":
        return keras.utils.to_categorical(y, num_classes=len(data.classes)).astype(np.float32)
    return y.astype(np.float32).reshape(-1, 1)


def score(model: keras.Model, data: Prepared) -> dict[str, dict[str, float]]:
    """Loss (the data loss), metrics and penalty of each non-empty part, in inference mode."""
    results = {}
    for part, x, y in (("train", data.x_train, data.y_train), ("val", data.x_val, data.y_val),
                       ("test", data.x_test, data.y_test)):
        if len(y):
            results[part] = split_penalty({k: float(v) for k, v in model.evaluate(
                x, targets(y, data), batch_size=EVAL_BATCH, verbose=0, return_dict=True).items()})
    return results


class LossWithoutPenalty(keras.callbacks.Callback):
    """First of the callbacks: `loss` and `val_loss` become the data loss, the penalty its own entry.

    Keras adds the L1/L2 penalties to `loss` and `val_loss` (and measures them against smoothed
    labels); comparing regularizers on that validation loss would count L2's penalty and label
    smoothing's entropy floor against them. Early stopping, plateau, the history and sweep
    objectives all read the logs after this callback has rewritten them.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "data_loss" not in logs:
            return
        logs.update(split_penalty(logs))
        if "val_data_loss" in logs:
            logs["val_loss"] = logs.pop("val_data_loss")
            logs.pop("val_smoothed_loss", None)
