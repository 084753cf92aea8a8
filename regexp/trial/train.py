"""One trial, top to bottom: data, seed, model, optimizer, fit with callbacks, evaluate, write.

Data problems are found before the run folder exists (they are spec errors, exit code 2). Once the
folder exists, anything that goes wrong leaves it with status failed (error.txt holds the
traceback) or interrupted (Ctrl-C), never a half-written "completed" run.
"""

import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import time
import traceback
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from regexp.data import Prepared, prepare
from regexp.trial.resume_point import FOLDER as CHECKPOINT, ResumePoint, read_state
from regexp.errors import RunFailed, RunInterrupted, SpecError
from regexp.net.mc_dropout import mc_dropout_metrics
from regexp.trial.probes import LayerStats, StepLoss
from regexp.trial.tensorboard_log import TensorBoardLog, check_installed, hparams_of
from regexp.net.pipeline import EpochOrder, eval_batches, train_batches
from regexp.net.model import build_model
from regexp.net.optimizers import build_optimizer, current_lr, schedule_callbacks
from regexp.net.scoring import EVAL_BATCH, LossWithoutPenalty, loss, loss_metrics, metric, score, targets
from regexp.store.contract import (RESUMABLE, RunMetrics, Status, best_epoch, default_monitor, direction,
                              history_columns)
from regexp.store.folders import Run, csv_cell, now, read_run, write_atomic, write_json
from regexp.spec import LoadedSpec, load_spec


def train(loaded: LoadedSpec, runs_dir: Path = Path("runs"), console: Console | None = None,
          parent: str | None = None) -> Path:
    """Train one spec (one seed, one fold) and return its run folder. Raises SpecError or RunFailed."""
    spec = loaded.spec
    check_distribute(loaded)
    check_installed(loaded)
    data = prepare(loaded)
    keras.utils.set_random_seed(spec.seed)  # python, numpy and TF: split, init, dropout, shuffling
    tf.config.experimental.enable_op_determinism()  # same seed twice -> the same history on CPU
    try:
        run = Run.create(runs_dir, spec.name, loaded.spec_hash(), loaded.resolved(), extra=run_facts(data, parent))
    except OSError as exc:  # nothing was trained yet: a mistake in where to write, exit 2
        raise SpecError(f"--runs-dir {runs_dir}: cannot create a run folder there ({_os_reason(exc)})") from None
    return _guarded(loaded, data, run, console, resume=None)


# Keys `regexp resume --set` may change mid-run (the notes' "babysitting"), and why others may not
CHANGEABLE = ("training.optimizer.learning_rate", "training.epochs", "training.early_stopping.patience")
FIXED = {"model": "it changes the network, so the saved weights no longer fit or mean something else",
         "data": "it changes the samples and the split the run trained on", "seed": "it changes the split and the draws",
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
               Status.FAILED: f"it failed ({record.info.error}); fix the cause and train again"}
        raise SpecError(f"{run_path}: cannot resume: {why.get(record.status, f'its status is {record.status}')}")
    earlier = [f"{key}={json.dumps(change['to'])}" for entry in record.info.resumed for key, change in entry.changes.items()]
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
        raise SpecError(f"--set training.epochs={loaded.spec.training.epochs}: the run has already trained {epoch} epochs")
    changed = {key: {"from": _value(before.resolved(), key), "to": _value(loaded.resolved(), key)} for key in
               dict.fromkeys(c.partition("=")[0].strip() for c in changes)}
    # a fresh seed stream per resume point: reseeding with `seed` alone would replay epoch 1's shuffles
    keras.utils.set_random_seed(loaded.spec.seed + 1_000_003 * epoch)
    tf.config.experimental.enable_op_determinism()
    run = Run(run_path, record.info)
    resumes = [*run.info.resumed, {"at_epoch": epoch, "time": now().isoformat(timespec="seconds"),
                                   "previous_status": record.status, "changes": changed}]
    run.update(status=Status.RUNNING, ended=None, error=None, pid=os.getpid(), host=socket.gethostname(), resumed=resumes)
    # no resume point yet: it starts again from epoch 1, with the changes in its spec
    return _guarded(loaded, data, run, console, resume={**state, "changes": changed} if state else None)


