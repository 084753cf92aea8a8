"""training.distribute: which tf.distribute strategy a trial alone trains under, and what Keras
cannot do under one (checked before a run folder exists)."""

import json
import os

import keras
import tensorflow as tf

from regexp.spec import LoadedSpec


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


def steps_per_execution(setting: int | str, steps_per_epoch: int, strategy, per_step: bool) -> int:
    """Optimizer steps per call into TensorFlow; Python (callbacks, Ctrl-C) runs between calls."""
    if per_step:  # Keras calls on_train_batch_end once per call into TensorFlow: one step each
        return 1
    if strategy is not None:  # Keras 3.15's multi-step loop fails under tf.distribute ("must feed a value
        return 1             # for placeholder tensor ... multi_step_on_iterator"): one step per call there
    return steps_per_epoch if setting == "epoch" else setting


def device_name() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU x{len(gpus)}" if gpus else "CPU"


def compile_model(model: keras.Model, training, data, steps_per_epoch: int, strategy, per_step: bool):
    """model.compile as every trial's model.keras records it: the spec's optimizer (net/optimizers.py),
    loss and metrics (net/scoring.py) and steps per call. A trial alone (train.py) and a pack's
    slices (packed/trainer.py) both compile here, so their saved configs cannot drift apart."""
    from regexp.net.optimizers import build_optimizer
    from regexp.net.scoring import loss, loss_metrics, metric

    tracked = [*loss_metrics(data.task, training.label_smoothing), *(metric(n, data.task) for n in data.metrics)]
    model.compile(optimizer=build_optimizer(training, steps_per_epoch), loss=loss(data.task, training.label_smoothing),
                  metrics=tracked, steps_per_execution=steps_per_execution(training.steps_per_execution,
                                                                           steps_per_epoch, strategy, per_step))
    return model.optimizer

