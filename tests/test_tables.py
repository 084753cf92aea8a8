"""Your own data as it comes: categorical columns and missing cells, encoded inside the model from
the train part only, and raw rows predicted (an unseen category, an empty cell)."""

import csv
import json

import numpy as np
import pytest

from regexp.cli import app
from regexp.data import prepare
from regexp.spec import load_spec

from conftest import TINY, merged


def write_table(path, n=120, seed=0, colors=("red", "blue", "green"), missing=0.1):
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["size", "color", "weight", "label"])
        for _ in range(n):
            color, size = colors[rng.integers(len(colors))], rng.normal()
            weight = "" if rng.random() < missing else f"{rng.normal():.3f}"
            writer.writerow([f"{size:.3f}", color, weight, int((color == "red") ^ (size > 0.3))])
    return path


def table_spec(write_spec, path, name="spec.yaml", **data):
    return write_spec(merged(TINY, data={"dataset": None, "path": str(path), "target": "label", **data},
                             training={"epochs": 3, "batch_size": 16}), name=name)


def test_strings_and_empty_cells_train_and_raw_rows_predict(write_spec, runner, tmp_path):
    spec = table_spec(write_spec, write_table(tmp_path / "t.csv"), missing="indicator")
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    columns = json.loads((run / "metrics.json").read_text())["columns"]
    assert [(c["name"], c["kind"]) for c in columns] == [("size", "numeric"), ("color", "categorical"),
                                                          ("weight", "numeric")]
    assert columns[1]["vocabulary"] == ["blue", "green", "red"] and columns[1]["encoding"] == "one_hot"
    assert columns[2]["indicator"] is True and columns[2]["fill"] is not None
    new = tmp_path / "new.csv"
    new.write_text("size,color,weight\n0.1,purple,0.2\n1.2,red,\n-0.3,blue,1.0\n")  # unseen, empty
    predicted = runner.invoke(app, ["predict", str(run), str(new)])
    assert predicted.exit_code == 0, predicted.output
    lines = list(csv.reader(predicted.output.splitlines()))
    assert len(lines) == 4 and all(abs(float(p0) + float(p1) - 1) < 1e-5 for _, _, p0, p1 in lines[1:])
    shown = runner.invoke(app, ["show", str(run)])
    assert "color: categorical, 3 values (+ out of vocabulary), one_hot" in shown.output


def test_the_vocabulary_comes_from_the_train_part_only(write_spec, tmp_path):
    """A colour that only the test file has is out of vocabulary: code 0, like an unseen one."""
    train = write_table(tmp_path / "train.csv", seed=1)
    test = write_table(tmp_path / "test.csv", n=30, seed=2, colors=("red", "magenta"))
    data = prepare(load_spec(table_spec(write_spec, train, test_path=str(test), missing="mean")))
    color = data.columns[1]
    assert color.vocabulary == ["blue", "green", "red"]
    rows = list(csv.DictReader(test.open()))
    codes = data.x_test[:, 1]
    assert all(code == (3 if row["color"] == "red" else 0) for code, row in zip(codes, rows))


@pytest.mark.parametrize("mode", ["mean", "median", "indicator"])
def test_each_missing_mode_fills_with_the_train_parts_statistic(write_spec, tmp_path, mode):
    import keras

    from regexp.net.model import build_model

    loaded = load_spec(table_spec(write_spec, write_table(tmp_path / "t.csv", seed=3, missing=0.3), missing=mode))
    data = prepare(loaded)
    weight = data.x_train[:, 2]
    observed = weight[~np.isnan(weight)]
    assert data.columns[2].fill == pytest.approx(float(np.median(observed) if mode == "median" else observed.mean()))
    model = build_model(loaded.spec.model, data)
    names = [layer.name for layer in model.layers]
    assert ("was_missing" in names) == (mode == "indicator")
    probe = keras.Model(model.inputs, model.get_layer("numeric_columns").output)
    row = np.array([[0.5, 1.0, np.nan]], np.float32)
    assert float(probe(row)[0, 1]) == pytest.approx(data.columns[2].fill)  # the NaN became the fill


def test_a_missing_cell_is_an_error_by_default_naming_row_and_column(write_spec, runner, tmp_path):
    spec = table_spec(write_spec, write_table(tmp_path / "t.csv", missing=0.5))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "column 'weight': a missing value (set data.missing: mean" in result.output


def test_such_a_spec_trains_packed_and_alone_alike(write_spec, runner, tmp_path):
    spec = write_spec(merged(TINY, data={"dataset": None, "path": str(write_table(tmp_path / "t.csv")),
                                         "target": "label", "missing": "mean"},
                             training={"epochs": 3, "batch_size": 16}, repeat=2))
    finals = {}
    for pack in ("auto", "off"):
        result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path / pack), "--pack", pack,
                                     "--workers", "1"])
        assert result.exit_code == 0, result.output
        runs = [p for p in (tmp_path / pack).iterdir() if (p / "metrics.json").is_file()]
        assert all((json.loads((p / "run.json").read_text()).get("packed") is not None) == (pack == "auto")
                   for p in runs) and len(runs) == 2
        finals[pack] = sorted(json.loads((p / "metrics.json").read_text())["test"]["loss"] for p in runs)
    assert finals["auto"] == pytest.approx(finals["off"], rel=1e-4)  # a pack sums in another order