def _value(config: dict, dotted: str):
    for part in dotted.split("."):
        config = (config or {}).get(part)
    return config


def _guarded(loaded: LoadedSpec, data: Prepared, run: Run, console: Console | None, resume: dict | None) -> Path:
    """Train, and whatever happens leave the run folder saying so: completed, interrupted or failed."""
    log = RunLog(run.path / "log.txt", console)
    resume_point = []  # filled by _fit_and_write: written on an interrupt so that nothing is lost
    try:
        for warning in loaded.warnings:
            log.print(f"[yellow]warning:[/] {escape(str(warning))}")
        if resume is not None:
            log.print(f"resuming after epoch {resume['epoch']}"
                      + "".join(f"; {key}: {c['from']} -> {c['to']}" for key, c in resume.get("changes", {}).items()))
        _fit_and_write(loaded, data, run, log, resume, resume_point)
    except KeyboardInterrupt as exc:
        how = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "Ctrl-C"
        for point in resume_point:
            point.write()
        log.print(f"[red]interrupted[/] ({how}): {run.path}; continue with `regexp resume {run.path}`")
        run.finish(Status.INTERRUPTED, f"interrupted ({how})")
        raise RunInterrupted(run.path, how) from None
    except Exception as exc:
        reason = exc.reason if isinstance(exc, RunFailed) else (
            f"cannot write {exc.filename or 'a file'}: {_os_reason(exc)}" if isinstance(exc, OSError)
            else f"{type(exc).__name__}: {first_line(str(exc))}")  # run.json's reason is one line
        try:
            write_atomic(run.path / "error.txt", traceback.format_exc())
            log.print(f"[red]failed[/]: {escape(reason)} (traceback in {run.path / 'error.txt'})")
            run.finish(Status.FAILED, reason)
        except OSError as again:  # the disk is still full: say so; the folder will read as crashed
            reason += f" (and run.json could not record it: {_os_reason(again)})"
        raise RunFailed(run.path, reason) from exc
    finally:
        log.close()
    return run.path


def run_facts(data: Prepared, parent: str | None) -> dict:
    """What run.json records about where and on what a run trains (a packed trial too)."""
    return {"device": device_name(), "task": data.task, "sizes": data.sizes(), "parent": parent,
            "versions_ml": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),  # 0: TensorFlow decides
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}}


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def first_line(message: str, limit: int = 200) -> str:
    text = message.strip()
    line = text.split("\n", 1)[0][:limit]
    return line if line == text else line + " …"


