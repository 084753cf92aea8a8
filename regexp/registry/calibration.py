"""Expected calibration error and accuracy as per-sample counts, the one definition that Keras's
metric (registry/keras_parts.py) and packs (registry/metrics.py's pack reductions) both sum: which
bin a prediction's confidence falls in and whether it is right (Guo et al., 2017). keras.ops is
imported when called, so the registries stay light."""

from typing import Any

ECE_BINS = 15  # expected calibration error's equal-width confidence bins, for Keras's metric and packs alike


def hits(y_true, y_pred):
    """(confidence, right) per sample: the top class's probability (binary: max(p, 1 - p)) and whether
    the predicted class is the target's dominant one (so mixed targets count as their own label)."""
    from keras import ops

    if y_pred.shape[-1] == 1:  # binary: one sigmoid output
        p = y_pred[..., 0]
        return ops.maximum(p, 1 - p), ops.cast(ops.equal(p > 0.5, y_true[..., 0] > 0.5), y_pred.dtype)
    right = ops.equal(ops.argmax(y_pred, axis=-1), ops.argmax(y_true, axis=-1))
    return ops.max(y_pred, axis=-1), ops.cast(right, y_pred.dtype)


def calibration(y_true, y_pred):
    """(..., 3, ECE_BINS) per sample: its confidence bin one-hot, times its confidence, times whether it
    is right; summed over samples they are ECE's counts (Guo et al., 2017). Bin i holds confidences in
    (i/15, (i+1)/15]; a confidence of exactly 0 joins the first bin."""
    from keras import ops

    confidence, right = hits(y_true, y_pred)
    bins = ops.one_hot(ops.clip(ops.cast(ops.ceil(confidence * ECE_BINS), "int32") - 1, 0, ECE_BINS - 1), ECE_BINS)
    return ops.stack([bins, bins * confidence[..., None], bins * right[..., None]], axis=-2)


def calibration_error(sums) -> Any:
    """ECE from calibration's sums (3, ECE_BINS): sum over bins of |right - confidence| / n."""
    from keras import ops

    return ops.sum(ops.abs(sums[2] - sums[1])) / ops.maximum(ops.sum(sums[0]), 1.0)
