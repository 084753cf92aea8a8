"""Optimizers and learning-rate schedules from Spec.training, using Keras's own classes.

A schedule is a function of t, the number of epochs (unit: epoch) or optimizer steps (unit: step)
completed so far, so `step` with boundaries [5, 10, 15] trains epochs 1-5 at a0, 6-10 at a0*f...
Per-step schedules go into the optimizer; per-epoch ones are applied by Keras's
LearningRateScheduler at the start of each epoch; `plateau` is Keras's ReduceLROnPlateau.
"""

import keras

from regexp.spec.training import OPTIMIZERS, Optimizer, Training


@keras.saving.register_keras_serializable(package="regexp")
class InverseSqrtDecay(keras.optimizers.schedules.LearningRateSchedule):
    """a0 * k / sqrt(t + 1). Written by hand: Keras ships no inverse-square-root schedule."""

    def __init__(self, initial_learning_rate: float, k: float = 1.0):
        self.initial_learning_rate, self.k = initial_learning_rate, k

    def __call__(self, step):
        t = keras.ops.cast(step, "float32")
        return self.initial_learning_rate * self.k / keras.ops.sqrt(t + 1.0)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "k": self.k}


def build_schedule(training: Training, steps_per_epoch: int):
    """A Keras LearningRateSchedule for the spec (None for constant and plateau)."""
    s, a0 = training.lr_schedule, training.optimizer.learning_rate
    if s is None or s.name in ("constant", "plateau"):
        return None
    schedules = keras.optimizers.schedules
    if s.name == "exponential":
        return schedules.ExponentialDecay(a0, decay_steps=s.decay_every, decay_rate=s.decay_rate)
    if s.name == "inverse_time":
        return schedules.InverseTimeDecay(a0, decay_steps=1, decay_rate=s.decay_rate)
    if s.name == "inverse_sqrt":
        return InverseSqrtDecay(a0, s.k)
    if s.name in ("step", "piecewise"):
        values = [a0 * s.factor**i for i in range(len(s.boundaries) + 1)] if s.name == "step" else s.values
        # Keras keeps values[i] while t <= boundaries[i]; ours change *at* the boundary, hence b - 1.
        return schedules.PiecewiseConstantDecay([b - 1 for b in s.boundaries], values)
    if s.name == "cosine":
        total = training.epochs * (steps_per_epoch if s.unit == "step" else 1)
        decay_steps = s.decay_steps or max(1, total - s.warmup)
        if s.warmup:
            return schedules.CosineDecay(0.0, decay_steps, alpha=s.alpha, warmup_target=a0, warmup_steps=s.warmup)
        return schedules.CosineDecay(a0, decay_steps, alpha=s.alpha)
    raise ValueError(f"unknown schedule {s.name}")  # unreachable: the schema lists every name


def build_optimizer(training: Training, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    o: Optimizer = training.optimizer
    schedule = build_schedule(training, steps_per_epoch)
    per_step = schedule is not None and training.lr_schedule.unit == "step"
    lr = schedule if per_step else float(schedule(0)) if schedule is not None else o.learning_rate
    common = {"learning_rate": lr, "clipnorm": o.clipnorm}
    if o.weight_decay is not None:
        common["weight_decay"] = o.weight_decay
    keras_class, keys, fixed = OPTIMIZERS[o.name]  # the registry in spec/training.py
    return getattr(keras.optimizers, keras_class)(**{key: getattr(o, key) for key in keys}, **fixed, **common)


def schedule_callbacks(training: Training, monitor_mode) -> list[keras.callbacks.Callback]:
    """Per-epoch schedule callbacks (none when the schedule runs per step inside the optimizer)."""
    s = training.lr_schedule
    if s is None or s.name == "constant":
        return []
    if s.name == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor=s.monitor, factor=s.factor, patience=s.patience,
                                                  min_lr=s.min_lr, mode=monitor_mode(s.monitor), min_delta=0.0)]
    if s.unit == "step":
        return []
    schedule = build_schedule(training, steps_per_epoch=1)
    return [keras.callbacks.LearningRateScheduler(lambda epoch, lr: float(schedule(epoch)))]


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    """The rate the next step will use (evaluates a per-step schedule at the current iteration)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
