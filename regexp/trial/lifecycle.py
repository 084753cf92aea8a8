"""A trial's run folder from start to end, written by the same code whichever engine trains it:
a trial alone (train.py, Keras's fit) or a slice of a pack (packed/trainer.py).

    TrialRun.create   the folder, config.yaml, run.json (status running), log.txt's header
    .start_history    history.csv's header (and, on resume, the rows up to the resume point)
    .record_epoch     one history row and its log line; a non-finite loss fails the trial
    .complete         MC dropout, metrics.json, model.keras, status completed (or pruned), the summary table
    .fail             error.txt with the traceback, status failed with the reason in one line
    .interrupt        the resume point, status interrupted, how to continue

Each of the last three returns the trial's TrialResult. A file that cannot be written (a full
disk) never raises out of fail or interrupt: run.json keeps saying running, so the folder reads
as crashed, which `regexp resume` continues.
"""

import csv
import io
import math
import os
import shutil
import traceback
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.markup import escape

from regexp import __version__
from regexp.data import Prepared
from regexp.data.text import VOCABULARY_FILE, vocabulary_text
from regexp.errors import failure_reason, os_reason
from regexp.net.mc_dropout import mc_dropout_metrics
from regexp.spec import LoadedSpec
from regexp.store.contract import MetricKey, RunMetrics, Status, best_epoch, direction, history_columns
from regexp.store.files import write_atomic
from regexp.store.folders import Run, csv_cell, write_json
from regexp.trial import provenance
from regexp.trial.distribute import device_name
from regexp.trial.log_text import summary_table, table_lines
from regexp.trial.result import TrialResult
from regexp.trial.resume_point import FOLDER as RESUME_POINT
from regexp.trial.tensorboard_log import hparams_of


class RunLog:
    """What a run prints: to log.txt always, to the console too unless it is None (quiet, or a pack)."""

    def __init__(self, path: Path, console: Console | None):
        self.file = path.open("a", encoding="utf-8")
        self.file_console = Console(file=self.file, width=120, no_color=True, highlight=False)
        self.console = console

    def print(self, message, console: bool = True) -> None:
        self.file_console.print(message)
        self.file.flush()
        if console and self.console is not None:
            self.console.print(message)

    def line(self, text: str) -> None:
        """A plain line to log.txt only, as print writes it: rich's rendering costs a large pack's many
        epoch lines dearly, for text with no markup, emoji code or wrapping."""
        if len(text) > self.file_console.width or "[" in text or text.count(":") > 1 or "\n" in text:
            return self.print(text, console=False)
        self.file.write(text + "\n")
        self.file.flush()

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


