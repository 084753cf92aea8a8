"""search.confirm: the search's best points raced on fresh seeds. The decision step on known values;
the race on hand-made run folders (a fake runner writes each trial's folder with a known value), so
where it stops has a known answer; one real tiny sweep through the CLI."""

import json

import numpy as np
import pytest

from regexp.cli import app
from regexp.report import race, sequential
from regexp.spec import load_spec
from regexp.sweep import runner as runner_module
from regexp.sweep.state import Sweep

from conftest import TINY, merged
from runfolders import FakeRunner, noise

GRID = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5], "model.defaults.l2": [0.0, 0.001]}}
LOSS = race.Rule("test_loss", margin=0.01, alpha=0.05, better="min", points=3, interval=sequential.T_INTERVAL)


def seeds(center: float, sd: float, n: int, key: int) -> dict[int, float]:
    rng = np.random.default_rng([key, 7])
    return {s: center + float(rng.normal(0, sd)) for s in range(n)}


def test_a_clear_best_is_decided_and_the_others_leave_worse():
    found = race.step({"a": seeds(0.30, 0.005, 6, 1), "b": seeds(0.40, 0.005, 6, 2), "c": seeds(0.50, 0.005, 6, 3)},
                      LOSS)
    assert found.leader == "a" and found.decided
    assert [s.verdict for s in found.standings] == ["leader", "worse", "worse"]
    b = found.standings[1]
    pairs = [found_value - other for found_value, other in zip(seeds(0.30, 0.005, 6, 1).values(),
                                                              seeds(0.40, 0.005, 6, 2).values())]
    # the interval of (leader minus it) at alpha over the 3 pairs, the t-test confidence sequence
    assert b.diff == pytest.approx(np.mean(pairs)) and b.ci == pytest.approx(sequential.interval(pairs, 0.05 / 3))


def test_points_within_the_margin_are_tied_and_the_leader_is_named():
    shared = seeds(0.3, 0.05, 20, 9)  # a seed effect every point shares: pairing removes it
    paired = {key: {s: v + 0.0001 * i + float(np.random.default_rng([i, s]).normal(0, 0.001))
                    for s, v in shared.items()} for i, key in enumerate("abc")}
    found = race.step(paired, LOSS)
    assert found.leader == "a" and found.decided and [s.verdict for s in found.standings] == ["leader", "tied", "tied"]
    assert all(-0.01 < s.ci[0] and s.ci[1] < 0.01 for s in found.standings[1:])
    unpaired = race.step({key: seeds(0.3, 0.05, 20, i) for i, key in enumerate("abc")}, LOSS)
    assert not unpaired.decided  # as much spread, but each point's own: 20 seeds decide nothing


def test_an_open_race_stays_open_and_failed_seeds_are_left_out_of_the_pairs():
    found = race.step({"a": seeds(0.30, 0.05, 5, 1), "b": seeds(0.31, 0.05, 5, 2), "c": {}}, LOSS)
    assert not found.decided and [s.verdict for s in found.standings][2] == "open"
    b = race.step({"a": {0: 0.3, 1: 0.3, 2: 0.3}, "b": {1: 0.5, 2: 0.5}}, LOSS).standings[1]
    assert b.seeds == 2  # paired on the seeds both have


def test_a_bounded_metric_gets_the_betting_interval_and_no_tie_below_one_sample():
    rule = race.Rule("test_accuracy", margin=0.01, alpha=0.05, better="max", points=2,
                     interval=sequential.BETTING_INTERVAL, resolution=1 / 30)
    found = race.step({"a": {s: 0.9 for s in range(200)}, "b": {s: 0.9 for s in range(200)}}, rule)
    b = found.standings[1]
    assert b.ci[0] < 0 < b.ci[1] and b.ci[1] - b.ci[0] > 0  # never zero width
    assert b.verdict == "open"  # within ±0.01 by the interval, but 0.01 is below one sample (1/30)


