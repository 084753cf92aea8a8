"""Packed trials: each slice of a pack is the trial it stands for (weights, order, history, early
stopping, failure, interruption), and a sweep writes ordinary run folders from packs."""

import json
import re
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from regexp.cli import app
from regexp.data import prepare
from regexp.net.draws import epoch_orders
from regexp.net.model import build_model
from regexp.net.pipeline import EpochOrder, train_batches
from regexp.packed import trainer as packed_trainer
from regexp.packed.grouping import group, unpackable
from regexp.packed.optimizer import PackedOptimizer
from regexp.packed.stack import Stack
from regexp.registry.optimizers import OPTIMIZER_DEFS
from regexp.spec import load_spec
from regexp.spec.training import Optimizer
from regexp.store.folders import read_run
from regexp.trial.train import resume, train
from tests.conftest import TINY, merged

from runfolders import pack_task

# digits, small: 64 features, 10 classes; dropout off so that a pack and a trial alone compute the same
DIGITS = merged(TINY, data={"dataset": "digits", "subsample": 400}, model={"layers": [{"type": "dense", "units": 16}]},
                training={"epochs": 6, "batch_size": 32, "optimizer": {"name": "adam", "learning_rate": 0.003}})
ARMS = [["seed=3"], ["seed=4", "model.defaults.l2=0.001", "model.output.bias_l2=0.01"], ["seed=5",
                                                                                         "training.optimizer.learning_rate=0.01"],
        ["seed=3", "training.lr_schedule={name: exponential, decay_rate: 0.7}"]]


@pytest.fixture
def digits(write_spec):
    return write_spec(DIGITS)


def test_a_slice_starts_from_the_weights_its_trial_alone_draws(digits):
    specs = [load_spec(digits, arm) for arm in ARMS]
    data = [prepare(s) for s in specs]
    stack = Stack(specs, data)
    for k, (spec, d) in enumerate(zip(specs, data)):
        alone = build_model(spec.spec.model, d, seed=spec.spec.seed)
        assert np.array_equal(alone.get_layer("l0").kernel.numpy(), stack.layers[0].kernel[k].numpy())
        assert np.array_equal(alone.get_layer("output").kernel.numpy(), stack.output_kernel[k].numpy())
    assert not np.array_equal(stack.layers[0].kernel[0].numpy(), stack.layers[0].kernel[1].numpy())  # seeds 3, 4


# digits as 8x8 images through conv, pooling and flatten; SGD, where a pack and a trial alone stay
# within float rounding (Adam's m/sqrt(v) turns rounding in near-zero conv gradients into whole steps)
CNN = merged(TINY, data={"dataset": "digits", "subsample": 300, "shape": [8, 8, 1]},
             training={"epochs": 2, "batch_size": 32, "optimizer": {"name": "sgd", "learning_rate": 0.05}})
CNN_LAYERS = {
    "bn, max_pool, valid conv, flatten": [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "batch_norm": "before"}, {"type": "max_pool",
                                                                                     "pool_size": 2},
        {"type": "conv2d", "filters": 6, "kernel_size": [2, 3], "padding": "valid", "max_norm": 0.5},
        {"type": "flatten"}, {"type": "dense", "units": 8}],
    "strides, layer norm, avg_pool, global pool": [
        {"type": "conv2d", "filters": 5, "kernel_size": 3, "strides": 2, "norm": "layer", "l2": 0.01},
        {"type": "avg_pool", "pool_size": 2, "padding": "same"}, {"type": "global_avg_pool"}],
}
CNN_ARMS = [["seed=3"], ["seed=4", "training.optimizer.learning_rate=0.1", "model.output.l2=0.01"]]




