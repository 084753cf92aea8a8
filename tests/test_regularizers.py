"""Augmentation, mixup, cutmix, cutout, weight noise and MC dropout act in training, and only there."""

import json

import keras
import numpy as np
import pytest
import yaml
from scipy import stats

from regexp.cli import app
from regexp.data import prepare
from regexp.net.layers import NoisyDense, mc_dropout_model
from regexp.net.mc_dropout import mc_summary
from regexp.net.model import build_model
from regexp.net.pipeline import EpochOrder, mixup, train_batches
from regexp.spec import load_spec

from conftest import TINY, merged

DIGITS_CNN = {  # digits as 8x8x1 images, a CNN small enough for a test
    "data": {"dataset": "digits", "shape": [8, 8, 1]},
    "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3}, {"type": "max_pool", "pool_size": 2},
                         {"type": "flatten"}, {"type": "dense", "units": 16, "dropout": 0.3}]},
}
AUGMENT = [{"flip": "horizontal"}, {"rotate": 0.1}, {"zoom": 0.2}, {"translate": 0.15}, {"crop": [6, 6]},
           {"contrast": 0.3}, {"brightness": 0.2}]


def build(write_spec, with_training=True, **sections):
    loaded = load_spec(write_spec(merged(TINY, **sections)))
    data = prepare(loaded)
    return build_model(loaded.spec.model, data, training=loaded.spec.training if with_training else None), data


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


# --- augmentation and cutout -------------------------------------------------------------------

def test_augmentation_changes_training_inputs_but_not_inference_outputs(write_spec):
    augment = [item for item in AUGMENT if "crop" not in item]  # a crop changes the shape: tested below
    sections = dict(DIGITS_CNN, training={"augment": augment, "cutout": {"size": 0.25}})
    model, data = build(write_spec, **sections)
    plain, _ = build(write_spec, with_training=False, **sections)
    copy_weights(model, plain)
    x = data.x_test[:64]

    augmented = keras.Model(model.input, model.get_layer("cutout").output)
    in_training = numpy(augmented(x, training=True))
    assert not np.allclose(in_training, x.reshape(-1, 8, 8, 1))
    assert not np.allclose(in_training, numpy(augmented(x, training=True)))  # fresh draws each call
    np.testing.assert_array_equal(numpy(augmented(x, training=False)), x.reshape(-1, 8, 8, 1))

    # the same weights give identical predictions with the augmentation layers present or absent
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert not np.allclose(numpy(model(x, training=True)), plain.predict(x, verbose=0), atol=1e-3)


def test_crop_is_random_in_training_and_the_centre_at_inference(write_spec):
    model, data = build(write_spec, **dict(DIGITS_CNN, training={"augment": [{"crop": [6, 6]}]}))
    cropped = keras.Model(model.input, model.get_layer("augment0_crop_center").output)
    x = data.x_test[:64]
    images = x.reshape(-1, 8, 8, 1)
    np.testing.assert_array_equal(numpy(cropped(x, training=False)), images[:, 1:7, 1:7])
    windows = set()
    for _ in range(12):  # Keras's RandomCrop draws one window per batch
        out = numpy(cropped(x, training=True))
        assert out.shape == (64, 6, 6, 1)
        found = {(i, j) for i in range(3) for j in range(3) if np.array_equal(images[:, i:i + 6, j:j + 6], out)}
        assert len(found) >= 1  # a true window of the images
        windows |= found
    assert len(windows) > 2


def test_cutout_zeroes_one_square_of_every_image(write_spec):
    model, data = build(write_spec, **dict(DIGITS_CNN, training={"cutout": {"size": 0.25}}))
    cutout = model.get_layer("cutout")
    ones = np.ones((500, 8, 8, 1), dtype="float32")
    out = numpy(cutout(ones, training=True))[..., 0]
    for image in out:
        rows, cols = np.nonzero(image == 0)
        assert len(rows) == 4  # side 0.25 * 8 = 2 pixels: a 2x2 square
        assert rows.max() - rows.min() == 1 and cols.max() - cols.min() == 1
    assert np.all(out[out != 0] == 1)  # nothing else touched
    corners = {(r.min(), c.min()) for r, c in (np.nonzero(image == 0) for image in out)}
    assert len(corners) > 20  # at random places
    np.testing.assert_array_equal(numpy(cutout(ones, training=False)), ones)


