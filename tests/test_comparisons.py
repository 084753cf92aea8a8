"""Comparisons a user can publish: replicates are distinct seeds, p-values adjusted over the report,
the difference with its CI, power (checked against a simulation and textbook values), selection."""

import csv
import io
import json
import math

import numpy as np
import pytest
from scipy import stats

from regexp.cli import app
from regexp.report.stats import Design, adjusted_p

from runfolders import make_run


def report(runner, runs_dir, *args, fmt="json"):
    result = runner.invoke(app, ["report", "--runs-dir", str(runs_dir), "--format", fmt, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if fmt == "json" else result.stdout


def row_named(data: dict, name: str) -> dict:
    return next(r for r in data["rows"] if r["name"] == name)


# ------------------------------------------------------------------------------- replicates are seeds
def test_a_seed_trained_again_counts_once_and_is_noted(runner, tmp_path):
    for seed, acc in enumerate([0.90, 0.92, 0.94]):  # repeat: 3
        make_run(tmp_path, f"r{seed}", seed=seed, val_accuracy=acc)
    make_run(tmp_path, "again0", seed=0, val_accuracy=0.80, started="2026-11-02T00:00:00.000+00:00")  # --set repeat=1
    data = report(runner, tmp_path)
    (row,) = data["rows"]
    assert row["n"] == 3 and sorted(row["seeds"]) == [0, 1, 2]
    assert row["values"]["val_accuracy"]["mean"] == pytest.approx((0.80 + 0.92 + 0.94) / 3)  # the latest run of seed 0
    assert [r["id"] for r in row["reruns"]] == ["r0"]
    assert row["notes"] == ["exp: seed 0 ran twice; the older run is ignored (r0)"]
    assert data["notes"] == row["notes"]
    assert "note: exp: seed 0 ran twice" in report(runner, tmp_path, fmt="md")
    lines = list(csv.DictReader(io.StringIO(report(runner, tmp_path, fmt="csv"))))
    assert lines[0]["n"] == "3" and lines[0]["ignored_reruns"] == "r0"
    assert "seed 0 ran twice" in report(runner, tmp_path, fmt="html")
    table = runner.invoke(app, ["report", "--runs-dir", str(tmp_path)], terminal_width=200)
    assert "note: exp: seed 0 ran twice; the older run is ignored (r0)" in " ".join(table.stdout.split())


def test_copies_of_one_measurement_are_not_a_group_with_zero_spread(runner, tmp_path):
    """Two invocations of one sweep left two runs of seed 0: one measurement, n = 1, no CI."""
    make_run(tmp_path, "first", seed=0, val_accuracy=0.66)
    make_run(tmp_path, "second", seed=0, val_accuracy=0.66, started="2026-11-01T00:01:00.000+00:00")
    (row,) = report(runner, tmp_path)["rows"]
    assert row["kind"] == "run" and row["id"] == "second" and row["n"] == 1
    assert row["values"]["val_accuracy"]["ci95"] is None


def test_a_failed_rerun_does_not_replace_the_completed_run(runner, tmp_path):
    make_run(tmp_path, "done0", seed=0, val_accuracy=0.9)
    make_run(tmp_path, "done1", seed=1, val_accuracy=0.8)
    make_run(tmp_path, "failed0", seed=0, status="failed", started="2026-11-05T00:00:00.000+00:00")
    (row,) = report(runner, tmp_path)["rows"]
    assert row["n"] == 2 and row["values"]["val_accuracy"]["mean"] == pytest.approx(0.85)
    assert row["notes"] == ["exp: seed 0 ran twice; done0 (the latest completed run) counts, the other is ignored "
                            "(failed0)"]


def test_cv_folds_of_one_seed_are_distinct_replicates_and_pair_by_fold(runner, tmp_path):
    for fold, (a, b) in enumerate([(0.90, 0.92), (0.80, 0.83), (0.85, 0.86)]):
        make_run(tmp_path, f"a{fold}", name="a", seed=0, fold=fold, val_accuracy=a)
        make_run(tmp_path, f"b{fold}", name="b", seed=0, fold=fold, val_accuracy=b)
    data = report(runner, tmp_path, "--baseline", "a", "--metric", "val_accuracy")
    assert row_named(data, "a")["n"] == 3 and row_named(data, "a")["notes"] == []
    comparison = row_named(data, "b")["baseline"]
    assert comparison["test"] == "paired t-test" and comparison["n"] == "3 pairs"
    assert comparison["p"] == pytest.approx(stats.ttest_rel([0.92, 0.83, 0.86], [0.90, 0.80, 0.85]).pvalue)


# ------------------------------------------------------------------------------------- corrections
def test_holm_and_benjamini_hochberg_by_hand():
    ps = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> kept monotone 0.06
    assert adjusted_p(ps, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: p·m/rank = 0.02, 0.02, 0.04, 0.04, then the running minimum from the largest rank down
    assert adjusted_p(ps, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjusted_p(ps, "none") == ps
    assert adjusted_p([0.6, 0.9], "holm") == [1.0, 1.0]  # capped at 1


def _arms(tmp_path, arms: dict[str, list[float]]):
    for name, accs in arms.items():
        for seed, acc in enumerate(accs):
            make_run(tmp_path, f"{name}{seed}", name=name, seed=seed, val_accuracy=acc)


ARMS = {"base": [0.90, 0.91, 0.92, 0.93, 0.94],
        "big": [0.93, 0.95, 0.95, 0.97, 0.97],     # +0.034, clearly better
        "small": [0.905, 0.92, 0.925, 0.94, 0.945],  # +0.007
        "worse": [0.88, 0.90, 0.905, 0.92, 0.925]}  # -0.014


@pytest.mark.parametrize("correction", ["holm", "bh", "none"])
def test_every_comparison_of_a_report_is_adjusted_together(runner, tmp_path, correction):
    _arms(tmp_path, ARMS)
    data = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy", "--correction", correction)
    raw = {name: stats.ttest_rel(ARMS[name], ARMS["base"]).pvalue for name in ("big", "small", "worse")}
    expected = dict(zip(raw, adjusted_p(list(raw.values()), correction)))
    for name in raw:
        comparison = row_named(data, name)["baseline"]
        assert comparison["p"] == pytest.approx(raw[name])
        assert comparison["p_adjusted"] == pytest.approx(expected[name])
        verdict = ("better" if comparison["diff"] > 0 else "worse") if expected[
            name] < 0.05 else "no significant difference"
        assert comparison["verdict"] == verdict
    assert data["comparison"]["correction"] == correction
    label = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}[correction]
    assert f"p adjusted by {label} over 3 comparisons" in data["comparison"]["text"]
    assert f"p adjusted by {label} over 3 comparisons" in report(runner, tmp_path, "--baseline", "base", "--correction",
                                                                correction, fmt="md").splitlines()[0]


def test_lower_is_better_for_a_loss(runner, tmp_path):
    for seed, (a, b) in enumerate([(0.30, 0.20), (0.32, 0.21), (0.31, 0.23)]):
        make_run(tmp_path, f"a{seed}", name="a", seed=seed, val_loss=a)
        make_run(tmp_path, f"b{seed}", name="b", seed=seed, val_loss=b)
    comparison = row_named(report(runner, tmp_path, "--baseline", "a", "--metric", "val_loss"), "b")["baseline"]
    assert comparison["diff"] < 0 and comparison["verdict"] == "better"


def test_a_gap_has_no_better_side(runner, tmp_path):
    _arms(tmp_path, {"base": [0.90, 0.91, 0.92], "narrow": [0.95, 0.97, 0.98]})  # train accuracy is 0.99
    data = report(runner, tmp_path, "--baseline", "base", "--metric", "gap_accuracy")
    assert row_named(data, "narrow")["baseline"]["verdict"] == "lower"


def test_group_by_compares_the_trials_of_two_searches(runner, tmp_path):
    """Two random searches (names log and linear), each trial another learning rate, same seed:
    grouped by name every trial is one sample, and Welch's test compares the two distributions."""
    import yaml

    for name, accs in {"log": [0.95, 0.93, 0.96, 0.94], "linear": [0.50, 0.91, 0.20, 0.85]}.items():
        for i, acc in enumerate(accs):
            path = make_run(tmp_path, f"{name}{i}", name=name, seed=0, val_accuracy=acc)
            config = yaml.safe_load((path / "config.yaml").read_text())
            config["training"]["optimizer"]["learning_rate"] = 10.0 ** -(i + 1)
            (path / "config.yaml").write_text(yaml.safe_dump(config))
    make_run(tmp_path, "linear0-again", name="linear", seed=0, val_accuracy=0.50,  # a re-run of one trial
             started="2026-11-09T00:00:00.000+00:00").joinpath("config.yaml").write_text(
                 (tmp_path / "linear0" / "config.yaml").read_text())
    data = report(runner, tmp_path, "--group-by", "name", "--baseline", "name=linear", "--metric", "val_accuracy")
    assert data["params"] == ["name"] and {r["id"]: r["n"] for r in data["rows"]} == {"name=log": 4, "name=linear": 4}
    comparison = row_named(data, "log")["baseline"]
    assert comparison["test"] == "Welch's t-test"
    assert comparison["p"] == pytest.approx(stats.ttest_ind([0.95, 0.93, 0.96, 0.94], [0.50, 0.91, 0.20, 0.85],
                                                            equal_var=False).pvalue)
    assert row_named(data, "linear")["notes"] == [
        "linear: seed 0 of one config ran twice; the older run is ignored (linear0)"]


# ----------------------------------------------------------------------------------------------- power
def _simulated_power(design: Design, delta: float, trials: int = 40_000, seed: int = 0) -> float:
    """The share of simulated experiments (normal noise with the design's spread) in which the
    test rejects at 0.05: an independent check of the noncentral-t formula."""
    rng = np.random.default_rng(seed)
    if design.paired:
        n = design.n_a
        d = rng.normal(delta, design.std_a, size=(trials, n))
        t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
        return float(np.mean(np.abs(t) > stats.t.ppf(0.975, n - 1)))
    a = rng.normal(0.0, design.std_a, size=(trials, design.n_a))
    b = rng.normal(delta, design.std_b, size=(trials, design.n_b))
    p = stats.ttest_ind(b, a, axis=1, equal_var=False).pvalue
    return float(np.mean(p < 0.05))


@pytest.mark.parametrize("design, textbook", [
    (Design(True, 1.0, 10), 0.994),                 # one-sample/paired t, n = 10: d = 0.994 (G*Power)
    (Design(False, 1.0, 10, 1.0, 10), 1.325),       # two-sample t, 10 per arm: d = 1.325 (G*Power)
    (Design(False, 0.5, 6, 2.0, 12), None),         # unequal spreads and sizes: the simulation decides
])
def test_min_detectable_has_80_percent_power(design, textbook):
    delta = design.min_detectable()
    if textbook is not None:
        assert delta == pytest.approx(textbook, abs=0.005)
    assert _simulated_power(design, delta) == pytest.approx(0.80, abs=0.012)


@pytest.mark.parametrize("design, delta, textbook", [
    (Design(True, 1.0, 10), 0.5, 34),               # paired, d = 0.5: 34 pairs (Cohen's table)
    (Design(False, 1.0, 10, 1.0, 10), 1.0, 17),     # two arms, d = 1: 17 per arm
    (Design(False, 1.0, 10, 1.0, 10), 0.5, 64),     # two arms, d = 0.5: 64 per arm
])
def test_seeds_needed_is_the_fewest_with_80_percent_power(design, delta, textbook):
    n = design.seeds_needed(delta)
    assert n == textbook
    assert design.power(delta, n) >= 0.80 > design.power(delta, n - 1)
    simulated = Design(design.paired, design.std_a, n, design.std_b, n)
    assert _simulated_power(simulated, delta) == pytest.approx(design.power(delta, n), abs=0.012)


def test_power_needs_three_seeds_and_some_spread():
    assert Design(True, 1.0, 2).min_detectable() is None
    assert Design(True, 0.0, 5).min_detectable() is None
    assert Design(True, 1.0, 5).seeds_needed(1e-9) is None  # would take more than 100,000 seeds


def test_report_gives_min_detectable_and_seeds_needed(runner, tmp_path):
    _arms(tmp_path, ARMS)
    data = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy", "--detect", "0.005")
    comparison = row_named(data, "small")["baseline"]
    differences = np.array(ARMS["small"]) - np.array(ARMS["base"])
    design = Design(True, float(differences.std(ddof=1)), 5)
    assert comparison["min_detectable"] == pytest.approx(design.min_detectable())
    assert comparison["seeds_needed"] == design.seeds_needed(0.005)
    assert comparison["effect_size"] == pytest.approx(differences.mean() / differences.std(ddof=1))
    assert data["comparison"]["detect"] == 0.005
    assert "seeds for Δ 0.005" in report(runner, tmp_path, "--baseline", "base", "--detect", "0.005", fmt="md")


# ---------------------------------------------------------------------------- selection, --against, keys
def _sweep(tmp_path, objective: str):
    (tmp_path / "S_sweep").mkdir()
    (tmp_path / "S_sweep" / "sweep.json").write_text(json.dumps({
        "kind": "sweep", "name": "exp", "spec": "s.yaml", "spec_hash": "h", "started": "2026-11-01T00:00:00+00:00",
        "objective": {"metric": objective, "mode": "min"}, "trials": []}))
    for seed in range(3):
        for dropout, shift in ((0.0, 0.0), (0.5, -0.02 - 0.005 * seed)):
            make_run(tmp_path, f"d{dropout}_{seed}", seed=seed, dropout=dropout, val_loss=0.3 + shift + 0.01 * seed,
                     parent="S_sweep")


def test_comparing_on_the_metric_a_sweep_selected_by_says_it_is_optimistic(runner, tmp_path):
    _sweep(tmp_path, "val_loss")
    data = report(runner, tmp_path, "--baseline", "model.defaults.dropout=0.0", "--metric", "val_loss")
    (comparison,) = [r["baseline"] for r in data["rows"] if r["baseline"]]
    assert comparison["note"] == ("optimistic: the sweep chose its best point by val_loss; "
                                  "compare on test_loss (--metric test_loss)")
    assert comparison["note"] in data["notes"]
    honest = report(runner, tmp_path, "--baseline", "model.defaults.dropout=0.0", "--metric", "test_loss")
    assert all(r["baseline"] is None or r["baseline"]["note"] is None for r in honest["rows"]) and honest["notes"] == []


def test_baseline_by_config_value_and_its_errors(runner, tmp_path):
    _sweep(tmp_path, "val_loss")
    data = report(runner, tmp_path, "--baseline", "model.defaults.dropout=0.5")
    assert data["baseline"] == next(r["id"] for r in data["rows"] if r["params"]["model.defaults.dropout"] == 0.5)
    for value, message in (("model.defaults.dropout=0.3", "no run or group has this config value"),
                           ("name=exp", "matches 2 rows")):
        result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", value])
        assert result.exit_code == 2 and message in result.output


def test_against_compares_two_columns_of_the_same_runs(runner, tmp_path):
    for seed, acc in enumerate([0.90, 0.93, 0.91]):
        make_run(tmp_path, f"r{seed}", seed=seed, val_accuracy=acc)  # test_accuracy = val_accuracy - 0.01
    (row,) = report(runner, tmp_path, "--metric", "test_accuracy", "--against", "val_accuracy")["rows"]
    assert row["baseline"]["diff"] == pytest.approx(-0.01) and row["baseline"]["test"] == "paired t-test"
    assert row["baseline"]["verdict"] == "no test: no variance"


@pytest.mark.parametrize("args, fragment", [
    (["--baseline", "base", "--correction", "bonferroni"], "--correction bonferroni: not a correction (allowed: holm | "
                                                           "bh | none)"),
    (["--detect", "0.01"], "--detect: needs --baseline"),
    (["--against", "val_nothing"], "--against val_nothing: unknown column"),
    (["--against", "val_loss", "--baseline", "base"], "give one"),
])
def test_bad_comparison_options_exit_2(runner, tmp_path, args, fragment):
    _arms(tmp_path, {"base": [0.9, 0.91]})
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), *args])
    assert result.exit_code == 2 and fragment in " ".join(result.output.split())
