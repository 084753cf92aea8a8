"""Repeats, cross-validation and sweeps: planning, sampling, paired design, resume, failure policy, workers."""

import json
import math
from collections import Counter

import numpy as np
import pytest
import yaml

from regexp.cli import app
from regexp.data import prepare
from regexp.spec import load_spec
from regexp.store.contract import Status
from regexp.sweep.trials import plan_round
from regexp.trial.result import TrialResult

from conftest import REPO, TINY, merged


def spec_with(write_spec, **sections):
    return load_spec(write_spec(merged(TINY, **sections)))


def test_grid_is_the_product_of_lists_times_seeds_times_folds(write_spec):
    loaded = spec_with(write_spec, repeat=2, cv={"folds": 3}, search={"params": {
        "model.defaults.dropout": [0.0, 0.2, 0.5], "training.optimizer.learning_rate": [0.001, 0.01]}})
    trials = plan_round(loaded, [])
    assert len(trials) == 3 * 2 * 2 * 3
    assert len({t.key for t in trials}) == len(trials)
    assert {t.seed for t in trials} == {1, 2} and {t.fold for t in trials} == {0, 1, 2}  # TINY's seed is 1
    assert trials[0].point == (("model.defaults.dropout", 0.0), ("training.optimizer.learning_rate", 0.001))


def test_a_section_can_be_switched_on_and_off_by_the_grid(write_spec):
    """`training.mixup: [null, {alpha: 0.2}]`: a dict as a grid value (it once crashed: unhashable)."""
    loaded = spec_with(write_spec, search={"params": {"training.mixup": [None, {"alpha": 0.2}],
                                                      "model.layers.0.units": [4, 8]}})
    trials = plan_round(loaded, [])
    assert [t.overrides[0] for t in trials[::2]] == ["training.mixup=null", 'training.mixup={"alpha": 0.2}']
    assert load_spec(loaded.file, trials[-1].overrides).spec.training.mixup.alpha == 0.2


def test_a_sweep_with_a_section_in_its_grid_resumes(runner, write_spec, tmp_path):
    """sweep.json gives the points back as plain dicts: a resumed sweep must still rank them."""
    spec = write_spec(merged(TINY, training={"epochs": 1}, search={"params": {"training.mixup": [None,
                                                                                                 {"alpha": 0.2}]}}))
    for _ in range(2):  # the second invocation finds the sweep folder and resumes it
        result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path), "--workers", "1", "--quiet"])
        assert result.exit_code == 0, result.output
    assert "best: training.mixup=" in result.output


def test_random_points_are_seeded(write_spec):
    search = {"method": "random", "trials": 6, "params": {"training.optimizer.learning_rate": {"log_uniform": [1e-4,
                                                                                                               1e-1]}}}
    points = lambda **extra: [t.point for t in plan_round(spec_with(write_spec, search={**search, **extra}), [])]
    assert points() == points()
    assert points(seed=7) == points(seed=7) != points()


RANGES = {"uniform": [0.1, 0.5], "log_uniform": [1e-4, 1e-1], "int_uniform": [16, 20], "log_uniform_1m": [0.9, 0.999]}


@pytest.mark.parametrize("kind", list(RANGES))
def test_each_distribution_has_its_range_and_scale(write_spec, kind):
    low, high = RANGES[kind]
    path = {"uniform": "model.defaults.dropout", "log_uniform": "training.optimizer.learning_rate",
            "int_uniform": "model.layers.0.units", "log_uniform_1m": "training.optimizer.beta_1"}[kind]
    loaded = spec_with(write_spec, search={"method": "random", "trials": 2000, "params": {path: {kind: [low, high]}}})
    from regexp.sweep.trials import sample  # sampling alone: validating 2,000 points is not the point here
    values = np.array([dict(p)[path] for p in sample(loaded.spec.search, 0, 1, 2000)])
    assert values.min() >= low and values.max() <= high
    if kind == "uniform":
        assert abs(np.median(values) - 0.3) < 0.02
    if kind == "log_uniform":  # uniform in log space: the median is the geometric mean
        assert abs(np.log10(np.median(values)) - np.log10(math.sqrt(low * high))) < 0.1
        assert np.mean(values < 1e-3) == pytest.approx(1 / 3, abs=0.04)  # one decade of three
    if kind == "int_uniform":
        assert values.dtype.kind == "i" and set(values) == {16, 17, 18, 19, 20}
    if kind == "log_uniform_1m":  # 1 - beta is log-uniform on [0.001, 0.1]: half the draws above 0.99
        assert abs(np.log10(np.median(1 - values)) - np.log10(0.01)) < 0.1
        assert np.mean(values > 0.99) == pytest.approx(0.5, abs=0.04)