def _fit_and_write(loaded: LoadedSpec, data: Prepared, run: Run, log: "RunLog", resume: dict | None,
                   resume_point: list) -> None:
    spec, training = loaded.spec, loaded.spec.training
    n_train = len(data.y_train)
    batch_size = n_train if training.batch_size == "full" else min(training.batch_size, n_train)
    steps_per_epoch = math.ceil(n_train / batch_size)

    strategy = distribution_strategy(training.distribute)
    replicas = strategy.num_replicas_in_sync if strategy else 1
    run.update(batch_size=batch_size, steps_per_epoch=steps_per_epoch,
               distribute={"strategy": training.distribute, "replicas": replicas})
    with strategy.scope() if strategy else contextlib.nullcontext():  # variables live on every replica
        model = build_model(spec.model, data, name=spec.name, training=training, seed=spec.seed)
        optimizer = build_optimizer(training, steps_per_epoch)
        model.compile(optimizer=optimizer, loss=loss(data.task, training.label_smoothing),
                      metrics=[*loss_metrics(data.task, training.label_smoothing), *(metric(n, data.task) for n in data.metrics)],
                      steps_per_execution=_steps_per_execution(training.steps_per_execution, steps_per_epoch, strategy,
                                                               spec.logging.per_step))
    params = parameter_counts(model)
    if resume is None:
        log.print(f"[bold]{spec.name}[/] -> {run.path}")
        sizes = data.sizes()
        log.print(f"data: {data.task}, {sizes['train']}/{sizes['val']}/{sizes['test']} train/val/test samples, "
                  f"{data.features} features; model: {params['total']:,} parameters; "
                  f"batch {batch_size}, {steps_per_epoch} steps/epoch")

    has_val = len(data.y_val) > 0
    monitor = default_monitor(training.early_stopping and training.early_stopping.monitor, has_val)
    start = resume["epoch"] if resume else 0
    done = [{**row, "epoch": int(row["epoch"])} for row in read_run(run.path).history if row["epoch"] <= start] if start else []
    recorder = EpochRecorder(run.path / "history.csv", optimizer, log, training.epochs, data.metrics, done)
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
    callbacks += [c for c in (stats, steps, board) if c is not None]
    resume_point.append(ResumePoint(run.path, callbacks, resume))
    callbacks.append(resume_point[0])
    if resume:
        resume_point[0].restore(model)
    if resume and "training.optimizer.learning_rate" in resume.get("changes", {}) and not _scheduled(training):
        optimizer.learning_rate = training.optimizer.learning_rate  # the restored optimizer held the old rate

    with recorder.progress:
        validation = eval_batches(data.x_val, targets(data.y_val, data), EVAL_BATCH) if has_val else None
        # the order of every epoch comes from the seed (draws.py): a resumed run sees the orders it would have
        order = EpochOrder(spec.seed, n_train, training.epochs)
        batches = train_batches(data.x_train, targets(data.y_train, data), data.shape, training, batch_size, order,
                                seed=int(np.random.randint(2**31 - 1)))  # mixup/cutmix: from the global seed
        model.fit(batches, epochs=training.epochs, initial_epoch=start, validation_data=validation,
                  shuffle=False, verbose=0, callbacks=[order, *callbacks])
    if recorder.failure:
        raise RunFailed(run.path, recorder.failure)

    results = score(model, data)
    if spec.evaluation.mc_dropout and len(data.y_test):
        mc = mc_dropout_metrics(model, data, spec.evaluation.mc_dropout)
        if mc is None:
            log.print("[yellow]warning:[/] evaluation.mc_dropout: the model has no dropout layer; MC dropout skipped")
        else:
            results["test"].update(mc)
    history = recorder.rows
    metrics = RunMetrics(
        task=data.task, classes=data.classes, sizes=data.sizes(), **results, monitor=monitor,
        directions={m: direction(m) for m in ["loss", *data.metrics]}, best_epoch=best_epoch(history, monitor),
        epochs_run=len(history), early_stopped=len(history) < training.epochs, parameters=params,
        mc_dropout=spec.evaluation.mc_dropout,
    )
    partial = run.path / ".model.partial.keras"  # Keras writes in place: save beside, then rename
    model.save(partial)
    os.replace(partial, run.path / "model.keras")
    write_json(run.path / "metrics.json", metrics.to_json())
    if board is not None:
        board.finish(hparams_of(loaded), results, run.path.name)
    run.finish(Status.COMPLETED)
    shutil.rmtree(run.path / CHECKPOINT, ignore_errors=True)  # model.keras holds what a completed run needs
    log.print(summary_table(results, metrics, run.path))


def _scheduled(training) -> bool:
    """A step schedule computes the rate from learning_rate itself; epoch schedules set it every epoch."""
    return training.lr_schedule is not None and training.lr_schedule.name != "plateau"


def _steps_per_execution(setting: int | str, steps_per_epoch: int, strategy, per_step: bool) -> int:
    if per_step:  # Keras calls on_train_batch_end once per call into TensorFlow: one step each
        return 1
    if strategy is not None:  # Keras 3.15's multi-step loop fails under tf.distribute ("must feed a value
        return 1             # for placeholder tensor ... multi_step_on_iterator"): one step per call there
    return steps_per_epoch if setting == "epoch" else setting


def check_distribute(loaded: LoadedSpec) -> None:
    """Refuse, before a run folder exists, a multi_worker cluster that the installed Keras cannot train.

    Keras 3's fit fails under MultiWorkerMirroredStrategy as soon as TF_CONFIG names two or more
    workers: it reduces a per-replica input batch across workers (a ValueError on PerReplica) and
    then reduces scalar metrics along axis 0 (keras-team/keras#20585, open; checked on Keras 3.15.1).
    Drop this check once a Keras release trains the 2-worker case in tests/test_distributed.py.
    """
    if loaded.spec.training.distribute != "multi_worker":
        return
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except (ValueError, AttributeError):
        raise loaded.error("training.distribute", "multi_worker reads TF_CONFIG, which is not a JSON object "
                                                  '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                                                  '"task": {"type": "worker", "index": 0}})') from None
    workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    if workers > 1:
        raise loaded.error("training.distribute", f"multi_worker: TF_CONFIG names {workers} workers, and Keras "
                           f"{keras.__version__} cannot fit across workers (keras-team/keras#20585). Use mirrored "
                           "for the GPUs of one machine, or `regexp sweep --executor ray` to spread trials "
                           "over machines")


