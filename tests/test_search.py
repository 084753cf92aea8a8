"""search.method: tpe (Optuna's TPE through ask/tell): seeded points, told results, resumable rounds."""

import json
import math

import numpy as np
import pytest

from regexp.cli import app
from regexp.spec import load_spec
from regexp.store.contract import Status
from regexp.sweep.trials import plan_round
from regexp.trial.result import TrialResult

from conftest import TINY, merged

PARAMS = {"training.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]},
          "training.optimizer.beta_1": {"log_uniform_1m": [0.8, 0.99]},
          "model.layers.0.units": {"int_uniform": [2, 9]},
          "training.mixup": [None, {"alpha": 0.2}]}


def tpe_spec(write_spec, **search):
    return load_spec(write_spec(merged(TINY, search={"method": "tpe", "trials": 6, "batch": 3, "params": PARAMS,
                                                     **search})))


def test_tpe_points_are_seeded_and_lie_in_their_distributions(write_spec):
    points = lambda **s: [t.point for t in plan_round(tpe_spec(write_spec, **s), [])]  # noqa: E731
    first = points(seed=3)
    assert first == points(seed=3) != points(seed=4)
    assert len(first) == 3  # the first batch
    for point in first:
        values = dict(point)
        assert 1e-4 <= values["training.optimizer.learning_rate"] <= 1e-1
        assert 0.8 <= values["training.optimizer.beta_1"] <= 0.99
        assert values["model.layers.0.units"] in range(2, 10)
        assert values["training.mixup"] in (None, {"alpha": 0.2})


def test_tpe_is_told_the_results_and_samples_near_the_best(write_spec):
    """Told 20 points of a one-parameter objective with its minimum at lr 1e-2, the next batch sits
    closer to it (in log10) than the told points do on average; the same history gives the same batch."""
    loaded = load_spec(write_spec(merged(TINY, search={
        "method": "tpe", "trials": 28, "batch": 8, "seed": 0,
        "params": {"training.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]}}})))
    distance = lambda point: abs(math.log10(dict(point)["training.optimizer.learning_rate"]) + 2)  # noqa: E731
    told = []
    for round_ in (1, 2, 3):  # 24 points told, rounds of 8
        told += [(t.point, distance(t.point), None) for t in plan_round(loaded, [], round_, told=told)]
    fourth = [t.point for t in plan_round(loaded, [], 4, told=told)]
    assert len(fourth) == 4  # 28 - 24: the last round is short
    assert fourth == [t.point for t in plan_round(loaded, [], 4, told=told)]
    startup = sum(v for _, v, _ in told[:8]) / 8  # TPE's first 10 points are random
    assert sum(map(distance, fourth)) / len(fourth) < startup / 2


def test_an_interrupted_tpe_sweep_resumes_the_same_points_without_duplicates(runner, write_spec, tmp_path,
                                                                            monkeypatch):
    import regexp.sweep.runner as sweep_module

    path = write_spec(merged(TINY, training={"epochs": 1}, search={
        "method": "tpe", "trials": 4, "batch": 2, "seed": 5, "params": {
            "training.optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]}}}))
    real, calls = sweep_module.train_alone, []

    def interrupt_third(*args):  # round 2's first trial
        calls.append(args)
        if len(calls) == 3:
            return [TrialResult(Status.INTERRUPTED, error="interrupted (Ctrl-C)")]
        return real(*args)
    monkeypatch.setattr(sweep_module, "train_alone", interrupt_third)
    args = ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--workers", "1", "-q", "--pack", "off"]
    assert runner.invoke(app, args).exit_code == 130
    before = sweep_state(tmp_path / "runs")
    assert [(t["round"], t["status"]) for t in before["trials"]] == [(1, "completed"), (1, "completed"),
                                                                      (2, "interrupted"), (2, "pending")]
    calls.clear()
    monkeypatch.setattr(sweep_module, "train_alone", lambda *a: (calls.append(a), real(*a))[1])
    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    after = sweep_state(tmp_path / "runs")
    assert len(calls) == 2  # only round 2's two trials trained again
    assert [t["point"] for t in after["trials"]] == [t["point"] for t in before["trials"]]  # the same study
    assert len({t["key"] for t in after["trials"]}) == 4 and all(t["status"] == "completed" for t in after["trials"])
    report = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--importance", "-f", "json"])
    (search,) = json.loads(report.output)["search"]
    assert search["method"] == "tpe" and search["n"] == 4 and search["mode"] == "min"
    assert search["importance"] is None and "two or more searched parameters" in search["importance_note"]
    best = [e["mean"] for e in search["expected_best"]]
    assert len(best) == 4 and best == sorted(best, reverse=True)  # more trials, a lower expected best val_loss
    assert best[-1] >= min(t["objective"] for t in after["trials"])


def test_importance_finds_the_one_parameter_that_matters(write_spec):
    from regexp.report.search import importance

    search = load_spec(write_spec(merged(TINY, search={"method": "random", "trials": 40, "params": {
        "training.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]},
        "model.defaults.dropout": {"uniform": [0.0, 0.5]},
        "model.layers.0.units": [4, 8, 16]}}))).spec.search
    rng = np.random.default_rng(0)
    points = []
    for _ in range(40):  # the objective depends on the learning rate only, plus a little noise
        point = {"training.optimizer.learning_rate": float(10 ** rng.uniform(-4, -1)),
                 "model.defaults.dropout": float(rng.uniform(0, 0.5)),
                 "model.layers.0.units": int(rng.choice([4, 8, 16]))}
        points.append((point, (math.log10(point["training.optimizer.learning_rate"]) + 2) ** 2 + rng.normal(0, 0.01)))
    shares, note = importance(search, points)
    assert note is None and list(shares)[0] == "training.optimizer.learning_rate"
    assert shares["training.optimizer.learning_rate"] > 0.8 and sum(shares.values()) == pytest.approx(1.0)


def test_expected_best_of_k_matches_the_exact_distribution():
    """Values 1, 2, 3 (max is best): the best of 2 draws is 1 w.p. 1/9, 2 w.p. 3/9, 3 w.p. 5/9."""
    from regexp.report.search import expected_best

    (k1, m1, s1), (k2, m2, s2), (k3, m3, _) = expected_best([2.0, 3.0, 1.0], "max")
    assert (k1, m1) == (1, pytest.approx(2.0)) and s1 == pytest.approx(math.sqrt(2 / 3))
    assert m2 == pytest.approx(22 / 9) and s2 == pytest.approx(math.sqrt(58 / 9 - (22 / 9) ** 2))
    assert m3 == pytest.approx((1 + 2 * 7 + 3 * 19) / 27)
    assert [m for _, m, _ in expected_best([2.0, 3.0, 1.0], "min")][1] == pytest.approx(4 - 22 / 9)  # mirrored


def test_tpe_without_optuna_is_a_spec_error_that_says_what_to_install(runner, write_spec, monkeypatch):
    from regexp.sweep import tpe

    monkeypatch.setattr(tpe, "available", lambda: False)
    path = write_spec(merged(TINY, search={"method": "tpe", "params": PARAMS}))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "search.method" in result.output and "pip install 'regexp[search]'" in result.output


def sweep_state(runs) -> dict:
    (folder,) = [p for p in runs.iterdir() if p.name.endswith("_sweep")]
    return json.loads((folder / "sweep.json").read_text())
