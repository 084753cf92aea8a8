"""`regexp predict RUN INPUT`: a run's model on new rows (csv, npz or a folder of images), as csv.

Each row gets the predicted class and one probability per class (regression: the value). A
data.window run reads the csv as a series and predicts every window of its rows (the label
`horizon` rows after the window); a data.text run reads the text column (or a folder of text files)
through the vocabulary the run fitted (vocabulary.txt), so a word its train part lacked is out of
vocabulary, as in its own val and test parts. With
MC dropout (Gal & Ghahramani, 2016) the probabilities are the mean over K passes with dropout on,
with their standard deviation per class and the entropy of the mean, read per instance as the
model's uncertainty; regression gets the mean and its std.
"""

import csv
import io
from pathlib import Path

import keras
import numpy as np

from regexp.data.sources import IMAGE_SUFFIXES
from regexp.errors import SpecError
from regexp.net.layers import mc_dropout_model
from regexp.net.saved import load_model_file
from regexp.store.folders import read_run


def predict_csv(run_path: Path, input_path: Path, mc_dropout: int = 0) -> tuple[str, list[str]]:
    """(the csv text, notes for the user); raises SpecError for a bad run, input or shape."""
    if not (run_path / "model.keras").is_file():
        raise SpecError(f"{run_path}: no model.keras (a completed run folder has one)")
    run = read_run(run_path)
    config, metrics = run.config, run.metrics
    task = metrics.task if metrics else run.info.task
    classes = metrics.classes if metrics else []
    model = load_model_file(run_path / "model.keras")
    features = int(model.inputs[0].shape[-1])
    columns = metrics.columns if metrics else None
    data = config.get("data", {})
    if data.get("text"):
        ids, x = _texts(run_path, input_path, data)
    elif data.get("window"):
        ids, x = _windows(input_path, data, run.info.table or {}, task)
    else:
        ids, x = read_inputs(input_path, features, data, columns, run.info.table)
    if x.shape[1] != features:
        raise SpecError(f"{input_path}: each row has {x.shape[1]} features but the model takes {features}")
    notes = []
    if mc_dropout:
        mc = mc_dropout_model(model)
        if mc is None:
            notes.append("the model has no dropout layer: every MC pass is the same prediction (std 0)")
        samples = np.stack([keras.ops.convert_to_numpy((mc or model)(x, training=False)) for _ in range(mc_dropout)])
    else:
        samples = keras.ops.convert_to_numpy(model(x, training=False))[None]
    return _table(ids, samples, task, classes, mc_dropout > 0), notes


def _table(ids: list[str], samples: np.ndarray, task: str, classes: list[str], mc: bool) -> str:
    """samples: (passes, n, outputs) -> csv rows."""
    samples = samples.astype(np.float64)  # sums of float32 are exact here: identical passes give std 0
    out = io.StringIO()
    writer = csv.writer(out)
    if task == "regression":
        mean = samples[..., 0].mean(axis=0)
        writer.writerow(["row", "prediction", *(["std"] if mc else [])])
        spread = samples[..., 0].std(axis=0)
        for i, row in enumerate(ids):
            writer.writerow([row, repr(float(mean[i])), *([repr(float(spread[i]))] if mc else [])])
        return out.getvalue()
    if task == "binary":  # one sigmoid unit: P(second class)
        samples = np.concatenate([1 - samples, samples], axis=-1)
    mean, spread = samples.mean(axis=0), samples.std(axis=0)
    names = classes or [str(i) for i in range(mean.shape[1])]
    entropy = -np.sum(mean * np.log(mean + 1e-7), axis=1)
    writer.writerow(["row", "prediction", *(f"p_{c}" for c in names),
                     *((*(f"std_{c}" for c in names), "entropy") if mc else ())])
    for i, row in enumerate(ids):
        cells = [row, names[int(mean[i].argmax())], *(f"{p:.6g}" for p in mean[i])]
        if mc:
            cells += [*(f"{s:.6g}" for s in spread[i]), f"{entropy[i]:.6g}"]
        writer.writerow(cells)
    return out.getvalue()


