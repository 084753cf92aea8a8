"""`regexp data fetch NAME`: the one place regexp downloads, and only when asked; and reading
those files back.

mnist, fashion_mnist and cifar10 live in the Keras cache ($KERAS_HOME/datasets, default
~/.keras/datasets), under the names Keras's loaders use, so a cache Keras filled works too. A
file is checked when it is fetched: the sha256 that Keras's loaders pin (mnist, cifar10) or the
MD5 that Fashion-MNIST publishes (Keras pins none). A download goes to a temporary name and is
renamed only once its hash matched, so an interrupted or corrupted download never looks cached.
`load_cached` reads the files directly rather than through keras.datasets, whose loaders would
download whatever is missing: regexp never downloads at run time. No TensorFlow here.
"""

import gzip
import hashlib
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regexp.errors import UserError

KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CHUNK = 1 << 16


@dataclass(frozen=True)
class Remote:
    path: str        # under the cache's datasets/ folder, as Keras's loader names it
    url: str
    digest: str
    algorithm: str   # sha256 | md5


# dataset -> its files (keras/src/datasets/{mnist,fashion_mnist,cifar10}.py for names and origins)
REMOTES: dict[str, list[Remote]] = {
    "mnist": [Remote("mnist.npz", KERAS_BASE + "mnist.npz",
                     "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", "sha256")],
    "fashion_mnist": [Remote(f"fashion-mnist/{name}", KERAS_BASE + name, digest, "md5") for name, digest in (
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"))],
    # Keras 3 names the archive <fname>_archive and extracts it on first load
    "cifar10": [Remote("cifar-10-batches-py-target_archive", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                       "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", "sha256")],
}


def cache_dir() -> Path:
    """Where Keras's dataset loaders look (keras.config.keras_home(), without importing Keras)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def missing(name: str) -> list[Path]:
    """The files of `name` not in the cache (existence only: fetch checked their hashes)."""
    return [cache_dir() / remote.path for remote in REMOTES[name] if not (cache_dir() / remote.path).is_file()]


def fetch(name: str, progress=None, force: bool = False) -> list[Path]:
    """Download what `name` misses from the cache (everything with `force`); returns the files written.
    `progress`: a rich Progress, or None for silence. Raises UserError offline or on a bad hash."""
    if name not in REMOTES:
        raise UserError(f"{name}: not a dataset regexp fetches (allowed: {' | '.join(REMOTES)}; the others are "
                        "bundled with scikit-learn)")
    written = []
    for remote in REMOTES[name]:
        target = cache_dir() / remote.path
        if target.is_file() and not force:
            continue
        _download(remote, target, progress)
        written.append(target)
    return written


def _download(remote: Remote, target: Path, progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.new(remote.algorithm)
    try:
        with urllib.request.urlopen(remote.url, timeout=30) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            task = progress.add_task(target.name, total=total) if progress is not None else None
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if task is not None:
                    progress.advance(task, len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise UserError(f"cannot download {remote.url} ({reason}). regexp downloads only on request and needs the "
                        f"network for it; offline, copy the file to {target}") from None
    if digest.hexdigest() != remote.digest:
        partial.unlink(missing_ok=True)
        raise UserError(f"{remote.url}: the download's {remote.algorithm} is {digest.hexdigest()}, expected "
                        f"{remote.digest}; nothing was written to the cache (a proxy or a changed file? try again)")
    os.replace(partial, target)


def load_cached(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of a fetched dataset, images channels-last, as Keras's loaders give."""
    files = [cache_dir() / remote.path for remote in REMOTES[name]]
    if name == "mnist":
        with np.load(files[0], allow_pickle=False) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    if name == "fashion_mnist":  # idx files: labels after an 8-byte header, 28x28 images after 16
        def read(path: Path, offset: int) -> np.ndarray:
            with gzip.open(path, "rb") as f:
                return np.frombuffer(f.read(), np.uint8, offset=offset)
        y_train, x_train, y_test, x_test = (read(f, 8 if "labels" in f.name else 16) for f in files)
        return x_train.reshape(-1, 28, 28), y_train, x_test.reshape(-1, 28, 28), y_test
    # cifar10: the python version's pickled batches; the archive's hash was checked when it was fetched
    parts: dict[str, list] = {"data": [], "labels": []}
    test = {}
    with tarfile.open(files[0], "r:gz") as archive:
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
    return np.concatenate(parts["data"]), np.concatenate(parts["labels"]), test["data"], test["labels"]
