"""K networks of one shape as stacked weights (a leading K axis) and their forward pass.

Written by hand: Keras has no layer that holds K independent copies of itself (JAX users vmap,
PyTorch users torch.func.stack_module_state). Each piece mirrors the Keras layer a trial alone
would use (model.py), per slice, with the slice's own hyperparameters as (K,) vectors:
Normalization/Rescaling of the inputs (per channel on images), GaussianNoise, Dropout, Dense
(NoisyDense) as a batched matmul, Conv2D (NoisyConv2D) as one grouped convolution with slice k's
channels as group k, Max/AveragePooling2D, Flatten and GlobalAveragePooling2D with K folded into
the batch, BatchNormalization (momentum 0.99, epsilon 1e-3), LayerNormalization (epsilon 1e-3),
the activation, GaussianDropout, and the output Dense with softmax/sigmoid/linear. A table with
categories or filled cells goes through table.py's per-slice fills, one-hot codes and embeddings
first. Weights are initialized per slice by the very initializer call the trial alone makes
(model.initializer, model.embedding_initializer), so slice k starts bit for bit where its trial would.
"""

from dataclasses import dataclass, fields

import keras
import numpy as np
import tensorflow as tf

from regexp import compat
from regexp.data import Prepared
from regexp.net.model import LAYERS, initializer
from regexp.net.recurrent import pool_layer
from regexp.packed.table import Table
from regexp.spec import LoadedSpec
from regexp.spec.schema import SPATIAL, WEIGHTED

BN_MOMENTUM, BN_EPSILON, LN_EPSILON = 0.99, 1e-3, 1e-3  # Keras's defaults, which model.py uses
EPSILON = keras.config.epsilon()  # Normalization's floor on the std, MaxNorm's guard


def per_slice(values, dtype=tf.float32) -> tf.Tensor:
    return tf.constant(np.asarray(values, dtype=np.float32 if dtype == tf.float32 else None), dtype=dtype)


def lead(vector: tf.Tensor, rank: int) -> tf.Tensor:
    """(K,) -> (K, 1, ..., 1) of the given rank, to broadcast against a stacked tensor."""
    return tf.reshape(vector, [-1] + [1] * (rank - 1))


@dataclass
class Unweighted:
    """A hidden layer without weights (pooling, flatten): the Keras layer applied with K folded into the batch."""
    name: str
    layer: keras.layers.Layer