def test_list_index_paths_reach_the_trial_spec(write_spec):
    loaded = spec_with(write_spec, search={"params": {"model.layers.0.units": [4, 16]}})
    trials = plan_round(loaded, [])
    spec = load_spec(loaded.file, trials[1].overrides).spec
    assert spec.model.layers[0].units == 16 and spec.search is None and spec.repeat == 1


def test_an_invalid_point_is_an_error_that_names_it(runner, write_spec):
    path = write_spec(merged(TINY, search={"params": {"model.defaults.dropout": [0.1, 1.5]}}))
    line = path.read_text().splitlines().index("    - 1.5") + 1  # the spec line that gives the bad value
    for command in (["sweep", str(path), "--dry-run"], ["validate", str(path)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2
        said = " ".join(result.output.split())
        assert f"error: {path}:{line}: search point model.defaults.dropout=1.5: model.defaults.dropout: input " \
               "should be less than 1" in said and "--set" not in said  # the user wrote no --set


def test_arms_share_seeds_splits_and_folds(write_spec):
    loaded = spec_with(write_spec, repeat=2, cv={"folds": 3}, search={"params": {"model.defaults.dropout": [0.0, 0.5]}})
    trials = plan_round(loaded, [])
    by_arm = {}
    for t in trials:
        data = prepare(load_spec(loaded.file, t.overrides))
        by_arm.setdefault(t.point, {})[(t.seed, t.fold)] = (data.x_train.sum(), data.x_val.sum(), data.x_test.sum())
    arm_a, arm_b = by_arm.values()
    assert arm_a == arm_b  # the same seed and fold give the same train/val/test samples in every arm
    assert len(set(arm_a.values())) == 6  # ... and different seeds/folds give different ones


def test_stratified_folds_partition_train_plus_val(write_spec):
    loaded = spec_with(write_spec, cv={"folds": 5})
    parts = [prepare(load_spec(loaded.file, [f"cv.fold={k}"])) for k in range(5)]
    rows = lambda x: Counter(map(tuple, x))  # iris has a duplicated sample: compare as multisets
    pooled = rows(np.concatenate([parts[0].x_train, parts[0].x_val]))
    assert sum(len(p.x_val) for p in parts) == sum(pooled.values()) == 120  # iris 150 minus the test part of 30
    assert sum((rows(p.x_val) for p in parts), Counter()) == pooled  # every sample validates exactly once
    for p in parts:
        assert rows(p.x_train) + rows(p.x_val) == pooled
    for p in parts:
        assert sorted(np.bincount(p.y_val)) == [8, 8, 8]  # stratified: 8 of each class in every fold
        np.testing.assert_array_equal(p.x_test, parts[0].x_test)  # test held out, the same for every fold


def sweep_state(runs_dir) -> dict:
    (folder,) = [p for p in runs_dir.iterdir() if p.name.endswith("_sweep")]
    return json.loads((folder / "sweep.json").read_text())


def test_train_with_repeat_and_cv_runs_every_child_and_report_groups_them(runner, write_spec, tmp_path):
    path = write_spec(merged(TINY, repeat=2, cv={"folds": 2}, training={"epochs": 1}))
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    state = sweep_state(tmp_path / "runs")
    assert state["kind"] == "cv" and state["status"] == "completed" and len(state["trials"]) == 4
    children = [p for p in (tmp_path / "runs").iterdir() if not p.name.endswith("_sweep")]
    assert len(children) == 4
    report = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--format", "json"])
    (row,) = json.loads(report.stdout)["rows"]
    assert row["kind"] == "group" and row["n"] == 4


def test_resume_runs_only_the_missing_trials(runner, write_spec, tmp_path, monkeypatch):
    import regexp.sweep.runner as sweep_module

    path = write_spec(merged(TINY, repeat=2, training={"epochs": 1}, search={"params": {"model.defaults.dropout": [0.0,
                                                                                                                   0.3]}}))
    real, calls = sweep_module.train_alone, []

    def interrupt_third(*args):
        calls.append(args)
        if len(calls) == 3:
            return [TrialResult(Status.INTERRUPTED, error="interrupted (Ctrl-C)")]
        return real(*args)
    monkeypatch.setattr(sweep_module, "train_alone", interrupt_third)
    args = ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--workers", "1", "-q", "--pack",
            "off"]  # counts train_alone calls
    first = runner.invoke(app, args)
    assert first.exit_code == 130
    state = sweep_state(tmp_path / "runs")
    assert state["status"] == "interrupted"
    assert [t["status"] for t in state["trials"]] == ["completed", "completed", "interrupted", "pending"]
    calls.clear()
    monkeypatch.setattr(sweep_module, "train_alone", lambda *a: (calls.append(a), real(*a))[1])
    second = runner.invoke(app, args)  # the same command resumes
    assert second.exit_code == 0, second.output
    assert len(calls) == 2
    state = sweep_state(tmp_path / "runs")
    assert state["status"] == "completed" and all(t["status"] == "completed" for t in state["trials"])
    assert state["best"]["n"] == 2 and state["best"]["point"] in ({"model.defaults.dropout": 0.0},
                                                                  {"model.defaults.dropout": 0.3})
    assert len(list((tmp_path / "runs").iterdir())) == 5  # 4 runs + the sweep folder


def test_failures_are_recorded_and_k_in_a_row_stop_the_sweep(runner, write_spec, tmp_path):
    diverges = {"data": {"dataset": "regression", "samples": 100}, "training": {"epochs": 2, "metrics": None,
                "optimizer": {"name": "sgd", "learning_rate": 1000.0}}}
    path = write_spec(merged(TINY, **diverges, search={"params": {"model.layers.0.units": [2, 3, 4, 5]}}))
    result = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--workers", "1",
                                 "--max-failures", "2"])
    assert result.exit_code == 1
    assert "sweep stopped: 2 trials failed in a row" in " ".join(result.output.split())
    state = sweep_state(tmp_path / "runs")
    assert state["status"] == "stopped"
    assert [t["status"] for t in state["trials"]] == ["failed", "failed", "pending", "pending"]
    assert state["trials"][0]["error"].startswith("non-finite loss at epoch")