def test_images_are_scaled_per_channel_after_augmentation(write_spec):
    model, data = build(write_spec, **dict(DIGITS_CNN, training={"augment": [{"rotate": 0.1}]}))
    names = [layer.name for layer in model.layers]
    assert names.index("augment0_rotate") < names.index("scale")  # augmentation sees raw pixels
    assert np.asarray(model.get_layer("scale").mean).size == 1  # one channel: one mean
    np.testing.assert_allclose(np.asarray(model.get_layer("scale").mean).ravel(), [data.x_train.mean()], rtol=1e-5)


def test_an_mlp_on_augmented_images_gets_a_flatten(write_spec):
    model, _ = build(write_spec, data={"dataset": "digits", "shape": [8, 8, 1]},
                     training={"augment": [{"crop": [6, 6]}]})
    assert model.get_layer("image_to_features").output.shape == (None, 36)
    assert model.output_shape == (None, 10)


# --- mixup and cutmix --------------------------------------------------------------------------

def test_mixup_makes_convex_combinations_with_soft_labels_and_folded_beta_weights():
    n, alpha = 2000, 0.4
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = np.eye(n, dtype="float32")  # each sample its own class: its λ and partner can be read off the label
    x_mixed, y_mixed = (numpy(t) for t in mixup(x, y, alpha, seed=0))

    np.testing.assert_allclose(y_mixed.sum(axis=1), 1, rtol=1e-5)  # still a distribution
    lam = np.diag(y_mixed).copy()
    off = y_mixed - np.diag(lam)
    paired = off.max(axis=1) > 0  # rows whose partner is not themselves
    partner = off.argmax(axis=1)
    expected = lam[:, None] * x + (1 - lam[:, None]) * x[partner]
    np.testing.assert_allclose(x_mixed[paired], expected[paired], rtol=1e-4, atol=1e-5)
    assert np.all(lam >= 0.5)  # folded: a sample's own label keeps the larger weight

    reference = rng.beta(alpha, alpha, size=20000)
    folded = np.maximum(reference, 1 - reference)
    assert stats.ks_2samp(lam[paired], folded).pvalue > 0.001
    assert stats.ks_2samp(lam[paired], np.maximum(*(rng.beta(1.0, 1.0, size=(2, 20000))))).pvalue < 1e-6


def test_mixup_batches_in_the_training_pipeline_change_every_epoch(write_spec):
    loaded = load_spec(write_spec(merged(TINY, training={"mixup": {"alpha": 0.2}})))
    data = prepare(loaded)
    targets = np.eye(len(data.classes), dtype="float32")[data.y_train]
    order = EpochOrder(1, len(targets), 2)
    batches = train_batches(data.x_train, targets, None, loaded.spec.training, 32, order, seed=1)
    first = [numpy(y) for _, y in batches]
    order.on_epoch_begin(1)
    second = [numpy(y) for _, y in batches]
    labels = np.concatenate(first)
    assert labels.shape == targets.shape
    assert np.mean(labels.max(axis=1) < 1) > 0.3  # soft labels (λ = 1 exactly only for self-pairs)
    assert not np.allclose(labels, np.concatenate(second))


def test_cutmix_labels_follow_the_pasted_area(write_spec):
    spec = merged(TINY, **DIGITS_CNN, training={"cutmix": {"alpha": 1.0}})
    training = load_spec(write_spec(spec)).spec.training
    x = np.concatenate([np.ones((32, 64)), np.zeros((32, 64))]).astype("float32")  # class 0 white, class 1 black
    y = np.repeat(np.eye(2, dtype="float32"), 32, axis=0)
    for xb, yb in train_batches(x, y, (8, 8, 1), training, 64, EpochOrder(3, 64, 1), seed=3):
        white = numpy(xb).mean(axis=1)
        np.testing.assert_allclose(numpy(yb)[:, 0], white, atol=1e-5)  # label share = area share
        assert 0.2 < np.mean((white > 0) & (white < 1)) < 1.0


