"""The task's loss, its data-loss metric, the tracked metrics, targets and scoring: what training,
`evaluate` and `gradcheck` must compute the same way. Imports Keras (only training-side code uses it).
"""

import keras
import numpy as np

from regexp.data import Prepared
from regexp.registry.keras_parts import ExpectedCalibrationError, MajorityBinaryAccuracy  # noqa: F401 (saved.py)
from regexp.registry.metrics import BY_NAME, EVAL_BATCH


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


def metric(name: str, task: str) -> keras.metrics.Metric:
    """The Keras metric of a training.metrics name (the metric registry's)."""
    return BY_NAME[name].keras(task)


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
