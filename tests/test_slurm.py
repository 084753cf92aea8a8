"""`regexp sweep --executor slurm` against a real Slurm: the one-node cluster tests/slurm-cluster.sh
starts on this machine (slurmctld and slurmd on localhost, Debian's packages). Skipped, with the
script's reason, only where Slurm cannot be installed or started (not root, no apt-get)."""

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from regexp.cli import app
from regexp.store.folders import read_run

from conftest import REPO, TINY, merged

pytest.importorskip("submitit")
SLURM = {"cpus_per_task": 1, "time": "10"}  # two jobs at once on two cores, as two local workers


@pytest.fixture(scope="module", autouse=True)
def cluster():
    started = subprocess.run(["bash", str(REPO / "tests" / "slurm-cluster.sh")], capture_output=True, text=True,
                             timeout=600)
    if started.returncode != 0:
        pytest.skip(f"no Slurm here: {started.stderr.strip().splitlines()[-1:] or started.returncode}")


def write(tmp_path: Path, **sections) -> Path:
    spec = tmp_path / "spec.yaml"
    tmp_path.mkdir(exist_ok=True)
    spec.write_text(yaml.safe_dump(merged(TINY, slurm=SLURM, **sections), sort_keys=False))
    return spec


def sweep_folder(runs: Path) -> tuple[Path, dict]:
    (folder,) = runs.glob("*_sweep")
    return folder, json.loads((folder / "sweep.json").read_text())


def trained(runs: Path) -> dict[str, dict]:
    """{trial key: what its completed run folder holds}, every trial exactly once."""
    out = {}
    for run in sorted(p for p in runs.iterdir() if (p / "run.json").is_file()):
        record = read_run(run)
        if record.status == "completed":
            assert record.info.trial not in out, f"{record.info.trial} completed twice"
            history = [{k: v for k, v in row.items() if k != "seconds"} for row in record.history]
            out[record.info.trial] = {"config": (run / "config.yaml").read_text(), "history": history,
                                      "metrics": json.loads((run / "metrics.json").read_text())["test"]}
    return out


def slurm_jobs(runs: Path) -> set[str]:
    """The job arrays this sweep submitted (submitit's job files, named by job id)."""
    return {p.name.split("_")[0] for folder in runs.glob(".*_slurm") for p in folder.glob("*_submitted.pkl")}


def test_a_packed_grid_and_a_decide_sweep_through_slurm_match_the_local_executor(tmp_path, runner):
    grid = write(tmp_path / "grid", name="slurm-grid", data={"dataset": "digits"}, repeat=2,
                 training={"epochs": 2, "batch_size": 64},
                 search={"params": {"model.defaults.dropout": [0.0, 0.2, 0.4]}})
    decide = write(tmp_path / "decide", name="slurm-decide", training={"epochs": 4}, search={
        "method": "grid", "params": {"training.optimizer.learning_rate": [1.0e-5, 0.05]}}, decide={
        "baseline": "learning_rate=0.05", "metric": "val_loss", "margin": 0.01, "batch": 6, "max_seeds": 6})
    for spec in (grid, decide):
        swept = {}
        for executor in ("local", "slurm"):
            runs = spec.parent / executor
            result = runner.invoke(app, ["sweep", str(spec), "--executor", executor, "--workers", "2",
                                         "--runs-dir", str(runs)])
            assert result.exit_code == 0, result.output
            swept[executor] = (sweep_folder(runs)[1], trained(runs))
        (local, local_runs), (slurm, slurm_runs) = swept["local"], swept["slurm"]
        assert "slurm: job array" in result.output and "2 packs of" in result.output
        assert slurm_runs == local_runs and len(slurm_runs) == len(slurm["trials"])  # configs, histories, metrics
        assert [(t["key"], t["status"], t["objective"]) for t in slurm["trials"]] == \
               [(t["key"], t["status"], t["objective"]) for t in local["trials"]]
        if spec == decide:
            arms = [[(a["verdict"], a["seeds"], a["look"]) for a in s["decide"]["arms"]] for s in (local, slurm)]
            assert arms[0] == arms[1] == [("worse", 6, 1)]
            assert "worse after 6 seeds" in runner.invoke(app, ["report", "--runs-dir", str(spec.parent /
                                                                                            "slurm")]).output


