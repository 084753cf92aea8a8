"""Spec.model -> keras.Model, built only from Keras's own layers, regularizers and constraints.

The model takes raw features. Image data is reshaped first and augmented on raw pixels (training
only); then scaling (train statistics: per feature, or per channel for images), input noise and
input dropout (both active in training only), the hidden layers, and the output layer that the
task decides. Each hidden weighted layer is

    Dense/Conv2D (linear) -> [BatchNorm if before | Layer/Group/Instance norm] -> Activation
        -> [BatchNorm if after] -> [GaussianNoise: activation_noise] -> Dropout

with every piece a separate, named Keras layer so that tests and users can inspect it.
"""

from collections.abc import Callable

import keras
import numpy as np

from regexp.data import Prepared
from regexp.net.draws import embedding_seed, layer_seed
from regexp.net.layers import NoisyConv1D, NoisyConv2D, NoisyDense, TableColumns
from regexp.net.recurrent import embedding, pool, recurrent
from regexp.spec.layers import RECURRENT
from regexp.spec.schema import Model
from regexp.spec.sequences import SPATIAL_OR_SEQUENTIAL
from regexp.spec.training import Training

_DROPOUT = {
    "standard": keras.layers.Dropout,
    "alpha": keras.layers.AlphaDropout,
    "gaussian": keras.layers.GaussianDropout,
    "spatial": keras.layers.SpatialDropout2D,
}


