"""A table's columns in a pack: each slice fills, scales, one-hot codes and embeds its own columns,
as model._tabular's Keras layers do for its trial alone, from its own train part (data/encoding.py):
its vocabularies, fills and embedding tables.

The slices of a pack share a *layout* (per column: its kind, one-hot or embedding, filled or not,
with an indicator or not: what decides the trial's layers). Their vocabulary sizes may still differ
(another seed, another split: a rare value only some train parts hold), and with them the one-hot
widths and embedding sizes (Encoded.width grows with the vocabulary). Each categorical block is
padded to the largest slice's width instead of splitting the pack by widths: a sweep's seeds then
stay in one pack however their vocabularies fall, and padding costs a few zero columns. A padded
position is 0 in every input of that slice, its row of the first weighted layer's kernel is 0 and
stays 0 (its gradient x·δ is 0, and so are its L1/L2 terms, weight decay and optimizer slots), and
an embedding's padded rows and columns are never read or moved: slice k computes exactly what its
trial's unpadded layers compute. Input noise is masked off the padded positions (it would make
their gradient non-zero). `part` cuts a slice's own weights out of the padded ones for its Keras model.
"""

import keras
import numpy as np
import tensorflow as tf

from regexp.data import Prepared
from regexp.data.encoding import Encoded
from regexp.net.model import embedding_initializer
from regexp.spec import LoadedSpec


def layout(columns: list[Encoded] | None) -> tuple | None:
    """What the slices of one pack must share: the layers their trials build (vocabulary sizes aside)."""
    if not columns:
        return None
    return tuple((c.kind, c.encoding, c.fill is not None, c.indicator) for c in columns)


class Table:
    """The encoding layers of K slices: (K, B, columns) coded rows -> (K, B, width) model inputs."""

    def __init__(self, specs: list[LoadedSpec], data: list[Prepared]):
        columns = [d.columns for d in data]
        first = columns[0]
        self.k = len(data)
        self.numeric = [j for j, c in enumerate(first) if c.kind == "numeric"]
        self.filled = [i for i, j in enumerate(self.numeric) if first[j].fill is not None]
        self.indicator = any(first[j].indicator for j in self.numeric)
        # TableColumns fills a NaN in every numeric column when any is filled (0.0 where none is set)
        self.fills = tf.constant([[c[j].fill if c[j].fill is not None else 0.0 for j in self.numeric]
                                  for c in columns], tf.float32)
        lead = len(self.numeric) + (len(self.filled) if self.indicator else 0)
        rows = [list(range(lead)) for _ in data]  # each slice's positions in the padded inputs
        self.blocks: list[tuple[int, bool, int]] = []  # (column, one-hot, depth: the largest vocabulary + 1)
        self.sizes: dict[int, list[int]] = {}  # column -> each slice's vocabulary + 1
        self.widths: dict[int, list[int]] = {}  # column -> each slice's one-hot or embedding width
        self.embeddings: dict[int, tf.Variable] = {}
        offset = lead
        for j, column in enumerate(first):
            if column.kind != "categorical":
                continue
            one_hot = column.encoding == "one_hot"
            self.sizes[j] = [len(c[j].vocabulary) + 1 for c in columns]
            self.widths[j] = [c[j].width for c in columns]
            depth, width = max(self.sizes[j]), max(self.widths[j])
            self.blocks.append((j, one_hot, depth))
            if not one_hot:  # each slice's table drawn as its trial's Embedding draws it, zero-padded
                table = np.zeros((self.k, depth, width), np.float32)
                for k, (loaded, size, w) in enumerate(zip(specs, self.sizes[j], self.widths[j])):
                    draw = embedding_initializer(loaded.spec.seed, j)((size, w), dtype="float32")
                    table[k, :size, :w] = keras.ops.convert_to_numpy(draw)
                self.embeddings[j] = tf.Variable(table, name=f"embed_{j}")
            for k in range(self.k):
                rows[k].extend(range(offset, offset + self.widths[j][k]))
            offset += width
        self.width = offset
        self.rows = [np.array(r) for r in rows]
        self.padded = any(len(r) < self.width for r in rows)
        mask = np.zeros((self.k, 1, self.width), np.float32)
        for k, r in enumerate(self.rows):
            mask[k, 0, r] = 1.0
        self.mask = tf.constant(mask)

    def __call__(self, x: tf.Tensor, scale, taps: list | None = None) -> tf.Tensor:
        """model._tabular per slice: numeric columns filled then scaled (`scale`: the stack's
        Normalization/Rescaling), was-missing indicators, then each categorical column one-hot
        (CategoryEncoding) or embedded (Embedding, as a one-hot times the table: a dense gradient).
        `taps` gets (table, one-hot codes, output) of each embedding: the trainer takes the gradient
        of each sample's output from it (optimizer.py says why)."""
        parts = []
        if self.numeric:
            numeric = tf.gather(x, self.numeric, axis=2)
            if self.filled:
                numeric = tf.where(tf.math.is_nan(numeric), self.fills[:, None, :], numeric)
            parts.append(scale(numeric))
            if self.indicator:
                raw = tf.gather(x, [self.numeric[i] for i in self.filled], axis=2)
                parts.append(tf.cast(tf.math.is_nan(raw), x.dtype))
        for j, one_hot, depth in self.blocks:
            code = tf.one_hot(tf.cast(x[:, :, j], tf.int32), depth, dtype=x.dtype)
            out = code if one_hot else tf.matmul(code, self.embeddings[j])
            if taps is not None and not one_hot:
                taps.append((self.embeddings[j], code, out))
            parts.append(out)
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=2)

    def place(self, kernels: list[np.ndarray]) -> np.ndarray:
        """Each slice's own first kernel (its width x units) at its rows of the padded (K, width, units)."""
        out = np.zeros((self.k, self.width, *kernels[0].shape[1:]), np.float32)
        for k, kernel in enumerate(kernels):
            out[k, self.rows[k]] = kernel
        return out

    def part(self, kind: str, column: int | None, value: np.ndarray, k: int) -> np.ndarray:
        """Slice k's own weight (or optimizer slot) out of the stacked, padded `value`: kind "kernel"
        (the layer that takes the table's columns) or "embeddings" (of categorical `column`)."""
        if kind == "kernel":
            return value[k][self.rows[k]]
        return value[k][:self.sizes[column][k], :self.widths[column][k]]

    def keep(self, index: np.ndarray) -> None:
        """Only the slices `index` stay (Stack.keep)."""
        self.fills, self.mask = tf.gather(self.fills, index), tf.gather(self.mask, index)
        self.embeddings = {j: tf.Variable(tf.gather(v, index), name=f"embed_{j}") for j, v in self.embeddings.items()}
        self.rows = [self.rows[i] for i in index]
        self.sizes = {j: [s[i] for i in index] for j, s in self.sizes.items()}
        self.widths = {j: [w[i] for i in index] for j, w in self.widths.items()}
        self.k = len(index)
