"""One trial alone, top to bottom: data, seed, model, optimizer, fit with callbacks, evaluate, write.

Data problems are found before the run folder exists (they are spec errors, exit code 2). Once the
folder exists, its whole life (header, history, completion, failure, interrupt) is lifecycle.py's,
the same code a slice of a pack goes through: anything that goes wrong leaves it failed (error.txt
holds the traceback) or interrupted (Ctrl-C, SIGTERM), never a half-written "completed" run.
"""

import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from regexp.data import prepare
from regexp.errors import RunFailed, RunInterrupted, SpecError, os_reason
from regexp.net.model import build_model
from regexp.net.optimizers import current_lr, schedule_callbacks
from regexp.net.pipeline import EpochOrder, eval_batches, train_batches
from regexp.net.scoring import EVAL_BATCH, LossWithoutPenalty, score, targets
from regexp.spec import LoadedSpec, load_spec
from regexp.store.contract import RESUMABLE, Status, default_monitor, direction
from regexp.store.folders import Run, now, read_run
from regexp.trial import interrupts
from regexp.trial.distribute import check_distribute, compile_model, distribution_strategy
from regexp.trial.lifecycle import TrialRun, parameter_counts, run_facts
from regexp.trial.probes import LayerStats, StepLoss
from regexp.trial.result import TrialResult
from regexp.trial.resume_point import ResumePoint, read_state
from regexp.trial.task import Rungs
from regexp.trial.tensorboard_log import TensorBoardLog, check_installed