@dataclass
class Layer:
    """One hidden dense or conv2d layer of the stack: variables (K, ...) and the per-slice hyperparameters."""
    name: str
    conv: dict | None  # conv2d: strides and padding of tf.nn.conv2d; None: dense
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
        self.image = tuple(first.shape) if first.shape is not None else None  # (H, W, C) of image data
        self.table = Table(specs, data) if first.columns else None
        self._takes_table = None  # the weighted layer that takes the table's (padded) columns: its name
        self._scaling(data)
        self.input_noise = per_slice([s.spec.model.input_noise for s in specs])
        self.input_dropout = per_slice([s.spec.model.input_dropout for s in specs])
        resolved = [s.spec.model.resolved_layers() for s in specs]
        spatial = any(layer.type in SPATIAL for layer in resolved[0])
        shape = self.image if spatial else (self.table.width if self.table else first.features,)  # one sample's
        self.layers: list[Layer | Unweighted] = []
        for i, layer in enumerate(resolved[0]):
            if not isinstance(layer, WEIGHTED):
                # packs take images and tables only (grouping.py): a pool is 2-D here
                pooling = layer.type in ("max_pool", "avg_pool", "global_avg_pool")
                keras_layer = (pool_layer(layer, f"l{i}", sequence=False) if pooling
                               else LAYERS[layer.type](layer, f"l{i}"))
                self.layers.append(Unweighted(f"l{i}", keras_layer))
                shape = keras_layer.compute_output_shape((None, *shape))[1:]
                continue
            mine = [r[i] for r in resolved]
            if layer.type == "dense":
                kernel_shape, conv, units = (shape[-1], layer.units), None, layer.units
                shape = (*shape[:-1], units)
            else:
                kernel_shape, units = (*_pair(layer.kernel_size), shape[-1], layer.filters), layer.filters
                conv = {"strides": _pair(layer.strides), "padding": layer.padding.upper(),
                        "grouped": compat.grouped_conv_trains()}
                shape = keras.layers.Conv2D(units, layer.kernel_size, strides=layer.strides, padding=layer.padding
                                            ).compute_output_shape((None, *shape))[1:]
            kernel = self._kernels(specs, mine, i, kernel_shape, f"l{i}")
            hyper = {key: per_slice([getattr(m, key) for m in mine]) for key in
                     ("l1", "l2", "bias_l1", "bias_l2", "dropout", "weight_noise", "activation_noise")}
            ones, zeros = np.ones((self.k, units), np.float32), np.zeros((self.k, units), np.float32)
            self.layers.append(Layer(
                name=f"l{i}", conv=conv, activation=layer.activation, batch_norm=layer.batch_norm,
                layer_norm=layer.norm == "layer", dropout_type=layer.dropout_type,
                kernel=tf.Variable(kernel, name=f"l{i}_kernel"), bias=tf.Variable(zeros, name=f"l{i}_bias"),
                max_norm=per_slice([m.max_norm or np.inf for m in mine]), **hyper,
                bn=None if layer.batch_norm == "none" else {
                    "gamma": tf.Variable(ones), "beta": tf.Variable(zeros),
                    "moving_mean": tf.Variable(zeros, trainable=False),
                                                            "moving_variance": tf.Variable(ones, trainable=False)},
                ln=None if layer.norm != "layer" else {"gamma": tf.Variable(ones), "beta": tf.Variable(zeros)},
            ))
        self.flatten_input = self.image is not None and not spatial  # an MLP on images: Flatten after scaling
        self.outputs = len(first.classes) if first.task == "classification" else 1
        outs = [s.spec.model.output for s in specs]
        self.output_kernel = tf.Variable(self._kernels(specs, outs, len(resolved[0]), (shape[-1], self.outputs),
                                                       "output"))
        self.output_bias = tf.Variable(np.zeros((self.k, self.outputs), np.float32))
        self.output_l1 = per_slice([o.l1 for o in outs])
        self.output_l2 = per_slice([o.l2 for o in outs])
        self.output_bias_l1 = per_slice([o.bias_l1 for o in outs])
        self.output_bias_l2 = per_slice([o.bias_l2 for o in outs])

    def keep(self, index: np.ndarray) -> None:
        """Only the slices `index` stay (search.halving compacts a pack): every per-slice variable and
        setting, all of which have K leading, is gathered to them."""
        for layer in self.weighted:
            for f in fields(layer):
                if _per_slice(value := getattr(layer, f.name)):
                    setattr(layer, f.name, gather(value, index))
            for weights in (layer.bn, layer.ln):
                for name, value in (weights or {}).items():
                    weights[name] = gather(value, index)
        for name, value in list(vars(self).items()):
            if _per_slice(value):
                setattr(self, name, gather(value, index))
        if self.table is not None:
            self.table.keep(index)
        self.k = len(index)

    def _scaling(self, data: list[Prepared]) -> None:
        """Each slice's own train statistics, as Normalization/Rescaling apply them (model._scaling)."""
        f = self.image[-1] if self.image else len(self.table.numeric) if self.table else data[0].features
        lead_ones = (1, 1, 1) if self.image else (1,)
        scale, offset = np.ones((self.k, *lead_ones, f), np.float32), np.zeros((self.k, *lead_ones, f), np.float32)
        self.standard = "mean" in data[0].scale
        for k, d in enumerate(data):
            if "mean" in d.scale:  # (x - mean) / max(sqrt(var), eps)
                offset[k] = d.scale["mean"]
                scale[k] = np.maximum(np.sqrt(np.asarray(d.scale["variance"], np.float32)), EPSILON)
            elif "min" in d.scale:  # x * (1 / span) + (-min / span)
                lo, hi = np.array(d.scale["min"]), np.array(d.scale["max"])
                span = np.where(hi > lo, hi - lo, 1.0)
                scale[k], offset[k] = 1.0 / span, -lo / span
        self.scale, self.offset = tf.constant(scale), tf.constant(offset)

    def _kernels(self, specs, layers, index: int, shape: tuple[int, ...], name: str) -> np.ndarray:
        """Each slice's kernel as its trial draws it. On a table, the first layer's is drawn at each slice's
        own input width and placed at the slice's rows of the padded inputs (table.py)."""
        def draw(loaded, layer, rows=shape[0]):
            return keras.ops.convert_to_numpy(initializer(layer.initializer, loaded.spec.seed, index)(
                (rows, *shape[1:]), dtype="float32"))
        if self.table is None or self._takes_table is not None:
            return np.stack([draw(s, layer) for s, layer in zip(specs, layers)])
        self._takes_table = name
        return self.table.place([draw(s, layer, len(rows)) for s, layer, rows in zip(specs, layers, self.table.rows)])

    def part(self, key: tuple[str, str], value: np.ndarray, k: int) -> np.ndarray:
        """Slice k's own weight (or optimizer slot) of the stacked `value` of variables[key], as its Keras
        model holds it: a table's padded inputs and embeddings cut to the slice's own widths."""
        if self.table is not None and key == (self._takes_table, "kernel"):
            return self.table.part("kernel", None, value, k)
        if self.table is not None and key[1] == "embeddings":
            return self.table.part("embeddings", int(key[0].split("_")[1]), value, k)
        return value[k]

    @property
    def variables(self) -> dict[tuple[str, str], tf.Variable]:
        """(Keras layer name, weight name) -> the stacked variable, as the trial's Keras model names them."""
        out = {(f"embed_{j}", "embeddings"): v for j, v in (self.table.embeddings if self.table else {}).items()}
        for layer in self.weighted:
            out[(layer.name, "kernel")], out[(layer.name, "bias")] = layer.kernel, layer.bias
            for norm, weights in ((f"{layer.name}_bn", layer.bn), (f"{layer.name}_layer_norm", layer.ln)):
                for weight, variable in (weights or {}).items():
                    out[(norm, weight)] = variable
        out[("output", "kernel")], out[("output", "bias")] = self.output_kernel, self.output_bias
        return out

    @property
    def weighted(self) -> list[Layer]:
        return [layer for layer in self.layers if isinstance(layer, Layer)]

    @property
    def trainable(self) -> list[tf.Variable]:
        return [v for v in self.variables.values() if v.trainable]

    def penalty(self) -> tf.Tensor:
        """(K,) L1/L2 terms, as Keras's regularizers add them to each trial's loss."""
        total = tf.zeros([self.k])
        for layer in self.weighted:
            total += _l1l2(layer.kernel, layer.l1, layer.l2) + _l1l2(layer.bias, layer.bias_l1, layer.bias_l2)
        return (total + _l1l2(self.output_kernel, self.output_l1, self.output_l2)
                + _l1l2(self.output_bias, self.output_bias_l1, self.output_bias_l2))

    def __call__(self, x: tf.Tensor, training: bool, noise: tf.random.Generator | None = None,
                 active: tf.Tensor | None = None, taps: list | None = None) -> tf.Tensor:
        """(K, B, features) raw inputs -> (K, B, outputs) logits (softmax/sigmoid not applied).
        In training, BN's moving statistics of the `active` slices are updated, as Keras does per step."""
        k, b = self.k, tf.shape(x)[1]
        if self.image:
            x = tf.reshape(x, [k, b, *self.image])
        x = self.table(x, self._scale, taps) if self.table is not None else self._scale(x)
        if training:
            x = _noise(x, self.input_noise, noise)
            if self.table is not None and self.table.padded and not _off(noise, self.input_noise):
                x = x * self.table.mask  # noise off a slice's padded columns: they stay 0, as their kernel rows
            x = _dropout(x, self.input_dropout, noise)
        if self.flatten_input:
            x = tf.reshape(x, [k, b, -1])
        for layer in self.layers:
            if isinstance(layer, Unweighted):
                y = layer.layer(tf.reshape(x, [-1, *x.shape[2:]]))  # K folded into the batch
                x = tf.reshape(y, [k, b, *y.shape[1:]])
                continue
            kernel = layer.kernel
            if training:
                kernel = _noise(kernel, layer.weight_noise, noise)
            h = _conv(x, kernel, **layer.conv) if layer.conv else tf.matmul(x, kernel)
            h = h + _units(layer.bias, len(h.shape))
            if layer.batch_norm == "before":
                h = _batch_norm(h, layer.bn, training, active)
            if layer.layer_norm:  # Keras's LayerNormalization: over the last axis (units, or a pixel's channels)
                mean, variance = tf.nn.moments(h, axes=[-1], keepdims=True)
                h = tf.nn.batch_normalization(h, mean, variance, _units(layer.ln["beta"], len(h.shape)),
                                              _units(layer.ln["gamma"], len(h.shape)), LN_EPSILON)
            h = keras.activations.get(layer.activation)(h)
            if layer.batch_norm == "after":
                h = _batch_norm(h, layer.bn, training, active)
            if training:
                h = _noise(h, layer.activation_noise, noise)
                h = (_dropout(h, layer.dropout, noise) if layer.dropout_type == "standard"
                     else _gaussian_dropout(h, layer.dropout, noise))
            x = h
        return tf.matmul(x, self.output_kernel) + self.output_bias[:, None, :]

    def _scale(self, x: tf.Tensor) -> tf.Tensor:
        """Normalization ((x - mean) / std) or Rescaling (x * scale + offset) with each slice's statistics."""
        return (x - self.offset) / self.scale if self.standard else x * self.scale + self.offset

    def apply_max_norm(self, active: tf.Tensor) -> None:
        """Keras's MaxNorm on each active slice's kernel, where that slice has one: over the inputs of
        each unit (dense: axis 0 of (in, out)) or of each filter (conv2d: axes 0-2 of (h, w, in, out))."""
        for layer in self.weighted:
            if not np.isfinite(layer.max_norm.numpy()).any():
                continue
            w, rank = layer.kernel, len(layer.kernel.shape)
            norms = tf.sqrt(tf.reduce_sum(tf.square(w), axis=list(range(1, rank - 1)), keepdims=True))
            r = lead(layer.max_norm, rank)
            clipped = w * (tf.clip_by_value(norms, 0.0, r) / (EPSILON + norms))
            w.assign(tf.where(tf.math.is_finite(r) & lead(active, rank), clipped, w))


