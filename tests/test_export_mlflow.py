"""`regexp export mlflow` against a real local tracking store (sqlite), read back with MlflowClient."""

import json
import shutil
import subprocess
import sys

import pytest

from regexp.cli import app
from regexp.store.folders import read_run

from runfolders import make_run

tracking = pytest.importorskip("mlflow.tracking")


def test_export_logs_params_history_tags_and_model_once(runner, trained_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is relative to the working directory
    runs = tmp_path / "runs"
    shutil.copytree(trained_run, runs / trained_run.name)
    make_run(runs, "r-running", status="running", pid=999999, seed=5)  # a crashed one: status crashed
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for attempt in range(2):
        result = runner.invoke(app, ["export", "mlflow", "--runs-dir", str(runs), "--tracking-uri", uri])
        assert result.exit_code == 0, result.output
        assert ("2 runs exported" if attempt == 0 else "0 runs exported, 0 replaced (their status changed), 2 already "
                                                       "there") in result.output

    client = tracking.MlflowClient(tracking_uri=uri)
    record = read_run(runs / trained_run.name)
    (exported,) = client.search_runs([client.get_experiment_by_name(record.name).experiment_id],
                                     filter_string=f"tags.`regexp.run_id` = '{record.id}'")
    assert exported.data.params["model.layers.0.units"] == "8" and exported.data.params["seed"] == str(record.seed)
    assert exported.data.tags["status"] == "completed" and exported.data.tags[
        "group"] == f"{record.name}@{record.info.spec_hash}"
    history = client.get_metric_history(exported.info.run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(int(r["epoch"]),
                                                     pytest.approx(r["val_loss"])) for r in record.history]
    assert exported.data.metrics["final/test_loss"] == pytest.approx(record.metrics.test["loss"])
    assert exported.info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(exported.info.run_id)] == ["model.keras"]

    crashed = read_run(runs / "r-running")
    assert crashed.status == "crashed"
    (old,) = client.search_runs([client.get_experiment_by_name("exp").experiment_id])
    assert old.data.tags["status"] == "crashed" and old.info.status == "FAILED"


def test_a_run_whose_status_changed_replaces_its_export(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    path = make_run(runs, "r1", status="interrupted")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert runner.invoke(app, ["export", "mlflow", "--runs-dir", str(runs), "--tracking-uri", uri]).exit_code == 0
    info = json.loads((path / "run.json").read_text())
    (path / "run.json").write_text(json.dumps({**info, "status": "completed"}))
    result = runner.invoke(app, ["export", "mlflow", "--runs-dir", str(runs), "--tracking-uri", uri])
    assert "1 replaced" in result.output
    client = tracking.MlflowClient(tracking_uri=uri)
    (only,) = client.search_runs([client.get_experiment_by_name("exp").experiment_id])  # deleted runs are not listed
    assert only.data.tags["status"] == "completed"


def test_export_does_not_import_tensorflow(tmp_path):
    make_run(tmp_path / "runs", "r1")
    code = ("import sys; from regexp.cli import app\n"
            f"app(['export', 'mlflow', '--runs-dir', {str(tmp_path / 'runs')!r}, '--tracking-uri', "
            f"{'sqlite:///' + str(tmp_path / 'm.db')!r}], standalone_mode=False)\n"
            "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
