"""Monte-Carlo dropout (Gal & Ghahramani, 2016): test predictions averaged over passes with dropout on."""

import keras
import numpy as np

from regexp.data import Prepared
from regexp.net.layers import mc_dropout_model


def mc_dropout_metrics(model: keras.Model, data: Prepared, passes: int) -> dict[str, float] | None:
    """Test metrics of the prediction averaged over `passes` passes with dropout on (and only dropout)."""
    mc = mc_dropout_model(model)
    if mc is None:
        return None
    samples = np.stack([keras.ops.convert_to_numpy(mc(data.x_test, training=False)) for _ in range(passes)])
    return mc_summary(samples, data.y_test, data.task)


def mc_summary(samples: np.ndarray, y: np.ndarray, task: str) -> dict[str, float]:
    """Metrics of the mean of `samples` (passes, n, outputs): the MC-dropout predictive distribution."""
    mean, eps = samples.mean(axis=0), 1e-7
    if task == "classification":
        entropy = -np.sum(mean * np.log(mean + eps), axis=1)
        right = mean.argmax(axis=1) == y
        return {"mc_accuracy": float(np.mean(right)),
                "mc_loss": float(np.mean(-np.log(mean[np.arange(len(y)), y] + eps))), **_entropies(entropy, right)}
    if task == "binary":
        p = np.clip(mean[:, 0], eps, 1 - eps)
        entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
        right = (p > 0.5) == y
        return {"mc_accuracy": float(np.mean(right)),
                "mc_loss": float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))), **_entropies(entropy, right)}
    return {"mc_loss": float(np.mean((mean[:, 0] - y) ** 2)),
            "mc_std": float(samples[..., 0].std(axis=0).mean())}  # regression: spread instead of entropy


def _entropies(entropy: np.ndarray, right: np.ndarray) -> dict[str, float]:
    """Mean predictive entropy overall, on the right and on the wrong predictions: uncertainty that
    tracks error is higher on the wrong ones (a part with no wrong prediction has no mc_entropy_wrong)."""
    out = {"mc_entropy": float(entropy.mean())}
    for key, chosen in (("mc_entropy_right", right), ("mc_entropy_wrong", ~right)):
        if chosen.any():
            out[key] = float(entropy[chosen].mean())
    return out
