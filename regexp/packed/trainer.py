"""Train a pack: K trials of one shape in one TensorFlow graph, each writing its own run folder.

Top to bottom, per pack: load every trial's spec and data (its own seed-derived split or fold),
group them by data sizes, make every run folder (run.json says `packed: {id, slot, size}`), then
per epoch one tf.function runs all steps of all slices (each slice gathers its own batches in its
own order, draws its own dropout masks and noise, and steps with its own learning rate); the
slices are scored on their own validation parts; history rows, NaN checks, early stopping and
search.halving's pruning at a rung (sweep/halving.py) are per slice. At the end each slice is
scored, and saved as the plain Keras model that the trial alone would have built (model.keras).
Every run-folder file is written by trial/lifecycle.py, the code a trial alone goes through, from
the same numbers a trial alone computes.

The pack's loss is the sum of its slices' losses: d(sum)/d(slice k) is slice k's own gradient,
unscaled by K. A slice that stops early, is pruned or fails is masked out of every later update
(its weights and optimizer state stay as they were; a pruned slice's folder ends at its rung). A
stop asked for by Ctrl-C or SIGTERM (trial/interrupts.py) is taken after the epoch in progress;
any exception fails every slice that had not ended, each with error.txt.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from regexp import compat
from regexp.data import Prepared, prepare
from regexp.errors import failure_reason
from regexp.net.draws import epoch_orders
from regexp.net.pipeline import folded, mix
from regexp.net.scoring import EVAL_BATCH, targets
from regexp.packed import measures
from regexp.packed.optimizer import PackedOptimizer, step_rates
from regexp.packed.slice_model import SliceModels
from regexp.packed.stack import Stack, gather, lead, per_slice
from regexp.packed.stopping import EarlyStop
from regexp.packed.table import layout
from regexp.spec import LoadedSpec, load_spec
from regexp.store.contract import FINISHED, Status, default_monitor, direction
from regexp.trial import interrupts, resume_point
from regexp.trial.lifecycle import TrialRun, parameter_counts, run_facts
from regexp.trial.result import TrialResult, failed_before_start
from regexp.trial.task import Rungs, Task


def run_pack(task: Task) -> list[TrialResult]:
    """Every trial of a pack task, in a worker or in-process; one result per trial. Never raises for
    a failed trial; Ctrl-C or SIGTERM marks them interrupted. With the task's `halving` (the sweep's
    search.halving) slices may end pruned at a rung."""
    started = time.perf_counter()
    trials, runs_dir, halving = task.trials, Path(task.runs_dir), task.halving
    results: list[TrialResult | None] = [None] * len(trials)
    loaded: list[LoadedSpec | None] = []
    data: list[Prepared | None] = []
    for i, trial in enumerate(trials):
        try:  # as a trial alone: a point whose spec or data is wrong fails before it has a folder
            loaded.append(load_spec(task.spec_file, list(trial.overrides)))
            data.append(prepare(loaded[-1]))
        except Exception as exc:
            loaded += [None] * (len(loaded) == i)
            data.append(None)
            results[i] = failed_before_start(failure_reason(exc))
    groups: dict[tuple, list[int]] = {}
    for i, d in enumerate(data):
        if d is not None and d.columns and d.shape is not None:  # a table read as images: a trial alone
            from regexp.trial.train import train_trial

            results[i] = train_trial(loaded[i], runs_dir, task.parent, task.metric, trials[i].key, halving,
                                     trials[i].point)
        elif d is not None:  # equal specs can still mean unequal parts (cv folds differ by one) or table layouts
            groups.setdefault((tuple(d.sizes().values()), d.features, tuple(d.classes), d.task, layout(d.columns)),
                              []).append(i)
    for g, members in enumerate(groups.values()):
        trainer = PackTrainer([loaded[i] for i in members], [data[i] for i in members],
                              task.pack_id if len(groups) == 1 else f"{task.pack_id}.{g}",
                              halving, [trials[i].point for i in members])
        for i, result in zip(members, trainer.run(runs_dir, task.parent, [trials[i].key for i in members],
                                                  task.metric)):
            results[i] = result
    seconds = round((time.perf_counter() - started) / max(1, len(trials)), 3)  # each trial's share of the pack
    for result in results:
        if result.status in FINISHED:
            result.seconds = seconds
    return results


@dataclass
class _Slice:
    trial: TrialRun
    stop: EarlyStop | None
    result: TrialResult | None = None  # set once the slice's folder has ended


class PackTrainer:
    def __init__(self, specs: list[LoadedSpec], data: list[Prepared], pack_id: str,
                 halving: Rungs | None = None, points: Sequence[str] = ()):
        self.specs, self.data, self.k, self.pack_id = specs, data, len(specs), pack_id
        self.halving, self.points = halving, list(points)  # the sweep's rule, each slice's point key
        first, training = specs[0].spec, specs[0].spec.training
        self.task, self.metrics = data[0].task, data[0].metrics
        self.n = len(data[0].y_train)
        self.batch, self.steps = training.batches(self.n)
        self.epochs = training.epochs
        self.has_val = len(data[0].y_val) > 0
        keras.utils.set_random_seed(first.seed)
        compat.cache_keras_saving_skipsets()  # K saves follow
        self.noise = tf.random.Generator.from_seed(hash(tuple(s.spec.seed for s in specs)) % (2**31))
        self.stack = Stack(specs, data)
        self.optimizer = PackedOptimizer(training.optimizer.name, [s.spec.training.optimizer for s in specs],
                                         self.stack.trainable, self.epochs * self.steps)
        self.best = [tf.Variable(v) for v in self._state()]
        self.smoothing = per_slice([s.spec.training.label_smoothing for s in specs])
        self.mixup = per_slice([s.spec.training.mixup.alpha if s.spec.training.mixup else 0.0 for s in specs])
        self.mixes = data[0].task != "regression" and bool((self.mixup.numpy() > 0).any())
        # tf.stack, not tf.constant(np.stack(...)): numpy's (K, N, D) array and TensorFlow's copy were two fresh
        # allocations the size of the pack's data, 0.2-1.9 s for 225 slices here (the kernel zeroing pages); 0.25 s
        self.parts = {part: (tf.stack([tf.constant(getattr(d, f"x_{part}"), tf.float32) for d in data]),
                             tf.constant(np.stack([targets(getattr(d, f"y_{part}"), d) for d in data])))
                      for part in ("train", "val", "test") if len(getattr(data[0], f"y_{part}"))}
        self._eval_chunk = self._traced_eval()
        self.monitor = default_monitor(training.early_stopping and training.early_stopping.monitor, self.has_val)
        self.epoch_seconds: list[float] = []  # wall-clock of each epoch: when compacting pays (_halve)
        self.opened: list[_Slice] = []  # every slice, in slot order: what run returns
        self.slices: list[_Slice] = []  # those the pack's tensors hold now (search.halving compacts them)
        self.models = SliceModels(self.stack, self.steps)

    # ----------------------------------------------------------------------------------- the loop
    def run(self, runs_dir: Path, parent: str, keys: list[str], objective_metric: str) -> list[TrialResult]:
        """Open every slice's run folder, train, finish each folder; whatever happens, every folder ends."""
        active = np.ones(self.k, bool)
        snapshot = None
        try:
            for slot, (spec, data, key) in enumerate(zip(self.specs, self.data, keys)):
                self.opened.append(self._open(spec, data, runs_dir, parent, key, slot))
                self.slices.append(self.opened[-1])
            self.orders = np.stack([epoch_orders(s.spec.seed, self.n, 0, self.epochs)
                                    for s in self.specs]).astype(np.int32)
            self.rates = np.stack([step_rates(s.spec.training, self.epochs, self.steps) for s in self.specs])
            for epoch in range(self.epochs):
                interrupts.check()  # a stop asked for during the last epoch: every slice resumes after it
                if not active.any():
                    break
                started = time.perf_counter()
                lr = self.rates[:, epoch * self.steps:(epoch + 1) * self.steps]
                sums = _numpy(self._train_epoch(tf.constant(self.orders[:, epoch]), tf.constant(lr),
                                                tf.constant(active)))
                val = self._evaluate("val") if self.has_val else None
                self.epoch_seconds.append(time.perf_counter() - started)
                seconds = self.epoch_seconds[-1] / max(1, int(active.sum()))  # each slice's share
                keep = np.zeros(self.k, bool)
                for k in np.flatnonzero(active):
                    row = {"epoch": epoch + 1, **measures.means(sums, k, self.metrics),
                           **({f"val_{m}": v for m, v in measures.means(val, k, self.metrics).items()} if val else {}),
                           "penalty": float(sums["objective"][k] - sums["smoothed"][k]) / float(sums["n"][k]),
                           "lr": float(lr[k, 0]), "seconds": round(seconds, 4)}
                    active[k], keep[k] = self._record(self.slices[k], row, epoch)
                if keep.any():
                    self._keep_best(tf.constant(keep))
                if self.halving is not None and epoch + 1 in self.halving.rungs:
                    active = self._halve(epoch + 1, active, objective_metric)
                snapshot = (epoch + 1, [v.numpy() for v in self._state()], self._optimizer_state())
            self._end(np.array([s.result is None for s in self.slices]), objective_metric)
            return [s.result for s in self.opened]
        except KeyboardInterrupt as exc:
            how = interrupts.how(exc)
            self._interrupted(snapshot, active, how)
            unopened = TrialResult(Status.INTERRUPTED, error=f"interrupted ({how})")
        except Exception as exc:  # the pack itself failed: every slice that had not ended says why
            for s in self.opened:
                s.result = s.result or s.trial.fail(exc)
            unopened = failed_before_start(f"its pack failed before its run folder was made: {failure_reason(exc)}")
        return [s.result for s in self.opened] + [unopened] * (len(self.specs) - len(self.opened))

    def _halve(self, epoch: int, active: np.ndarray, objective_metric: str) -> np.ndarray:
        """search.halving at a rung: the active slices report their objective; the pruned ones stop
        (masked out of every later update, as early stopping does) and their folders end pruned now.
        When compacting the pack to the slices still training (_compact: no step computes anything for
        the others) saves more than it costs, it is compacted. Returns the pack's active mask as it is now."""
        column, slot_of, reports = self.halving.column, {}, {}
        for k in np.flatnonzero(active):
            row, key = self.slices[k].trial.rows[-1], self.slices[k].trial.run.info.trial
            if column in row:
                slot_of[key], reports[key] = int(k), (self.points[k], row[column])
        if not reports:
            return active
        pruned = {slot_of[key]: why for key, why in self.halving.decide(epoch, reports).items() if why}
        if pruned:
            active[list(pruned)] = False
            self._end(np.isin(np.arange(self.k), list(pruned)), objective_metric, pruned)
        if self._compacting_pays(epoch, int(active.sum())):
            self._end(~active & np.array([s.result is None for s in self.slices]), objective_metric)  # early stopped
            self._compact(np.flatnonzero(active))
            return np.ones(self.k, bool)
        return active

    def _compacting_pays(self, epoch: int, training: int) -> bool:
        """An estimate: a pack's step costs about in proportion to K, so compacting to `training` of K
        slices saves that share of an epoch (the last one's time) for every epoch left; it costs new
        traces of the epoch, the optimizer and the evaluation, about what epoch 1 took beyond the
        last (on digits with 27 slices: 2.5 s of traces against 0.11 s epochs, not worth it at 18 epochs left)."""
        if training == 0 or training == self.k or len(self.epoch_seconds) < 2:
            return False
        last = self.epoch_seconds[-1]
        saved = last * (1 - training / self.k) * (self.epochs - epoch)
        return saved > max(0.0, self.epoch_seconds[0] - last)

    def _compact(self, index: np.ndarray) -> None:
        """Only the slices `index` stay in the pack: every (K, ...) tensor (weights, optimizer state,
        best weights, data, rates, orders, per-slice settings) is gathered to them, and the graphs
        retrace for the smaller K on their next call (_eval_chunk is traced anew: its signature has a
        free K). Each survivor's numbers go on as they would have in the full pack."""
        self.stack.keep(index)
        self.optimizer.keep(index, self.stack.trainable)
        self.best = [gather(b, index) for b in self.best]
        self.smoothing, self.mixup = tf.gather(self.smoothing, index), tf.gather(self.mixup, index)
        self.parts = {part: (tf.gather(x, index), tf.gather(y, index)) for part, (x, y) in self.parts.items()}
        self.orders, self.rates = self.orders[index], self.rates[index]
        self.slices, self.points = [self.slices[i] for i in index], [self.points[i] for i in index]
        self.k = len(index)
        self._eval_chunk = self._traced_eval()

    def _end(self, which: np.ndarray, objective_metric: str, pruned: dict[int, str] | None = None) -> None:
        """The slices in `which` end: best weights restored where early stopping keeps them (as Keras's
        EarlyStopping does at the end of fit), scored and written."""
        restore = which & np.array([s.stop is not None and s.stop.restore and s.stop.has_best_weights
                                    for s in self.slices])
        if restore.any():
            self._restore_best(tf.constant(restore))
        self._finish(objective_metric, which, pruned or {})

    def _record(self, s: _Slice, row: dict, epoch: int) -> tuple[bool, bool]:
        """Write one history row; (still active, keep these weights as its best)."""
        if not s.trial.record_epoch(row):
            return False, False
        if s.stop is None:
            return True, False
        keep, stop = s.stop.update(epoch, row.get(s.stop.monitor))
        return not stop, keep

    # ------------------------------------------------------------------------------- graph parts
    # autograph=False here and below: the pack's graph has no Python control flow on tensors, and
    # autograph's source conversion was 2.5 s of a process's first pack (1.2 s to trace without it)
    @tf.function(autograph=False)
    def _train_epoch(self, order, lr, active):
        full, rest = divmod(self.n, self.batch)

        def body(s, sums):
            start = s * self.batch
            return s + 1, _add(sums, self._step(order[:, start:start + self.batch], lr[:, s], active))
        zero = measures.zero_sums(self.k, self.metrics, self.task, self.parts["train"][1].shape)
        _, sums = tf.while_loop(lambda s, _: s < full, body, (tf.constant(0), zero))
        if rest:
            sums = _add(sums, self._step(order[:, full * self.batch:], lr[:, full], active))
        return sums

    def _step(self, index, lr, active):
        x_all, y_all = self.parts["train"]
        x, y = tf.gather(x_all, index, batch_dims=1), tf.gather(y_all, index, batch_dims=1)
        if self.mixes:
            x, y = self._mix(x, y)
        taps = [] if self.optimizer.squares else None  # a table's embeddings: (variable, one-hot codes, output)
        with tf.GradientTape() as tape:
            logits = self.stack(x, training=True, noise=self.noise, active=active, taps=taps)
            smoothed = measures.per_sample_loss(self.task, logits, measures.smooth(self.task, y, self.smoothing))
            objective = tf.reduce_mean(smoothed, axis=1) + self.stack.penalty()
            total = tf.reduce_sum(tf.where(active, objective, 0.0))  # a sum: each slice's own gradient
        trainable = self.stack.trainable
        grads = tape.gradient(total, trainable + [out for _, _, out in taps or []])
        squares = {next(i for i, v in enumerate(trainable) if v is variable): tf.matmul(codes, d * d, transpose_a=True)
                   for (variable, codes, _), d in zip(taps or [], grads[len(trainable):])}  # optimizer.py: why
        self.optimizer.apply(grads[:len(trainable)], lr, active, squares)
        self.stack.apply_max_norm(active)
        batch = tf.cast(tf.shape(x)[1], tf.float32)
        return {**measures.sums(self.task, self.metrics, logits, y), "objective": objective * batch,
                "smoothed": tf.reduce_sum(smoothed, axis=1)}

    def _traced_eval(self):
        """One trace per pack for every part and chunk size (traced per size, a process that trains
        many small packs, a tpe sweep's rounds, made TensorFlow warn about retracing)."""
        return tf.function(lambda x, y: measures.sums(self.task, self.metrics, self.stack(x, training=False), y),
                           autograph=False,
                           input_signature=[tf.TensorSpec([None, None, *x.shape[2:]], x.dtype)
                                            for x in self.parts["train"]])

    @tf.function(autograph=False)
    def _keep_best(self, keep):
        for best, now in zip(self.best, self._state()):
            best.assign(tf.where(lead(keep, len(now.shape)), now, best))

    def _restore_best(self, restore):  # once per pack: eager (traced, every new pack retraced it, and TF warned)
        for best, now in zip(self.best, self._state()):
            now.assign(tf.where(lead(restore, len(now.shape)), best, now))

    def _state(self) -> list[tf.Variable]:
        return list(self.stack.variables.values())

    def _mix(self, x, y):
        """Mixup per slice: pipeline's folded λ and mix, with each slice's α; α = 0: no mixing."""
        shape = tf.shape(y)[:2]
        alpha = tf.where(self.mixup > 0, self.mixup, 1.0)[:, None] * tf.ones(shape)
        a = tf.random.stateless_gamma(shape, self.noise.make_seeds(1)[:, 0], alpha=alpha)
        b = tf.random.stateless_gamma(shape, self.noise.make_seeds(1)[:, 0], alpha=alpha)
        lam = tf.where(self.mixup[:, None] > 0, folded(a, b), 1.0)
        return mix(x, y, lam, tf.argsort(self.noise.uniform(shape), axis=1), batch_dims=1)

    def _evaluate(self, part: str) -> dict:
        """Sums over one part in inference mode, in chunks of EVAL_BATCH samples."""
        x, y = self.parts[part]
        total = None
        for start in range(0, int(x.shape[1]), EVAL_BATCH):
            chunk = _numpy(self._eval_chunk(x[:, start:start + EVAL_BATCH], y[:, start:start + EVAL_BATCH]))
            total = chunk if total is None else {key: total[key] + chunk[key] for key in total}
        return total

    # --------------------------------------------------------------------------- run folders
    def _open(self, loaded: LoadedSpec, data: Prepared, runs_dir: Path, parent: str, key: str, slot: int) -> _Slice:
        facts = {**run_facts(data, parent, key), "batch_size": self.batch, "steps_per_epoch": self.steps,
                 "distribute": {"strategy": "none", "replicas": 1},
                 "packed": {"id": self.pack_id, "slot": slot, "size": self.k}}
        trial = TrialRun.create(loaded, data, runs_dir, facts, console=None)
        trial.header(self.batch, self.steps, packed=f"slot {slot} of {self.k} in pack {self.pack_id}")
        trial.start_history()
        es = loaded.spec.training.early_stopping
        stop = None if es is None else EarlyStop(es.monitor, es.patience, es.min_delta,
                                                   direction(es.monitor) == "max", es.restore_best_weights)
        return _Slice(trial, stop)

    def _finish(self, objective_metric: str, which: np.ndarray, pruned: dict[int, str]) -> None:
        scores = {part: self._evaluate(part) for part in self.parts}
        penalty = self.stack.penalty().numpy()
        final = ([v.numpy() for v in self._state()], self._optimizer_state())  # read once, not once per slice
        for k, s in enumerate(self.slices):
            if not which[k]:
                continue
            if s.trial.failure is not None:
                s.result = s.trial.fail(s.trial.failure)
                continue
            try:
                results = {part: {**measures.means(sums, k, self.metrics), "penalty": float(penalty[k])}
                           for part, sums in scores.items()}
                results = {part: {**{m: r[m] for m in self.metrics}, "loss": r["loss"], "penalty": r["penalty"]}
                           for part, r in results.items()}
                model = self.keras_model(s, k, *final)
                s.result = s.trial.complete(model, results, self.monitor, parameter_counts(model), objective_metric,
                                            pruned=pruned.get(k))
            except Exception as exc:  # this slice's bookkeeping failed (a full disk): it alone fails
                s.result = s.trial.fail(exc)

    def keras_model(self, s: _Slice, k: int, values: list[np.ndarray], optimizer: dict) -> keras.Model:
        """Slice k as the compiled Keras model its trial alone builds, holding its weights and optimizer
        state (`values` in _state()'s order, `optimizer` from _optimizer_state)."""
        rate = s.trial.rows[-1]["lr"] if s.trial.rows else float(self.rates[k, 0])
        return self.models.build(s.trial.loaded.spec, s.trial.data, k, values, optimizer, rate)

    def _optimizer_state(self) -> dict:
        return {"iterations": int(self.optimizer.iterations.numpy()),
                "slots": {name: [v.numpy() for v in slots] for name, slots in self.optimizer.slots.items()}}

    def _interrupted(self, snapshot, active: np.ndarray, how: str) -> None:
        """Every slice that had not ended gets a resume point in a trial's own format and ends
        interrupted: `regexp resume RUN` continues it alone from the last completed epoch."""
        for k, s in enumerate(self.slices):
            if s.result is not None:
                continue
            if s.trial.failure is not None:
                s.result = s.trial.fail(s.trial.failure)
                continue
            # a slice that had stopped early gets no resume point: resuming would train it on
            write = None if snapshot is None or not active[k] else (lambda s=s,
                                                                    k=k: self._write_resume_point(s, k, *snapshot))
            s.result = s.trial.interrupt(how, write)

    def _write_resume_point(self, s: _Slice, k: int, epoch: int, values: list, optimizer: dict) -> None:
        best = None  # first: keras_model reuses the point's one Keras model, so read the best weights out before
        if s.stop is not None and s.stop.has_best_weights:
            best_model = self.keras_model(s, k, [b.numpy() for b in self.best],
                                          optimizer)  # get_weights(): Keras's order, numpy copies
            best = (s.stop.best_epoch, best_model.get_weights())
        model = self.keras_model(s, k, values, optimizer)
        counters = {} if s.stop is None else {"EarlyStopping": {
            "wait": s.stop.wait, "best": s.stop.best, "best_epoch": s.stop.best_epoch}}
        resume_point.save(s.trial.path, model, epoch, counters, best)


def _add(a: dict, b: dict) -> dict:
    return {key: a[key] + b[key] for key in a}


def _numpy(sums: dict) -> dict:
    return {key: value.numpy() for key, value in sums.items()}
