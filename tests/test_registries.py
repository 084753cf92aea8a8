"""The registries (regexp/registry/): every entry a pack computes agrees with its Keras definition, every
entry a pack refuses says why, early stopping in a pack is Keras's rule, and the registries import
nothing heavy."""

import subprocess
import sys
import typing

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from regexp.errors import SpecError
from regexp.packed import measures
from regexp.packed.grouping import unpackable
from regexp.packed.stopping import EarlyStop
from regexp.registry.metrics import METRIC_DEFS
from regexp.registry.optimizers import OPTIMIZER_DEFS
from regexp.registry.schedules import SCHEDULE_DEFS
from regexp.spec import load_spec
from regexp.spec.training import Schedule
from tests.conftest import TINY, merged

from runfolders import pack_task

OUTPUTS = {"classification": 4, "binary": 1, "regression": 1}
PACKED_METRICS = [(m.name, task) for m in METRIC_DEFS if m.pack for task in sorted(m.tasks)]


def _batches(task: str, seed: int):
    """Two batches of (K=2, B, outputs) logits and targets, mixed (soft) targets in the second."""
    rng = np.random.default_rng(seed)
    for size, soft in ((7, False), (5, True)):
        logits = rng.normal(size=(2, size, OUTPUTS[task])).astype(np.float32) * 2
        if task == "regression":
            y = rng.normal(size=logits.shape).astype(np.float32)
        elif task == "binary":
            y = (rng.random(logits.shape) < 0.5).astype(np.float32)
        else:
            y = np.eye(OUTPUTS[task], dtype=np.float32)[rng.integers(OUTPUTS[task], size=(2, size))]
        if soft and task != "regression":
            y = 0.7 * y + 0.3 * y[:, ::-1]  # a mixed target, dominated by the sample's own label
        yield tf.constant(logits), tf.constant(y)


@pytest.mark.parametrize(("name", "task"), PACKED_METRICS, ids=[f"{n}-{t}" for n, t in PACKED_METRICS])
def test_each_pack_reduction_is_its_keras_metric(name, task):
    """Summed per slice over two batches, then finished: what the trial alone's Keras metric says."""
    totals = None
    for logits, y in _batches(task, seed=len(name)):
        sums = {key: value.numpy() for key, value in measures.sums(task, [name], logits, y).items()}
        totals = sums if totals is None else {key: totals[key] + sums[key] for key in totals}
    entry = next(m for m in METRIC_DEFS if m.name == name)
    for k in range(2):
        metric = entry.keras(task)
        for logits, y in _batches(task, seed=len(name)):
            p = (logits if task == "regression" else tf.nn.softmax(logits) if task == "classification"
                 else tf.sigmoid(logits))
            metric.update_state(y[k], p[k])
        assert measures.means(totals, k, [name])[name] == pytest.approx(float(metric.result()), rel=1e-5, abs=1e-6)


def _slices(write_spec, **training):
    return load_spec(write_spec(merged(TINY, training={"epochs": 2, **training})))


@pytest.mark.parametrize("entry", [m for m in METRIC_DEFS if not m.pack], ids=lambda m: m.name)
def test_a_metric_packs_do_not_compute_sends_its_trial_alone_saying_why(write_spec, entry):
    task = sorted(entry.tasks)[0]
    data = {"dataset": "regression"} if task == "regression" else {"dataset": "breast_cancer"}
    reason = unpackable(load_spec(write_spec(merged(TINY, data=data, model={"task": task},
                                                    training={"metrics": [entry.name]}))))
    assert reason.startswith(f"training.metrics: {entry.name} is not computed in packs") and entry.unpacked in reason


@pytest.mark.parametrize("entry", [o for o in OPTIMIZER_DEFS if not o.pack_update], ids=lambda o: o.name)
def test_an_optimizer_packs_do_not_step_sends_its_trial_alone_saying_why(write_spec, entry):
    reason = unpackable(_slices(write_spec, optimizer={"name": entry.name}))
    assert reason.startswith(f"training.optimizer.name: {entry.name} is not packed: {entry.unpacked}")


@pytest.mark.parametrize("entry", [s for s in SCHEDULE_DEFS if s.unpacked], ids=lambda s: s.name)
def test_a_schedule_packs_do_not_follow_sends_its_trial_alone_saying_why(write_spec, entry):
    reason = unpackable(_slices(write_spec, lr_schedule=entry.name))
    assert reason == f"training.lr_schedule: {entry.name} is not packed: {entry.unpacked}"


def test_every_registered_schedule_is_a_spec_schedule_and_back():
    spec_names = [typing.get_args(cls.model_fields["name"].annotation)[0]
                  for cls in typing.get_args(typing.get_args(Schedule)[0])]
    assert spec_names == [s.name for s in SCHEDULE_DEFS]


