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


def test_cv_folds_are_averaged_within_each_seed_and_the_seeds_are_the_pairs(runner, tmp_path):
    """Folds of one seed share their data: 2 seeds x 3 folds are 2 replicates, not 6 (df 1, not 5)."""
    folds = {0: [(0.90, 0.92), (0.80, 0.83), (0.85, 0.86)], 1: [(0.88, 0.91), (0.84, 0.84), (0.86, 0.90)]}
    for seed, values in folds.items():
        for fold, (a, b) in enumerate(values):
            make_run(tmp_path, f"a{seed}{fold}", name="a", seed=seed, fold=fold, val_accuracy=a)
            make_run(tmp_path, f"b{seed}{fold}", name="b", seed=seed, fold=fold, val_accuracy=b)
    data = report(runner, tmp_path, "--baseline", "a", "--metric", "val_accuracy")
    assert row_named(data, "a")["n"] == 6 and row_named(data, "a")["notes"] == []  # six runs in the row
    comparison = row_named(data, "b")["baseline"]
    assert comparison["test"] == "paired t-test" and comparison["n"] == "2 seeds" and comparison["folds_averaged"]
    a_means = [np.mean([a for a, _ in folds[s]]) for s in (0, 1)]
    b_means = [np.mean([b for _, b in folds[s]]) for s in (0, 1)]
    assert comparison["p"] == pytest.approx(stats.ttest_rel(b_means, a_means).pvalue)
    assert "cv folds averaged within each seed" in data["comparison"]["text"]


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
            name] < 0.05 else "inconclusive"
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
    family = sum(row["baseline"] is not None and row["baseline"]["p"] is not None for row in data["rows"])
    assert family == len(ARMS) - 1  # planned at the family's level, α/m under Holm
    assert comparison["min_detectable"] == pytest.approx(design.min_detectable(0.05 / family))
    assert comparison["seeds_needed"] == design.seeds_needed(0.005, 0.05 / family)
    hedges = math.gamma(4 / 2) / (math.sqrt(4 / 2) * math.gamma(3 / 2))  # J(df = pairs - 1)
    assert comparison["effect_size"] == pytest.approx(differences.mean() / differences.std(ddof=1) * hedges)
    assert comparison["effect_size_name"] == "d_z"
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
    for focus in ("val_loss", "val_accuracy"):  # the objective, or another metric of the same part
        data = report(runner, tmp_path, "--baseline", "model.defaults.dropout=0.0", "--metric", focus)
        (comparison,) = [r["baseline"] for r in data["rows"] if r["baseline"]]
        assert comparison["note"] == ("optimistic: the sweep chose this point as its best by val_loss, on the same "
                                      f"val part; compare on test_{focus[4:]} (--metric test_{focus[4:]})")
        assert any(comparison["note"] in note for note in data["notes"])
    honest = report(runner, tmp_path, "--baseline", "model.defaults.dropout=0.0", "--metric", "test_loss")
    assert all(r["baseline"] is None or r["baseline"]["note"] is None for r in honest["rows"]) and honest["notes"] == []


def test_the_correction_family_is_every_comparison_before_limit_and_the_pick_is_noted(runner, tmp_path):
    """Of 9 null arms the best by val_accuracy, shown alone with --limit, is still one of 9 comparisons."""
    rng = np.random.default_rng(3)
    base = 0.90 + rng.normal(0, 0.01, 5)
    arms = {f"arm{i}": base + rng.normal(0, 0.004, 5) for i in range(9)}
    for seed in range(5):
        make_run(tmp_path, f"base{seed}", name="base", seed=seed, val_accuracy=float(base[seed]))
        for name, values in arms.items():
            make_run(tmp_path, f"{name}_{seed}", name=name, seed=seed, val_accuracy=float(values[seed]))
    every = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy")
    limited = report(runner, tmp_path, "--baseline", "base", "--sort", "val_accuracy", "--limit", "1")
    shown = [r for r in limited["rows"] if r["name"] != "base"]
    assert len(shown) == 1 and "over 9 comparisons" in limited["comparison"]["text"]
    pick = shown[0]["baseline"]
    assert pick["p_adjusted"] == pytest.approx(row_named(every, shown[0]["name"])["baseline"]["p_adjusted"])
    ps = [row_named(every, name)["baseline"]["p"] for name in arms]
    assert pick["p_adjusted"] == pytest.approx(adjusted_p(ps, "holm")[list(arms).index(shown[0]["name"])])
    assert pick["note"].startswith("optimistic: this row was picked as the best of 10 by --sort val_accuracy")
    assert all(row_named(every, name)["baseline"]["note"] is None for name in arms)  # no pick: no note


