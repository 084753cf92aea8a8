"""Everything else works for sequence models as for dense ones: gradcheck, diagnose, report with a
baseline, provenance, MC dropout, predict on windows and on text (through the run's saved
vocabulary); and the spec says what a sequence layer would otherwise ignore or crash on."""

import csv
import json

import numpy as np
import pytest
import yaml

from regexp.cli import app
from regexp.data import prepare
from regexp.data.text import read_vocabulary, token_ids
from regexp.net.layers import NoisyConv1D
from regexp.net.model import build_model
from regexp.net.saved import load_model_file
from regexp.spec import load_spec
from regexp.store.folders import read_run
from regexp.trial.train import train

from runfolders import make_run

SEQUENCE = {"dataset": "noisy_sequence", "length": 8, "samples": 120}


def lstm_spec(recurrent_dropout: float) -> dict:
    return {"name": "lstm", "seed": 0, "repeat": 2, "data": SEQUENCE,
            "model": {"layers": [{"type": "lstm", "units": 4, "recurrent_dropout": recurrent_dropout}]},
            "training": {"epochs": 2, "batch_size": 32, "optimizer": {"learning_rate": 0.02}}}


@pytest.fixture(scope="module")
def lstm_runs(tmp_path_factory):
    """Two seeds each of an LSTM without and with recurrent_dropout (the folders of `regexp train`)."""
    from typer.testing import CliRunner

    specs, runs = tmp_path_factory.mktemp("specs"), tmp_path_factory.mktemp("lstm") / "runs"
    for rate in (0.0, 0.3):
        path = specs / f"lstm{rate}.yaml"
        path.write_text(yaml.safe_dump(lstm_spec(rate)))
        result = CliRunner().invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q"])
        assert result.exit_code == 0, result.output
    return runs


def runs_of(runs_dir, recurrent_dropout: float) -> list:
    found = [read_run(p) for p in sorted(runs_dir.iterdir()) if (p / "metrics.json").is_file()]
    return [r for r in found if r.config["model"]["layers"][0]["recurrent_dropout"] == recurrent_dropout]


def test_provenance_names_the_generated_task_its_generator_and_its_keys(lstm_runs):
    run = runs_of(lstm_runs, 0.0)[0]
    assert run.info.provenance.data.startswith("noisy_sequence (regexp ")  # the generator's version
    data = run.config["data"]  # what it was generated from
    assert (data["samples"], data["length"]) == (120, 8)