def build_model(spec: Model, data: Prepared, name: str = "regexp", training: Training | None = None,
                seed: int = 0) -> keras.Model:
    """The Keras model of a spec; kernel initializers draw from `seed` (regexp/net/draws.py), layer by layer."""
    inputs = keras.Input(shape=(data.features,), name="features")
    x = inputs
    if data.shape is not None:
        x = keras.layers.Reshape(data.shape, name="to_image")(x)
        # augmentation sees raw pixels (its value ranges and fill value 0 mean something there)
        for layer in _image_augmentation(training, data) if training is not None else []:
            x = layer(x)
    x = _tabular(data, inputs, seed) if data.columns else _scaling(data, x)  # per channel on images (fits a crop too)
    if spec.input_noise > 0:
        x = keras.layers.GaussianNoise(spec.input_noise, name="input_noise")(x)
    if spec.input_dropout > 0:
        x = keras.layers.Dropout(spec.input_dropout, name="input_dropout")(x)
    if data.shape is not None and not any(layer.type in SPATIAL_OR_SEQUENTIAL for layer in spec.layers):
        x = keras.layers.Flatten(name="image_to_features")(x)  # an MLP on (augmented) images or sequences
    layers = spec.resolved_layers()
    for i, layer in enumerate(layers):
        if layer.type in RECURRENT:
            x = recurrent(layer, f"l{i}", seed, i, initializer, _regularizer)(x)
        elif layer.type == "embedding":
            x = embedding(layer, f"l{i}", seed, i, data.tokens)(x)
        else:
            weighted = layer.type in ("dense", "conv2d", "conv1d")  # pooling and flatten draw nothing
            x = LAYERS[layer.type](layer, f"l{i}", initializer(layer.initializer, seed, i) if weighted else None)(x)
    units, activation = _output_head(data)
    out = spec.output
    outputs = keras.layers.Dense(
        units, activation=activation, kernel_initializer=initializer(out.initializer, seed, len(layers)),
        kernel_regularizer=_regularizer(out.l1, out.l2), bias_regularizer=_regularizer(out.bias_l1, out.bias_l2),
        name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def _image_augmentation(training: Training, data: Prepared) -> list[keras.layers.Layer]:
    """Keras random image layers for `augment` and `cutout`: active in training, identity at inference."""
    lo, hi = float(np.min(data.x_train)), float(np.max(data.x_train))
    value_range = (lo, hi if hi > lo else lo + 1.0)
    make = {
        "flip": lambda v: [keras.layers.RandomFlip(v)],
        "rotate": lambda v: [keras.layers.RandomRotation(v, fill_mode="constant")],
        "zoom": lambda v: [keras.layers.RandomZoom(v, fill_mode="constant")],
        "translate": lambda v: [keras.layers.RandomTranslation(v, v, fill_mode="constant")],
        # Keras 3.15's RandomCrop passes the whole image through at inference (its docstring says it
        # crops), so a CenterCrop follows: a no-op on the random crop, the center at inference.
        "crop": lambda v: [keras.layers.RandomCrop(*v), keras.layers.CenterCrop(*v)],
        "contrast": lambda v: [keras.layers.RandomContrast(v, value_range=value_range)],
        "brightness": lambda v: [keras.layers.RandomBrightness(v, value_range=value_range)],
        "shear": lambda v: [keras.layers.RandomShear(v, v, fill_mode="constant")],
        # factor (1, 1): every image; a single 1.0 would draw each image's probability from U(0, 1)
        "perspective": lambda v: [keras.layers.RandomPerspective(factor=(1.0, 1.0), scale=v)],
    }
    layers = []
    for i, item in enumerate(training.augment):
        for j, layer in enumerate(make[item.kind](getattr(item, item.kind))):
            layer.name = f"augment{i}_{item.kind}" + ("_center" if j else "")
            layers.append(layer)
    if training.cutout is not None:  # a square of side `size` (area size^2), filled with 0, on every image
        area = training.cutout.size ** 2  # factor=1.0 would mean "erase with a probability drawn from U(0, 1)"
        layers.append(keras.layers.RandomErasing(factor=(1.0, 1.0), scale=(area, area), fill_value=0.0,
                                                 value_range=value_range, name="cutout"))
    return layers


def _scaling(data: Prepared, x):
    stats = data.scale
    if "mean" in stats:  # the statistics as the layer's weights, not its config: see set_scaling
        layer = keras.layers.Normalization(name="scale")
        out = layer(x)
        set_scaling(layer, data)
        return out
    if "min" in stats:  # x' = (x - min) / (max - min); constant features map to 0
        lo, hi = np.array(stats["min"]), np.array(stats["max"])
        span = np.where(hi > lo, hi - lo, 1.0)
        return keras.layers.Rescaling(scale=1.0 / span, offset=-lo / span, name="scale")(x)
    return keras.layers.Identity(name="scale")(x)


def set_scaling(layer: keras.layers.Normalization, data: Prepared) -> None:
    """A standardizing layer's mean and variance: its non-trainable weights, as Normalization.adapt
    leaves them (saved in model.weights.h5), so that models that differ only in their seed's split
    have equal configs and a pack reuses one Keras model for all of a point's seeds."""
    layer.adapt_mean.assign(np.reshape(data.scale["mean"], layer.adapt_mean.shape))
    layer.adapt_variance.assign(np.reshape(data.scale["variance"], layer.adapt_variance.shape))
    layer.finalize_state()  # Normalization's own step after adapt: the broadcast mean/variance it applies


def _tabular(data: Prepared, inputs, seed: int = 0):
    """A table with categories or filled cells (data/encoding.py): the numeric columns filled and
    scaled (indicators beside them), each categorical column one-hot (CategoryEncoding) or
    embedded (Embedding, its table drawn from `seed`: embedding_initializer), side by side."""
    columns = data.columns
    numeric = [j for j, c in enumerate(columns) if c.kind == "numeric"]
    parts = []
    if numeric:
        filled = [k for k, j in enumerate(numeric) if columns[j].fill is not None]
        fills = [columns[j].fill if columns[j].fill is not None else 0.0 for j in numeric]
        parts.append(_scaling(data, TableColumns(numeric, fills, filled, name="numeric_columns")(inputs)))
        if any(columns[j].indicator for j in numeric):
            parts.append(TableColumns(numeric, fills, filled, missing=True, name="was_missing")(inputs))
    for j, column in enumerate(columns):
        if column.kind != "categorical":
            continue
        code = TableColumns([j], name=f"code_{j}")(inputs)
        size = len(column.vocabulary) + 1  # code 0: out of vocabulary
        if column.encoding == "one_hot":
            parts.append(keras.layers.CategoryEncoding(size, output_mode="one_hot", name=f"onehot_{j}")(code))
        else:
            vector = keras.layers.Embedding(size, column.width, embeddings_initializer=embedding_initializer(seed, j),
                                            name=f"embed_{j}")(code)
            parts.append(keras.layers.Flatten(name=f"embedded_{j}")(vector))
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="table")(parts)


def _output_head(data: Prepared) -> tuple[int, str]:
    if data.task == "classification":
        return len(data.classes), "softmax"
    if data.task == "binary":
        return 1, "sigmoid"
    return 1, "linear"