def test_baseline_by_config_value_and_its_errors(runner, tmp_path):
    _sweep(tmp_path, "val_loss")
    data = report(runner, tmp_path, "--baseline", "model.defaults.dropout=0.5")
    assert data["baseline"] == next(r["id"] for r in data["rows"] if r["params"]["model.defaults.dropout"] == 0.5)
    for value, message in (("model.defaults.dropout=0.3", "no run or group has this config value "
                                                          "(model.defaults.dropout has 0.0, 0.5)"),
                           ("name=exp", "matches 2 rows")):
        result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", value])
        assert result.exit_code == 2 and message in result.output


def test_against_compares_two_columns_of_the_same_runs(runner, tmp_path):
    for seed, acc in enumerate([0.90, 0.93, 0.91]):
        make_run(tmp_path, f"r{seed}", seed=seed, val_accuracy=acc)  # test_accuracy = val_accuracy - 0.01
    (row,) = report(runner, tmp_path, "--metric", "test_accuracy", "--against", "val_accuracy")["rows"]
    assert row["baseline"]["diff"] == pytest.approx(-0.01)
    # every difference equal, on an accuracy: no zero-width interval, the bounded (betting) one instead
    assert row["baseline"]["test"] == "betting test (bounded differences)"
    low, high = row["baseline"]["diff_ci95"]
    assert low < -0.01 < high and high - low > 0.5 and row["baseline"]["verdict"] == "inconclusive"
    for seed in range(3):  # a loss has no bounded range: still no test without variance
        make_run(tmp_path / "loss", f"r{seed}", seed=seed, val_loss=0.3)
    (row,) = report(runner, tmp_path / "loss", "--metric", "test_loss", "--against", "val_loss")["rows"]
    assert row["baseline"]["verdict"] == "no test: no variance" and row["baseline"]["diff_ci95"] is None


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


# ------------------------------------------------------------------ lost seeds: pair on what both have
def test_one_lost_seed_keeps_the_pairing_and_names_the_seed_left_out(runner, tmp_path):
    """10 seeds per arm, seed 9 of the arm failed: the 9 shared seeds stay paired (not Welch over
    10 vs 9), the baseline's unmatched seed is out of Δ too, and the row says which seed and why."""
    rng = np.random.default_rng(0)
    base = 0.90 + rng.normal(0, 0.02, 10)  # a seed's split moves both arms together
    arm = base + 0.004 + rng.normal(0, 0.001, 10)
    for seed in range(10):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=float(base[seed]))
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed, val_accuracy=float(arm[seed]),
                 status="failed" if seed == 9 else "completed")
    data = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy")
    comparison = row_named(data, "arm")["baseline"]
    assert comparison["test"] == "paired t-test" and comparison["n"] == "9 pairs (1 left out)"
    assert comparison["left_out"] == ["seed 9 (arm: failed)"]
    expected = stats.ttest_rel(arm[:9], base[:9])
    assert comparison["p"] == pytest.approx(expected.pvalue, rel=1e-9) and comparison["p"] < 1e-4
    assert comparison["diff"] == pytest.approx(float(np.mean(arm[:9] - base[:9])))
    welch = stats.ttest_ind(arm[:9], base, equal_var=False).pvalue  # what dropping the pairing would say
    assert welch > 0.05
    table = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy", fmt="md")
    assert "seed 9 (arm: failed)" in table