def test_report_compares_recurrent_runs_against_a_baseline(runner, lstm_runs):
    result = runner.invoke(app, ["report", "--runs-dir", str(lstm_runs), "--baseline", "recurrent_dropout=0.0",
                                 "--metric", "test_loss", "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    rows = {row["id"]: row for row in answer["rows"]}
    assert [row["n"] for row in rows.values()] == [2, 2]
    (arm,) = [row for row in rows.values() if row["id"] != answer["baseline"]]
    assert rows[answer["baseline"]]["params"]["model.layers.0.recurrent_dropout"] == 0.0
    assert arm["baseline"]["n"] == "2 pairs" and arm["baseline"]["test"] == "paired t-test", arm["baseline"]


def test_diagnose_a_recurrent_group_names_the_layers_own_keys(runner, lstm_runs):
    group = next(row["id"] for row in json.loads(runner.invoke(app, [
        "report", "--runs-dir", str(lstm_runs), "--format", "json"]).stdout)["rows"] if row["n"] == 2)
    result = runner.invoke(app, ["diagnose", group, "--runs-dir", str(lstm_runs), "--format", "json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["n"] == 2 and d["verdict"].startswith("high bias"), d  # 2 epochs: near chance
    steps = " | ".join(d["steps"])
    assert "model.layers.0.units: 8" in steps and "conv2d" not in steps


def test_diagnose_high_variance_regularizes_the_recurrent_layer_itself(runner, tmp_path):
    """model.defaults do not reach an LSTM: the advice is its own dropout and recurrent_dropout."""
    run = make_run(tmp_path, "r", val_accuracy=0.7, sizes={"train": 600, "val": 200, "test": 200})
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["layers"] = [{"type": "lstm", "units": 16, "dropout": 0.1, "recurrent_dropout": 0.0}]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    d = json.loads(runner.invoke(app, ["diagnose", "r", "--runs-dir", str(tmp_path), "--format", "json"]).stdout)
    steps = " | ".join(d["steps"])
    assert d["verdict"] == "high variance"
    assert "model.layers.0.dropout: 0.3 or model.layers.0.recurrent_dropout: 0.2" in steps
    assert "model.defaults" not in steps and "model.layers.0.units: 8" in steps


def test_mc_dropout_passes_of_an_lstm_with_only_recurrent_dropout_differ(runner, lstm_runs, tmp_path):
    run = runs_of(lstm_runs, 0.3)[0].path
    result = runner.invoke(app, ["evaluate", str(run), "--mc-dropout", "3"])
    assert result.exit_code == 0 and "mc_accuracy" in result.output, result.output
    rows = np.random.default_rng(0).normal(size=(4, 8))
    (tmp_path / "new.csv").write_text(",".join(f"x{i}" for i in range(8)) + "\n"
                                      + "".join(",".join(map(str, r)) + "\n" for r in rows))
    spread = []
    for path in (run, runs_of(lstm_runs, 0.0)[0].path):
        result = runner.invoke(app, ["predict", str(path), str(tmp_path / "new.csv"), "--mc-dropout", "5"])
        assert result.exit_code == 0, result.output
        spread.append([float(r["std_1"]) for r in csv.DictReader(result.stdout.splitlines())])
    assert min(spread[0]) > 0 and max(spread[1]) == 0.0  # each pass draws new masks; without dropout, one answer


def test_gradcheck_an_lstm_and_a_bidirectional_gru_with_their_dropouts(runner, write_spec):
    """dropout and recurrent_dropout are off for the check: the gradients of both cells agree."""
    path = write_spec({"name": "g", "data": {"dataset": "adding", "length": 4, "samples": 100}, "model": {"layers": [
        {"type": "gru", "units": 3, "return_sequences": True, "bidirectional": True, "recurrent_dropout": 0.3},
        {"type": "lstm", "units": 3, "dropout": 0.2, "recurrent_dropout": 0.3}]}})
    result = runner.invoke(app, ["gradcheck", str(path), "--samples", "2", "--format", "json"])
    assert result.exit_code == 0, result.output  # with a mask drawn per call the differences were about 1
    data = json.loads(result.stdout)
    assert data["overall"] < 1e-7 and max(t["difference"] for t in data["tensors"]) < 1e-5
    assert {t["name"] for t in data["tensors"]} >= {"l1/lstm_cell/recurrent_kernel", "l0/l0_backward/gru_cell/kernel"}


def test_conv1d_weight_noise_perturbs_training_passes_only(write_spec):
    loaded = load_spec(write_spec({"name": "w", "data": SEQUENCE, "model": {"layers": [
        {"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "causal", "weight_noise": 0.5},
        {"type": "gru", "units": 2}]}}))
    model = build_model(loaded.spec.model, prepare(loaded))
    conv = model.get_layer("l0")
    x = np.random.default_rng(0).normal(size=(3, 8, 1)).astype("float32")
    assert isinstance(conv, NoisyConv1D) and conv(x).shape == (3, 8, 4)  # causal keeps the length
    assert np.array_equal(conv(x, training=False), conv(x, training=False))
    assert not np.allclose(conv(x, training=True), conv(x, training=False))


def test_predict_on_a_window_run_reads_the_csv_as_its_windows(runner, write_spec, tmp_path):
    rows = np.random.default_rng(0).normal(size=(60, 2)).round(4)
    (tmp_path / "series.csv").write_text("other,value\n" + "".join(f"{a},{b}\n" for a, b in rows))
    loaded = load_spec(write_spec({"name": "w", "data": {"path": "series.csv", "window": {"length": 5}},
                                   "model": {"layers": [{"type": "gru", "units": 3}]},
                                   "training": {"epochs": 1, "batch_size": 16}}))
    run = train(loaded, tmp_path / "runs")
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "series.csv")])
    assert result.exit_code == 0, result.output
    predicted = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["row"] for r in predicted[:2]] == ["0-4", "1-5"] and predicted[-1]["row"] == "55-59"
    model, data = load_model_file(run / "model.keras"), prepare(loaded)
    expected = model.predict(data.x_train[:3], verbose=0)[:, 0]  # train windows start at row 0, stride 1
    assert [float(r["prediction"]) for r in predicted[:3]] == pytest.approx(expected.tolist(), rel=1e-5)


def test_a_text_run_keeps_its_vocabulary_and_predict_reads_new_text_through_it(runner, write_spec, tmp_path):
    rows = [f"sample{i} {'good fine' if i % 2 else 'bad poor'},{'pos' if i % 2 else 'neg'}" for i in range(40)]
    (tmp_path / "texts.csv").write_text("review,label\n" + "\n".join(rows) + "\n")
    loaded = load_spec(write_spec({"name": "t", "data": {"path": "texts.csv", "text": {"column": "review",
                                                                                     "length": 4}},
                                   "model": {"layers": [{"type": "embedding", "output_dim": 4},
                                                        {"type": "lstm", "units": 4}]},
                                   "training": {"epochs": 1, "batch_size": 16}}))
    validated = runner.invoke(app, ["validate", str(loaded.file)])
    assert validated.exit_code == 0 and "leak" not in validated.output, validated.output  # a text, not a table
    run = train(loaded, tmp_path / "runs")
    data = prepare(loaded)
    words = read_vocabulary(run)
    assert words == data.vocabulary[2:] and "bad" in words
    assert token_ids(np.array(["zebra good"], dtype=object), words, 4)[0].tolist() == [1, words.index("good") + 2,
                                                                                     0, 0]
    test_texts = [rows[i].split(",")[0] for i in range(40)]
    (tmp_path / "new.csv").write_text("review\n" + "\n".join(test_texts) + "\n")
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "new.csv")])
    assert result.exit_code == 0, result.output
    predicted = [float(r["p_pos"]) for r in csv.DictReader(result.stdout.splitlines())]
    ids = token_ids(np.array(test_texts, dtype=object), data.vocabulary[2:], 4)
    expected = load_model_file(run / "model.keras").predict(ids, verbose=0)[:, 0]
    assert predicted == pytest.approx(expected.tolist(), rel=1e-5)
    assert sorted(data.x_val.tolist() + data.x_test.tolist()) == sorted(  # val/test rows read as they were
        row for row, text in zip(ids.tolist(), test_texts) if text.split()[0] not in words)
    replayed = runner.invoke(app, ["replay", str(run)])
    assert replayed.exit_code == 0 and "identical" in replayed.output, replayed.output


