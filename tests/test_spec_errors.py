"""Bad input: every class of mistake exits with code 2 and names FILE:LINE, the key and what is allowed."""

import json
import re
import time

import pytest

from regexp.cli import app
from regexp.errors import SpecError
from regexp.spec import load_spec

from conftest import REPO


def errors_of(runner, path, *args) -> str:
    result = runner.invoke(app, ["validate", str(path), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("text, line, key, fragment", [
    ("name: x\ndata: {dataset: digits}\nmodel:\n  defaults:\n    dropuot: 0.5\n", 5, "model.defaults.dropuot",
     "did you mean 'dropout'"),
    ("name: x\ndata: {dataset: digts}\n", 2, "data.dataset", "did you mean 'digits'"),
    ("name: x\ndata: {dataset: digits}\nmodel:\n  defaults: {dropout: 1.5}\n", 4, "model.defaults.dropout",
     "less than 1 (got 1.5)"),
    ("name: x\ndata: {dataset: digits}\ntraining:\n  optimizer: {name: adamm}\n", 4, "training.optimizer.name",
     "allowed: sgd | momentum | nesterov | rmsprop | adam | adamw | lion | nadam"),
    ("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: dense, units: 4}\n    - {type: dens, units: "
     "3}\n",
     6, "model.layers.1", "did you mean 'dense'"),
    ("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: conv2d}\n", 5, "model.layers.0.filters",
     "required"),
    ("name: x\ndata: {dataset: digits}\ntraining: {batch_size: half}\n", 3, "training.batch_size", "full"),
    ("name: x\ndata: {dataset: digits, split: {train: 0.5, val: 0.2, test: 0.2}}\n", 2, "data.split",
     "must be 1"),
    ("name: bad name\ndata: {dataset: digits}\n", 1, "name", "pattern"),
    ("name: x\ndata: {dataset: digits}\ndata: {dataset: iris}\n", 3, "data", "duplicate key (first written at"),
    ("name: x\ndata: {dataset: digits}\ncv: {folds: 1}\n", 3, "cv.folds", "greater than or equal to 2 (got 1)"),
    ("name: x\ndata: {dataset: digits}\nrepeat: [1, 1]\n", 3, "repeat", "seeds must be distinct"),
    ("name: x\ndata: {dataset: digits}\nsearch:\n  params:\n    seed: [1, 2]\n", 5, "search.params.seed",
     "cannot be searched"),
    ("name: x\ndata: {dataset: digits}\nsearch:\n  params:\n    model.defaults.l2: {log_uniform: [0.1, 0.01]}\n", 5,
     "search.params.model.defaults.l2", "low must be below high"),
    ("name: x\ndata: {dataset: digits}\nevaluation: {mc_dropot: 3}\n", 3, "evaluation.mc_dropot", "did you mean "
                                                                                                  "'mc_dropout'"),
    ("name: x\ndata: {dataset: digits}\nevaluation: {bayes_error: -0.1}\n", 3, "evaluation.bayes_error",
     "greater than or equal to 0"),
    ("name: x\ndata: {dataset: digits}\ntraining: {mixup: {alpha: 0}}\n", 3, "training.mixup.alpha", "greater than 0"),
    ("name: x\ndata: {dataset: digits}\ntraining:\n  augment: [{flip: sideways}]\n", 4, "training.augment.0.flip",
     "allowed: horizontal"),
    ("name: x\ndata: {dataset: digits}\ntraining:\n  augment: [{rotate: 0.1, zoom: 0.1}]\n", 4, "training.augment.0",
     "each augment item is one of"),
    ("name: x\ndata: {dataset: digits}\nmodel: {defaults: {weight_noise: -1}}\n", 3, "model.defaults.weight_noise",
     "greater than or equal to 0"),
    ("name: x\ndata: {dataset: digits}\ntraining:\n  lr_schedule: {name: step, boundaries: [10, 5]}\n", 4,
     "training.lr_schedule.boundaries", "strictly increasing"),
    ("name: x\ndata: {dataset: digits, split: {train: 0.8, val: 0.0, test: 0.2}}\ntraining:\n  early_stopping: 3\n",
     4, "training.early_stopping.monitor", "data.split.val is 0"),
    ("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: conv2d, filters: 4}\n    - {type: dense, "
     "units: 3}\n",
     6, "model.layers.1", "flatten"),
    ("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: dense, units: 4, dropout: 0.2, dropout_type: "
     "spatial}\n",
     5, "model.layers.0.dropout_type", "conv2d layers only"),
    ("name: x\ndata: {dataset: digits, path: a.csv}\n", 2, "data", "exactly one of"),
    ("name: x\n", 1, "data", "required"),
    ("name: x\ndata: {dataset: digits}\nslurm:\n  time: 2h\n", 4, "slurm.time",
     "'2h' is not a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)"),
    ("name: x\ndata: {dataset: digits}\nslurm: {extra: [qos=high]}\n", 3, "slurm.extra",
     "'qos=high' is not an sbatch option"),
])
def test_each_mistake_names_file_line_key_and_allowed(runner, write_spec, text, line, key, fragment):
    path = write_spec(text)
    out = errors_of(runner, path)
    assert f"{path}:{line}: {key}: " in out
    assert fragment in out


def test_all_problems_of_a_spec_are_reported_at_once(runner, write_spec):
    path = write_spec("name: x\ndata: {dataset: digts}\nmodel:\n  defaults: {dropout: 2, l2: -1}\n")
    out = errors_of(runner, path)
    assert out.count("error:") == 3


@pytest.mark.parametrize("text, fragment", [
    ("name: !!python/object:os.system x\ndata: {dataset: digits}\n", "invalid YAML"),
    ("name: x\ndata: !custom {dataset: digits}\n", "tag !custom is not allowed"),
    ("name: x\ndata: [unclosed\n", "invalid YAML"),
    ("base: &b {dataset: digits}\nname: x\ndata:\n  <<: *b\n", "merge keys"),
    ("- just\n- a list\n", "a spec is a mapping"),
])
def test_hostile_or_broken_yaml_is_a_clean_error(runner, write_spec, text, fragment):
    out = errors_of(runner, write_spec(text))
    assert fragment in out


BOMB = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
    f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
    f"*a{i - 1}]"
    for i in range(1, 9)]  # 10^9 values once expanded


def test_alias_bomb_fails_fast_in_a_file_and_in_an_override(runner, write_spec):
    started = time.perf_counter()
    assert "more than 100,000 values" in errors_of(runner, write_spec("\n".join(BOMB) + "\nname: x\n"))
    spec = write_spec("name: x\ndata: {dataset: digits}\n", "ok.yaml")
    override = "description={" + ", ".join(BOMB) + "}"
    assert "more than 100,000 values" in errors_of(runner, spec, "--set", override)
    assert time.perf_counter() - started < 10  # a guard against exponential expansion, not a speed target


def test_an_error_quotes_a_big_value_briefly(runner, write_spec):
    spec = write_spec("name: x\ndata: {dataset: digits}\n")
    big = ("description={a: &a [x,x,x,x,x,x,x,x,x,x], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
           "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]}")
    out = errors_of(runner, spec, "--set", big)
    assert "description: input should be a valid string" in out and len(out) < 2 * len(big) + 600


@pytest.mark.parametrize("content, fragment", [
    ("name: x\ndata: {dataset: digits}\ndescription: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 100 levels "
                                                                                         "deep"),
    ("name: x\ndata: {dataset: digits}\ndescription: '" + "a" * 1_100_000 + "'\n", "at most 1,000,000 are read"),
    (b"name: x\ndata: {dataset: digits}\ndescription: \xff\xfe\n", "not UTF-8 text (byte 45)"),
    ("name: ../../escape\ndata: {dataset: digits}\n", "name: string should match pattern"),
    ("name: /etc/passwd\ndata: {dataset: digits}\n", "name: string should match pattern"),
])
def test_hostile_files_are_clean_errors(runner, tmp_path, content, fragment):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert fragment in " ".join(errors_of(runner, path).split())


def test_a_python_tag_runs_nothing(runner, write_spec, tmp_path):
    marker = tmp_path / "pwned"
    spec = write_spec(f"name: !!python/object/apply:os.system ['touch {marker}']\ndata: {{dataset: digits}}\n")
    assert "is not allowed" in errors_of(runner, spec)
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and not marker.exists() and not (tmp_path / "runs").exists()


def test_extends_deep_merges_and_errors_point_into_the_right_file(runner, write_spec):
    base = write_spec("name: base\ndata: {dataset: digits}\nmodel:\n  defaults: {l2: 0.01, dropout: 0.3}\n",
                      "base.yaml")
    child = write_spec("extends: base.yaml\nname: child\nmodel:\n  defaults: {dropout: 0.5}\n", "child.yaml")
    spec = load_spec(child).spec
    assert (spec.name, spec.model.defaults.l2, spec.model.defaults.dropout) == ("child", 0.01, 0.5)
    bad_child = write_spec("extends: base.yaml\nname: child\n\nmodel: {defaults: {l1: -1}}\n", "bad.yaml")
    assert f"{bad_child}:4: model.defaults.l1" in errors_of(runner, bad_child)
    base.write_text("name: base\ndata: {dataset: digits}\nmodel:\n  defaults: {l2: oops}\n")
    assert f"{base}:4: model.defaults.l2" in errors_of(runner, child)


def test_extends_cycle_and_missing_base(runner, write_spec):
    write_spec("extends: b.yaml\nname: a\n", "a.yaml")
    b = write_spec("extends: a.yaml\nname: b\n", "b.yaml")
    assert "cycle" in errors_of(runner, b)
    c = write_spec("extends: nowhere.yaml\nname: c\n", "c.yaml")
    assert "nowhere.yaml does not exist" in errors_of(runner, c)


def test_set_overrides_parse_yaml_values_and_list_indices(write_spec):
    path = write_spec("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: dense, units: 4}\n")
    spec = load_spec(path, [
        "model.layers.0.units=128", "training.optimizer={name: sgd, learning_rate: 0.5}",
        "model.defaults.max_norm=null", "tags=[a, b]", "training.lr_schedule=cosine", "training.early_stopping=7",
    ]).spec
    assert spec.model.layers[0].units == 128
    assert (spec.training.optimizer.name, spec.training.optimizer.learning_rate) == ("sgd", 0.5)
    assert spec.tags == ["a", "b"]
    assert spec.training.lr_schedule.name == "cosine"
    assert spec.training.early_stopping.patience == 7


@pytest.mark.parametrize("override, fragment", [
    ("model.layers.3.units=2", "--set model.layers.3.units=2: model.layers: is not written in the spec"),
    ("data.split.train.x=2", "--set data.split.train.x=2: data.split.train.x: cannot set a key inside a float"),
    ("training.epochs=abc", "--set training.epochs=abc: training.epochs: input should be a valid integer"),
    ("model.defaults.dropuot=0.1", "--set model.defaults.dropuot=0.1: model.defaults.dropuot: unknown key; did you "
                                   "mean 'dropout'"),
    ("training.epochs", "expected dotted.key=value"),
])
def test_set_errors_name_the_override(runner, write_spec, override, fragment):
    path = write_spec("name: x\ndata: {dataset: digits, split: {train: 0.6}}\n")
    out = errors_of(runner, path, "--set", override)
    assert fragment in " ".join(out.split())


def test_validate_checks_data_paths(runner, write_spec):
    path = write_spec("name: x\ndata: {path: missing.csv}\n")
    assert re.search(r"spec.yaml:2: data.path: .*missing.csv does not exist", " ".join(errors_of(runner, path).split()))


@pytest.mark.parametrize("optimizer, key, hint", [
    ("{name: rmsprop, beta_2: 0.999}", "beta_2", "did you mean 'rho'?"),  # RMSprop's β2, at its default value
    ("{name: adam, momentum: 0.5}", "momentum", "did you mean 'beta_1'?"),
    ("{name: sgd, momentum: 0.9}", "momentum", "use name: momentum"),
])
def test_an_optimizer_key_the_optimizer_ignores_is_an_error_in_its_own_file(runner, write_spec, optimizer, key, hint):
    path = write_spec(f"name: x\ndata: {{dataset: digits}}\ntraining:\n  optimizer: {optimizer}\n")
    out = " ".join(errors_of(runner, path).split())
    assert f"spec.yaml:4: training.optimizer.{key}: is not used by optimizer" in out and hint in out


def test_an_inherited_optimizer_key_the_optimizer_ignores_is_a_warning(runner, write_spec, tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\ndata: {dataset: digits}\ntraining:\n  optimizer: {name: adam, "
                                        "beta_1: 0.8}\n")
    path = write_spec("name: x\nextends: base.yaml\ntraining:\n  optimizer: {name: momentum}\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "base.yaml:4: training.optimizer.beta_1: is not used by optimizer momentum" in " ".join(
        result.output.split())


def test_a_run_config_with_every_default_written_is_not_refused(tmp_path):
    """config.yaml writes every optimizer key; resume and `train config.yaml` must accept it."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "config.yaml").write_text("name: x\ndata: {dataset: digits}\ntraining:\n  optimizer: {name: sgd, momentum: "
                                     "0.9, "
                                     "beta_1: 0.9, beta_2: 0.999, rho: 0.9}\n")
    assert load_spec(run / "config.yaml").warnings == ()


def test_dense_instance_norm_is_refused_with_the_reason(runner, write_spec):
    path = write_spec("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: dense, units: 8, norm: "
                      "instance}\n")
    out = " ".join(errors_of(runner, path).split())
    assert "spec.yaml:5: model.layers.0.norm: instance norm normalizes each unit over its own single value" in out
    assert "norm: layer" in out and "norm: group" in out


@pytest.mark.parametrize("text, key, fragment", [
    ("data: {dataset: breast_cancer}\ntraining: {cutmix: {alpha: 1.0}}\n", "training.cutmix",
     "breast_cancer is a table of 30 features with no image shape"),
    ("data: {dataset: wine}\ntraining: {augment: [{flip: horizontal}]}\n", "training.augment", "13 features"),
    ("data: {dataset: iris}\nmodel: {layers: [{type: conv2d, filters: 4}, {type: flatten}]}\n", "model.layers.0",
     "conv2d needs images"),
    ("data: {dataset: digits, shape: [8, 4, 1]}\n", "data.shape", "holds 32 values but each digits sample has 64"),
    ("data: {dataset: digits}\ntraining: {augment: [{crop: [10, 10]}]}\n", "training.augment.0.crop", "8x8"),
    ("data: {dataset: digits}\nmodel: {task: binary}\n", "model.task", "binary needs 2 classes; digits has 10"),
    ("data: {dataset: regression}\ntraining: {metrics: [accuracy]}\n", "training.metrics.0", "regression task"),
    ("data: {dataset: classification, features: 2, classes: 3}\n", "data.classes", "use at least 6"),
])
def test_validate_knows_the_builtin_datasets_shapes_and_tasks(runner, write_spec, text, key, fragment):
    out = " ".join(errors_of(runner, write_spec("name: x\n" + text)).split())
    assert f"{key}:" in out and fragment in out


def test_builtin_dataset_facts_match_what_the_loaders_return():
    from regexp.data import prepare
    from regexp.registry.datasets import DATASETS
    from regexp.spec.datasets import facts

    for name, known in ((name, d) for name, d in DATASETS.items() if not d.remotes):  # the fetched: test_fetch.py
        # token ids need an embedding first (spec/sequences.py)
        model = "model: {layers: [{type: embedding, output_dim: 4}, {type: lstm, units: 4}]}\n" if known.tokens else ""
        loaded = load_spec_text(f"name: x\ndata: {{dataset: {name}}}\n{model}")
        data, known = prepare(loaded), facts(loaded.spec)
        assert (data.features, data.task, len(data.classes), sum(data.sizes().values())) == (
            known.features, known.task, known.classes, known.samples), name
    loaded = load_spec_text("name: x\ndata: {dataset: classification, features: 6, classes: 3}\n")
    assert facts(loaded.spec).features == prepare(loaded).features == 6 and facts(loaded.spec).task == "classification"


def load_spec_text(text: str):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "s.yaml").write_text(text)
        return load_spec(Path(folder) / "s.yaml")


def test_every_example_config_validates(runner):
    result = runner.invoke(app, ["validate", *sorted(str(p) for p in (REPO / "configs").glob("*.yaml"))])
    assert result.exit_code == 0, result.output


def test_schema_command_prints_json_schema_from_the_models(runner):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert set(schema["required"]) == {"name", "data"}
    assert schema["additionalProperties"] is False
    defaults = schema["$defs"]["Defaults"]["properties"]
    assert defaults["dropout"]["exclusiveMaximum"] == 1.0 and defaults["dropout"]["default"] == 0.0
    assert "Dropout rate" in defaults["dropout"]["description"]


def test_resolved_config_round_trips(trained_run):
    """config.yaml of a run is a valid spec that resolves to itself."""
    loaded = load_spec(trained_run / "config.yaml")
    import yaml
    assert loaded.resolved() == yaml.safe_load((trained_run / "config.yaml").read_text())


def test_spec_error_lists_problems():
    with pytest.raises(SpecError) as info:
        load_spec("/nonexistent/spec.yaml")
    assert "does not exist" in str(info.value)


def test_a_list_replaced_by_the_child_takes_its_locations_from_the_child(runner, write_spec):
    write_spec("name: base\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: dense, units: 4}\n"
               "    - {type: dense, units: 4}\n    - {type: dense, units: 4}\n", "base.yaml")
    child = write_spec("extends: base.yaml\nname: child\nmodel:\n  layers:\n    - {type: dense, units: 0}\n",
                       "child.yaml")
    assert f"{child}:5: model.layers.0.units" in errors_of(runner, child)
    assert len(load_spec(child, ["model.layers.0.units=3"]).spec.model.layers) == 1


def test_set_on_a_written_list_checks_the_index(runner, write_spec):
    path = write_spec("name: x\ndata: {dataset: digits}\nmodel:\n  layers:\n    - {type: dense, units: 4}\n")
    out = errors_of(runner, path, "--set", "model.layers.2.units=8")
    expected = "--set model.layers.2.units=8: model.layers.2: no such list item (the list has 1: indices 0 to 0)"
    assert expected in " ".join(out.split())


def test_validate_hints_where_a_value_looks_like_the_notes_form(runner, write_spec):
    path = write_spec("name: x\ndata: {dataset: digits}\nmodel:\n  defaults: {l2: 0.7}\n"
                      "training:\n  optimizer: {name: rmsprop, epsilon: 1.0e-8}\n")
    result = runner.invoke(app, ["validate", str(path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "model.defaults.l2: 0.7 adds 0.7·Σw²" in out and "l2 = 0.7/(2·1078) = 0.00032" in out  # 0.6 of 1,797 digits
    assert "training.optimizer.epsilon: Keras's rmsprop adds epsilon inside the root" in out
    assert (REPO / "docs" / "formulas.md").is_file()
