"""The built-in datasets, one DatasetDef each: what `data.dataset` allows, what `validate` knows
without loading (features, image shape, task, classes, samples), where the samples come from and who
ships them. Adding a dataset is one entry here plus its test.

Built-in data is offline: scikit-learn's bundled copies and generators. The datasets with `remotes`
live in the Keras cache ($KERAS_HOME/datasets, default ~/.keras/datasets), under the names Keras's
loaders use, so a cache Keras filled works too; regexp downloads them only when asked (`regexp data
fetch`, data/fetch.py) and reads the files here directly rather than through keras.datasets, whose
loaders would download whatever is missing. Synthetic data uses a fixed generator seed, so the
spec's `seed` varies the split and the training, never the dataset itself.

No numpy, scikit-learn or TensorFlow at import: each loader imports its library when called.
"""

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from regexp.registry import sequences

KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
GENERATOR_SEED = 0  # synthetic datasets are the same for every spec seed: seeds vary training only
TASKS = ("classification", "binary", "regression")

# (x, y, test): features (N, ...) with y (N,), and a fixed test part (x_test, y_test) or None
Samples = tuple[Any, Any, "tuple[Any, Any] | None"]


@dataclass(frozen=True)
class Remote:
    """One file of a downloaded dataset, checked by its hash when it is fetched."""

    path: str        # under the cache's datasets/ folder, as Keras's loader names it
    url: str
    digest: str
    algorithm: str   # sha256 | md5


@dataclass(frozen=True)
class DatasetDef:
    name: str
    task: str                         # classification | binary | regression
    features: int                     # per sample, flat
    classes: int                      # 0 for regression
    samples: int                      # before the split; with a shipped test part, its train part's
    load: Callable[..., Samples]      # called with the `keys` below, resolved: load(samples=..., noise=...)
    shape: tuple[int, ...] | None = None  # the natural image shape, None for a table
    shipped_test: int = 0             # samples of the fixed test part the data comes with (0: split off)
    keys: tuple[str, ...] = ()        # the data.* keys that shape a generated dataset (their defaults above)
    noise: float | None = None        # a generator's default data.noise
    limits: Callable[["DatasetDef"], list[tuple[str, str]]] | None = None  # a generator's impossible keys
    remotes: tuple[Remote, ...] = ()  # downloaded only on request, into the Keras cache
    library: str = "scikit-learn"     # who ships it: a run's data fingerprint names it with its version
    length: int = 0                   # a sequence task's steps (data.length)
    tokens: int = 0                   # x holds token ids below this (0: numbers)
    shaped: Callable[["DatasetDef"], "DatasetDef"] | None = None  # shape and features from the resolved keys

    def resolved(self, data) -> "DatasetDef":
        """This dataset with spec.data's values for its keys (data.samples, data.classes, ...)."""
        values = {key: getattr(data, key) for key in self.keys if getattr(data, key, None) is not None}
        if "classes" in values:  # a generated classification: binary at two classes
            values["task"] = "binary" if values["classes"] == 2 else "classification"
        resolved = replace(self, **values)
        return resolved.shaped(resolved) if resolved.shaped else resolved

    def arrays(self) -> Samples:
        """Its samples, generated with its (resolved) keys."""
        return self.load(**{key: getattr(self, key) for key in self.keys})


# ------------------------------------------------------------------------------- scikit-learn
@functools.cache  # a pack prepares each of its trials' data: digits is parsed from csv.gz
def _bundled(name: str) -> Samples:  # once per process, not 225 times (5 ms each)
    import numpy as np
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    x = x.astype(np.float32)
    x.flags.writeable = y.flags.writeable = False  # shared by every trial of the process: nobody edits it
    return x, y, None


def _moons(samples: int, noise: float) -> Samples:
    from sklearn.datasets import make_moons

    return *make_moons(samples, noise=noise, random_state=GENERATOR_SEED), None


def _circles(samples: int, noise: float) -> Samples:
    from sklearn.datasets import make_circles

    return *make_circles(samples, noise=noise, factor=0.5, random_state=GENERATOR_SEED), None


