"""Benchmark: where image augmentation runs, inside the model or in the tf.data pipeline.

    .venv/bin/python bench/augment_placement.py [--epochs 5] [--repeats 5]

The model and data of configs/digits-cnn-augment.yaml, trained for a few epochs two ways:
  model     the augmentation layers are the model's first layers (what regexp does)
  pipeline  the same Keras layers in `dataset.map(...)` with prefetch, and a model without them
Each way is timed as `model.fit` wall clock in this process (TensorFlow already imported),
alternating, median of the repeats. Prints the medians and the ratio pipeline / model.
"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from regexp.data import prepare  # noqa: E402
from regexp.net.model import build_model  # noqa: E402
from regexp.spec import load_spec  # noqa: E402

SPEC = Path(__file__).resolve().parent.parent / "configs" / "digits-cnn-augment.yaml"


def fit_seconds(model: keras.Model, data, epochs: int) -> float:
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0, shuffle=False)  # the dataset is shuffled
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    loaded = load_spec(SPEC)
    data = prepare(loaded)
    spec = loaded.spec
    x, y = data.x_train.astype("float32"), np.eye(len(data.classes), dtype="float32")[data.y_train]
    batch = spec.training.batch_size
    plain_batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(batch)

    def in_model() -> float:
        return fit_seconds(build_model(spec.model, data, training=spec.training), plain_batches.prefetch(2),
                           args.epochs)

    def in_pipeline() -> float:
        augmented = build_model(spec.model, data, training=spec.training)
        layers = [layer for layer in augmented.layers if layer.name.startswith(("augment", "cutout"))]

        def augment(xb, yb):
            images = tf.reshape(xb, (-1, *data.shape))
            for layer in layers:
                images = layer(images, training=True)
            return tf.reshape(images, (-1, data.features)), yb
        batches = plain_batches.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        return fit_seconds(build_model(spec.model, data), batches, args.epochs)

    in_model(), in_pipeline()  # warm-up: tracing and first-call costs
    times: dict[str, list[float]] = {"model": [], "pipeline": []}
    for _ in range(args.repeats):
        times["model"].append(in_model())
        times["pipeline"].append(in_pipeline())
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, values in times.items():
        print(f"{name:9s} median {medians[name]:.2f} s for {args.epochs} epochs  "
              f"({', '.join(f'{t:.2f}' for t in values)})")
    print(f"pipeline / model = {medians['pipeline'] / medians['model']:.2f}")


if __name__ == "__main__":
    main()
