"""decide: seeds in looks until each arm is decided. The loop runs on hand-made run folders (a fake
runner writes each trial's folder with a known value), so decisions have known answers; one real
sweep checks that packed and unpacked training decide alike."""

import json
import math

import numpy as np
import pytest
import yaml
from scipy import integrate, stats

from regexp.cli import app
from regexp.report import sequential
from regexp.spec import load_spec
from regexp.store.contract import TrialStatus
from regexp.sweep import decide
from regexp.sweep.state import Sweep

from conftest import TINY, merged
from runfolders import make_run

GRID = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5], "model.defaults.l2": [0.0, 0.001]}}


def spec(write_spec, **question):
    return write_spec(merged(TINY, search=GRID, decide={"baseline": "dropout=0.0,l2=0.001", "metric": "val_accuracy",
                                                        **question}))


class FakeRunner:
    """Writes each trial's run folder with value(point, seed) as val_accuracy; `stop_after` trials
    in, it raises KeyboardInterrupt as Ctrl-C would."""

    def __init__(self, sweep: Sweep, value, stop_after: int | None = None):
        self.sweep, self.value, self.stop_after, self.trained = sweep, value, stop_after, []

    def run(self, trials, metric, outlook=None):
        for trial in trials:
            if self.stop_after is not None and len(self.trained) >= self.stop_after:
                raise KeyboardInterrupt("Ctrl-C")
            point = dict(trial.point)
            name = f"{trial.key}_run"
            make_run(self.sweep.path.parent, name, seed=trial.seed, dropout=point["model.defaults.dropout"],
                     l2=point["model.defaults.l2"], val_accuracy=self.value(point, trial.seed),
                     parent=self.sweep.id, trial=trial.key)
            self.sweep.record([(trial, {"status": TrialStatus.COMPLETED, "run": name})])
            self.trained.append(trial.key)


def noise(point, seed, sd):
    """A reproducible draw per (arm, seed)."""
    key = int(point["model.defaults.dropout"] * 10) * 7 + int(point["model.defaults.l2"] * 1e4)
    return float(np.random.default_rng([key, seed]).normal(0, sd))


def looks(tmp_path, spec_file, value, stop_after=None):
    loaded = load_spec(spec_file)
    sweep = Sweep.open(loaded, [], tmp_path / "runs", None)
    runner = FakeRunner(sweep, value, stop_after)
    decide.run_looks(sweep, runner, load_spec(sweep.spec_file), console=None)
    return sweep, runner


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
    better = {(0.5, 0.0)}  # dropout 0.5 without L2 beats the baseline by 0.05; the other arms are no different
    sweep, runner = looks(tmp_path, file, lambda p, s: 0.85 + noise(p, s, 0.002) + 0.05 * (
        (p["model.defaults.dropout"], p["model.defaults.l2"]) in better))
    record = json.loads((sweep.path / "sweep.json").read_text())["decide"]
    arm = next(a for a in record["arms"] if a["point"] == {"model.defaults.dropout": 0.5, "model.defaults.l2": 0.0})
    assert arm["verdict"] == "better" and arm["look"] == 1 and arm["seeds"] == 6
    first = next(a for a in record["looks"][0]["arms"] if a["point"] == arm["point"])
    d = [0.05 + noise({"model.defaults.dropout": 0.5, "model.defaults.l2": 0.0}, s, 0.002)
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
    assert "undecided at 15 seeds (budget spent): Δ within [" in shown.output


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
