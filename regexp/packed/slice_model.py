"""A slice of a pack as the plain Keras model its trial alone builds (net/model.py, compiled as
train.py compiles it), holding the slice's weights and optimizer state: what model.keras and a
slice's resume point save. The slices of one point share one Keras model (SliceModels._model_of)."""

import json

import keras
import numpy as np

from regexp.data import Prepared
from regexp.net.model import build_model, embedding_initializer, initializer, set_scaling
from regexp.packed.stack import Stack
from regexp.spec.schema import WEIGHTED
from regexp.trial.distribute import compile_model


class SliceModels:
    def __init__(self, stack: Stack, steps: int):
        self.stack, self.steps = stack, steps
        self._models: dict[str, keras.Model] = {}  # _model_of's: one per point

    def build(self, spec, data: Prepared, k: int, values: list[np.ndarray], optimizer: dict,
              rate: float) -> keras.Model:
        """Slice k's model: `values` in the stack's variables' order, `optimizer` {iterations, slots},
        `rate` the learning rate it last stepped with."""
        model = self._model_of(spec, data)
        by_name = dict(zip(self.stack.variables, values))
        for (layer, weight), value in by_name.items():
            _weight(model, layer, weight).assign(self.stack.part((layer, weight), value, k))
        opt = model.optimizer
        schedule = spec.training.lr_schedule
        if schedule is None or schedule.unit == "epoch":  # a variable, which LearningRateScheduler sets each epoch
            opt.learning_rate = rate
        slots = {v.name: v for v in opt.variables}  # Keras names a slot <variable path with _>_<slot>
        opt.iterations.assign(optimizer["iterations"])
        trainable = [key for key, v in self.stack.variables.items() if v.trainable]  # the optimizer's order
        for name, per_variable in optimizer["slots"].items():
            for (layer, weight), value in zip(trainable, per_variable):
                slots[f"{_weight(model, layer, weight).path.replace('/', '_')}_{name}"].assign(
                    self.stack.part((layer, weight), value, k))
        return model

    def _model_of(self, spec, data: Prepared) -> keras.Model:
        """The compiled Keras model of a slice. Building one costs about 35 ms (layers, compile, the
        optimizer's slots), so the slices of one point (the same spec but the seed) share one: what a
        seed changes in the model's config is its initializers' seeds, set here, and its scaling
        statistics, which are weights (model.set_scaling), and a table's fills and embedding seeds, set
        here too (the vocabulary sizes, which decide its layers' shapes, are in the key). Its config is the
        one the trial alone saves (tests/test_packed.py compares them)."""
        table = [(c.kind, c.encoding, c.fill is not None, c.indicator, len(c.vocabulary or ()))
                 for c in data.columns or []]
        key = json.dumps([spec.name, spec.model.model_dump(mode="json"), spec.training.model_dump(mode="json"),
                          data.features, data.shape, data.classes, data.task, table,
                          {} if "mean" in data.scale else data.scale], default=str)
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = build_model(spec.model, data, name=spec.name, training=spec.training,
                                                    seed=spec.seed)
            compile_model(model, spec.training, data, self.steps, None, spec.logging.per_step)  # as train.py
            model.optimizer.build(model.trainable_variables)  # as a trial alone saves it: slots included
            return model
        if "mean" in data.scale:
            set_scaling(model.get_layer("scale"), data)
        layers = spec.model.resolved_layers()
        for i, layer in enumerate(layers):
            if isinstance(layer, WEIGHTED):
                model.get_layer(f"l{i}").kernel_initializer = initializer(layer.initializer, spec.seed, i)
        model.get_layer("output").kernel_initializer = initializer(spec.model.output.initializer, spec.seed,
                                                                   len(layers))
        _set_table(model, spec.seed, data)
        return model


def _set_table(model: keras.Model, seed: int, data: Prepared) -> None:
    """A table's per-seed settings in the layers of model._tabular: the fills of its numeric columns
    (TableColumns keeps them in its config) and each Embedding's initializer seed."""
    columns = data.columns or []
    fills = [c.fill if c.fill is not None else 0.0 for c in columns if c.kind == "numeric"]
    for name in ("numeric_columns", "was_missing"):
        if any(layer.name == name for layer in model.layers):
            model.get_layer(name).fills = fills
    for j, column in enumerate(columns):
        if column.kind == "categorical" and column.encoding != "one_hot":
            model.get_layer(f"embed_{j}").embeddings_initializer = embedding_initializer(seed, j)


def _weight(model: keras.Model, layer: str, weight: str):
    return next(w for w in model.get_layer(layer).weights if w.name == weight)