def test_binary_accuracy_reads_a_mixed_label_by_its_larger_share():
    from regexp.net.scoring import metric as keras_metric

    metric = keras_metric("accuracy", "binary")
    metric.update_state(np.array([[0.8], [0.3], [0.6]]), np.array([[0.9], [0.2], [0.1]]))
    assert float(metric.result()) == pytest.approx(2 / 3)


# --- weight noise ------------------------------------------------------------------------------

def test_weight_noise_acts_in_training_calls_only_and_never_reaches_the_stored_weights(write_spec):
    model, data = build(write_spec, model={"defaults": {"weight_noise": 0.2}})
    layer = model.get_layer("l0")
    assert isinstance(layer, NoisyDense) and layer.weight_noise == 0.2
    assert isinstance(model.get_layer("output"), keras.layers.Dense) and not isinstance(model.get_layer("output"),
                                                                                        NoisyDense)
    x = data.x_train[:32]
    kernel = layer.kernel.numpy().copy()
    assert not np.allclose(numpy(model(x, training=True)), numpy(model(x, training=True)))
    np.testing.assert_array_equal(numpy(model(x, training=False)), numpy(model(x, training=False)))

    plain, _ = build(write_spec)
    copy_weights(model, plain)
    np.testing.assert_allclose(numpy(model(x)), numpy(plain(x)), rtol=1e-6)  # inference: the plain layer

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy")
    model.fit(data.x_train, np.eye(3)[data.y_train], epochs=2, verbose=0)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)  # with lr 0 nothing may change the kernel


# --- MC dropout --------------------------------------------------------------------------------

def test_mc_dropout_model_samples_with_dropout_on_and_shares_the_weights(write_spec):
    model, data = build(write_spec, model={"defaults": {"dropout": 0.5}, "layers": [{"type": "dense", "units": 32}]})
    mc = mc_dropout_model(model)
    x = data.x_test
    a, b = numpy(mc(x, training=False)), numpy(mc(x, training=False))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(numpy(model(x)), numpy(model(x)))  # the original stays deterministic
    for original, copy in zip(model.get_weights(), mc.get_weights()):
        np.testing.assert_array_equal(original, copy)
    passes = np.array([numpy(mc(x)) for _ in range(200)])
    assert passes.std(axis=0).mean() > 0.02
    assert np.abs(passes[:100].mean(axis=0) - passes[100:].mean(axis=0)).mean() < passes.std(axis=0).mean() / 3
    no_dropout, _ = build(write_spec)
    assert mc_dropout_model(no_dropout) is None


def test_mc_summary_scores_the_average_of_the_samples():
    samples = np.array([[[0.9, 0.1], [0.2, 0.8]],
                        [[0.3, 0.7], [0.4, 0.6]]])  # 2 passes, 2 samples, 2 classes
    y = np.array([0, 0])
    out = mc_summary(samples, y, "classification")
    mean = np.array([[0.6, 0.4], [0.3, 0.7]])
    assert out["mc_accuracy"] == 0.5  # the first sample is right on average although pass 2 says otherwise
    assert out["mc_loss"] == pytest.approx(-np.mean(np.log([0.6, 0.3])), rel=1e-5)
    entropies = -np.sum(mean * np.log(mean), axis=1)
    assert out["mc_entropy"] == pytest.approx(np.mean(entropies), rel=1e-5)
    # uncertainty against error: sample 0 is right, sample 1 wrong
    assert out["mc_entropy_right"] == pytest.approx(entropies[0], rel=1e-5)
    assert out["mc_entropy_wrong"] == pytest.approx(entropies[1], rel=1e-5)
    binary = mc_summary(np.array([[[0.9]], [[0.3]]]), np.array([1]), "binary")
    assert binary["mc_accuracy"] == 1.0 and binary["mc_loss"] == pytest.approx(-np.log(0.6), rel=1e-5)
    assert "mc_entropy_wrong" not in binary  # no wrong prediction, no mean over it


