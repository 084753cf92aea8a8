"""search.halving: rungs and promotions, pruned slices frozen in a pack, trials alone stopped at a
rung, and `pruned` as report, diagnose, export, status and resume read it."""

import json
import math

import keras
import numpy as np
import pytest

from regexp.cli import app
from regexp.sweep.halving import LEDGER, Halving, promoted, read_ledger, rung_epochs
from regexp.sweep.trials import point_key, point_of

from conftest import TINY, merged
from runfolders import pack_task

LRS = [1e-3, 3e-2, 3e-1]  # three points far apart: their val_loss differs after one epoch


def test_rungs_and_promotions_on_a_hand_made_case(tmp_path):
    assert rung_epochs(3, 2, 20) == (2, 6, 18) and rung_epochs(2, 1, 8) == (1, 2, 4) and rung_epochs(3, 5, 5) == ()
    assert promoted(0.4, [0.5, 0.4, 0.9], 3, maximize=False)       # the best 1 of 3
    assert not promoted(0.5, [0.5, 0.4, 0.9], 3, maximize=False)
    assert promoted(0.9, [0.9], 3, maximize=False)                  # fewer than eta: the best so far goes on
    assert promoted(0.8, [0.1, 0.8, 0.7, 0.5, 0.6, 0.2], 3, maximize=True)      # best 2 of 6, maximized
    assert not promoted(0.6, [0.1, 0.8, 0.7, 0.5, 0.6, 0.2], 3, maximize=True)

    rule = Halving(str(tmp_path), eta=3, rungs=(1, 3), column="val_loss", maximize=False)
    # a pack of three points with two seeds each reaches rung 1: means 0.5, 0.4, 0.9; one of 3 goes on
    first = rule.decide(1, {"a0": ("A", 0.6), "a1": ("A", 0.4), "b0": ("B", 0.3), "b1": ("B", 0.5),
                            "c0": ("C", 0.9), "c1": ("C", 0.9)})
    assert {k for k, why in first.items() if why is None} == {"b0", "b1"}
    assert "not among the best 1 of the 3 points at the rung (eta 3)" in first["a0"]
    assert "val_loss 0.5000" in first["a0"] and "rung 1 of 2" in first["a0"]
    # later, asynchronously: D (0.45) is not in the best 1 of 4; E (0.2) is, and so are 2 of 6 with F
    assert rule.decide(1, {"d0": ("D", 0.45)})["d0"] is not None
    assert rule.decide(1, {"e0": ("E", 0.2)})["e0"] is None
    assert rule.decide(1, {"f0": ("F", 0.35)})["f0"] is None  # best 2 of 6: 0.2 and 0.35
    # sticky: a late seed of a pruned point follows its point, however good it is; non-finite is worst
    assert rule.decide(1, {"a2": ("A", 0.01)})["a2"] is not None
    assert rule.decide(3, {"g0": ("G", math.nan), "b0": ("B", 0.2), "b1": ("B", 0.2)})["g0"] is not None
    ledger = read_ledger(tmp_path)
    assert ledger["1"]["decisions"]["A"]["value"] == pytest.approx(0.5)  # decided on the seeds it had then
    assert len(ledger["1"]["values"]) == 10 and ledger["3"]["decisions"]["G"]["value"] is None
    assert json.loads((tmp_path / LEDGER).read_text()) == ledger  # plain JSON (no NaN or Infinity)


def test_halving_spec_errors_name_the_key(runner, write_spec):
    search = {"params": {"training.optimizer.learning_rate": LRS}, "halving": {"eta": 3, "min_epochs": 3}}
    cases = [(merged(TINY, search=search), "search.halving.min_epochs", "must be below training.epochs = 3"),
             (merged(TINY, search={**search, "halving": {"min_epochs": 1}, "objective": {"metric": "test_loss"}}),
              "search.halving", "use a val_ or train metric"),
             (merged(TINY, search={**search, "halving": {"min_epochs": 1},
                                   "params": {"training.epochs": [3, 4]}}), "search.halving", "training.epochs"),
             (merged(TINY, search={**search, "halving": {"eta": 1}}), "search.halving.eta",
              "greater than or equal to 2")]
    for spec, key, message in cases:
        result = runner.invoke(app, ["validate", str(write_spec(spec))])
        assert result.exit_code == 2 and key in result.output and message in result.output, result.output
        assert "Traceback" not in result.output


