"""Synthetic run folders written exactly as SPEC.md describes them (no TensorFlow needed)."""

import csv
import json
import os
import socket
from pathlib import Path

import yaml

BASE_CONFIG = {
    "name": "exp", "description": "", "tags": ["t1"], "seed": 0,
    "data": {"dataset": "digits", "split": {"train": 0.6, "val": 0.2, "test": 0.2, "stratify": True}},
    "model": {"defaults": {"dropout": 0.0, "l2": 0.0}, "layers": [{"type": "dense", "units": 8, "dropout": 0.0,
                                                                   "l2": 0.0}]},
    "training": {"epochs": 3, "optimizer": {"name": "adam", "learning_rate": 0.001}, "metrics": ["accuracy"]},
}


def make_run(runs_dir: Path, run_id: str, *, seed: int = 0, dropout: float = 0.0, name: str = "exp",
             status: str = "completed", val_accuracy: float = 0.9, val_loss: float = 0.3, epochs: int = 3,
             started: str | None = None, pid: int | None = None, tags=("t1",), write=("run", "config", "metrics",
                                                                                      "history"),
             fold: int | None = None, parent: str | None = None, l2: float = 0.0, trial: str | None = None,
             sizes: dict | None = None, test_accuracy: float | None = None, test_loss: float | None = None,
             stopped: tuple[int, int] | None = None, early_stopping: bool = False) -> Path:
    """`sizes` {train, val, test}: samples per part (metrics.json's, which resolution is derived from);
    test_accuracy and test_loss default to val_accuracy - 0.01 and val_loss + 0.05.
    `stopped`: (epochs run, best epoch) of a run that early stopping ended before `epochs`; its
    history has that many rows, its metrics say early_stopped (weights of the best epoch kept).
    `early_stopping`: the config has training.early_stopping (implied by `stopped`; give it to the
    seeds of a group that ran to the end, so that they group with those that stopped)."""
    path = runs_dir / run_id
    path.mkdir(parents=True)
    config = json.loads(json.dumps(BASE_CONFIG))
    config.update(name=name, seed=seed, tags=list(tags))
    config["model"]["defaults"]["dropout"] = dropout
    config["model"]["layers"][0]["dropout"] = dropout
    config["model"]["defaults"]["l2"] = config["model"]["layers"][0]["l2"] = l2
    if fold is not None:
        config["cv"] = {"folds": 3, "stratify": True, "fold": fold}
    history = [{"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + 0.1 * e, "val_loss": val_loss + 0.1 * (epochs - e),
                "val_accuracy": val_accuracy - 0.01 * (epochs - e), "lr": 0.001, "seconds": 0.1}
               for e in range(1, epochs + 1)]
    ran, best = stopped or (epochs, epochs)
    history = history[:ran]
    if stopped or early_stopping:
        config["training"]["early_stopping"] = {"patience": 2, "restore_best_weights": True}
    if "run" in write:
        info = {"id": run_id, "name": name, "status": status,
                "started": started or f"2026-11-01T00:00:{seed:02d}.000+00:00",
                "ended": None, "duration_s": 10.0 + seed, "seed": seed, "host": socket.gethostname(),
                "pid": pid if pid is not None else os.getpid(), "error": "boom" if status == "failed" else None,
                "parent": parent, "trial": trial}
        (path / "run.json").write_text(json.dumps(info))
    if "config" in write:
        (path / "config.yaml").write_text(yaml.safe_dump(config))
    if "metrics" in write and status == "completed":
        metrics = {"train": {"loss": 0.1, "accuracy": 0.99}, "val": {"loss": val_loss, "accuracy": val_accuracy},
                   "test": {"loss": val_loss + 0.05 if test_loss is None else test_loss,
                            "accuracy": val_accuracy - 0.01 if test_accuracy is None else test_accuracy},
                   "best_epoch": best, "stopped_epoch": ran, "epochs_run": ran, "early_stopped": bool(stopped),
                   "directions": {"loss": "min", "accuracy": "max"}, **({"sizes": sizes} if sizes else {})}
        (path / "metrics.json").write_text(json.dumps(metrics))
    if "history" in write:
        with (path / "history.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    return path


def dead_pid() -> int:
    """A pid that is not running (the highest pid number is far above any live one here)."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


# ------------------------------------------------------------------ a decide: sweep on fake run folders
class FakeRunner:
    """Trains a `decide:` sweep's trials by writing their run folders: value(point, seed) is the
    `column` (val_loss, val_accuracy, test_accuracy or test_loss), or a dict of several of them;
    `sizes` is metrics.json's; `stop_after` trials in, it raises KeyboardInterrupt as Ctrl-C would."""

    console = needed = None

    def __init__(self, sweep, value, stop_after: int | None = None, column: str = "val_loss",
                 sizes: dict | None = None):
        self.sweep, self.value, self.stop_after, self.trained = sweep, value, stop_after, []
        self.column, self.sizes = column, sizes

    def step(self, trials, what=None, outlook=None):
        """The real runner's: plan the trials into the sweep, train those not done."""
        from regexp.sweep.runner import _Runner

        _Runner.step(self, trials, what, outlook)

    def run(self, trials, metric, outlook=None):
        from regexp.store.contract import Status

        for trial in trials:
            if self.stop_after is not None and len(self.trained) >= self.stop_after:
                raise KeyboardInterrupt("Ctrl-C")
            point = dict(trial.point)
            name = f"{trial.key}_run"
            value = self.value(point, trial.seed)
            make_run(self.sweep.path.parent, name, seed=trial.seed, dropout=point["model.defaults.dropout"],
                     l2=point["model.defaults.l2"], **(value if isinstance(value, dict) else {self.column: value}),
                     parent=self.sweep.id, trial=trial.key, sizes=self.sizes)
            objective = value.get(self.sweep.state.objective.metric) if isinstance(value, dict) else (
                value if self.column == self.sweep.state.objective.metric else None)
            self.sweep.record([(trial, {"status": Status.COMPLETED, "run": name, "objective": objective})])
            self.trained.append(trial.key)


def noise(point, seed, sd):
    """A reproducible draw per (arm, seed)."""
    import numpy as np

    key = int(point["model.defaults.dropout"] * 10) * 7 + int(point["model.defaults.l2"] * 1e4)
    return float(np.random.default_rng([key, seed]).normal(0, sd))


def looks(tmp_path, spec_file, value, stop_after=None, **runner):
    """Every look of the spec's `decide:` on fake runs in tmp_path/runs: (the Sweep, the FakeRunner)."""
    from regexp.spec import load_spec
    from regexp.sweep import decide
    from regexp.sweep.state import Sweep

    loaded = load_spec(spec_file)
    sweep = Sweep.open(loaded, [], tmp_path / "runs", None)
    runner = FakeRunner(sweep, value, stop_after, **runner)
    decide.run_looks(sweep, runner, load_spec(sweep.spec_file), console=None)
    return sweep, runner


def pack_task(spec_file, arms: list[list[str]], runs_dir, *, parent: str = "test", metric: str = "val_loss",
              pack_id: str = "p", halving=None, points: list[str] | None = None):
    """The pack task a sweep would hand an executor: one trial per override list, keyed trial0, trial1, ..."""
    from regexp.trial.task import Task, TaskTrial

    points = points or [f"point{i}" for i in range(len(arms))]
    return Task(str(spec_file), str(runs_dir), parent, metric,
                tuple(TaskTrial(f"trial{i}", tuple(arm), point) for i, (arm, point) in enumerate(zip(arms, points))),
                pack_id=pack_id, halving=halving)