def test_refine_samples_around_the_best_points(write_spec):
    loaded = spec_with(write_spec, search={"method": "random", "trials": 8, "refine": {"rounds": 2, "keep": 1,
                                                                                       "shrink": 0.2},
                                           "params": {"training.optimizer.learning_rate": {"log_uniform": [1e-4,
                                                                                                           1e-1]}}})
    first = plan_round(loaded, [], 1)
    results = {t.point: abs(math.log10(dict(t.point)["training.optimizer.learning_rate"]) + 2) for t in first}
    best = dict(min(results, key=results.get))["training.optimizer.learning_rate"]
    second = plan_round(loaded, [], 2, results)
    for trial in second:  # within ±0.2/2 of the 3-decade log range around the best point
        assert abs(math.log10(dict(trial.point)["training.optimizer.learning_rate"]) - math.log10(best)) <= 0.3 + 1e-9
    assert {t.point for t in second}.isdisjoint({t.point for t in first})


def test_parallel_workers_share_the_cores(runner, write_spec, tmp_path):
    path = write_spec(merged(TINY, repeat=2, training={"epochs": 1}))
    result = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    import os
    expected = max(1, (os.cpu_count() or 1) // 2)
    folders = [p for p in (tmp_path / "runs").iterdir() if not p.name.endswith("_sweep")]
    runs = [json.loads((p / "run.json").read_text()) for p in folders]
    assert len(runs) == 2 and len({r["pid"] for r in runs}) == 2  # two worker processes
    assert all(r["threads"] == {"intra_op": expected, "inter_op": expected} for r in runs)
    assert all(r["parent"].endswith("_sweep") for r in runs)


def test_dry_run_prints_the_plan(runner, write_spec):
    path = write_spec(merged(TINY, repeat=[3, 7], search={"params": {"model.defaults.dropout": [0.0, 0.5]}}))
    result = runner.invoke(app, ["sweep", str(path), "--dry-run"], terminal_width=160)
    assert result.exit_code == 0 and "4 trials" in result.output and "model.defaults.dropout" in result.output


def test_trials_run_from_the_sweep_snapshot_not_the_edited_spec(runner, write_spec, tmp_path, monkeypatch):
    import regexp.sweep.runner as sweep_module

    path = write_spec(merged(TINY, repeat=2, training={"epochs": 1}))
    real = sweep_module.train_alone

    def edit_spec_after_first(*args):
        result = real(*args)
        path.write_text(path.read_text().replace("units: 8", "units: 3"))  # the user edits the spec mid-sweep
        return result
    monkeypatch.setattr(sweep_module, "train_alone", edit_spec_after_first)
    result = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--workers", "1", "-q",
                                 "--set", "training.batch_size=30", "--pack", "off"])
    assert result.exit_code == 0, result.output
    runs = [p for p in (tmp_path / "runs").iterdir() if not p.name.endswith("_sweep")]
    configs = [load_spec(p / "config.yaml").spec for p in runs]
    assert [c.model.layers[0].units for c in configs] == [8, 8]
    assert [c.training.batch_size for c in configs] == [30, 30]  # --set is part of the snapshot


