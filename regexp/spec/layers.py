"""The hidden layers of the spec (model.layers) and the defaults they take (model.defaults).

Part of the spec models (schema.py re-exports the names other modules use); key names and meanings are the
user-facing contract. No TensorFlow here.
"""

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field, create_model

from regexp.spec.parts import NonNegative, Part, Rate

# Names Keras resolves with keras.activations.get / keras.initializers.get; a test keeps these
# lists in sync with the installed Keras so that a typo is caught before TensorFlow loads.
ACTIVATIONS = (
    "relu", "elu", "selu", "gelu", "tanh", "sigmoid", "softplus", "softsign", "swish", "silu",
    "mish", "leaky_relu", "relu6", "celu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "exponential", "linear", "log_sigmoid", "squareplus", "sparse_plus", "tanh_shrink",
)
INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "orthogonal", "random_normal", "random_uniform", "truncated_normal", "variance_scaling",
    "zeros", "ones",
)


class VarianceScaling(Part):
    """Keras's VarianceScaling with its parameters: weights of variance scale / n, n from `mode`."""

    name: Literal["variance_scaling"]
    scale: float = Field(1.0, gt=0.0, description="k in Var(w) = k / n: 2 is He, 1 is LeCun (and Glorot with fan_avg).")
    mode: Literal["fan_in", "fan_out", "fan_avg"] = Field("fan_in", description="n: inputs, outputs or their mean.")
    distribution: Literal["truncated_normal", "untruncated_normal", "uniform"] = Field(
        "truncated_normal", description="untruncated_normal is the notes' randn * sqrt(k / n).")


Initializer = Union[Literal[INITIALIZERS], VarianceScaling]


class Defaults(Part):
    activation: Literal[ACTIVATIONS] = Field("relu", description="Keras activation of hidden layers.")
    initializer: Initializer = Field(
        "he_normal", description="Kernel initializer: a Keras name, or {name: variance_scaling, scale, mode, "
                                 "distribution}.")
    use_bias: bool = Field(True, description="Add a bias to the dense/conv output. Keras's default, true, keeps it "
                                             "even with batch_norm: before, where BN's shift (center) cancels it: set "
                                             "false there to save "
                           "one parameter per unit; the results are the same.")
    l1: NonNegative = Field(0.0, description="Kernel L1 factor: adds l1 * sum(|w|) to the loss.")
    l2: NonNegative = Field(0.0, description="Kernel L2 factor: adds l2 * sum(w^2) to the loss (Keras convention, no "
                                             "1/2).")
    bias_l1: NonNegative = Field(0.0, description="Bias L1 factor.")
    bias_l2: NonNegative = Field(0.0, description="Bias L2 factor.")
    max_norm: Optional[float] = Field(None, gt=0.0, description="Max-norm r: each unit's incoming weight vector is "
                                                                "rescaled to norm <= r after every step.")
    batch_norm: Literal["none", "before", "after"] = Field("none", description="Batch normalization before or after "
                                                                               "the activation.")
    bn_momentum: float = Field(0.99, gt=0.0, lt=1.0, description="Batch norm: β of the moving averages used at "
                                                                 "inference (moving = β·moving + (1 − β)·batch); lower "
                                                                 "forgets the initial values sooner.")
    bn_epsilon: float = Field(1e-3, gt=0.0, description="Batch norm: added to the variance before the square root.")
    bn_center: bool = Field(True, description="Batch norm: learn the shift β.")
    bn_scale: bool = Field(True, description="Batch norm: learn the scale γ (off is fine before relu, which is "
                                             "scale-free).")
    norm: Optional[Literal["layer", "group", "instance"]] = Field(None, description="Alternative normalization before "
                                                                                    "the activation.")
    groups: int = Field(4, ge=1,
                        description="Number of groups for norm: group (must divide the layer's units/filters).")
    dropout: Rate = Field(0.0, description="Dropout rate after the activation.")
    dropout_type: Literal["standard", "alpha", "gaussian", "spatial"] = Field(
        "standard", description="standard (inverted) | alpha (for SELU) | gaussian (multiplicative noise) | spatial "
                                "(conv: whole feature maps).")
    weight_noise: NonNegative = Field(0.0, description="Stddev of Gaussian noise added to the kernel on every training "
                                                       "step (never at inference).")
    activation_noise: NonNegative = Field(0.0, description="Stddev of Gaussian noise added to the layer's "
                                          "activations (after the activation and batch_norm: after, before dropout), "
                                          "training only.")


