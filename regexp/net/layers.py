"""The few layers Keras does not ship: weight noise, and dropout that stays on for MC dropout.

Registered as serializable, so a model.keras with them reloads in safe mode (import regexp first).
"""

import keras
from keras import ops


class _WeightNoise:
    """Mixin: a fresh Gaussian draw is added to the kernel for each training call, never stored.

    Written by hand: Keras has no weight-noise layer. The stored kernel is what the optimizer
    updates; the noise only perturbs the forward pass, so it cannot accumulate into the weights.
    """

    def _init_noise(self, weight_noise: float) -> None:
        self.weight_noise = weight_noise
        self.noise_seed = keras.random.SeedGenerator()

    def _noisy_kernel(self, training):
        if training and self.weight_noise > 0:
            return self.kernel + keras.random.normal(ops.shape(self.kernel), stddev=self.weight_noise,
                                                     dtype=self.kernel.dtype, seed=self.noise_seed)
        return self.kernel

    def get_config(self):
        return {**super().get_config(), "weight_noise": self.weight_noise}


@keras.saving.register_keras_serializable(package="regexp")
class NoisyDense(_WeightNoise, keras.layers.Dense):
    def __init__(self, units, weight_noise: float = 0.0, **kwargs):
        super().__init__(units, **kwargs)
        self._init_noise(weight_noise)

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self._noisy_kernel(training))
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs


class _NoisyConv(_WeightNoise):
    """Keras's Conv1D/Conv2D call with the noisy kernel (Conv1D's causal padding included: the past is
    padded, then the convolution is valid)."""

    def __init__(self, filters, kernel_size, weight_noise: float = 0.0, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_noise(weight_noise)

    def call(self, inputs, training=None):
        padding = self.padding
        if padding == "causal":
            inputs, padding = ops.pad(inputs, self._compute_causal_padding()), "valid"
        outputs = ops.conv(inputs, self._noisy_kernel(training), strides=list(self.strides), padding=padding,
                           dilation_rate=self.dilation_rate, data_format=self.data_format)
        if self.use_bias:
            ones = (1,) * self.rank
            shape = (1, *ones, self.filters) if self.data_format == "channels_last" else (1, self.filters, *ones)
            outputs = ops.add(outputs, ops.reshape(self.bias, shape))
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package="regexp")
class NoisyConv2D(_NoisyConv, keras.layers.Conv2D):
    pass


@keras.saving.register_keras_serializable(package="regexp")
class NoisyConv1D(_NoisyConv, keras.layers.Conv1D):
    pass


@keras.saving.register_keras_serializable(package="regexp")
class AlwaysOn(keras.layers.Layer):
    """Runs a dropout layer (or a recurrent layer's dropout) in training mode even at inference:
    Monte-Carlo dropout (Gal & Ghahramani)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer if isinstance(layer, keras.layers.Layer) else keras.saving.deserialize_keras_object(layer)

    def call(self, inputs, training=None, mask=None):  # mask: a recurrent layer after a masking embedding
        return self.layer(inputs, training=True) if mask is None else self.layer(inputs, training=True, mask=mask)

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}


DROPOUTS = (keras.layers.Dropout, keras.layers.AlphaDropout, keras.layers.GaussianDropout,
            keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D)


def _drops(layer: keras.layers.Layer) -> bool:
    """A dropout layer, or a recurrent layer (or Bidirectional pair) with dropout or recurrent_dropout."""
    if isinstance(layer, keras.layers.Bidirectional):
        layer = layer.forward_layer
    if isinstance(layer, keras.layers.RNN):
        return layer.dropout > 0 or layer.recurrent_dropout > 0
    return isinstance(layer, DROPOUTS)


def mc_dropout_model(model: keras.Model) -> keras.Model | None:
    """A copy of `model` (same weights) whose dropout stays on, recurrent layers' dropout and
    recurrent_dropout included; None when it has none."""
    if not any(_drops(layer) for layer in model.layers):
        return None

    def clone(layer):
        copy = layer.__class__.from_config(layer.get_config())
        return AlwaysOn(copy, name=f"{layer.name}_mc") if _drops(layer) else copy
    mc = keras.models.clone_model(model, clone_function=clone)
    mc.set_weights(model.get_weights())
    return mc


@keras.saving.register_keras_serializable(package="regexp")
class TableColumns(keras.layers.Layer):
    """Columns of the feature matrix, by index. `fills` (one per column) replace a NaN in the
    columns listed in `filled` (data.missing); `missing=True` gives instead a was-missing 0/1
    column for each of those.

    Written by hand: Keras has no column-select or NaN-impute layer, and a Lambda could not be
    reloaded in safe mode. The fills are the train part's statistics, as the scaling's are."""

    def __init__(self, indices, fills=None, filled=(), missing=False, **kwargs):
        super().__init__(**kwargs)
        self.indices, self.fills, self.filled, self.missing = list(indices), fills, list(filled), missing

    def call(self, inputs):
        x = ops.take(inputs, self.indices, axis=1)
        if self.missing:
            return ops.cast(ops.isnan(ops.take(x, self.filled, axis=1)), x.dtype)
        if not self.filled:
            return x
        return ops.where(ops.isnan(x), ops.convert_to_tensor([self.fills], dtype=x.dtype), x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.filled) if self.missing else len(self.indices))

    def get_config(self):
        return {**super().get_config(), "indices": self.indices, "fills": self.fills, "filled": self.filled,
                "missing": self.missing}
