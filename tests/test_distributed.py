"""Beyond one device and one machine: tf.distribute for one training, Ray for a sweep.

Both run for real: MirroredStrategy over the host CPU split into 2 logical devices, and a local
Ray instance with 2 CPUs.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from regexp.store.folders import read_run

from conftest import REPO, TINY, merged

TWO_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from regexp.cli import app
app(sys.argv[1:])
"""


def cli(*args, code: str | None = None, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "regexp", *args]
    return subprocess.run(command, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def test_mirrored_training_on_two_logical_cpus_matches_one_device(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(merged(TINY, data={"dataset": "digits"}, model={"layers": [{"type": "dense",
                                                                                               "units": 32}]},
                                          training={"epochs": 12, "batch_size": 32})))
    one = cli("train", str(spec), "--runs-dir", str(tmp_path / "one"), "-q")
    two = cli("train", str(spec), "--set", "training.distribute=mirrored", "--runs-dir", str(tmp_path / "two"), "-q",
              code=TWO_CPUS)
    assert one.returncode == 0 and two.returncode == 0, one.stdout + one.stderr + two.stdout + two.stderr
    (single,), (mirrored,) = (list((tmp_path / d).iterdir()) for d in ("one", "two"))
    info = json.loads((mirrored / "run.json").read_text())
    assert info["distribute"] == {"strategy": "mirrored", "replicas": 2}
    assert json.loads((single / "run.json").read_text())["distribute"] == {"strategy": "none", "replicas": 1}
    accuracy = [json.loads((run / "metrics.json").read_text())["test"]["accuracy"] for run in (single, mirrored)]
    assert accuracy[0] > 0.9 and abs(accuracy[0] - accuracy[1]) < 0.04, accuracy  # same global batch: seed noise only


def tf_config(workers: int) -> str:
    ports = []
    for _ in range(workers):
        with socket.socket() as free:
            free.bind(("localhost", 0))
            ports.append(free.getsockname()[1])
    return json.dumps({"cluster": {"worker": [f"localhost:{port}" for port in ports]}, "task": {"type": "worker",
                                                                                                "index": 0}})


def test_multi_worker_trains_on_the_tf_config_cluster_and_refuses_one_keras_cannot_fit(tmp_path, write_spec):
    spec = write_spec(merged(TINY, training={"distribute": "multi_worker", "epochs": 3}))
    one = cli("train", str(spec), "--runs-dir", str(tmp_path / "one"), "-q", env={"TF_CONFIG": tf_config(1)})
    assert one.returncode == 0, one.stdout + one.stderr
    (run,) = (tmp_path / "one").iterdir()
    assert json.loads((run / "run.json").read_text())["distribute"] == {"strategy": "multi_worker", "replicas": 1}

    two = cli("train", str(spec), "--runs-dir", str(tmp_path / "two"), "-q", env={"TF_CONFIG": tf_config(2)})
    assert two.returncode == 2 and "Traceback" not in two.stderr
    assert "spec.yaml:" in two.stderr and "training.distribute: multi_worker: TF_CONFIG names 2 workers" in two.stderr
    assert "keras-team/keras#20585" in two.stderr and "mirrored" in two.stderr
    assert not (tmp_path / "two").exists()  # refused before a run folder was made


def test_without_ray_the_ray_executor_says_how_to_install_it(runner, write_spec, monkeypatch):
    from regexp.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    result = runner.invoke(app, ["sweep", str(write_spec(merged(TINY, repeat=2))), "--executor", "ray"])
    assert result.exit_code == 2 and "pip install 'regexp[ray]'" in result.output


def sweep_spec(tmp_path: Path, training: dict, **extra) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(merged(TINY, training=training, **extra)))
    return spec


def test_a_ray_sweep_runs_every_trial_and_survives_a_failing_trial_and_a_killed_worker(tmp_path):
    # four points: one diverges (failed, recorded), the others train; one worker is killed mid-trial
    spec = sweep_spec(tmp_path, {"epochs": 60, "optimizer": {"name": "sgd"}},
                      search={"params": {"training.optimizer.learning_rate": [0.01, 0.03, 1.0e9, 0.1]}})
    runs = tmp_path / "runs"
    sweep = subprocess.Popen([sys.executable, "-m", "regexp", "sweep", str(spec), "--executor", "ray",
                              "--workers", "2", "--runs-dir", str(runs), "-q", "--max-failures", "3"],
                             cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    victim = None
    deadline = time.monotonic() + 240
    while victim is None and time.monotonic() < deadline:
        for run_json in runs.glob("*/run.json"):
            info = json.loads(run_json.read_text())
            history = run_json.parent / "history.csv"
            if info["status"] == "running" and history.exists() and len(history.read_text().splitlines()) > 3:
                victim = run_json.parent
                os.kill(info["pid"], signal.SIGKILL)
                break
        time.sleep(0.2)
    output, _ = sweep.communicate(timeout=400)
    assert victim is not None, output
    (folder,) = runs.glob("*_sweep")
    state = json.loads((folder / "sweep.json").read_text())
    statuses = sorted(t["status"] for t in state["trials"])
    assert statuses == ["completed", "completed", "completed", "failed"], output
    assert sweep.returncode == 1  # completed with failures
    (failed,) = [t for t in state["trials"] if t["status"] == "failed"]
    assert "non-finite loss" in failed["error"]
    assert read_run(victim).status == "crashed"  # the killed attempt; Ray retried the task in a new folder
    completed = [runs / t["run"] for t in state["trials"] if t["status"] == "completed"]
    assert victim not in completed and all(read_run(run).status == "completed" for run in completed)


def test_without_a_shared_filesystem_run_folders_travel_back(tmp_path):
    spec = sweep_spec(tmp_path, {"epochs": 2}, repeat=2)
    result = cli("sweep", str(spec), "--executor", "ray", "--no-shared-fs", "--runs-dir", str(tmp_path / "runs"), "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [p for p in (tmp_path / "runs").iterdir() if not p.name.endswith("_sweep")]
    assert len(runs) == 2 and all(read_run(run).status == "completed" for run in runs)
    assert all((run / "model.keras").exists() for run in runs)


def test_a_data_error_in_one_point_under_ray_fails_that_point_alone(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("a,b,target\n" + "".join(f"{i % 7 / 7},{i % 3 / 3},{int(i % 7 > 3)}\n" for i in range(60)))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(merged(TINY, data={"dataset": None, "path": str(table)}, training={"epochs": 2},
                                          search={"params": {"data.target": ["nosuchcolumn", "target"]}})))
    result = cli("sweep", str(spec), "--executor", "ray", "--workers", "2", "--runs-dir", str(tmp_path / "runs"),
                 "-q", "--pack", "off")
    assert result.returncode == 1, result.stdout + result.stderr  # completed with failures
    (folder,) = (tmp_path / "runs").glob("*_sweep")
    trials = {t["point"]["data.target"]: t for t in json.loads((folder / "sweep.json").read_text())["trials"]}
    assert trials["nosuchcolumn"]["status"] == "failed" and trials["nosuchcolumn"]["run"] is None
    assert "has no column 'nosuchcolumn'" in trials["nosuchcolumn"]["error"]
    assert trials["target"]["status"] == "completed"
