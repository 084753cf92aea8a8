"""K dense networks of one shape as stacked weights (a leading K axis) and their forward pass.

Written by hand: Keras has no layer that holds K independent copies of itself (JAX users vmap,
PyTorch users torch.func.stack_module_state). Each piece mirrors the Keras layer a trial alone
would use (model.py), per slice, with the slice's own hyperparameters as (K,) vectors:
Normalization/Rescaling of the inputs, GaussianNoise, Dropout, Dense (NoisyDense), BatchNormalization
(momentum 0.99, epsilon 1e-3), LayerNormalization (epsilon 1e-3), the activation, GaussianDropout,
and the output Dense with softmax/sigmoid/linear. Weights are initialized per slice by the very
initializer call the trial alone makes (model.initializer), so slice k starts bit for bit where
its trial would.
"""

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from regexp.data import Prepared
from regexp.model import initializer
from regexp.spec import LoadedSpec

BN_MOMENTUM, BN_EPSILON, LN_EPSILON = 0.99, 1e-3, 1e-3  # Keras's defaults, which model.py uses
EPSILON = keras.config.epsilon()  # Normalization's floor on the std, MaxNorm's guard


def per_slice(values, dtype=tf.float32) -> tf.Tensor:
    return tf.constant(np.asarray(values, dtype=np.float32 if dtype == tf.float32 else None), dtype=dtype)


def lead(vector: tf.Tensor, rank: int) -> tf.Tensor:
    """(K,) -> (K, 1, ..., 1) of the given rank, to broadcast against a stacked tensor."""
    return tf.reshape(vector, [-1] + [1] * (rank - 1))


@dataclass
class Layer:
    """One hidden dense layer of the stack: variables (K, ...) and the per-slice hyperparameters."""
    name: str
    activation: str
    batch_norm: str
    layer_norm: bool
    dropout_type: str
    kernel: tf.Variable
    bias: tf.Variable
    l1: tf.Tensor
    l2: tf.Tensor
    bias_l1: tf.Tensor
    bias_l2: tf.Tensor
    max_norm: tf.Tensor  # inf: no constraint
    dropout: tf.Tensor
    weight_noise: tf.Tensor
    activation_noise: tf.Tensor
    bn: dict | None = None  # gamma, beta, moving_mean, moving_variance
    ln: dict | None = None  # gamma, beta