def _informative(features: int) -> int:
    return max(2, min(features, features // 2))


def _classification(samples: int, features: int, classes: int) -> Samples:
    from sklearn.datasets import make_classification

    return *make_classification(samples, n_features=features, n_informative=_informative(features), n_redundant=0,
                                n_classes=classes, random_state=GENERATOR_SEED), None


def _classification_limits(d: DatasetDef) -> list[tuple[str, str]]:
    """make_classification puts 2 clusters of each class on the corners of an informative hypercube."""
    if d.classes * 2 <= 2 ** _informative(d.features):
        return []
    return [("data.classes", f"{d.classes} classes need more informative features (got features: {d.features}; "
                             f"use at least {2 * math.ceil(math.log2(d.classes * 2))})")]


def _regression(samples: int, features: int, noise: float) -> Samples:
    from sklearn.datasets import make_regression

    return *make_regression(samples, n_features=features, noise=noise, random_state=GENERATOR_SEED), None


# ------------------------------------------------------------------------- the Keras cache
def keras_cache() -> Path:
    """Where Keras's dataset loaders look (keras.config.keras_home(), without importing Keras)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def _cached(name: str) -> list[Path]:
    return [keras_cache() / remote.path for remote in DATASETS[name].remotes]


def _mnist() -> Samples:
    import numpy as np

    with np.load(_cached("mnist")[0], allow_pickle=False) as f:
        return f["x_train"], f["y_train"], (f["x_test"], f["y_test"])


def _fashion_mnist() -> Samples:
    import gzip

    import numpy as np

    def read(path: Path, offset: int):  # idx files: labels after an 8-byte header, 28x28 images after 16
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    y_train, x_train, y_test, x_test = (read(f, 8 if "labels" in f.name else 16) for f in _cached("fashion_mnist"))
    return x_train.reshape(-1, 28, 28), y_train, (x_test.reshape(-1, 28, 28), y_test)


def _cifar10() -> Samples:
    """The python version's pickled batches, images channels-last as Keras's loader gives them; the
    archive's hash was checked when it was fetched."""
    import pickle
    import tarfile

    import numpy as np

    parts: dict[str, list] = {"data": [], "labels": []}
    test = {}
    with tarfile.open(_cached("cifar10")[0], "r:gz") as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            leaf = member.name.rsplit("/", 1)[-1]
            if leaf.startswith("data_batch_") or leaf == "test_batch":
                batch = pickle.load(archive.extractfile(member), encoding="bytes")  # noqa: S301 (hash-checked file)
                images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                if leaf == "test_batch":
                    test = {"data": images, "labels": np.array(batch[b"labels"], np.uint8)}
                else:
                    parts["data"].append(images)
                    parts["labels"].append(np.array(batch[b"labels"], np.uint8))
    return np.concatenate(parts["data"]), np.concatenate(parts["labels"]), (test["data"], test["labels"])


# ------------------------------------------------------------------------------- the registry
def _keras(name: str, shape: tuple[int, ...], load: Callable[[], Samples], samples: int, test: int,
           remotes: tuple[Remote, ...]) -> DatasetDef:
    return DatasetDef(name, "classification", math.prod(shape), 10, samples, load, shape, shipped_test=test,
                      remotes=remotes, library="keras")


DATASETS: dict[str, DatasetDef] = {d.name: d for d in (
    DatasetDef("digits", "classification", 64, 10, 1797, functools.partial(_bundled, "digits"), (8, 8, 1)),
    DatasetDef("breast_cancer", "binary", 30, 2, 569, functools.partial(_bundled, "breast_cancer")),
    DatasetDef("wine", "classification", 13, 3, 178, functools.partial(_bundled, "wine")),
    DatasetDef("iris", "classification", 4, 3, 150, functools.partial(_bundled, "iris")),
    DatasetDef("diabetes", "regression", 10, 0, 442, functools.partial(_bundled, "diabetes")),
    DatasetDef("moons", "binary", 2, 2, 1000, _moons, keys=("samples", "noise"), noise=0.1),
    DatasetDef("circles", "binary", 2, 2, 1000, _circles, keys=("samples", "noise"), noise=0.1),
    DatasetDef("classification", "binary", 20, 2, 1000, _classification, keys=("samples", "features", "classes"),
               limits=_classification_limits),
    DatasetDef("regression", "regression", 20, 0, 1000, _regression, keys=("samples", "features", "noise"),
               noise=10.0),
    *(sequences.shaped(d) for d in (  # registry/sequences.py: generated tasks that need memory
        DatasetDef("adding", "regression", 40, 0, 1000, sequences.adding, keys=("samples", "length"), length=20,
                   shaped=sequences.shaped, library="regexp"),
        DatasetDef("noisy_sequence", "binary", 20, 2, 1000, sequences.noisy_sequence,
                   keys=("samples", "length", "classes", "noise"), noise=1.0, length=20, shaped=sequences.shaped,
                   library="regexp"),
        DatasetDef("token_recall", "classification", 20, 8, 1000, sequences.token_recall,
                   keys=("samples", "length", "classes"), length=20, shaped=sequences.shaped, library="regexp"))),
    # keras/src/datasets/{mnist,fashion_mnist,cifar10}.py for the file names and origins; the sha256
    # Keras's loaders pin (mnist, cifar10) or the MD5 that Fashion-MNIST publishes (Keras pins none)
    _keras("mnist", (28, 28, 1), _mnist, 60000, 10000, (
        Remote("mnist.npz", KERAS_BASE + "mnist.npz",
               "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", "sha256"),)),
    _keras("fashion_mnist", (28, 28, 1), _fashion_mnist, 60000, 10000, tuple(
        Remote(f"fashion-mnist/{file}", KERAS_BASE + file, digest, "md5") for file, digest in (
            ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
            ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79")))),
    # Keras 3 names the archive <fname>_archive and extracts it on first load
    _keras("cifar10", (32, 32, 3), _cifar10, 50000, 10000, (
        Remote("cifar-10-batches-py-target_archive", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
               "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", "sha256"),)),
)}


def downloaded() -> list[str]:
    """The datasets regexp downloads on request (`regexp data fetch NAME`); the rest are offline."""
    return [name for name, d in DATASETS.items() if d.remotes]


def accepting(key: str) -> list[str]:
    """The datasets a data.* key (samples, noise, features, classes, length) applies to."""
    return [name for name, d in DATASETS.items() if key in d.keys]
