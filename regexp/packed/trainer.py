"""Train a pack: K trials of one shape in one TensorFlow graph, each writing its own run folder.

Top to bottom, per pack: load every trial's spec and data (its own seed-derived split or fold),
group them by data sizes, make every run folder (run.json says `packed: {id, slot, size}`), then
per epoch one tf.function runs all steps of all slices (each slice gathers its own batches in its
own order, draws its own dropout masks and noise, and steps with its own learning rate); the
slices are scored on their own validation parts; history rows, NaN checks and early stopping are
per slice. At the end each slice is scored, and saved as the plain Keras model that the trial alone
would have built (model.keras), with metrics.json from the same numbers a trial alone computes.

The pack's loss is the sum of its slices' losses: d(sum)/d(slice k) is slice k's own gradient,
unscaled by K. A slice that stops early or fails is masked out of every later update.
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from regexp.trial.resume_point import FOLDER as CHECKPOINT
from regexp.data import Prepared, prepare
from regexp.net.draws import epoch_orders
from regexp.errors import SpecError
from regexp.net.scoring import EVAL_BATCH, loss, loss_metrics, metric, targets
from regexp.net.mc_dropout import mc_dropout_metrics
from regexp.net.model import build_model
from regexp.net.optimizers import build_optimizer, build_schedule
from regexp.packed import measures
from regexp.packed.stopping import EarlyStop
from regexp.packed.optimizer import PackedOptimizer
from regexp.packed.stack import Stack, lead, per_slice
from regexp.sweep.trials import objective_of
from regexp.store.contract import ResumeState, RunMetrics, Status, TrialStatus, best_epoch, default_monitor, direction, history_columns
from regexp.store.folders import Run, csv_cell, write_atomic, write_json
from regexp.spec import LoadedSpec, load_spec
from regexp.trial.train import RunLog, first_line, parameter_counts, run_facts, summary_table


def cache_keras_saving_skipsets() -> None:
    """Keras 3.15's saving_lib.get_attr_skipset stores each set under 'saving_attr_skipset_<type>'
    but looks it up under 'saving_attr_skiplist_<type>', so every model.save builds reference Layer,
    Metric and Optimizer objects again: 6 of a pack trial's 16 ms of saving. Store each set under
    the key it is read from (thread-local Keras state: call it in the thread that saves)."""
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    for kind in ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss"):
        global_state.set_global_attribute(f"saving_attr_skiplist_{kind}", saving_lib.get_attr_skipset(kind))


def run_pack(spec_file: str, overrides: list[list[str]], runs_dir: str, parent: str, metric: str,
             pack_id: str) -> list[dict]:
    """Every trial of a pack (one override list each), in a worker or in-process; one result per trial,
    as sweep.run_trial returns it. Never raises for a failed trial; Ctrl-C marks them all interrupted."""
    started = time.perf_counter()
    loaded = [load_spec(spec_file, o) for o in overrides]
    results: list[dict | None] = [None] * len(loaded)
    data: list[Prepared | None] = []
    for i, spec in enumerate(loaded):
        try:
            data.append(prepare(spec))
        except SpecError as exc:  # as a trial alone: no run folder, the reason in sweep.json
            data.append(None)
            results[i] = {"status": TrialStatus.FAILED, "run": None, "objective": None, "error": str(exc)}
    groups: dict[tuple, list[int]] = {}
    for i, d in enumerate(data):
        if d is not None:  # equal shapes in the spec can still mean unequal parts (cv folds differ by one)
            groups.setdefault((tuple(d.sizes().values()), d.features, tuple(d.classes), d.task), []).append(i)
    for g, members in enumerate(groups.values()):
        trainer = PackTrainer([loaded[i] for i in members], [data[i] for i in members], Path(runs_dir), parent,
                              pack_id if len(groups) == 1 else f"{pack_id}.{g}")
        for i, result in zip(members, trainer.run(metric)):
            results[i] = result
    seconds = round((time.perf_counter() - started) / max(1, len(loaded)), 3)  # each trial's share of the pack
    return [{**r, "seconds": seconds} if r["status"] == TrialStatus.COMPLETED else r for r in results]


@dataclass
class _Slice:
    loaded: LoadedSpec
    data: Prepared
    run: Run
    log: RunLog
    stop: EarlyStop | None
    rows: list[dict] = field(default_factory=list)
    failure: str | None = None


class PackTrainer:
    def __init__(self, specs: list[LoadedSpec], data: list[Prepared], runs_dir: Path, parent: str, pack_id: str):
        self.specs, self.data, self.k = specs, data, len(specs)
        first, training = specs[0].spec, specs[0].spec.training
        self.task, self.metrics = data[0].task, data[0].metrics
        self.n = len(data[0].y_train)
        self.batch = self.n if training.batch_size == "full" else min(training.batch_size, self.n)
        self.steps, self.epochs = math.ceil(self.n / self.batch), training.epochs
        self.has_val = len(data[0].y_val) > 0
        keras.utils.set_random_seed(first.seed)
        cache_keras_saving_skipsets()  # K saves follow
        self.noise = tf.random.Generator.from_seed(hash(tuple(s.spec.seed for s in specs)) % (2**31))
        self.stack = Stack(specs, data)
        self.optimizer = PackedOptimizer(training.optimizer.name, [s.spec.training.optimizer for s in specs],
                                         self.stack.trainable)
        self.best = [tf.Variable(v) for v in self._state()]
        self.smoothing = per_slice([s.spec.training.label_smoothing for s in specs])
        self.mixup = per_slice([s.spec.training.mixup.alpha if s.spec.training.mixup else 0.0 for s in specs])
        self.mixes = data[0].task != "regression" and bool((self.mixup.numpy() > 0).any())
        self.parts = {part: (tf.constant(np.stack([getattr(d, f"x_{part}") for d in data]).astype(np.float32)),
                             tf.constant(np.stack([targets(getattr(d, f"y_{part}"), d) for d in data])))
                      for part in ("train", "val", "test") if len(getattr(data[0], f"y_{part}"))}
        self.slices = [self._open(s, d, runs_dir, parent, pack_id, slot) for slot, (s, d) in enumerate(zip(specs, data))]
        self.monitor = default_monitor(training.early_stopping and training.early_stopping.monitor, self.has_val)
        self.columns = history_columns(self.metrics)

    # ----------------------------------------------------------------------------------- the loop
    def run(self, objective_metric: str) -> list[dict]:
        active = np.ones(self.k, bool)
        orders = np.stack([epoch_orders(s.spec.seed, self.n, 0, self.epochs) for s in self.specs]).astype(np.int32)
        rates = np.stack([self._rates(s) for s in self.specs])
        snapshot = None
        try:
            for epoch in range(self.epochs):
                if not active.any():
                    break
                started = time.perf_counter()
                lr = rates[:, epoch * self.steps:(epoch + 1) * self.steps]
                sums = _numpy(self._train_epoch(tf.constant(orders[:, epoch]), tf.constant(lr), tf.constant(active)))
                val = self._evaluate("val") if self.has_val else None
                seconds = (time.perf_counter() - started) / max(1, int(active.sum()))  # each slice's share
                keep = np.zeros(self.k, bool)
                for k in np.flatnonzero(active):
                    row = {"epoch": epoch + 1, **measures.means(sums, k, self.metrics),
                           **({f"val_{m}": v for m, v in measures.means(val, k, self.metrics).items()} if val else {}),
                           "penalty": float(sums["objective"][k] - sums["smoothed"][k]) / float(sums["n"][k]),
                           "lr": float(lr[k, 0]), "seconds": round(seconds, 4)}
                    active[k], keep[k] = self._record(self.slices[k], row, epoch)
                if keep.any():
                    self._keep_best(tf.constant(keep))
                snapshot = (epoch + 1, [v.numpy() for v in self._state()], self._optimizer_state())
        except KeyboardInterrupt as exc:
            how = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "Ctrl-C"
            return self._interrupted(snapshot, active, how)
        restore = np.array([s.stop is not None and s.stop.restore and s.stop.has_best_weights for s in self.slices])
        if restore.any():
            self._restore_best(tf.constant(restore))
        return self._finish(objective_metric)

    def _record(self, s: _Slice, row: dict, epoch: int) -> tuple[bool, bool]:
        """Write one history row; (still active, keep these weights as its best)."""
        s.rows.append(row)
        with (s.run.path / "history.csv").open("a", newline="") as f:
            f.write(",".join(csv_cell(row.get(c)) for c in self.columns) + "\n")
        shown = "  ".join(f"{c} {row[c]:.4f}" for c in self.columns[1:-3] if c in row)
        s.log.print(f"epoch {epoch + 1}: {shown}  lr {row['lr']:.3g}")
        if not math.isfinite(row["loss"]):
            s.failure = f"non-finite loss at epoch {epoch + 1}"
            return False, False
        if s.stop is None:
            return True, False
        keep, stop = s.stop.update(epoch, row.get(s.stop.monitor))
        return not stop, keep

    # ------------------------------------------------------------------------------- graph parts
    @tf.function
    def _train_epoch(self, order, lr, active):
        full, rest = divmod(self.n, self.batch)
        sums = measures.zero_sums(self.k, self.metrics)
        for s in tf.range(full):
            sums = _add(sums, self._step(order[:, s * self.batch:(s + 1) * self.batch], lr[:, s], active))
        if rest:
            sums = _add(sums, self._step(order[:, full * self.batch:], lr[:, full], active))
        return sums

    def _step(self, index, lr, active):
        x_all, y_all = self.parts["train"]
        x, y = tf.gather(x_all, index, batch_dims=1), tf.gather(y_all, index, batch_dims=1)
        if self.mixes:
            x, y = self._mix(x, y)
        with tf.GradientTape() as tape:
            logits = self.stack(x, training=True, noise=self.noise, active=active)
            smoothed = measures.per_sample_loss(self.task, logits, measures.smooth(self.task, y, self.smoothing))
            objective = tf.reduce_mean(smoothed, axis=1) + self.stack.penalty()
            total = tf.reduce_sum(tf.where(active, objective, 0.0))  # a sum: each slice's own gradient
        self.optimizer.apply(tape.gradient(total, self.stack.trainable), lr, active)
        self.stack.apply_max_norm(active)
        batch = tf.cast(tf.shape(x)[1], tf.float32)
        return {**measures.sums(self.task, self.metrics, logits, y), "objective": objective * batch,
                "smoothed": tf.reduce_sum(smoothed, axis=1)}

    @tf.function
    def _eval_chunk(self, x, y):
        return measures.sums(self.task, self.metrics, self.stack(x, training=False), y)

    @tf.function
    def _keep_best(self, keep):
        for best, now in zip(self.best, self._state()):
            best.assign(tf.where(lead(keep, len(now.shape)), now, best))

    @tf.function
    def _restore_best(self, restore):
        for best, now in zip(self.best, self._state()):
            now.assign(tf.where(lead(restore, len(now.shape)), best, now))

    def _state(self) -> list[tf.Variable]:
        return list(self.stack.variables.values())

    def _mix(self, x, y):
        """Mixup per slice (pipeline.mixup's rule: λ ~ Beta(α, α) folded to max(λ, 1-λ)); α = 0: no mixing."""
        shape = tf.shape(y)[:2]
        alpha = tf.where(self.mixup > 0, self.mixup, 1.0)[:, None] * tf.ones(shape)
        a = tf.random.stateless_gamma(shape, self.noise.make_seeds(1)[:, 0], alpha=alpha)
        b = tf.random.stateless_gamma(shape, self.noise.make_seeds(1)[:, 0], alpha=alpha)
        lam = tf.maximum(a / (a + b), 1.0 - a / (a + b))
        lam = tf.where(self.mixup[:, None] > 0, lam, 1.0)[:, :, None]
        partner = tf.argsort(self.noise.uniform(shape), axis=1)
        return (lam * x + (1 - lam) * tf.gather(x, partner, batch_dims=1),
                lam * y + (1 - lam) * tf.gather(y, partner, batch_dims=1))

    def _evaluate(self, part: str) -> dict:
        """Sums over one part in inference mode, in chunks of EVAL_BATCH samples."""
        x, y = self.parts[part]
        total = None
        for start in range(0, int(x.shape[1]), EVAL_BATCH):
            chunk = _numpy(self._eval_chunk(x[:, start:start + EVAL_BATCH], y[:, start:start + EVAL_BATCH]))
            total = chunk if total is None else {key: total[key] + chunk[key] for key in total}
        return total

    def _rates(self, loaded: LoadedSpec) -> np.ndarray:
        """The learning rate of every step of every epoch, as the trial alone would step with it."""
        training = loaded.spec.training
        total = self.epochs * self.steps
        schedule = build_schedule(training, self.steps)
        if schedule is None:
            return np.full(total, training.optimizer.learning_rate, np.float32)
        per_step = training.lr_schedule.unit == "step"  # per epoch: LearningRateScheduler sets schedule(epoch)
        at = tf.range(total if per_step else self.epochs, dtype=tf.float32)
        values = tf.map_fn(lambda t: tf.cast(schedule(t), tf.float32), at).numpy()  # map_fn: CosineDecay uses cond
        return values if per_step else np.repeat(values, self.steps)

    # --------------------------------------------------------------------------- run folders
    def _open(self, loaded: LoadedSpec, data: Prepared, runs_dir: Path, parent: str, pack_id: str, slot: int) -> _Slice:
        spec = loaded.spec
        run = Run.create(runs_dir, spec.name, loaded.spec_hash(), loaded.resolved(), extra={
            **run_facts(data, parent), "batch_size": self.batch, "steps_per_epoch": self.steps, "distribute": {"strategy": "none", "replicas": 1},
            "packed": {"id": pack_id, "slot": slot, "size": self.k}})
        write_atomic(run.path / "history.csv", ",".join(history_columns(data.metrics)) + "\n")
        log = RunLog(run.path / "log.txt", None)
        sizes = data.sizes()
        log.print(f"[bold]{spec.name}[/] -> {run.path}")
        log.print(f"packed: slot {slot} of {self.k} in pack {pack_id}")
        log.print(f"data: {data.task}, {sizes['train']}/{sizes['val']}/{sizes['test']} train/val/test samples, "
                  f"{data.features} features; batch {self.batch}, {self.steps} steps/epoch")
        es = spec.training.early_stopping
        stop = None if es is None else EarlyStop(es.monitor, es.patience, es.min_delta,
                                                   direction(es.monitor) == "max", es.restore_best_weights)
        return _Slice(loaded, data, run, log, stop)

    def _finish(self, objective_metric: str) -> list[dict]:
        scores = {part: self._evaluate(part) for part in self.parts}
        penalty = self.stack.penalty().numpy()
        final = ([v.numpy() for v in self._state()], self._optimizer_state())  # read once, not once per slice
        results = []
        for k, s in enumerate(self.slices):
            if s.failure is not None:
                results.append(self._fail(s, s.failure))
                continue
            try:
                results.append(self._complete(s, k, scores, float(penalty[k]), objective_metric, final))
            except Exception as exc:  # this slice's bookkeeping failed (a full disk): it alone fails
                results.append(self._fail(s, f"{type(exc).__name__}: {first_line(str(exc))}"))
        return results

    def _complete(self, s: _Slice, k: int, scores: dict, penalty: float, objective_metric: str, final: tuple) -> dict:
        spec, data = s.loaded.spec, s.data
        results = {part: {**measures.means(sums, k, self.metrics), "penalty": penalty} for part, sums in scores.items()}
        results = {part: {**{m: r[m] for m in self.metrics}, "loss": r["loss"], "penalty": r["penalty"]}
                   for part, r in results.items()}
        model = self.keras_model(s, k, *final)
        if spec.evaluation.mc_dropout and len(data.y_test):
            mc = mc_dropout_metrics(model, data, spec.evaluation.mc_dropout)
            if mc is None:
                s.log.print("[yellow]warning:[/] evaluation.mc_dropout: the model has no dropout layer; MC dropout skipped")
            else:
                results["test"].update(mc)
        params = parameter_counts(model)
        metrics = RunMetrics(
            task=data.task, classes=data.classes, sizes=data.sizes(), **results, monitor=self.monitor,
            directions={m: direction(m) for m in ["loss", *data.metrics]}, best_epoch=best_epoch(s.rows, self.monitor),
            epochs_run=len(s.rows), early_stopped=len(s.rows) < self.epochs, parameters=params,
            mc_dropout=spec.evaluation.mc_dropout)
        partial = s.run.path / ".model.partial.keras"
        model.save(partial)
        partial.replace(s.run.path / "model.keras")
        write_json(s.run.path / "metrics.json", metrics.to_json())
        s.run.finish(Status.COMPLETED)
        s.log.print(summary_table(results, metrics, s.run.path))
        s.log.close()
        return {"status": TrialStatus.COMPLETED, "run": s.run.path.name,
                "objective": objective_of(metrics, objective_metric), "error": None}

    def keras_model(self, s: _Slice, k: int, values: list[np.ndarray], optimizer: dict) -> keras.Model:
        """Slice k as the compiled Keras model its trial alone builds (net/model.py, net/optimizers.py), holding
        its weights and optimizer state (`values` in _state()'s order, `optimizer` from _optimizer_state)."""
        spec, data = s.loaded.spec, s.data
        model = build_model(spec.model, data, name=spec.name, training=spec.training, seed=spec.seed)
        model.compile(optimizer=build_optimizer(spec.training, self.steps), loss=loss(data.task, spec.training.label_smoothing),
                      metrics=[*loss_metrics(data.task, spec.training.label_smoothing),
                               *(metric(n, data.task) for n in data.metrics)])
        by_name = dict(zip(self.stack.variables, values))
        for (layer, weight), value in by_name.items():
            _weight(model, layer, weight).assign(value[k])
        opt = model.optimizer
        opt.build(model.trainable_variables)  # as a trial alone saves it: slots included
        state = optimizer
        slots = {v.name: v for v in opt.variables}  # Keras names a slot <variable path with _>_<slot>
        opt.iterations.assign(state["iterations"])
        trainable = [key for key, v in self.stack.variables.items() if v.trainable]  # the optimizer's order
        for name, per_variable in state["slots"].items():
            for (layer, weight), value in zip(trainable, per_variable):
                slots[f"{_weight(model, layer, weight).path.replace('/', '_')}_{name}"].assign(value[k])
        return model

    def _fail(self, s: _Slice, reason: str) -> dict:
        s.log.print(f"[red]failed[/]: {reason}")
        s.run.finish(Status.FAILED, reason)
        s.log.close()
        return {"status": TrialStatus.FAILED, "run": s.run.path.name, "objective": None, "error": reason}

    def _optimizer_state(self) -> dict:
        return {"iterations": int(self.optimizer.iterations.numpy()),
                "slots": {name: [v.numpy() for v in slots] for name, slots in self.optimizer.slots.items()}}

    def _interrupted(self, snapshot, active: np.ndarray, how: str) -> list[dict]:
        """Every running slice gets a resume point in a trial's own format (trial/resume_point.py) and ends
        interrupted: `regexp resume RUN` continues it alone from the last completed epoch."""
        results = []
        for k, s in enumerate(self.slices):
            if s.failure is not None or not active[k]:  # it had finished training: finish its folder
                results.append(self._fail(s, s.failure) if s.failure else
                               self._interrupt_one(s, None, how))
                continue
            results.append(self._interrupt_one(s, (snapshot, k) if snapshot else None, how))
        return results

    def _interrupt_one(self, s: _Slice, at, how: str) -> dict:
        if at is not None:
            (epoch, values, optimizer), k = at
            self._write_resume_point(s, k, epoch, values, optimizer)
        s.log.print(f"[red]interrupted[/] ({how}): {s.run.path}; continue with `regexp resume {s.run.path}`")
        s.run.finish(Status.INTERRUPTED, f"interrupted ({how})")
        s.log.close()
        return {"status": TrialStatus.INTERRUPTED, "run": s.run.path.name, "objective": None, "error": "interrupted"}

    def _write_resume_point(self, s: _Slice, k: int, epoch: int, values: list, optimizer: dict) -> None:
        model = self.keras_model(s, k, values, optimizer)
        folder = s.run.path / CHECKPOINT
        folder.mkdir(exist_ok=True)
        weights = f"epoch-{epoch}.weights.h5"
        model.save_weights(folder / weights)
        best = None
        if s.stop is not None and s.stop.has_best_weights:
            best_model = self.keras_model(s, k, [b.numpy() for b in self.best], optimizer)  # get_weights(): Keras's order
            best = f"best-{s.stop.best_epoch + 1}.npz"
            with (folder / best).open("wb") as f:
                np.savez(f, **{f"w{i}": w for i, w in enumerate(best_model.get_weights())})
        counters = {} if s.stop is None else {"EarlyStopping": {
            "wait": s.stop.wait, "best": s.stop.best, "best_epoch": s.stop.best_epoch}}
        write_json(folder / "state.json", ResumeState(epoch=epoch, weights=weights, counters=counters,
                                                      best_weights=best).model_dump())


def _weight(model: keras.Model, layer: str, weight: str):
    return next(w for w in model.get_layer(layer).weights if w.name == weight)


def _add(a: dict, b: dict) -> dict:
    return {key: a[key] + b[key] for key in a}


def _numpy(sums: dict) -> dict:
    return {key: value.numpy() for key, value in sums.items()}

