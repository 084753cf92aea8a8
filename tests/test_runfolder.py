"""The run-folder contract: typed models round-trip, readers are lenient, each fact is defined once,
the docs are current, and the Keras internals regexp relies on are still there."""

import json

import pytest
import yaml

from regexp.report.collect import run_values
from regexp.store.contract import (
    MetricKey,
    RunInfo,
    RunMetrics,
    Status,
    best_epoch,
    generalization_gap,
)
from regexp.store.folders import read_run
from regexp.store.sweep_file import SweepState, TrialEntry
from regexp.views import reference

from conftest import REPO
from runfolders import make_run


def test_docs_run_folder_md_is_generated_from_the_models():
    assert (REPO / "docs" / "run-folder.md").read_text() == reference.run_folder_page(), "run `make docs`"


def test_docs_spec_md_is_generated_from_the_spec_models():
    page = (REPO / "docs" / "spec.md").read_text()
    assert page == reference.spec_page(), "run `make docs`"
    # every section a spec can hold has its table, with each key's default and range
    for heading in ("## model.defaults", "## model.layers[] (Conv2D)", "## training.lr_schedule (Cosine)",
                    "## search.params"):
        assert heading in page
    assert "| `dropout` | float | `0.0` | >= 0, < 1 | Dropout rate after the activation. |" in page


@pytest.mark.parametrize("page", ["spec", "run_folder"])
def test_no_generated_description_ends_mid_sentence(page):
    """Each section's description and each key's meaning is a whole sentence: a docstring that wraps
    onto a second line reaches the page whole (the `decide` section once stopped at "until each arm is")."""
    text = getattr(reference, f"{page}_page")()
    cut = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(("#", "```")):
            continue
        if block.startswith("|"):  # a table: its last cell says what the key means (empty for a shape's tag)
            cut += [line for line in block.splitlines()[2:] if (meaning := line.rsplit(" | ", 1)[-1].removesuffix(
                " |").removesuffix("|").strip()) and not meaning.endswith((".", ")", ":"))]
        elif not block.rstrip().endswith((".", ")", ":")):
            cut.append(block)
    assert not cut, cut


def test_every_model_round_trips_through_json():
    info = RunInfo(id="x", name="n", status=Status.RUNNING, started="2026-11-01T00:00:00.000+00:00", seed=3,
                   sizes={"train": 6, "val": 2, "test": 2}, resumed=[{"at_epoch": 2, "time": "t",
                                                                      "previous_status": "crashed"}],
                   config={"seed": 3}, extra_key_from_a_newer_writer=1)
    metrics = RunMetrics(task="classification", train={"loss": 0.2, "accuracy": 0.9}, val={"loss": 0.5,
                                                                                           "accuracy": 0.8},
                         directions={"loss": "min", "accuracy": "max"}, best_epoch=4, epochs_run=6, early_stopped=True)
    state = SweepState(kind="repeat", name="n", spec="s.yaml", spec_hash="h", started="t",
                       objective={"metric": "val_loss", "mode": "min"}, trials=[TrialEntry(key="k", seed=0)],
                       decide={"baseline": "dropout=0.0", "baseline_point": {"model.defaults.dropout": 0.0},
                               "metric": "test_accuracy", "margin": 0.005, "alpha": 0.05, "batch": 5, "max_seeds": 40,
                               "method": "m", "looks": [{"seeds": 5, "arms": [
                                   {"point": {"model.defaults.dropout": 0.5}, "verdict": "undecided", "seeds": 5,
                                    "diff": 0.01, "ci": [None, None]}]}],
                               "arms": [{"point": {"model.defaults.dropout": 0.5}, "verdict": "better", "seeds": 10,
                                         "diff": 0.01, "ci": [0.002, 0.018], "look": 2}]})
    for model in (info, metrics, state):
        text = json.dumps(model.to_json())
        again = type(model).parse(json.loads(text), "file", warnings := [])
        assert again == model and warnings == []
    assert json.loads(json.dumps(info.to_json()))["status"] == "running"
    assert info.to_json()["extra_key_from_a_newer_writer"] == 1