def _overridable(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The same fields as `model`, each optional with None meaning 'take the default'."""
    fields: dict[str, Any] = {
        key: (Optional[Annotated[f.annotation, *f.metadata]] if f.metadata else Optional[f.annotation],
              Field(None, description=f"{f.description} Default: model.defaults.{key}."))
        for key, f in model.model_fields.items()
    }
    return create_model(name, __base__=Part, **fields)


LayerOverrides = _overridable(Defaults, "LayerOverrides")
IntOrPair = Union[Annotated[int, Field(ge=1)],
                  Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]]


class Dense(LayerOverrides):
    type: Literal["dense"]
    units: int = Field(ge=1, description="Number of units.")


class Conv2D(LayerOverrides):
    type: Literal["conv2d"]
    filters: int = Field(ge=1, description="Number of filters.")
    kernel_size: IntOrPair = Field(3, description="Kernel height/width.")
    strides: IntOrPair = Field(1, description="Stride.")
    padding: Literal["same", "valid"] = Field("same", description="same keeps the spatial size.")


class Conv1D(LayerOverrides):
    type: Literal["conv1d"]
    filters: int = Field(ge=1, description="Number of filters.")
    kernel_size: int = Field(3, ge=1, description="Kernel length in time steps.")
    strides: int = Field(1, ge=1, description="Stride.")
    padding: Literal["same", "valid", "causal"] = Field(
        "same", description="same keeps the length; causal pads the past only (step t sees steps <= t).")


class Pool(Part):
    type: Literal["max_pool", "avg_pool"]
    pool_size: IntOrPair = Field(2, description="Window size (after conv1d or on a sequence: 1-D, an integer).")
    strides: Optional[IntOrPair] = Field(None, description="Stride (default: pool_size).")
    padding: Literal["same", "valid"] = Field("valid", description="Padding.")


class Flatten(Part):
    type: Literal["flatten"]


class GlobalAvgPool(Part):
    type: Literal["global_avg_pool"]


class Recurrent(Part):
    """Keras's LSTM, GRU or SimpleRNN. model.defaults do not reach it: a recurrent layer's defaults
    are Keras's (tanh, glorot_uniform inputs, orthogonal state), which its fused kernel needs."""

    type: Literal["lstm", "gru", "simple_rnn"]
    units: int = Field(ge=1, description="Size of the state (per direction).")
    activation: Literal[ACTIVATIONS] = Field("tanh", description="Activation of the state (tanh: the fused cuDNN "
                                                                 "kernel applies; any other falls back to the loop).")
    recurrent_activation: Literal[ACTIVATIONS] = Field(
        "sigmoid", description="lstm/gru: activation of the gates (sigmoid: the fused kernel applies).")
    return_sequences: bool = Field(False, description="Output every step's state (needed before another recurrent, "
                                                      "conv1d or pooling layer), not only the last.")
    dropout: Rate = Field(0.0, description="Keras's dropout: rate on the layer's inputs, one mask per sequence.")
    recurrent_dropout: Rate = Field(0.0, description="Keras's recurrent_dropout: rate on the state carried from step "
                                                     "to step, one mask per sequence (> 0: no fused kernel).")
    bidirectional: bool = Field(False, description="Also read the sequence backwards (Keras Bidirectional, outputs "
                                                   "concatenated).")
    norm: Optional[Literal["layer"]] = Field(None, description="layer: Keras LayerNormalization on the layer's outputs "
                                                               "(per step), the normalization that suits RNNs.")
    batch_norm: Literal["none", "before", "after"] = Field(
        "none", description="Not for recurrent layers (an error that says so): use norm: layer.")
    initializer: Initializer = Field("glorot_uniform", description="Initializer of the input kernel.")
    recurrent_initializer: Initializer = Field("orthogonal", description="Initializer of the state-to-state kernel.")
    l1: NonNegative = Field(0.0, description="L1 factor on the input kernel.")
    l2: NonNegative = Field(0.0, description="L2 factor on the input kernel.")
    recurrent_l2: NonNegative = Field(0.0, description="L2 factor on the state-to-state kernel.")


class Embedding(Part):
    type: Literal["embedding"]
    output_dim: int = Field(ge=1, description="Length of each token's vector; the table has one row per token id of "
                                              "the data's vocabulary.")
    mask_zero: bool = Field(False, description="Token 0 is padding that later recurrent layers skip (a mask).")


Layer = Annotated[Union[Dense, Conv2D, Conv1D, Pool, Flatten, GlobalAvgPool, Recurrent, Embedding],
                  Field(discriminator="type")]
WEIGHTED = (Dense, Conv2D, Conv1D)
SPATIAL = ("conv2d", "max_pool", "avg_pool")  # layer types that need image-shaped (or, pools, sequence) inputs
RECURRENT = ("lstm", "gru", "simple_rnn")
SEQUENTIAL = ("conv1d", *RECURRENT)  # layer types that need (steps, channels) inputs
