"""Optimizers and learning-rate schedules from Spec.training, using Keras's own classes, as the
optimizer and schedule registries (regexp/registry/) name them.

Per-step schedules go into the optimizer; per-epoch ones are applied by Keras's
LearningRateScheduler at the start of each epoch; `plateau` is Keras's ReduceLROnPlateau.
"""

import keras

from regexp.registry.keras_parts import InverseSqrtDecay  # noqa: F401 (registers it: saved.py)
from regexp.registry.optimizers import OPTIMIZERS
from regexp.registry.schedules import SCHEDULES
from regexp.spec.training import Optimizer, Training


def build_schedule(training: Training, steps_per_epoch: int):
    """A Keras LearningRateSchedule for the spec (None for constant and plateau)."""
    s = training.lr_schedule
    if s is None or SCHEDULES[s.name].keras is None:
        return None
    total = training.epochs * (steps_per_epoch if s.unit == "step" else 1)
    return SCHEDULES[s.name].keras(s, training.optimizer.learning_rate, total)


def build_optimizer(training: Training, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    o: Optimizer = training.optimizer
    schedule = build_schedule(training, steps_per_epoch)
    per_step = schedule is not None and training.lr_schedule.unit == "step"
    lr = schedule if per_step else float(schedule(0)) if schedule is not None else o.learning_rate
    common = {"learning_rate": lr, "clipnorm": o.clipnorm}
    if o.weight_decay is not None:
        common["weight_decay"] = o.weight_decay
    entry = OPTIMIZERS[o.name]
    return getattr(keras.optimizers, entry.keras_class)(**{key: getattr(o, key) for key in entry.params},
                                                        **entry.fixed, **common)


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