class Stack:
    """The K networks: trainable variables, BN statistics, forward pass and penalties."""

    def __init__(self, specs: list[LoadedSpec], data: list[Prepared]):
        first = data[0]
        self.task, self.k = first.task, len(specs)
        self._scaling(data)
        self.input_noise = per_slice([s.spec.model.input_noise for s in specs])
        self.input_dropout = per_slice([s.spec.model.input_dropout for s in specs])
        widths = [first.features]
        self.layers: list[Layer] = []
        resolved = [s.spec.model.resolved_layers() for s in specs]
        for i, layer in enumerate(resolved[0]):
            mine = [r[i] for r in resolved]
            kernel = self._kernels(specs, mine, i, (widths[-1], layer.units))
            hyper = {key: per_slice([getattr(m, key) for m in mine]) for key in
                     ("l1", "l2", "bias_l1", "bias_l2", "dropout", "weight_noise", "activation_noise")}
            ones, zeros = np.ones((self.k, layer.units), np.float32), np.zeros((self.k, layer.units), np.float32)
            self.layers.append(Layer(
                name=f"l{i}", activation=layer.activation, batch_norm=layer.batch_norm,
                layer_norm=layer.norm == "layer", dropout_type=layer.dropout_type,
                kernel=tf.Variable(kernel, name=f"l{i}_kernel"), bias=tf.Variable(zeros, name=f"l{i}_bias"),
                max_norm=per_slice([m.max_norm or np.inf for m in mine]), **hyper,
                bn=None if layer.batch_norm == "none" else {
                    "gamma": tf.Variable(ones), "beta": tf.Variable(zeros),
                    "moving_mean": tf.Variable(zeros, trainable=False), "moving_variance": tf.Variable(ones, trainable=False)},
                ln=None if layer.norm != "layer" else {"gamma": tf.Variable(ones), "beta": tf.Variable(zeros)},
            ))
            widths.append(layer.units)
        self.outputs = len(first.classes) if first.task == "classification" else 1
        outs = [s.spec.model.output for s in specs]
        self.output_kernel = tf.Variable(self._kernels(specs, outs, len(resolved[0]), (widths[-1], self.outputs)))
        self.output_bias = tf.Variable(np.zeros((self.k, self.outputs), np.float32))
        self.output_l1 = per_slice([o.l1 for o in outs])
        self.output_l2 = per_slice([o.l2 for o in outs])
        self.output_bias_l1 = per_slice([o.bias_l1 for o in outs])
        self.output_bias_l2 = per_slice([o.bias_l2 for o in outs])

    def _scaling(self, data: list[Prepared]) -> None:
        """Each slice's own train statistics, as Normalization/Rescaling apply them (model._scaling)."""
        f = data[0].features
        scale, offset = np.ones((self.k, 1, f), np.float32), np.zeros((self.k, 1, f), np.float32)
        self.standard = "mean" in data[0].scale
        for k, d in enumerate(data):
            if "mean" in d.scale:  # (x - mean) / max(sqrt(var), eps)
                offset[k, 0] = d.scale["mean"]
                scale[k, 0] = np.maximum(np.sqrt(np.asarray(d.scale["variance"], np.float32)), EPSILON)
            elif "min" in d.scale:  # x * (1 / span) + (-min / span)
                lo, hi = np.array(d.scale["min"]), np.array(d.scale["max"])
                span = np.where(hi > lo, hi - lo, 1.0)
                scale[k, 0], offset[k, 0] = 1.0 / span, -lo / span
        self.scale, self.offset = tf.constant(scale), tf.constant(offset)

    def _kernels(self, specs, layers, index: int, shape: tuple[int, int]) -> np.ndarray:
        return np.stack([keras.ops.convert_to_numpy(initializer(layer.initializer, s.spec.seed, index)(shape, dtype="float32"))
                         for s, layer in zip(specs, layers)])

    @property
    def variables(self) -> dict[tuple[str, str], tf.Variable]:
        """(Keras layer name, weight name) -> the stacked variable, as the trial's Keras model names them."""
        out = {}
        for layer in self.layers:
            out[(layer.name, "kernel")], out[(layer.name, "bias")] = layer.kernel, layer.bias
            for norm, weights in ((f"{layer.name}_bn", layer.bn), (f"{layer.name}_layer_norm", layer.ln)):
                for weight, variable in (weights or {}).items():
                    out[(norm, weight)] = variable
        out[("output", "kernel")], out[("output", "bias")] = self.output_kernel, self.output_bias
        return out

    @property
    def trainable(self) -> list[tf.Variable]:
        return [v for v in self.variables.values() if v.trainable]

    def penalty(self) -> tf.Tensor:
        """(K,) L1/L2 terms, as Keras's regularizers add them to each trial's loss."""
        total = tf.zeros([self.k])
        for layer in self.layers:
            total += _l1l2(layer.kernel, layer.l1, layer.l2) + _l1l2(layer.bias, layer.bias_l1, layer.bias_l2)
        return (total + _l1l2(self.output_kernel, self.output_l1, self.output_l2)
                + _l1l2(self.output_bias, self.output_bias_l1, self.output_bias_l2))

    def __call__(self, x: tf.Tensor, training: bool, noise: tf.random.Generator | None = None,
                 active: tf.Tensor | None = None) -> tf.Tensor:
        """(K, B, features) raw inputs -> (K, B, outputs) logits (softmax/sigmoid not applied).
        In training, BN's moving statistics of the `active` slices are updated, as Keras does per step."""
        x = (x - self.offset) / self.scale if self.standard else x * self.scale + self.offset
        if training:
            x = _noise(x, self.input_noise, noise)
            x = _dropout(x, self.input_dropout, noise)
        for layer in self.layers:
            kernel = layer.kernel
            if training:
                kernel = _noise(kernel, layer.weight_noise, noise)
            h = tf.matmul(x, kernel) + layer.bias[:, None, :]
            if layer.batch_norm == "before":
                h = _batch_norm(h, layer.bn, training, active)
            if layer.layer_norm:
                mean, variance = tf.nn.moments(h, axes=[-1], keepdims=True)
                h = tf.nn.batch_normalization(h, mean, variance, layer.ln["beta"][:, None, :],
                                              layer.ln["gamma"][:, None, :], LN_EPSILON)
            h = keras.activations.get(layer.activation)(h)
            if layer.batch_norm == "after":
                h = _batch_norm(h, layer.bn, training, active)
            if training:
                h = _noise(h, layer.activation_noise, noise)
                h = (_dropout(h, layer.dropout, noise) if layer.dropout_type == "standard"
                     else _gaussian_dropout(h, layer.dropout, noise))
            x = h
        return tf.matmul(x, self.output_kernel) + self.output_bias[:, None, :]

    def apply_max_norm(self, active: tf.Tensor) -> None:
        """Keras's MaxNorm(r, axis=0) on each active slice's (in, out) kernel, where that slice has one."""
        for layer in self.layers:
            if not np.isfinite(layer.max_norm.numpy()).any():
                continue
            w = layer.kernel
            norms = tf.sqrt(tf.reduce_sum(tf.square(w), axis=1, keepdims=True))
            r = lead(layer.max_norm, 3)
            clipped = w * (tf.clip_by_value(norms, 0.0, r) / (EPSILON + norms))
            w.assign(tf.where(tf.math.is_finite(r) & lead(active, 3), clipped, w))


