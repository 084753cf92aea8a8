"""A table's categorical and missing values, as the model will encode them (net/model.py).

The data stays one float matrix, so packs, mixup and every pipeline take it as they are: a
categorical column holds a code, 1..V for the train part's vocabulary and 0 for anything else
(a value only val or test have, an empty cell: out of vocabulary); a numeric column may hold NaN
where data.missing fills it. `Encoding` says, per column, what the model's first layers do: one-hot
(CategoryEncoding) or an Embedding for a categorical column, the fill value (the train part's mean
or median) and a was-missing indicator for a numeric one. The vocabulary comes from the train part
only. metrics.json keeps it (`columns`), so `regexp predict` codes raw rows the same way.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regexp.data.sources import Column

EMBEDDING_DIM_MAX = 16


@dataclass
class Encoded:
    name: str
    kind: str                              # numeric | categorical
    vocabulary: list[str] | None = None    # categorical: the train part's values; code k is vocabulary[k - 1]
    encoding: str | None = None            # categorical: one_hot | embedding
    fill: float | None = None              # numeric with data.missing: the value a NaN becomes
    indicator: bool = False                # numeric, data.missing indicator: a was-missing column too

    @property
    def width(self) -> int:
        """One-hot width, or the embedding size (about 1.6·V^0.56, the fast.ai rule, at most 16)."""
        size = len(self.vocabulary or []) + 1  # + the out-of-vocabulary code 0
        return size if self.encoding == "one_hot" else min(EMBEDDING_DIM_MAX, round(1.6 * size ** 0.56))

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "vocabulary": self.vocabulary, "encoding": self.encoding,
                "fill": self.fill, "indicator": self.indicator}


def needs_encoding(columns: list[Column] | None, parts: list[np.ndarray]) -> bool:
    return columns is not None and (any(c.kind == "categorical" for c in columns)
                                    or any(np.isnan(x).any() for x in parts if len(x)))


def encode(columns: list[Column], parts: list[np.ndarray], missing: str, max_onehot: int, where
           ) -> tuple[list[Encoded], list[np.ndarray]]:
    """(each column's encoding, the parts recoded); parts[0] is the train part. `where(message)`
    raises the spec error for a column the train part cannot describe."""
    train = parts[0]
    out = [x.copy() for x in parts]
    encoded = []
    for j, column in enumerate(columns):
        if column.kind == "categorical":
            seen = np.unique(train[:, j][~np.isnan(train[:, j])]).astype(int)
            lookup = np.zeros(len(column.values) + 1, np.float32)  # global code -> train code; the last: NaN
            lookup[seen] = np.arange(1, len(seen) + 1)
            for x in out:
                codes = np.where(np.isnan(x[:, j]), len(column.values), x[:, j]).astype(int)
                x[:, j] = lookup[codes]
            vocabulary = [column.values[c] for c in seen]
            # one-hot or embedded by the file's count of values, as validate says, whatever a train part lacks
            encoded.append(Encoded(column.name, "categorical", vocabulary,
                                   "one_hot" if len(column.values) <= max_onehot else "embedding"))
            continue
        if missing == "error" or not any(np.isnan(x[:, j]).any() for x in parts if len(x)):
            encoded.append(Encoded(column.name, "numeric"))
            continue
        observed = train[:, j][~np.isnan(train[:, j])]
        if not len(observed):
            raise where(f"column {column.name!r} has no value in the train part: nothing to fill its missing cells "
                        "with")
        fill = float(np.median(observed) if missing == "median" else np.mean(observed))
        encoded.append(Encoded(column.name, "numeric", fill=fill, indicator=missing == "indicator"))
    return encoded, out


def filled(encoded: list[Encoded], x: np.ndarray) -> np.ndarray:
    """The numeric columns with their fills (what the model's scaling sees), for the scale statistics."""
    numeric = [j for j, e in enumerate(encoded) if e.kind == "numeric"]
    block = x[:, numeric].copy()
    for k, j in enumerate(numeric):
        if encoded[j].fill is not None:
            block[:, k] = np.where(np.isnan(block[:, k]), encoded[j].fill, block[:, k])
    return block


def code_rows(path: Path, data: dict, features: list[tuple[str, str]], columns: list[dict] | None) -> np.ndarray:
    """A csv of new rows (regexp predict) read as the run read its table (data.sep, the missing markers and
    data.na_values, the number forms; data/table.py) and coded as the run's model takes it: `features`
    [(name, numeric | categorical)] by name, whatever else the file holds (the label, a row index);
    categories through the train vocabulary (an unseen value or a missing cell: 0); a missing number NaN
    where the run fills it, else an error. ValueError names the row and column."""
    from regexp.data.table import MISSING_MARKERS, TableProblems, as_numbers, category_text, read_frame, without_markers

    listed = tuple(name for name, kind in features if kind == "categorical")
    try:
        frame, sep, _ = read_frame(path, data.get("sep") or "auto", listed)
    except TableProblems as exc:
        raise ValueError("; ".join(p.message for p in exc.problems)) from None
    missing = [name for name, _ in features if name not in frame.columns]
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} (the run's model takes "
                         f"{', '.join(name for name, _ in features)})")
    encoded = {c["name"]: c for c in columns or []}
    x = np.empty((len(frame), len(features)), np.float32)
    for j, (name, kind) in enumerate(features):
        cells, _ = without_markers(frame[name], [*MISSING_MARKERS, *data.get("na_values", [])])
        if kind == "categorical":
            index = {v: i + 1 for i, v in enumerate(encoded[name].get("vocabulary") or [])}
            x[:, j] = [0 if isinstance(c, float) and math.isnan(c) else index.get(category_text(c), 0) for c in cells]
            continue
        numbers = cells.to_numpy(np.float64) if cells.dtype.kind in "biuf" else as_numbers(cells, sep)[0]
        given = cells.notna().to_numpy()
        bad = np.flatnonzero(given & np.isnan(numbers))
        if len(bad):
            raise ValueError(f"row {bad[0] + 1}, column {name!r}: {cells.iloc[bad[0]]!r} is not a number")
        empty = np.flatnonzero(~given)
        if len(empty) and encoded.get(name, {}).get("fill") is None:
            raise ValueError(f"row {empty[0] + 1}, column {name!r}: a missing value (the run filled none: it trained "
                             "with data.missing: error)")
        x[:, j] = numbers
    return x