def test_arms_without_a_common_seed_use_welch(runner, tmp_path):
    for seed, acc in enumerate([0.90, 0.91, 0.92]):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=acc)
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed + 10, val_accuracy=acc + 0.02)
    data = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy")
    comparison = row_named(data, "arm")["baseline"]
    assert comparison["test"] == "Welch's t-test" and comparison["n"] == "3 vs 3"
    assert comparison["effect_size_name"] == "Hedges' g"


def test_mc_accuracy_is_higher_is_better_and_mc_entropy_has_no_better_side(runner, tmp_path):
    for seed in range(4):
        for name, acc, entropy in (("base", 0.90, 0.30), ("mc", 0.92, 0.40)):
            run = make_run(tmp_path, f"{name}{seed}", name=name, seed=seed)
            metrics = json.loads((run / "metrics.json").read_text())
            wobble = 0.001 * seed ** 2 * (name == "mc")  # the pairs differ by more than a constant
            metrics["test"].update(mc_accuracy=acc + 0.002 * seed + wobble, mc_entropy=entropy + wobble)
            (run / "metrics.json").write_text(json.dumps(metrics))
    accuracy = report(runner, tmp_path, "--baseline", "base", "--metric", "test_mc_accuracy")
    assert row_named(accuracy, "mc")["baseline"]["verdict"] == "better"
    assert [r["name"] for r in report(runner, tmp_path, "--sort", "test_mc_accuracy")["rows"]] == ["mc", "base"]
    entropy = report(runner, tmp_path, "--baseline", "base", "--metric", "test_mc_entropy")
    assert row_named(entropy, "mc")["baseline"]["verdict"] == "higher"


# ------------------------------------------------------------------------ metrics.json without NaN
def test_a_completed_run_with_unreadable_metrics_is_left_out_not_filled_from_history(runner, tmp_path):
    for seed in range(3):
        make_run(tmp_path, f"r{seed}", seed=seed, val_accuracy=0.92, val_loss=0.2)
    damaged = tmp_path / "r2" / "metrics.json"
    damaged.write_text(damaged.read_text().replace('"loss": 0.2', '"loss": NaN'))  # an old writer's token
    (row,) = report(runner, tmp_path)["rows"]
    assert row["values"]["val_accuracy"]["n"] == 2  # history's last row (0.92 too, here) is not used instead
    assert any("r2: metrics.json is unreadable" in w for w in row["warnings"])


def test_metrics_json_holds_null_for_a_value_that_is_not_finite(runner, write_spec, tmp_path, monkeypatch):
    from regexp.spec import load_spec
    from regexp.trial import train as training

    from conftest import TINY

    real = training.score

    def nan_test_loss(model, data):
        results = real(model, data)
        results["test"]["loss"] = float("nan")
        return results
    monkeypatch.setattr(training, "score", nan_test_loss)
    run = training.train(load_spec(write_spec(TINY)), tmp_path / "runs")
    text = (run / "metrics.json").read_text()
    assert "NaN" not in text  # JSON has no NaN: every reader would reject the file
    saved = json.loads(text)
    assert saved["test"]["loss"] is None and saved["non_finite"] == {"test.loss": "nan"}
    assert saved["test"]["accuracy"] is not None
    (row,) = report(runner, tmp_path / "runs")["rows"]
    assert "test_loss" not in row["values"] and "test_accuracy" in row["values"]


