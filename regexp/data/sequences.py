"""Generated sequence tasks that need memory: offline, from a fixed generator seed (the spec's
seed varies the split and the training, never the data), small enough for a CPU.

- adding (Hochreiter & Schmidhuber 1997): two channels, values U(0, 1) and a marker that is 1 at
  two steps, one in each half; the label is the sum of the two marked values (regression; always
  predicting the mean 1.0 gives an MSE of 1/6).
- noisy_sequence: one channel of Gaussian noise (stddev `noise`) with a short class pattern added at
  a random step of the first half; the label is the class, read at the end (chance 1/classes).
- token_recall: token ids; the label is the first token, followed by `length - 1` random ones
  (chance 1/classes). Ids 0 and 1 are kept free, as TextVectorization keeps them for padding and
  out-of-vocabulary, so an embedding sized for text fits these too.

SEQUENCE_TASKS maps each name (spec/sequences.py lists them and their shapes) to its generator.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GENERATOR_SEED = 0
PATTERN = 5  # steps of a noisy_sequence class pattern
FIRST_TOKEN = 2  # ids 0 (padding) and 1 (out of vocabulary) are never drawn


@dataclass(frozen=True)
class SequenceSamples:
    x: np.ndarray                # (N, steps * channels) float32, flat as every Raw is
    y: np.ndarray                # (N,) labels
    shape: tuple[int, ...]       # (steps, channels), or (steps,) for token ids
    task: str                    # regression | binary | classification
    tokens: int | None = None    # the vocabulary size when x holds token ids


def adding(samples: int, length: int, classes: int | None, noise: float | None) -> SequenceSamples:
    rng = np.random.default_rng(GENERATOR_SEED)
    values = rng.uniform(0.0, 1.0, (samples, length))
    marks = np.zeros((samples, length))
    half = length // 2
    first, second = rng.integers(0, half, samples), rng.integers(half, length, samples)
    rows = np.arange(samples)
    marks[rows, first] = marks[rows, second] = 1.0
    x = np.stack([values, marks], axis=-1).astype(np.float32)
    return SequenceSamples(x.reshape(samples, -1), (values * marks).sum(axis=1).astype(np.float32), (length, 2),
                           "regression")


def noisy_sequence(samples: int, length: int, classes: int | None, noise: float | None) -> SequenceSamples:
    classes, noise = classes or 2, 1.0 if noise is None else noise
    rng = np.random.default_rng(GENERATOR_SEED)
    patterns = rng.choice([-2.0, 2.0], (classes, PATTERN))  # one +-2 pattern per class
    y = rng.integers(0, classes, samples)
    x = rng.normal(0.0, noise, (samples, length))
    starts = rng.integers(0, max(1, length // 2 - PATTERN + 1), samples)
    steps = np.minimum(starts[:, None] + np.arange(PATTERN), length - 1)
    np.add.at(x, (np.arange(samples)[:, None], steps), patterns[y])
    return SequenceSamples(x.astype(np.float32), y, (length, 1), "binary" if classes == 2 else "classification")


def token_recall(samples: int, length: int, classes: int | None, noise: float | None) -> SequenceSamples:
    classes = classes or 8
    rng = np.random.default_rng(GENERATOR_SEED)
    x = rng.integers(FIRST_TOKEN, FIRST_TOKEN + classes, (samples, length))
    return SequenceSamples(x.astype(np.float32), x[:, 0] - FIRST_TOKEN, (length,),
                           "binary" if classes == 2 else "classification", tokens=FIRST_TOKEN + classes)


SEQUENCE_TASKS: dict[str, Callable[[int, int, int | None, float | None], SequenceSamples]] = {
    "adding": adding,
    "noisy_sequence": noisy_sequence,
    "token_recall": token_recall,
}


def generate(name: str, samples: int | None, length: int | None, classes: int | None,
             noise: float | None) -> SequenceSamples:
    """The samples of generated task `name`, with the spec's defaults (1000 samples of 20 steps)."""
    return SEQUENCE_TASKS[name](samples or 1000, length or 20, classes, noise)