def initializer(name, seed: int, layer: int) -> keras.initializers.Initializer:
    """Keras's initializer `name` (or a VarianceScaling spec), seeded for this layer: the same weights
    for the same trial, alone or packed."""
    if not isinstance(name, str):  # {name: variance_scaling, scale, mode, distribution}
        return keras.initializers.VarianceScaling(name.scale, name.mode, name.distribution,
                                                  seed=layer_seed(seed, layer))
    init = keras.initializers.get(name)
    config = init.get_config()
    if "seed" in config:  # the random ones (Keras has no public base class to test for)
        return init.__class__.from_config({**config, "seed": layer_seed(seed, layer)})
    return init  # zeros, ones: nothing to draw


def embedding_initializer(seed: int, column: int) -> keras.initializers.Initializer:
    """Keras's Embedding default ("uniform": U(-0.05, 0.05)), seeded for this column from the trial's
    seed, as the kernels are: unseeded, it drew from Keras's global state, which a pack cannot mirror."""
    return keras.initializers.RandomUniform(-0.05, 0.05, seed=embedding_seed(seed, column))


def _regularizer(l1: float, l2: float):
    if l1 and l2:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    if l1:
        return keras.regularizers.L1(l1)
    if l2:
        return keras.regularizers.L2(l2)
    return None


def _weighted(core: Callable[..., keras.layers.Layer], max_norm_axis) -> Callable:
    """A hidden layer with weights: the core layer plus its norm, activation and dropout."""
    def build(layer, name: str, kernel_initializer) -> Callable:
        core_layer = core(
            layer, name=name, activation=None, use_bias=layer.use_bias,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=_regularizer(layer.l1, layer.l2),
            bias_regularizer=_regularizer(layer.bias_l1, layer.bias_l2),
            kernel_constraint=keras.constraints.MaxNorm(layer.max_norm, axis=max_norm_axis) if layer.max_norm else None)
        pieces = [core_layer]
        if layer.batch_norm == "before":
            pieces.append(_batch_norm(layer, f"{name}_bn"))
        if layer.norm is not None:
            pieces.append(_NORMS[layer.norm](layer, f"{name}_{layer.norm}_norm"))
        pieces.append(keras.layers.Activation(layer.activation, name=f"{name}_{layer.activation}"))
        if layer.batch_norm == "after":
            pieces.append(_batch_norm(layer, f"{name}_bn"))
        if layer.activation_noise > 0:
            pieces.append(keras.layers.GaussianNoise(layer.activation_noise, name=f"{name}_noise"))
        if layer.dropout > 0:
            dropout = (keras.layers.SpatialDropout1D if layer.type == "conv1d" and layer.dropout_type == "spatial"
                       else _DROPOUT[layer.dropout_type])
            pieces.append(dropout(layer.dropout, name=f"{name}_dropout"))
        return _chain(pieces)
    return build


def _batch_norm(layer, name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=layer.bn_momentum, epsilon=layer.bn_epsilon,
                                           center=layer.bn_center, scale=layer.bn_scale, name=name)


_NORMS = {
    "layer": lambda layer, name: keras.layers.LayerNormalization(name=name),
    "group": lambda layer, name: keras.layers.GroupNormalization(groups=layer.groups, name=name),
    "instance": lambda layer, name: keras.layers.GroupNormalization(groups=-1, name=name),  # one group per channel
}


def _chain(pieces: list[keras.layers.Layer]) -> Callable:
    def apply(x):
        for piece in pieces:
            x = piece(x)
        return x
    return apply


# layer `type` of the spec -> a function (layer spec, name, kernel initializer) -> callable on a tensor
LAYERS: dict[str, Callable] = {
    "dense": _weighted(lambda layer, **kw: NoisyDense(layer.units, weight_noise=layer.weight_noise, **kw)
                       if layer.weight_noise else keras.layers.Dense(layer.units, **kw), max_norm_axis=0),
    "conv2d": _weighted(lambda layer, **kw: (
        NoisyConv2D(layer.filters, layer.kernel_size, weight_noise=layer.weight_noise, strides=layer.strides,
                    padding=layer.padding, **kw) if layer.weight_noise else
        keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding, **kw)),
        max_norm_axis=[0, 1, 2]),
    "conv1d": _weighted(lambda layer, **kw: (
        NoisyConv1D(layer.filters, layer.kernel_size, weight_noise=layer.weight_noise, strides=layer.strides,
                    padding=layer.padding, **kw) if layer.weight_noise else
        keras.layers.Conv1D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding, **kw)),
        max_norm_axis=[0, 1]),
    "max_pool": pool,
    "avg_pool": pool,
    "flatten": lambda layer, name, _initializer=None: keras.layers.Flatten(name=name),
    "global_avg_pool": pool,
}
