"""decide: seeds in looks until each arm is decided. The loop runs on hand-made run folders (a fake
runner writes each trial's folder with a known value), so decisions have known answers; one real
sweep checks that packed and unpacked training decide alike."""

import json
import math
import re

import numpy as np
import pytest
import yaml
from scipy import integrate, stats

from regexp.cli import app
from regexp.report import betting, sequential
from regexp.report.decisions import estimate
from regexp.spec import load_spec
from regexp.sweep import decide
from regexp.sweep import runner as runner_module
from regexp.sweep.state import Sweep

from conftest import TINY, merged
from runfolders import FakeRunner, looks, noise

GRID = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5], "model.defaults.l2": [0.0, 0.001]}}


def spec(write_spec, **question):
    return write_spec(merged(TINY, search=GRID, decide={"baseline": "dropout=0.0,l2=0.001", "metric": "val_loss",
                                                        **question}))


def test_the_interval_is_where_the_t_test_bayes_factor_reaches_one_over_alpha():
    """The closed form against the Bayes factor computed by integrating the noncentral t density
    over the N(0, 1) prior on the standardized effect."""
    for n, alpha in ((6, 0.05), (12, 0.05 / 3), (40, 0.01)):
        t_star = sequential.radius(n, 1.0, alpha) * math.sqrt(n)
        by_integral = integrate.quad(lambda d: stats.nct.pdf(t_star, n - 1, math.sqrt(n) * d) * stats.norm.pdf(d),
                                     -30, 30)[0] / stats.t.pdf(t_star, n - 1)
        assert by_integral == pytest.approx(1 / alpha, rel=1e-6)
    assert sequential.needed(0.05) == 5 and math.isinf(sequential.radius(4, 1.0, 0.05))


def test_a_clear_effect_is_decided_at_the_first_look(tmp_path, write_spec):
    file = spec(write_spec, margin=0.005, batch=6, max_seeds=30)
    better = {(0.5, 0.0)}  # dropout 0.5 without L2 beats the baseline by 0.05 in loss; the others are no different
    sweep, runner = looks(tmp_path, file, lambda p, s: 0.35 + noise(p, s, 0.002) - 0.05 * (
        (p["model.defaults.dropout"], p["model.defaults.l2"]) in better))
    record = json.loads((sweep.path / "sweep.json").read_text())["decide"]
    arm = next(a for a in record["arms"] if a["point"] == {"model.defaults.dropout": 0.5, "model.defaults.l2": 0.0})
    assert arm["verdict"] == "better" and arm["look"] == 1 and arm["seeds"] == 6
    first = next(a for a in record["looks"][0]["arms"] if a["point"] == arm["point"])
    d = [-0.05 + noise({"model.defaults.dropout": 0.5, "model.defaults.l2": 0.0}, s, 0.002)
         - noise({"model.defaults.dropout": 0.0, "model.defaults.l2": 0.001}, s, 0.002) for s in range(1, 7)]
    low, high = sequential.interval(d, 0.05 / 3)  # alpha shared by the 3 arms
    assert first["diff"] == pytest.approx(np.mean(d)) and first["ci"] == pytest.approx([low, high])
    assert record["method"].startswith("anytime-valid confidence sequence")
    # a decided arm trains no more seeds: only the open arms and the baseline went on
    seeds_of = lambda point: sorted(t["seed"] for t in json.loads((sweep.path / "sweep.json").read_text())["trials"]
                                    if t["point"] == point)
    assert seeds_of(arm["point"]) == list(range(1, 7))
    assert len(seeds_of(record["baseline_point"])) == max(look["seeds"] for look in record["looks"])


def test_identical_arms_become_equivalent_within_the_margin(tmp_path, write_spec):
    file = spec(write_spec, margin=0.01, batch=6, max_seeds=30)
    sweep, _ = looks(tmp_path, file, lambda p, s: 0.85 + 0.02 * math.sin(s) + noise(p, s, 0.001))
    record = sweep.state.decide
    assert {a.verdict for a in record.arms} == {"equivalent"}
    assert all(-0.01 < a.ci[0] and a.ci[1] < 0.01 for a in record.arms)


