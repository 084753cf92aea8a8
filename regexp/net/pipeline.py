"""The input pipeline: tf.data batches for training (shuffled; mixup or cutmix applied) and evaluation.

A cached tf.data pipeline with the whole epoch in one `steps_per_execution` call takes about a
fifth of the time per epoch of `fit(numpy arrays)` with one step per call on the digits
quickstart (bench/README.md); the model and the order of operations are the same.
"""

import keras
import numpy as np
import tensorflow as tf

from regexp.net.draws import epoch_orders
from regexp.spec.training import Training


class EpochOrder(keras.callbacks.Callback):
    """The sample order of the epoch that fit is starting (regexp/net/draws.py: from the trial's seed).

    Keras makes a new iterator over the training dataset at the start of every epoch, after the
    callbacks' on_epoch_begin; the dataset asks this callback for that epoch's permutation then.
    """

    def __init__(self, seed: int, n: int, epochs: int):
        super().__init__()
        self.orders, self.epoch = epoch_orders(seed, n, 0, epochs), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def current(self):
        yield self.orders[self.epoch]


def train_batches(x: np.ndarray, targets: np.ndarray, shape: tuple[int, ...] | None, training: Training,
                  batch_size: int, order: EpochOrder, seed: int) -> tf.data.Dataset:
    """Each epoch's batches in the order `order` gives; with mixup or cutmix, inputs and (one-hot)
    targets mixed together, drawing from `seed`."""
    n = len(targets)
    x, targets = tf.constant(x.astype(np.float32)), tf.constant(targets)
    ds = tf.data.Dataset.from_generator(order.current, output_signature=tf.TensorSpec((n,), tf.int64))
    ds = ds.flat_map(lambda index: tf.data.Dataset.from_tensor_slices(index).batch(batch_size))
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))  # so fit knows an epoch's steps
    ds = ds.map(lambda index: (tf.gather(x, index), tf.gather(targets, index)))
    if training.mixup is None and training.cutmix is None:
        return ds.prefetch(tf.data.AUTOTUNE)
    if training.mixup is not None:
        ds = ds.map(lambda x, y: mixup(x, y, training.mixup.alpha, seed))
    else:
        # a (lo, hi) factor: Keras draws α from U(lo, hi) per batch; a float f means U(0, f)
        alpha = training.cutmix.alpha
        cutmix = keras.layers.CutMix(factor=(alpha, alpha), seed=seed)

        def cut(x, y):
            images = tf.reshape(x, (-1, *shape))
            box = cutmix.get_random_transformation(images, training=True)
            mixed = cutmix.transform_images(images, box, training=True)
            # Keras mixes the labels by the box's real-valued area; on small images the pixels really
            # pasted differ from that by up to 0.2, so the share is counted from the mask itself.
            pasted = tf.reduce_mean(tf.cast(box["batch_masks"], tf.float32), axis=[1, 2, 3])[:, None]
            labels = (1.0 - pasted) * y + pasted * tf.gather(y, box["permutation_order"])
            return tf.reshape(mixed, (-1, int(np.prod(shape)))), labels
        ds = ds.map(cut)
    return ds.prefetch(tf.data.AUTOTUNE)


def mixup(x, y, alpha: float, seed: int):
    """Mixup (Zhang et al., 2018) for a batch of inputs of any rank: `mix` with λ ~ Beta(α, α) per
    sample and a shuffled partner, drawn from `seed`. Written by hand: Keras's MixUp layer handles
    4-D images only."""
    n = tf.shape(x)[0]
    a = tf.random.gamma([n], alpha, seed=seed)
    b = tf.random.gamma([n], alpha, seed=seed + 1)
    return mix(x, y, folded(a, b), tf.random.shuffle(tf.range(n), seed=seed + 2))


def folded(a, b):
    """λ = a / (a + b) from two Gamma(α) draws (so λ ~ Beta(α, α)), folded to max(λ, 1-λ): that swaps
    the roles of the pair and leaves the mixed batch's distribution unchanged, so the label with the
    larger weight is the sample's own, and accuracy against the argmax of the mixed label is accuracy
    against the unmixed label."""
    lam = a / (a + b)
    return tf.maximum(lam, 1.0 - lam)


def mix(x, y, lam, partner, batch_dims: int = 0):
    """x = λx + (1-λ)x', y = λy + (1-λ)y' with x' the partner's: the one mixing rule of a trial's batches
    and a pack's (which has a leading slice axis: lam and partner (K, B), batch_dims=1)."""
    def weight(t):
        return tf.reshape(lam, tf.concat([tf.shape(lam), tf.ones([len(t.shape) - len(lam.shape)], tf.int32)], 0))
    lx, ly = weight(x), weight(y)
    return (lx * x + (1 - lx) * tf.gather(x, partner, batch_dims=batch_dims),
            ly * y + (1 - ly) * tf.gather(y, partner, batch_dims=batch_dims))


def eval_batches(x: np.ndarray, targets: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches in order, for validation: no gradient noise to trade for speed, so big ones."""
    return tf.data.Dataset.from_tensor_slices((x.astype(np.float32), targets)).batch(batch_size).cache()
