"""The digits quickstart written by hand in plain Keras: what regexp is measured against.

    .venv/bin/python bench/handwritten_keras.py --style typical|matched [--epochs 30] [--seed 0]

Same data, split (scikit-learn's train_test_split, stratified, 60/20/20 as two cuts), scaling
(train mean/variance in a Normalization layer), model (Dense 64 he_normal + L2 1e-4 -> relu ->
dropout 0.2 -> softmax), optimizer (Adam 1e-3), batch 32 and epochs as configs/quickstart.yaml
without early stopping. It produces what a regexp run produces: the history as CSV, train/val/test
loss and accuracy, and model.keras.

  typical  as users write it: fit(numpy arrays), steps_per_execution 1, verbose=1 progress bar
  matched  regexp's settings: cached tf.data, the whole epoch per call, validation in batches of
           1024, verbose 0

Prints one JSON line: per-epoch seconds and the test accuracy.
"""

import argparse
import csv
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--style", choices=["typical", "matched"], required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    x, y = load_digits(return_X_y=True)
    x = x.astype("float32")
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=args.seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, random_state=args.seed,
                                                      stratify=y_rest)
    onehot = lambda labels: keras.utils.to_categorical(labels, 10).astype("float32")  # noqa: E731

    variance = x_train.var(axis=0)
    inputs = keras.Input((64,))
    h = keras.layers.Normalization(mean=x_train.mean(axis=0), variance=np.where(variance > 0, variance, 1.0))(inputs)
    h = keras.layers.Dense(64, kernel_initializer="he_normal", kernel_regularizer=keras.regularizers.L2(1e-4))(h)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.Dropout(0.2)(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))

    steps = int(np.ceil(len(x_train) / 32))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps if args.style == "matched" else 1)
    timer = EpochTimer()
    if args.style == "typical":
        history = model.fit(x_train, onehot(y_train), batch_size=32, epochs=args.epochs,
                            validation_data=(x_val, onehot(y_val)), verbose=1, callbacks=[timer])
    else:
        train = tf.data.Dataset.from_tensor_slices((x_train, onehot(y_train))).cache()
        train = train.shuffle(len(x_train), reshuffle_each_iteration=True).batch(32).prefetch(tf.data.AUTOTUNE)
        val = tf.data.Dataset.from_tensor_slices((x_val, onehot(y_val))).batch(1024).cache()
        history = model.fit(train, epochs=args.epochs, validation_data=val, verbose=0, callbacks=[timer])

    results = {part: model.evaluate(xs, onehot(ys), batch_size=1024, verbose=0, return_dict=True)
               for part, xs, ys in (("train", x_train, y_train), ("val", x_val, y_val), ("test", x_test, y_test))}
    with tempfile.TemporaryDirectory() as out:
        with open(os.path.join(out, "history.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *history.history])
            writer.writerows([i + 1, *row] for i, row in enumerate(zip(*history.history.values())))
        model.save(os.path.join(out, "model.keras"))
    print(json.dumps({"epoch_s": timer.seconds, "test_accuracy": results["test"]["accuracy"]}))


if __name__ == "__main__":
    main()
