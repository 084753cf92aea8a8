"""Keras's optimizers, per slice, on stacked variables: each slice gets its own learning rate (from
its own schedule), hyperparameters, gradient clipping and weight decay.

Written by hand: a Keras optimizer has one learning rate and one set of hyperparameters for all
its variables. The steps around the update are Keras's base optimizer's, in its order: clip each
gradient to its norm (clipnorm), decoupled weight decay w -= w * wd * lr, then the update, which is
the optimizer registry entry's `pack_update` (regexp/registry/optimizers.py: the formula of the Keras
class a trial alone gets). A slice that is not active (stopped early or failed) keeps its weights and state.

An Embedding's gradient reaches a trial's Keras optimizer as tf.IndexedSlices, one row per sample
with a row's samples not summed, and Keras's TensorFlow ops square those rows before they are summed
(ops.square keeps the slices; adding them to a dense slot sums them): Adam's and RMSprop's second
moment of an embedding row is the sum of its samples' squared gradients, not the square of its
gradient, and clipnorm's norm is over the samples' rows too. `squares` (trainer._step: the one-hot
codes times each sample's squared output gradient) gives a pack's embeddings those same sums.
"""

import numpy as np
import tensorflow as tf

from regexp.net.optimizers import build_schedule
from regexp.packed.stack import gather, lead, per_slice
from regexp.registry.optimizers import OPTIMIZERS, PackStep
from regexp.spec.training import Optimizer, Training

# XLA fuses the update's ~20 elementwise ops per variable into one pass over the pack's weights (the
# optimizer was 60% of an Adam pack's step; bench/packed.py): about 4 ns saved per weight and step (225
# quickstart slices: 2.60 -> 1.89 ms per model-epoch), for about 0.3 s CPU to compile each new pack's
# step. A pack with fewer weight-steps (weights x the steps it will take) than this steps without it: a
# decide sweep's packs of 10 penguin trials (4,830 weights, 390 steps) ran as fast uncompiled, and each
# saved the compile (bench/README.md, packed tables). Only here: compiling the whole epoch, with its
# stateful random draws and gathers, made it 70x slower on CPU.
XLA_WORK = 7e7


class PackedOptimizer:
    def __init__(self, name: str, settings: list[Optimizer], variables: list[tf.Variable], steps: int | None = None):
        """`steps`: how many the pack will take (None: unknown, compiled with XLA)."""
        self.entry, self.variables = OPTIMIZERS[name], variables
        work = None if steps is None else steps * sum(int(np.prod(v.shape)) for v in variables)
        self.apply = tf.function(self._apply, jit_compile=work is None or work >= XLA_WORK, autograph=False)
        self.hyper = {key: per_slice([getattr(o, key) for o in settings]) for key in self.entry.params}
        default = self.entry.default_weight_decay  # Keras's, which a trial alone gets when unset
        self.weight_decay = per_slice([default if o.weight_decay is None else o.weight_decay for o in settings])
        self.clipnorm = per_slice([o.clipnorm or float("inf") for o in settings])
        self.decays = bool((self.weight_decay.numpy() > 0).any())
        self.clips = bool(tf.reduce_any(tf.math.is_finite(self.clipnorm)))
        self.squares = self.clips or self.entry.squares  # whether `squares` matter to apply
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.slots = {slot: [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
                      for slot in self.entry.slots}

    def keep(self, index, variables: list[tf.Variable]) -> None:
        """Only the slices `index` stay (the stack kept them; `variables` are its new trainable ones):
        their hyperparameters and slots are gathered; the step counter is shared and goes on."""
        self.variables = variables
        self.hyper = {key: tf.gather(value, index) for key, value in self.hyper.items()}
        self.weight_decay, self.clipnorm = tf.gather(self.weight_decay, index), tf.gather(self.clipnorm, index)
        self.slots = {name: [gather(v, index) for v in slots] for name, slots in self.slots.items()}

    def _apply(self, gradients: list[tf.Tensor], lr: tf.Tensor, active: tf.Tensor, squares: dict | None = None) -> None:
        """One step for every slice: lr (K,) this step's rates; active (K,) bool; squares {variable index:
        its gradient's squares as Keras sums them} for an embedding (else the gradient squared)."""
        t = tf.cast(self.iterations + 1, tf.float32)
        for i, (g, w) in enumerate(zip(gradients, self.variables)):
            rank = len(w.shape)
            rate, keep = lead(lr, rank), tf.reshape(active, [-1] + [1] * (rank - 1))
            square = (squares or {}).get(i)
            if self.clips:
                g, square = _clip_by_norm(g, lead(self.clipnorm, rank), square)
            decayed = w - w * lead(self.weight_decay, rank) * rate if self.decays else w
            slots = {name: per_variable[i] for name, per_variable in self.slots.items()}
            hyper = {key: lead(value, rank) for key, value in self.hyper.items()}
            new, slots = self.entry.pack_update(PackStep(decayed, g, tf.square(g) if square is None else square, slots,
                                                         rate, hyper, t, tf.math))
            w.assign(tf.where(keep, new, w))
            for name, slot in slots.items():
                self.slots[name][i].assign(tf.where(keep, slot, self.slots[name][i]))
        self.iterations.assign_add(1)


def _clip_by_norm(g, clipnorm, square=None):
    """Keras's per-variable clipnorm, per slice (an infinite clipnorm leaves the slice's gradient as is);
    an embedding's `square` (see above) is its norm, and is clipped with it."""
    axes = list(range(1, len(g.shape)))
    l2sum = tf.reduce_sum(tf.square(g) if square is None else square, axes, keepdims=True)
    l2norm = tf.where(l2sum > 0, tf.sqrt(tf.where(l2sum > 0, l2sum, tf.ones_like(l2sum))), l2sum)
    factor = tf.where(tf.math.is_finite(clipnorm), clipnorm / tf.maximum(l2norm, clipnorm), 1.0)
    return g * factor, None if square is None else square * tf.square(factor)


def step_rates(training: Training, epochs: int, steps: int) -> np.ndarray:
    """The learning rate of every step of every epoch, as the trial alone would step with it."""
    total = epochs * steps
    schedule = build_schedule(training, steps)
    if schedule is None:
        return np.full(total, training.optimizer.learning_rate, np.float32)
    per_step = training.lr_schedule.unit == "step"  # per epoch: LearningRateScheduler sets schedule(epoch)
    at = tf.range(total if per_step else epochs, dtype=tf.float32)
    values = tf.map_fn(lambda t: tf.cast(schedule(t), tf.float32), at).numpy()  # map_fn: CosineDecay uses cond
    return values if per_step else np.repeat(values, steps)