SEQUENCE_YAML = "name: s\ndata: {dataset: noisy_sequence, length: 6}\n"
TOKENS_YAML = "name: s\ndata: {dataset: token_recall, length: 6, classes: 4}\n"
EMBED = "{type: embedding, output_dim: 4}"


@pytest.mark.parametrize("body, key, says", [
    (SEQUENCE_YAML + "model:\n  layers: [{type: conv1d, filters: 2}, {type: max_pool, pool_size: [2, 2]}, "
                     "{type: gru, units: 2}]\n", "4: model.layers.1.pool_size", "pooling a sequence is 1-D"),
    (TOKENS_YAML + f"model:\n  input_dropout: 0.2\n  layers: [{EMBED}, {{type: lstm, units: 2}}]\n",
     "4: model.input_dropout", "token ids"),
    (TOKENS_YAML + f"training: {{mixup: {{alpha: 0.2}}}}\nmodel:\n  layers: [{EMBED}, {{type: lstm, units: 2}}]\n",
     "3: training.mixup", "a mix of two ids is no token"),
    (SEQUENCE_YAML + "training: {cutout: {size: 0.25}}\nmodel:\n  layers: [{type: lstm, units: 2}]\n",
     "3: training.cutout", "images only"),
    (TOKENS_YAML + "model:\n  layers: [{type: embedding, output_dim: 4, mask_zero: true}, {type: conv1d, "
                   "filters: 2}, {type: lstm, units: 2}]\n", "4: model.layers.0.mask_zero", "drops the mask"),
    (SEQUENCE_YAML + "model:\n  layers: [{type: simple_rnn, units: 2, recurrent_activation: hard_sigmoid}]\n",
     "4: model.layers.0.recurrent_activation", "simple_rnn has no gates"),
    (SEQUENCE_YAML + "model:\n  layers: [{type: lstm, units: 2}]\nsearch:\n  params:\n"
                     "    model.defaults.dropout: [0.0, 0.5]\n", "7: search.params.model.defaults.dropout",
     "every point would train the same model"),
])
def test_what_a_sequence_model_would_ignore_or_crash_on_is_a_spec_error(runner, write_spec, body, key, says):
    path = write_spec(body)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and f"{path}:{key}" in result.output and says in result.output, result.output


def test_model_defaults_that_reach_no_layer_are_a_warning(runner, write_spec):
    path = write_spec(SEQUENCE_YAML + "model:\n  defaults: {dropout: 0.3, weight_noise: 0.1}\n"
                                      "  layers: [{type: lstm, units: 2}]\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:4: model.defaults.dropout: reaches no layer" in result.output
    assert "set model.layers.0.dropout on the lstm layer" in result.output
    assert "model.defaults.weight_noise: reaches no layer" in result.output
    mixed = write_spec(SEQUENCE_YAML + "model:\n  defaults: {dropout: 0.3}\n  layers: [{type: conv1d, filters: 2}, "
                                       "{type: lstm, units: 2}]\n", "mixed.yaml")
    assert "reaches no layer" not in runner.invoke(app, ["validate", str(mixed)]).output  # the conv1d takes it