def test_the_baseline_can_be_named_by_several_keys_in_full_or_as_the_params_column_shows_them(runner, tmp_path):
    for seed in range(3):
        for dropout in (0.0, 0.5):
            for l2 in (0.0, 0.001):
                make_run(tmp_path, f"d{dropout}_l{l2}_{seed}", seed=seed, dropout=dropout, l2=l2,
                         val_accuracy=0.9 + dropout / 10 + l2 * 10 + 0.001 * seed)
    for baseline in ("model.defaults.dropout=0.0,model.defaults.l2=0.001", "dropout=0.0,l2=0.001",
                     "dropout=0.0, l2=0.001"):
        data = report(runner, tmp_path, "--baseline", baseline)
        chosen = next(r for r in data["rows"] if r["id"] == data["baseline"])
        assert chosen["params"]["model.defaults.dropout"] == 0.0 and chosen["params"]["model.defaults.l2"] == 0.001
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", "dropout=0.0"])
    assert result.exit_code == 2 and "matches 2 rows" in result.output  # one key names two rows here


def test_an_accuracy_interval_stays_within_0_and_1(runner, tmp_path):
    for seed, acc in enumerate([0.93, 0.99, 0.995]):
        make_run(tmp_path, f"r{seed}", seed=seed, val_accuracy=acc)
    (row,) = report(runner, tmp_path)["rows"]
    low, high = row["values"]["val_accuracy"]["ci95"]
    t_half = stats.t.ppf(0.975, 2) * np.std([0.93, 0.99, 0.995], ddof=1) / math.sqrt(3)
    assert np.mean([0.93, 0.99, 0.995]) + t_half > 1  # the t interval alone would pass 1
    assert high == 1.0 and low == pytest.approx(np.mean([0.93, 0.99, 0.995]) - t_half)


def test_failures_are_counted_per_arm_warned_about_and_can_count_as_the_worst_value(runner, tmp_path):
    """The arm diverges (fails) on its two worst seeds: dropping them flatters it."""
    base = [0.90, 0.91, 0.92, 0.93, 0.94, 0.95]
    arm = [0.912, 0.925, 0.937, 0.941, 0.80, 0.79]  # seeds 4 and 5 would be bad; they fail instead
    for seed in range(6):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=base[seed])
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed, val_accuracy=arm[seed],
                 status="failed" if seed >= 4 else "completed")
    dropped = report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy")
    comparison = row_named(dropped, "arm")["baseline"]
    assert comparison["counts"] == {"baseline": {"completed": 6}, "arm": {"completed": 4, "failed": 2}}
    assert comparison["n"] == "4 pairs (2 left out)" and comparison["diff"] > 0
    assert any("2 failed or crashed runs, the baseline 0, left out" in w for w in dropped["warnings"])
    worst = row_named(report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy", "--failures",
                             "worst"), "arm")["baseline"]
    filled = arm[:4] + [min(arm[:4])] * 2  # each failed seed counts as the arm's worst completed value in Δ
    assert worst["n"] == "6 pairs" and worst["diff"] == pytest.approx(np.mean(np.subtract(filled, base)))
    # the test ranks a failure below every completed value: the two failures tie at the top rank
    assert worst["test"] == "Wilcoxon signed-rank (failures ranked last)"
    assert worst["p"] == pytest.approx(signed_rank_p([a - b for a, b in zip(arm[:4], base)] + [-math.inf] * 2))


def signed_rank_p(d: list[float]) -> float:
    """Wilcoxon's two-sided signed-rank p by enumerating every sign pattern (ties at their mean rank,
    zeros at rank 0 as Pratt): an independent computation of the exact null distribution."""
    import itertools

    ranks = stats.rankdata(np.abs(d)) * (np.asarray(d) != 0)
    observed = float(np.sum(np.sign(d) * ranks))
    null = [float(np.dot(signs, ranks)) for signs in itertools.product((-1, 1), repeat=len(d))]
    tail = min(np.mean([t >= observed - 1e-9 for t in null]), np.mean([t <= observed + 1e-9 for t in null]))
    return min(1.0, 2 * tail)