class _NewModelTraces(logging.Filter):
    """TensorFlow warns when one function's code traced 5 times within its last calls. A process
    that trains trials alone one after another (a sweep's worker) builds a new Keras model, so new
    traces of the same Keras code, for each trial: expected, and frequent once search.halving stops
    trials after 2 epochs (2 calls per trace). Only that message is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NewModelTraces())


def train(loaded: LoadedSpec, runs_dir: Path = Path("runs"), console: Console | None = None,
          parent: str | None = None) -> Path:
    """Train one spec (one seed, one fold) and return its run folder. Raises SpecError (nothing
    trained), RunFailed or RunInterrupted (the folder says so)."""
    trial = start(loaded, runs_dir, console, parent)
    return _path_or_raise(trial, _guarded(trial, resume=None))


def train_trial(loaded: LoadedSpec, runs_dir: Path, parent: str, objective: str, key: str,
                halving: Rungs | None = None, point: str = "") -> TrialResult:
    """One trial of a sweep: never raises once its folder exists (SpecError before that). With
    `halving` (its sweep's search.halving) it may end pruned at a rung, decided for its `point`."""
    trial = start(loaded, runs_dir, None, parent, key)
    halve = HalvingStop(trial, halving, point) if halving is not None else None
    return _guarded(trial, resume=None, objective=objective, halve=halve)


def start(loaded: LoadedSpec, runs_dir: Path, console: Console | None, parent: str | None,
          key: str | None = None) -> TrialRun:
    """Everything before training: checks, data, seeds, then the run folder."""
    check_distribute(loaded)
    check_installed(loaded)
    data = prepare(loaded)
    interrupts.check()  # a stop asked for while the data loaded: no folder for a run that never began
    keras.utils.set_random_seed(loaded.spec.seed)  # python, numpy and TF: split, init, dropout, shuffling
    tf.config.experimental.enable_op_determinism()  # same seed twice -> the same history on CPU
    try:
        return TrialRun.create(loaded, data, runs_dir, run_facts(data, parent, key), console)
    except OSError as exc:  # nothing was trained yet: a mistake in where to write, exit 2
        raise SpecError(f"--runs-dir {runs_dir}: cannot create a run folder there ({os_reason(exc)})") from None


# Keys `regexp resume --set` may change mid-run (the notes' "babysitting"), and why others may not
CHANGEABLE = ("training.optimizer.learning_rate", "training.epochs", "training.early_stopping.patience")
FIXED = {"model": "it changes the network, so the saved weights no longer fit or mean something else",
         "data": "it changes the samples and the split the run trained on",
         "seed": "it changes the split and the draws",
         "training": "it can change only between runs: train a new run with it"}


def resume(run_path: Path, console: Console | None = None, changes: list[str] = ()) -> Path:
    """Continue an interrupted or crashed run from its last resume point, in its own folder; `changes`
    (KEY=VALUE, CHANGEABLE keys only) apply from the next epoch and are recorded in run.json."""
    if not (run_path / "run.json").is_file():
        raise SpecError(f"{run_path}: not a run folder (no run.json)")
    record = read_run(run_path)
    if record.status not in RESUMABLE:
        why = {Status.COMPLETED: "it completed; train the spec again for a new run",
               Status.RUNNING: f"it is still running (pid {record.info.pid} on {record.info.host})",
               Status.FAILED: f"it failed ({record.info.error}); fix the cause and train again",
               Status.PRUNED: f"it was {record.info.error}; train its point without halving for a full run"}
        raise SpecError(f"{run_path}: cannot resume: {why.get(record.status, f'its status is {record.status}')}")
    earlier = [f"{key}={json.dumps(change['to'])}" for entry in record.info.resumed
               for key, change in entry.changes.items()]
    before = load_spec(run_path / "config.yaml", earlier)
    for change in changes:
        key = change.partition("=")[0].strip()
        if key not in CHANGEABLE:
            reason = FIXED.get(key.split(".")[0], FIXED["training"])
            raise SpecError(f"--set {change}: {key} cannot change in a resumed run: {reason} "
                            f"(allowed: {', '.join(CHANGEABLE)})")
    loaded = load_spec(run_path / "config.yaml", [*earlier, *changes])
    check_distribute(loaded)
    data = prepare(loaded)
    state = read_state(run_path)
    epoch = state["epoch"] if state else 0
    if loaded.spec.training.epochs <= epoch:
        raise SpecError(f"--set training.epochs={loaded.spec.training.epochs}: the run has already trained {epoch} "
                        "epochs")
    changed = {key: {"from": _value(before.resolved(), key), "to": _value(loaded.resolved(), key)} for key in
               dict.fromkeys(c.partition("=")[0].strip() for c in changes)}
    interrupts.check()
    # a fresh seed stream per resume point: reseeding with `seed` alone would replay epoch 1's shuffles
    keras.utils.set_random_seed(loaded.spec.seed + 1_000_003 * epoch)
    tf.config.experimental.enable_op_determinism()
    run = Run(run_path, record.info)
    resumes = [*run.info.resumed, {"at_epoch": epoch, "time": now().isoformat(timespec="seconds"),
                                   "previous_status": record.status, "changes": changed}]
    run.update(status=Status.RUNNING, ended=None, error=None, pid=os.getpid(), host=socket.gethostname(),
               resumed=resumes)
    trial = TrialRun.reopen(loaded, data, run, console)
    # no resume point yet: it starts again from epoch 1, with the changes in its spec
    return _path_or_raise(trial, _guarded(trial, resume={**state, "changes": changed} if state else None))


def _value(config: dict, dotted: str):
    for part in dotted.split("."):
        config = (config or {}).get(part)
    return config


def _path_or_raise(trial: TrialRun, result: TrialResult) -> Path:
    if result.status == Status.FAILED:
        raise RunFailed(trial.path, result.error)
    if result.status == Status.INTERRUPTED:
        raise RunInterrupted(trial.path, trial.how)
    return trial.path


def _guarded(trial: TrialRun, resume: dict | None, objective: str | None = None,
             halve: "HalvingStop | None" = None) -> TrialResult:
    """Train, and whatever happens leave the run folder saying so: completed, interrupted or failed."""
    resume_point: list[ResumePoint] = []  # filled by _fit: written on an interrupt so that nothing is lost
    try:
        if resume is not None:
            trial.log.print(f"resuming after epoch {resume['epoch']}"
                            + "".join(f"; {key}: {c['from']} -> {c['to']}"
                                      for key, c in resume.get("changes", {}).items()))
        return _fit(trial, resume, resume_point, objective, halve)
    except KeyboardInterrupt as exc:
        return trial.interrupt(interrupts.how(exc), resume_point[0].write if resume_point else None)
    except Exception as exc:
        return trial.fail(exc)


def _fit(trial: TrialRun, resume: dict | None, resume_point: list, objective: str | None,
         halve: "HalvingStop | None") -> TrialResult:
    loaded, data, run = trial.loaded, trial.data, trial.run
    spec, training = loaded.spec, loaded.spec.training
    n_train = len(data.y_train)
    batch_size, steps_per_epoch = training.batches(n_train)

    strategy = distribution_strategy(training.distribute)
    replicas = strategy.num_replicas_in_sync if strategy else 1
    run.update(batch_size=batch_size, steps_per_epoch=steps_per_epoch,
               distribute={"strategy": training.distribute, "replicas": replicas})
    with strategy.scope() if strategy else contextlib.nullcontext():  # variables live on every replica
        model = build_model(spec.model, data, name=spec.name, training=training, seed=spec.seed)
        optimizer = compile_model(model, training, data, steps_per_epoch, strategy, spec.logging.per_step)
    params = parameter_counts(model)
    if resume is None:
        trial.header(batch_size, steps_per_epoch, parameters=params["total"])

    has_val = len(data.y_val) > 0
    monitor = default_monitor(training.early_stopping and training.early_stopping.monitor, has_val)
    start = resume["epoch"] if resume else 0
    trial.start_history([{**row, "epoch": int(row["epoch"])} for row in read_run(run.path).history
                         if row["epoch"] <= start] if start else [])
    recorder = EpochRecorder(trial, optimizer, training.epochs)
    callbacks = [LossWithoutPenalty(), *schedule_callbacks(training, direction), recorder]
    if training.early_stopping is not None:
        es = training.early_stopping
        callbacks.insert(1, keras.callbacks.EarlyStopping(
            monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights, mode=direction(es.monitor)))
    logging, stats, steps, board = spec.logging, None, None, None
    if logging.layer_stats:
        stats = LayerStats(run.path / "layer_stats.csv", data.x_train, targets(data.y_train, data),
                           logging.sparsity_threshold, start)
    if logging.per_step:
        steps = StepLoss(run.path / "steps.csv", batch_size, n_train, steps_per_epoch, start)
    if logging.tensorboard:
        board = TensorBoardLog(run.path, recorder, stats, steps)
    callbacks += [c for c in (stats, steps, board, halve) if c is not None]
    resume_point.append(ResumePoint(run.path, callbacks, resume))
    callbacks.append(resume_point[0])
    if resume:
        resume_point[0].restore(model)
    if resume and "training.optimizer.learning_rate" in resume.get("changes", {}) and not _scheduled(training):
        optimizer.learning_rate = training.optimizer.learning_rate  # the restored optimizer held the old rate

    with recorder.progress:
        validation = eval_batches(data.x_val, targets(data.y_val, data), EVAL_BATCH) if has_val else None
        # the order of every epoch comes from the seed (net/draws.py): a resumed run sees the orders it would have
        order = EpochOrder(spec.seed, n_train, training.epochs)
        batches = train_batches(data.x_train, targets(data.y_train, data), data.shape, training, batch_size, order,
                                seed=int(np.random.randint(2**31 - 1)))  # mixup/cutmix: from the global seed
        model.fit(batches, epochs=training.epochs, initial_epoch=start, validation_data=validation,
                  shuffle=False, verbose=0, callbacks=[StopOnRequest(), order, *callbacks])
    if trial.failure:
        return trial.fail(trial.failure)
    return trial.complete(model, score(model, data), monitor, params, objective, board, halve and halve.pruned)


def _scheduled(training) -> bool:
    """A step schedule computes the rate from learning_rate itself; epoch schedules set it every epoch."""
    return training.lr_schedule is not None and training.lr_schedule.name != "plateau"


class StopOnRequest(keras.callbacks.Callback):
    """First of the callbacks: a Ctrl-C or SIGTERM asked for a stop (interrupts.py), so stop at this
    step boundary, before any callback records a partial epoch; the resume point holds the last
    whole one. With steps_per_execution: epoch (the default) the boundary is the epoch's end."""

    def on_epoch_begin(self, epoch, logs=None):
        interrupts.check()

    def on_train_batch_end(self, batch, logs=None):
        interrupts.check()


class HalvingStop(keras.callbacks.Callback):
    """search.halving for a trial alone (after EpochRecorder): at a rung it reports the epoch's
    objective to the sweep's ledger and stops training when its point is pruned there. Keras's
    EarlyStopping still restores the best weights at the end, as for any stop."""

    def __init__(self, trial: TrialRun, halving: Rungs, point: str):
        super().__init__()
        self.trial, self.halving, self.point = trial, halving, point
        self.pruned: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.halving.column)
        if epoch + 1 not in self.halving.rungs or value is None or self.trial.failure:
            return
        key = self.trial.run.info.trial
        self.pruned = self.halving.decide(epoch + 1, {key: (self.point, float(value))})[key]
        self.model.stop_training = self.model.stop_training or bool(self.pruned)


class EpochRecorder(keras.callbacks.Callback):
    """Hands each epoch's row (with the lr used) to the run folder, shows progress, stops on NaN."""

    def __init__(self, trial: TrialRun, optimizer, epochs: int):
        super().__init__()
        self.trial, self.optimizer = trial, optimizer
        log = trial.log
        self.progress = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(bar_width=12),
                                 TimeRemainingColumn(),
                                 TextColumn("{task.description}"), console=log.console, disable=log.console is None)
        self.task = self.progress.add_task("", total=epochs, completed=len(trial.rows))

    @property
    def rows(self) -> list[dict]:
        return self.trial.rows

    def on_epoch_begin(self, epoch, logs=None):
        self.lr = current_lr(self.optimizer)  # after LearningRateScheduler set this epoch's rate
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs, columns = logs or {}, self.trial.columns
        row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in columns if k in logs},
               "lr": self.lr, "seconds": round(time.perf_counter() - self.started, 4)}
        if not self.trial.record_epoch(row):
            self.model.stop_training = True
        brief = " ".join(f"{k} {row[k]:.3f}" for k in ("loss", "val_loss", columns[-4]) if k in row)
        self.progress.update(self.task, advance=1, description=f"{brief} lr {self.lr:.2g}")