def _l1l2(w: tf.Variable, l1: tf.Tensor, l2: tf.Tensor) -> tf.Tensor:
    """(K,) L1 and L2 terms; a term that is 0 in every slice is left out of the graph (its forward
    pass and its gradient would each read every weight of the pack, every step)."""
    axes = list(range(1, len(w.shape)))
    total = tf.zeros([w.shape[0]])
    if np.any(l1.numpy()):
        total += l1 * tf.reduce_sum(tf.abs(w), axes)
    if np.any(l2.numpy()):
        total += l2 * tf.reduce_sum(tf.square(w), axes)
    return total


def _off(noise, rate: tf.Tensor) -> bool:
    """No draw is needed: not training, or the rate is 0 in every slice. Decided when the graph is
    traced (the rates are constants): random draws for a whole pack cost more than its matmuls."""
    return noise is None or not np.any(rate.numpy())


def _noise(x, stddev, noise):
    """GaussianNoise: x + N(0, stddev^2), per slice (stddev 0: unchanged)."""
    if _off(noise, stddev):
        return x
    return x + noise.normal(tf.shape(x)) * lead(stddev, len(x.shape))


def _dropout(x, rate, noise):
    """Keras's Dropout: keep with probability 1 - rate, scale the kept by 1 / (1 - rate)."""
    if _off(noise, rate):
        return x
    r = lead(rate, len(x.shape))
    keep = noise.uniform(tf.shape(x)) >= r
    return tf.where(keep, x / (1.0 - r), tf.zeros_like(x))


def _gaussian_dropout(x, rate, noise):
    """Keras's GaussianDropout: x * N(1, rate / (1 - rate))."""
    if _off(noise, rate):
        return x
    r = lead(rate, len(x.shape))
    return x * (1.0 + noise.normal(tf.shape(x)) * tf.sqrt(r / (1.0 - r)))


def _batch_norm(h, bn, training, active):
    """Keras's BatchNormalization over the batch axis of each slice (axis 1 of (K, B, units))."""
    if training:
        mean, variance = tf.nn.moments(h, axes=[1])
        keep = active[:, None]
        for name, value in (("moving_mean", mean), ("moving_variance", variance)):
            moving = bn[name]
            moving.assign(tf.where(keep, moving * BN_MOMENTUM + value * (1.0 - BN_MOMENTUM), moving))
        mean, variance = mean[:, None, :], variance[:, None, :]
    else:
        mean, variance = bn["moving_mean"][:, None, :], bn["moving_variance"][:, None, :]
    return tf.nn.batch_normalization(h, mean, variance, bn["beta"][:, None, :], bn["gamma"][:, None, :], BN_EPSILON)
