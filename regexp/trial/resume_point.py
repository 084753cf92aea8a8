"""Resume points: what `regexp resume` needs to continue a run from its last completed epoch.

`checkpoint/` in the run folder holds `state.json` (the epoch, the early-stopping and plateau
counters) and the weights of that epoch, model and optimizer together (`model.save_weights`
includes the optimizer's variables). Weights go to a file named by the epoch and state.json,
written atomically last, points to it, so a kill at any moment leaves a consistent pair. `save`
writes that format for a trial alone (ResumePoint below) and for a slice of a pack alike.

Writing weights takes about 15 ms, a noticeable share of a small model's epoch, so a trial alone
writes them at most every REGEXP_CHECKPOINT_SECONDS (default 10) and when it is interrupted (from
a copy taken at the end of every epoch): Ctrl-C loses at most the epoch in progress, kill -9 at
most that many seconds. Keras's BackupAndRestore writes every epoch and keeps no callback state,
hence this class.
"""

import os
import time
from pathlib import Path

import keras
import numpy as np
from pydantic import ValidationError

from regexp.errors import SpecError
from regexp.store.contract import ResumeState
from regexp.store.folders import write_json

FOLDER = "checkpoint"
EVERY_S = float(os.environ.get("REGEXP_CHECKPOINT_SECONDS", "10"))
# Keras callbacks whose counters must survive a resume (both reset them in on_train_begin)
COUNTERS = {keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch"),
            keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter")}


def read_state(run_path: Path) -> dict | None:
    """The last resume point of a run, or None when it never wrote one (resume then starts at epoch 1).
    A damaged one is refused before anything changes: resuming from it would train the wrong weights."""
    path = run_path / FOLDER / "state.json"
    if not path.exists():
        return None
    try:
        state = ResumeState.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        problem = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else type(exc).__name__
        raise SpecError(f"{path}: a damaged resume point ({problem}); delete {path.parent} to train the run again "
                        "from epoch 1") from None
    for name in (state.weights, state.best_weights):
        if name is not None and not (path.parent / name).is_file():
            raise SpecError(f"{path}: its weights file {name} is missing; delete {path.parent} to train the run "
                            "again from epoch 1")
    return state.model_dump()


def save(run_path: Path, model: keras.Model, epoch: int, counters: dict,
         best: tuple[int, list[np.ndarray]] | None = None) -> None:
    """Write a resume point: `model` (compiled, its optimizer built) holds the weights after `epoch`;
    `counters` are the callbacks' by class name; `best` is early stopping's (0-based epoch, get_weights())."""
    folder = run_path / FOLDER
    folder.mkdir(exist_ok=True)
    weights = f"epoch-{epoch}.weights.h5"
    model.save_weights(folder / weights)
    best_name = None
    if best is not None:
        best_name = f"best-{best[0] + 1}.npz"
        if not (folder / best_name).exists():  # written once per best epoch, renamed into place
            tmp = folder / f".{best_name}.tmp"
            with tmp.open("wb") as f:
                np.savez(f, **{f"w{i}": w for i, w in enumerate(best[1])})
            os.replace(tmp, folder / best_name)
    write_json(folder / "state.json",
               ResumeState(epoch=epoch, weights=weights, counters=counters, best_weights=best_name).model_dump())
    for old in folder.iterdir():  # older resume points, once state.json no longer names them
        if old.name not in ("state.json", weights, best_name):
            old.unlink(missing_ok=True)


class ResumePoint(keras.callbacks.Callback):
    """Last of the callbacks: saves resume points, and restores one when `state` is given."""

    def __init__(self, run_path: Path, callbacks: list, state: dict | None = None, every_s: float = EVERY_S):
        super().__init__()
        self.run_path, self.folder = run_path, run_path / FOLDER
        self.stateful = [c for c in callbacks if type(c) in COUNTERS]
        self.state, self.every_s = state, every_s
        self.last_write = time.monotonic()
        self.snapshot: tuple[int, list[np.ndarray], dict] | None = None  # (epoch, variables, counters)

    def restore(self, model: keras.Model) -> None:
        """Load the weights of the resume point into a compiled model (before fit)."""
        model.optimizer.build(model.trainable_variables)
        model.load_weights(self.folder / self.state["weights"])

    def on_train_begin(self, logs=None):
        if self.state is None:
            return
        for callback in self.stateful:
            for name, value in self.state["counters"].get(type(callback).__name__, {}).items():
                setattr(callback, name, value)
            if getattr(callback, "restore_best_weights", False) and self.state.get("best_weights"):
                with np.load(self.folder / self.state["best_weights"]) as saved:
                    callback.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]

    def on_epoch_end(self, epoch, logs=None):
        variables = [v.numpy() for v in self._variables()]  # cheap next to an epoch; used on Ctrl-C
        counters = {type(c).__name__: {name: _plain(getattr(c, name)) for name in COUNTERS[type(c)]}
                    for c in self.stateful}
        self.snapshot = (epoch + 1, variables, counters)
        if time.monotonic() - self.last_write >= self.every_s:
            self.write()

    def write(self) -> None:
        """Write the snapshot of the last completed epoch (after an interrupt the model may be mid-epoch)."""
        if self.snapshot is None:
            return
        epoch, variables, counters = self.snapshot
        for variable, value in zip(self._variables(), variables):
            variable.assign(value)
        best = next(((c.best_epoch, c.best_weights) for c in self.stateful
                     if getattr(c, "best_weights", None) is not None), None)
        save(self.run_path, self.model, epoch, counters, best)
        self.last_write = time.monotonic()

    def _variables(self) -> list:
        return [*self.model.variables, *self.model.optimizer.variables]


def _plain(value):
    """JSON-safe: numpy scalars become Python numbers (json writes inf as Infinity and reads it back)."""
    if isinstance(value, (float, np.floating)):
        return float(value)
    return int(value) if isinstance(value, (int, np.integer)) else value
