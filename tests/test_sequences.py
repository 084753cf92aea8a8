"""Sequence models: recurrent, conv1d and embedding layers train on the generated tasks; csv windows
never cross parts; text's vocabulary comes from the train part only; the spec errors on layer order."""

import json

import numpy as np
import pytest

from regexp.cli import app
from regexp.data import prepare
from regexp.data.windows import window_starts
from regexp.net.layers import mc_dropout_model
from regexp.net.saved import load_model_file
from regexp.packed.grouping import unpackable
from regexp.spec import load_spec
from regexp.spec.schema import Split
from regexp.spec.sequences import Window
from regexp.store.folders import read_run
from regexp.trial.train import train


def sequence_spec(dataset: str, layers: list, **sections) -> dict:
    return {"name": "seq", "seed": 0, "data": {"dataset": dataset, "length": 8, "samples": 400},
            "model": {"layers": layers},
            "training": {"epochs": 3, "batch_size": 32, "optimizer": {"learning_rate": 0.02}}, **sections}


@pytest.mark.parametrize("dataset, layers, metric, beyond", [
    # chance: 0.5 (binary), 1/6 MSE (always 1.0 on the adding problem), 1/4 (4 tokens to recall)
    ("noisy_sequence", [{"type": "conv1d", "filters": 8, "kernel_size": 3}, {"type": "max_pool"},
                        {"type": "simple_rnn", "units": 8}], "accuracy", lambda v: v > 0.75),
    ("adding", [{"type": "gru", "units": 16, "return_sequences": True, "bidirectional": True, "norm": "layer"},
                {"type": "lstm", "units": 16}], "loss", lambda v: v < 0.12),
    ("token_recall", [{"type": "embedding", "output_dim": 8}, {"type": "lstm", "units": 16}], "accuracy",
     lambda v: v > 0.45),
])
def test_each_sequence_layer_trains_beyond_chance(write_spec, tmp_path, dataset, layers, metric, beyond):
    spec = sequence_spec(dataset, layers, **({"data": {"dataset": dataset, "length": 8, "samples": 400,
                                                       "classes": 4}} if dataset == "token_recall" else {}))
    if dataset == "adding":
        spec["training"]["epochs"] = 6
    run = train(load_spec(write_spec(spec)), tmp_path / "runs")
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert beyond(test[metric]), test


def test_mc_dropout_keeps_an_lstms_recurrent_dropout_on(write_spec, tmp_path):
    spec = sequence_spec("noisy_sequence", [{"type": "lstm", "units": 8, "dropout": 0.2, "recurrent_dropout": 0.3}],
                         evaluation={"mc_dropout": 4})
    run = train(load_spec(write_spec(spec)), tmp_path / "runs")
    assert "mc_accuracy" in json.loads((run / "metrics.json").read_text())["test"]
    model = load_model_file(run / "model.keras")
    x = np.random.default_rng(0).normal(size=(6, 8, 1)).astype("float32").reshape(6, 8)
    mc = mc_dropout_model(model)
    assert np.array_equal(model(x), model(x))  # inference: no dropout
    assert not np.allclose(mc(x), mc(x))  # MC passes: the recurrent layer's masks are drawn anew


