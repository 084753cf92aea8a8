"""Where samples come from: built-in datasets (registry/datasets.py) and files.

Every loader returns a `Raw`: flat float32 features (N, D), raw labels, and the natural sample
shape for images. Built-in data is offline; a dataset that is downloaded is read from the Keras
cache, which only `regexp data fetch` (data/fetch.py) or `--fetch` fills.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regexp.data.fetch import missing
from regexp.data.reading import TableReading
from regexp.data.table import Column, read_table
from regexp.spec import LoadedSpec
from regexp.spec.datasets import facts
from regexp.spec.load import existing_data_path

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
        return _builtin(loaded)
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
def _builtin(loaded: LoadedSpec) -> Raw:
    known = facts(loaded.spec)
    absent = missing(known.name) if known.remotes else []
    if absent:  # Keras's loader would download: regexp does so only when asked
        raise loaded.error("data.dataset", f"{known.name} is not in the Keras cache ({absent[0]}); regexp does not "
                                           f"download at run time. Fetch it once with `regexp data fetch "
                                           f"{known.name}`, or train with --fetch")
    x, y, test = known.arrays()
    test = (_flat(test[0]), test[1].ravel()) if test is not None else None
    return Raw(_flat(x), y.ravel(), known.shape, known.task, test=test, tokens=known.tokens or None)


def _flat(x: np.ndarray) -> np.ndarray:
    """(N, D) float32; a bundled table already is, and stays the shared read-only copy."""
    return x.reshape(len(x), -1).astype(np.float32, copy=False)


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
    test = (_flat(test[0]), test[1].ravel()) if test is not None else None
    return Raw(_flat(x), y.ravel(), shape, None, test)


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
