"""regexp diagnose on runs with known outcomes, learning curves, and gradcheck catching a planted bug."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from regexp.cli import app
from regexp.spec import load_spec
from regexp.trial.gradcheck import BUG, check_model, float64
from regexp.trial.train import train

from conftest import REPO, TINY, merged
from runfolders import make_run

HIGH_BIAS = merged(TINY, name="linear-on-circles", data={"dataset": "circles", "samples": 2000},
                   model={"defaults": {"activation": "linear"}, "layers": [{"type": "dense", "units": 1}]},
                   training={"epochs": 5})
HIGH_VARIANCE = merged(TINY, name="big-on-few", data={"dataset": "digits", "subsample": 60},
                       model={"layers": [{"type": "dense", "units": 256}, {"type": "dense", "units": 256}]},
                       training={"epochs": 40, "optimizer": {"name": "adam", "learning_rate": 0.003}})


def diagnosis(runner, runs_dir, target, *args) -> dict:
    result = runner.invoke(app, ["diagnose", target, "--runs-dir", str(runs_dir), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def known_runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("known") / "runs"
    specs = tmp_path_factory.mktemp("specs")
    for spec in (HIGH_BIAS, HIGH_VARIANCE):
        path = specs / f"{spec['name']}.yaml"
        import yaml
        path.write_text(yaml.safe_dump(spec))
        train(load_spec(path), runs)
    return runs


def test_tiny_linear_network_on_circles_is_high_bias(runner, known_runs):
    d = diagnosis(runner, known_runs, "linear-on-circles")
    assert d["verdict"] == "high bias" and d["train"] > 0.3, d  # a line cannot separate two circles
    assert d["avoidable_bias"] == pytest.approx(d["train"]) and d["bayes_source"].startswith("not given, assumed 0")
    assert any(step.startswith("bigger network: try model.layers.0.units: 2") for step in d["steps"])


def test_big_unregularized_network_on_few_samples_is_high_variance(runner, known_runs):
    d = diagnosis(runner, known_runs, "big-on-few")
    assert d["verdict"] == "high variance" and d["train"] < 0.02 and d["variance"] > 0.1
    steps = " | ".join(d["steps"])
    assert "data.subsample: null" in steps and "model.defaults.dropout: 0.3" in steps
    assert "add training.early_stopping" in steps


def test_bayes_error_and_thresholds_change_the_verdict(runner, known_runs):
    d = diagnosis(runner, known_runs, "linear-on-circles", "--bayes-error", "0.45", "--bias-threshold", "0.1")
    assert d["bayes"] == 0.45 and d["bayes_source"] == "command line" and d["verdict"] != "high bias"
    d = diagnosis(runner, known_runs, "big-on-few", "--variance-threshold", "0.9")
    assert d["verdict"] == "fine" and d["thresholds"]["variance"] == 0.9


def test_markdown_and_panel(runner, known_runs):
    md = runner.invoke(app, ["diagnose", "big-on-few", "--runs-dir", str(known_runs), "--format", "md"])
    assert md.exit_code == 0 and "**verdict: high variance**" in md.stdout and "| variance |" in md.stdout
    panel = runner.invoke(app, ["diagnose", "big-on-few", "--runs-dir", str(known_runs)])
    assert panel.exit_code == 0 and "verdict: high variance" in panel.stdout


def write_metrics(run, train_acc, val_acc, test_acc, **extra):
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.update({"train": {"loss": 0.1, "accuracy": train_acc}, "val": {"loss": 0.2, "accuracy": val_acc},
                    "test": {"loss": 0.3, "accuracy": test_acc}, "task": "classification", **extra})
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_groups_average_their_members_and_mismatch_is_seen(runner, tmp_path):
    for seed, (tr, va, te) in enumerate([(0.995, 0.985, 0.90), (0.985, 0.975, 0.88)]):
        write_metrics(make_run(tmp_path, f"r{seed}", seed=seed), tr, va, te, sizes={"train": 600, "val": 200,
                                                                                    "test": 200})
    # seed 0 trained again earlier, with other numbers: the latest run of a seed is the one that counts
    write_metrics(make_run(tmp_path, "old0", seed=0, started="2026-10-01T00:00:00.000+00:00"), 0.5, 0.5, 0.5,
                  sizes={"train": 600, "val": 200, "test": 200})
    d = diagnosis(runner, tmp_path, "exp")
    assert d["n"] == 2 and d["train"] == pytest.approx(0.01) and d["dev"] == pytest.approx(0.02)
    assert d["verdict"] == "dev/test mismatch" and d["dev_test_gap"] == pytest.approx(0.09)
    assert any("fresh dev set" in s for s in d["steps"])


@pytest.mark.parametrize("best, ran, early, fragment", [
    (5, 40, False, "35 epochs after the best one only overfit"),
    (40, 40, False, "still improving at the last epoch: train longer (training.epochs: 80)"),
    (12, 17, True, "early stopping worked"),
    (1, 6, True, "triggered very early"),
])
def test_learning_curve_notes(runner, tmp_path, best, ran, early, fragment):
    run = make_run(tmp_path, "r", epochs=ran)
    write_metrics(run, 0.99, 0.98, 0.98, best_epoch=best, epochs_run=ran, early_stopped=early)
    d = diagnosis(runner, tmp_path, "r")
    assert any(fragment in note for note in d["curve"]), d["curve"]


def test_spec_bayes_error_is_used(runner, write_spec, tmp_path):
    spec = merged(TINY, training={"epochs": 1}, evaluation={"bayes_error": 0.05})
    train(load_spec(write_spec(spec)), tmp_path / "runs")
    d = diagnosis(runner, tmp_path / "runs", "tiny")
    assert d["bayes"] == 0.05 and d["bayes_source"] == "spec"


def test_learning_curve_mode_produces_points_and_plot(runner, write_spec, tmp_path):
    path = write_spec(merged(HIGH_VARIANCE, training={"epochs": 10}, data={"dataset": "digits", "subsample": None}))
    plot = tmp_path / "curve.png"
    result = runner.invoke(app, ["diagnose", "--learning-curve", str(path), "--fractions", "0.1,0.5",
                                 "--runs-dir", str(tmp_path / "runs"), "--plot", str(plot), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["fraction"] for p in data["points"]] == [0.1, 0.5]
    assert data["points"][0]["samples"] < data["points"][1]["samples"]
    assert data["points"][0]["dev"] > data["points"][1]["dev"]  # more data, lower dev error
    assert data["verdict"].startswith("high variance")
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("config", ["seed-l2-bn-dropout-step.yaml", "seed-elu-he-maxnorm.yaml",
                                    "seed-l2-dropout-inverse-time.yaml", "seed-selu-alpha-dropout.yaml"])
@pytest.mark.parametrize("after_steps", [0, 30])
def test_gradcheck_passes_the_recipes(runner, config, after_steps):
    """L1/L2 on kernel and bias, batch norm, max-norm: analytic and numerical gradients agree, at the
    initial weights and after 30 steps of the recipe's optimizer."""
    result = runner.invoke(app, ["gradcheck", str(REPO / "configs" / config), "--samples", "6", "--format", "json",
                                 "--after-steps", str(after_steps)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "fine" and data["overall"] < 1e-7
    assert {t["name"] for t in data["tensors"]} >= {"l0/kernel", "output/kernel"}


def test_gradcheck_after_steps_checks_moved_weights():
    from regexp.data import prepare
    from regexp.net.model import build_model
    from regexp.net.scoring import loss as task_loss
    from regexp.trial.gradcheck import train_steps

    loaded = load_spec(REPO / "configs" / "seed-elu-he-maxnorm.yaml")
    data = prepare(loaded)
    with float64():
        model = build_model(loaded.spec.model, data, seed=loaded.spec.seed)
        before = model.get_layer("l0").kernel.numpy().copy()
        train_steps(model, task_loss(data.task, 0.0), loaded.spec, data, 30)
        moved = model.get_layer("l0").kernel.numpy()
    assert moved.dtype == np.float64 and np.abs(moved - before).max() > 1e-3


@tf.custom_gradient
def _scale_with_wrong_weight_gradient(x, w):
    def grad(upstream):
        return upstream * w, 2.0 * tf.reduce_sum(upstream * x, axis=0)  # dw is doubled: the planted bug
    return x * w, grad


class BuggyScale(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return _scale_with_wrong_weight_gradient(x, tf.convert_to_tensor(self.w))


def test_gradcheck_flags_exactly_the_layer_with_the_planted_bug(runner, monkeypatch):
    with float64():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((5,))
        x = keras.layers.Dense(4, activation="tanh", name="before",
                               kernel_regularizer=keras.regularizers.L2(0.01))(inputs)
        x = BuggyScale(name="buggy")(x)
        outputs = keras.layers.Dense(3, activation="softmax", name="after")(x)
        model = keras.Model(inputs, outputs)
        rng = np.random.default_rng(0)
        x_data, y_data = rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, 8)]
        result = check_model(model, keras.losses.CategoricalCrossentropy(), x_data, y_data, samples=None)
    flagged = {t.layer for t in result.tensors if t.difference > BUG}
    assert flagged == {"buggy"} and result.failed
    assert result.layers["before"] < 1e-7 and result.layers["after"] < 1e-7  # dx is right: no spill-over

    import regexp.trial.gradcheck
    monkeypatch.setattr(regexp.trial.gradcheck, "check_spec", lambda *a, **k: result)
    cli = runner.invoke(app, ["gradcheck", str(REPO / "configs" / "quickstart.yaml")])
    assert cli.exit_code == 1 and "likely bug" in cli.stdout


def test_a_gap_within_sampling_noise_is_not_variance(runner, tmp_path):
    """0.03 more dev error than train error on 100 validation samples at ~50% error is noise."""
    run = make_run(tmp_path, "r")
    write_metrics(run, 0.50, 0.47, 0.47, sizes={"train": 300, "val": 100, "test": 100})
    d = diagnosis(runner, tmp_path, "r", "--bayes-error", "0.5")
    assert d["thresholds"]["variance"] == pytest.approx(2 * (0.53 * 0.47 / 100) ** 0.5)
    assert d["verdict"] == "fine"
    write_metrics(run, 0.50, 0.47, 0.47, sizes={"train": 300000, "val": 100000, "test": 100000})
    assert diagnosis(runner, tmp_path, "r", "--bayes-error", "0.5")["verdict"] == "high variance"


@pytest.mark.parametrize("spread, fragment", [
    (0.004, "seeds: 20 already suffice: dev error varies by σ = 0.0041 between these 20 seeds, so telling a change "
            "of 0.02 in it (a next step's effect) from seed noise needs about 2 seeds per arm"),
    (0.03, "seeds: more than these 20: dev error varies by σ = 0.0308 between these 20 seeds, so telling a change of "
           "0.02 in it (a next step's effect) from seed noise needs about 38 seeds per arm"),
])
def test_advice_on_seeds_follows_from_n_and_the_measured_spread(runner, tmp_path, spread, fragment):
    """20 seeds whose dev accuracy alternates 0.90 ± spread (σ = spread·√(20/19)); the variance threshold is
    0.02: n ≈ (1.96 + 0.8416)²·2σ²/0.02² seeds per arm, 0.66 -> 2 and 37.4 -> 38."""
    for seed in range(20):
        val = 0.90 + spread * (-1) ** seed
        write_metrics(make_run(tmp_path, f"r{seed}", seed=seed), 0.91, val, val,
                      sizes={"train": 10**6, "val": 10**6, "test": 10**6})
    d = diagnosis(runner, tmp_path, "exp", "--bayes-error", "0.08")
    assert d["n"] == 20 and d["verdict"] == "fine"
    steps = " | ".join(d["steps"])
    assert fragment in steps and "repeat: 5" not in steps
    assert steps.endswith("; repeat: 38") == (spread == 0.03)


def test_one_seed_says_its_spread_is_not_measured(runner, tmp_path):
    write_metrics(make_run(tmp_path, "r"), 0.91, 0.90, 0.90, sizes={"train": 10**6, "val": 10**6, "test": 10**6})
    assert any(s.startswith("one seed: how much dev error varies between seeds is not measured")
               for s in diagnosis(runner, tmp_path, "r", "--bayes-error", "0.08")["steps"])