def test_the_failures_last_rank_tests_match_independent_computations():
    """Paired: Wilcoxon's signed rank with a failure below every value (two failures on one seed tie,
    at rank 0); unpaired: Mann-Whitney U, exact by permuting the labels."""
    from regexp.report.stats import compare

    plain = [0.011, -0.004, 0.017, 0.025, 0.009, 0.031, -0.002]  # no ties, no failures: scipy's exact test
    assert signed_rank_p(plain) == pytest.approx(stats.wilcoxon(plain, method="exact").pvalue)
    base = {(s, None): v for s, v in enumerate([0.90, 0.91, math.nan, 0.93, 0.94, 0.95, 0.96])}
    arm = {(s, None): v for s, v in enumerate([0.921, 0.903, math.nan, 0.955, math.nan, 0.987, 0.999])}
    c = compare(base, arm, better="max")
    d = [0.021, -0.007, 0.0, 0.025, -math.inf, 0.037, 0.039]
    assert c.n == "7 pairs" and c.p == pytest.approx(signed_rank_p(d))
    loss = {k: -v for k, v in arm.items()}, {k: -v for k, v in base.items()}  # a loss: a failure is its highest
    assert compare(loss[1], loss[0], better="min").p == pytest.approx(c.p)
    apart = {(s + 10, None): v for (s, _), v in arm.items() if s != 2}  # no shared seed: unpaired, one failure
    done = {k: v for k, v in base.items() if not math.isnan(v)}
    u = compare(done, apart, better="max")
    stand_in = lambda values: [-1.0 if math.isnan(v) else v for v in values.values()]  # below everything
    assert u.test == "Mann-Whitney U (failures ranked last)"  # no ties: scipy's exact U distribution applies
    assert u.p == pytest.approx(stats.mannwhitneyu(stand_in(apart), stand_in(done), method="exact").pvalue)


def test_failures_worst_needs_a_column_with_a_better_side(runner, tmp_path):
    for seed in range(3):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=0.9)
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", "base", "--metric",
                                 "gap_accuracy", "--failures", "worst"])
    assert result.exit_code == 2 and "--failures worst: gap_accuracy has no better side" in result.output


# ---------------------------------------------------------------- equivalence and permutation tests
def _paired_arms(tmp_path, diffs: dict[str, list[float]], column: str = "val_accuracy"):
    base = [0.90, 0.93, 0.91, 0.94, 0.92, 0.95]
    for seed, value in enumerate(base):
        make_run(tmp_path, f"base{seed}", name="base", seed=seed, **{column: value})
        for name, d in diffs.items():
            make_run(tmp_path, f"{name}{seed}", name=name, seed=seed, **{column: value + d[seed]})
    return base


def test_tost_says_equivalent_within_the_margin_and_matches_two_one_sided_tests(runner, tmp_path):
    diffs = {"same": [0.001, -0.002, 0.0015, -0.001, 0.0005, 0.0],  # within ±0.005
             "up": [-0.02, -0.025, -0.018, -0.03, -0.022, -0.027]}  # a loss: lower is better
    _paired_arms(tmp_path, diffs, "val_loss")
    data = report(runner, tmp_path, "--baseline", "base", "--metric", "val_loss", "--margin", "0.005")
    same, up = (row_named(data, name)["baseline"] for name in ("same", "up"))
    d = np.array(diffs["same"])
    lower = stats.ttest_1samp(d, -0.005, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, 0.005, alternative="less").pvalue
    assert same["equivalence"]["p"] == pytest.approx(max(lower, upper), rel=1e-9)
    half = stats.t.ppf(0.95, 5) * d.std(ddof=1) / math.sqrt(6)
    assert same["equivalence"]["ci90"] == pytest.approx([d.mean() - half, d.mean() + half])
    assert same["equivalence"]["equivalent"] and same["verdict"] == "equivalent"
    assert same["equivalence"]["p_adjusted"] == pytest.approx(
        adjusted_p([same["equivalence"]["p"], up["equivalence"]["p"]], "holm")[0])
    assert up["verdict"] == "better" and not up["equivalence"]["equivalent"]
    assert "TOST within ±0.005" in data["comparison"]["text"]