def test_an_open_question_runs_to_the_budget_and_says_undecided(tmp_path, write_spec, runner):
    file = spec(write_spec, margin=0.0001, batch=5, max_seeds=15)
    sweep, fake = looks(tmp_path, file, lambda p, s: 0.85 + noise(p, s, 0.02))
    record = sweep.state.decide
    assert [look.seeds for look in record.looks] == [5, 10, 15]
    undecided = [a for a in record.arms if a.verdict == "undecided"]
    assert undecided and all(a.seeds == 15 and a.look is None for a in undecided)
    assert len(fake.trained) == 4 * 15 - sum(15 - a.seeds for a in record.arms)  # no seed beyond the budget
    shown = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--format", "md"])
    assert shown.exit_code == 0, shown.output
    arm = undecided[0]
    assert f"undecided at 15 seeds (budget spent): {estimate(arm.diff, arm.ci)}" in shown.output  # its estimate too
    assert re.search(r"undecided at 15 seeds \(budget spent\): Δ [+-]\d\.\d{4}, CI \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]",
                     shown.output)


def test_a_resumed_sweep_keeps_its_looks_and_takes_none_twice(tmp_path, write_spec):
    value = lambda p, s: 0.85 + noise(p, s, 0.01) + 0.004 * p["model.defaults.dropout"]  # noqa: E731
    whole, uninterrupted = looks(tmp_path / "a", spec(write_spec, margin=0.001, batch=5, max_seeds=15), value)
    file = spec(write_spec, margin=0.001, batch=5, max_seeds=15)
    loaded = load_spec(file)
    sweep = Sweep.open(loaded, [], tmp_path / "b", None)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the middle of look 2
        decide.run_looks(sweep, FakeRunner(sweep, value, stop_after=20 + 6), load_spec(sweep.spec_file), None)
    assert len(Sweep.open(loaded, [], tmp_path / "b", None).state.decide.looks) == 1
    again = Sweep.open(loaded, [], tmp_path / "b", None)
    rest = FakeRunner(again, value)
    decide.run_looks(again, rest, load_spec(again.spec_file), None)
    assert len(rest.trained) == len(uninterrupted.trained) - 26  # what was trained is not trained again
    strip = lambda record: [[(a["point"], a["verdict"], a["seeds"], a["diff"]) for a in look["arms"]]  # noqa: E731
                            for look in record.model_dump()["looks"]]
    assert strip(again.state.decide) == strip(whole.state.decide)


def test_raising_max_seeds_continues_the_same_sweep_from_its_last_look(tmp_path, write_spec):
    """10 -> 20 seeds: only seeds 11-20 of the open arms train, the earlier run folders stay as they
    were, and the looks are those of a sweep planned with 20 seeds from the start: the intervals do
    not depend on the budget, so continuing is the same sequential procedure (docs/decide.md)."""
    value = lambda p, s: 0.85 + noise(p, s, 0.01) + 0.004 * p["model.defaults.dropout"]  # noqa: E731
    sweep, first = looks(tmp_path, spec(write_spec, margin=0.001, batch=5, max_seeds=10), value)
    assert [look.seeds for look in sweep.state.decide.looks] == [5, 10]
    assert any(arm.verdict == "undecided" for arm in sweep.state.decide.arms)
    runs = tmp_path / "runs"
    before = {p.name: (p / "run.json").read_text() for p in runs.iterdir() if (p / "run.json").is_file()}
    raised = load_spec(tmp_path / "spec.yaml", ["decide.max_seeds=20"])
    grown = Sweep.open(raised, ["decide.max_seeds=20"], runs, None)
    assert grown.path == sweep.path and [(c.key, c.before, c.after) for c in grown.changes] == [
        ("decide.max_seeds", 10, 20)]
    said = " ".join(runner_module.budget_lines(grown))
    assert "budget raised: decide.max_seeds 10 -> 20" in said and "the 2 looks taken stand" in said
    assert "keeps the chance of any wrong decision within alpha = 0.05" in said
    more = FakeRunner(grown, value)
    decide.run_looks(grown, more, load_spec(grown.spec_file), None)
    assert more.trained and all(grown.trials[key].seed in range(11, 21) for key in more.trained)
    assert all((runs / name / "run.json").read_text() == text for name, text in before.items())
    assert grown.state.decide.max_seeds == 20 and [look.seeds for look in grown.state.decide.looks][:2] == [5, 10]
    whole, planned = looks(tmp_path / "whole", spec(write_spec, margin=0.001, batch=5, max_seeds=20), value)
    strip = lambda record: [[(a["point"], a["verdict"], a["seeds"], a["diff"], a["ci"]) for a in look["arms"]]  # noqa: E731
                            for look in record.model_dump()["looks"]]
    assert strip(grown.state.decide) == strip(whole.state.decide)
    assert len(first.trained) + len(more.trained) == len(planned.trained)