@pytest.mark.parametrize("layers", CNN_LAYERS, ids=list(CNN_LAYERS))
def test_a_conv_pack_starts_from_and_reproduces_each_trial_alone(write_spec, tmp_path, layers):
    spec = write_spec(merged(CNN, model={"layers": CNN_LAYERS[layers]}))
    specs = [load_spec(spec, arm) for arm in CNN_ARMS]
    assert unpackable(specs[0]) is None
    data = [prepare(s) for s in specs]
    stack = Stack(specs, data)
    for k, (loaded, d) in enumerate(zip(specs,
                                        data)):  # (kh, kw, in, filters) kernels drawn as the trial's Conv2D draws them
        alone = build_model(loaded.spec.model, d, seed=loaded.spec.seed)
        assert np.array_equal(alone.get_layer("l0").kernel.numpy(), stack.layers[0].kernel[k].numpy())
        assert np.array_equal(alone.get_layer("output").kernel.numpy(), stack.output_kernel[k].numpy())
    results = packed_trainer.run_pack(pack_task(spec, CNN_ARMS, tmp_path / "packed"))
    for arm, result in zip(CNN_ARMS, results):
        assert result.status == "completed", result
        packed = read_run(tmp_path / "packed" / result.run)
        alone = read_run(train(load_spec(spec, arm), tmp_path / "alone"))
        for a, b in zip(packed.history, alone.history, strict=True):
            for column in ("loss", "val_loss", "accuracy", "penalty"):
                assert a[column] == pytest.approx(b[column], rel=1e-4, abs=1e-6), (arm, a["epoch"], column)
        assert packed.metrics.test["loss"] == pytest.approx(alone.metrics.test["loss"], rel=1e-4)


@pytest.mark.parametrize("layers", [[{"type": "dense", "units": 8, "batch_norm": "after"}],
                                    [{"type": "conv2d", "filters": 3, "norm": "layer"}, {"type": "global_avg_pool"}]],
                         ids=["mlp on images", "cnn"])
def test_a_slice_predicts_what_its_keras_model_predicts(write_spec, layers):
    """3-channel images: each slice scales per channel by its own train statistics, as the trial's
    Normalization layer does, then runs the same layers (before any training)."""
    spec = write_spec(merged(TINY, data={"dataset": "classification", "features": 48, "classes": 3, "shape": [4, 4, 3]},
                             model={"layers": layers}))
    specs = [load_spec(spec, [f"seed={s}"]) for s in (1, 2)]
    data = [prepare(s) for s in specs]
    stack = Stack(specs, data)
    x = np.stack([d.x_test for d in data]).astype(np.float32)
    logits = stack(tf.constant(x), training=False).numpy()
    for k, (loaded, d) in enumerate(zip(specs, data)):
        alone = build_model(loaded.spec.model, d, seed=loaded.spec.seed)
        np.testing.assert_allclose(tf.nn.softmax(logits[k]).numpy(), alone.predict(x[k], verbose=0), rtol=1e-4,
                                   atol=1e-6)
    assert not np.allclose(stack.offset[0].numpy(), stack.offset[1].numpy())  # each seed's own split


def test_a_trial_alone_sees_its_batches_in_the_order_drawn_from_its_seed(digits):
    loaded = load_spec(digits)
    x = np.arange(10, dtype=np.float32)[:, None]
    orders = epoch_orders(loaded.spec.seed, 10, 0, 2)
    order = EpochOrder(loaded.spec.seed, 10, 2)
    batches = train_batches(x, x.copy(), None, loaded.spec.training, 4, order, seed=0)
    for epoch in (0, 1):
        order.on_epoch_begin(epoch)  # as fit calls it, before it iterates the dataset anew
        seen = [b[0].numpy()[:, 0] for b in batches]
        assert [len(b) for b in seen] == [4, 4, 2]
        assert np.array_equal(np.concatenate(seen), orders[epoch])
    assert not np.array_equal(orders[0], orders[1])
    assert np.array_equal(epoch_orders(loaded.spec.seed, 10, 1, 2)[0], orders[1])  # a resume sees the same order


PACKED_OPTIMIZERS = [o.name for o in OPTIMIZER_DEFS if o.pack_update]  # every one a pack steps, checked