def test_the_permutation_test_is_exact_up_to_16_pairs(runner, tmp_path):
    import itertools

    diffs = {"arm": [0.01, 0.02, -0.005, 0.015, 0.012, 0.004]}
    _paired_arms(tmp_path, diffs)
    c = row_named(report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy", "--test",
                         "permutation"), "arm")["baseline"]
    d = np.array(diffs["arm"])
    flips = [abs(np.mean(d * signs)) >= abs(d.mean()) - 1e-12 for signs in itertools.product((1, -1), repeat=6)]
    assert c["test"] == "sign-flip permutation test" and c["p"] == pytest.approx(np.mean(flips))
    low, high = c["diff_ci95"]
    assert low <= d.mean() <= high and low >= d.min() and high <= d.max()  # a bootstrap of the pairs
    assert c["p_improvement"]["p"] == pytest.approx(5 / 6) and 0 < c["p_improvement"]["ci95"][0] < 5 / 6


def test_the_permutation_test_permutes_labels_for_unpaired_arms(runner, tmp_path):
    for seed, (a, b) in enumerate([(0.90, 0.93), (0.91, 0.94), (0.92, 0.96)]):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=a)
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed + 10, val_accuracy=b)
    c = row_named(report(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy", "--test",
                         "permutation"), "arm")["baseline"]
    assert c["test"] == "permutation test (arm labels)"
    assert c["p"] == pytest.approx(2 / 20)  # the observed split is the most extreme of C(6, 3) = 20, both tails


def test_fold_level_inference_by_the_nadeau_bengio_corrected_resampled_t_test(runner, tmp_path):
    rng = np.random.default_rng(5)
    d = {}
    for seed in range(2):
        for fold in range(3):
            a = 0.9 + rng.normal(0, 0.01)
            d[(seed, fold)] = 0.01 + rng.normal(0, 0.005)
            make_run(tmp_path, f"a{seed}{fold}", name="a", seed=seed, fold=fold, val_accuracy=a)
            make_run(tmp_path, f"b{seed}{fold}", name="b", seed=seed, fold=fold, val_accuracy=a + d[(seed, fold)])
    c = row_named(report(runner, tmp_path, "--baseline", "a", "--metric", "val_accuracy", "--cv-folds",
                         "nadeau-bengio"), "b")["baseline"]
    diffs = np.array([d[k] for k in sorted(d)])
    j, k = 6, 3
    t = diffs.mean() / math.sqrt((1 / j + 1 / (k - 1)) * diffs.var(ddof=1))  # Nadeau & Bengio (2003), eq. 8
    assert c["test"] == "corrected resampled t-test (Nadeau-Bengio)" and c["n"] == "6 seed x fold pairs"
    assert c["p"] == pytest.approx(2 * stats.t.sf(abs(t), j - 1), rel=1e-6)
    assert c["p"] > stats.ttest_1samp(diffs, 0).pvalue  # wider than the naive t over 6 "independent" folds


@pytest.mark.parametrize("dirty, warned", [((True,) * 6, False), ((True,) * 3 + (False,) * 3, True)],
                         ids=["one uncommitted spec", "uncommitted and committed"])
def test_a_baseline_and_an_arm_from_one_uncommitted_spec_are_one_source(runner, tmp_path, dirty, warned):
    """A new spec file swept before it is committed: every run is dirty, and nothing tells the arm's
    source from the baseline's. Half dirty, half committed: the report says they differ."""
    for i, (dropout, seed) in enumerate((d, s) for d in (0.0, 0.5) for s in range(3)):
        run = make_run(tmp_path, f"r{i}", seed=seed, dropout=dropout, val_loss=0.3 + dropout / 10 + seed / 100)
        info = json.loads((run / "run.json").read_text())
        info["provenance"] = {"commit": "a" * 40, "dirty": dirty[i]}
        (run / "run.json").write_text(json.dumps(info))
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", "dropout=0.0", "--format",
                                 "json"])
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)["warnings"]
    assert any("come from different sources (3 of 6 runs from a spec with uncommitted edits)" in w
               for w in said) == warned, said