def test_derived_facts_are_computed_from_the_stored_ones():
    m = RunMetrics(train={"loss": 0.2, "accuracy": 0.95, "penalty": 0.1}, val={"loss": 0.5, "accuracy": 0.8},
                   epochs_run=7)
    stored = m.to_json()
    assert stored["stopped_epoch"] == 7  # SPEC.md's name, always epochs_run
    assert stored["generalization_gap"] == pytest.approx({"loss": -0.3, "accuracy": 0.15})
    assert m.value(MetricKey.parse("gap_accuracy")) == pytest.approx(0.15)
    assert RunMetrics(train={"loss": 0.2}).to_json()["generalization_gap"] is None  # no validation part


def test_an_old_metrics_json_with_its_own_stored_gap_reads_through_the_models(tmp_path):
    run = make_run(tmp_path, "old")  # written as SPEC.md describes, with stopped_epoch stored
    raw = json.loads((run / "metrics.json").read_text())
    raw["generalization_gap"] = {"loss": 123.0}  # stored by an older regexp: recomputed, never trusted
    (run / "metrics.json").write_text(json.dumps(raw))
    record = read_run(run)
    assert record.metrics.stopped_epoch == record.metrics.epochs_run == 3 and record.warnings == []
    assert run_values(record, "accuracy")["gap_loss"] == pytest.approx(0.1 - 0.3)


@pytest.mark.parametrize("file, key, value", [("run.json", "seed", "zero"), ("run.json", "status", "exploded"),
                                              ("metrics.json", "train", {"loss": "low"}), ("metrics.json",
                                                                                           "best_epoch", [2])])
def test_a_wrong_value_is_dropped_with_a_warning_and_the_rest_is_read(tmp_path, file, key, value):
    run = make_run(tmp_path, "r", val_accuracy=0.87)
    data = json.loads((run / file).read_text())
    data[key] = value
    (run / file).write_text(json.dumps(data))
    record = read_run(run)
    assert any(w.startswith(f"{file}: {key} has a wrong value") for w in record.warnings), record.warnings
    model = record.info if file == "run.json" else record.metrics
    assert getattr(model, key) in (None, {})
    assert record.name == "exp" and (record.metrics is None or record.metrics.val["accuracy"] == 0.87)
    if key == "status":
        assert record.status == Status.INCOMPLETE


@pytest.mark.parametrize("text, part, name, column, history, direction", [
    ("val_accuracy", "val", "accuracy", "val_accuracy", "val_accuracy", "max"),
    ("loss", "train", "loss", "train_loss", "loss", "min"),
    ("train_top3_accuracy", "train", "top3_accuracy", "train_top3_accuracy", "top3_accuracy", "max"),
    ("gap_r2", "gap", "r2", "gap_r2", "gap_r2", "max"),
    ("test_mae", "test", "mae", "test_mae", "test_mae", "min"),
    ("duration_s", "train", "duration_s", "train_duration_s", "duration_s", "min"),
])
def test_metric_keys(text, part, name, column, history, direction):
    key = MetricKey.parse(text)
    assert (key.part, key.name, key.column, key.history_column, key.direction) == (part, name, column, history,
                                                                                   direction)


def test_best_epoch_follows_the_monitor_direction_and_takes_the_first_tie():
    history = [{"epoch": 1, "val_loss": 0.5, "val_accuracy": 0.7}, {"epoch": 2, "val_loss": 0.3, "val_accuracy": 0.9},
               {"epoch": 3, "val_loss": 0.3, "val_accuracy": 0.9}, {"epoch": 4, "val_loss": float("nan"),
                                                                    "val_accuracy": 0.8}]
    assert best_epoch(history, "val_loss") == 2 and best_epoch(history, "val_accuracy") == 2
    assert best_epoch([{"epoch": 1, "val_loss": float("nan")}], "val_loss") is None


def test_an_unfinished_run_reads_its_best_epoch_by_the_early_stopping_monitor(tmp_path):
    """The same rule as training's: an interrupted run monitoring val_accuracy is not judged by val_loss."""
    run = make_run(tmp_path, "r", status="interrupted", write=("run", "config"))
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["training"]["early_stopping"] = {"monitor": "val_accuracy", "patience": 5}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy\n"
                                     "1,0.9,0.5,0.40,0.70\n2,0.5,0.8,0.45,0.90\n3,0.3,0.9,0.60,0.85\n")
    assert run_values(read_run(run), "accuracy")["best_epoch"] == 2          # best val_accuracy
    del config["training"]["early_stopping"]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert run_values(read_run(run), "accuracy")["best_epoch"] == 1          # best val_loss