@pytest.mark.parametrize("name", PACKED_OPTIMIZERS)
def test_each_slice_steps_as_the_keras_optimizer_of_its_trial(name):
    settings = [Optimizer(name=name, learning_rate=0.1, momentum=0.5, rho=0.8, beta_1=0.8, epsilon=1e-3),
                Optimizer(name=name, learning_rate=0.02, clipnorm=0.5, weight_decay=0.1, beta_2=0.9)]
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(2, 3, 4)).astype(np.float32), rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
    variable = tf.Variable(w0)
    packed = PackedOptimizer(name, settings, [variable])
    lrs = tf.constant([0.1, 0.02])
    for g in grads:
        packed.apply([tf.constant(g)], lrs, tf.constant([True, True]))
    from regexp.net.optimizers import build_optimizer
    from regexp.spec.training import Training
    for k, setting in enumerate(settings):
        alone = tf.Variable(w0[k])
        optimizer = build_optimizer(Training(optimizer=setting), steps_per_epoch=1)
        for g in grads:
            optimizer.apply([tf.constant(g[k])], [alone])
        np.testing.assert_allclose(variable[k].numpy(), alone.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", PACKED_OPTIMIZERS)
def test_an_embedding_steps_as_keras_steps_its_per_sample_gradient_rows(name):
    """Keras's optimizer gets an Embedding's gradient as one row per sample (tf.IndexedSlices, a code
    repeated), squares those rows before summing them (Adam's, RMSprop's second moment) and clips by
    their norm: a pack's `squares` (the codes times each sample's squared gradient) steps the same."""
    from regexp.net.optimizers import build_optimizer
    from regexp.spec.training import Training

    settings = [Optimizer(name=name, learning_rate=0.1, momentum=0.5, clipnorm=0.3),
                Optimizer(name=name, learning_rate=0.02)]
    rng = np.random.default_rng(1)
    table0 = rng.normal(size=(2, 4, 3)).astype(np.float32)
    codes = np.array([[1, 1, 2, 1, 0], [3, 3, 3, 2, 2]])  # codes per slice, repeats included
    rows = rng.normal(size=(3, 2, 5, 3)).astype(np.float32)  # 3 steps of each sample's gradient row
    table = tf.Variable(table0)
    packed = PackedOptimizer(name, settings, [table])
    one_hot = tf.one_hot(codes, 4)
    for step in rows:
        gradient = tf.matmul(one_hot, step, transpose_a=True)
        squares = {0: tf.matmul(one_hot, step * step, transpose_a=True)}
        packed.apply([gradient], tf.constant([0.1, 0.02]), tf.constant([True, True]), squares)
    for k, setting in enumerate(settings):
        alone = tf.Variable(table0[k])
        optimizer = build_optimizer(Training(optimizer=setting), steps_per_epoch=1)
        for step in rows:
            optimizer.apply([tf.IndexedSlices(tf.constant(step[k]), tf.constant(codes[k]), tf.constant([4, 3]))],
                            [alone])
        np.testing.assert_allclose(table[k].numpy(), alone.numpy(), rtol=1e-5, atol=1e-6)


def test_a_pack_reproduces_each_trials_history_and_early_stopping(digits, tmp_path):
    """Dropout and noise off: the same numbers up to float rounding. Batched matmuls sum in another
    order than single ones (about 1e-7 relative per op); over 6 epochs of Adam the loss agrees to
    1e-4 relative, and early stopping picks the same epoch. model.keras holds the config the trial
    alone saves, also for seed 6, which shares seed 3's point and so its Keras model in the pack."""
    arms = [[*arm, "training.early_stopping={monitor: val_loss, patience: 1, min_delta: 0.1}"]
            for arm in [*ARMS, ["seed=6"]]]
    results = packed_trainer.run_pack(pack_task(digits, arms, tmp_path / "packed"))
    for arm, result in zip(arms, results):
        assert result.status == "completed", result
        packed = read_run(tmp_path / "packed" / result.run)
        alone = read_run(train(load_spec(digits, arm), tmp_path / "alone"))
        assert _model_config(packed.path) == _model_config(alone.path), arm
        assert packed.info.packed.size == 5 and packed.info.parent == "test"
        assert [r["epoch"] for r in packed.history] == [r["epoch"] for r in alone.history]
        for a, b in zip(packed.history, alone.history):
            for column in ("loss", "val_loss", "accuracy", "val_accuracy", "penalty", "lr"):
                assert a[column] == pytest.approx(b[column], rel=1e-4, abs=1e-6), (arm, a["epoch"], column)
        assert packed.metrics.best_epoch == alone.metrics.best_epoch
        assert packed.metrics.early_stopped == alone.metrics.early_stopped
        for part in ("train", "val", "test"):
            for key, value in alone.metrics.part(part).items():
                assert packed.metrics.part(part)[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (part, key)
    assert any(read_run(tmp_path / "packed" / r.run).metrics.early_stopped for r in results)


def _model_config(run) -> dict:
    """model.keras's config.json without what Keras numbers per process: the ids it gives shared
    objects as it saves, and the optimizer's automatic name (adam, adam_1, ... in creation order)."""
    with zipfile.ZipFile(run / "model.keras") as archive:
        config = json.loads(re.sub(r'"shared_object_id": \d+', '"shared_object_id": 0',
                                   archive.read("config.json").decode()))
    optimizer = config["compile_config"]["optimizer"]["config"]
    optimizer["name"] = re.sub(r"_\d+$", "", optimizer["name"])
    return config


def test_a_diverging_slice_fails_alone(digits, tmp_path):
    arms = [["seed=3"], ["seed=4", "training.optimizer={name: sgd, learning_rate: 1.0e+12}"], ["seed=5"]]
    arms = [[*a, "training.optimizer.name=sgd"] if i != 1 else a for i, a in enumerate(arms)]
    results = packed_trainer.run_pack(pack_task(digits, arms, tmp_path))
    assert [r.status for r in results] == ["completed", "failed", "completed"]
    assert "non-finite loss" in results[1].error
    assert read_run(tmp_path / results[1].run).status == "failed"
    for r in (results[0], results[2]):
        run = read_run(tmp_path / r.run)
        assert run.metrics.epochs_run == 6 and np.isfinite(run.metrics.val["loss"])


def test_an_interrupted_pack_leaves_every_slice_resumable_alone(digits, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = packed_trainer.PackTrainer._evaluate

    def interrupt_in_epoch_3(self, part):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("SIGTERM")
        return real(self, part)
    monkeypatch.setattr(packed_trainer.PackTrainer, "_evaluate", interrupt_in_epoch_3)
    results = packed_trainer.run_pack(pack_task(digits, ARMS[:2], tmp_path / "runs"))
    monkeypatch.undo()
    assert [r.status for r in results] == ["interrupted", "interrupted"]
    for r in results:
        folder = tmp_path / "runs" / r.run
        assert read_run(folder).status == "interrupted"
        assert json.loads((folder / "checkpoint" / "state.json").read_text())["epoch"] == 2
    folder = tmp_path / "runs" / results[1].run
    resume(folder)  # alone, in its own folder
    continued = read_run(folder)
    assert continued.status == "completed" and [r["epoch"] for r in continued.history] == [1, 2, 3, 4, 5, 6]
    alone = read_run(train(load_spec(digits, ARMS[1]), tmp_path / "alone"))
    # the resumed trial continues from the pack's weights and optimizer state: it tracks the trial alone
    assert continued.history[-1]["val_loss"] == pytest.approx(alone.history[-1]["val_loss"], rel=1e-3)


def test_the_plan_says_which_trials_pack_and_why_others_run_alone(write_spec):
    grouped = merged(TINY, data={"dataset": "digits", "shape": [8, 8, 1]},
                     model={"layers": [{"type": "conv2d", "filters": 4, "norm": "group", "groups": 2},
                                       {"type": "flatten"}]})
    assert "group norm is not packed" in unpackable(load_spec(write_spec(grouped)))
    plain = write_spec(merged(TINY, repeat=4), name="plain.yaml")
    specs = [load_spec(plain, [f"seed={s}"]) for s in range(4)] + [load_spec(plain, ["training.batch_size=8"])]
    packs = group(specs, "auto", workers=1)
    assert sorted(len(p.members) for p in packs) == [1, 4]
    assert "only trial of its shape" in next(p.reason for p in packs if len(p.members) == 1)
    assert [len(p.members) for p in group(specs[:4], 2)] == [2, 2]
    assert all(p.reason == "--pack off" for p in group(specs, "off"))
    cnn = write_spec(merged(CNN, model={"layers": CNN_LAYERS["bn, max_pool, valid conv, flatten"]}), name="cnn.yaml")
    convs = [load_spec(cnn, [f"seed={s}"]) for s in range(40)]  # conv packs stop at 16: past that they got slower
    assert sorted(len(p.members) for p in group(convs, "auto", workers=1)) == [13, 13, 14]


def test_a_packed_sweep_writes_ordinary_run_folders(runner, write_spec, tmp_path):
    spec = write_spec(merged(TINY, repeat=3, training={"epochs": 3, "batch_size": 16, "metrics": ["accuracy", "ece"]}))
    dry = runner.invoke(app, ["sweep", str(spec), "--dry-run", "--workers", "1"])
    assert "3 trials: 3 in 1 packs of 3, 0 alone" in dry.output
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path / "runs"), "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    runs = sorted(p for p in (tmp_path / "runs").iterdir() if (p / "run.json").exists())
    assert len(runs) == 3 and sorted(read_run(r).info.packed.slot for r in runs) == [0, 1, 2]
    assert sorted(read_run(r).info.seed for r in runs) == [1, 2, 3]
    assert yaml.safe_load((runs[0] / "config.yaml").read_text())["seed"] in (1, 2, 3)  # reproduces the trial alone
    from regexp.trial.evaluate import evaluate_run
    now, recorded = evaluate_run(runs[0])  # the plain model.keras reloads and scores as recorded
    for part in now:
        for key in ("loss", "accuracy", "ece", "penalty"):
            assert now[part][key] == pytest.approx(recorded[part][key], rel=1e-4, abs=1e-6), (part, key)
    report = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--format", "json"])
    assert report.exit_code == 0 and '"n": 3' in report.output.replace(" ", "").replace('"n":3', '"n": 3')
    off = runner.invoke(app, ["sweep", str(spec), "--dry-run", "--pack", "off"])
    assert "0 in 0 packs, 3 alone" in off.output and "--pack off" in off.output
    bad = runner.invoke(app, ["sweep", str(spec), "--pack", "many"])
    assert bad.exit_code == 2 and "--pack many: not a pack size" in bad.output


def test_keras_names_the_optimizer_slots_a_resume_point_maps_onto():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="l0")], name="x")
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    names = {v.name for v in optimizer.variables}
    assert {"x_l0_kernel_momentum", "x_l0_kernel_velocity", "x_l0_bias_momentum"} <= names


