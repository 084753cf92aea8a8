"""The statistical tests `report --test` offers (registry/stat_tests.py): each documented, each
computed as its definition says."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from regexp.cli import app
from regexp.registry.stat_tests import STAT_TESTS

from runfolders import make_run

FORMULAS = (Path(__file__).resolve().parents[1] / "docs" / "formulas.md").read_text(encoding="utf-8")


def test_each_test_is_documented_in_formulas_md_with_its_source_and_function():
    for test in STAT_TESTS.values():
        assert f"`--test {test.name}`" in FORMULAS, test.name
        for source in (*test.citation.split("; "), *test.computed_by):
            assert source in FORMULAS, f"{test.name}: docs/formulas.md does not name {source}"


# ------------------------------------------------------------------ --test wilcoxon, end to end
def _report(runner, runs_dir, *args) -> dict:
    result = runner.invoke(app, ["report", "--runs-dir", str(runs_dir), "--format", "json", "--baseline", "base",
                                 "--metric", "val_accuracy", *args])
    assert result.exit_code == 0, result.output
    return next(r for r in json.loads(result.stdout)["rows"] if r["name"] == "arm")["baseline"]


def _two_sided(null: np.ndarray, observed: float) -> float:
    """scipy.stats.permutation_test's two-sided p: twice the smaller tail, at most 1."""
    tol = 1e-9
    return min(1.0, 2 * min(np.mean(null <= observed + tol), np.mean(null >= observed - tol)))


def test_wilcoxon_signed_rank_p_is_the_exact_sign_flip_distribution_with_ties_and_a_zero(runner, tmp_path):
    # multiples of 1/64: arm - baseline is exact in floating point, so the tie and the zero stay one
    base = np.array([56, 60, 58, 57, 61, 59, 55, 62]) / 64
    d = np.array([3, 1, -2, 3, 0, 5, 1, 4]) / 64
    for seed in range(len(d)):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=float(base[seed]))
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed, val_accuracy=float(base[seed] + d[seed]))
    c = _report(runner, tmp_path, "--test", "wilcoxon")
    # Pratt: rank |d| with the zero included (midranks for ties), then drop the zero's rank
    order = np.argsort(np.abs(d), kind="stable")
    ranks = np.empty(len(d))
    ranks[order] = np.arange(1, len(d) + 1)
    for value in set(np.abs(d)):
        ranks[np.abs(d) == value] = ranks[np.abs(d) == value].mean()
    signed = np.sign(d) * ranks
    null = np.array([np.sum(np.array(flips) * np.abs(signed)) for flips in itertools.product((1, -1), repeat=8)])
    assert c["test"] == "Wilcoxon signed-rank test"
    assert c["p"] == pytest.approx(_two_sided(null, signed.sum()))
    low, high = c["diff_ci95"]
    assert d.min() <= low <= d.mean() <= high <= d.max()  # a bootstrap of the pairs, not a t interval


def test_wilcoxon_matches_scipys_exact_test_where_there_are_no_ties(runner, tmp_path):
    d = np.array([0.011, 0.023, -0.004, 0.017, 0.009, 0.031, -0.013])
    for seed, delta in enumerate(d):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=0.5)
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed, val_accuracy=0.5 + float(delta))
    c = _report(runner, tmp_path, "--test", "wilcoxon")
    assert c["p"] == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)
    assert c["p"] != pytest.approx(stats.ttest_1samp(d, 0).pvalue)


def test_unpaired_arms_get_mann_whitney_u_exact_over_the_label_splits(runner, tmp_path):
    base, arm = [0.875, 0.90625, 0.90625, 0.9375], [0.90625, 0.9375, 0.96875, 0.96875]  # ties within and across
    for seed, value in enumerate(base):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=value)
    for seed, value in enumerate(arm):
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed + 10, val_accuracy=value)
    c = _report(runner, tmp_path, "--test", "wilcoxon")
    ranks = stats.rankdata(arm + base)
    null = np.array([ranks[list(chosen)].sum() for chosen in itertools.combinations(range(8), 4)])
    assert c["test"] == "Mann-Whitney U test"
    assert c["p"] == pytest.approx(_two_sided(null, ranks[:4].sum()))
    assert c["p"] != pytest.approx(stats.mannwhitneyu(arm, base).pvalue)  # scipy's default: the normal approximation


def test_an_unknown_test_is_refused_naming_the_registered_ones(runner, tmp_path):
    make_run(tmp_path, "b0", name="base")
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--test", "sign"])
    assert result.exit_code == 2 and f"allowed: {' | '.join(STAT_TESTS)}" in " ".join(result.output.split())
