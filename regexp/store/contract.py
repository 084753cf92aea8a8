"""What a run folder and a sweep folder hold: the typed contract between training and every reader.

docs/run-folder.md names the files; the models below define what is in them, once. Training builds these
models and writes them; report, show, diff, diagnose and resume read them back through `parse`,
which is lenient: a damaged or older file yields what could be read plus one warning per problem,
never an exception. docs/run-folder.md is generated from this module (views/reference.py), and a test
keeps it current. No TensorFlow here, and nothing but pydantic and the metric catalogue.
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

from regexp.registry.metrics import maximized, resolution

RUN_FILES = ("config.yaml", "run.json", "history.csv", "metrics.json", "model.keras", "log.txt")
OPTIONAL_FILES = ("layer_stats.csv", "steps.csv", "error.txt", "vocabulary.txt")  # logging.*, failed runs, data.text
PARTS = ("train", "val", "test")


class Status(StrEnum):
    """Every status a run, a trial or a sweep has, as run.json and sweep.json write them: a run is
    running, completed, failed, interrupted or pruned (crashed and incomplete are what a reader
    concludes); a trial is that or pending; a sweep is running, completed, completed with failures,
    interrupted or stopped."""

    PENDING = "pending"        # a trial not started yet
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed with failures"  # a sweep: every trial ran, some failed
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"          # stopped at a rung by its sweep's search.halving: holds what it trained, never resumed
    STOPPED = "stopped"        # a sweep: too many trials failed in a row; resumable
    CRASHED = "crashed"        # run.json says running, but its process is gone (checked on its own host)
    INCOMPLETE = "incomplete"  # the folder has no readable run.json


RUN_STATUSES = (Status.RUNNING, Status.COMPLETED, Status.FAILED, Status.INTERRUPTED, Status.PRUNED, Status.CRASHED,
                Status.INCOMPLETE)  # a run's: written in run.json, or concluded by a reader (the last two)
RESUMABLE = (Status.INTERRUPTED, Status.CRASHED)
FINISHED = (Status.COMPLETED, Status.PRUNED)  # a sweep never trains these trials again
LOST = (Status.FAILED, Status.CRASHED)        # a run that ended without a value (report --failures worst)


# ------------------------------------------------------------------------------------ metric keys
Part = Literal["train", "val", "test", "gap"]


@dataclass(frozen=True)
class MetricKey:
    """A report column or objective name split into its part and metric: val_accuracy, gap_loss, loss.

    A bare name is the train part (`loss` is the training loss, as in Keras's logs). Names that are
    no metric (`epochs_run`, `duration_s`) parse as train-part names and are minimized.
    """

    part: Part
    name: str

    @classmethod
    def parse(cls, text: str) -> "MetricKey":
        head, sep, rest = text.partition("_")
        if sep and rest and head in ("train", "val", "test", "gap"):
            return cls(head, rest)  # type: ignore[arg-type]
        return cls("train", text)

    @property
    def direction(self) -> Literal["min", "max"]:
        """'max' where higher is better (val_accuracy, test_auc), 'min' for losses, errors and time."""
        return "max" if maximized(self.name) else "min"

    @property
    def column(self) -> str:
        """The report column: train_loss, val_accuracy, gap_accuracy."""
        return f"{self.part}_{self.name}"

    @property
    def history_column(self) -> str:
        """The history.csv column (Keras's log names): loss and accuracy for train, val_loss for val."""
        return self.name if self.part == "train" else f"{self.part}_{self.name}"

    def __str__(self) -> str:
        return self.column


def direction(column: str) -> Literal["min", "max"]:
    return MetricKey.parse(column).direction


# ------------------------------------------------------------------------------------------ files
class Record(BaseModel):
    """A JSON file of the contract. Unknown keys are kept (newer writers), read leniently."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _derived_facts_are_not_read(cls, data: Any) -> Any:
        """A computed field stored by a writer (stopped_epoch, generalization_gap) is derived again."""
        derived = cls.__pydantic_computed_fields__  # the class attribute: model_computed_fields is a property
        if derived and isinstance(data, dict) and not derived.keys().isdisjoint(data):
            data = {k: v for k, v in data.items() if k not in derived}
        return data

    @classmethod
    def parse(cls, data: Any, file: str, warnings: list[str]):
        """The model of what could be read: a key with a wrong value is dropped with a warning.
        None only when a key the model cannot do without is missing (sweep.json's)."""
        data = dict(data) if isinstance(data, dict) else {}
        while True:
            try:
                return cls.model_validate(data)
            except ValidationError as exc:
                bad = sorted({str(err["loc"][0]) for err in exc.errors() if err["loc"]} & set(data))
                if not bad:
                    return None
                for key in bad:
                    warnings.append(f"{file}: {key} has a wrong value ({_short(data.pop(key))}); ignored")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Sizes(BaseModel):
    train: int = Field(description="Samples in the train part (after subsample).")
    val: int = Field(description="Samples in the validation part.")
    test: int = Field(description="Samples in the test part.")


class Resumed(BaseModel):
    at_epoch: int = Field(description="The epoch the run continued after.")
    time: str = Field(description="When (UTC, ISO 8601).")
    previous_status: str = Field(description="interrupted or crashed.")
    changes: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="`regexp resume --set`: key -> {from, to}, in effect from this epoch on "
                                          "(config.yaml keeps the values the run started with).")


class Packed(BaseModel):
    id: str = Field(description="The pack: <sweep folder>/round<r>-pack<i> (trials trained together in one graph).")
    slot: int = Field(description="This trial's index in the pack's stacked weights.")
    size: int = Field(description="Trials in the pack.")


class Provenance(BaseModel):
    """run.json `provenance`: the spec's git state, the data and split fingerprints, the libraries."""

    commit: Optional[str] = Field(None, description="The git commit (40 hex) of the repository holding the spec.")
    branch: Optional[str] = Field(None, description="Its branch; null on a detached HEAD.")
    dirty: Optional[bool] = Field(None, description="The spec or a file in its `extends` chain has uncommitted "
                                                    "changes (or is not committed).")
    diff: Optional[str] = Field(None, description="The unified diff of those files against the commit; null when "
                                                  "clean.")
    repo_dirty: Optional[bool] = Field(None, description="Any other tracked file has uncommitted changes.")
    git: Optional[str] = Field(None, description="Why the git fields are empty (no repository, git not on PATH, no "
                                                 "commit), or a caveat (detached HEAD, shallow clone, submodule).")
    data: Optional[str] = Field(None, description="sha256 of the data file(s), or the built-in dataset and the "
                                                  "library version that ships or generates it (a generated one's "
                                                  "keys are in config.yaml).")
    split: Optional[str] = Field(None, description="Hash of the train/val/test parts as the run saw them: equal "
                                                   "when the same samples fell in the same parts.")
    libraries: dict[str, str] = Field(default_factory=dict, description="Versions that change numbers: regexp, "
                                                                        "tensorflow, keras, numpy.")


class RunInfo(Record):
    """run.json: who ran what, where and how it ended. Rewritten atomically on every change."""

    id: Optional[str] = Field(None, description="The folder name: <UTC time>_<name>_<spec hash>[-n].")
    name: Optional[str] = Field(None, description="The spec's name.")
    status: Optional[Status] = Field(None, description="running | completed | failed | interrupted | pruned (as "
                                                       "written).")
    started: Optional[str] = Field(None, description="Start time, UTC, ISO 8601 with milliseconds.")
    ended: Optional[str] = Field(None, description="End time; null while running.")
    duration_s: Optional[float] = Field(None, description="Seconds from start to end; null while running.")
    seed: Optional[int] = Field(None, description="The seed of this run (split, initialization, dropout, order).")
    spec_hash: Optional[str] = Field(None, description="Hash of the resolved spec without its seed.")
    parent: Optional[str] = Field(None, description="The sweep folder that ran this trial, or null.")
    trial: Optional[str] = Field(None, description="The key of the sweep.json trial this run trains, or null: how a "
                                                   "resumed sweep finds a run that ended after sweep.json was last "
                                                   "written.")
    host: Optional[str] = Field(None, description="Host name of the training process.")
    pid: Optional[int] = Field(None, description="Its process id (a running run whose process is gone reads crashed).")
    versions: dict[str, str] = Field(default_factory=dict, description="python and regexp versions.")
    versions_ml: dict[str, str] = Field(default_factory=dict, description="tensorflow and keras versions.")
    argv: list[str] = Field(default_factory=list, description="The command line.")
    device: Optional[str] = Field(None, description="CPU, or GPU xN.")
    task: Optional[str] = Field(None, description="classification | binary | regression.")
    sizes: Optional[Sizes] = Field(None, description="Samples per part.")
    threads: dict[str, int] = Field(default_factory=dict, description="TensorFlow's intra_op/inter_op threads (0: its "
                                                                      "choice).")
    batch_size: Optional[int] = Field(None, description="The mini-batch size used (`full` resolved to a number).")
    steps_per_epoch: Optional[int] = Field(None, description="Optimizer steps per epoch.")
    distribute: Optional[dict[str, Any]] = Field(None, description="{strategy, replicas} of tf.distribute.")
    resumed: list[Resumed] = Field(default_factory=list, description="One entry per `regexp resume`.")
    packed: Optional[Packed] = Field(None, description="Set when the trial trained in a pack (`--pack`); null when "
                                                       "alone.")
    provenance: Optional[Provenance] = Field(None, description="Where the run came from: git, data, split, "
                                                               "libraries.")
    # A plain mapping here: the model (data/reading.py) sits under regexp.data, whose import loads numpy, which
    # a report never needs; `regexp show` validates it as a TableReading, and docs/run-folder.md lists its keys.
    table: Optional[dict[str, Any]] = Field(None, description="A csv/parquet data.path: how each column was read "
                                                              "(what `regexp validate` printed; keys below); null "
                                                              "otherwise.")
    error: Optional[str] = Field(None, description="Why it failed or was interrupted, one line (error.txt has the "
                                                   "traceback).")
    config: Optional[dict[str, Any]] = Field(None, description="The resolved spec again, as JSON (config.yaml is its "
                                                               "YAML twin; JSON reads ~10x faster).")


class RunMetrics(Record):
    """metrics.json: the final scores of a completed run, from the weights saved in model.keras."""

    task: Optional[str] = Field(None, description="classification | binary | regression.")
    classes: Optional[list[str]] = Field(None, description="Class labels in output order (null for regression).")
    columns: Optional[list[dict[str, Any]]] = Field(None, description="A table with categories or filled cells: each "
                                                    "feature column's name, kind (numeric | categorical), train "
                                                    "vocabulary (code k is its k-th value; 0 out of vocabulary), "
                                                    "encoding (one_hot | embedding), fill and indicator; null "
                                                    "otherwise.")
    sizes: Optional[Sizes] = Field(None, description="Samples per part.")
    train: dict[str, Optional[float]] = Field(
        default_factory=dict, description="Train part: loss (the data loss: no penalty, true labels even with label "
                                          "smoothing), penalty (the L1/L2 terms), each tracked metric; null where "
                                          "the value was not a finite number (see non_finite).")
    val: dict[str, Optional[float]] = Field(default_factory=dict,
                                            description="Validation part, the same keys (empty without one).")
    test: dict[str, Optional[float]] = Field(default_factory=dict, description="Test part, the same keys, plus mc_* "
                                                                               "under evaluation.mc_dropout.")
    non_finite: dict[str, str] = Field(default_factory=dict, description="part.metric -> nan | inf | -inf: values "
                                       "written as null, since JSON has no NaN (the report leaves them out of n).")
    monitor: Optional[str] = Field(None, description="The history column that chose best_epoch.")
    directions: dict[str, Literal["min", "max"]] = Field(default_factory=dict, description="loss and each tracked "
                                                                                           "metric: min or max is "
                                                                                           "better.")
    best_epoch: Optional[int] = Field(None,
                                      description="Epoch (1-based) with the best monitor value; first among ties.")
    epochs_run: Optional[int] = Field(None, description="Epochs trained (the last history row).")
    early_stopped: Optional[bool] = Field(None, description="Early stopping ended training before training.epochs.")
    parameters: dict[str, int] = Field(default_factory=dict, description="total, trainable and non_trainable weights.")
    mc_dropout: int = Field(0, description="Passes averaged for the test mc_* metrics (0: none).")

    @computed_field(description="The spec contract's name for the last epoch trained: always equal to epochs_run.")
    @property
    def stopped_epoch(self) -> Optional[int]:
        return self.epochs_run

    @computed_field(description="train minus val, per metric (null without a validation part).")
    @property
    def generalization_gap(self) -> Optional[dict[str, float]]:
        return generalization_gap(self.train, self.val) if self.val else None

    @computed_field(description="The step of each accuracy-like score, per part: one sample of the part (1/n, from "
                                "sizes): two runs on one part differ by a multiple of it. Derived again on reading, so "
                                "older runs have it too; null without sizes.")
    @property
    def resolution(self) -> Optional[dict[str, dict[str, float]]]:
        if self.sizes is None:
            return None
        out = {part: {name: step for name in self.part(part) if (step := resolution(name, size)) is not None}
               for part in PARTS if (size := getattr(self.sizes, part))}
        return {part: steps for part, steps in out.items() if steps}

    def part(self, part: str) -> dict[str, float]:
        return getattr(self, part) if part in PARTS else {}

    def step(self, key: MetricKey) -> float | None:
        """The resolution of train_/val_/test_ NAME (None: continuous, or sizes unknown)."""
        return ((self.resolution or {}).get(key.part) or {}).get(key.name)

    def value(self, key: MetricKey) -> float | None:
        """A finite value of train_/val_/test_/gap_ NAME, or None."""
        if key.part == "gap":
            value = (self.generalization_gap or {}).get(key.name)
        else:
            value = self.part(key.part).get(key.name)
        return value if value is not None and math.isfinite(value) else None


def generalization_gap(train: dict[str, float | None], val: dict[str, float | None]) -> dict[str, float]:
    """train minus val for every name both parts have a value of (the report's gap_ columns)."""
    return {name: train[name] - val[name] for name in train
            if name in val and name != "penalty" and train[name] is not None and val[name] is not None}


def best_epoch(history: list[dict], monitor: str) -> int | None:
    """The epoch with the best finite monitor value, the first among ties (as EarlyStopping picks)."""
    values = [(row[monitor], int(row["epoch"])) for row in history
              if isinstance(row.get(monitor), float) and math.isfinite(row[monitor])]
    if not values:
        return None
    pick = min if direction(monitor) == "min" else max
    return pick(values, key=lambda v: v[0])[1]


def default_monitor(early_stopping_monitor: str | None, has_val: bool) -> str:
    """The history column that defines the best epoch: early stopping's, else val_loss, else loss."""
    return early_stopping_monitor or ("val_loss" if has_val else "loss")


def history_columns(metrics: list[str]) -> list[str]:
    """history.csv's header: one row per epoch, in Keras's log names."""
    return ["epoch", "loss", *metrics, "val_loss", *(f"val_{m}" for m in metrics), "penalty", "lr", "seconds"]


HISTORY_COLUMNS = {
    "epoch": "1-based epoch number.",
    "loss": "Mean training data loss over the epoch's batches (training mode: dropout on, no L1/L2 penalty).",
    "METRIC": "Each tracked metric on the training batches (accuracy, mae, ...).",
    "val_loss": "Validation data loss at the end of the epoch (inference mode).",
    "val_METRIC": "Each tracked metric on the validation part.",
    "penalty": "The L1/L2 terms Keras adds to the training loss (loss + penalty is what the optimizer minimized).",
    "lr": "The learning rate the epoch started with.",
    "seconds": "Wall-clock seconds of the epoch (in a pack: the pack's epoch divided by its running trials).",
}


LAYER_STATS_COLUMNS = {
    "epoch": "1-based epoch number (measured at its end).",
    "layer": "The Keras layer: l0, l1, ... (hidden, in order) and output.",
    "weight_norm": "Frobenius norm of the kernel, sqrt(sum w^2): L2 and max-norm shrink it.",
    "sparsity": "Fraction of kernel entries with |w| below logging.sparsity_threshold: L1 raises it.",
    "grad_norm": "Norm of the gradient of loss + L1/L2 terms with respect to the kernel (vanishing/exploding).",
    "act_mean": "Mean of the layer's activations (after its activation function; the output layer: its probabilities).",
    "act_std": "Their standard deviation: near 0 means saturated or dead units.",
    "bn_moving_mean": "Batch norm: the mean over units of the moving mean used at inference (empty without BN).",
    "bn_moving_var": "Batch norm: the mean over units of the moving variance.",
}
STEPS_COLUMNS = {
    "step": "1-based optimizer step, counted across epochs.",
    "epoch": "The epoch the step belongs to.",
    "batch_size": "Samples in the mini-batch (the last one of an epoch may be smaller).",
    "loss": "The batch's data loss (training mode: dropout on, true labels, no L1/L2 terms), as history's loss.",
    "objective": "What the optimizer minimized on the batch: the loss against (smoothed) targets plus L1/L2 terms.",
}


class ResumeState(BaseModel):
    """checkpoint/state.json: the last resume point of an unfinished run (removed when it completes)."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1, description="The last completed epoch: resume continues after it.")
    weights: str = Field(pattern=r"^epoch-[0-9]+\.weights\.h5$", description="Model and optimizer weights of that "
                                                                             "epoch, beside state.json.")
    counters: dict[str, dict[str, Any]] = Field(default_factory=dict, description="EarlyStopping / ReduceLROnPlateau "
                                                                                  "counters by class name.")
    best_weights: Optional[str] = Field(None, pattern=r"^best-[0-9]+\.npz$", description="Early stopping's best "
                                                                                         "weights so far, beside "
                                                                                         "state.json.")
