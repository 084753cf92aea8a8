"""A sweep grows: a raised repeat or search.trials continues the same sweep folder and trains only the
new trials (decide.max_seeds: test_decide.py), a lowered one trains nothing; --needed says what it
skipped; a sweep with nothing left to train starts no worker and imports no TensorFlow."""

import json
import subprocess
import sys

import pytest

from regexp.cli import app
from regexp.spec import load_spec
from regexp.sweep.identity import budget, sweep_hash

from conftest import REPO, TINY, merged

RANDOM = {"method": "random", "trials": 2, "params": {"model.defaults.dropout": {"uniform": [0.0, 0.5]}}}


@pytest.fixture
def trained(monkeypatch):
    """The overrides of every trial trained alone in this process (sweeps run with --pack off)."""
    import regexp.sweep.runner as sweep_module

    real, calls = sweep_module.train_alone, []
    monkeypatch.setattr(sweep_module, "train_alone",
                        lambda task: (calls.append(task.trials[0].overrides), real(task))[1])
    return calls


def sweep(runner, spec, runs, *sets, options=("--workers", "1", "--pack", "off")):
    args = ["sweep", str(spec), "--runs-dir", str(runs), *options]
    for value in sets:
        args += ["--set", value]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def folder_of(runs):
    (folder,) = runs.glob("*_sweep")
    return folder, json.loads((folder / "sweep.json").read_text())


def run_files(runs) -> dict[str, str]:
    return {p.name: (p / "run.json").read_text() for p in runs.iterdir() if (p / "run.json").is_file()}


def test_the_identity_leaves_out_the_budget_and_keeps_the_rule(write_spec):
    grid = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5]}}
    question = {"baseline": "dropout=0.0", "metric": "val_accuracy", "margin": 0.01}
    file = write_spec(merged(TINY, repeat=2, search=RANDOM))
    same = sweep_hash(load_spec(file))
    for change in ("repeat=5", "repeat=[1, 2, 9]", "search.trials=40"):
        assert sweep_hash(load_spec(file, [change])) == same, change
    assert sweep_hash(load_spec(file, ["search.seed=3"])) != same
    refine = write_spec(merged(TINY, search={**RANDOM, "refine": {"rounds": 2}}), name="refine.yaml")
    assert sweep_hash(load_spec(refine, ["search.refine.rounds=3"])) == sweep_hash(load_spec(refine))
    assert sweep_hash(load_spec(refine, ["search.trials=40"])) != sweep_hash(load_spec(refine))  # round 2 changes
    decide = write_spec(merged(TINY, search=grid, decide=question), name="decide.yaml")
    assert budget(load_spec(decide)) == {"repeat": 1, "decide.max_seeds": 40}
    assert sweep_hash(load_spec(decide, ["decide.max_seeds=80", "search.trials=3"])) == sweep_hash(load_spec(decide))
    for rule in ("decide.batch=10", "decide.alpha=0.01", "decide.margin=0.02"):
        assert sweep_hash(load_spec(decide, [rule])) != sweep_hash(load_spec(decide)), rule


def test_raising_repeat_trains_only_the_new_seeds_and_lowering_trains_nothing(runner, write_spec, tmp_path, trained):
    spec, runs = write_spec(merged(TINY, repeat=2, training={"epochs": 1})), tmp_path / "runs"
    sweep(runner, spec, runs)
    folder, _ = folder_of(runs)
    first = run_files(runs)
    assert len(trained) == 2
    trained.clear()
    output = sweep(runner, spec, runs, "repeat=3")
    assert "budget raised: repeat 2 -> 3" in output and "2 of 3 trials already completed, training 1" in output
    assert [o for o in trained[0] if o.startswith("seed=")] == ["seed=3"]
    assert folder_of(runs)[0] == folder  # the same sweep folder
    assert all(run_files(runs)[name] == text for name, text in first.items())  # the earlier runs untouched
    trained.clear()
    output = sweep(runner, spec, runs)  # lowered back to the spec's 2
    assert not trained and "budget lowered: repeat 3 -> 2" in output and "nothing to train" in output
    _, state = folder_of(runs)
    assert len(state["trials"]) == 3 and state["status"] == "completed"
    changes = [(c["key"], c["before"], c["after"]) for c in state["budget_changes"]]
    assert changes == [("repeat", 2, 3), ("repeat", 3, 2)]
    assert load_spec(folder / "spec.yaml").spec.repeat == 2  # the snapshot the trials run from has the budget


def test_raising_random_search_trials_trains_only_the_new_points(runner, write_spec, tmp_path, trained):
    spec, runs = write_spec(merged(TINY, training={"epochs": 1}, search=RANDOM)), tmp_path / "runs"
    sweep(runner, spec, runs)
    folder, before = folder_of(runs)
    first = run_files(runs)
    trained.clear()
    output = sweep(runner, spec, runs, "search.trials=4")
    assert "2 of 4 trials already completed, training 2" in output and len(trained) == 2
    again, after = folder_of(runs)
    assert again == folder and [t["point"] for t in after["trials"][:2]] == [t["point"] for t in before["trials"]]
    assert len({json.dumps(t["point"]) for t in after["trials"]}) == 4
    assert all(run_files(runs)[name] == text for name, text in first.items())


def test_needed_says_how_many_runs_of_another_sweep_it_took(runner, write_spec, tmp_path, trained):
    grid = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.3]}}
    runs = tmp_path / "runs"
    sweep(runner, write_spec(merged(TINY, training={"epochs": 1}, search=grid)), runs)
    trained.clear()
    wider = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.3, 0.5]}}  # another sweep
    output = sweep(runner, write_spec(merged(TINY, training={"epochs": 1}, search=wider), name="wider.yaml"), runs,
                   options=("--workers", "1", "--pack", "off", "--needed"))
    assert ("2 of 3 trials already completed (2 of them by an up-to-date run outside this sweep, --needed), "
            "training 1") in output
    assert len(trained) == 1 and "model.defaults.dropout=0.5" in trained[0]
    (state,) = [json.loads((f / "sweep.json").read_text()) for f in runs.glob("*_sweep") if "0.5" in
                (f / "spec.yaml").read_text()]
    assert all(t["status"] == "completed" and t["objective"] is not None for t in state["trials"])


PROBE = """
import sys
from typer.testing import CliRunner
import regexp.sweep.local_pool as local_pool

def refuse(*args, **kwargs):
    raise AssertionError("a worker pool was started")
local_pool.LocalPool.__init__ = refuse
from regexp.cli import app
result = CliRunner().invoke(app, {args!r})
print(" ".join(result.output.split()))
print("exit", result.exit_code, result.exception)
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


def rerun(args) -> list[str]:
    """`regexp ARGS` in a fresh process that refuses to start a worker pool: its output lines."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_a_completed_sweep_run_again_trains_nothing_and_imports_no_tensorflow(runner, write_spec, tmp_path):
    spec = write_spec(merged(TINY, repeat=2, training={"epochs": 1}, search={"params": {
        "model.defaults.dropout": [0.0, 0.3]}}))
    runs = tmp_path / "runs"
    sweep(runner, spec, runs, options=("--workers", "1"))
    before = run_files(runs)
    *shown, code, modules = rerun(["sweep", str(spec), "--runs-dir", str(runs), "--workers", "2"])
    assert code == "exit 0 None" and modules == "[]"  # no TensorFlow here, and no worker that would import it
    assert "4 of 4 trials already completed, nothing to train" in shown[0]
    assert run_files(runs) == before and folder_of(runs)[1]["status"] == "completed"
