"""logging.tensorboard: a run's numbers as TensorBoard event files in <run>/tensorboard/, so that
`tensorboard --logdir runs/` shows every run, and its HParams dashboard compares a sweep's trials.

Written with TensorFlow's own summary API and TensorBoard's hparams plugin (`pip install
'regexp[tensorboard]'`). The scalars are the numbers of the run folder: history.csv's row per
epoch (loss is the data loss, as everywhere in regexp), steps.csv's per-step loss and
layer_stats.csv's statistics when those are on, and metrics.json's final metrics; the HParams
summary holds the keys the run's spec was given by --set (a sweep's point) and its seed.
"""

import importlib.util
from pathlib import Path

import keras
import tensorflow as tf

FOLDER = "tensorboard"


def hparams_of(loaded) -> dict:
    """The values a run was given on top of its spec file (a sweep trial: its point), plus the seed."""
    out = {"seed": loaded.spec.seed}
    resolved = loaded.resolved()
    for path, where in loaded.locations.items():
        if where.startswith("--set") and path and path[0] not in ("seed", "logging"):
            value = resolved
            for part in path:
                value = value[part] if isinstance(value, list) else value.get(part) if isinstance(value, dict) else None
            out[".".join(map(str, path))] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def check_installed(loaded) -> None:
    """Before a run folder exists: logging.tensorboard needs the tensorboard package."""
    if not loaded.spec.logging.tensorboard:
        return
    if importlib.util.find_spec("tensorboard") is None:
        raise loaded.error("logging.tensorboard", "needs TensorBoard: pip install 'regexp[tensorboard]'")


class TensorBoardLog(keras.callbacks.Callback):
    """After the recorders of an epoch (history row, layer statistics, per-step losses)."""

    def __init__(self, run_path: Path, recorder, stats=None, steps=None):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(run_path / FOLDER))
        self.recorder, self.stats, self.steps = recorder, stats, steps

    def on_epoch_end(self, epoch, logs=None):
        row = self.recorder.rows[-1]
        with self.writer.as_default():
            for key, value in row.items():
                if key != "epoch" and value is not None:
                    tf.summary.scalar(f"epoch/{key}", value, step=epoch + 1)
            for stat in self.stats.last if self.stats is not None else []:
                for key, value in stat.items():
                    if key not in ("epoch", "layer") and value is not None:
                        tf.summary.scalar(f"layers/{stat['layer']}/{key}", value, step=epoch + 1)
            for step in self.steps.pending if self.steps is not None else []:
                tf.summary.scalar("step/loss", step["loss"], step=step["step"])
        self.writer.flush()

    def finish(self, hparams: dict, results: dict, trial_id: str) -> None:
        """The HParams summary and the final metrics it shows (final/test_accuracy, ...)."""
        from tensorboard.plugins.hparams import api as hp

        with self.writer.as_default():
            hp.hparams(hparams, trial_id=trial_id)
            for part, values in results.items():
                for name, value in values.items():
                    tf.summary.scalar(f"final/{part}_{name}", value, step=0)
        self.writer.close()