def gather(value: tf.Tensor | tf.Variable, index: np.ndarray) -> tf.Tensor | tf.Variable:
    """The slices `index` of a (K, ...) tensor; a variable stays a variable (trainable or not)."""
    if isinstance(value, tf.Variable):
        return tf.Variable(tf.gather(value, index), trainable=value.trainable, name=value.name.split(":")[0])
    return tf.gather(value, index)


def _per_slice(value) -> bool:
    return isinstance(value, (tf.Tensor, tf.Variable)) and len(value.shape) > 0


def _pair(value) -> tuple[int, int]:
    """A spec's int-or-pair (kernel_size, strides) as Keras reads it."""
    return (value, value) if isinstance(value, int) else tuple(value)


def _units(vector: tf.Tensor, rank: int) -> tf.Tensor:
    """(K, units) -> (K, 1, ..., 1, units) of the given rank, to broadcast over the batch (and pixels)."""
    return tf.reshape(vector, [vector.shape[0]] + [1] * (rank - 2) + [vector.shape[-1]])


def _conv(x, kernel, strides, padding, grouped: bool):
    """Keras's Conv2D for every slice at once: (K, B, H, W, C) * (K, kh, kw, C, F) -> (K, B, H', W', F).
    One grouped convolution: slice k's C channels are group k of K*C input channels, and its F filters
    the k-th block of K*F (tf.nn.conv2d takes the groups from the filter's input depth). On this CPU
    it ran 2x faster than the same work as patches and a batched matmul (bench/README.md)."""
    k, (kh, kw, c, f), b = kernel.shape[0], kernel.shape[1:], tf.shape(x)[1]
    if not grouped:  # this TensorFlow cannot train a grouped convolution (compat.grouped_conv_trains)
        return _conv_as_matmul(x, kernel, strides, padding)
    grouped = tf.reshape(tf.transpose(x, [1, 2, 3, 0, 4]), [b, x.shape[2], x.shape[3], k * c])
    filters = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [kh, kw, c, k * f])
    y = tf.nn.conv2d(grouped, filters, strides, padding)
    return tf.transpose(tf.reshape(y, [b, y.shape[1], y.shape[2], k, f]), [3, 0, 1, 2, 4])


