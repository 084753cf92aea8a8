"""Knobs the course notes use (seeds/ 001-004) reach the Keras model exactly as the notes mean them."""

import keras
import numpy as np
import pytest

from regexp.data import prepare
from regexp.net.model import build_model
from regexp.packed.grouping import unpackable
from regexp.spec import load_spec

from conftest import TINY, merged


def build(write_spec, **sections):
    loaded = load_spec(write_spec(merged(TINY, **sections)))
    data = prepare(loaded)
    return build_model(loaded.spec.model, data, training=loaded.spec.training), data, loaded


def test_batch_norm_momentum_epsilon_center_scale_and_no_bias_reach_keras(write_spec):
    model, _, loaded = build(write_spec, model={"defaults": {"batch_norm": "before", "use_bias": False,
                                                             "bn_momentum": 0.9,
                                                             "bn_epsilon": 1e-5, "bn_center": True, "bn_scale": False},
                                                "layers": [{"type": "dense", "units": 8}]})
    bn = model.get_layer("l0_bn")
    assert (bn.momentum, bn.epsilon, bn.center, bn.scale) == (0.9, 1e-5, True, False)
    assert not model.get_layer("l0").use_bias and [w.name for w in model.get_layer("l0").weights] == ["kernel"]
    assert "use_bias" in unpackable(loaded)  # packs only hold Keras's default, and say so


def test_default_dense_layer_keeps_its_bias_before_batch_norm(write_spec):
    model, _, _ = build(write_spec, model={"defaults": {"batch_norm": "before"}, "layers": [{"type": "dense",
                                                                                             "units": 8}]})
    assert model.get_layer("l0").use_bias  # documented: Keras's default, cancelled by BN's beta


def test_variance_scaling_draws_the_notes_randn_times_sqrt_k_over_n(write_spec):
    model, data, _ = build(write_spec, seed=3, data={"dataset": "digits"}, model={
        "defaults": {"initializer": {"name": "variance_scaling", "scale": 2.0, "mode": "fan_in",
                                     "distribution": "untruncated_normal"}},
        "layers": [{"type": "dense", "units": 512}]})
    w = model.get_layer("l0").kernel.numpy()
    target = np.sqrt(2.0 / data.features)  # randn(n_l, n_l-1) * sqrt(2 / n_l-1), n = 64 inputs
    assert w.std() == pytest.approx(target, rel=0.03)
    assert np.abs(w).max() > 3 * target  # untruncated: a truncated normal never leaves 2 std
    initializer = model.get_layer("l0").kernel_initializer
    assert isinstance(initializer, keras.initializers.VarianceScaling)
    assert (initializer.scale, initializer.mode, initializer.distribution) == (2.0, "fan_in", "untruncated_normal")


def test_activation_noise_sits_after_the_activation_before_dropout_training_only(write_spec):
    model, data, _ = build(write_spec, model={"defaults": {"activation_noise": 0.3, "dropout": 0.2,
                                                           "batch_norm": "after"},
                                              "layers": [{"type": "dense", "units": 8}]})
    names = [layer.name for layer in model.layers]
    assert names.index("l0_relu") < names.index("l0_bn") < names.index("l0_noise") < names.index("l0_dropout")
    assert model.get_layer("l0_noise").stddev == 0.3
    x = data.x_val[:4]
    assert np.allclose(model(x, training=False), model(x, training=False))


def test_shear_and_perspective_augment_images_in_training_only(write_spec):
    model, data, _ = build(write_spec, data={"dataset": "digits"}, model={"layers": [{"type": "dense", "units": 8}]},
                           training={"augment": [{"shear": 0.3}, {"perspective": 0.3}]})
    shear, perspective = model.get_layer("augment0_shear"), model.get_layer("augment1_perspective")
    assert isinstance(shear, keras.layers.RandomShear) and shear.x_factor in ((-0.3, 0.3), 0.3)
    assert isinstance(perspective, keras.layers.RandomPerspective) and perspective.scale == 0.3
    images = data.x_train[:8].reshape(8, 8, 8, 1)
    assert np.array_equal(perspective(images, training=False), images)
    assert not np.allclose(perspective(images, training=True), images)