def test_gap_is_one_definition():
    assert generalization_gap({"loss": 0.1, "accuracy": 0.9, "penalty": 0.3}, {"loss": 0.4, "accuracy": 0.7}) == \
        pytest.approx({"loss": -0.3, "accuracy": 0.2})


def test_the_status_strings_older_folders_hold_still_read():
    written = {"running", "completed", "failed", "interrupted", "pruned"}  # run.json, and a trial's besides pending
    swept = {"running", "completed", "completed with failures", "interrupted", "stopped"}  # a sweep's
    assert {str(Status(text)) for text in written | swept | {"pending"}} == written | swept | {"pending"}
    assert TrialEntry(key="k", seed=0, status="pruned").status is Status.PRUNED


# ------------------------------------------------------------------------ Keras internals relied on
def test_keras_callback_counters_that_resume_restores_exist():
    """checkpoint.COUNTERS names attributes Keras resets in on_train_begin; if Keras renames them,
    a resumed run would silently restart its patience. pyproject pins keras below 3.16 for this."""
    from regexp.trial.resume_point import COUNTERS

    for cls, names in COUNTERS.items():
        callback = cls(monitor="val_loss")
        callback.on_train_begin()
        for name in names:
            assert hasattr(callback, name), f"{cls.__name__}.{name}"


def test_keras_cutmix_transformation_has_the_mask_and_permutation_the_pipeline_reads():
    import keras
    import numpy as np

    cutmix = keras.layers.CutMix(factor=(1.0, 1.0), seed=0)
    images = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    box = cutmix.get_random_transformation(images, training=True)
    assert tuple(box["batch_masks"].shape) == (4, 8, 8, 1)
    assert sorted(np.asarray(box["permutation_order"]).tolist()) == [0, 1, 2, 3]



def test_keras_saving_recomputes_its_skipsets_unless_the_pack_trainer_stores_them(tmp_path):
    """Keras 3.15 stores saving_lib's attribute skipsets under a key it never reads, so each save
    builds them again; compat.cache_keras_saving_skipsets stores them where they are read.
    If Keras fixes the key, the first assertion fails and the workaround can go."""
    import threading

    import keras
    from keras.src.backend.common import global_state

    from regexp.compat import cache_keras_saving_skipsets

    def skipsets_built_by_a_save(workaround: bool) -> list[str]:
        built, real = [], global_state.set_global_attribute

        def save():  # Keras's global state is per thread: a new thread starts without the sets
            if workaround:
                cache_keras_saving_skipsets()
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            model.compile(optimizer="adam", loss="mse")
            model.save(tmp_path / f"m{workaround}.keras")  # a first save: builds whatever is missing
            global_state.set_global_attribute = lambda name, value: (built.append(name), real(name, value))
            try:
                model.save(tmp_path / f"m{workaround}.keras")
            finally:
                global_state.set_global_attribute = real
        thread = threading.Thread(target=save)
        thread.start()
        thread.join()
        return [name for name in built if name.startswith("saving_attr_skip")]

    assert skipsets_built_by_a_save(workaround=False)
    assert skipsets_built_by_a_save(workaround=True) == []


def test_submitit_writes_the_sbatch_file_of_a_job_array_as_compat_reads_it(tmp_path):
    """`sweep --executor slurm --dry-run` shows, and sbatch --test-only checks, the file submitit
    writes for a job array: compat.sbatch_script calls submitit's private writer for it."""
    pytest.importorskip("submitit")
    from regexp.compat import sbatch_script

    script = sbatch_script({"time": 10, "cpus_per_task": 2, "partition": "gpu", "array_parallelism": 2,
                            "additional_parameters": {"no-requeue": True}}, tmp_path, 3)
    lines = set(script.splitlines())
    assert {"#SBATCH --array=0-2%2", "#SBATCH --time=10", "#SBATCH --cpus-per-task=2", "#SBATCH --partition=gpu",
            "#SBATCH --no-requeue", "#SBATCH --signal=USR2@90"} <= lines
    assert f"#SBATCH --output={tmp_path}/%A_%a_0_log.out" in lines
