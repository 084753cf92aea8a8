"""Per-slice losses and metric sums of a pack: what the trial alone's Keras loss and metrics compute.

Sums over batches, per slice (K, ...), turned into epoch means by `means`: the data loss against
the given targets as net/scoring.py computes it, and each tracked metric by its registry entry's
PackReduce (regexp/registry/metrics.py), which packed/grouping.py checks every tracked metric has.
"""

from dataclasses import dataclass

import tensorflow as tf

from regexp.registry.metrics import BY_NAME


def smooth(task: str, y, smoothing):
    """Keras's label_smoothing per slice (binary: toward 0.5); regression targets stay as they are."""
    if task == "regression":
        return y
    classes = tf.cast(tf.shape(y)[-1], tf.float32) if task == "classification" else 2.0
    ls = smoothing[:, None, None]
    return y * (1.0 - ls) + ls / classes


def per_sample_loss(task: str, logits, y):
    """(K, B) per-sample loss, as the TF backend computes Keras's losses from the logits."""
    if task == "classification":
        return tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
    if task == "binary":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), axis=-1)
    return tf.reduce_mean(tf.square(logits - y), axis=-1)


@dataclass(frozen=True)
class PackBatch:
    """One batch of every slice, as a metric's PackReduce reads it: logits, targets y (K, B, outputs)
    and the predicted probabilities p (K, B, classes; binary: one sigmoid column)."""
    logits: tf.Tensor
    y: tf.Tensor
    p: tf.Tensor


def zero_sums(k: int, metrics: list[str], task: str, y_shape) -> dict:
    """The accumulators `sums` returns, at zero (y_shape: the part's targets, (K, N, outputs))."""
    batch = tf.zeros([k, 1, *y_shape[2:]])
    return {name: tf.zeros([k]) for name in ("n", "loss", "objective", "smoothed")} | {
        name: tf.zeros_like(value) for name, value in _metric_sums(task, metrics, batch, batch).items()}


def sums(task: str, metrics: list[str], logits, y) -> dict:
    """Per-slice sums over a batch of the data loss and each tracked metric (means come later)."""
    return {"n": tf.fill([tf.shape(y)[0]], tf.cast(tf.shape(y)[1], tf.float32)),
            "loss": tf.reduce_sum(per_sample_loss(task, logits, y), axis=1), **_metric_sums(task, metrics, logits, y)}


def _metric_sums(task: str, metrics: list[str], logits, y) -> dict:
    p = logits if task == "regression" else tf.nn.softmax(logits) if task == "classification" else tf.sigmoid(logits)
    batch = PackBatch(logits, y, p)
    return {name: tf.reduce_sum(BY_NAME[name].pack.per_sample(batch), axis=1) for name in metrics}


def means(totals: dict, k: int, metrics: list[str]) -> dict:
    """Slice k's means from numpy sums: loss and the tracked metrics, in history.csv's names."""
    n = float(totals["n"][k])
    return {"loss": float(totals["loss"][k]) / n,
            **{name: BY_NAME[name].pack.finish(totals[name][k], n) for name in metrics}}
