"""Per-slice losses and metric sums of a pack: what the trial alone's Keras loss and metrics compute.

Sums over batches, per slice (K,), turned into epoch means by `means`; the same rules as
net/scoring.py (data loss against the given targets, accuracy against the dominant label of a mixed
target, ECE with 15 equal-width bins, RMSE as the root of the mean squared error).
"""

import math

import numpy as np
import tensorflow as tf

ECE_BINS = 15  # as losses.ExpectedCalibrationError


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


def zero_sums(k: int, metrics: list[str]) -> dict:
    """The accumulators `sums` returns, at zero."""
    out = {name: tf.zeros([k]) for name in ["n", "loss", "objective", "smoothed", *metrics] if name != "ece"}
    if "ece" in metrics:
        out.update({f"ece_{part}": tf.zeros([k, ECE_BINS]) for part in ("count", "confidence", "correct")})
    return out


def sums(task: str, metrics: list[str], logits, y) -> dict:
    """Per-slice sums over a batch of the data loss and each tracked metric (means come later)."""
    out = {"n": tf.fill([tf.shape(y)[0]], tf.cast(tf.shape(y)[1], tf.float32)),
           "loss": tf.reduce_sum(per_sample_loss(task, logits, y), axis=1)}
    if task == "regression":
        error = logits - y
        for name, value in (("mae", tf.abs(error)), ("mse", tf.square(error)), ("rmse", tf.square(error))):
            if name in metrics:
                out[name] = tf.reduce_sum(value, axis=[1, 2])
        return out
    if task == "classification":
        p = tf.nn.softmax(logits)
        label = tf.argmax(y, axis=-1)
        confidence = tf.reduce_max(p, axis=-1)
        correct = tf.cast(tf.equal(tf.argmax(p, axis=-1), label), tf.float32)
    else:
        p = tf.sigmoid(logits)[..., 0]
        confidence = tf.maximum(p, 1 - p)
        correct = tf.cast(tf.equal(p > 0.5, y[..., 0] > 0.5), tf.float32)
    if "accuracy" in metrics:
        out["accuracy"] = tf.reduce_sum(correct, axis=1)
    if "top3_accuracy" in metrics:
        top3 = tf.math.top_k(p, k=min(3, p.shape[-1])).indices
        out["top3_accuracy"] = tf.reduce_sum(tf.cast(tf.reduce_any(top3 == label[..., None], axis=-1), tf.float32), 1)
    if "ece" in metrics:
        bins = tf.one_hot(tf.clip_by_value(tf.cast(tf.math.ceil(confidence * ECE_BINS), tf.int32) - 1, 0, ECE_BINS - 1),
                          ECE_BINS)
        out["ece_count"] = tf.reduce_sum(bins, axis=1)
        out["ece_confidence"] = tf.reduce_sum(bins * confidence[..., None], axis=1)
        out["ece_correct"] = tf.reduce_sum(bins * correct[..., None], axis=1)
    return out


def means(totals: dict, k: int, metrics: list[str]) -> dict:
    """Slice k's means from numpy sums: loss and the tracked metrics, in history.csv's names."""
    n = float(totals["n"][k])
    row = {"loss": float(totals["loss"][k]) / n}
    for name in metrics:
        if name == "ece":
            row[name] = float(np.abs(totals["ece_correct"][k] - totals["ece_confidence"][k]).sum()
                              / max(float(totals["ece_count"][k].sum()), 1.0))
        elif name == "rmse":
            row[name] = math.sqrt(float(totals["rmse"][k]) / n)
        else:
            row[name] = float(totals[name][k]) / n
    return row
