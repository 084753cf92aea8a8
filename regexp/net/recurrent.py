"""The sequence layers of a spec as Keras layers: LSTM / GRU / SimpleRNN (optionally Bidirectional,
then LayerNormalization for norm: layer), Embedding, and pooling in 1-D or 2-D.

Keras's LSTM and GRU run cuDNN's fused kernel on a GPU when their options allow it (Keras 3's
backend.cudnn_ok: tanh activation, sigmoid recurrent_activation, a bias, no unroll, GRU with
reset_after, recurrent_dropout 0; a mask must be right-padded); any other option, and SimpleRNN
always, runs the step loop. On a CPU every recurrent layer runs the loop (bench/README.md).
"""

from collections.abc import Callable

import keras

from regexp.net.draws import layer_seed, recurrent_seed

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}


def recurrent(layer, name: str, seed: int, index: int, initializer: Callable, regularizer: Callable) -> Callable:
    """A callable on a (batch, steps, channels) tensor; `initializer(name, seed, index)` and
    `regularizer(l1, l2)` are model.py's, so these weights are drawn as a dense layer's are."""
    def drawn(name, kernel: int | None):
        """kernel None: the input kernel, drawn as a dense layer at this index; else recurrent_seed's."""
        return initializer(name, seed if kernel is None else recurrent_seed(seed, index, kernel), index)

    def make(backward: bool, **kwargs) -> keras.layers.Layer:
        options = dict(
            units=layer.units, activation=layer.activation, return_sequences=layer.return_sequences,
            dropout=layer.dropout, recurrent_dropout=layer.recurrent_dropout,
            kernel_initializer=drawn(layer.initializer, 1 if backward else None),
            recurrent_initializer=drawn(layer.recurrent_initializer, 2 if backward else 0),
            kernel_regularizer=regularizer(layer.l1, layer.l2),
            recurrent_regularizer=regularizer(0.0, layer.recurrent_l2), **kwargs)
        if layer.type != "simple_rnn":
            options["recurrent_activation"] = layer.recurrent_activation
        return _CELLS[layer.type](**options)

    if layer.bidirectional:
        backward = make(True, go_backwards=True, name=f"{name}_backward")
        core = keras.layers.Bidirectional(make(False, name=f"{name}_forward"), backward_layer=backward, name=name)
    else:
        core = make(False, name=name)
    if layer.norm is None:
        return core
    norm = keras.layers.LayerNormalization(name=f"{name}_layer_norm")
    return lambda x: norm(core(x))


def embedding(layer, name: str, seed: int, index: int, tokens: int) -> keras.layers.Layer:
    """Keras's Embedding over the data's `tokens` ids, its table drawn as Keras's default ("uniform",
    U(-0.05, 0.05)) but seeded from the trial's seed."""
    return keras.layers.Embedding(tokens, layer.output_dim, mask_zero=layer.mask_zero, name=name,
                                  embeddings_initializer=keras.initializers.RandomUniform(
                                      -0.05, 0.05, seed=layer_seed(seed, index)))


def pool_layer(layer, name: str, sequence: bool) -> keras.layers.Layer:
    """The Keras pooling layer of a max_pool / avg_pool / global_avg_pool: 1-D on a sequence, else 2-D."""
    if layer.type == "global_avg_pool":
        return (keras.layers.GlobalAveragePooling1D if sequence else keras.layers.GlobalAveragePooling2D)(name=name)
    kinds = {"max_pool": (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D),
             "avg_pool": (keras.layers.AveragePooling1D, keras.layers.AveragePooling2D)}
    return kinds[layer.type][0 if sequence else 1](pool_size=layer.pool_size, strides=layer.strides,
                                                   padding=layer.padding, name=name)


def pool(layer, name: str, _initializer=None) -> Callable:
    """A pooling layer applied to a tensor: 1-D on a sequence (batch, steps, channels), else 2-D."""
    return lambda x: pool_layer(layer, name, sequence=len(x.shape) == 3)(x)
