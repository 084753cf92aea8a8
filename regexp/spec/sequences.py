"""The spec's sequence data: csv windows, text, the generated sequence tasks, and the rules that
tie sequence layers to sequence-shaped data (FILE:LINE errors through checks.py).

The generated tasks are built-in datasets (registry/sequences.py).
"""

from typing import Optional

from pydantic import Field

from regexp.spec.layers import RECURRENT, SEQUENTIAL, SPATIAL
from regexp.spec.parts import Part

NEEDS_SEQUENCE = (*SEQUENTIAL, "max_pool", "avg_pool", "global_avg_pool")


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


def layer_order_checks(layers: list, tokens: Optional[bool]) -> list[tuple[str, str]]:
    """Where sequence layers sit: each needs a sequence (or image) from the layer before it.
    `tokens`: whether the data are token ids (None: not known before the data loads)."""
    errors = []
    sequence, flattened_by = True, ""  # whether the layer before outputs a sequence, and if not, why not
    for i, layer in enumerate(layers):
        where = f"model.layers.{i}"
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


def uses_sequences(layers: list) -> bool:
    return any(layer.type in (*SEQUENTIAL, "embedding") for layer in layers)


SPATIAL_OR_SEQUENTIAL = (*SPATIAL, *SEQUENTIAL, "embedding")  # a model with any of these keeps the sample's shape
