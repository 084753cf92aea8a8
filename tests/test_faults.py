"""Fault injection: kills, signals, full disks, concurrent writers, hostile files. Nothing finished is lost.

The signal tests run `regexp train` as real processes; the rest go through CliRunner.
"""

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from regexp.cli import app
from regexp.net.saved import load_model_file
from regexp.store.folders import read_run

from conftest import REPO, TINY, merged

LONG = merged(TINY, training={"epochs": 80})  # long enough to be stopped mid-run


def start(spec: Path, runs: Path, *args, checkpoint_s: str = "0") -> subprocess.Popen:
    env = {**os.environ, "REGEXP_CHECKPOINT_SECONDS": checkpoint_s, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "regexp", *args, str(spec), "--runs-dir", str(runs), "-q"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_epochs(runs: Path, n: int, process: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for history in runs.glob("*/history.csv"):
            if len(history.read_text().splitlines()) > n:
                return history.parent
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.1)
    raise AssertionError(f"no {n} epochs within {timeout} s")


def epochs(run: Path) -> list[int]:
    return [int(row["epoch"]) for row in read_run(run).history]


def resume(runner, run: Path):
    return runner.invoke(app, ["resume", str(run), "-q"])


# --- process deaths ----------------------------------------------------------------------------

def test_kill_9_reads_crashed_with_intact_history_and_resume_continues_exactly(write_spec, tmp_path, runner,
                                                                               monkeypatch):
    process = start(write_spec(LONG), tmp_path / "runs", "train")
    run = wait_for_epochs(tmp_path / "runs", 10, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    record = read_run(run)
    assert record.status == "crashed" and not record.warnings
    before = epochs(run)
    assert before == list(range(1, len(before) + 1))  # every row whole, in order
    saved = json.loads((run / "checkpoint" / "state.json").read_text())["epoch"]
    assert len(before) - 1 <= saved <= len(before)  # the kill may land between the row and the checkpoint

    monkeypatch.setenv("REGEXP_CHECKPOINT_SECONDS", "0")
    result = resume(runner, run)
    assert result.exit_code == 0, result.output
    assert epochs(run) == list(range(1, 81))  # no epoch twice, none missing
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["resumed"][0]["at_epoch"] == saved
    assert info["resumed"][0]["previous_status"] == "crashed"
    assert not (run / "checkpoint").exists()  # the resume point goes once model.keras is written


@pytest.mark.parametrize("sig, code, how", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_leaves_interrupted_and_nothing_of_the_finished_epochs_is_lost(write_spec, tmp_path, runner, sig,
                                                                                code, how):
    # default checkpoint interval (10 s): the resume point is written when the signal arrives
    process = start(write_spec(LONG), tmp_path / "runs", "train", checkpoint_s="10")
    run = wait_for_epochs(tmp_path / "runs", 5, process)
    process.send_signal(sig)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == code, output
    assert f"interrupted ({how})" in output and "Traceback" not in output
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted" and info["error"] == f"interrupted ({how})"
    done = epochs(run)
    saved = json.loads((run / "checkpoint" / "state.json").read_text())["epoch"]
    # written on the signal (10 s have not passed), holding the last epoch whose snapshot was taken:
    # a signal between an epoch's history row and its snapshot leaves that one epoch to be redone
    assert len(done) >= 5 and len(done) - 1 <= saved <= len(done)

    result = resume(runner, run)
    assert result.exit_code == 0, result.output
    assert epochs(run) == list(range(1, 81))


def test_resume_keeps_the_early_stopping_state(write_spec, tmp_path, runner, monkeypatch):
    """Interrupt right after a resume point where early stopping is already waiting; the resumed run
    must stop exactly where the uninterrupted rule says, and restore the best weights from before."""
    from regexp.trial.resume_point import ResumePoint

    patience = 4
    spec = write_spec(merged(TINY, training={"epochs": 300, "optimizer": {"learning_rate": 0.05},
                                             "early_stopping": {"patience": patience}}))
    original = ResumePoint.on_epoch_end

    def interrupt_while_waiting(self, epoch, logs=None):
        original(self, epoch, logs)
        (es,) = self.stateful
        if es.wait >= 2:
            self.write()
            raise KeyboardInterrupt
    monkeypatch.setattr(ResumePoint, "on_epoch_end", interrupt_while_waiting)
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"]).exit_code == 130
    monkeypatch.setattr(ResumePoint, "on_epoch_end", original)
    (run,) = (tmp_path / "runs").iterdir()
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["counters"]["EarlyStopping"]["wait"] >= 2

    assert resume(runner, run).exit_code == 0
    history = read_run(run).history
    best, wait, stop = np.inf, 0, None  # Keras's rule, replayed over the whole history
    for row in history:
        if row["val_loss"] < best:
            best, wait = row["val_loss"], 0
        else:
            wait += 1
            if wait >= patience:
                stop = int(row["epoch"])
                break
    assert stop is not None and len(history) == stop  # a reset counter would have run longer
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["loss"] == pytest.approx(best, rel=1e-4)  # the best weights came back


def test_only_interrupted_or_crashed_runs_can_be_resumed(trained_run, runner, tmp_path):
    result = resume(runner, trained_run)
    assert result.exit_code == 2
    assert "cannot resume: it completed; train the spec again for a new run" in " ".join(result.output.split())
    assert json.loads((trained_run / "run.json").read_text())["status"] == "completed"
    result = runner.invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a run folder" in result.output


def test_a_nan_loss_fails_the_run_with_the_epoch(write_spec, tmp_path, runner):
    spec = write_spec(merged(TINY, training={"epochs": 20, "optimizer": {"name": "sgd", "learning_rate": 1e9}}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    (run,) = (tmp_path / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and info["error"].startswith("non-finite loss at epoch ")
    assert read_run(run).status == "failed"


def test_a_failure_with_a_long_message_keeps_one_line_in_run_json_and_all_of_it_in_error_txt(write_spec, tmp_path,
                                                                                             runner, monkeypatch):
    # TensorFlow's errors print whole tensors over many lines; run.json and the report want one line
    def fails(*args, **kwargs):
        raise ValueError("Attempt to convert a value (PerReplica:{\n  0: <tf.Tensor: shape=(16, 64)>\n})")
    monkeypatch.setattr("regexp.trial.train.score", fails)
    result = runner.invoke(app, ["train", str(write_spec(merged(TINY, training={"epochs": 2}))),
                                 "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "run.json").read_text())[
        "error"] == "ValueError: Attempt to convert a value (PerReplica:{ …"
    assert "shape=(16, 64)" in (run / "error.txt").read_text()


# --- full disks and bad places -----------------------------------------------------------------

def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(
        folder.rglob("*")) if p.is_file()}


def test_disk_full_while_saving_the_model_fails_the_run_and_keeps_everything_else(trained_run, write_spec, tmp_path,
                                                                                  runner, monkeypatch):
    earlier_run = tmp_path / "runs" / trained_run.name  # a finished run beside the one that fails
    shutil.copytree(trained_run, earlier_run)
    earlier = folder_digest(earlier_run)

    def no_space(self, filepath, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))
    monkeypatch.setattr(keras.Model, "save", no_space)
    spec = write_spec(merged(TINY, training={"epochs": 3}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p != earlier_run]
    out = " ".join(result.output.split())
    assert f"cannot write {run / '.model.partial.keras'}: No space left on device" in out and "Traceback" not in out
    assert not (run / "model.keras").exists()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "No space left on device" in info["error"]
    assert epochs(run) == [1, 2, 3] and yaml.safe_load((run / "config.yaml").read_text())["name"] == "tiny"
    assert folder_digest(earlier_run) == earlier


def test_disk_full_while_appending_history_fails_cleanly(write_spec, tmp_path, runner, monkeypatch):
    real_open = Path.open

    def open_until_full(self, mode="r", *args, **kwargs):
        if self.name == "history.csv" and mode == "a" and len(self.read_text().splitlines()) > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_open(self, mode, *args, **kwargs)
    monkeypatch.setattr(Path, "open", open_until_full)
    spec = write_spec(merged(TINY, training={"epochs": 6}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    (run,) = (tmp_path / "runs").iterdir()
    assert f"cannot write {run / 'history.csv'}: No space left on device" in " ".join(result.output.split())
    assert epochs(run) == [1, 2] and json.loads((run / "run.json").read_text())["status"] == "failed"


def test_a_runs_dir_that_cannot_hold_folders_is_a_clear_error(write_spec, tmp_path, runner):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs directory should be")
    result = runner.invoke(app, ["train", str(write_spec(TINY)), "--runs-dir", str(blocker)])
    assert result.exit_code == 2
    assert f"--runs-dir {blocker}: cannot create a run folder there" in " ".join(result.output.split())
    assert "Traceback" not in result.output and blocker.read_text().startswith("a file")


# --- many writers, and determinism across processes --------------------------------------------

def test_concurrent_trains_get_a_folder_each_and_the_same_seed_gives_the_same_run(write_spec, tmp_path):
    spec = write_spec(merged(TINY, training={"epochs": 3}))
    # four processes that start in the same second race for one folder name (eight took twice the
    # suite's time for the same race: each imports TensorFlow on 2 cores)
    processes = [start(spec, tmp_path / "runs", "train") for _ in range(4)]
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 4 and all(read_run(run).status == "completed" for run in runs)

    def without_timing(run: Path) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in read_run(run).history]

    def weights_digest(run: Path) -> str:
        model = load_model_file(run / "model.keras")
        return hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()

    assert all(without_timing(run) == without_timing(runs[0]) for run in runs[1:])
    assert len({weights_digest(run) for run in runs}) == 1


# --- hostile model files -----------------------------------------------------------------------

def test_a_model_file_with_a_lambda_layer_is_refused(trained_run, tmp_path, runner):
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("config.yaml", "run.json", "metrics.json", "history.csv"):
        (shared / name).write_bytes((trained_run / name).read_bytes())
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(shared / "model.keras")
    result = runner.invoke(app, ["evaluate", str(shared)])
    assert result.exit_code == 2
    assert "refused to load: it contains Lambda (from keras.layers)" in " ".join(result.output.split())


def test_a_model_file_naming_a_foreign_module_is_refused(trained_run, tmp_path, runner):
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("config.yaml", "run.json", "metrics.json"):
        (shared / name).write_bytes((trained_run / name).read_bytes())
    with zipfile.ZipFile(trained_run / "model.keras") as source, zipfile.ZipFile(shared / "model.keras", "w") as target:
        for item in source.namelist():
            data = source.read(item)
            if item == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["module"] = "os"
                config["config"]["layers"][1]["class_name"] = "system"
                data = json.dumps(config).encode()
            target.writestr(item, data)
    result = runner.invoke(app, ["evaluate", str(shared)])
    assert result.exit_code == 2 and "system (from os)" in result.output


def test_evaluate_reloads_a_run_and_matches_its_metrics(trained_run, runner):
    result = runner.invoke(app, ["evaluate", str(trained_run)])
    assert result.exit_code == 0, result.output
    recorded = json.loads((trained_run / "metrics.json").read_text())
    assert f"{recorded['test']['accuracy']:.4f}" in result.output
    rows = [line.split() for line in result.output.splitlines() if "│ test" in line and "accuracy" in line]
    assert rows and rows[0][5] == rows[0][7]  # now == metrics.json


def interrupted_run(write_spec, tmp_path, runner, monkeypatch, at_epoch: int, **training) -> Path:
    """A run interrupted by Ctrl-C right after epoch `at_epoch`'s resume point was written."""
    from regexp.trial.resume_point import ResumePoint

    spec = write_spec(merged(TINY, training={"epochs": 6, **training}))
    original = ResumePoint.on_epoch_end

    def interrupt(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 == at_epoch:
            self.write()
            raise KeyboardInterrupt
    monkeypatch.setattr(ResumePoint, "on_epoch_end", interrupt)
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"]).exit_code == 130
    monkeypatch.setattr(ResumePoint, "on_epoch_end", original)
    (run,) = (tmp_path / "runs").iterdir()
    return run


@pytest.mark.parametrize("schedule", [None, {"name": "exponential", "decay_rate": 0.5}])
def test_resume_set_lowers_the_learning_rate_mid_run_and_records_it(write_spec, tmp_path, runner, monkeypatch,
                                                                    schedule):
    """The notes' babysitting: watch a run, stop it, continue at a lower rate."""
    run = interrupted_run(write_spec, tmp_path, runner, monkeypatch, 3,
                          optimizer={"learning_rate": 0.01}, lr_schedule=schedule)
    result = runner.invoke(app, ["resume", str(run), "-q", "--set", "training.optimizer.learning_rate=0.001",
                                 "--set", "training.epochs=8"])
    assert result.exit_code == 0, result.output
    record = read_run(run)
    lrs = [row["lr"] for row in record.history]
    assert len(lrs) == 8
    decay = [1.0, 0.5, 0.25, 0.125, 0.0625] if schedule else [1.0] * 5
    assert lrs[:3] == pytest.approx([0.01 * d for d in decay[:3]])
    # the schedule goes on from a0 = 0.001
    assert lrs[3:] == pytest.approx([0.001 * (0.5 ** e if schedule else 1) for e in range(3, 8)])
    (entry,) = record.info.resumed
    assert entry.at_epoch == 3 and entry.changes == {"training.optimizer.learning_rate": {"from": 0.01, "to": 0.001},
                                                     "training.epochs": {"from": 6, "to": 8}}
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["optimizer"]["learning_rate"] == 0.01
    assert "training.optimizer.learning_rate: 0.01 -> 0.001" in (run / "log.txt").read_text()


@pytest.mark.parametrize("change, fragment", [
    ("model.defaults.dropout=0.5", "it changes the network"),
    ("data.split.val=0.3", "it changes the samples and the split"),
    ("training.batch_size=8", "it can change only between runs"),
    ("training.epochs=2", "the run has already trained 3 epochs"),
])
def test_resume_set_refuses_what_cannot_change_mid_run(write_spec, tmp_path, runner, monkeypatch, change, fragment):
    run = interrupted_run(write_spec, tmp_path, runner, monkeypatch, 3)
    result = runner.invoke(app, ["resume", str(run), "--set", change])
    assert result.exit_code == 2 and fragment in " ".join(result.output.split()), result.output
    assert read_run(run).status == "interrupted" and read_run(run).info.resumed == []
