"""logging.layer_stats and logging.per_step: what the course notes explain, visible in a run folder."""

import numpy as np
import pytest

from regexp.cli import app
from regexp.spec import load_spec
from regexp.store.folders import read_run
from regexp.trial.train import train

from conftest import TINY, merged

DIGITS = merged(TINY, data={"dataset": "digits", "subsample": 300}, model={"layers": [{"type": "dense", "units": 16}]},
                training={"epochs": 8, "batch_size": 32, "optimizer": {"name": "sgd", "learning_rate": 0.1}})


def run_with(write_spec, tmp_path, *overrides):
    return read_run(train(load_spec(write_spec(DIGITS), list(overrides)), tmp_path))


def test_layer_stats_show_l1_sparsity_rising_with_l1(write_spec, tmp_path):
    """L1's subgradient pulls every weight toward 0 by lr * l1 per step; L2 and no penalty do not."""
    stats = {}
    for l1 in (0.0, 0.01):
        run = run_with(write_spec, tmp_path, "logging={layer_stats: true, sparsity_threshold: 0.01}",
                       f"model.defaults.l1={l1}")
        rows = [r for r in run.layer_stats() if r["layer"] == "l0"]
        assert [r["epoch"] for r in rows] == list(range(1, 9))
        stats[l1] = [r["sparsity"] for r in rows]
        assert {r["layer"] for r in run.layer_stats()} == {"l0", "output"}
    assert stats[0.01][-1] > stats[0.01][0] + 0.1, stats  # rising over training
    assert stats[0.01][-1] > 3 * stats[0.0][-1], stats      # and far above the run without L1


def test_layer_stats_measure_weights_gradients_activations_and_bn(write_spec, tmp_path):
    run = run_with(write_spec, tmp_path, "logging.layer_stats=true", "model.defaults.batch_norm=after",
                   "model.defaults.l2=0.01")
    last = {r["layer"]: r for r in run.layer_stats() if r["epoch"] == 8}
    import keras

    model = keras.saving.load_model(run.path / "model.keras")
    assert last["l0"]["weight_norm"] == pytest.approx(float(np.linalg.norm(model.get_layer("l0").kernel.numpy())),
                                                      rel=1e-5)
    bn = model.get_layer("l0_bn")
    assert last["l0"]["bn_moving_var"] == pytest.approx(float(np.mean(bn.moving_variance.numpy())), rel=1e-5)
    assert last["output"]["bn_moving_mean"] is None
    assert last["l0"]["grad_norm"] > 0 and last["l0"]["act_std"] > 0
    assert 0 <= last["output"]["act_mean"] <= 1  # the output layer's probabilities


def roughness(losses: list[float]) -> float:
    """Step-to-step jumps relative to the loss level: 0 for a smooth curve."""
    return float(np.std(np.diff(losses)) / np.mean(losses))


def test_per_step_loss_is_noisier_with_small_batches_than_full_batch(write_spec, tmp_path):
    curves = {}
    for batch in (8, "full"):
        run = run_with(write_spec, tmp_path, "logging.per_step=true", f"training.batch_size={batch}")
        steps = run.steps()
        curves[batch] = [s["loss"] for s in steps]
        for epoch in (1, 8):  # the batch losses average (by batch size) to the epoch's loss in history.csv
            rows = [s for s in steps if s["epoch"] == epoch]
            mean = sum(s["loss"] * s["batch_size"] for s in rows) / sum(s["batch_size"] for s in rows)
            assert mean == pytest.approx(run.history[epoch - 1]["loss"], rel=1e-4)
    assert len(curves["full"]) == 8 and len(curves[8]) == 8 * 38  # 300 train samples: 37 batches of 8 and one of 4
    assert roughness(curves[8]) > 3 * roughness(curves["full"]), (roughness(curves[8]), roughness(curves["full"]))


def test_show_prints_the_last_epochs_layer_stats(runner, write_spec, tmp_path):
    run = run_with(write_spec, tmp_path, "logging={layer_stats: true, per_step: true}", "training.epochs=2")
    result = runner.invoke(app, ["show", str(run.path)])
    assert result.exit_code == 0, result.output
    assert "layer statistics, epoch 2" in result.output and "sparsity" in result.output
    assert "per-step loss: 2 epochs of" in " ".join(result.output.split())


def test_report_plot_adds_the_per_step_curve_and_layer_statistics(write_spec, tmp_path):
    from regexp.report import build_report
    from regexp.report.options import ReportOptions
    from regexp.views.figure import draw

    run_with(write_spec, tmp_path, "logging={layer_stats: true, per_step: true}", "training.epochs=2")
    figure = draw(build_report(ReportOptions(runs_dir=tmp_path)))
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert any(t.endswith(": per-step loss") for t in titles) and any(t.endswith(": layer statistics") for t in titles)
    steps_ax = next(ax for ax in figure.axes if ax.get_title(loc="left").endswith(": per-step loss"))
    assert [line.get_label() for line in steps_ax.lines] == ["batch loss", "EWMA β = 0.9"]
