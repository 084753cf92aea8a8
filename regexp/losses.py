"""The task's loss, its data-loss metric, the tracked metrics, targets and scoring: what training,
`evaluate` and `gradcheck` must compute the same way. Imports Keras (only training-side code uses it).
"""

import keras
import numpy as np

from regexp.data import Prepared

EVAL_BATCH = 1024  # evaluation has no gradient noise to trade for speed: big batches, same numbers


def loss(task: str, label_smoothing: float) -> keras.losses.Loss:
    """What the optimizer minimizes (Keras adds the L1/L2 penalties to it)."""
    if task == "classification":  # one-hot targets: Keras's sparse loss has no label smoothing
        return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    if task == "binary":
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    return keras.losses.MeanSquaredError()


def data_loss(task: str, label_smoothing: float) -> keras.metrics.Metric:
    """The task's loss as a metric: unlike Keras's `loss`, it leaves out the L1/L2 penalties."""
    if task == "classification":
        return keras.metrics.CategoricalCrossentropy(name="data_loss", label_smoothing=label_smoothing)
    if task == "binary":
        return keras.metrics.BinaryCrossentropy(name="data_loss", label_smoothing=label_smoothing)
    return keras.metrics.MeanSquaredError(name="data_loss")


def _binary_accuracy(y_true, y_pred):
    """Accuracy against the label that dominates a mixed (soft) target; plain accuracy on hard ones."""
    return keras.metrics.binary_accuracy(keras.ops.cast(y_true > 0.5, y_pred.dtype), y_pred)


def metric(name: str, task: str) -> keras.metrics.Metric:
    """The Keras metric of a training.metrics name."""
    m = keras.metrics
    if name == "accuracy":  # argmax of a mixed label is its primary sample's label (see mixed_batches)
        return m.CategoricalAccuracy(name=name) if task == "classification" else m.MeanMetricWrapper(_binary_accuracy, name=name)
    return {
        "auc": lambda: m.AUC(name=name), "precision": lambda: m.Precision(name=name),
        "recall": lambda: m.Recall(name=name), "top3_accuracy": lambda: m.TopKCategoricalAccuracy(k=3, name=name),
        "mae": lambda: m.MeanAbsoluteError(name=name), "mse": lambda: m.MeanSquaredError(name=name),
        "rmse": lambda: m.RootMeanSquaredError(name=name), "r2": lambda: m.R2Score(name=name),
    }[name]()


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
            values = {k: float(v) for k, v in model.evaluate(
                x, targets(y, data), batch_size=EVAL_BATCH, verbose=0, return_dict=True).items()}
            objective = values.pop("loss")
            values["loss"] = values.pop("data_loss")
            values["penalty"] = objective - values["loss"]
            results[part] = values
    return results


class LossWithoutPenalty(keras.callbacks.Callback):
    """First of the callbacks: `loss` and `val_loss` become the data loss, the penalty its own entry.

    Keras adds the L1/L2 penalties to `loss` and `val_loss`; comparing regularizers on a penalized
    validation loss would count L2's penalty against it. Early stopping, plateau, the history and
    sweep objectives all read the logs after this callback has rewritten them.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "data_loss" not in logs:
            return
        penalized = logs["loss"]
        logs["loss"] = logs.pop("data_loss")
        logs["penalty"] = float(penalized) - float(logs["loss"])
        if "val_data_loss" in logs:
            logs["val_loss"] = logs.pop("val_data_loss")
