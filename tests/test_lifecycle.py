"""One trial lifecycle for both engines: every failure path (a point's data error under each executor,
an exception inside a pack, a full disk, Ctrl-C and SIGTERM) ends with each run folder and sweep.json
saying what happened, and the sweep goes on or resumes without training anything twice."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regexp.cli import app
from regexp.store.folders import read_run
from regexp.trial import interrupts

from conftest import REPO, TINY, merged
from runfolders import pack_task

KEYS = [f"trial{i}" for i in range(4)]


@pytest.fixture
def table(tmp_path) -> Path:
    """A small csv with a label column `target` (two classes) and three numeric features."""
    rows = ["a,b,c,target"] + [f"{i % 7 / 7},{i % 5 / 5},{i % 3 / 3},{int(i % 7 > 3)}" for i in range(90)]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def point_spec(write_spec, table: Path) -> Path:
    return write_spec(merged(TINY, data={"dataset": None, "path": str(table)}, repeat=3, training={"epochs": 2},
                             search={"method": "grid", "params": {"data.target": ["nosuchcolumn", "target"]}}))


def sweep_state(runs: Path) -> dict:
    (folder,) = runs.glob("*_sweep")
    return json.loads((folder / "sweep.json").read_text())


def run_folders(runs: Path) -> list[Path]:
    return [p for p in runs.iterdir() if not p.name.endswith("_sweep") and not p.name.startswith(".")]


@pytest.mark.parametrize("options", [["--workers", "1", "--pack", "off"], ["--workers", "1"], ["--workers", "2",
                                                                                               "--pack", "off"]],
                         ids=["in-process", "packed", "worker pool"])
def test_a_data_error_in_one_point_fails_that_point_and_the_sweep_goes_on(runner, write_spec, table, tmp_path, options):
    spec, runs = point_spec(write_spec, table), tmp_path / "runs"
    args = ["sweep", str(spec), "--runs-dir", str(runs), "-q", *options]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output  # completed with failures
    state = sweep_state(runs)
    assert state["status"] == "completed with failures" and state["message"] == "3 trials did not complete"
    bad = [t for t in state["trials"] if t["point"]["data.target"] == "nosuchcolumn"]
    good = [t for t in state["trials"] if t["point"]["data.target"] == "target"]
    assert len(bad) == len(good) == 3  # three failures in a row did not stop the sweep: no training began
    for trial in bad:
        assert trial["status"] == "failed" and trial["run"] is None
        assert "has no column 'nosuchcolumn'" in trial["error"] and "worker lost" not in trial["error"]
    assert all(t["status"] == "completed" and read_run(runs / t["run"]).status == "completed" for t in good)
    again = runner.invoke(app, args)  # the same command: the bad point fails again, nothing good is retrained
    assert again.exit_code == 1 and len(run_folders(runs)) == 3


def test_validate_checks_each_search_points_data_columns(runner, write_spec, table):
    spec = point_spec(write_spec, table)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    line = next(line for line in result.output.splitlines() if "search point" in line)
    params_line = spec.read_text().splitlines().index("    data.target:") + 1
    assert line.startswith(f"error: {spec}:{params_line}: search point data.target=nosuchcolumn: data.target: ")
    assert "table.csv has no column 'nosuchcolumn' (columns: a, b, c, target)" in line
    spec.write_text(spec.read_text().replace("- nosuchcolumn", "- a"))
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0  # another column is a valid label


def test_validate_reads_a_text_feature_from_the_first_row(runner, write_spec, tmp_path):
    (tmp_path / "t.csv").write_text("x,color,y\n1,red,0\n2,blue,1\n")
    spec = write_spec(merged(TINY, data={"dataset": None, "path": str(tmp_path / "t.csv"), "categorical": ["x"]}))
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "t.csv row 1, column 'color': a non-numeric value 'red' (a numeric column; list it in data.categorical" \
        in result.output
    auto = write_spec(merged(TINY, data={"dataset": None, "path": str(tmp_path / "t.csv")}), name="auto.yaml")
    assert runner.invoke(app, ["validate", str(auto)]).exit_code == 0  # categorical: auto takes it as categories


def test_an_exception_inside_a_pack_fails_every_slice_with_error_txt(write_spec, tmp_path, monkeypatch):
    from regexp.packed import trainer

    spec = write_spec(merged(TINY, training={"epochs": 4}))
    real, calls = trainer.PackTrainer._evaluate, []

    def broken(self, part):
        calls.append(part)
        if len(calls) == 2:
            raise RuntimeError("a kernel failed on this device")
        return real(self, part)
    monkeypatch.setattr(trainer.PackTrainer, "_evaluate", broken)
    arms = [["seed=3"], ["seed=4"], ["seed=5"]]
    results = trainer.run_pack(pack_task(spec, arms, tmp_path / "runs"))
    assert [r.status for r in results] == ["failed"] * 3
    for result in results:
        assert result.error == "RuntimeError: a kernel failed on this device"
        run = read_run(tmp_path / "runs" / result.run)
        assert run.status == "failed" and run.info.error == result.error and run.info.trial in KEYS
        text = (run.path / "error.txt").read_text()
        assert "Traceback" in text and "a kernel failed on this device" in text
        assert len(run.history) == 1  # epoch 1 was recorded before epoch 2's validation failed


def test_a_full_disk_in_a_packed_sweep_is_one_sentence_and_the_sweep_resumes_without_duplicates(
        runner, write_spec, tmp_path, monkeypatch):
    from regexp.store import folders

    spec, runs = write_spec(merged(TINY, repeat=4, training={"epochs": 2})), tmp_path / "runs"
    real, metrics_files = folders.write_atomic, []

    def fills_up(path, text):  # the disk fills while the third trial's metrics.json is written
        metrics_files.extend([path] if path.name == "metrics.json" else [])
        if len(metrics_files) >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)
    monkeypatch.setattr(folders, "write_atomic", fills_up)
    args = ["sweep", str(spec), "--runs-dir", str(runs), "-q", "--workers", "1"]
    full = runner.invoke(app, args)
    assert full.exit_code == 1 and "Traceback" not in full.output
    assert "No space left on device" in full.output and "run the same command again" in full.output
    assert len(full.output.strip().splitlines()) <= 3  # one sentence (wrapped)
    statuses = sorted(read_run(p).info.status for p in run_folders(runs))
    # two could not record their end: run.json says running, which reads crashed once this process is gone
    assert statuses == ["completed", "completed", "running", "running"]

    monkeypatch.setattr(folders, "write_atomic", real)  # space freed
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    state = sweep_state(runs)
    assert state["status"] == "completed"
    completed = [t["run"] for t in state["trials"]]
    assert len(set(completed)) == 4 and all(read_run(runs / r).status == "completed" for r in completed)
    assert sum(read_run(p).status == "completed" for p in run_folders(runs)) == 4  # two kept, two trained again


def start(args: list[str], runs: Path) -> subprocess.Popen:
    env = {**os.environ, "REGEXP_CHECKPOINT_SECONDS": "10", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "regexp", *args, "--runs-dir", str(runs), "-q"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def rows(run: Path) -> int:
    history = run / "history.csv"
    return len(history.read_text().splitlines()) - 1 if history.exists() else 0


def test_sigint_stops_a_trial_at_a_step_boundary_with_only_whole_epochs(write_spec, tmp_path):
    spec = write_spec(merged(TINY, training={"epochs": 400, "steps_per_execution": 1}))
    process = start(["train", str(spec)], tmp_path / "runs")
    wait_until(lambda: any(rows(p) >= 3 for p in (tmp_path / "runs").glob("*")), process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in output, output
    (run,) = (tmp_path / "runs").iterdir()
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert read_run(run).status == "interrupted"
    assert state["epoch"] == rows(run)  # no partial epoch in history, none lost from it


def test_sigterm_stops_a_packed_sweep_and_every_slice_is_interrupted_with_a_resume_point(write_spec, tmp_path):
    spec, runs = write_spec(merged(TINY, repeat=3, training={"epochs": 400})), tmp_path / "runs"
    process = start(["sweep", str(spec), "--workers", "1"], runs)
    wait_until(lambda: len(run_folders(runs)) == 3 and all(rows(p) >= 3 for p in run_folders(runs)) if runs.exists()
               else False, process)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 143 and "interrupted (SIGTERM)" in output and "Traceback" not in output, output
    for run in run_folders(runs):
        record = read_run(run)
        assert record.status == "interrupted" and record.info.error == "interrupted (SIGTERM)"
        assert json.loads((run / "checkpoint" / "state.json").read_text())["epoch"] == rows(run)
    state = sweep_state(runs)
    assert state["status"] == "interrupted" and {t["status"] for t in state["trials"]} == {"interrupted"}


def test_the_first_signal_asks_and_the_second_stops_at_once():
    with interrupts.handled():
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.requested() == "SIGTERM"  # nothing raised: training stops at its next boundary
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert interrupts.requested() is None and signal.getsignal(signal.SIGINT) is signal.default_int_handler