# ------------------------------------------------------------------ the race on fake run folders
def spec(write_spec, **question):
    return write_spec(merged(TINY, repeat=3, search={**GRID, "confirm": {"metric": "test_loss", **question}}))


def sweep_with_race(tmp_path, spec_file, value, runs="runs"):
    """The search and its race on fake runs in tmp_path/runs: (the Sweep, the FakeRunner)."""
    sweep = Sweep.open(load_spec(spec_file), [], tmp_path / runs, None)
    fake = FakeRunner(sweep, value)
    fake.workers = 1
    runner_module._run_rounds(sweep, fake)
    return sweep, fake


def key(p):
    return (p["model.defaults.dropout"], p["model.defaults.l2"])


def cursed(p, s):
    """On the search's seeds 1-3 dropout 0.5 without L2 looks best (val_loss 0.20); on fresh ones
    it is as good as the others at 0.40 test loss, and no L2 or dropout is truly best, at 0.30."""
    fresh = s > 3
    val = {(0.5, 0.0): 0.20 if not fresh else 0.40, (0.0, 0.0): 0.25, (0.0, 0.001): 0.26}.get(key(p), 0.5)
    test = {(0.0, 0.0): 0.30}.get(key(p), 0.40 if key(p) != (0.5, 0.001) else 0.5)
    return {"val_loss": val + noise(p, s, 0.001), "test_loss": test + noise(p, s, 0.002)}


def test_the_race_names_the_truly_best_on_fresh_seeds_disjoint_from_the_search(tmp_path, write_spec):
    sweep, fake = sweep_with_race(tmp_path, spec(write_spec, top=3, margin=0.01, batch=6, max_seeds=24), cursed)
    record = sweep.state.confirm
    assert sweep.state.best.point == {"model.defaults.dropout": 0.5, "model.defaults.l2": 0.0}  # the search's pick
    assert [key(p) for p in record.points.values()] == [(0.5, 0.0), (0.0, 0.0), (0.0, 0.001)]
    assert record.outcome == "best" and key(record.points[record.leader]) == (0.0, 0.0)
    assert len(record.looks) == 1 and record.looks[0].seeds == 6  # decided at the first look
    search = {t.seed for t in sweep.state.trials if t.phase == "search"}
    fresh = {t.seed for t in sweep.state.trials if t.phase == "confirm"}
    assert search == {1, 2, 3} and fresh == set(range(4, 10)) and record.seeds_from == 4
    assert sweep.state.best.n == 3  # the race's seeds never enter the search's ranking
    text = race.headline(record)
    assert text == "best: dropout=0.0,l2=0.0, better than dropout=0.5,l2=0.0 after 6 seeds, better than " \
                   "dropout=0.0,l2=0.001 after 6 seeds"


def test_a_tie_stops_the_race_and_names_the_leader(tmp_path, write_spec):
    value = lambda p, s: {"val_loss": 0.3 + 0.01 * key(p)[0] + noise(p, s, 0.001),  # noqa: E731
                          "test_loss": 0.3 + 0.01 * np.sin(s) + noise(p, s, 0.0005)}
    sweep, fake = sweep_with_race(tmp_path, spec(write_spec, top=2, margin=0.01, batch=5, max_seeds=30), value)
    record = sweep.state.confirm
    assert record.outcome == "best" and [s.verdict for s in record.standings].count("tied") == 1
    assert "tied with" in race.headline(record) and "within ±0.01" in race.headline(record)
    assert len(fake.trained) == 4 * 3 + 2 * record.looks[-1].seeds  # the search's, then both points' fresh seeds


