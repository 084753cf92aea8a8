"""The spec's sequence data: csv windows, text, the generated sequence tasks, and the rules that
tie sequence layers to sequence-shaped data (FILE:LINE errors through checks.py).

The generated tasks are built-in datasets (registry/sequences.py).
"""

from typing import Optional

from pydantic import Field

from regexp.registry.datasets import DATASETS
from regexp.spec.layers import RECURRENT, SEQUENTIAL, SPATIAL, WEIGHTED, Defaults, Recurrent
from regexp.spec.parts import Part

NEEDS_SEQUENCE = (*SEQUENTIAL, "max_pool", "avg_pool", "global_avg_pool")
DROPS_MASK = ("conv1d", "max_pool", "avg_pool")  # Keras's Conv1D and pooling layers do not carry a mask on


class Window(Part):
    """A csv time series (rows in time order) as windows: the inputs are `length` consecutive rows,
    the label the target `horizon` rows after the last of them."""

    length: int = Field(20, ge=1, description="Rows (time steps) in each window.")
    horizon: int = Field(1, ge=1, description="The label is the target this many rows after the window's last row "
                                              "(1: the next value).")
    stride: int = Field(1, ge=1, description="Rows between the starts of consecutive windows.")


class Text(Part):
    """Text as token ids: Keras's TextVectorization, its vocabulary fitted on the train part only."""

    column: Optional[str] = Field(None, description="The csv column holding the text (a folder of .txt files, one "
                                                    "sub-folder per class, needs none).")
    max_tokens: int = Field(10_000, ge=3, description="Vocabulary size, padding (id 0) and out-of-vocabulary (id 1) "
                                                      "included.")
    length: int = Field(64, ge=1, description="Tokens per sample: longer texts are cut, shorter padded with 0.")


def sequence_checks(spec) -> list[tuple[str, str]]:
    """The sequence rules of a spec: its layers' order and options, and what its data allow."""
    data, training, model = spec.data, spec.training, spec.model
    tokens = True if data.text else None if data.dataset is None else bool(DATASETS[data.dataset].tokens)
    sequences = uses_sequences(model.layers) or bool(data.window or data.text or (
        data.dataset and DATASETS[data.dataset].length) or (data.shape and len(data.shape) == 2))
    errors = layer_order_checks(model.resolved_layers(), tokens, sequences)
    if tokens:  # ids name tokens: noise, dropout's rescaling or a mix of two would turn them into other ids
        for key in ("input_noise", "input_dropout"):
            if getattr(model, key) > 0:
                errors.append((f"model.{key}", "the inputs are token ids, which noise or dropout would turn into "
                                               "other ids: set dropout on the layer after the embedding"))
        if training.mixup is not None:
            errors.append(("training.mixup", "the inputs are token ids: a mix of two ids is no token"))
    if sequences:
        for key in ("augment", "cutmix", "cutout"):
            if getattr(training, key):
                errors.append((f"training.{key}", "images only: these samples are sequences"))
    return errors


