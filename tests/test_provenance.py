"""Runs know where they came from: git state of the spec and its bases, the data and split
fingerprints; status says what is stale, --needed skips what is up to date, replay retrains."""

import json
import os
import subprocess

import numpy as np
import pytest
import yaml

from regexp.cli import app
from regexp.trial.provenance import extends_chain, git_state

from conftest import TINY, merged


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture
def repo(tmp_path):
    """A repository with a base spec and a spec that extends it, committed."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "base.yaml").write_text(yaml.safe_dump(merged(TINY, training={"epochs": 2})))
    (root / "spec.yaml").write_text("extends: base.yaml\nname: child\n")
    (root / "notes.txt").write_text("x\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "specs")
    return root


def run_json(runs):
    (folder,) = [p for p in runs.iterdir() if (p / "run.json").is_file()]
    return json.loads((folder / "run.json").read_text())


def test_a_clean_commit_is_recorded_with_its_branch(repo, runner, tmp_path):
    result = runner.invoke(app, ["train", str(repo / "spec.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    p = run_json(tmp_path / "runs")["provenance"]
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert p["commit"] == head and len(p["commit"]) == 40 and p["branch"] == "main"
    assert p["dirty"] is False and p["diff"] is None and p["repo_dirty"] is False and p["git"] is None
    assert p["data"].startswith("iris (scikit-learn ") and len(p["split"]) == 16
    assert set(p["libraries"]) == {"regexp", "tensorflow", "keras", "numpy"}


def test_an_uncommitted_edit_in_an_extended_base_makes_the_spec_dirty_with_its_diff(repo):
    (repo / "base.yaml").write_text((repo / "base.yaml").read_text().replace("epochs: 2", "epochs: 3"))
    state = git_state(extends_chain(repo / "spec.yaml"))
    assert state["dirty"] is True and "-  epochs: 2" in state["diff"] and "+  epochs: 3" in state["diff"]
    assert state["repo_dirty"] is False  # only the spec's own chain changed
    (repo / "notes.txt").write_text("y\n")
    assert git_state(extends_chain(repo / "spec.yaml"))["repo_dirty"] is True


def test_a_detached_head_no_repository_and_no_git_say_why(repo, tmp_path, monkeypatch):
    git(repo, "checkout", "-q", "--detach")
    detached = git_state(extends_chain(repo / "spec.yaml"))
    assert detached["branch"] is None and detached["commit"] and detached["git"] == "detached HEAD"
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "spec.yaml").write_text("name: x\n")
    assert git_state([alone / "spec.yaml"]) == {"commit": None, "branch": None, "dirty": None, "diff": None,
                                                "repo_dirty": None, "git": "the spec is not in a git repository"}
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git_state([repo / "spec.yaml"])["git"] == "git is not on PATH"


def test_edited_data_is_another_experiment_stale_and_fails_replay(write_spec, runner, tmp_path):
    rng = np.random.default_rng(0)
    table = tmp_path / "d.csv"
    rows = ["a,b,label"] + [f"{x:.4f},{y:.4f},{int(x + y > 0)}" for x, y in rng.normal(size=(120, 2))]
    table.write_text("\n".join(rows) + "\n")
    spec = write_spec(merged(TINY, data={"dataset": None, "path": str(table), "target": "label"}))
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), "-q"]).exit_code == 0
    status = runner.invoke(app, ["status", str(spec), "--runs-dir", str(runs), "--check"])
    assert status.exit_code == 0 and "up to date (1 trial)" in status.output
    (first,) = [p for p in runs.iterdir()]
    table.write_text("\n".join(rows[:100]) + "\n")  # the file is edited: 20 rows fewer
    status = runner.invoke(app, ["status", str(spec), "--runs-dir", str(runs), "--check", "--format", "json"])
    (line,) = json.loads(status.output)
    assert status.exit_code == 1 and line["state"] == "stale" and "the data changed" in line["why"]
    replayed = runner.invoke(app, ["replay", str(first)])
    assert replayed.exit_code == 1 and "likely cause: the data changed" in replayed.output
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), "-q"]).exit_code == 0
    rows_of = json.loads(runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "json"]).output)
    assert len(rows_of["rows"]) == 2 and "data" in rows_of["params"]  # never one config's re-runs


def test_needed_trains_only_the_seeds_without_an_up_to_date_run(write_spec, runner, tmp_path):
    runs = tmp_path / "runs"
    two = write_spec(merged(TINY, repeat=2))
    assert runner.invoke(app, ["train", str(two), "--runs-dir", str(runs), "-q"]).exit_code == 0
    three = write_spec(merged(TINY, repeat=3), name="three.yaml")
    result = runner.invoke(app, ["train", str(three), "--runs-dir", str(runs), "--needed"])
    # the same sweep as two.yaml's (its budget, repeat, is not its identity) goes on: seed 3 has no up-to-date run
    assert result.exit_code == 0
    assert "2 of 3 trials already completed, training 1 (--needed: no up-to-date run has it)" in result.output
    runs_made = [p for p in runs.iterdir() if (p / "run.json").is_file()]
    assert sorted(json.loads((p / "run.json").read_text())["seed"] for p in runs_made) == [1, 2, 3]
    again = runner.invoke(app, ["train", str(write_spec(TINY, name="one.yaml")), "--runs-dir", str(runs), "--needed"])
    assert "skipped, up to date" in again.output


@pytest.mark.parametrize("pack", ["off", "auto"])
def test_replay_is_identical_for_a_trial_alone_and_for_a_packed_trial(write_spec, runner, tmp_path, pack):
    spec = write_spec(merged(TINY, repeat=2))
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(runs), "-q", "--pack", pack]).exit_code == 0
    run = next(p for p in sorted(runs.iterdir()) if (p / "run.json").is_file())
    assert (json.loads((run / "run.json").read_text()).get("packed") is not None) == (pack == "auto")
    result = runner.invoke(app, ["replay", str(run)])
    assert result.exit_code == 0 and "identical" in result.output, result.output