def test_a_look_cut_short_by_the_old_budget_is_continued_without_a_gap_and_lowering_trains_nothing(
        tmp_path, write_spec):
    value = lambda p, s: 0.85 + noise(p, s, 0.02)  # noqa: E731
    sweep, _ = looks(tmp_path, spec(write_spec, margin=0.0001, batch=5, max_seeds=12), value)
    assert [look.seeds for look in sweep.state.decide.looks] == [5, 10, 12]
    grown = Sweep.open(load_spec(tmp_path / "spec.yaml", ["decide.max_seeds=20"]), [], tmp_path / "runs", None)
    decide.run_looks(grown, FakeRunner(grown, value), load_spec(grown.spec_file), None)
    assert [look.seeds for look in grown.state.decide.looks] == [5, 10, 12, 17, 20]
    baseline = grown.state.decide.baseline_point
    assert sorted(t.seed for t in grown.state.trials if t.point == baseline) == list(range(1, 21))
    lowered = Sweep.open(load_spec(tmp_path / "spec.yaml", ["decide.max_seeds=10"]), [], tmp_path / "runs", None)
    idle = FakeRunner(lowered, value)
    decide.run_looks(lowered, idle, load_spec(lowered.spec_file), None)
    assert lowered.path == sweep.path and not idle.trained and len(lowered.state.decide.looks) == 5


def test_a_decided_sweep_run_again_trains_nothing_and_imports_no_tensorflow(tmp_path, write_spec):
    from test_grow import rerun

    file = spec(write_spec, margin=0.005, batch=6, max_seeds=12)
    sweep, _ = looks(tmp_path, file, lambda p, s: 0.85 + noise(p, s, 0.002) + 0.05 * p["model.defaults.dropout"])
    runs = tmp_path / "runs"
    before = {p.name: (p / "run.json").read_text() for p in runs.iterdir() if (p / "run.json").is_file()}
    *shown, code, modules = rerun(["sweep", str(file), "--runs-dir", str(runs), "--workers", "2"])
    assert code == "exit 0 None" and modules == "[]"
    assert "decided against dropout=0.0,l2=0.001" in shown[-1]
    assert {p.name: (p / "run.json").read_text() for p in runs.iterdir() if (p / "run.json").is_file()} == before


@pytest.mark.parametrize("question, key, message", [
    ({"baseline": "dropout=0.3,l2=0.001"}, "decide.baseline", "matches 0 grid points"),
    ({"baseline": "momentum=0.9"}, "decide.baseline", "is not KEY=VALUE of a searched key"),
    ({"metric": "val_auc"}, "decide.metric", "val_auc is not tracked"),
    ({"metric": "gap_loss"}, "decide.metric", "a gap or a diagnostic has none"),
])
def test_a_question_the_grid_cannot_answer_is_a_spec_error_with_its_line(write_spec, runner, question, key, message):
    file = write_spec(yaml.safe_dump(merged(TINY, search=GRID, decide={
        "baseline": "dropout=0.0,l2=0.001", "metric": "val_accuracy", "margin": 0.01, **question}), sort_keys=False))
    result = runner.invoke(app, ["validate", str(file)])
    line = next(i for i, text in enumerate(file.read_text().splitlines(), 1)
                if text.strip().startswith(key.split(".")[-1] + ":"))
    assert result.exit_code == 2 and f"{file}:{line}: {key}: " in result.output and message in result.output


def test_decide_needs_a_grid(write_spec, runner):
    file = write_spec(merged(TINY, search={"method": "random", "trials": 4, "params": {
        "model.defaults.dropout": {"uniform": [0.0, 0.5]}}}, decide={"baseline": "dropout=0.0", "margin": 0.01}))
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 2 and "decide: needs a grid search" in result.output