def layer_order_checks(layers: list, tokens: Optional[bool], sequences: bool) -> list[tuple[str, str]]:
    """Where sequence layers sit: each needs a sequence (or image) from the layer before it; a 1-D
    pool takes one integer; a masking embedding's mask must reach its recurrent layers. `tokens`:
    whether the data are token ids (None: not known before the data loads); `sequences`: whether the
    samples are sequences (so pooling is 1-D)."""
    errors = []
    sequence, flattened_by = True, ""  # whether the layer before outputs a sequence, and if not, why not
    masked = None  # the masking embedding's index, while its mask is carried on
    for i, layer in enumerate(layers):
        where = f"model.layers.{i}"
        if sequences and layer.type in ("max_pool", "avg_pool"):
            for key in ("pool_size", "strides"):
                if isinstance(getattr(layer, key), list):
                    errors.append((f"{where}.{key}", f"pooling a sequence is 1-D: one integer (got "
                                                     f"{getattr(layer, key)})"))
        if masked is not None and layer.type in DROPS_MASK and any(
                later.type in RECURRENT for later in layers[i + 1:]):
            errors.append((f"model.layers.{masked}.mask_zero", f"model.layers.{i} ({layer.type}) drops the mask "
                                                               "(Keras's conv1d and pooling carry none), so the "
                                                               "recurrent layers after it would read the padding: put "
                                                               "them first, or set mask_zero: false"))
            masked = None
        if layer.type == "embedding" and layer.mask_zero:
            masked = i
        if layer.type == "simple_rnn" and layer.recurrent_activation != "sigmoid":
            errors.append((f"{where}.recurrent_activation", "simple_rnn has no gates: it takes activation only "
                                                            "(recurrent_activation is for lstm and gru)"))
        if layer.type == "embedding" and i > 0:
            errors.append((where, "an embedding takes the token ids: it must be the first layer"))
        elif layer.type == "embedding" and tokens is False:
            errors.append((where, "an embedding needs token ids (data.text, dataset token_recall); these data are "
                                  "numbers"))
        elif i == 0 and tokens and layer.type != "embedding":
            errors.append((where, "token ids need {type: embedding, output_dim: N} as the first layer"))
        if layer.type in NEEDS_SEQUENCE and not sequence:
            errors.append((where, f"{layer.type} needs a sequence, but {flattened_by}"))
        if layer.type in RECURRENT:
            if layer.batch_norm != "none":
                errors.append((f"{where}.batch_norm", "batch norm fits recurrent layers poorly: one set of batch "
                                                      "statistics for every time step and sequence length (the "
                                                      "notes on BN); use norm: layer, which normalizes each step "
                                                      "over its own units"))
            if not layer.return_sequences:
                sequence, flattened_by = False, (f"model.layers.{i} ({layer.type}) returns only its last state: set "
                                                 "return_sequences: true on it")
        elif layer.type in ("flatten", "global_avg_pool"):
            sequence, flattened_by = False, f"model.layers.{i} ({layer.type}) makes one vector per sample"
    if any(layer.type in SEQUENTIAL for layer in layers) and any(layer.type == "conv2d" for layer in layers):
        errors.append(("model.layers", "conv2d works on images, conv1d and recurrent layers on sequences: not both"))
    return errors


def window_checks(spec) -> list[tuple[str, str]]:
    """data.window and data.text against the rest of the spec."""
    data, errors = spec.data, []
    for key in ("window", "text"):
        if getattr(data, key) is not None and data.dataset is not None:
            errors.append((f"data.{key}", f"applies to a data.path (got dataset {data.dataset})"))
    if data.window is not None and data.text is not None:
        errors.append(("data.text", "a text is not a time series: choose data.window or data.text"))
    if data.window is not None and spec.cv is not None:
        errors.append(("cv", "windows of one series are split in time order (train, then val, then test); "
                             "shuffled folds would put a window's neighbours in its own validation fold"))
    if data.window is not None and (data.val_path or data.test_path):
        errors.append(("data.window", "the parts of a series are cut from data.path in time order: drop "
                                      "val_path/test_path"))
    return errors


def unreached_defaults(spec) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """model.defaults reach dense and conv layers only: in a model with none (recurrent layers, an
    embedding, pooling), a default set away from its value is a warning, and a searched one an error
    (every point would train the same model). Both name the recurrent layer's own key where it has one."""
    model = spec.model
    if any(isinstance(layer, WEIGHTED) for layer in model.layers):
        return [], []
    first = next((i for i, layer in enumerate(model.layers) if layer.type in RECURRENT), None)

    def why(key: str) -> str:
        own = (f": set model.layers.{first}.{key} on the {model.layers[first].type} layer"
               if first is not None and key in Recurrent.model_fields else "")
        return f"reaches no layer: model.defaults apply to dense and conv layers, and this model has none{own}"
    searched = [path for path in (spec.search.params if spec.search else {}) if path.startswith("model.defaults.")]
    errors = [(f"search.params.{path}", f"every point would train the same model: {path} {why(path.split('.')[2])}")
              for path in searched]
    warnings = [(f"model.defaults.{key}", why(key)) for key, field in Defaults.model_fields.items()
                if getattr(model.defaults, key) != field.default and f"model.defaults.{key}" not in searched]
    return errors, warnings


def uses_sequences(layers: list) -> bool:
    return any(layer.type in (*SEQUENTIAL, "embedding") for layer in layers)


SPATIAL_OR_SEQUENTIAL = (*SPATIAL, *SEQUENTIAL, "embedding")  # a model with any of these keeps the sample's shape