MONITORED = [[0.9, 0.8, 0.85, 0.79, 0.8, 0.81, 0.7], [0.5, 0.5, 0.5, 0.5], [1.0, 1.2, 0.7, 0.69, 0.68, 0.9, 0.95, 0.99]]


@pytest.mark.parametrize("values", MONITORED)
@pytest.mark.parametrize(("mode", "min_delta", "patience", "restore"), [
    ("min", 0.0, 1, True), ("min", 0.05, 2, True), ("max", 0.0, 2, False), ("max", 0.02, 0, True)])
def test_a_slice_stops_and_keeps_the_epoch_kerass_early_stopping_does(values, mode, min_delta, patience, restore):
    """keras.callbacks.EarlyStopping on a model whose only weight is the epoch's number: the epoch
    training stops after and the weights it restores are the pack's."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    keras_rule = keras.callbacks.EarlyStopping("val_loss", min_delta, patience, mode=mode,
                                               restore_best_weights=restore)
    keras_rule.set_model(model)
    model.stop_training = False  # what fit sets before the first epoch
    keras_rule.on_train_begin()
    pack_rule = EarlyStop("val_loss", patience, min_delta, mode == "max", restore)
    kept, pack_stopped = None, None
    for epoch, value in enumerate(values):
        model.set_weights([np.full((1, 1), epoch, np.float32)])
        keras_rule.on_epoch_end(epoch, {"val_loss": value})
        keep, stop = pack_rule.update(epoch, value)
        kept = epoch if keep else kept
        if stop:
            pack_stopped = epoch
            break
        assert not model.stop_training, epoch
    assert model.stop_training == (pack_stopped is not None)
    keras_rule.on_train_end()
    if restore:  # Keras restores at the end of training, stopped early or not, as a pack's _end does
        assert model.get_weights()[0][0, 0] == kept
    assert pack_rule.best_epoch == keras_rule.best_epoch


def test_the_registries_import_no_numpy_or_tensorflow():
    code = ("import sys, regexp.registry.metrics, regexp.registry.optimizers, regexp.registry.schedules; "
            "print([m for m in ('numpy', 'tensorflow', 'keras') if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


@pytest.mark.parametrize("data", [{"dataset": "breast_cancer"}, {"dataset": "iris"}], ids=["binary", "classification"])
def test_f1_trains_alone_and_in_a_pack_and_the_report_maximizes_it(runner, write_spec, tmp_path, data):
    """training.metrics: [f1] is Keras's macro F1; a pack's f1 is the same number; the report's
    test_f1 is a column where higher is better, bounded by [0, 1]."""
    from regexp.cli import app
    from regexp.packed.trainer import run_pack
    from regexp.store.folders import read_run
    from regexp.trial.train import train

    spec = write_spec(merged(TINY, data=data, training={"epochs": 2, "metrics": ["accuracy", "f1"]}))
    arms = [["seed=1"], ["seed=2"]]
    packed = run_pack(pack_task(spec, arms, tmp_path / "runs"))
    for arm, result in zip(arms, packed):
        alone = read_run(train(load_spec(spec, arm), tmp_path / "alone"))
        in_pack = read_run(tmp_path / "runs" / result.run)
        assert [r["val_f1"] for r in in_pack.history] == pytest.approx([r["val_f1"] for r in alone.history], rel=1e-4)
        assert 0.0 <= alone.metrics.test["f1"] <= 1.0 and alone.metrics.directions["f1"] == "max"
    report = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--metric", "test_f1",
                                 "--format", "json"])
    assert report.exit_code == 0, report.output
    assert "test_f1" in report.output


def test_lion_takes_kerass_defaults_trains_and_packs(write_spec, tmp_path):
    """training.optimizer: {name: lion} is keras.optimizers.Lion with its own beta_2 (0.99) unless
    written; a pack steps it (test_packed checks the update against Keras's)."""
    from regexp.net.optimizers import build_optimizer
    from regexp.store.folders import read_run
    from regexp.trial.train import train

    loaded = _slices(write_spec, optimizer={"name": "lion", "learning_rate": 0.0003})
    optimizer = build_optimizer(loaded.spec.training, steps_per_epoch=1)
    assert type(optimizer).__name__ == "Lion" and (optimizer.beta_1, optimizer.beta_2) == (0.9, 0.99)
    assert unpackable(loaded) is None
    run = read_run(train(loaded, tmp_path / "runs"))
    config = yaml.safe_load((run.path / "config.yaml").read_text())
    assert run.status == "completed" and config["training"]["optimizer"]["beta_2"] == 0.99
    assert _slices(write_spec, optimizer={"name": "lion", "beta_2": 0.95}).spec.training.optimizer.beta_2 == 0.95
    with pytest.raises(SpecError, match="rho: is not used by optimizer lion; did you mean 'beta_2'"):
        _slices(write_spec, optimizer={"name": "lion", "rho": 0.95})
