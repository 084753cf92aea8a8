"""`regexp export mlflow`: run folders into an MLflow tracking store, with MLflow's own client.

Each run folder becomes one MLflow run in the experiment named after its spec:
  params   the resolved config, flattened to dotted keys (model.defaults.l2 = 0.001);
  metrics  every history.csv column per epoch (step = epoch) and metrics.json's final values
           as final/train_loss, final/test_accuracy, ...;
  tags     status, seed, group (<name>@<spec hash>, the report's group), sweep (the parent folder),
           and regexp.run_id, the folder name;
  artifact model.keras.
Idempotent: a folder already exported with the same status is skipped; one whose status changed
since (a running run that completed) replaces its earlier export. No TensorFlow here.
"""

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from regexp.errors import UserError
from regexp.store.contract import Status
from regexp.store.folders import RunRecord

RUN_ID_TAG = "regexp.run_id"
# a pruned run ended as its sweep's search.halving planned: FINISHED, its tag `status` says pruned
MLFLOW_STATUS = {Status.COMPLETED: "FINISHED", Status.PRUNED: "FINISHED", Status.FAILED: "FAILED",
                 Status.INTERRUPTED: "KILLED", Status.CRASHED: "FAILED"}


@dataclass
class Exported:
    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def flatten(config: Any, prefix: str = "") -> dict[str, str]:
    """{"model": {"layers": [{"units": 64}]}} -> {"model.layers.0.units": "64"}; MLflow params are strings."""
    if isinstance(config, dict):
        return {k: v for key, value in config.items() for k, v in flatten(value, f"{prefix}{key}.").items()}
    if isinstance(config, list) and config and all(isinstance(v, dict) for v in config):
        return {k: v for i, value in enumerate(config) for k, v in flatten(value, f"{prefix}{i}.").items()}
    return {prefix[:-1]: str(config)}


def export(runs: list[RunRecord], tracking_uri: str) -> Exported:
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UserError("regexp export mlflow needs MLflow: pip install 'regexp[mlflow]'") from None
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its "creating tables" notes are not the user's business
    client = MlflowClient(tracking_uri=tracking_uri)
    done = Exported()
    for run in runs:
        experiment = client.get_experiment_by_name(run.name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(run.name)
        status = str(run.status)
        earlier = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run.id}'")
        if earlier and all(r.data.tags.get("status") == status for r in earlier):
            done.skipped.append(run.id)
            continue
        for old in earlier:
            client.delete_run(old.info.run_id)
        started = _millis(run.info.started)
        mlflow_run = client.create_run(experiment_id, start_time=started, run_name=run.id)
        run_id = mlflow_run.info.run_id
        tags = {RUN_ID_TAG: run.id, "status": status, "seed": str(run.seed),
                "group": f"{run.name}@{run.info.spec_hash}",
                "sweep": run.info.parent or "", **git_tags(run)}
        metrics = [Metric(key, float(value), started, int(row["epoch"])) for row in run.history
                   for key, value in row.items() if key != "epoch" and value is not None]
        if run.metrics is not None:
            metrics += [Metric(f"final/{part}_{name}", float(value), started, 0)
                        for part in ("train", "val", "test") for name, value in run.metrics.part(part).items()]
        params = [Param(key, value[:6000]) for key, value in flatten(run.config).items()]
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        for i in range(0, len(params), 100):  # MLflow's log_batch takes at most 100 params ...
            client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):  # ... and 1000 metrics per call
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        if (run.path / "model.keras").is_file():
            client.log_artifact(run_id, str(run.path / "model.keras"))
        if status in MLFLOW_STATUS:  # a running run stays RUNNING until exported again
            client.set_terminated(run_id, MLFLOW_STATUS[status], end_time=_millis(run.info.ended))
        (done.replaced if earlier else done.created).append(run.id)
    return done


def _millis(iso: str | None) -> int:
    from datetime import datetime

    if not iso:
        return int(time.time() * 1000)
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def git_tags(run: RunRecord) -> dict[str, str]:
    """MLflow's own source tags from run.json provenance (mlflow.source.git.commit, ...), plus the dirty flag."""
    p = run.info.provenance
    if p is None or p.commit is None:
        return {}
    tags = {"mlflow.source.git.commit": p.commit, "regexp.spec_dirty": str(bool(p.dirty)).lower(),
            "regexp.data": p.data or ""}
    if p.branch:
        tags["mlflow.source.git.branch"] = p.branch
    return tags