def test_an_lstm_run_stopped_mid_training_resumes_to_the_same_history(write_spec, tmp_path, runner, monkeypatch):
    from regexp.trial.resume_point import ResumePoint

    spec = write_spec(sequence_spec("noisy_sequence", [{"type": "lstm", "units": 8}], training={
        "epochs": 4, "batch_size": 32, "optimizer": {"learning_rate": 0.02}}))
    whole = read_run(train(load_spec(spec), tmp_path / "whole")).history
    original = ResumePoint.on_epoch_end

    def stop_after_two(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            self.write()
            raise KeyboardInterrupt
    monkeypatch.setattr(ResumePoint, "on_epoch_end", stop_after_two)
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"]).exit_code == 130
    monkeypatch.setattr(ResumePoint, "on_epoch_end", original)
    (run,) = (tmp_path / "runs").iterdir()
    assert len(read_run(run).history) == 2
    assert runner.invoke(app, ["resume", str(run), "-q"]).exit_code == 0
    resumed = read_run(run).history
    assert [row["epoch"] for row in resumed] == [1, 2, 3, 4]
    assert [row["loss"] for row in resumed] == pytest.approx([row["loss"] for row in whole], rel=1e-5)


def test_windows_of_a_series_never_cross_parts(write_spec, tmp_path):
    window, split = Window(length=5, horizon=2, stride=1), Split(train=0.6, val=0.2, test=0.2)
    spans = [(starts, starts + window.length + window.horizon - 1) for starts in window_starts(100, window, split)]
    for (_, last_read), (next_first, _) in zip(spans, spans[1:]):
        assert last_read.max() < next_first.min()  # every row, labels included, belongs to one part
    assert sum(len(starts) for starts, _ in spans) == 100 - 3 * (window.length + window.horizon - 1)

    rows = np.arange(60, dtype=float)  # the series is its own row number: each value says where it came from
    (tmp_path / "series.csv").write_text("other,value\n" + "".join(f"{v * 2},{v}\n" for v in rows))
    loaded = load_spec(write_spec({"name": "w", "data": {"path": "series.csv", "window": {"length": 4},
                                                         "scale": "none"},
                                   "model": {"layers": [{"type": "lstm", "units": 4}]}}))
    data = prepare(loaded)
    assert data.task == "regression" and data.shape == (4, 2)  # the feature column and the value's own past
    parts = {"train": (data.x_train, data.y_train), "val": (data.x_val, data.y_val), "test": (data.x_test, data.y_test)}
    read = {part: np.concatenate([x.reshape(len(x), 4, 2)[..., 1].ravel(), y]) for part, (x, y) in parts.items()}
    assert read["train"].max() < read["val"].min() and read["val"].max() < read["test"].min()
    assert np.array_equal(data.y_train[:3], [4, 5, 6])  # the next value after rows 0-3, 1-4, 2-5


def test_text_vocabulary_comes_from_the_train_part_only(write_spec, tmp_path):
    rows = [f"sample{i} {'good fine' if i % 2 else 'bad poor'},{i % 2}" for i in range(40)]
    (tmp_path / "texts.csv").write_text("review,label\n" + "\n".join(rows) + "\n")
    loaded = load_spec(write_spec({"name": "t", "data": {"path": "texts.csv", "text": {"column": "review",
                                                                                     "length": 4}},
                                   "model": {"layers": [{"type": "embedding", "output_dim": 4},
                                                        {"type": "gru", "units": 4}]}}))
    data = prepare(loaded)
    own_words = [w for w in data.vocabulary if w.startswith("sample")]
    assert len(own_words) == len(data.y_train)  # each train text's own word, and no val/test text's
    assert data.tokens == len(data.vocabulary) and data.scale == {}
    for part in (data.x_val, data.x_test):
        assert np.all(part[:, 0] == 1)  # a word only that part has: out of vocabulary (id 1)
    assert np.all(data.x_train[:, 0] > 1)


@pytest.mark.parametrize("layers, line, key, says", [
    ([{"type": "dense", "units": 4}, {"type": "flatten"}, {"type": "lstm", "units": 4}], 9, "model.layers.2",
     "lstm needs a sequence, but model.layers.1 (flatten)"),
    ([{"type": "lstm", "units": 4}, {"type": "gru", "units": 4}], 8, "model.layers.1",
     "set return_sequences: true"),
    ([{"type": "lstm", "units": 4, "batch_norm": "before"}], 7, "model.layers.0.batch_norm", "use norm: layer"),
])
def test_sequence_layer_mistakes_name_file_line_and_why(runner, write_spec, layers, line, key, says):
    body = "".join(f"    - {json.dumps(layer)}\n" for layer in layers)
    path = write_spec(f"name: s\ndata:\n  dataset: noisy_sequence\n  length: 6\nmodel:\n  layers:\n{body}")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and f"{path}:{line}: {key}" in result.output and says in result.output, result.output


def test_recurrent_layers_train_alone_and_the_plan_says_why(write_spec):
    loaded = load_spec(write_spec(sequence_spec("adding", [{"type": "gru", "units": 4}])))
    assert "gru layers train alone" in unpackable(loaded)

