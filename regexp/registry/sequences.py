"""The generated sequence tasks that need memory: offline, from a fixed generator seed (the spec's
seed varies the split and the training, never the data), small enough for a CPU. Each is a
DatasetDef (registry/datasets.py lists them) whose shape follows its `data.length`.

- adding (Hochreiter & Schmidhuber 1997): two channels, values U(0, 1) and a marker that is 1 at
  two steps, one in each half; the label is the sum of the two marked values (regression; always
  predicting the mean 1.0 gives an MSE of 1/6).
- noisy_sequence: one channel of Gaussian noise (stddev `noise`) with a short class pattern added at
  a random step of the first half; the label is the class, read at the end (chance 1/classes).
- token_recall: token ids; the label is the first token, followed by `length - 1` random ones
  (chance 1/classes). Ids 0 and 1 are kept free, as TextVectorization keeps them for padding and
  out-of-vocabulary, so an embedding sized for text fits these too.

No numpy at import (the registries are read by `validate`): each generator imports it when called.
"""

from dataclasses import replace

GENERATOR_SEED = 0
PATTERN = 5  # steps of a noisy_sequence class pattern
FIRST_TOKEN = 2  # ids 0 (padding) and 1 (out of vocabulary) are never drawn


def adding(samples: int, length: int):
    import numpy as np

    rng = np.random.default_rng(GENERATOR_SEED)
    values = rng.uniform(0.0, 1.0, (samples, length))
    marks = np.zeros((samples, length))
    half = length // 2
    first, second = rng.integers(0, half, samples), rng.integers(half, length, samples)
    rows = np.arange(samples)
    marks[rows, first] = marks[rows, second] = 1.0
    x = np.stack([values, marks], axis=-1).astype(np.float32)
    return x.reshape(samples, -1), (values * marks).sum(axis=1).astype(np.float32), None


def noisy_sequence(samples: int, length: int, classes: int, noise: float):
    import numpy as np

    rng = np.random.default_rng(GENERATOR_SEED)
    patterns = rng.choice([-2.0, 2.0], (classes, PATTERN))  # one +-2 pattern per class
    y = rng.integers(0, classes, samples)
    x = rng.normal(0.0, noise, (samples, length))
    starts = rng.integers(0, max(1, length // 2 - PATTERN + 1), samples)
    steps = np.minimum(starts[:, None] + np.arange(PATTERN), length - 1)
    np.add.at(x, (np.arange(samples)[:, None], steps), patterns[y])
    return x.astype(np.float32), y, None


def token_recall(samples: int, length: int, classes: int):
    import numpy as np

    rng = np.random.default_rng(GENERATOR_SEED)
    x = rng.integers(FIRST_TOKEN, FIRST_TOKEN + classes, (samples, length))
    return x.astype(np.float32), x[:, 0] - FIRST_TOKEN, None


def shaped(d):
    """A sequence task's DatasetDef with the shape, features and vocabulary its length and classes give."""
    channels = {"adding": 2, "noisy_sequence": 1}.get(d.name)
    shape = (d.length, channels) if channels else (d.length,)
    return replace(d, shape=shape, features=d.length * (channels or 1),
                   tokens=FIRST_TOKEN + d.classes if d.name == "token_recall" else 0)
