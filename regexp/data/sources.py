"""Where samples come from: built-in datasets (a registry by name) and files.

Every loader returns a `Raw`: flat float32 features (N, D), raw labels, and the natural sample
shape for images. Built-in data is offline: scikit-learn's bundled copies and generators, or the
Keras cache for mnist/fashion_mnist/cifar10 (filled by `regexp data fetch`, data/fetch.py).
Synthetic data uses a fixed generator seed, so the spec's `seed` varies the split and the
training, never the dataset itself.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regexp.data.fetch import load_cached, missing
from regexp.data.reading import TableReading
from regexp.data.sequences import SEQUENCE_TASKS, generate
from regexp.data.table import Column, read_table
from regexp.spec import LoadedSpec
from regexp.spec.load import existing_data_path

DATASET_SEED = 0  # synthetic datasets are the same for every spec seed: seeds vary training only
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


@dataclass
class Raw:
    x: np.ndarray                     # (N, D) float32, flat
    y: np.ndarray                     # (N,) labels: ints, strings or floats
    shape: tuple[int, ...] | None     # natural per-sample shape (images), else None
    task: str | None                  # what a built-in dataset is for; None: detect from y
    test: tuple[np.ndarray, np.ndarray] | None = None  # a fixed test part shipped with the data
    columns: list[Column] | None = None  # a table's feature columns; None for arrays and images
    reading: TableReading | None = None  # a table: how each of its columns was read
    tokens: int | None = None         # x holds token ids below this (a generated token task)
    text: bool = False                # x is (N,) strings, turned into token ids after the split (data/text.py)


def load_raw(loaded: LoadedSpec, key: str = "data.path") -> Raw:
    """The samples of data.dataset or data.path; with `key` data.val_path or data.test_path, that file's."""
    data = loaded.spec.data
    if key == "data.path" and data.dataset is not None:
        return DATASETS[data.dataset](loaded)
    path = existing_data_path(loaded, key)
    if data.text is not None:
        from regexp.data.text import read_texts

        return Raw(*read_texts(loaded, path, key), None, None, text=True)
    if path.is_dir():
        return _image_folder(loaded, path, key)
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        raise loaded.error(key, f"cannot read {path.name} (allowed: {', '.join(FILE_READERS)} files, or a folder of "
                                "images)")
    return reader(loaded, path, key)


# ------------------------------------------------------------------------------ built-in data
def _bundled(name: str, task: str, shape=None) -> Callable[[LoadedSpec], Raw]:
    def load(loaded: LoadedSpec) -> Raw:
        return Raw(*_bundled_arrays(name), shape, task)
    return load


@functools.lru_cache(maxsize=None)  # a pack prepares each of its trials' data: digits is parsed from csv.gz
def _bundled_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:  # once per process, not 225 times (5 ms each)
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    x = x.astype(np.float32)
    x.flags.writeable = y.flags.writeable = False  # shared by every trial of the process: nobody edits it
    return x, y


