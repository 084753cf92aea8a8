"""Gradient checking: backprop's gradient against the two-sided numerical difference.

For each parameter θ_i (all of them, or a seeded sample of N per tensor), with J the loss plus the
L1/L2 penalties on a small batch:

    dθ_approx_i = (J(θ + ε e_i) - J(θ - ε e_i)) / 2ε
    difference  = ‖dθ_approx - dθ‖ / (‖dθ_approx‖ + ‖dθ‖)        per tensor, per layer and overall

The model is built in float64 (ε = 1e-7 would drown in float32 rounding), with every dropout and
noise rate set to 0 so that J is a deterministic function of θ; batch norm runs in training mode
(batch statistics), the path backprop actually takes. Thresholds follow the usual recipe.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

FINE, BUG = 1e-7, 1e-3  # below FINE: fine; above BUG: likely a bug; between: inspect
EPSILON = 1e-7


def verdict(difference: float) -> str:
    return "fine" if difference < FINE else "likely bug" if difference > BUG else "inspect"


@dataclass
class TensorCheck:
    name: str            # layer/variable, e.g. "l0/kernel"
    layer: str
    checked: int         # entries compared
    size: int
    difference: float
    zero: bool = False   # both gradients below rounding noise (a bias before batch norm, say)

    @property
    def verdict(self) -> str:
        return "fine (zero gradient)" if self.zero else verdict(self.difference)


@dataclass
class GradCheck:
    tensors: list[TensorCheck]
    layers: dict[str, float]
    overall: float

    @property
    def verdict(self) -> str:
        return verdict(max([t.difference for t in self.tensors], default=0.0))

    @property
    def failed(self) -> bool:
        return any(t.difference > BUG for t in self.tensors)

    def to_json(self) -> dict:
        return {"overall": self.overall, "verdict": self.verdict, "thresholds": {"fine": FINE, "bug": BUG},
                "layers": {name: {"difference": d, "verdict": verdict(d)} for name, d in self.layers.items()},
                "tensors": [{"name": t.name, "layer": t.layer, "checked": t.checked, "size": t.size,
                             "difference": t.difference, "zero_gradient": t.zero, "verdict": t.verdict}
                            for t in self.tensors]}


def check_model(model: keras.Model, loss_fn, x: np.ndarray, y: np.ndarray, *, samples: int | None = 30,
                seed: int = 0, epsilon: float = EPSILON) -> GradCheck:
    """Compare analytic and numerical gradients of loss_fn(y, model(x)) + penalties for `model`."""
    x, y = tf.constant(x, dtype=tf.float64), tf.constant(y, dtype=tf.float64)

    def objective() -> tf.Tensor:
        predictions = model(x, training=True)
        penalties = [tf.cast(term, tf.float64) for term in model.losses] or [tf.constant(0.0, tf.float64)]
        return loss_fn(y, predictions) + tf.add_n(penalties)

    with tf.GradientTape() as tape:
        value = objective()
    # rounding noise of one numerical derivative: J's float64 error over 2ε, with a safety factor
    noise = 10 * np.finfo(np.float64).eps * max(1.0, abs(float(value))) / epsilon
    variables = model.trainable_variables
    analytic = tape.gradient(value, variables)
    rng = np.random.default_rng(seed)
    tensors, approx_all, exact_all, by_layer = [], [], [], {}
    for variable, gradient in zip(variables, analytic):
        flat = np.asarray(variable.numpy(), dtype=np.float64).ravel()
        exact = np.zeros_like(flat) if gradient is None else np.asarray(gradient, dtype=np.float64).ravel()
        picks = np.arange(flat.size) if samples is None or samples >= flat.size else np.sort(
            rng.choice(flat.size, samples, replace=False))
        approx = np.empty(len(picks))
        original = variable.numpy()
        for j, i in enumerate(picks):
            for sign in (1, -1):
                bumped = flat.copy()
                bumped[i] += sign * epsilon
                variable.assign(bumped.reshape(original.shape))
                if sign == 1:
                    plus = float(objective())
                else:
                    approx[j] = (plus - float(objective())) / (2 * epsilon)
        variable.assign(original)
        layer, _, short = variable.path.rpartition("/")
        name = f"{layer}/{short}" if layer else short
        floor = noise * np.sqrt(len(picks))
        zero = bool(np.linalg.norm(approx) < floor and np.linalg.norm(exact[picks]) < floor)
        difference = 0.0 if zero else _relative(approx, exact[picks])
        tensors.append(TensorCheck(name, layer, len(picks), flat.size, difference, zero))
        by_layer.setdefault(layer, ([], []))
        by_layer[layer][0].append(approx)
        by_layer[layer][1].append(exact[picks])
        approx_all.append(approx)
        exact_all.append(exact[picks])
    layers = {name: max(t.difference for t in tensors if t.layer == name) if all(
        t.zero for t in tensors if t.layer == name)
              else _relative(np.concatenate(a), np.concatenate(e)) for name, (a, e) in by_layer.items()}
    overall = _relative(np.concatenate(approx_all), np.concatenate(exact_all)) if approx_all else 0.0
    return GradCheck(tensors, layers, overall)


def _relative(approx: np.ndarray, exact: np.ndarray) -> float:
    denominator = np.linalg.norm(approx) + np.linalg.norm(exact)
    return 0.0 if denominator == 0 else float(np.linalg.norm(approx - exact) / denominator)


def check_spec(spec_file, overrides: list[str] = (), *, batch: int = 16, samples: int | None = 30,
               after_steps: int = 0) -> GradCheck:
    """Build the spec's model in float64 without dropout/noise and check it on a small train batch,
    at its initial weights or, with `after_steps`, after that many steps of the spec's optimizer
    (weights away from their initial values, as the notes advise: some bugs show only there)."""
    from regexp.data import prepare
    from regexp.net.model import build_model
    from regexp.net.scoring import loss as task_loss
    from regexp.net.scoring import targets
    from regexp.spec import load_spec

    loaded = load_spec(spec_file, overrides)
    quiet = ["model.defaults.dropout=0", "model.defaults.weight_noise=0", "model.defaults.activation_noise=0",
             "model.input_dropout=0", "model.input_noise=0"]
    quiet += [f"model.layers.{i}.{key}=0" for i, layer in enumerate(loaded.spec.model.layers)
              for key in ("dropout", "recurrent_dropout", "weight_noise", "activation_noise")
              if getattr(layer, key, None) is not None]
    loaded = load_spec(spec_file, [*overrides, *quiet])
    data = prepare(loaded)
    keras.utils.set_random_seed(loaded.spec.seed)
    with float64():
        model = build_model(loaded.spec.model, data, name=loaded.spec.name, seed=loaded.spec.seed)
        x = data.x_train[:batch].astype(np.float64)
        y = targets(data.y_train[:batch], data).astype(np.float64)
        loss = task_loss(data.task, loaded.spec.training.label_smoothing)
        if after_steps:
            train_steps(model, loss, loaded.spec, data, after_steps)
        return check_model(model, loss, x, y, samples=samples, seed=loaded.spec.seed)


def train_steps(model: keras.Model, loss, spec, data, steps: int) -> None:
    """`steps` mini-batch steps of the spec's optimizer and schedule on its train part, in float64."""
    from regexp.net.optimizers import build_optimizer
    from regexp.net.scoring import targets

    training = spec.training
    n = len(data.y_train)
    batch_size, steps_per_epoch = training.batches(n)
    model.compile(optimizer=build_optimizer(training, steps_per_epoch), loss=loss)
    batches = (tf.data.Dataset.from_tensor_slices((data.x_train.astype(np.float64),
                                                   targets(data.y_train, data).astype(np.float64)))
               .shuffle(n, seed=spec.seed).repeat().batch(batch_size))
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)


@contextmanager
def float64():
    """Layers (the dtype policy, cached by Keras once a layer exists) and losses (floatx) in float64."""
    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)