def test_a_search_over_defaults_reaches_every_layer_of_the_trained_models(runner, write_spec, tmp_path):
    """model.defaults.* points must change the trained model, not only the recorded config."""
    path = write_spec(merged(TINY, training={"epochs": 2}, search={"params": {"model.defaults.l2": [0.0, 0.05]}}))
    result = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    runs = [p for p in (tmp_path / "runs").iterdir() if not p.name.endswith("_sweep")]
    penalty = {json.loads((p / "run.json").read_text())["config"]["model"]["defaults"]["l2"]:
               json.loads((p / "metrics.json").read_text())["train"]["penalty"] for p in runs}
    assert penalty[0.0] == 0.0 and penalty[0.05] > 0.01


@pytest.mark.parametrize("config", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_the_sweep_snapshot_reproduces_the_spec(config, tmp_path):
    loaded = load_spec(config)
    snapshot = tmp_path / "spec.yaml"
    snapshot.write_text(yaml.safe_dump(loaded.as_written()))
    assert load_spec(snapshot).resolved() == loaded.resolved()


def test_the_slurm_section_says_where_a_sweep_runs_not_what_it_trains(write_spec):
    """Another partition or more CPUs per job continue the same sweep, and its runs stay up to date."""
    from regexp.sweep.identity import sweep_hash

    base = load_spec(write_spec(merged(TINY, repeat=2)))
    elsewhere = load_spec(base.file, ["slurm.partition=gpu", "slurm.cpus_per_task=8", "slurm.time=2-00:00"])
    assert elsewhere.spec.slurm.minutes == 2880 and "slurm" not in elsewhere.resolved()
    assert elsewhere.spec_hash() == base.spec_hash() and sweep_hash(elsewhere) == sweep_hash(base)
