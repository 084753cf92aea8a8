"""Opt-in records of what happens inside training (the spec's `logging` section), as Keras callbacks:

- LayerStats -> layer_stats.csv: per epoch and weighted layer, the weight norm, the fraction of
  weights below a threshold (L1's sparsity), the gradient norm, the mean and spread of the layer's
  activations and batch norm's moving statistics.
- StepLoss -> steps.csv: the loss of every mini-batch, the noisy curve of mini-batch descent.

Both keep the rows of a resumed run up to its resume point, as history.csv does.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from regexp.store.contract import LAYER_STATS_COLUMNS, STEPS_COLUMNS
from regexp.store.files import write_atomic
from regexp.store.folders import csv_cell, read_table

PROBE = 256  # train samples of the fixed batch the statistics are measured on: enough for a stable mean


class _CsvRows:
    """A csv that a resumed run rewrites with its rows up to the resume point, then appends to."""

    def __init__(self, path: Path, columns: list[str], keep_until: int, text: tuple[str, ...] = ()):
        self.path, self.columns = path, columns
        kept = [row for row in read_table(path, [], text=text) if (row.get("epoch") or 0) <= keep_until]
        write_atomic(path, ",".join(columns) + "\n" + "".join(self._line(row) for row in kept))
        self.kept = kept

    def _line(self, row: dict) -> str:
        return ",".join(csv_cell(row.get(c)) for c in self.columns) + "\n"

    def append(self, rows: list[dict]) -> None:
        with self.path.open("a", newline="") as f:
            f.write("".join(self._line(row) for row in rows))
            f.flush()


class LayerStats(keras.callbacks.Callback):
    """Measured at each epoch's end on the first PROBE train samples, in inference mode (dropout
    off, batch norm on its moving statistics): no random draw and no update, so recording never
    changes what is trained. The gradient is that of the compiled loss plus the L1/L2 terms."""

    def __init__(self, path: Path, x: np.ndarray, y: np.ndarray, threshold: float, start_epoch: int):
        super().__init__()
        self.rows = _CsvRows(path, list(LAYER_STATS_COLUMNS), start_epoch, text=("layer",))
        self.x, self.y = tf.constant(x[:PROBE]), tf.constant(y[:PROBE])
        self.threshold = threshold
        self.last: list[dict] = []  # this epoch's rows, for TensorBoard

    def on_train_begin(self, logs=None):
        layers = self.model.layers
        # a weighted layer (l0, l1, ..., output) and what its activation is read from: its Activation
        # layer (l0_relu) when it has one, else its own output (the output layer's probabilities)
        self.weighted = [layer for layer in layers if hasattr(layer, "kernel")]
        self.bn = {layer.name: self.model.get_layer(f"{layer.name}_bn") for layer in self.weighted
                   if any(other.name == f"{layer.name}_bn" for other in layers)}
        outputs = []
        for layer in self.weighted:
            acts = [other for other in layers if other.name.startswith(f"{layer.name}_")
                    and isinstance(other, keras.layers.Activation)]
            outputs.append((acts[0] if acts else layer).output)
        self.activations = keras.Model(self.model.inputs, outputs)

    def on_epoch_end(self, epoch, logs=None):
        kernels = [layer.kernel for layer in self.weighted]
        with tf.GradientTape() as tape:
            predictions = self.model(self.x, training=False)
            objective = self.model.loss(self.y, predictions) + tf.add_n([0.0, *self.model.losses])
        gradients = tape.gradient(objective, kernels)
        activations = self.activations(self.x, training=False)
        rows = []
        for layer, kernel, gradient, act in zip(self.weighted, kernels, gradients, activations):
            w, a = kernel.numpy(), np.asarray(act)
            bn = self.bn.get(layer.name)
            rows.append({"epoch": epoch + 1, "layer": layer.name, "weight_norm": float(np.linalg.norm(w)),
                         "sparsity": float(np.mean(np.abs(w) < self.threshold)),
                         "grad_norm": float(tf.norm(gradient)) if gradient is not None else 0.0,
                         "act_mean": float(a.mean()), "act_std": float(a.std()),
                         "bn_moving_mean": float(np.mean(bn.moving_mean.numpy())) if bn is not None else None,
                         "bn_moving_var": float(np.mean(bn.moving_variance.numpy())) if bn is not None else None})
        self.rows.append(rows)
        self.last = rows


class StepLoss(keras.callbacks.Callback):
    """The loss of each mini-batch. Written by hand: Keras logs, after each batch, the running mean
    of the epoch so far (weighted by batch size), so the batch's own value is recovered from two
    consecutive means: (seen_k * mean_k - seen_k-1 * mean_k-1) / batch_k. Needs one step per call
    into TensorFlow (train.py sets steps_per_execution to 1), or Keras reports only per call."""

    def __init__(self, path: Path, batch_size: int, n_train: int, steps_per_epoch: int, start_epoch: int):
        super().__init__()
        self.rows = _CsvRows(path, list(STEPS_COLUMNS), start_epoch)
        self.batch_size, self.n_train = batch_size, n_train
        self.step = start_epoch * steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.pending, self.seen, self.means = epoch + 1, [], 0, {"loss": 0.0, "data_loss": 0.0}

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        seen = min((batch + 1) * self.batch_size, self.n_train)
        size, values = seen - self.seen, {}
        for key in ("loss", "data_loss"):
            mean = float(logs.get(key, np.nan))
            values[key] = (seen * mean - self.seen * self.means[key]) / size
            self.means[key] = mean
        self.seen = seen
        self.step += 1
        self.pending.append({"step": self.step, "epoch": self.epoch, "batch_size": size,
                             "loss": values["data_loss"], "objective": values["loss"]})

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append(self.pending)