def write_table(path, n=60, seed=0):
    """A small table: `length` with empty cells, `color` (3 values: one-hot), `city` (6 values, `f` in
    one row only: some seeds' train parts lack it, so their vocabulary, and embedding width, is smaller)."""
    rng = np.random.default_rng(seed)
    lines = ["length,width,color,city,label"]
    for i in range(n):
        color, city, width = ["red", "blue", "green"][rng.integers(3)], "abcde"[rng.integers(5)], rng.normal()
        city = "f" if i == 7 else city
        length = "" if rng.random() < 0.15 else f"{rng.normal():.3f}"
        label = int(color == "red") + int(width > 0.3) + int(city in "ab")
        lines.append(f"{length},{width:.3f},{color},{city},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def table_spec(write_spec, tmp_path, missing: str, **training):
    path = write_table(tmp_path / "t.csv")
    return write_spec(merged(TINY, data={"dataset": None, "path": str(path), "target": "label", "missing": missing,
                                         "max_onehot": 4},
                             training={"epochs": 4, "batch_size": 16, **training}))


TABLE_ARMS = [["seed=1"], ["seed=4", "model.defaults.l2=0.001", "training.optimizer.learning_rate=0.01"],
              ["seed=2", "training.optimizer.clipnorm=0.05"]]  # seeds 1 and 2: city's 6 values in train, seed 4: 5


def test_a_table_slice_starts_from_and_predicts_what_its_trial_alone_does(write_spec, tmp_path):
    """Own fills, vocabularies and embedding tables per slice; city's embedding is 5 wide for seeds
    1 and 2 and 4 wide for seed 4 (padded to 5 in the pack): the same kernels, tables and outputs."""
    spec = table_spec(write_spec, tmp_path, "indicator")
    specs = [load_spec(spec, arm) for arm in TABLE_ARMS]
    assert unpackable(specs[0]) is None
    data = [prepare(s) for s in specs]
    assert [d.columns[3].width for d in data] == [5, 4, 5] and data[0].columns[0].fill != data[1].columns[0].fill
    stack = Stack(specs, data)
    x = tf.constant(np.stack([d.x_test for d in data]).astype(np.float32))
    assert np.isnan(x.numpy()).any()  # empty cells in the test parts: filled by each slice's own mean
    logits = stack(x, training=False).numpy()
    for k, (loaded, d) in enumerate(zip(specs, data)):
        alone = build_model(loaded.spec.model, d, seed=loaded.spec.seed)
        for layer, weight, variable in (("l0", "kernel", stack.layers[0].kernel),
                                        ("embed_3", "embeddings", stack.table.embeddings[3])):
            mine = stack.part((layer, weight), variable.numpy(), k)
            assert np.array_equal(alone.get_layer(layer).get_weights()[0], mine), (k, layer)
        np.testing.assert_allclose(tf.nn.softmax(logits[k]).numpy(), alone.predict(d.x_test, verbose=0),
                                   rtol=1e-5, atol=1e-7)
    assert not np.array_equal(stack.table.embeddings[3][0].numpy(), stack.table.embeddings[3][2].numpy())
    stack.keep(np.array([2, 1]))  # search.halving compacts a pack: each kept slice computes as before
    np.testing.assert_allclose(stack(tf.gather(x, [2, 1]), training=False).numpy(), logits[[2, 1]], rtol=1e-6)
    assert stack.part(("embed_3", "embeddings"), stack.table.embeddings[3].numpy(), 1).shape == (6, 4)
    noisy = Stack([load_spec(spec, [*arm, "model.input_noise=0.5"]) for arm in TABLE_ARMS], data)
    with tf.GradientTape() as tape:  # input noise stays off seed 4's padded column: its kernel row stays 0
        out = tf.reduce_sum(noisy(x, training=True, noise=tf.random.Generator.from_seed(0),
                                  active=tf.constant([True] * 3)))
    gradient = tape.gradient(out, noisy.layers[0].kernel).numpy()
    padded = np.setdiff1d(np.arange(noisy.table.width), noisy.table.rows[1])
    assert len(padded) == 1 and not gradient[1, padded].any() and gradient[0].all()


@pytest.mark.parametrize("missing", ["mean", "indicator"])
def test_a_table_pack_reproduces_each_trial_alone(write_spec, tmp_path, missing):
    """Filled cells, one-hot and embedded categories, different seeds (so splits, vocabularies, fills
    and embedding widths): each slice's config, history, weights, scores and predictions are its
    trial's alone, to float rounding."""
    spec = table_spec(write_spec, tmp_path, missing, optimizer={"name": "adam", "learning_rate": 0.003})
    results = packed_trainer.run_pack(pack_task(spec, TABLE_ARMS, tmp_path / "packed"))
    for arm, result in zip(TABLE_ARMS, results):
        assert result.status == "completed", result
        packed = read_run(tmp_path / "packed" / result.run)
        alone = read_run(train(load_spec(spec, arm), tmp_path / "alone"))
        assert packed.info.packed.size == 3
        assert _model_config(packed.path) == _model_config(alone.path), arm
        for a, b in zip(packed.history, alone.history, strict=True):
            for column in ("loss", "val_loss", "accuracy", "penalty"):
                assert a[column] == pytest.approx(b[column], rel=1e-4, abs=1e-6), (arm, a["epoch"], column)
        assert packed.metrics.columns == alone.metrics.columns
        mine, theirs = (keras.models.load_model(run.path / "model.keras") for run in (packed, alone))
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        x = prepare(load_spec(spec, arm)).x_test
        np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
        assert packed.metrics.test["loss"] == pytest.approx(alone.metrics.test["loss"], rel=1e-4)