def distribution_strategy(name: str) -> tf.distribute.Strategy | None:
    """The tf.distribute strategy of `training.distribute`; None trains on the default device.

    Keras splits each global batch (training.batch_size) across the replicas: with the same
    batch_size, results match one device up to seed noise. Scaling batch_size up with the number
    of replicas calls for a proportionally larger learning rate (and warmup; Goyal et al., 2017).
    """
    if name == "mirrored":  # MirroredStrategy() alone takes only CPU:0 when there is no GPU
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in gpus or tf.config.list_logical_devices("CPU")])
    if name == "multi_worker":  # reads TF_CONFIG: {"cluster": {"worker": [...]}, "task": {...}}
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None


def parameter_counts(model: keras.Model) -> dict[str, int]:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


def device_name() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU x{len(gpus)}" if gpus else "CPU"


def summary_table(results: dict, metrics: RunMetrics, path: Path) -> Table:
    names = list(results["train"])
    table = Table(title=f"best epoch {metrics.best_epoch} of {metrics.epochs_run}"
                        + (" (early stopped)" if metrics.early_stopped else ""))
    table.add_column("part")
    for name in names:
        table.add_column(name, justify="right")
    for part, values in results.items():
        table.add_row(part, *(f"{values[n]:.4f}" for n in names))
    return table


class RunLog:
    """What a run prints: to log.txt always, to the console unless quiet (console is None)."""

    def __init__(self, path: Path, console: Console | None):
        self.file = path.open("a", encoding="utf-8")
        self.file_console = Console(file=self.file, width=120, no_color=True, highlight=False)
        self.console = console

    def print(self, message) -> None:
        self.file_console.print(message)
        self.file.flush()
        if self.console is not None:
            self.console.print(message)

    def close(self) -> None:
        self.file.close()


class EpochRecorder(keras.callbacks.Callback):
    """Appends one history.csv row per epoch (with the lr used), shows progress, stops on NaN."""

    def __init__(self, path: Path, optimizer, log: RunLog, epochs: int, metrics: list[str], done: list[dict]):
        super().__init__()
        self.path, self.optimizer, self.log = path, optimizer, log
        self.columns = history_columns(metrics)
        self.rows: list[dict] = list(done)  # a resumed run keeps its rows up to the resume point, no more
        self.failure: str | None = None
        self.progress = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(bar_width=12), TimeRemainingColumn(),
                                 TextColumn("{task.description}"), console=log.console, disable=log.console is None)
        self.task = self.progress.add_task("", total=epochs, completed=len(done))
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(self.columns)
        writer.writerows([csv_cell(row.get(c)) for c in self.columns] for row in done)
        write_atomic(path, table.getvalue())

    def on_epoch_begin(self, epoch, logs=None):
        self.lr = current_lr(self.optimizer)  # after LearningRateScheduler set this epoch's rate
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in self.columns if k in logs},
               "lr": self.lr, "seconds": round(time.perf_counter() - self.started, 4)}
        self.rows.append(row)
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([csv_cell(row.get(c)) for c in self.columns])
            f.flush()
        shown = "  ".join(f"{k} {row[k]:.4f}" for k in self.columns[1:-3] if k in row) + f"  lr {self.lr:.3g}"
        self.log.file_console.print(f"epoch {epoch + 1}: {shown}")
        brief = " ".join(f"{k} {row[k]:.3f}" for k in ("loss", "val_loss", self.columns[-4]) if k in row)
        self.log.file.flush()
        self.progress.update(self.task, advance=1, description=f"{brief} lr {self.lr:.2g}")
        if not math.isfinite(row.get("loss", 0.0)):
            self.failure = f"non-finite loss at epoch {epoch + 1}"
            self.model.stop_training = True
