"""Tables as they come (tests/tables/: written for these tests in the shapes public tables have: R's
NA and row index, UCI's `?`, a `;` file with decimal commas, quoted thousands, an ID column, a
stray word among numbers, a class called None). Each column's reading is asserted whole, and
training uses exactly the reading validate prints."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from regexp.cli import app
from regexp.data.columns import check_columns
from regexp.data.prepare import prepare
from regexp.spec import load_spec

from conftest import TINY, merged

TABLES = Path(__file__).parent / "tables"
PENGUIN_FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]


def table_spec(write_spec, file: str, **data):
    return write_spec(merged(TINY, data={"dataset": None, "path": str(TABLES / file), **data},
                             training={"epochs": 2, "batch_size": 16}))


def read(write_spec, file: str, **data):
    return check_columns(load_spec(table_spec(write_spec, file, **data)))["data.path"]


def summary(reading) -> list[tuple]:
    return [(c.name, c.kind, c.encoding or c.why, c.missing, c.markers, c.fill) for c in reading.columns]


MEAN, OOV = "train mean", "out of vocabulary (code 0)"
PENGUINS = [("species", "target", None, 0, {}, None),
            ("island", "categorical", "one_hot", 0, {}, None),
            ("bill_length_mm", "numeric", None, 1, {"NA": 1}, MEAN),
            ("bill_depth_mm", "numeric", None, 1, {"NA": 1}, MEAN),
            ("flipper_length_mm", "numeric", None, 1, {"NA": 1}, MEAN),
            ("body_mass_g", "numeric", None, 1, {"NA": 1}, MEAN),
            ("sex", "categorical", "one_hot", 6, {"NA": 6}, OOV),
            ("year", "numeric", None, 0, {}, None)]


def test_an_r_export_drops_its_row_index_and_reads_na_as_missing(write_spec):
    reading = read(write_spec, "penguins_r.csv", target="species", missing="mean")
    assert summary(reading) == [("column 1", "dropped", "row index 1..48", 0, {}, None), *PENGUINS]
    assert reading.classes == {"Adelie": 16, "Chinstrap": 16, "Gentoo": 16}
    assert [c.name for c in reading.features] == PENGUIN_FEATURES
    assert reading.notes == ["column 1 has no header and holds 1..48: a row index, dropped (name it in data.columns "
                             "to keep it)"]
    assert reading.warnings == []


def test_a_semicolon_file_with_decimal_commas_reads_the_same_numbers(write_spec):
    semicolon = read(write_spec, "penguins_semicolon.csv", target="species", missing="mean")
    assert semicolon.sep == ";" and semicolon.notes == ["separator ';' (sniffed; set data.sep to choose)"]
    assert [(c.name, c.number_form) for c in semicolon.columns if c.number_form] == [
        ("bill_length_mm", "decimal commas (1.234,5)"), ("bill_depth_mm", "decimal commas (1.234,5)")]
    assert [row[:5] + row[6:] for row in summary(semicolon)] == [row[:5] + row[6:] for row in PENGUINS]
    a = prepare(load_spec(table_spec(write_spec, "penguins_r.csv", target="species", missing="mean")))
    b = prepare(load_spec(table_spec(write_spec, "penguins_semicolon.csv", target="species", missing="mean")))
    np.testing.assert_array_equal(a.x_train, b.x_train)  # 34,1 is 34.1: the same samples, the same split


def test_uci_question_marks_are_an_error_until_named_then_missing(write_spec, runner):
    spec = table_spec(write_spec, "cells_uci.csv", missing="median")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{spec}:" in result.output and ("data.path: cells_uci.csv column 'bare_nuclei': 37 numbers and 3 other "
                                            "cells ('?' ×3; first in row 4): add the token to data.na_values if it "
                                            "marks a missing cell, or list the column in data.categorical") \
        in " ".join(result.output.split())
    reading = read(write_spec, "cells_uci.csv", missing="median", na_values=["?"])
    assert summary(reading) == [("id", "numeric", None, 0, {}, None), ("clump_thickness", "numeric", None, 0, {}, None),
                                ("cell_size", "numeric", None, 0, {}, None),
                                ("bare_nuclei", "numeric", None, 3, {"?": 3}, "train median"),
                                ("mitoses", "numeric", None, 0, {}, None), ("class", "target", None, 0, {}, None)]
    assert reading.classes == {"2": 20, "4": 20}
    assert reading.warnings == ["column 'id' has a distinct value in 40 of 40 rows: an ID? (data.drop it unless it "
                                "means something)"]
    dropped = read(write_spec, "cells_uci.csv", missing="median", na_values=["?"], drop=["id"])
    assert summary(dropped)[0] == ("id", "dropped", "data.drop", 0, {}, None) and dropped.warnings == []


def test_quoted_thousands_are_numbers(write_spec):
    reading = read(write_spec, "income_thousands.csv")
    assert [(c.name, c.kind, c.number_form) for c in reading.columns] == [
        ("age", "numeric", None), ("income", "numeric", "thousands separators (1,234.5)"),
        ("savings", "numeric", "thousands separators (1,234.5)"), ("segment", "target", None)]
    data = prepare(load_spec(table_spec(write_spec, "income_thousands.csv", split={"train": 1.0, "val": 0.0,
                                                                                 "test": 0.0, "stratify": False})))
    rows = list(csv.DictReader((TABLES / "income_thousands.csv").open()))
    expected = sorted(float(r["income"].replace(",", "")) for r in rows)
    assert sorted(data.x_train[:, 1].tolist()) == pytest.approx(expected)


def test_one_stray_word_among_numbers_is_an_error_naming_column_token_row_and_keys(write_spec, runner, tmp_path):
    spec = table_spec(write_spec, "stray_word.csv")
    for command in (["validate", str(spec)], ["train", str(spec), "--runs-dir", str(tmp_path / "runs")]):
        result = runner.invoke(app, command)
        said = " ".join(result.output.split())
        assert result.exit_code == 2 and "Traceback" not in said, said
        assert "stray_word.csv column 'weight': 29 numbers and 1 other cell ('unknown' ×1; first in row 12)" in said
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing trained
    assert read(write_spec, "stray_word.csv", categorical=["weight"]).columns[1].kind == "categorical"
    fixed = read(write_spec, "stray_word.csv", na_values=["unknown"], missing="mean")
    assert summary(fixed)[1] == ("weight", "numeric", None, 1, {"unknown": 1}, MEAN)


def test_none_is_a_class_kept_with_a_warning(write_spec):
    reading = read(write_spec, "cars_none.csv")
    assert reading.classes == {"Driver & Passenger": 12, "Driver only": 12, "None": 12}
    assert reading.warnings == ["column 'airbags': 'None' (12 cells) is read as a value; if it marks a missing cell, "
                                "add it to data.na_values"]


@pytest.mark.parametrize("data, key, fragment", [
    ({"sep": ","}, "data.path", "penguins_semicolon.csv line 3: 3 fields where the header has 1 (separator ',')"),
    ({"columns": ["island", "beak"]}, "data.columns", "has no feature column 'beak' (feature columns: island, "),
    ({"drop": ["species"]}, "data.drop", "has no feature column 'species'"),
    ({"na_values": ["Adelie"]}, "data.target", "the target column 'species' has 16 missing values (rows 1, 2, 3, 4, "
                                               "5, ...); drop those rows"),
])
def test_bad_settings_name_the_key_and_what_exists(write_spec, runner, data, key, fragment):
    spec = table_spec(write_spec, "penguins_semicolon.csv", target="species", missing="mean", **data)
    result = runner.invoke(app, ["validate", str(spec)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f": {key}: " in said and fragment in said, said
    if data.get("sep"):
        assert "the header looks like one ';'-separated string: set data.sep: ';'" in said


def test_a_row_number_that_predicts_the_label_is_warned_before_training(write_spec, runner, tmp_path):
    spec = table_spec(write_spec, "penguins_r.csv", target="species", missing="mean", columns=["column 1", "island"])
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert "warning: data.path penguins_r.csv: column 'column 1' alone predicts the label perfectly (each class is a " \
           "range of values): a leak?" in said
    assert said.index("alone predicts") < said.index("run folder:")  # said before training, not after


@pytest.mark.parametrize("file, data", [
    ("penguins_r.csv", {"target": "species", "missing": "mean"}),
    ("penguins_semicolon.csv", {"target": "species", "missing": "indicator", "max_onehot": 2}),
    ("cells_uci.csv", {"missing": "median", "na_values": ["?"], "drop": ["id"]}),
    ("income_thousands.csv", {}),
    ("cars_none.csv", {}),
])
def test_training_uses_the_reading_validate_prints(write_spec, runner, tmp_path, file, data):
    spec = table_spec(write_spec, file, **data)
    validated = runner.invoke(app, ["validate", str(spec)])
    assert validated.exit_code == 0, validated.output
    reading = check_columns(load_spec(spec))["data.path"]
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    assert json.loads((run / "run.json").read_text())["table"] == reading.model_dump(mode="json")
    columns = json.loads((run / "metrics.json").read_text())["columns"]
    features = reading.features
    if columns is not None:  # categories or filled cells: the model encodes each feature column as read
        assert [(c["name"], c["kind"], c["encoding"]) for c in columns] == [(f.name, f.kind, f.encoding)
                                                                             for f in features]
    shown = " ".join(runner.invoke(app, ["show", str(run)]).output.split())
    for column in reading.columns:
        assert f"{column.name}: {column.kind}" in shown
    assert f"{len(features)} features" in (run / "log.txt").read_text()


def test_predict_reads_new_rows_as_the_run_read_its_table(write_spec, runner, tmp_path):
    """An R export to predict (its row index, its label, NA cells) is read by the run's rules and its features
    taken by name; a word among numbers is an error naming the row and column."""
    spec = table_spec(write_spec, "penguins_r.csv", target="species", missing="mean")
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), "-q"]).exit_code == 0
    (run,) = runs.iterdir()
    predicted = runner.invoke(app, ["predict", str(run), str(TABLES / "penguins_r.csv")])
    assert predicted.exit_code == 0, predicted.output
    lines = list(csv.reader(predicted.output.splitlines()))
    assert lines[0] == ["row", "prediction", "p_Adelie", "p_Chinstrap", "p_Gentoo"] and len(lines) == 49
    assert all(abs(sum(map(float, line[2:])) - 1) < 1e-5 for line in lines[1:])  # NA rows too: filled, not NaN
    bad = tmp_path / "bad.csv"
    bad.write_text((TABLES / "penguins_r.csv").read_text().replace("34.1,", "tall,", 1))
    refused = runner.invoke(app, ["predict", str(run), str(bad)])
    assert refused.exit_code == 2 and "row 2, column 'bill_length_mm': 'tall' is not a number" in refused.output


def test_validate_warns_when_a_decide_margin_is_below_one_sample_of_the_tables_test_part(write_spec, runner):
    """48 rows, 20% test: ceil(9.6) = 10 test samples, so an accuracy moves in steps of 1/10."""
    spec = write_spec(merged(TINY, data={"dataset": None, "path": str(TABLES / "penguins_r.csv"), "target": "species",
                                         "missing": "mean"},
                             search={"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5]}},
                             decide={"baseline": "dropout=0.0", "metric": "test_accuracy", "margin": 0.01}))
    result = runner.invoke(app, ["validate", str(spec)])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert "decide.margin: 0.01 is below one sample of the part test_accuracy is scored on (1/10 = 0.1)" in said