def read_inputs(path: Path, features: int, data: dict, columns: list[dict] | None = None, table: dict | None = None
                ) -> tuple[list[str], np.ndarray]:
    """Row ids and (n, features) float32 inputs from a csv (header row; the run's target column,
    when present, is dropped), an npz (array x or x_test) or a folder of images (searched recursively).
    A run that read a table (run.json `table`, or metrics.json `columns` from older runs) reads the csv
    the same way and takes its feature columns by name (data/encoding.py's code_rows)."""
    if not path.exists():
        raise SpecError(f"{path}: does not exist")
    if (columns or table) and path.suffix.lower() == ".csv":
        from regexp.data.encoding import code_rows

        named = ([(c["name"], c["kind"]) for c in table["columns"] if c["kind"] in ("numeric", "categorical")]
                 if table else [(c["name"], c["kind"]) for c in columns])  # a run from before run.json `table`
        try:
            x = code_rows(path, data, named, columns)
        except ValueError as exc:
            raise SpecError(f"{path}: {exc}") from None
        return [str(i) for i in range(len(x))], x
    if path.is_dir():
        ids, x = _images(path, data)
    elif path.suffix.lower() == ".csv":
        ids, x = _csv(path, features, data.get("target"))
    elif path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            key = next((k for k in ("x", "x_test") if k in arrays.files), None)
            if key is None:
                raise SpecError(f"{path}: holds {sorted(arrays.files)}; expected an array x (or x_test)")
            x = arrays[key].reshape(len(arrays[key]), -1).astype(np.float32)
        ids = [str(i) for i in range(len(x))]
    else:
        raise SpecError(f"{path}: cannot read {path.suffix or 'a file without suffix'} (allowed: .csv, .npz, a folder "
                        "of images)")
    return ids, x


def _texts(run_path: Path, path: Path, data: dict) -> tuple[list[str], np.ndarray]:
    """A data.text run's new rows: the text column of a csv, or a folder of text files, as token ids."""
    from regexp.data.text import VOCABULARY_FILE, new_texts, read_vocabulary, token_ids

    try:
        words = read_vocabulary(run_path)
    except OSError:
        raise SpecError(f"{run_path}: no {VOCABULARY_FILE}, the vocabulary new text is read through (runs trained "
                        "before it was saved lack it: train the spec again)") from None
    try:
        ids, texts = new_texts(path, data["text"].get("column"), data.get("sep") or "auto")
    except ValueError as exc:
        raise SpecError(f"{path}: {exc}") from None
    return ids, token_ids(texts, words, data["text"]["length"])


def _windows(path: Path, data: dict, table: dict, task: str) -> tuple[list[str], np.ndarray]:
    """A data.window run's new rows: a csv series (rows in time order) as every window of its rows,
    each with the channels the run read (its numeric columns, and a regression target's own past)."""
    from regexp.data.encoding import code_rows
    from regexp.data.windows import every_window

    channels = [(c["name"], "numeric") for c in table.get("columns", [])
                if c["kind"] == "numeric" or (c["kind"] == "target" and task == "regression")]
    try:
        series = code_rows(path, data, channels, None)
    except ValueError as exc:
        raise SpecError(f"{path}: {exc}") from None
    length = data["window"]["length"]
    if len(series) < length:
        raise SpecError(f"{path}: {len(series)} rows, fewer than one window of {length} (data.window.length)")
    return every_window(series, length)


def _csv(path: Path, features: int, target: str | None) -> tuple[list[str], np.ndarray]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise SpecError(f"{path}: needs a header row and at least one data row")
    header = rows[0]
    drop = {target} if target in header else {header[-1]} if len(header) == features + 1 else set()
    keep = [j for j, name in enumerate(header) if name not in drop]
    x = np.empty((len(rows) - 1, len(keep)), np.float32)
    for i, row in enumerate(rows[1:]):
        try:
            x[i] = [float(row[j]) for j in keep]
        except (ValueError, IndexError):
            raise SpecError(f"{path} line {i + 2}: expected {len(keep)} numbers in columns "
                            f"{', '.join(header[j] for j in keep)}") from None
    return [str(i) for i in range(len(x))], x


def _images(root: Path, data: dict) -> tuple[list[str], np.ndarray]:
    from PIL import Image

    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SpecError(f"{root}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    size, arrays, mode = data.get("image_size"), [], None
    for file in files:
        with Image.open(file) as img:
            mode = mode or ("L" if img.mode in ("1", "L", "LA", "I", "I;16") else "RGB")
            img = img.convert(mode)
            if size:
                img = img.resize((size[1], size[0]))
            arrays.append(np.asarray(img, np.float32).ravel())
    if len({a.size for a in arrays}) > 1:
        raise SpecError(
            f"{root}: the images differ in size; the run's data.image_size resizes them only when it is set")
    return [str(f.relative_to(root)) for f in files], np.stack(arrays)
