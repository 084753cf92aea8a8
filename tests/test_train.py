"""A real end-to-end train writes every run file; seeds reproduce; failures keep their folder."""

import csv
import json

import keras
import numpy as np
import pytest
import yaml

from regexp.cli import app
from regexp.spec import load_spec
from regexp.store.contract import RUN_FILES
from regexp.trial.train import train

from conftest import TINY, merged


def history(run) -> list[dict]:
    with (run / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_run_folder_holds_every_file(trained_run):
    for name in RUN_FILES:
        assert (trained_run / name).stat().st_size > 0, name
    info = json.loads((trained_run / "run.json").read_text())
    assert info["status"] == "completed" and info["error"] is None
    assert info["seed"] == 1 and info["duration_s"] > 0 and info["versions_ml"]["keras"] == keras.__version__
    rows = history(trained_run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "penalty", "lr", "seconds"]
    metrics = json.loads((trained_run / "metrics.json").read_text())
    for part in ("train", "val", "test"):
        assert set(metrics[part]) == {"loss", "accuracy", "penalty"}
    assert metrics["epochs_run"] == 4 and 1 <= metrics["best_epoch"] <= 4
    assert metrics["generalization_gap"]["accuracy"] == pytest.approx(metrics["train"]["accuracy"] - metrics[
        "val"]["accuracy"])
    params = 4 * 8 + 8 + 8 * 3 + 3  # hidden dense + output; the scaling statistics are not parameters
    assert metrics["parameters"] == {"total": params, "trainable": params, "non_trainable": 0}
    assert "epoch 4:" in (trained_run / "log.txt").read_text()


def test_saved_model_takes_raw_inputs_and_reproduces_test_metrics(trained_run):
    from regexp.data import prepare
    from regexp.net.scoring import targets

    loaded = load_spec(trained_run / "config.yaml")
    data = prepare(loaded)
    model = keras.saving.load_model(trained_run / "model.keras", safe_mode=True)
    result = model.evaluate(data.x_test, targets(data.y_test, data), verbose=0, return_dict=True)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert result["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_same_seed_gives_identical_history_and_another_seed_does_not(write_spec, tmp_path):
    spec = merged(TINY, model={"defaults": {"dropout": 0.3}}, training={"epochs": 3})
    runs = [train(load_spec(write_spec(spec)), tmp_path / "runs") for _ in range(2)]
    runs.append(train(load_spec(write_spec(spec), ["seed=2"]), tmp_path / "runs"))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(history(runs[0])) == strip(history(runs[1]))
    assert strip(history(runs[0])) != strip(history(runs[2]))
    assert len({r.name for r in runs}) == 3  # same second, same spec: still separate folders


def test_a_whole_epoch_per_call_trains_exactly_like_one_step_per_call(write_spec, tmp_path):
    spec = merged(TINY, model={"defaults": {"dropout": 0.3}}, training={"epochs": 3})
    runs = [train(load_spec(write_spec(spec), [f"training.steps_per_execution={n}"]), tmp_path / "runs")
            for n in ("epoch", 1, 4)]
    rows = [[{k: float(v) for k, v in r.items() if k != "seconds"} for r in history(run)] for run in runs]
    for other in rows[1:]:
        for a, b in zip(rows[0], other):
            assert a == pytest.approx(b, rel=1e-5)


def test_early_stopping_restores_the_best_epoch(write_spec, tmp_path):
    spec = merged(TINY, training={"epochs": 40, "optimizer": {"name": "adam", "learning_rate": 0.05},
                                  "early_stopping": {"monitor": "val_loss", "patience": 2}})
    run = train(load_spec(write_spec(spec)), tmp_path / "runs")
    metrics = json.loads((run / "metrics.json").read_text())
    rows = history(run)
    assert metrics["early_stopped"] and metrics["epochs_run"] == len(rows) < 40
    best = min(rows, key=lambda r: float(r["val_loss"]))
    assert metrics["best_epoch"] == int(best["epoch"]) == len(rows) - 2
    assert metrics["val"]["loss"] == pytest.approx(float(best["val_loss"]), rel=1e-4)


def test_label_smoothing_trains_on_smoothed_targets_but_measures_against_true_labels(write_spec, tmp_path):
    """A smoothing arm's val_loss must be comparable with a plain arm's: cross-entropy against the
    true labels (the smoothed one has the smoothed distribution's entropy as its floor)."""
    from regexp.data import prepare
    from regexp.net.scoring import targets
    from regexp.trial.evaluate import evaluate_run

    spec = merged(TINY, model={"defaults": {"l2": 0.01}},
                  training={"batch_size": "full", "label_smoothing": 0.3, "metrics": ["accuracy", "ece"]})
    run = train(load_spec(write_spec(spec)), tmp_path / "runs")
    info = json.loads((run / "run.json").read_text())
    assert (info["batch_size"], info["steps_per_epoch"]) == (90, 1)
    model = keras.saving.load_model(run / "model.keras")
    assert model.loss.label_smoothing == pytest.approx(0.3)
    metrics = json.loads((run / "metrics.json").read_text())
    data = prepare(load_spec(run / "config.yaml"))
    probs = model.predict(data.x_val, verbose=0)
    true = targets(data.y_val, data)
    assert metrics["val"]["loss"] == pytest.approx(float(np.mean(-np.log(np.sum(probs * true, axis=1)))), rel=1e-4)
    penalty = sum(0.01 * float(np.sum(np.square(layer.kernel))) for layer in model.layers if layer.name == "l0")
    assert metrics["val"]["penalty"] == pytest.approx(penalty, rel=1e-3)  # not the smoothing's extra entropy
    assert metrics["val"]["ece"] == pytest.approx(numpy_ece(probs, data.y_val), abs=1e-5)
    assert set(history(run)[0]) >= {"loss", "val_loss", "ece", "val_ece", "penalty"}
    assert "smoothed_loss" not in history(run)[0]
    now, recorded = evaluate_run(run)  # the registered metric survives a safe-mode reload
    assert now["val"]["ece"] == pytest.approx(recorded["val"]["ece"], abs=1e-6)


def numpy_ece(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error written out in numpy, independently of the Keras metric."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    total = 0.0
    for low, high in zip(np.linspace(0, 1, bins + 1)[:-1], np.linspace(0, 1, bins + 1)[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


def test_ece_by_hand():
    """Bin 13 (0.87-0.93] holds two 0.9s, one right: |0.5 - 0.9| * 2/4 = 0.2. Bin 9 (0.6-0.67]
    holds 0.62 (right) and 0.64 (wrong): |0.5 - 0.63| * 2/4 = 0.065. ECE = 0.265."""
    from regexp.net.scoring import ExpectedCalibrationError

    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.62, 0.38], [0.36, 0.64]], dtype="float32")
    y = np.array([0, 1, 0, 0])
    ece = ExpectedCalibrationError()
    ece.update_state(keras.utils.to_categorical(y, 2)[:2], probs[:2])  # two batches accumulate
    ece.update_state(keras.utils.to_categorical(y, 2)[2:], probs[2:])
    assert float(ece.result()) == pytest.approx(0.265, abs=1e-6)
    assert numpy_ece(probs, y) == pytest.approx(0.265)
    binary = ExpectedCalibrationError()  # one sigmoid output: confidence max(p, 1 - p)
    binary.update_state(np.array([[1.0], [0.0]]), np.array([[0.8], [0.4]], dtype="float32"))
    assert float(binary.result()) == pytest.approx((abs(1 - 0.8) + abs(1 - 0.6)) / 2)


def test_cli_trains_several_specs_in_turn(runner, write_spec, tmp_path):
    a = write_spec(merged(TINY, name="a", training={"epochs": 1}), "a.yaml")
    b = write_spec(merged(TINY, name="b", training={"epochs": 1}), "b.yaml")
    result = runner.invoke(app, ["train", str(a), str(b), "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name.split("_")[1] for p in (tmp_path / "runs").iterdir()) == ["a", "b"]


def test_a_bad_spec_stops_before_any_training(runner, write_spec, tmp_path):
    good = write_spec(merged(TINY, name="good"), "good.yaml")
    bad = write_spec("name: bad\ndata: {dataset: iris}\ntraining: {epochs: 0}\n", "bad.yaml")
    result = runner.invoke(app, ["train", str(good), str(bad), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and f"{bad}:3: training.epochs" in result.output
    assert not (tmp_path / "runs").exists()


def test_diverging_loss_fails_the_run_with_the_epoch(runner, write_spec, tmp_path):
    spec = merged(TINY, data={"dataset": "regression"}, training={"epochs": 5, "metrics": None,
                                                                  "optimizer": {"name": "sgd",
                                                                                "learning_rate": 1000.0}})
    result = runner.invoke(app, ["train", str(write_spec(spec)), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    (run,) = (tmp_path / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and info["error"].startswith("non-finite loss at epoch ")
    assert "non-finite loss" in result.output and "Traceback" not in result.output


def test_a_crash_after_start_keeps_the_folder_as_failed(runner, write_spec, tmp_path, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise OSError("No space left on device")
    monkeypatch.setattr(keras.Model, "save", broken_save)
    result = runner.invoke(app, ["train", str(write_spec(TINY)), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    (run,) = (tmp_path / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "No space left on device" in info["error"]
    assert "Traceback" in (run / "error.txt").read_text()
    assert len(history(run)) == 3  # the epochs that did run are kept


def test_ctrl_c_marks_the_run_interrupted(runner, write_spec, tmp_path, monkeypatch):
    def interrupted_fit(self, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(keras.Model, "fit", interrupted_fit)
    result = runner.invoke(app, ["train", str(write_spec(TINY)), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 130
    (run,) = (tmp_path / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted" and info["ended"] is not None


def test_resolved_config_reproduces_the_run(trained_run, tmp_path):
    again = train(load_spec(trained_run / "config.yaml"), tmp_path / "runs")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(history(again)) == strip(history(trained_run))
    assert yaml.safe_load((again / "config.yaml").read_text()) == yaml.safe_load((
        trained_run / "config.yaml").read_text())


@pytest.mark.parametrize("data, task, metrics", [
    ({"dataset": "breast_cancer"}, "auto", ["accuracy", "auc", "precision", "recall"]),
    ({"dataset": "wine"}, "auto", ["accuracy", "top3_accuracy"]),
    ({"dataset": "regression", "samples": 200, "features": 5, "noise": 1.0}, "auto", ["mae", "rmse", "r2"]),
    ({"dataset": "breast_cancer"}, "classification", ["accuracy"]),  # 2-class softmax on request
])
def test_metrics_and_task_reach_training(write_spec, tmp_path, data, task, metrics):
    spec = merged(TINY, data=data, model={"task": task}, training={"epochs": 1, "metrics": metrics})
    run = train(load_spec(write_spec(spec)), tmp_path / "runs")
    assert list(history(run)[0]) == ["epoch", "loss", *metrics, "val_loss", *(f"val_{m}" for m in metrics), "penalty",
                                     "lr", "seconds"]
    result = json.loads((run / "metrics.json").read_text())
    assert set(result["test"]) == {"loss", "penalty", *metrics}
    assert result["directions"] == {"loss": "min", **{m: "min" if m in ("mae", "rmse") else "max" for m in metrics}}
    if task == "classification":
        assert keras.saving.load_model(run / "model.keras").get_layer("output").units == 2


def test_loss_leaves_out_the_l2_penalty_which_is_reported_apart(write_spec, tmp_path):
    """Comparing regularizers on a penalized val_loss would count L2's penalty against it."""
    from regexp.data import prepare
    from regexp.net.scoring import targets

    spec = merged(TINY, model={"defaults": {"l2": 0.05}}, training={"epochs": 2})
    run = train(load_spec(write_spec(spec)), tmp_path / "runs")
    metrics = json.loads((run / "metrics.json").read_text())
    model = keras.saving.load_model(run / "model.keras")
    penalty = sum(0.05 * float(np.sum(np.square(layer.kernel))) for layer in model.layers if layer.name == "l0")
    assert metrics["val"]["penalty"] == pytest.approx(penalty, rel=1e-3)
    data = prepare(load_spec(run / "config.yaml"))
    probs = model.predict(data.x_val, verbose=0)
    cross_entropy = float(np.mean(-np.log(np.sum(probs * targets(data.y_val, data), axis=1))))
    assert metrics["val"]["loss"] == pytest.approx(cross_entropy, rel=1e-4)
    rows = history(run)
    assert all(float(r["penalty"]) > 0 for r in rows)
