"""`regexp data fetch` and `--fetch`: explicit downloads into the Keras cache, hash checked, tested
against a local HTTP server on 127.0.0.1 serving small stand-in files."""

import gzip
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from dataclasses import replace

import numpy as np
import pytest

from regexp.cli import app
from regexp.registry.datasets import DATASETS, Remote

from conftest import TINY, merged


@pytest.fixture
def server(tmp_path):
    """(base URL, folder it serves); quiet, on a free port of 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", folder
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "keras" / "datasets"


def stand_in_mnist(folder, rows=60):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (rows, 28, 28), dtype=np.uint8), np.arange(rows, dtype=np.uint8) % 10
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    return hashlib.sha256((folder / "mnist.npz").read_bytes()).hexdigest()


def serve_as(monkeypatch, name, remotes):
    monkeypatch.setitem(DATASETS, name, replace(DATASETS[name], remotes=tuple(remotes)))


def test_fetch_downloads_checks_the_hash_and_then_trains_offline(runner, server, cache, monkeypatch, write_spec,
                                                                 tmp_path):
    base, folder = server
    serve_as(monkeypatch, "mnist", [Remote("mnist.npz", base + "mnist.npz", stand_in_mnist(folder), "sha256")])
    result = runner.invoke(app, ["data", "fetch", "mnist", "-q"])
    assert result.exit_code == 0, result.output
    assert (cache / "mnist.npz").read_bytes() == (folder / "mnist.npz").read_bytes()
    assert "already in" in runner.invoke(app, ["data", "fetch", "mnist", "-q"]).output
    (folder / "mnist.npz").unlink()  # the server no longer has it: training must not need the network
    spec = write_spec(merged(TINY, data={"dataset": "mnist", "split": {"train": 0.8, "val": 0.2, "test": 0.0}},
                             training={"epochs": 1}))
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output


def test_train_fetch_downloads_what_the_spec_needs_first(runner, server, cache, monkeypatch, write_spec, tmp_path):
    base, folder = server
    serve_as(monkeypatch, "mnist", [Remote("mnist.npz", base + "mnist.npz", stand_in_mnist(folder), "sha256")])
    spec = write_spec(merged(TINY, data={"dataset": "mnist", "split": {"train": 0.8, "val": 0.2, "test": 0.0}},
                             training={"epochs": 1}))
    assert runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"]).exit_code == 2
    result = runner.invoke(app, ["train", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q", "--fetch"])
    assert result.exit_code == 0, result.output
    assert (cache / "mnist.npz").is_file()


def test_a_wrong_hash_leaves_nothing_in_the_cache(runner, server, cache, monkeypatch):
    base, folder = server
    stand_in_mnist(folder)
    serve_as(monkeypatch, "mnist", [Remote("mnist.npz", base + "mnist.npz", "0" * 64, "sha256")])
    result = runner.invoke(app, ["data", "fetch", "mnist", "-q"])
    assert result.exit_code == 2 and "expected 0000" in result.output and "nothing was written" in result.output
    assert not (cache / "mnist.npz").exists() and not list(cache.glob("*.partial"))


def test_offline_is_a_clear_error(runner, cache, monkeypatch):
    import socket

    with socket.socket() as closed:  # a port nobody listens on: connection refused, as offline
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    serve_as(monkeypatch, "mnist", [Remote("mnist.npz", f"http://127.0.0.1:{port}/mnist.npz", "0" * 64, "sha256")])
    result = runner.invoke(app, ["data", "fetch", "mnist", "-q"])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "cannot download" in out and "offline, copy the file to" in out
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["data", "fetch", "imagenet"]).exit_code == 2


def test_cached_fashion_mnist_and_cifar10_read_as_keras_gives_them(cache):
    """The other two formats: idx.gz files, and the pickled batches in cifar-10-python.tar.gz."""
    (cache / "fashion-mnist").mkdir(parents=True)
    images, labels = np.arange(3 * 784, dtype=np.uint8).reshape(3, 28, 28), np.array([1, 2, 3], np.uint8)
    for prefix in ("train", "t10k"):
        (cache / "fashion-mnist" / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(
            b"\0" * 8 + labels.tobytes()))
        (cache / "fashion-mnist" / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(
            b"\0" * 16 + images.tobytes()))
    x_train, y_train, (x_test, y_test) = DATASETS["fashion_mnist"].arrays()
    assert np.array_equal(x_train, images) and np.array_equal(y_test, labels)

    pixels = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    with tarfile.open(cache / "cifar-10-batches-py-target_archive", "w:gz") as archive:
        for name in ("data_batch_1", "data_batch_2", "test_batch"):
            blob = pickle.dumps({b"data": pixels, b"labels": [4, 7]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
    x_train, y_train, (x_test, y_test) = DATASETS["cifar10"].arrays()
    assert x_train.shape == (4, 32, 32, 3) and list(y_train) == [4, 7, 4, 7] and x_test.shape == (2, 32, 32, 3)
    assert x_train[0, 0, 0].tolist() == [0, 1024 % 256, 2048 % 256]  # channels-last: R, G, B planes of pixel (0, 0)