def test_output_bias_regularizer_writes_note_001_exactly(write_spec):
    model, _, _ = build(write_spec, model={"output": {"l2": 0.01, "bias_l2": 0.02, "bias_l1": 0.001}})
    out = model.get_layer("output")
    assert out.bias_regularizer.l2 == pytest.approx(0.02) and out.bias_regularizer.l1 == pytest.approx(0.001)
    assert out.kernel_regularizer.l2 == pytest.approx(0.01)


def test_acc_and_val_acc_are_accepted_as_keras_accepts_them(write_spec):
    loaded = load_spec(write_spec(merged(TINY, training={"metrics": ["acc"], "early_stopping": {"monitor": "val_acc"}},
                                         search={"params": {"model.defaults.l2": [0.0]},
                                                 "objective": {"metric": "val_acc"}})))
    t = loaded.spec.training
    assert t.metrics == ["accuracy"] and t.early_stopping.monitor == "val_accuracy"
    assert loaded.spec.search.objective.metric == "val_accuracy"


@pytest.fixture(scope="module")
def iris_runs(tmp_path_factory):
    """Two tiny iris runs: without dropout and with dropout 0.5."""
    from regexp.trial.train import train

    root = tmp_path_factory.mktemp("predict")
    spec = root / "spec.yaml"
    import yaml

    spec.write_text(yaml.safe_dump(TINY))
    return {rate: train(load_spec(spec, [f"model.defaults.dropout={rate}"]), root / "runs") for rate in (0.0, 0.5)}


def write_rows(path, with_target: bool):
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    header = ["a", "b", "c", "d"] + (["target"] if with_target else [])
    rows = [[*map(str, x[i]), *([str(y[i])] if with_target else [])] for i in (0, 60, 120)]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return y[[0, 60, 120]]


def test_predict_gives_classes_and_probabilities_per_row(runner, iris_runs, tmp_path):
    import csv as csvlib

    from regexp.cli import app

    truth = write_rows(tmp_path / "new.csv", with_target=True)  # the target column is dropped
    result = runner.invoke(app, ["predict", str(iris_runs[0.0]), str(tmp_path / "new.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csvlib.DictReader(result.stdout.splitlines()))
    assert [r["row"] for r in rows] == ["0", "1", "2"] and set(rows[0]) == {"row", "prediction", "p_0", "p_1", "p_2"}
    for r in rows:
        assert sum(float(r[f"p_{c}"]) for c in "012") == pytest.approx(1.0, abs=1e-5)
        assert r["prediction"] == max("012", key=lambda c: float(r[f"p_{c}"]))
    model = keras.saving.load_model(iris_runs[0.0] / "model.keras")
    from sklearn.datasets import load_iris

    expected = model.predict(load_iris(return_X_y=True)[0][[0, 60, 120]].astype("float32"), verbose=0)
    assert [float(rows[i]["p_1"]) for i in range(3)] == pytest.approx(expected[:, 1].tolist(), rel=1e-4)
    assert len(truth) == 3


def test_predict_mc_dropout_std_is_zero_without_dropout_and_positive_with_it(runner, iris_runs, tmp_path):
    import csv as csvlib

    from regexp.cli import app

    write_rows(tmp_path / "new.csv", with_target=False)
    stds = {}
    for rate, run in iris_runs.items():
        out = tmp_path / f"p{rate}.csv"
        result = runner.invoke(app, ["predict", str(run), str(tmp_path / "new.csv"), "--mc-dropout", "20", "--output",
                                     str(out)])
        assert result.exit_code == 0, result.output
        rows = list(csvlib.DictReader(out.read_text().splitlines()))
        assert {"std_0", "std_1", "std_2", "entropy"} <= set(rows[0])
        stds[rate] = [float(r[f"std_{c}"]) for r in rows for c in "012"]
    assert max(stds[0.0]) == 0.0 and max(stds[0.5]) > 0.0


def test_predict_refuses_rows_of_the_wrong_width(runner, iris_runs, tmp_path):
    from regexp.cli import app

    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["predict", str(iris_runs[0.0]), str(tmp_path / "bad.csv")])
    assert result.exit_code == 2 and "each row has 2 features but the model takes 4" in result.output


def test_predict_reads_npz_rows_too(runner, iris_runs, tmp_path):
    from sklearn.datasets import load_iris

    from regexp.cli import app

    np.savez(tmp_path / "new.npz", x=load_iris(return_X_y=True)[0][:5])
    result = runner.invoke(app, ["predict", str(iris_runs[0.0]), str(tmp_path / "new.npz")])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 6  # header and 5 rows