def test_packed_and_pooled_unpacked_sweeps_take_the_same_decisions(write_spec, runner, tmp_path):
    """Real training: learning rate 1e-5 against 0.05 on iris is a clear loss of accuracy."""
    file = write_spec(merged(TINY, training={"epochs": 4}, search={"method": "grid", "params": {
        "training.optimizer.learning_rate": [1.0e-5, 0.05]}}, decide={
        "baseline": "learning_rate=0.05", "metric": "val_loss", "margin": 0.01, "batch": 6, "max_seeds": 6}))
    decided = {}
    for pack, workers in (("auto", "1"), ("off", "2")):  # --pack off on the worker pool
        runs = tmp_path / pack
        result = runner.invoke(app, ["sweep", str(file), "--runs-dir", str(runs), "--pack", pack, "--workers", workers])
        assert result.exit_code == 0, result.output
        assert "look 1 (6 seeds per arm): learning_rate=1e-05: worse" in result.output
        (folder,) = runs.glob("*_sweep")
        record = json.loads((folder / "sweep.json").read_text())["decide"]
        decided[pack] = [(a["verdict"], a["seeds"], a["look"]) for a in record["arms"]]
        shown = runner.invoke(app, ["report", "--runs-dir", str(runs)])
        assert "worse after 6 seeds" in shown.output
    assert decided["auto"] == decided["off"] == [("worse", 6, 1)]


SATURATED = {"train": 90, "val": 30, "test": 69}  # one test sample is 1/69 = 0.0145 of test accuracy


@pytest.mark.parametrize("margin", [0.01, 0.02])
def test_a_saturated_accuracy_gets_no_zero_width_interval_and_no_equivalence(tmp_path, write_spec, runner, margin):
    """68 or 69 of 69 test samples right in every arm, every seed: every paired difference is 0. The
    t interval would be [0, 0] and 'equivalent'; the bounded one is wide, and below one sample (0.01
    < 0.0145) no margin can make an arm equivalent."""
    file = spec(write_spec, metric="test_accuracy", margin=margin, batch=5, max_seeds=10)
    sweep, _ = looks(tmp_path, file, lambda p, s: (68 + s % 2) / 69, column="test_accuracy", sizes=SATURATED)
    record = sweep.state.decide
    assert record.method == sequential.BETTING_METHOD and record.resolution == pytest.approx(1 / 69)
    for arm in record.arms:
        assert arm.verdict == "undecided" and arm.seeds == 10 and arm.diff == 0
        assert arm.ci == pytest.approx(list(betting.interval([0.0] * 10, 1.0, 0.05 / 3)))
        assert arm.ci[0] < -0.1 and arm.ci[1] > 0.1  # ten seeds of one test part say little about an accuracy
    shown = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--format", "md"])
    assert shown.exit_code == 0, shown.output
    low, high = betting.interval([0.0] * 10, 1.0, 0.05 / 3)
    assert f"undecided at 10 seeds (budget spent): Δ +0.0000, CI [{low:+.4f}, {high:+.4f}]" in shown.stdout
    assert "CI [+0.0000, +0.0000]" not in shown.stdout and "equivalent after" not in shown.stdout
    below = "decide.margin 0.01 is below one sample of the part test_accuracy is scored on (1/69 = 0.01449)"
    assert (below in " ".join(shown.output.split())) == (margin < 1 / 69)


def test_a_bounded_metric_still_decides_a_large_difference(tmp_path, write_spec):
    """dropout 0.5 without L2 collapses test accuracy from 0.95 to 0.2: worse, on intervals valid for
    bounded differences, at the first look that can decide."""
    collapsed = lambda p: p == {"model.defaults.dropout": 0.5, "model.defaults.l2": 0.0}  # noqa: E731
    file = spec(write_spec, metric="test_accuracy", margin=0.02, batch=15, max_seeds=30)
    sweep, _ = looks(tmp_path, file, lambda p, s: (0.2 if collapsed(p) else 0.95) + noise(p, s, 0.01),
                     column="test_accuracy", sizes={"train": 600, "val": 200, "test": 200})
    record = sweep.state.decide
    arm = next(a for a in record.arms if collapsed(a.point))
    assert arm.verdict == "worse" and arm.look == 1
    d = [0.2 + noise(arm.point, s, 0.01) - 0.95 - noise(record.baseline_point, s, 0.01) for s in range(1, 16)]
    assert arm.ci == pytest.approx(list(betting.interval(d, 1.0, 0.05 / 3)))
    assert all(a.verdict == "undecided" for a in record.arms if not collapsed(a.point))  # 0.02 needs far more seeds
    assert "test_accuracy is bounded: intervals for bounded differences (betting), a decision possible from " \
           f"{betting.fewest(1.0, 0.05 / 3)} paired seeds" in decide.plan_line(load_spec(file))