def test_a_cancelled_job_is_submitted_again_and_the_sweep_completes_without_duplicates(tmp_path, runner):
    spec = write(tmp_path, name="slurm-cancel", data={"dataset": "digits"}, repeat=2,
                 training={"epochs": 80, "batch_size": 64}, search={"params": {"model.defaults.dropout": [0.0, 0.2]}})
    runs = tmp_path / "runs"
    sweep = start(spec, runs)
    victim = wait_for(lambda: next(iter(running_runs(runs, rows=3)), None))
    job = job_of(victim)
    subprocess.run(["scancel", job], check=True)
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output
    assert f"slurm: job {job} ended before its trials did (its trials interrupted (SIGTERM)): submitted again " \
           "(attempt 2 of 4)" in output
    assert read_run(victim).status == "interrupted" and (victim / "checkpoint").is_dir()  # its resume point
    _, state = sweep_folder(runs)
    assert [t["status"] for t in state["trials"]] == ["completed"] * 4
    assert set(trained(runs)) == {t["key"] for t in state["trials"]}  # each trial completed once


def test_the_same_command_after_the_sweep_process_died_adopts_its_jobs(tmp_path):
    spec = write(tmp_path, name="slurm-adopt", data={"dataset": "digits"}, repeat=2,
                 training={"epochs": 30, "batch_size": 64}, search={"params": {"model.defaults.dropout": [0.0, 0.2]}})
    runs = tmp_path / "runs"
    sweep = start(spec, runs)
    wait_for(lambda: running_runs(runs, rows=1))
    submitted = slurm_jobs(runs)
    sweep.kill()  # SIGKILL: the sweep process dies, its jobs go on
    sweep.wait()
    # hold the job in flight (suspended) until the new process says it waits for it: a job that ends
    # before the command is run again leaves nothing to adopt, and the test would ask nothing
    scontrol("suspend", submitted)
    guard = threading.Timer(120, scontrol, ("resume", submitted))  # should the line below never come
    guard.start()
    again = start(spec, runs)
    lines = []
    for line in again.stdout:
        lines.append(line)
        if "that an earlier run of this sweep submitted" in line:
            scontrol("resume", submitted)
    again.wait(timeout=300)
    output = "".join(lines)
    guard.cancel()
    scontrol("resume", submitted)  # whatever happened above, leave no job suspended
    assert again.returncode == 0, output
    assert re.search(r"slurm: waiting for [12] jobs? that an earlier run of this sweep submitted", output), output
    assert slurm_jobs(runs) == submitted and len(submitted) == 1  # nothing was submitted again
    _, state = sweep_folder(runs)
    assert [t["status"] for t in state["trials"]] == ["completed"] * 4 and len(trained(runs)) == 4


def test_a_partition_slurm_does_not_know_is_one_error_naming_it(tmp_path, runner):
    spec = write(tmp_path, name="slurm-bad", repeat=2)
    result = runner.invoke(app, ["sweep", str(spec), "--executor", "slurm", "--set", "slurm.partition=nosuchpart",
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sbatch refuses this sweep's jobs (partition=nosuchpart" in result.output
    assert "invalid partition specified: nosuchpart" in result.output
    assert not (tmp_path / "runs").exists()  # refused before the sweep began


def scontrol(action: str, jobs: set[str]) -> None:
    for job in jobs:
        subprocess.run(["scontrol", action, job], capture_output=True, timeout=30)


def start(spec: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "regexp", "sweep", str(spec), "--executor", "slurm", "--workers",
                             "2", "--runs-dir", str(runs)], cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(found, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def running_runs(runs: Path, rows: int) -> list[Path]:
    """Run folders training now with at least `rows` epochs in their history."""
    return [run.parent for run in runs.glob("*/run.json") if json.loads(run.read_text())["status"] == "running"
            and (run.parent / "history.csv").is_file()
            and len((run.parent / "history.csv").read_text().splitlines()) > rows]


def job_of(run: Path) -> str:
    """The Slurm job (array_task) whose process trains `run`, from that process's environment."""
    environ = Path(f"/proc/{read_run(run).info.pid}/environ").read_bytes().split(b"\0")
    variables = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
    return f"{variables['SLURM_ARRAY_JOB_ID']}_{variables['SLURM_ARRAY_TASK_ID']}"
