"""The learning-rate schedule registry: one ScheduleDef per value of training.lr_schedule.name, with the
Keras schedule a trial builds from it. The Keras builder (net/optimizers.py, and so a pack's per-step
rates, packed/optimizer.py), the spec's checks and what packs refuse (packed/grouping.py) read it; its
keys are spec/training.py's classes of the same names (a test holds the two lists equal). No numpy or
TensorFlow: `keras` imports Keras when called.

A schedule is a function of t, the number of epochs (unit: epoch) or optimizer steps (unit: step)
completed so far, so `step` with boundaries [5, 10, 15] trains epochs 1-5 at a0, 6-10 at a0*f...
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScheduleDef:
    name: str
    # (the spec's schedule, a0, t's total over training) -> a keras LearningRateSchedule; None: a0 throughout
    keras: Callable[[Any, float, int], Any] | None = None
    monitors: bool = False  # it reacts to a metric of each epoch (Keras's ReduceLROnPlateau): unit epoch only
    unpacked: str | None = None  # why packs refuse it; None: packs step each slice's rates


def _schedules():
    import keras

    return keras.optimizers.schedules


def _exponential(s, a0: float, total: int):
    return _schedules().ExponentialDecay(a0, decay_steps=s.decay_every, decay_rate=s.decay_rate)


def _inverse_time(s, a0: float, total: int):
    return _schedules().InverseTimeDecay(a0, decay_steps=1, decay_rate=s.decay_rate)


def _inverse_sqrt(s, a0: float, total: int):
    from regexp.registry.keras_parts import InverseSqrtDecay

    return InverseSqrtDecay(a0, s.k)


def _staircase(s, a0: float, total: int):
    values = [a0 * s.factor**i for i in range(len(s.boundaries) + 1)] if s.name == "step" else s.values
    # Keras keeps values[i] while t <= boundaries[i]; ours change *at* the boundary, hence b - 1.
    return _schedules().PiecewiseConstantDecay([b - 1 for b in s.boundaries], values)


def _cosine(s, a0: float, total: int):
    decay_steps = s.decay_steps or max(1, total - s.warmup)
    if s.warmup:
        return _schedules().CosineDecay(0.0, decay_steps, alpha=s.alpha, warmup_target=a0, warmup_steps=s.warmup)
    return _schedules().CosineDecay(a0, decay_steps, alpha=s.alpha)


SCHEDULE_DEFS = (
    ScheduleDef("constant"),
    ScheduleDef("exponential", _exponential),
    ScheduleDef("inverse_time", _inverse_time),
    ScheduleDef("inverse_sqrt", _inverse_sqrt),
    ScheduleDef("step", _staircase),
    ScheduleDef("piecewise", _staircase),
    ScheduleDef("cosine", _cosine),
    ScheduleDef("plateau", monitors=True,
                unpacked="it reacts to each trial's own val metric"),
)
SCHEDULES: dict[str, ScheduleDef] = {s.name: s for s in SCHEDULE_DEFS}
