"""logging.tensorboard / --tensorboard: event files that TensorBoard's own reader reads back."""

import pytest

from regexp.cli import app
from regexp.store.folders import read_run

from conftest import TINY, merged

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(folder):
    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def scalar(events, tag) -> list[tuple[int, float]]:
    import tensorflow as tf

    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def test_a_sweep_with_tensorboard_writes_scalars_and_hparams_per_run(runner, write_spec, tmp_path):
    spec = write_spec(merged(TINY, training={"epochs": 3}, logging={"layer_stats": True, "per_step": True},
                             search={"params": {"model.defaults.l2": [0.0, 0.01]}}))
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path), "--tensorboard", "--workers", "1",
                                 "-q"])
    assert result.exit_code == 0, result.output
    runs = sorted(p for p in tmp_path.iterdir() if (p / "run.json").is_file())
    assert len(runs) == 2
    for run in runs:
        record = read_run(run)
        events = read_events(run / "tensorboard")
        tags = events.Tags()["tensors"]
        assert scalar(events, "epoch/val_loss") == [(r["epoch"], pytest.approx(r["val_loss"],
                                                                               rel=1e-6)) for r in record.history]
        assert {"epoch/loss", "epoch/penalty", "epoch/lr", "step/loss", "layers/l0/sparsity",
                "final/test_loss"} <= set(tags)
        assert scalar(events, "final/test_loss")[0][1] == pytest.approx(record.metrics.test["loss"], rel=1e-6)
        assert len(scalar(events, "step/loss")) == len(record.steps())
        # the HParams summary: the plugin's session-start data holds the run's point and seed
        from tensorboard.plugins.hparams import plugin_data_pb2

        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        assert start.hparams["model.defaults.l2"].number_value == record.config["model"]["defaults"]["l2"]
        assert start.hparams["seed"].number_value == record.seed


def test_tensorboard_missing_is_a_spec_error_before_the_run_folder(runner, write_spec, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    spec = write_spec(merged(TINY, logging={"tensorboard": True}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "pip install 'regexp[tensorboard]'" in result.output
    assert not (tmp_path / "runs").exists()
