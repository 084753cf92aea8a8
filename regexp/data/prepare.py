"""From raw samples to the parts a trial trains on: task, label encoding, split, scaling stats.

Splits use scikit-learn's train_test_split, stratified for classification and seeded with the
spec's seed. Scaling statistics come from the train part only; the model bakes them in (see
net/model.py), so the saved model takes raw inputs and val/test never leak into training.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from regexp.data.encoding import Encoded, encode, filled, needs_encoding
from regexp.data.reading import TableReading
from regexp.data.sources import Raw, load_raw
from regexp.data.table import MAX_AUTO_CLASSES
from regexp.data.text import vectorize
from regexp.data.windows import windowed
from regexp.registry.metrics import METRICS
from regexp.spec import LoadedSpec
from regexp.spec.layers import SEQUENTIAL
from regexp.spec.schema import SPATIAL


@dataclass
class Prepared:
    task: str                             # classification | binary | regression
    classes: list[str]                    # class names in label order ([] for regression)
    shape: tuple[int, ...] | None         # per-sample input shape for conv layers
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scale: dict[str, list[float]]         # {"mean", "variance"} or {"min", "max"} or {}: of the numeric columns
    metrics: list[str]
    columns: list[Encoded] | None = None  # a table with categories or filled cells: how the model encodes each
    reading: TableReading | None = None   # a csv/parquet table: how data.path was read (run.json `table`)
    tokens: int | None = None             # x holds token ids below this (the embedding's table size)
    vocabulary: list[str] | None = None   # data.text: each id's word, fitted on the train part

    @property
    def features(self) -> int:
        return self.x_train.shape[1]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def prepare(loaded: LoadedSpec) -> Prepared:
    spec = loaded.spec
    raw = load_raw(loaded)
    task = _task(loaded, raw.y, raw.task)
    y, classes = _encode(raw.y, task)
    test = None
    if raw.test is not None:
        test = (raw.test[0], _encode_like(raw.test[1], classes, task))
    own = {key: _own_file(loaded, key, raw, classes, task) for key in ("val_path", "test_path")
           if getattr(spec.data, key) is not None}
    window, natural = spec.data.window, raw.shape
    if window is not None:
        parts, natural = windowed(_series(loaded, raw, task), y, window, spec.data.split)
    else:
        parts = _split(loaded, raw.x, y, task, own.get("test_path", test), own.get("val_path"))
    x_train, y_train = _subsample(loaded, parts[0], parts[1], task)
    tokens, vocabulary = raw.tokens, None
    if raw.text:
        text = spec.data.text
        x_train, (x_val, x_test), vocabulary = vectorize(x_train, [parts[2], parts[4]], text.max_tokens, text.length)
        parts, natural, tokens = (None, None, x_val, parts[3], x_test, parts[5]), (text.length,), len(vocabulary)
    columns, scaled = None, x_train
    if needs_encoding(raw.columns, [x_train, parts[2], parts[4]]):
        columns, (x_train, x_val, x_test) = encode(raw.columns, [x_train, parts[2], parts[4]], spec.data.missing,
                                                   spec.data.max_onehot, lambda m: loaded.error("data.missing", m))
        parts = (None, None, x_val, parts[3], x_test, parts[5])
        scaled = filled(columns, x_train)
    metrics = spec.training.metrics or (["mae"] if task == "regression" else ["accuracy"])
    for i, metric in enumerate(metrics):
        if task not in METRICS[metric]:
            allowed = ", ".join(m for m, t in METRICS.items() if task in t)
            raise loaded.error(f"training.metrics.{i}",
                               f"{metric} does not apply to a {task} task (allowed: {allowed})")
    if task == "regression" and spec.training.label_smoothing > 0:
        raise loaded.error("training.label_smoothing", "label smoothing applies to classification only")
    shape = _shape(loaded, natural, x_train.shape[1])
    _check_crops(loaded, shape)
    scale = {} if tokens else _scale_stats(spec.data.scale, scaled, shape)  # token ids are names, not amounts
    return Prepared(task, classes, shape, x_train, y_train, parts[2], parts[3], parts[4], parts[5], scale, metrics,
                    columns, raw.reading, tokens, vocabulary)


def _series(loaded: LoadedSpec, raw: Raw, task: str) -> np.ndarray:
    """The input channels of data.window's rows: the numeric feature columns, and the target's own
    past when it is a number (regression): a univariate series forecasts itself."""
    categorical = [c.name for c in raw.columns or [] if c.kind == "categorical"]
    if categorical:
        raise loaded.error("data.window", f"windows read numeric columns; {', '.join(categorical)} "
                                          f"{'is' if len(categorical) == 1 else 'are'} categorical (data.drop it)")
    if np.isnan(raw.x).any():
        raise loaded.error("data.window", "the series has empty cells: fill them in the file (windows read every row)")
    past = [raw.y.astype(np.float32)[:, None]] if task == "regression" else []
    return np.concatenate([raw.x, *past], axis=1)


def _task(loaded: LoadedSpec, y: np.ndarray, known: str | None) -> str:
    wanted = loaded.spec.model.task
    values = np.unique(y)
    if len(values) < 2:
        raise loaded.error("data", f"the labels have a single value ({plain(values[0])!r}): nothing to "
                                   "learn")
    numeric = np.issubdtype(y.dtype, np.number)
    integral = not numeric or bool(np.all(np.mod(y, 1) == 0))
    detected = known or ("regression" if not integral or (numeric and len(values) > MAX_AUTO_CLASSES)
                         else "binary" if len(values) == 2 else "classification")
    if wanted == "auto":
        return "binary" if detected == "classification" and len(values) == 2 else detected
    if wanted != "regression" and not integral:
        raise loaded.error("model.task", f"{wanted} needs class labels, but the labels are fractional numbers "
                                         f"(e.g. {plain(values[0])!r}); use task: regression")
    if wanted == "binary" and len(values) != 2:
        raise loaded.error("model.task", f"binary needs 2 classes (got {len(values)}); use task: classification")
    if wanted == "regression" and not numeric:
        raise loaded.error("model.task", f"regression needs numeric labels (got {plain(values[0])!r})")
    return wanted


def plain(value):
    """A numpy scalar as the Python value it holds: errors say 0.0 and 'cat', not np.float64(0.0)."""
    return value.item() if isinstance(value, np.generic) else value


def _encode(y: np.ndarray, task: str) -> tuple[np.ndarray, list[str]]:
    if task == "regression":
        return y.astype(np.float32), []
    values, codes = np.unique(y, return_inverse=True)
    return codes.astype(np.int32), [str(v) for v in values]


def _own_file(loaded: LoadedSpec, key: str, main: Raw, classes: list[str], task: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """data.val_path / data.test_path: samples with the columns and classes of data.path (its
    categories coded as data.path codes them; a value data.path lacks is out of vocabulary)."""
    raw = load_raw(loaded, f"data.{key}")
    raw.x = raw.x.copy()  # recoded below; the reader's arrays are shared by the process
    features = main.x.shape[1]
    if raw.x.shape[1] != features:
        raise loaded.error(f"data.{key}", f"its samples have {raw.x.shape[1]} features, data.path's have {features}")
    for j, (mine, theirs) in enumerate(zip(main.columns or [], raw.columns or [])):
        if (mine.name, mine.kind) != (theirs.name, theirs.kind):
            raise loaded.error(f"data.{key}", f"column {j + 1} is {theirs.name!r} ({theirs.kind}), data.path's is "
                                              f"{mine.name!r} ({mine.kind})")
        if mine.kind == "categorical":
            index = {v: i for i, v in enumerate(mine.values)}
            recode = np.array([index.get(v, np.nan) for v in theirs.values] + [np.nan], np.float32)
            raw.x[:, j] = recode[np.where(np.isnan(raw.x[:, j]), len(theirs.values), raw.x[:, j]).astype(int)]
    unknown = sorted({str(v) for v in np.unique(raw.y)} - set(classes)) if task != "regression" else []
    if unknown:
        raise loaded.error(f"data.{key}", f"labels {', '.join(unknown[:5])} do not occur in data.path "
                                          f"(its classes: {', '.join(classes[:10])})")
    return raw.x, _encode_like(raw.y, classes, task)


def _encode_like(y: np.ndarray, classes: list[str], task: str) -> np.ndarray:
    if task == "regression":
        return y.astype(np.float32)
    lookup = {name: i for i, name in enumerate(classes)}
    return np.array([lookup[str(v)] for v in y], dtype=np.int32)


def _split(loaded: LoadedSpec, x, y, task, test, val=None) -> tuple[np.ndarray, ...]:
    """train/val/test of (x, y); `test` or `val` given (their own files, or a shipped test part) are not
    cut from x, and the remaining fractions keep their proportions."""
    split, seed = loaded.spec.data.split, loaded.spec.seed
    stratify = split.stratify and task != "regression"

    def cut(x, y, fraction):
        """Split off `fraction` of (x, y); returns (rest_x, rest_y, part_x, part_y)."""
        empty = (x[:0], y[:0])
        if fraction == 0:
            return x, y, *empty
        try:
            rest, part = _cut_indices(y, fraction, seed, stratify)
        except ValueError as exc:
            hint = " (set stratify: false or use fewer parts)" if stratify else ""
            raise loaded.error("data.split", f"cannot split {len(y)} samples this way: {exc}{hint}") from None
        return x[rest], y[rest], x[part], y[part]

    if test is None:
        x, y, x_test, y_test = cut(x, y, split.test if val is None else split.test / (split.train + split.test))
    else:  # the data ships its own test part; val is taken from the rest in proportion
        x_test, y_test = test
    if val is not None:
        return x, y, *val, x_test, y_test
    cv = loaded.spec.cv
    if cv is not None and cv.fold is not None:  # fold k of train+val is the validation part
        train_idx, val_idx = _fold(loaded, y, cv.folds, cv.fold, cv.stratify and task != "regression")
        return x[train_idx], y[train_idx], x[val_idx], y[val_idx], x_test, y_test
    x_train, y_train, x_val, y_val = cut(x, y, split.val / (split.train + split.val))
    return x_train, y_train, x_val, y_val, x_test, y_test


_CUTS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # _cut_indices's, oldest first
CUT_MEMORY = 2**22  # indices kept at most (32 MB): digits' 2 cuts a seed fit 1,100 seeds, MNIST's about 35


def _cut_indices(y: np.ndarray, fraction: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """train_test_split's (rest, part) indices of len(y) samples, stratified on y when asked. They depend
    on nothing else, so they are kept: the slices of a pack and the points of a sweep that share a seed
    cut the same data the same way, and each cut cost about 4 ms (train_test_split's checks), most of a
    packed trial's prepare. Indexing x and y with them is what train_test_split does with numpy arrays
    (tests/test_data.py compares the two)."""
    key = (len(y), fraction, seed, (y.dtype.str, hashlib.sha256(y.tobytes()).hexdigest()) if stratify else None)
    if key not in _CUTS:
        from sklearn.model_selection import train_test_split  # here: `validate` imports this module, never splits

        cut = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed,
                               stratify=y if stratify else None)
        for index in cut:
            index.setflags(write=False)  # shared by every caller
        _CUTS[key] = tuple(cut)
        while len(_CUTS) > 1 and sum(len(rest) + len(part) for rest, part in _CUTS.values()) > CUT_MEMORY:
            del _CUTS[next(iter(_CUTS))]
    return _CUTS[key]


def _fold(loaded: LoadedSpec, y: np.ndarray, folds: int, fold: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices of fold `fold`: scikit-learn's (Stratified)KFold, shuffled with the spec's seed, so
    every arm of a sweep with the same seed validates on the same folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=loaded.spec.seed)
    try:
        return list(splitter.split(np.zeros(len(y)), y))[fold]
    except ValueError as exc:
        raise loaded.error("cv.folds", f"cannot make {folds} folds of {len(y)} samples: {exc}") from None


def _subsample(loaded: LoadedSpec, x, y, task) -> tuple[np.ndarray, np.ndarray]:
    keep = loaded.spec.data.subsample
    if keep is None or keep == 1.0 or (isinstance(keep, int) and keep >= len(y)):
        if isinstance(keep, int) and keep > len(y):
            raise loaded.error("data.subsample", f"asks for {keep} samples but the train part has {len(y)}")
        return x, y
    from sklearn.model_selection import train_test_split

    stratify = y if loaded.spec.data.split.stratify and task != "regression" else None
    try:
        kx, _, ky, _ = train_test_split(x, y, train_size=keep, random_state=loaded.spec.seed, stratify=stratify)
    except ValueError as exc:
        raise loaded.error("data.subsample", f"cannot keep {keep} of {len(y)} train samples: {exc}") from None
    return kx, ky


def _shape(loaded: LoadedSpec, natural: tuple[int, ...] | None, features: int) -> tuple[int, ...] | None:
    shape = loaded.spec.data.shape
    if shape is not None:
        if int(np.prod(shape)) != features:
            raise loaded.error("data.shape", f"{shape} holds {int(np.prod(shape))} values but each sample has "
                                             f"{features} features")
        return tuple(shape)
    training = loaded.spec.training
    sequential = [layer.type for layer in loaded.spec.model.layers if layer.type in (*SEQUENTIAL, "embedding")]
    if sequential and (natural is None or len(natural) > 2):
        raise loaded.error("data.shape", f"{sequential[0]} layers need sequences: set data.window (a csv series), "
                                         f"data.text, or data.shape [steps, channels] with a product of {features}")
    needs_shape = bool(sequential) or any(layer.type in SPATIAL for layer in loaded.spec.model.layers)
    image_only = [key for key in ("augment", "cutmix", "cutout") if getattr(training, key)]
    if (needs_shape or image_only) and natural is None:
        what = f"training.{image_only[0]}" if image_only else "conv2d/pooling layers"
        raise loaded.error("data.shape", f"{what} needs image-shaped inputs: set data.shape, "
                                         f"e.g. [height, width, channels] with a product of {features}")
    needs_shape = needs_shape or bool(image_only)
    return natural if needs_shape else None


def _check_crops(loaded: LoadedSpec, shape: tuple[int, ...] | None) -> None:
    for i, item in enumerate(loaded.spec.training.augment):
        if item.crop is not None and (item.crop[0] > shape[0] or item.crop[1] > shape[1]):
            raise loaded.error(f"training.augment.{i}.crop", f"a crop of {item.crop} does not fit in "
                                                             f"{shape[0]}x{shape[1]} images (data.shape {list(shape)})")


def _scale_stats(scale: str, x: np.ndarray, shape: tuple[int, ...] | None = None) -> dict[str, list[float]]:
    """Per feature for tabular data; per channel for images, because a border pixel that is nearly
    always 0 in train would blow up once augmentation moves ink into it."""
    if shape is not None:
        x = x.reshape(-1, shape[-1])  # channels-last: every pixel is a sample of its channel
    if scale == "standard":
        # A feature constant in the train part gets variance 1 (as scikit-learn's StandardScaler
        # does): Keras divides by max(std, 1e-7), which would blow up any other value by 1e7.
        variance = x.var(axis=0)
        return {"mean": x.mean(axis=0).tolist(), "variance": np.where(variance > 0, variance, 1.0).tolist()}
    if scale == "minmax":
        return {"min": x.min(axis=0).tolist(), "max": x.max(axis=0).tolist()}
    return {}
