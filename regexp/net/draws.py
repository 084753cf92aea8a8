"""What a trial draws from its seed, in one place, so that a trial run alone and the same trial in
a pack (regexp/packed/) start from the same weights and see their batches in the same order.

No TensorFlow here: numpy's SeedSequence mixes (seed, purpose, index) into independent streams.
Dropout masks and noise draws are not derived here: they come from Keras's global seed in a solo
run and from the pack's own stream in a pack (the same distribution, other draws; bench/README.md).
"""

import numpy as np

# purposes: one stream per purpose, so adding one never shifts the others
_INIT, _ORDER, _EMBED, _RECURRENT = 1, 2, 3, 4


def layer_seed(seed: int, layer: int) -> int:
    """The int seed of weighted layer `layer`'s kernel initializer (the output layer is the last index)."""
    return int(np.random.SeedSequence([seed, _INIT, layer]).generate_state(1)[0] % (2**31 - 1))


def embedding_seed(seed: int, column: int) -> int:
    """The int seed of the embedding table of categorical column `column` (its index in the table)."""
    return int(np.random.SeedSequence([seed, _EMBED, column]).generate_state(1)[0] % (2**31 - 1))


def recurrent_seed(seed: int, layer: int, kernel: int) -> int:
    """The int seed of recurrent layer `layer`'s other kernels: 0 its state-to-state kernel, 1 and 2
    the input and state kernels of its backward copy (bidirectional)."""
    return int(np.random.SeedSequence([seed, _RECURRENT, layer, kernel]).generate_state(1)[0] % (2**31 - 1))


def epoch_orders(seed: int, n: int, first: int, last: int) -> np.ndarray:
    """Sample order of epochs first+1 .. last (0-based rows first .. last-1): one permutation of n each.

    Per epoch rather than one stream, so a resumed run sees the same orders as one never stopped.
    """
    return np.stack([np.random.default_rng(np.random.SeedSequence([seed, _ORDER, e])).permutation(n)
                     for e in range(first, last)]) if last > first else np.zeros((0, n), dtype=np.int64)
