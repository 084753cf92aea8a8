"""Data: built-ins offline, files, stratified seeded splits, subsampling, and clear data errors."""

import importlib

import numpy as np
import pytest

from regexp.cli import app
from regexp.data import prepare
from regexp.errors import SpecError
from regexp.spec import load_spec

from conftest import TINY, merged


def prepared(write_spec, **data):
    return prepare(load_spec(write_spec(merged(TINY, data=data))))


def from_file(**data) -> dict:
    """A data section that reads a file instead of TINY's built-in dataset."""
    return {"dataset": None, **data}


@pytest.mark.parametrize("dataset, n, task, classes", [
    ("digits", 1797, "classification", 10), ("breast_cancer", 569, "binary", 2), ("wine", 178, "classification", 3),
    ("iris", 150, "classification", 3), ("moons", 1000, "binary", 2), ("circles", 1000, "binary", 2),
    ("classification", 1000, "binary", 2), ("regression", 1000, "regression", 0),
])
def test_builtin_datasets_load_offline_with_their_task(write_spec, dataset, n, task, classes):
    data = prepared(write_spec, dataset=dataset)
    assert sum(data.sizes().values()) == n
    assert data.task == task and len(data.classes) == classes


def test_diabetes_trains_offline_as_a_regression_and_names_its_source(runner, write_spec, tmp_path, monkeypatch):
    """scikit-learn's bundled diabetes table (442 patients, 10 features, disease progression):
    regexp train runs on it with no network and no Keras cache, scored as a regression."""
    import json

    from sklearn.datasets import load_diabetes

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    spec = write_spec(merged(TINY, data={"dataset": "diabetes"}, training={"epochs": 2}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    metrics, info = (json.loads((run / name).read_text()) for name in ("metrics.json", "run.json"))
    assert info["status"] == "completed" and {"mae", "loss"} <= set(metrics["test"])
    assert "accuracy" not in metrics["test"] and info["provenance"]["data"].startswith("diabetes (scikit-learn ")
    x, y = load_diabetes(return_X_y=True)
    data = prepared(write_spec, dataset="diabetes")
    assert data.task == "regression" and data.features == x.shape[1] and sum(data.sizes().values()) == len(y)
    assert sorted(np.concatenate([data.y_train, data.y_val, data.y_test]).ravel()) == pytest.approx(sorted(y))


def test_stratified_split_keeps_class_proportions_and_is_seeded(write_spec):
    data = prepared(write_spec, dataset="breast_cancer", split={"train": 0.6, "val": 0.2, "test": 0.2})
    assert data.sizes() == {"train": 341, "val": 114, "test": 114}
    overall = 357 / 569  # share of benign samples in the whole dataset
    for y in (data.y_train, data.y_val, data.y_test):
        assert abs(np.mean(y == 1) - overall) < 0.01
    again = prepared(write_spec, dataset="breast_cancer")
    np.testing.assert_array_equal(again.x_train, data.x_train)
    other = prepare(load_spec(write_spec(merged(TINY, data={"dataset": "breast_cancer"}, seed=5))))
    assert not np.array_equal(other.x_train, data.x_train)


@pytest.mark.parametrize("stratify, memory", [(True, None), (False, None), (True, 200)])
def test_split_is_scikit_learns_train_test_split_of_the_same_seed(write_spec, monkeypatch, stratify, memory):
    """prepare keeps train_test_split's indices per (n, fraction, seed, labels): its parts must stay
    exactly what train_test_split(x, y) gives, first call or remembered, for every seed; with less
    memory for them (200 indices: fewer than one seed's two cuts of wine's 178 samples) only the last is kept."""
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    module = importlib.import_module("regexp.data.prepare")  # regexp.data.prepare is also the function's name
    monkeypatch.setattr(module, "_CUTS", {})  # seed 7 twice: cut the first time, remembered the second
    if memory is not None:
        monkeypatch.setattr(module, "CUT_MEMORY", memory)
    x, y = load_wine(return_X_y=True)
    for seed in (0, 7, 7, 123):
        split = {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": stratify}
        data = prepare(load_spec(write_spec(merged(TINY, data={"dataset": "wine", "split": split}, seed=seed))))
        rest_x, test_x, rest_y, test_y = train_test_split(x, y, test_size=0.2, random_state=seed,
                                                          stratify=y if stratify else None)
        train_x, val_x, train_y, val_y = train_test_split(rest_x, rest_y, test_size=0.25, random_state=seed,
                                                          stratify=rest_y if stratify else None)
        for mine, theirs in ((data.y_train, train_y), (data.y_val, val_y), (data.y_test, test_y)):
            np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(data.x_test, test_x.astype(data.x_test.dtype))
        np.testing.assert_array_equal(data.x_train, train_x.astype(data.x_train.dtype))
        if memory is not None:
            assert len(module._CUTS) == 1


def test_unstratified_split_can_drift(write_spec):
    data = prepared(write_spec, dataset="iris", split={"train": 0.6, "val": 0.2, "test": 0.2, "stratify": False})
    counts = [np.bincount(y, minlength=3) for y in (data.y_train, data.y_val, data.y_test)]
    assert any(len(set(c)) > 1 for c in counts)  # stratified iris would be exactly 10/10/10 in val and test


def test_synthetic_options_and_subsample(write_spec):
    data = prepared(write_spec, dataset="classification", samples=500, features=6, classes=3, subsample=0.5)
    assert data.features == 6 and len(data.classes) == 3
    assert data.sizes()["train"] == 150 and data.sizes()["val"] == 100
    assert prepared(write_spec, dataset="iris", subsample=30).sizes()["train"] == 30


def test_csv_with_named_target_and_string_labels(write_spec, tmp_path):
    rng = np.random.default_rng(0)
    lines = ["label,a,b"] + [f"{'yes' if i % 2 else 'no'},{rng.normal():.3f},{rng.normal():.3f}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(lines))
    data = prepared(write_spec, **from_file(path="t.csv", target="label"))
    assert data.task == "binary" and data.classes == ["no", "yes"] and data.features == 2


def test_npz_with_its_own_test_part(write_spec, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.normal(size=(80, 4, 4, 1)), y_train=np.arange(80) % 4,
             x_test=rng.normal(size=(20, 4, 4, 1)), y_test=np.arange(20) % 4)
    spec = merged(TINY, data=from_file(path="d.npz", split={"train": 0.75, "val": 0.25, "test": 0.0}),
                  model={"layers": [{"type": "conv2d", "filters": 2}, {"type": "global_avg_pool"}]})
    data = prepare(load_spec(write_spec(spec)))
    assert data.sizes() == {"train": 60, "val": 20, "test": 20}
    assert data.shape == (4, 4, 1) and data.features == 16


def test_image_folder(write_spec, tmp_path):
    from PIL import Image
    for label, value in (("cat", 40), ("dog", 200)):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((6, 5), value + i, dtype=np.uint8)).save(tmp_path / "imgs" / label / f"{i}.png")
    spec = merged(TINY, data=from_file(path="imgs"), model={"layers": [{"type": "conv2d", "filters": 2},
                                                                       {"type": "flatten"}]})
    data = prepare(load_spec(write_spec(spec)))
    assert data.classes == ["cat", "dog"] and data.shape == (6, 5, 1) and data.task == "binary"
    Image.fromarray(np.zeros((9, 9), dtype=np.uint8)).save(tmp_path / "imgs" / "cat" / "big.png")
    with pytest.raises(SpecError, match="set data.image_size to resize"):
        prepare(load_spec(write_spec(spec)))
    resized = prepare(load_spec(write_spec(spec), ["data.image_size=[4, 3]"]))
    assert resized.shape == (4, 3, 1) and sum(resized.sizes().values()) == 21


@pytest.mark.parametrize("files, data, key, fragment", [
    ({"t.csv": "a,b,y\n1,2,0\n3,,1\n"}, {"path": "t.csv"}, "data.path", "row 2, column 'b': a missing value"),
    ({"t.csv": "a,b,y\n1,x,0\n3,4,1\n"}, {"path": "t.csv", "categorical": ["a"]}, "data.path",
     "non-numeric value 'x' (a numeric column; list it in data.categorical"),
    ({"t.csv": "a,b,y\n1,2,0\n3,4,1\n"}, {"path": "t.csv", "target": "label"}, "data.target", "has no column 'label'"),
    ({"t.csv": "a,y\n1,0\n2,0\n3,0\n"}, {"path": "t.csv"}, "data", "single value"),
    ({"t.csv": "a,y\ninf,0\n2,1\n"}, {"path": "t.csv"}, "data.path", "not a finite number"),
    ({"t.txt": "hello"}, {"path": "t.txt"}, "data.path", "cannot read t.txt"),
    ({}, {"dataset": "iris", "shape": [5, 5, 1]}, "data.shape", "holds 25 values but each iris sample has 4"),
    ({}, {"dataset": "iris", "subsample": 500}, "data.subsample", "train part has 90"),
])
def test_data_problems_are_spec_errors_before_training(runner, write_spec, tmp_path, files, data, key, fragment):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = write_spec(merged(TINY, data=from_file(**data) if "path" in data else data))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"{path}:" in out and f": {key}: " in out and fragment in out
    assert not (tmp_path / "runs").exists()


def test_metric_that_does_not_fit_the_task_names_the_key(runner, write_spec, tmp_path):
    path = write_spec(merged(TINY, data={"dataset": "regression"}, training={"metrics": ["accuracy"]}))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    expected = "training.metrics.0: accuracy does not apply to a regression task (allowed: mae, mse, rmse, r2)"
    assert expected in " ".join(result.output.split())


def test_keras_dataset_missing_from_cache_says_how_to_get_it(runner, write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    path = write_spec(merged(TINY, data={"dataset": "mnist"}))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "not in the Keras cache" in result.output and "regexp data fetch mnist" in result.output


def write_csv(path, rows: int, shift: float, labels=(0, 1, 2)) -> None:
    rng = np.random.default_rng(int(shift * 10))
    lines = ["a,b,label"] + [
        f"{rng.normal() + shift},{rng.normal() - shift},{labels[i % len(labels)]}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("keys, sizes", [
    ({"val_path": "dev.csv", "test_path": "test.csv"}, {"train": 100, "val": 30, "test": 21}),
    ({"val_path": "dev.csv"}, {"train": 75, "val": 30, "test": 25}),   # 0.6 : 0.2 of path -> 75 : 25
    ({"test_path": "test.csv"}, {"train": 75, "val": 25, "test": 21}),
])
def test_val_and_test_from_their_own_files(write_spec, tmp_path, keys, sizes):
    """Note 003: dev and test from the target distribution, train from wherever there is data."""
    write_csv(tmp_path / "web.csv", 100, 0.0)
    write_csv(tmp_path / "dev.csv", 30, 2.0)
    write_csv(tmp_path / "test.csv", 21, 2.0)
    loaded = load_spec(write_spec(merged(TINY, data=from_file(path="web.csv", **keys))))
    data = prepare(loaded)
    assert data.sizes() == sizes
    if "val_path" in keys:
        assert data.x_val[:, 0].mean() > 1.5  # the dev file's shifted samples, not a cut of web.csv
    assert loaded.resolved()["data"]["val_path" if "val_path" in keys else "test_path"].startswith(str(tmp_path))
    assert data.scale["mean"][0] == pytest.approx(float(data.x_train[:, 0].mean()), abs=1e-5)  # train statistics only


@pytest.mark.parametrize("dev, fragment", [
    ("a,b,label\n1,2,0\n3,4,7\n", "labels 7.0 do not occur in data.path"),  # csv labels read as numbers
    ("a,label\n1,0\n3,1\n", "its samples have 1 features, data.path's have 2"),
])
def test_a_val_file_that_does_not_fit_is_a_spec_error(runner, write_spec, tmp_path, dev, fragment):
    write_csv(tmp_path / "web.csv", 60, 0.0)
    (tmp_path / "dev.csv").write_text(dev)
    path = write_spec(merged(TINY, data=from_file(path="web.csv", val_path="dev.csv")))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "data.val_path:" in result.output and fragment in " ".join(result.output.split())
    result = runner.invoke(app, ["validate", str(path), "--set", "data.test_path=missing.csv"])
    assert result.exit_code == 2 and "data.test_path:" in result.output and "does not exist" in result.output


def test_errors_print_plain_values_not_numpy_reprs(write_spec, runner, tmp_path):
    """A single-class label column: the message says 0.0, not np.float64(0.0)."""
    from regexp.cli import app

    table = tmp_path / "one.csv"
    table.write_text("a,label\n" + "".join(f"{i},0\n" for i in range(10)))
    spec = write_spec(merged(TINY, data=from_file(path=str(table), target="label")))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "the labels have a single value (0.0): nothing to learn" in result.output
    assert "np." not in result.output