def _conv_as_matmul(x, kernel, strides, padding):
    """_conv as image patches times each slice's kernel (one batched matmul): the same numbers up to
    float rounding, for where TensorFlow cannot take the gradient of a grouped convolution."""
    k, (kh, kw, c, f), b = kernel.shape[0], kernel.shape[1:], tf.shape(x)[1]
    sh, sw = _pair(strides)
    patches = tf.image.extract_patches(tf.reshape(x, [-1, x.shape[2], x.shape[3], c]), sizes=[1, kh, kw, 1],
                                       strides=[1, sh, sw, 1], rates=[1, 1, 1, 1], padding=padding)
    h, w = patches.shape[1], patches.shape[2]  # each patch is (kh, kw, c) row-major, as the kernel's first axes
    y = tf.matmul(tf.reshape(patches, [k, -1, kh * kw * c]), tf.reshape(kernel, [k, kh * kw * c, f]))
    return tf.reshape(y, [k, b, h, w, f])


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
    """Keras's BatchNormalization of each slice over its batch (and pixels): every axis but K and the last."""
    rank = len(h.shape)
    if training:
        mean, variance = tf.nn.moments(h, axes=list(range(1, rank - 1)))
        keep = active[:, None]
        for name, value in (("moving_mean", mean), ("moving_variance", variance)):
            moving = bn[name]
            moving.assign(tf.where(keep, moving * BN_MOMENTUM + value * (1.0 - BN_MOMENTUM), moving))
    else:
        mean, variance = bn["moving_mean"], bn["moving_variance"]
    return tf.nn.batch_normalization(h, _units(mean, rank), _units(variance, rank), _units(bn["beta"], rank),
                                     _units(bn["gamma"], rank), BN_EPSILON)