def test_halving_on_ray_without_a_shared_filesystem_is_refused(runner, write_spec, tmp_path):
    path = write_spec(merged(TINY, search={"params": {"training.optimizer.learning_rate": LRS},
                                           "halving": {"min_epochs": 1}}))
    result = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "--executor", "ray",
                                 "--no-shared-fs"])
    assert result.exit_code == 2 and "needs --shared-fs" in result.output and not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def halved(tmp_path_factory):
    """A packed grid sweep: 3 learning rates x 2 seeds, 4 epochs, rungs after epochs 1 and 3 (eta 3);
    the pack's trainer is kept to read its state after training."""
    from typer.testing import CliRunner

    import regexp.packed.trainer as trainer_module

    tmp = tmp_path_factory.mktemp("halved")
    spec = tmp / "spec.yaml"
    spec.write_text(json.dumps(merged(TINY, name="halved", training={"epochs": 4}, repeat=2, search={
        "params": {"training.optimizer.learning_rate": LRS}, "halving": {"eta": 3, "min_epochs": 1}})))
    trainers = []
    real = trainer_module.PackTrainer.run

    def keep(self, *args):
        trainers.append(self)
        return real(self, *args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module.PackTrainer, "run", keep)
        args = ["sweep", str(spec), "--runs-dir", str(tmp / "runs"), "--workers", "1", "-q"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (folder,) = (tmp / "runs").glob("*_sweep")
    return tmp / "runs", folder, trainers[0], args


def test_pruned_slices_of_a_pack_stop_changing(halved):
    runs, folder, trainer, _ = halved
    state = json.loads((folder / "sweep.json").read_text())
    statuses = [t["status"] for t in state["trials"]]
    assert statuses.count("pruned") == 4 and statuses.count("completed") == 2  # 1 of 3 points goes on
    assert state["status"] == "completed" and state["best"]["n"] == 2
    for slot, slice_ in enumerate(trainer.slices):
        run, rows = slice_.trial.path, slice_.trial.rows
        info = json.loads((run / "run.json").read_text())
        saved = keras.saving.load_model(run / "model.keras", compile=True)
        if info["status"] == "completed":
            assert len(rows) == 4
            continue
        assert info["status"] == "pruned" and len(rows) == 1 and "after epoch 1 (rung 1 of 2)" in info["error"]
        assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 1
        # the pack trained three more epochs: this slice's weights and Adam moments are still those of epoch 1
        for (layer, weight), variable in trainer.stack.variables.items():
            mine = next(w for w in saved.get_layer(layer).weights if w.name == weight)
            np.testing.assert_array_equal(variable.numpy()[slot], mine.numpy())
        slots = {v.path: v.numpy() for v in saved.optimizer.variables}
        trainable = [key for key, v in trainer.stack.variables.items() if v.trainable]
        for name, per_variable in trainer.optimizer.slots.items():
            for (layer, weight), value in zip(trainable, per_variable):
                path = next(w for w in saved.get_layer(layer).weights if w.name == weight).path.replace("/", "_")
                saved_slot = next(v for p, v in slots.items() if p.endswith(f"{path}_{name}"))
                np.testing.assert_array_equal(value.numpy()[slot], saved_slot)


def test_report_diagnose_export_status_and_resume_treat_pruned_runs(halved, runner, tmp_path, monkeypatch):
    runs, folder, _, args = halved
    before = sorted(p.name for p in runs.iterdir())
    again = runner.invoke(app, args)  # the same command: nothing is trained again, pruned trials included
    assert again.exit_code == 0 and sorted(p.name for p in runs.iterdir()) == before
    assert "pruned by search.halving: 4 trials of 2 points" in again.output

    report = json.loads(runner.invoke(app, ["report", "--runs-dir", str(runs), "-f", "json", "--failures",
                                            "worst", "--importance"]).output)
    pruned_rows = [r for r in report["rows"] if "pruned" in r["status"]]
    assert len(pruned_rows) == 2 and all(r["status"] == "2 pruned after epoch 1" and r["n"] == 0 for r in pruned_rows)
    (search,) = report["search"]
    assert search["n"] == 1 and search["pruned"] == 2
    pruned_run = next(p for p in runs.iterdir() if (p / "run.json").is_file()
                      and '"pruned"' in (p / "run.json").read_text())
    diagnosis = runner.invoke(app, ["diagnose", str(pruned_run)])
    assert diagnosis.exit_code == 2 and "pruned by its sweep's search.halving after 1 epochs" in diagnosis.output
    resumed = runner.invoke(app, ["resume", str(pruned_run)])
    assert resumed.exit_code == 2 and "cannot resume: it was pruned by search.halving" in resumed.output
    status = runner.invoke(app, ["status", str(folder / "spec.yaml"), "--runs-dir", str(runs)])
    assert "up to date (6 trials)" in status.output, status.output

    tracking = pytest.importorskip("mlflow.tracking")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert runner.invoke(app, ["export", "mlflow", "--runs-dir", str(runs), "--tracking-uri", uri]).exit_code == 0
    client = tracking.MlflowClient(tracking_uri=uri)
    (exported,) = client.search_runs([client.get_experiment_by_name("halved").experiment_id],
                                     filter_string=f"tags.`regexp.run_id` = '{pruned_run.name}'")
    assert exported.info.status == "FINISHED" and exported.data.tags["status"] == "pruned"


def test_a_trial_alone_stops_at_its_rung(runner, write_spec, tmp_path):
    """--pack off: each trial reports alone and is decided on the seeds its point has at the rung."""
    path = write_spec(merged(TINY, name="alone", search={"params": {"training.optimizer.learning_rate": LRS},
                                                        "halving": {"eta": 3, "min_epochs": 1}}))
    result = runner.invoke(app, ["sweep", str(path), "--runs-dir", str(tmp_path / "runs"), "-q", "--pack", "off"])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").glob("*_sweep")
    decisions = read_ledger(folder)["1"]["decisions"]
    for entry in json.loads((folder / "sweep.json").read_text())["trials"]:
        history = (tmp_path / "runs" / entry["run"] / "history.csv").read_text().splitlines()[1:]
        goes_on = decisions[point_key(point_of(entry["point"]))]["go_on"]
        assert (entry["status"], len(history)) == (("completed", 3) if goes_on else ("pruned", 1))
    assert decisions[next(iter(decisions))]["go_on"]  # the first point to arrive is the best so far


def test_tpe_is_told_a_pruned_point_as_pruned(write_spec):
    from regexp.spec import load_spec
    from regexp.sweep.trials import plan_round

    loaded = load_spec(write_spec(merged(TINY, search={"method": "tpe", "trials": 8, "batch": 4, "seed": 0, "params": {
        "training.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]}}, "halving": {"min_epochs": 1}})))
    first = plan_round(loaded, [])
    told = [(t.point, 0.5, None) for t in first[:2]] + [(t.point, None, (1, 2.0)) for t in first[2:]]
    second = plan_round(loaded, [], 2, told=told)
    assert len(second) == 4 and second == plan_round(loaded, [], 2, told=told)


def test_a_compacted_pack_trains_its_survivors_as_the_full_pack_does(write_spec, tmp_path, monkeypatch):
    """Compacting at the rung (forced here: on tiny data it never pays) leaves a pack of the 2
    survivors, whose histories and weights are those of the same trials in a pack without halving."""
    import regexp.packed.trainer as trainer_module
    from regexp.packed.trainer import run_pack
    from regexp.spec import load_spec
    from regexp.sweep.trials import plan_round

    monkeypatch.setattr(trainer_module.PackTrainer, "_compacting_pays", lambda self, epoch, left: 0 < left < self.k)
    kept = []
    real = trainer_module.PackTrainer.run
    monkeypatch.setattr(trainer_module.PackTrainer, "run", lambda self, *a: (kept.append(self), real(self, *a))[1])
    spec = write_spec(merged(TINY, training={"epochs": 4}, repeat=2, search={
        "params": {"training.optimizer.learning_rate": LRS}, "halving": {"eta": 3, "min_epochs": 2}}))
    trials = plan_round(load_spec(spec), [])
    runs = {}
    for name, rule in (("full", None), ("halved", Halving(str(tmp_path), 3, (2,), "val_loss", False))):
        results = run_pack(pack_task(spec, [t.overrides for t in trials], tmp_path / name, parent="sweep",
                                     pack_id=name, halving=rule, points=[t.point_key for t in trials]))
        runs[name] = [tmp_path / name / r.run for r in results]
    assert kept[-1].k == 2 and [s.trial.path for s in kept[-1].slices] == [
        p for p in runs["halved"] if '"completed"' in (p / "run.json").read_text()]
    for full, halved in zip(runs["full"], runs["halved"]):
        if '"pruned"' in (halved / "run.json").read_text():
            continue
        rows = [np.loadtxt(p / "history.csv", delimiter=",", skiprows=1) for p in (full, halved)]
        np.testing.assert_allclose(rows[0][:, :-1], rows[1][:, :-1], rtol=1e-5)  # all but the seconds
        weights = [keras.saving.load_model(p / "model.keras").get_weights() for p in (full, halved)]
        for a, b in zip(*weights):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
