"""`regexp report --across data`: per-dataset comparisons and the aggregate over datasets (IQM of
normalized scores, probability of improvement, stratified bootstrap CIs), each statistic checked
against an independent computation: scipy's trim_mean for the IQM, a brute-force count of pairs
for the probability of improvement, the exact bootstrap distribution (every resample enumerated)
on small cases and a plain-Python stratified bootstrap on the report's own runs."""

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import mannwhitneyu, trim_mean

from regexp.cli import app
from regexp.report import aggregate
from regexp.report.stats import adjusted_p

from runfolders import make_run

DATASETS = ("digits", "wine", "breast_cancer", "penguins.csv")


def brute_force_improvement(arm: list[list[float]], base: list[list[float]]) -> float:
    """P(arm > baseline) + P(tie) / 2 over every pair of runs of a dataset, averaged over datasets."""
    per_dataset = []
    for a, b in zip(arm, base):
        pairs = list(itertools.product(a, b))
        per_dataset.append(sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in pairs) / len(pairs))
    return sum(per_dataset) / len(per_dataset)


def exact_cdf(values: list[float], at: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return np.searchsorted(values, at, side="right") / len(values)


def test_iqm_is_the_25_percent_trimmed_mean_of_every_run_of_every_dataset():
    rng = np.random.default_rng(3)
    for sizes in ([10, 10, 10, 10], [3, 7, 5], [2], [4, 9]):
        scores = [rng.normal(size=n).round(2) for n in sizes]  # rounded: ties, as accuracies have
        assert aggregate.iqm(scores) == pytest.approx(trim_mean(np.concatenate(scores), 0.25))


def test_probability_of_improvement_counts_every_pair_and_averages_over_datasets():
    rng = np.random.default_rng(4)
    arm = [rng.integers(0, 5, size=n) / 4 for n in (10, 6, 3)]      # many ties
    base = [rng.integers(0, 5, size=n) / 4 for n in (10, 8, 5)]
    expected = brute_force_improvement([a.tolist() for a in arm], [b.tolist() for b in base])
    assert aggregate.improvement(arm, base) == pytest.approx(expected)
    # rliable's own formula: the Mann-Whitney U of each dataset over n x m
    rliable = np.mean([mannwhitneyu(a, b, alternative="greater").statistic / (len(a) * len(b))
                       for a, b in zip(arm, base)])
    assert aggregate.improvement(arm, base) == pytest.approx(rliable)
    assert aggregate.improvement([np.array([0.3, 0.3])], [np.array([0.3, 0.3])]) == 0.5
    assert aggregate.improvement([np.array([0.9])], [np.array([0.1, 0.2])]) == 1.0


def test_the_iqm_bootstrap_resamples_runs_within_each_dataset():
    """Two datasets of 3 runs: all 27 x 27 stratified resamples enumerated give the exact bootstrap
    distribution; 10,000 drawn replicates follow it (max CDF error < 0.02, 4 standard errors), and
    not the distribution of a bootstrap that pools the datasets' runs."""
    first, second = [0.1, 0.5, 0.6], [0.7, 0.9, 1.0]
    stratified = np.array([[*a, *b] for a in itertools.product(first, repeat=3)
                           for b in itertools.product(second, repeat=3)])
    exact = trim_mean(stratified, 0.25, axis=1)
    pooled = trim_mean(np.array(list(itertools.product([*first, *second], repeat=6))), 0.25, axis=1)
    drawn = aggregate.iqm_replicates([np.array(first), np.array(second)])
    grid = np.linspace(0.2, 1.0, 81)
    assert np.max(np.abs(exact_cdf(drawn, grid) - exact_cdf(exact, grid))) < 0.02
    assert np.max(np.abs(exact_cdf(pooled, grid) - exact_cdf(exact, grid))) > 0.05  # stratifying matters here
    for end, level in zip(aggregate.interval(drawn), (0.025, 0.975)):  # a percentile of the exact distribution
        below, at_most = np.mean(exact < end - 1e-9), np.mean(exact <= end + 1e-9)
        assert below - 0.01 <= level <= at_most + 0.01


def test_the_improvement_bootstrap_resamples_each_arm_independently_within_each_dataset():
    arm, base = [0.2, 0.5, 0.9], [0.4, 0.6]
    exact = [brute_force_improvement([list(a)], [list(b)]) for a in itertools.product(arm, repeat=3)
             for b in itertools.product(base, repeat=2)]
    drawn = aggregate.improvement_replicates([np.array(arm)], [np.array(base)])
    grid = np.linspace(0, 1, 101)
    assert np.max(np.abs(exact_cdf(drawn, grid) - exact_cdf(exact, grid))) < 0.02


# ----------------------------------------------------------------------------- the report, end to end
def write_runs(runs_dir: Path, seeds: int = 6) -> dict:
    """Two arms (dropout 0.0 and 0.5) on four datasets (three built-in, one csv file), paired by
    seed; the arm's test accuracy is higher on three datasets. Returns {dataset: {dropout: [(acc, loss)]}}."""
    rng = random.Random(7)
    shift = {"digits": 0.03, "wine": 0.02, "breast_cancer": 0.0, "penguins.csv": 0.025}
    values: dict = {}
    for dataset in DATASETS:
        for dropout in (0.0, 0.5):
            for seed in range(seeds):
                accuracy = round(0.8 + (shift[dataset] if dropout else 0.0) + rng.random() * 0.04, 3)
                loss = round(0.5 - accuracy / 2 + rng.random() * 0.05, 4)
                path = make_run(runs_dir, f"r_{Path(dataset).stem}_{dropout}_{seed}", seed=seed, dropout=dropout,
                                test_accuracy=accuracy, test_loss=loss)
                config = yaml.safe_load((path / "config.yaml").read_text())
                config["data"] = ({"dataset": None, "path": str(runs_dir.parent / dataset)} if dataset.endswith(".csv")
                                  else {"dataset": dataset})
                (path / "config.yaml").write_text(yaml.safe_dump(config))
                values.setdefault(dataset, {}).setdefault(dropout, []).append((accuracy, loss))
    return values


def across_json(runner, runs_dir: Path, *options: str) -> dict:
    result = runner.invoke(app, ["report", "--runs-dir", str(runs_dir), "--across", "data", "--baseline",
                                 "dropout=0.0", "--format", "json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def plain_bootstrap(samples: list[list[float]], statistic, reps: int = 4000) -> tuple[float, float]:
    """A stratified bootstrap in plain Python: `samples` are lists of per-dataset lists (one per
    arm), each resampled with replacement within its dataset; the 2.5th and 97.5th percentiles."""
    rng = random.Random(11)
    draws = sorted(statistic(*[[rng.choices(runs, k=len(runs)) for runs in arm] for arm in samples])
                   for _ in range(reps))
    return draws[int(0.025 * reps)], draws[int(0.975 * reps) - 1]


def test_across_data_aggregates_the_per_dataset_accuracies_as_an_independent_computation_does(tmp_path, runner):
    values = write_runs(tmp_path / "runs")
    data = across_json(runner, tmp_path / "runs", "--metric", "test_accuracy")
    assert sorted(data["datasets"]) == sorted(DATASETS) and data["focus"] == "test_accuracy"
    (arm,) = data["arms"]
    assert arm["arm"] == "model.defaults.dropout=0.5" and arm["datasets"] == 4
    scores = {dropout: [[acc for acc, _ in values[d][dropout]] for d in data["datasets"]] for dropout in (0.0, 0.5)}

    def iqm(arm_scores):
        return trim_mean(np.concatenate(arm_scores), 0.25)
    assert arm["iqm"]["value"] == pytest.approx(iqm(scores[0.5]))            # accuracy is its own score
    assert arm["baseline_iqm"]["value"] == pytest.approx(iqm(scores[0.0]))
    assert arm["improvement"]["value"] == pytest.approx(brute_force_improvement(scores[0.5], scores[0.0]))
    for key, samples, statistic in (("iqm", [scores[0.5]], iqm),
                                    ("improvement", [scores[0.5], scores[0.0]], brute_force_improvement)):
        expected = plain_bootstrap(samples, statistic)
        assert arm[key]["ci95"] == pytest.approx(expected, abs=0.006), key  # Monte Carlo error of both

    # each dataset's comparison is the report filtered to it, its p adjusted again over all four
    lines = {line["dataset"]: line["comparison"] for line in arm["per_dataset"]}
    alone = []
    for dataset in data["datasets"]:
        rule = f"data.path={tmp_path / dataset}" if dataset.endswith(".csv") else f"data.dataset={dataset}"
        result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--filter", rule, "--baseline",
                                     "dropout=0.0", "--metric", "test_accuracy", "--format", "json"])
        (compared,) = [row["baseline"] for row in json.loads(result.output)["rows"] if row["baseline"]]
        assert lines[dataset]["diff"] == pytest.approx(compared["diff"]) and lines[dataset]["p"] == compared["p"]
        alone.append(compared["p"])
    assert [lines[d]["p_adjusted"] for d in data["datasets"]] == pytest.approx(adjusted_p(alone, "holm"))
    assert data["family"] == 4 and arm["verdicts"] == {
        v: sum(lines[d]["verdict"] == v for d in lines) for v in {lines[d]["verdict"] for d in lines}}


def test_a_loss_is_normalized_min_max_per_dataset_and_flipped(tmp_path, runner):
    values = write_runs(tmp_path / "runs")
    data = across_json(runner, tmp_path / "runs", "--metric", "test_loss")
    assert data["better"] == "min" and data["normalization"] == "min-max over the compared runs"
    scores = {0.0: [], 0.5: []}
    for dataset in data["datasets"]:
        losses = [loss for dropout in (0.0, 0.5) for _, loss in values[dataset][dropout]]
        low, high = min(losses), max(losses)
        for dropout in (0.0, 0.5):
            scores[dropout].append([(high - loss) / (high - low) for _, loss in values[dataset][dropout]])
    (arm,) = data["arms"]
    assert arm["iqm"]["value"] == pytest.approx(trim_mean(np.concatenate(scores[0.5]), 0.25))
    assert arm["improvement"]["value"] == pytest.approx(brute_force_improvement(scores[0.5], scores[0.0]))
    # lower loss is better: the probability of improvement is that of a lower loss, whatever the scale
    raw = [[-loss for _, loss in values[d][dropout]] for dropout in (0.5, 0.0) for d in data["datasets"]]
    assert arm["improvement"]["value"] == pytest.approx(brute_force_improvement(raw[:4], raw[4:]))


def test_across_data_renders_as_table_md_and_latex_with_the_same_numbers(tmp_path, runner):
    write_runs(tmp_path / "runs")
    data = across_json(runner, tmp_path / "runs", "--metric", "test_accuracy")
    iqm = f"{data['arms'][0]['iqm']['value']:.3f}"
    for fmt in ("table", "md", "latex"):
        result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--across", "data", "--baseline",
                                     "dropout=0.0", "--metric", "test_accuracy", "--format", fmt])
        assert result.exit_code == 0, result.output
        assert iqm in result.output and "penguins.csv" in result.output and "breast" in result.output
        if fmt == "table":  # 80 columns hold the whole aggregate, its last column included
            assert "P(better)" in result.output and max(map(len, result.output.splitlines())) <= 80


@pytest.mark.parametrize("options, message", [
    (["--across", "data"], "--across data: needs --baseline (or --against)"),
    (["--across", "tasks", "--baseline", "dropout=0.0"], "--across tasks: not a choice (allowed: data)"),
    (["--across", "data", "--baseline", "dropout=0.0", "--format", "csv"], "the aggregate renders as table | md"),
    (["--across", "data", "--baseline", "dropout=0.3"], "--across data, dataset breast_cancer "
                                                        "(data.dataset=breast_cancer): --baseline dropout=0.3: no run"),
])
def test_across_mistakes_are_one_line_and_exit_2(tmp_path, runner, options, message):
    write_runs(tmp_path / "runs", seeds=2)
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), *options])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in " ".join(result.output.split())