def test_an_undecided_race_stops_at_the_budget_and_a_raised_budget_goes_on(tmp_path, write_spec):
    value = lambda p, s: {"val_loss": 0.3 + 0.01 * key(p)[0] + noise(p, s, 0.001),  # noqa: E731
                          "test_loss": 0.3 + noise(p, s, 0.02)}
    sweep, fake = sweep_with_race(tmp_path, spec(write_spec, top=3, margin=0.0001, batch=5, max_seeds=10), value)
    record = sweep.state.confirm
    assert record.outcome == "undecided" and [look.seeds for look in record.looks] == [5, 10]
    assert race.headline(record).startswith("undecided between ") and "at the budget of 10 seeds" in \
        race.headline(record)
    assert max(t.seed for t in sweep.state.trials) == 13  # fresh seeds 4-13, none beyond the budget
    raised = load_spec(tmp_path / "spec.yaml", ["search.confirm.max_seeds=15"])
    grown = Sweep.open(raised, ["search.confirm.max_seeds=15"], tmp_path / "runs", None)
    assert grown.path == sweep.path
    assert "budget 10 -> 15 fresh seeds per point" in " ".join(runner_module.budget_lines(grown))
    more = FakeRunner(grown, value)
    more.workers = 1
    runner_module._run_rounds(grown, more)
    assert more.trained and {grown.trials[k].seed for k in more.trained} == set(range(14, 19))
    assert [look.seeds for look in grown.state.confirm.looks] == [5, 10, 15]


def test_a_race_run_again_trains_nothing(tmp_path, write_spec):
    file = spec(write_spec, top=3, margin=0.01, batch=5, max_seeds=20)
    sweep, _ = sweep_with_race(tmp_path, file, cursed)
    again, idle = sweep_with_race(tmp_path, file, cursed)
    assert again.path == sweep.path and not idle.trained
    assert again.state.confirm.looks == sweep.state.confirm.looks


@pytest.mark.parametrize("question, key_, message", [
    ({"max_seeds": 4, "batch": 5}, "search.confirm.max_seeds", "must be at least search.confirm.batch"),
    ({"metric": "gap_loss"}, "search.confirm.metric", "decide on a val_ or test_"),
    ({"metric": "test_accuracy", "margin": 1}, "search.confirm.margin", "is the whole range"),
])
def test_a_race_that_cannot_answer_is_a_spec_error_with_its_line(write_spec, runner, question, key_, message):
    file = write_spec(merged(TINY, search={**GRID, "confirm": {"margin": 0.01, **question}}))
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 2 and key_ in result.output and message in result.output, result.output


# ------------------------------------------------------------------ one real race
def test_a_real_sweep_races_its_best_and_says_so_last(tmp_path, write_spec, runner):
    file = write_spec({"name": "race", "seed": 0, "data": {"dataset": "digits"},
                       "model": {"layers": [{"type": "dense", "units": 16}]},
                       "training": {"epochs": 2, "batch_size": 64},
                       "search": {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5]},
                                  "confirm": {"top": 2, "metric": "test_loss", "margin": 0.05, "batch": 3,
                                              "max_seeds": 6}}})
    runs = tmp_path / "runs"
    planned = runner.invoke(app, ["sweep", str(file), "--runs-dir", str(runs), "--dry-run"])
    assert planned.exit_code == 0 and "then search.confirm: race the 2 best points by val_loss on test_loss, on " \
        "fresh seeds from 1 (the search's: 0)" in " ".join(planned.output.split()), planned.output
    result = runner.invoke(app, ["sweep", str(file), "--runs-dir", str(runs), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()
    state = json.loads(next(runs.glob("*_sweep/sweep.json")).read_text())
    record = state["confirm"]
    assert record["looks"] and {t["seed"] for t in state["trials"] if t["phase"] == "confirm"} <= set(range(1, 7))
    assert last[-3].startswith(("best: dropout=", "undecided between dropout=")), last
    assert last[-2].startswith("  dropout=") and any(": best: " in line or ": leader: " in line for line in last[-2:])
    shown = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "md"])
    assert shown.exit_code == 0 and last[-3] in shown.output, shown.output