def _synthetic(loaded: LoadedSpec) -> Raw:
    from sklearn import datasets

    d = loaded.spec.data
    n = d.samples or 1000
    if d.dataset == "moons":
        x, y = datasets.make_moons(n, noise=d.noise if d.noise is not None else 0.1, random_state=DATASET_SEED)
    elif d.dataset == "circles":
        x, y = datasets.make_circles(n, noise=d.noise if d.noise is not None else 0.1, factor=0.5,
                                     random_state=DATASET_SEED)
    elif d.dataset == "classification":
        features, classes = d.features or 20, d.classes or 2
        informative = max(2, min(features, features // 2))
        if classes * 2 > 2**informative:
            raise loaded.error("data.classes", f"{classes} classes need more informative features "
                                               f"(got features: {features}; use at least "
                                               f"{2 * int(np.ceil(np.log2(classes * 2)))})")
        x, y = datasets.make_classification(n, n_features=features, n_informative=informative, n_redundant=0,
                                            n_classes=classes, random_state=DATASET_SEED)
    else:  # regression
        x, y = datasets.make_regression(n, n_features=d.features or 20, noise=d.noise if d.noise is not None else 10.0,
                                        random_state=DATASET_SEED)
    task = "regression" if d.dataset == "regression" else None
    return Raw(x.astype(np.float32), y, None, task)


def _keras_dataset(loaded: LoadedSpec) -> Raw:
    name = loaded.spec.data.dataset
    absent = missing(name)
    if absent:  # Keras's loader would download: regexp does so only when asked
        raise loaded.error("data.dataset", f"{name} is not in the Keras cache ({absent[0]}); regexp does not "
                                           f"download at run time. Fetch it once with `regexp data fetch {name}`, "
                                           "or train with --fetch")
    x_train, y_train, x_test, y_test = load_cached(name)
    shape = x_train.shape[1:] if x_train.ndim == 4 else x_train.shape[1:] + (1,)

    def flat(x):
        return x.reshape(len(x), -1).astype(np.float32)
    return Raw(flat(x_train), y_train.ravel(), tuple(shape), "classification", test=(flat(x_test), y_test.ravel()))


def _sequence_task(loaded: LoadedSpec) -> Raw:
    d = loaded.spec.data
    made = generate(d.dataset, d.samples, d.length, d.classes, d.noise)
    return Raw(made.x, made.y, made.shape, made.task, tokens=made.tokens)


DATASETS: dict[str, Callable[[LoadedSpec], Raw]] = {
    "digits": _bundled("digits", "classification", shape=(8, 8, 1)),
    "breast_cancer": _bundled("breast_cancer", "binary"),
    "wine": _bundled("wine", "classification"),
    "iris": _bundled("iris", "classification"),
    "moons": _synthetic,
    "circles": _synthetic,
    "classification": _synthetic,
    "regression": _synthetic,
    "mnist": _keras_dataset,
    "fashion_mnist": _keras_dataset,
    "cifar10": _keras_dataset,
    **{name: _sequence_task for name in SEQUENCE_TASKS},  # data/sequences.py
}


# ------------------------------------------------------------------------------------- files
def _table(loaded: LoadedSpec, path: Path, key: str) -> Raw:
    """A csv or parquet table, read by data/table.py (its reading kept with the samples)."""
    table = read_table(loaded, path, key)
    return Raw(table.x, table.y, None, None, columns=table.columns, reading=table.reading)


def _npz(loaded: LoadedSpec, path: Path, key: str) -> Raw:
    with np.load(path, allow_pickle=False) as arrays:
        keys = set(arrays.files)
        if {"x", "y"} <= keys:
            x, y, test = arrays["x"], arrays["y"], None
        elif {"x_train", "y_train"} <= keys:
            x, y = arrays["x_train"], arrays["y_train"]
            test = (arrays["x_test"], arrays["y_test"]) if {"x_test", "y_test"} <= keys else None
        else:
            raise loaded.error(key, f"{path.name} holds {sorted(keys)}; expected arrays x and y "
                                            "(or x_train, y_train and optionally x_test, y_test)")
    shape = tuple(x.shape[1:]) if x.ndim > 2 else None

    def flat(a):
        return a.reshape(len(a), -1).astype(np.float32)
    test = (flat(test[0]), test[1].ravel()) if test is not None else None
    return Raw(flat(x), y.ravel(), shape, None, test)


def _image_folder(loaded: LoadedSpec, root: Path, key: str) -> Raw:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise loaded.error(key, f"{root} needs one sub-folder per class (found {len(classes)})")
    size = loaded.spec.data.image_size
    images, labels, mode = [], [], None
    for label in classes:
        for file in sorted((root / label).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as img:
                    mode = mode or ("L" if img.mode in ("1", "L", "LA", "I", "I;16") else "RGB")
                    img = img.convert(mode)
                    if size is not None:
                        img = img.resize((size[1], size[0]))
                    array = np.asarray(img, dtype=np.float32)
            except (UnidentifiedImageError, OSError) as exc:
                raise loaded.error(key, f"{file}: not a readable image ({exc})") from None
            if images and array.shape != images[0].shape:
                raise loaded.error(key, f"{file} is {array.shape[1]}x{array.shape[0]}, the first image "
                                                f"{images[0].shape[1]}x{images[0].shape[0]}: set data.image_size to "
                                                "resize")
            images.append(array)
            labels.append(label)
    if not images:
        raise loaded.error(key, f"{root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    x = np.stack(images)
    shape = x.shape[1:] if x.ndim == 4 else x.shape[1:] + (1,)
    return Raw(x.reshape(len(x), -1), np.asarray(labels), tuple(shape), "classification")


FILE_READERS: dict[str, Callable[[LoadedSpec, Path, str], Raw]] = {".csv": _table, ".parquet": _table, ".npz": _npz}
