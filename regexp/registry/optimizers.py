"""The optimizer registry: one OptimizerDef per value of training.optimizer.name, with the Keras class
a trial alone builds, the spec keys it reads, and how a pack steps it per slice. The spec's allowed
names and its unused-key checks (spec/), the Keras builder (net/optimizers.py), the pack's update
(packed/optimizer.py) and what packs refuse (packed/grouping.py) read it. No numpy or TensorFlow.

A pack's update is written by hand because a Keras optimizer has one learning rate and one set of
hyperparameters for all its variables; each `pack_update` is the formula of its Keras class
(keras/src/optimizers/*.py, Keras 3.15) on stacked (K, ...) tensors, and tests/test_packed.py checks
it against that class for every entry that has one. Adding an optimizer is one OptimizerDef here
plus its test; a key no optimizer had yet is also a field of spec/training.py's Optimizer.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COMMON_PARAMS = frozenset({"name", "learning_rate", "epsilon", "weight_decay", "clipnorm"})  # no warning for these


@dataclass(frozen=True)
class PackStep:
    """One variable's update in a pack: weights w (after weight decay), gradient g and its square as
    Keras sums it (embeddings: packed/optimizer.py), Keras's slots, the step's rates lr, hyperparameters
    per slice (each (K, 1, ...) to broadcast), the step number t (from 1) and tf.math."""
    w: Any
    g: Any
    square: Any
    slots: dict[str, Any]
    lr: Any
    hyper: dict[str, Any]
    t: Any
    math: Any


@dataclass(frozen=True)
class OptimizerDef:
    name: str
    keras_class: str  # in keras.optimizers
    params: tuple[str, ...] = ()  # the keys of training.optimizer given to it (learning_rate, clipnorm, ... always)
    fixed: dict[str, Any] = field(default_factory=dict)  # arguments the name implies (nesterov: True)
    defaults: dict[str, float] = field(default_factory=dict)  # its own defaults where the spec's differ (Keras's)
    meant: dict[str, str] = field(default_factory=dict)  # a key it ignores -> the key the user probably meant
    slots: tuple[str, ...] = ()  # Keras's names of its per-variable state
    squares: bool = False  # its update reads the gradient's square
    default_weight_decay: float = 0.0  # Keras's, when weight_decay is unset
    pack_update: Callable[[PackStep], tuple[Any, dict[str, Any]]] | None = None  # -> (new weights, new slots)
    unpacked: str = "its update is not written for packs"  # why packs refuse it, when pack_update is None


def _sgd(s: PackStep):
    return s.w - s.g * s.lr, {}


def _momentum(s: PackStep):
    m = s.slots["momentum"] * s.hyper["momentum"] - s.g * s.lr
    return s.w + m, {"momentum": m}


def _nesterov(s: PackStep):
    mu = s.hyper["momentum"]
    m = s.slots["momentum"] * mu - s.g * s.lr
    return s.w + (m * mu - s.g * s.lr), {"momentum": m}


def _rmsprop(s: PackStep):
    rho = s.hyper["rho"]
    v = rho * s.slots["velocity"] + (1 - rho) * s.square
    return s.w - (s.lr * s.g) / s.math.sqrt(v + s.hyper["epsilon"]), {"velocity": v}


def _adam(s: PackStep):
    b1, b2, m, v = s.hyper["beta_1"], s.hyper["beta_2"], s.slots["momentum"], s.slots["velocity"]
    alpha = s.lr * s.math.sqrt(1 - s.math.pow(b2, s.t)) / (1 - s.math.pow(b1, s.t))
    m = m + (s.g - m) * (1 - b1)
    v = v + (s.square - v) * (1 - b2)
    return s.w - (m * alpha) / (s.math.sqrt(v) + s.hyper["epsilon"]), {"momentum": m, "velocity": v}


def _lion(s: PackStep):
    b1, b2, m = s.hyper["beta_1"], s.hyper["beta_2"], s.slots["momentum"]
    return s.w - s.lr * s.math.sign(m * b1 + s.g * (1 - b1)), {"momentum": m * b2 + s.g * (1 - b2)}


SGD_MEANT = {"beta_1": "momentum", "beta_2": "momentum", "rho": "momentum"}  # the notes write momentum's as beta
ADAM_MEANT = {"momentum": "beta_1", "rho": "beta_2"}
ADAM = {"params": ("beta_1", "beta_2", "epsilon"), "meant": ADAM_MEANT}
OPTIMIZER_DEFS = (
    OptimizerDef("sgd", "SGD", fixed={"momentum": 0.0}, pack_update=_sgd),
    OptimizerDef("momentum", "SGD", ("momentum",), meant=SGD_MEANT, slots=("momentum",), pack_update=_momentum),
    OptimizerDef("nesterov", "SGD", ("momentum",), {"nesterov": True}, meant=SGD_MEANT, slots=("momentum",),
                 pack_update=_nesterov),
    OptimizerDef("rmsprop", "RMSprop", ("rho", "epsilon"), meant={"beta_2": "rho", "beta_1": "rho", "momentum": "rho"},
                 slots=("velocity",), squares=True, pack_update=_rmsprop),
    OptimizerDef("adam", "Adam", **ADAM, slots=("momentum", "velocity"), squares=True, pack_update=_adam),
    OptimizerDef("adamw", "AdamW", **ADAM, slots=("momentum", "velocity"), squares=True, default_weight_decay=0.004,
                 pack_update=_adam),  # Keras's AdamW decays by 0.004 unless weight_decay is set
    OptimizerDef("lion", "Lion", ("beta_1", "beta_2"), defaults={"beta_2": 0.99}, meant=ADAM_MEANT,
                 slots=("momentum",), pack_update=_lion),  # Chen et al., 2023: the sign of an interpolated momentum
    OptimizerDef("nadam", "Nadam", **ADAM,
                 unpacked="Keras's Nadam keeps a running product of its momentum schedule, not written per slice"),
)
OPTIMIZERS: dict[str, OptimizerDef] = {o.name: o for o in OPTIMIZER_DEFS}


def reads(name: str) -> frozenset[str]:
    """The keys of training.optimizer the optimizer `name` reads besides the common ones."""
    return frozenset(OPTIMIZERS[name].params) - COMMON_PARAMS
