"""The terminal views at the widths people have: the report table from 80 to 160 columns (columns
left out with a note, never cut), the focused metric's mean ± std, parameter names that never read
the same, left-out seeds in one phrase, and the plan table of sweep --dry-run."""

import re

import pytest
import yaml

from regexp.cli import app
from regexp.spec import load_spec
from regexp.sweep import decide
from regexp.sweep.state import Sweep
from regexp.views.layout import left_out_phrase, unique_names

from conftest import TINY, merged
from runfolders import FakeRunner, make_run, noise

GRID = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5], "model.defaults.l2": [0.0, 0.001]}}
BASELINE = "dropout=0.0,l2=0.001"


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """A decide: sweep on hand-made run folders: dropout 0.5 without L2 is better by 0.03 val loss and
    is decided at look 2 (10 seeds); the other arms run to the budget of 30 seeds. A loss, not an
    accuracy: an accuracy's bounded interval would need far more seeds (docs/decide.md)."""
    root = tmp_path_factory.mktemp("decided")
    (root / "spec.yaml").write_text(yaml.safe_dump(merged(TINY, search=GRID, decide={
        "baseline": BASELINE, "metric": "val_loss", "margin": 0.005, "batch": 5, "max_seeds": 30})))
    loaded = load_spec(root / "spec.yaml")
    sweep = Sweep.open(loaded, [], root / "runs", None)
    better = lambda p: p["model.defaults.dropout"] == 0.5 and p["model.defaults.l2"] == 0.0  # noqa: E731
    decide.run_looks(sweep, FakeRunner(sweep, lambda p, s: 0.5 + noise(p, s, 0.01) - 0.03 * better(p)),
                     load_spec(sweep.spec_file), None)
    arms = {(a.point["model.defaults.dropout"], a.point["model.defaults.l2"]): a for a in sweep.state.decide.arms}
    assert arms[(0.5, 0.0)].verdict == "better" and arms[(0.5, 0.0)].look == 2 and arms[(0.5, 0.0)].seeds == 10
    return root / "runs"


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_the_table_fits_the_terminal_and_says_what_it_left_out(runner, decided, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))  # rich reads the width when the command makes its console
    result = runner.invoke(app, ["report", "--runs-dir", str(decided), "--baseline", BASELINE, "--metric",
                                 "test_loss"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("run "))
    heading = [" ".join(line.split()) for line in lines[header - 3:header + 1]]
    assert "vs baseline" in heading[-2] and heading[-1].endswith("Δ test loss [95% CI]")  # the last column whole
    assert re.search(r"\bparams\b", heading[-1]) and "n" in heading[-1].split()
    row = next(i for i, line in enumerate(lines) if line.lstrip().startswith("exp@") and "baseline" in line)
    assert re.search(r"0\.553\s", lines[row]) and "±" in lines[row + 1]  # test loss: mean, ± std below it
    assert "dropout=0.0" in lines[row] and "l2=0.001" in lines[row + 1]
    text = " ".join(result.stdout.split())
    assert "seed 11" not in text and "left out: 20" in text
    note = re.search(r"note: at \d+ columns the table leaves out ([^(]*) \(", text)
    if width == 160:
        assert note is None  # everything fits
    else:
        left_out = note.group(1).split(", ")
        assert left_out[:3] == ["sec", "epochs", "best"] and "test loss" not in left_out
        shown = heading[-1]
        assert all(not re.search(rf"\b{name}\b", shown) for name in ("sec", "epochs", "best"))
    if width >= 120:
        assert "95% CI" in heading[0] + heading[1] and "status" in heading[-1]


def test_the_n_cell_says_left_out_seeds_in_one_phrase(runner, decided):
    result = runner.invoke(app, ["report", "--runs-dir", str(decided), "--baseline", BASELINE, "--format", "md",
                                 "--metric", "val_loss"])
    line = next(line for line in result.stdout.splitlines() if "| 0.5 | 0.0 |" in line)
    assert "| 10 pairs; left out: 20 (arm stopped at look 2) |" in line


def test_left_out_phrases():
    seeds = [f"seed {s} (arm: not run)" for s in range(11, 31)]
    assert left_out_phrase(seeds, stopped_at=2) == "20 (arm stopped at look 2)"
    assert left_out_phrase(seeds) == "20 (arm: not run)"
    assert left_out_phrase(["seed 3 (baseline: crashed)", "seed 4 (arm: failed)", "seed 5 (arm: failed)"]) == \
        "seed 3 (baseline: crashed), 2 (arm: failed)"


def test_parameter_names_are_the_shortest_suffix_no_other_has():
    assert unique_names(["model.defaults.dropout", "model.defaults.l2", "training.optimizer.learning_rate"]) == {
        "model.defaults.dropout": "dropout", "model.defaults.l2": "l2",
        "training.optimizer.learning_rate": "learning_rate"}
    assert unique_names(["model.layers.0.units", "model.layers.1.units", "seed"]) == {
        "model.layers.0.units": "layers.0.units", "model.layers.1.units": "layers.1.units", "seed": "seed"}
    assert unique_names(["model.defaults.dropout", "model.layers.0.dropout"]) == {
        "model.defaults.dropout": "defaults.dropout", "model.layers.0.dropout": "layers.0.dropout"}


def test_a_baseline_named_as_the_params_column_shows_it(runner, tmp_path):
    for seed in range(2):
        for lr in (0.01, 0.001):
            run = make_run(tmp_path, f"r{lr}_{seed}", seed=seed, val_accuracy=0.8 + 10 * lr)
            config = yaml.safe_load((run / "config.yaml").read_text())
            config["training"]["optimizer"]["learning_rate"] = lr
            (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", "learning_rate=0.001"])
    assert result.exit_code == 0, result.output
    assert "learning_rate=0.001" in result.stdout and "optimizer.learning_rate" not in result.stdout
    wrong = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", "learning_rate=0.1"])
    assert wrong.exit_code == 2
    assert "--baseline learning_rate=0.1: no run or group has this config value (learning_rate has 0.001, 0.01)" in \
        " ".join(wrong.output.split())


def test_dry_run_names_its_parameter_columns_apart(runner, write_spec, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    spec = write_spec(merged(TINY, search={"params": {"model.defaults.dropout": [0.0, 0.5],
                                                      "model.defaults.l2": [0.0, 0.001]}}))
    result = runner.invoke(app, ["sweep", str(spec), "--dry-run"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "seed" in line and "key" in line)
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")][:3] == ["#", "dropout", "l2"]
    assert "dropout = model.defaults.dropout; l2 = model.defaults.l2" in result.output


def test_the_eta_is_the_mean_time_per_trial_counted_down():
    """Packs end many trials at once: the ETA is the mean seconds per trial so far times the trials
    left, counted down between completions, not a rate from the last few updates."""
    from regexp.sweep.pace import Pace

    now = [0.0]
    pace = Pace(clock=lambda: now[0])
    pace.start()
    assert pace.eta(20) == "ETA after the first trial"
    now[0] = 20.0
    pace.add(10)                     # a pack of 10 ended after 20 s: 2 s a trial
    assert pace.eta(10) == "ETA 0:00:20"
    now[0] = 35.0
    assert pace.eta(10) == "ETA 0:00:05"   # counted down while the next pack trains
    now[0] = 44.0
    pace.add(6)                      # 16 trials in 44 s
    assert pace.eta(4, at_most=True) == "ETA ≤ 0:00:11"
    pace.stop()
    now[0] = 100.0                   # between looks: not counted
    pace.start()
    now[0] = 102.0
    pace.add(4)                      # 20 trials in 46 s
    assert pace.per_trial() == pytest.approx(46 / 20) and pace.eta(0) == ""


def test_decides_progress_line_says_looks_and_trials_at_most_left(tmp_path):
    root = tmp_path
    (root / "spec.yaml").write_text(yaml.safe_dump(merged(TINY, search=GRID, decide={
        "baseline": BASELINE, "metric": "val_loss", "margin": 0.005, "batch": 5, "max_seeds": 30})))
    sweep = Sweep.open(load_spec(root / "spec.yaml"), [], root / "runs", None)
    better = lambda p: p["model.defaults.dropout"] == 0.5 and p["model.defaults.l2"] == 0.0  # noqa: E731
    fake = FakeRunner(sweep, lambda p, s: 0.5 + noise(p, s, 0.01) - 0.03 * better(p))
    shown = []

    class Showing:
        step, console, needed = FakeRunner.step, None, None  # the real runner's step, which calls run

        def __init__(self):
            self.sweep = sweep

        def run(self, trials, metric, outlook=None):
            shown.append(outlook(0))
            fake.run(trials[:5], metric)
            shown.append(outlook(5))
            fake.run(trials[5:], metric)

    decide.run_looks(sweep, Showing(), load_spec(sweep.spec_file), None)
    assert shown[0] == ("val_loss: look 1 of at most 6, 3 of 3 arms open; trials 0 done, at most 120 left", 120)
    assert shown[1] == ("val_loss: look 1 of at most 6, 3 of 3 arms open; trials 5 done, at most 115 left", 115)
    # dropout 0.5 without L2 was decided at look 2: two arms and the baseline go on, 5 seeds a look
    assert shown[4] == ("val_loss: look 3 of at most 6, 2 of 3 arms open; trials 40 done, at most 60 left", 60)
    assert shown[-1][1] == 10 and len(shown) == 12  # look 6: 15 trials, 5 of them ended


def test_a_decide_sweep_shows_its_metric_and_eta(runner, write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    spec = write_spec(merged(TINY, training={"epochs": 1}, search={"params": {"model.defaults.dropout": [0.0, 0.5]}},
                             decide={"baseline": "dropout=0.0", "metric": "val_accuracy", "margin": 0.001,
                                     "batch": 3, "max_seeds": 6}))
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path / "runs"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    first = next(line for line in result.output.splitlines() if line.startswith("trials 6/6"))
    assert "val_accuracy: look 1 of at most 2, 1 of 1 arms open; trials 6 done, at most 6 left" in first
    assert re.search(r"ETA ≤ \d:\d\d:\d\d", first) and "best " not in first
