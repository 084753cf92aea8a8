"""Reliability round 2: one process per sweep, control characters, report over odd runs folders."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from regexp.cli import app
from regexp.sweep.lock import STALE_S, SweepLock

from conftest import TINY, merged
from runfolders import dead_pid, make_run


def sweep_spec(write_spec, epochs=1, repeat=2):
    return write_spec(merged(TINY, repeat=repeat, training={"epochs": epochs}))


def lock_path(runs: Path) -> Path:
    (found,) = runs.glob(".*_sweep.lock")
    return found


def write_lock(runs: Path, spec: Path, **holder) -> Path:
    from regexp.spec import load_spec
    from regexp.sweep.identity import sweep_hash

    loaded = load_spec(spec)
    path = SweepLock(runs, loaded.spec.name, sweep_hash(loaded)).path
    runs.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"since": "2026-11-01T00:00:00Z", "token": "x", **holder}))
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# ------------------------------------------------------------------------------- one process per sweep
def test_a_second_invocation_of_a_running_sweep_refuses_and_names_the_holder(write_spec, tmp_path, runner):
    """Two real processes: the second refuses at once; the first runs every trial exactly once."""
    spec = sweep_spec(write_spec, epochs=30, repeat=3)
    runs = tmp_path / "runs"
    first = subprocess.Popen([sys.executable, "-m", "regexp", "sweep", str(spec), "--runs-dir", str(runs),
                              "--workers", "1", "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not list(runs.glob(".*_sweep.lock")) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(runs), "--workers", "1", "-q"])
    output = first.communicate(timeout=300)[0]
    assert first.returncode == 0, output
    assert second.exit_code == 2, second.output
    text = " ".join(second.output.split())
    assert f"pid {first.pid} on {socket.gethostname()} since" in text and "is already running" in text
    assert "Traceback" not in second.output
    runs_made = [p for p in runs.iterdir() if p.is_dir() and not p.name.endswith("_sweep")]
    assert len(runs_made) == 3  # every trial once: no copies for report to count as replicates
    (sweep,) = runs.glob("*_sweep")
    state = json.loads((sweep / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["completed"] * 3
    assert not list(runs.glob(".*_sweep.lock"))  # released


def test_a_lock_left_by_a_dead_process_is_taken_over(write_spec, tmp_path, runner):
    spec = sweep_spec(write_spec)
    runs = tmp_path / "runs"
    write_lock(runs, spec, pid=dead_pid(), host=socket.gethostname())
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(runs), "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert not list(runs.glob(".*_sweep.lock"))


def test_another_hosts_lock_counts_while_it_is_touched_and_is_stale_after(write_spec, tmp_path, runner):
    spec = sweep_spec(write_spec)
    runs = tmp_path / "runs"
    lock = write_lock(runs, spec, pid=1, host="some-other-node")
    args = ["sweep", str(spec), "--runs-dir", str(runs), "--workers", "1", "-q"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "on some-other-node" in refused.output
    assert not list(runs.glob("*_sweep"))  # nothing ran, nothing was created
    old = time.time() - STALE_S - 5  # its holder stopped touching it (the node died)
    os.utime(lock, (old, old))
    assert runner.invoke(app, args).exit_code == 0


def test_a_live_holder_on_this_host_is_respected(write_spec, tmp_path, runner):
    spec = sweep_spec(write_spec)
    runs = tmp_path / "runs"
    write_lock(runs, spec, pid=os.getpid(), host=socket.gethostname())
    result = runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(runs), "-q"])
    assert result.exit_code == 2 and f"pid {os.getpid()}" in result.output


def test_of_two_takers_of_a_stale_lock_one_wins(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    stale = SweepLock(runs, "x", "h").path
    stale.write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    outcomes, barrier = [], threading.Barrier(8)

    def take():
        barrier.wait()
        try:
            SweepLock(runs, "x", "h").acquire()
            outcomes.append("won")
        except Exception as exc:  # UserError: already running
            outcomes.append(type(exc).__name__)
    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("won") == 1 and set(outcomes) == {"won", "UserError"}


# ------------------------------------------------------------------------------- control characters
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
def test_a_control_character_in_a_spec_is_a_file_line_error(runner, tmp_path, char):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f'name: x\ndata: {{dataset: digits}}\nseed: "{char}"\n')
    for command in ("validate", "train"):
        result = runner.invoke(app, [command, str(spec), "--runs-dir", str(tmp_path / "runs")] if command == "train"
                               else [command, str(spec)])
        assert result.exit_code == 2, result.output
        assert f"{spec}:3: invalid YAML: control character U+{ord(char):04X} at column 8" in " ".join(
            result.output.split())
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "runs").exists()


def test_a_control_character_in_a_set_value_is_named_escaped(runner, write_spec):
    spec = write_spec(TINY)
    result = runner.invoke(app, ["validate", str(spec), "--set", "name=a\x00b"])
    assert result.exit_code == 2
    assert "--set name=a\\x00b: invalid YAML: control character U+0000" in result.output


# ------------------------------------------------------------------------------- report over odd folders
def test_report_on_ten_thousand_entries_some_not_runs(runner, tmp_path):
    runs = tmp_path / "runs"
    for seed in range(3):
        make_run(runs, f"r{seed}", seed=seed)
    for i in range(9_997):
        (runs / f"junk{i:05d}").mkdir() if i % 2 else (runs / f"file{i:05d}.txt").write_text("x")
    before = tree_digest(runs)
    result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["rows"][0]["n"] == 3
    assert any("9997 entries are not run folders" in w for w in data["warnings"])
    assert tree_digest(runs) == before  # nothing written


def test_report_on_a_read_only_runs_folder_writes_nothing(runner, tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "a", seed=0)
    make_run(runs, "b", seed=1, status="running", pid=dead_pid(), write=("run", "config", "history"))
    before = tree_digest(runs)
    for folder in [runs, *runs.iterdir()]:
        folder.chmod(0o555)
    try:
        for fmt in ("table", "json", "html"):
            result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", fmt])
            assert result.exit_code == 0 and "Traceback" not in result.output
    finally:
        for folder in [runs, *runs.iterdir()]:
            folder.chmod(0o755)
    assert tree_digest(runs) == before


def test_report_while_runs_are_being_written_and_removed(runner, tmp_path, monkeypatch):
    """Files appear, vanish and are rewritten between listing and reading: exit 0 every time."""
    import regexp.report.index as report_module  # where a report over a runs folder reads each folder

    runs = tmp_path / "runs"
    for seed in range(6):
        make_run(runs, f"r{seed}", seed=seed)
    real_read = report_module.read_run

    def read_during_changes(path):
        if path.name == "r1":  # deleted after listing
            for f in path.iterdir():
                f.unlink()
            path.rmdir()
        if path.name == "r2":  # only config.yaml so far: run.json comes next
            (path / "run.json").unlink()
            (path / "metrics.json").unlink()
        if path.name == "r3":  # run.json rewritten mid-read (a writer without atomic rename)
            (path / "run.json").write_text('{"status": "comp')
        return real_read(path)
    monkeypatch.setattr(report_module, "read_run", read_during_changes)
    result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "json", "--no-groups"])
    assert result.exit_code == 0, result.output
    status = {row["id"]: row["status"] for row in json.loads(result.stdout)["rows"]}
    assert status["r0"] == "completed" and status["r2"] == "incomplete" and status["r3"] == "incomplete"


def test_report_alongside_a_live_writer(runner, tmp_path):
    """A thread keeps rewriting run.json (atomically) and appending history while report reads."""
    runs = tmp_path / "runs"
    for seed in range(3):
        make_run(runs, f"r{seed}", seed=seed)
    live = make_run(runs, "live", seed=9, status="running", write=("run", "config", "history"))
    stop = threading.Event()

    def write():
        epoch = 4
        from regexp.store.folders import write_json

        while not stop.is_set():
            info = json.loads((live / "run.json").read_text())
            write_json(live / "run.json", {**info, "duration_s": float(epoch)})
            with (live / "history.csv").open("a") as f:
                f.write(f"{epoch},0.1,0.9,0.2,0.8,0.001,0.1\n")
            epoch += 1
    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(15):
            result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "json"])
            assert result.exit_code == 0, result.output
    finally:
        stop.set()
        writer.join()


# ------------------------------------------------------------------------------- a damaged resume point
@pytest.mark.parametrize("state, fragment", [({}, "a damaged resume point"), ([1], "a damaged resume point"),
                                             ({"epoch": 2, "weights": "../../etc/passwd"}, "a damaged resume point"),
                                             ({"epoch": 2, "weights": "epoch-2.weights.h5"}, "epoch-2.weights.h5 is "
                                                                                             "missing")])
def test_a_damaged_resume_point_is_refused_before_anything_changes(trained_run, tmp_path, runner, state, fragment):
    """Found by the fuzzer: a bad checkpoint/state.json used to end `regexp resume` in a TypeError."""
    import shutil

    run = tmp_path / trained_run.name
    shutil.copytree(trained_run, run)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "state.json").write_text(json.dumps(state))
    before = tree_digest(run)
    result = runner.invoke(app, ["resume", str(run), "-q"])
    assert result.exit_code == 2 and fragment in " ".join(result.output.split()), result.output
    assert "delete" in result.output and tree_digest(run) == before


def test_a_unicode_digit_in_a_set_key_is_a_key_not_an_index(runner, write_spec):
    """Found by the fuzzer: '¹'.isdigit() is True but int('¹') fails; it was a ValueError traceback."""
    spec = write_spec(TINY)
    result = runner.invoke(app, ["validate", str(spec), "--set", "model.layers.¹.units=3"])
    assert result.exit_code == 2 and "model.layers.¹: no such list item" in result.output