# --- end to end --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalogue_run(tmp_path_factory):
    """One CNN run on digits images with every technique of this file on at once."""
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("catalogue")
    spec = merged(TINY, **DIGITS_CNN, training={"epochs": 3, "batch_size": 64, "augment": AUGMENT[:4],
                                                 "cutout": {"size": 0.25}, "mixup": {"alpha": 0.2}},
                  evaluation={"mc_dropout": 10})
    spec["model"]["defaults"] = {"weight_noise": 0.05}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(app, ["train", str(folder / "spec.yaml"), "--runs-dir", str(folder / "runs"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    (run,) = (folder / "runs").iterdir()
    return run


def test_a_run_reports_mc_dropout_metrics_next_to_the_deterministic_ones(catalogue_run):
    metrics = json.loads((catalogue_run / "metrics.json").read_text())
    test = metrics["test"]
    assert metrics["mc_dropout"] == 10
    assert 0 <= test["mc_accuracy"] <= 1 and abs(test["mc_accuracy"] - test["accuracy"]) < 0.15
    assert 0 < test["mc_entropy"] <= np.log(10)
    assert test["mc_loss"] > 0


def test_a_saved_model_with_these_layers_reloads_in_safe_mode_and_predicts_the_same(catalogue_run, tmp_path):
    model = keras.saving.load_model(catalogue_run / "model.keras", safe_mode=True)
    layers = {type(layer).__name__ for layer in model.layers}
    assert {"NoisyConv2D", "NoisyDense", "RandomRotation", "RandomErasing"} <= layers
    loaded = load_spec(catalogue_run / "config.yaml")
    data = prepare(loaded)
    accuracy = np.mean(model.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test)
    assert accuracy == pytest.approx(json.loads((catalogue_run / "metrics.json").read_text())["test"]["accuracy"],
                                     abs=1e-6)

    mc = mc_dropout_model(model)  # the MC wrapper round-trips too
    mc.save(tmp_path / "mc.keras")
    again = keras.saving.load_model(tmp_path / "mc.keras", safe_mode=True)
    assert any(type(layer).__name__ == "AlwaysOn" for layer in again.layers)
    copy_weights(model, again)
    assert not np.allclose(numpy(again(data.x_test)), numpy(again(data.x_test)))


def test_report_shows_the_mc_columns(catalogue_run, runner):
    result = runner.invoke(app, ["report", "--runs-dir", str(catalogue_run.parent), "--format", "csv"])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split(",")
    assert {"test_mc_accuracy", "test_mc_entropy"} <= set(header)


def test_an_image_folder_trains_a_cnn_with_augmentation(write_spec, tmp_path, runner):
    from PIL import Image
    rng = np.random.default_rng(0)
    for label, value in (("dark", 60), ("light", 190)):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(24):
            pixels = np.clip(value + rng.normal(0, 30, size=(10, 10, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / label / f"{i}.png")
    spec = write_spec(merged(TINY, data={"dataset": None, "path": str(tmp_path / "imgs")},
                             model={"layers": [{"type": "conv2d", "filters": 4}, {"type": "global_avg_pool"}]},
                             training={"epochs": 8, "augment": [{"flip": "horizontal_and_vertical"}, {"crop": [8, 8]}],
                                       # 2 steps per epoch: Adam's default rate needs ~30 epochs from some seeds'
                                       # weights
                                       "optimizer": {"name": "adam", "learning_rate": 0.02}}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["accuracy"] > 0.9  # brightness survives flips and crops


def test_selu_without_its_recipe_gets_a_warning(write_spec, runner):
    spec = write_spec(merged(TINY, model={"defaults": {"activation": "selu", "dropout": 0.1}}))
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    assert "lecun_normal" in result.output and "alpha dropout" in result.output
    fixed = write_spec(merged(TINY, model={"defaults": {"activation": "selu", "initializer": "lecun_normal",
                                                        "dropout": 0.1, "dropout_type": "alpha"}}))
    assert "lecun_normal" not in runner.invoke(app, ["validate", str(fixed)]).output