class TrialRun:
    """One run folder being trained into."""

    def __init__(self, loaded: LoadedSpec, data: Prepared, run: Run, log: RunLog):
        self.loaded, self.data, self.run, self.log = loaded, data, run, log
        self.columns = history_columns(data.metrics)
        self.rows: list[dict] = []
        self.failure: str | None = None  # set when an epoch's loss is not finite
        self.how = "Ctrl-C"              # what interrupted it, once it was

    @classmethod
    def create(cls, loaded: LoadedSpec, data: Prepared, runs_dir: Path, facts: dict,
               console: Console | None) -> "TrialRun":
        """A new run folder with config.yaml and run.json (status running); `facts` are run.json's other fields."""
        libraries = {"regexp": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__}
        facts = {**facts, "provenance": provenance.for_run(loaded, data, runs_dir, facts.get("parent"), libraries),
                 "table": data.reading.model_dump(mode="json") if data.reading is not None else None}
        run = Run.create(runs_dir, loaded.spec.name, loaded.spec_hash(), loaded.resolved(), extra=facts)
        if data.vocabulary is not None:  # data.text: what `regexp predict` reads new text through
            write_atomic(run.path / VOCABULARY_FILE, vocabulary_text(data.vocabulary))
        return cls(loaded, data, run, RunLog(run.path / "log.txt", console))

    @classmethod
    def reopen(cls, loaded: LoadedSpec, data: Prepared, run: Run, console: Console | None) -> "TrialRun":
        """An interrupted or crashed run folder, continued by `regexp resume`."""
        return cls(loaded, data, run, RunLog(run.path / "log.txt", console))

    @property
    def path(self) -> Path:
        return self.run.path

    # -------------------------------------------------------------------------------- start
    def header(self, batch_size: int, steps: int, parameters: int | None = None, packed: str | None = None) -> None:
        spec, data = self.loaded.spec, self.data
        for warning in self.loaded.warnings:
            self.log.print(f"[yellow]warning:[/] {escape(str(warning))}")
        if data.reading is not None:  # the console heard these once, before the first trial
            for line in table_lines("data.path", data.reading):
                self.log.line(line)
        self.log.print(f"[bold]{spec.name}[/] -> {self.path}")
        if packed:
            self.log.print(f"packed: {packed}")
        sizes = data.sizes()
        model = f"; model: {parameters:,} parameters" if parameters is not None else ""
        self.log.print(f"data: {data.task}, {sizes['train']}/{sizes['val']}/{sizes['test']} train/val/test samples, "
                       f"{data.features} features{model}; batch {batch_size}, {steps} steps/epoch")

    def start_history(self, done: list[dict] = ()) -> None:
        """history.csv's header, and the rows a resumed run keeps (up to its resume point)."""
        self.rows = list(done)
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(self.columns)
        writer.writerows([csv_cell(row.get(c)) for c in self.columns] for row in self.rows)
        write_atomic(self.path / "history.csv", table.getvalue())

    def record_epoch(self, row: dict) -> bool:
        """Append one history row (flushed) and its log line; False when the loss is not finite."""
        self.rows.append(row)
        with (self.path / "history.csv").open("a", newline="") as f:
            f.write(",".join(csv_cell(row.get(c)) for c in self.columns) + "\n")
        shown = "  ".join(f"{c} {row[c]:.4f}" for c in self.columns[1:-3] if c in row)
        self.log.line(f"epoch {row['epoch']}: {shown}  lr {row['lr']:.3g}")
        if not math.isfinite(row.get("loss", 0.0)):
            self.failure = f"non-finite loss at epoch {row['epoch']}"
            return False
        return True

    # --------------------------------------------------------------------------------- ends
    def complete(self, model, results: dict, monitor: str, parameters: dict, objective: str | None,
                 tensorboard=None, pruned: str | None = None) -> TrialResult:
        """Score, save and close a trained run: `results` holds each part's loss, penalty and metrics.
        `pruned`: why search.halving stopped it; the folder is written the same, with status pruned."""
        spec, data = self.loaded.spec, self.data
        if spec.evaluation.mc_dropout and len(data.y_test):
            mc = mc_dropout_metrics(model, data, spec.evaluation.mc_dropout)
            if mc is None:
                self.log.print("[yellow]warning:[/] evaluation.mc_dropout: the model has no dropout layer; MC dropout "
                               "skipped")
            else:
                results["test"].update(mc)
        non_finite = {f"{part}.{name}": str(value).lower() for part, values in results.items()
                      for name, value in values.items() if not math.isfinite(value)}
        finite = {part: {name: value if math.isfinite(value) else None for name, value in values.items()}
                  for part, values in results.items()}  # JSON has no NaN: null, named in non_finite
        metrics = RunMetrics(
            task=data.task, classes=data.classes, columns=[c.to_json() for c in data.columns] if data.columns else None,
            sizes=data.sizes(), **finite, non_finite=non_finite, monitor=monitor,
            directions={m: direction(m) for m in ["loss", *data.metrics]}, best_epoch=best_epoch(self.rows, monitor),
            epochs_run=len(self.rows), early_stopped=not pruned and len(self.rows) < spec.training.epochs,
            parameters=parameters,
            mc_dropout=spec.evaluation.mc_dropout)
        partial = self.path / ".model.partial.keras"  # Keras writes in place: save beside, then rename
        model.save(partial)
        os.replace(partial, self.path / "model.keras")
        write_json(self.path / "metrics.json", metrics.to_json())
        if tensorboard is not None:
            tensorboard.finish(hparams_of(self.loaded), results, self.path.name)
        self.run.finish(Status.PRUNED if pruned else Status.COMPLETED, pruned)
        shutil.rmtree(self.path / RESUME_POINT, ignore_errors=True)  # model.keras holds what a completed run needs
        if non_finite:
            self.log.print(f"[yellow]warning:[/] not finite, written as null: {', '.join(non_finite)}")
        if pruned:
            self.log.print(f"[magenta]{escape(pruned)}[/]")
        self.log.print(summary_table(results, metrics))
        self.log.close()
        if pruned:  # its objective is of a model trained fewer epochs: never ranked with the completed points'
            return TrialResult(Status.PRUNED, self.path.name, error=pruned)
        value = metrics.value(MetricKey.parse(objective)) if objective else None
        return TrialResult(Status.COMPLETED, self.path.name, objective=value)

    def fail(self, cause: BaseException | str) -> TrialResult:
        """Status failed with the reason; error.txt holds the traceback of an exception."""
        reason = cause if isinstance(cause, str) else failure_reason(cause)
        try:
            if not isinstance(cause, str):
                write_atomic(self.path / "error.txt", "".join(traceback.format_exception(cause)))
            where = "" if isinstance(cause, str) else f" (traceback in {self.path / 'error.txt'})"
            self.log.print(f"[red]failed[/]: {escape(reason)}{where}")
            self.run.finish(Status.FAILED, reason)
        except OSError as again:  # the disk is still full: the folder will read as crashed (resumable)
            reason += f" (and run.json could not record it: {os_reason(again)})"
        self.log.close()
        return TrialResult(Status.FAILED, self.path.name, error=reason)

    def interrupt(self, how: str, write_resume_point=None) -> TrialResult:
        """Status interrupted, after `write_resume_point()` saved the last completed epoch."""
        self.how = how
        try:
            if write_resume_point is not None:
                write_resume_point()
            self.log.print(f"[red]interrupted[/] ({how}): {self.path}; continue with `regexp resume {self.path}`")
            self.run.finish(Status.INTERRUPTED, f"interrupted ({how})")
        except OSError:  # the folder reads as crashed, which resume continues (from an older point, or epoch 1)
            pass
        self.log.close()
        return TrialResult(Status.INTERRUPTED, self.path.name, error=f"interrupted ({how})")


def run_facts(data: Prepared, parent: str | None, trial: str | None = None) -> dict:
    """What run.json records about where and on what a run trains (alone or in a pack)."""
    return {"device": device_name(), "task": data.task, "sizes": data.sizes(), "parent": parent, "trial": trial,
            "versions_ml": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),  # 0: TensorFlow decides
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}}


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """Weights the network learns or tracks (BatchNorm's moving statistics count as non-trainable);
    the input scaling's mean and variance are the data's statistics, held as weights
    (model.set_scaling), not counted."""
    scaling = {id(w) for layer in model.layers if layer.name == "scale" for w in layer.weights}
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights if id(w) not in scaling)
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}
