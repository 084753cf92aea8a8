"""A time series (table rows in time order) as windows for sequence models: data.window.

Window i holds rows s .. s+length-1 (s = i * stride) and its label is the target at row
s+length-1+horizon. The rows are cut in time order into train, val and test (split's fractions);
a window belongs to a part only if every row it reads, label included, lies in that part, so the
windows straddling a boundary are dropped: a gap of length + horizon - 1 rows between parts, and no
row is seen by two parts. Shuffled splits would leak (neighbouring windows share all but one row),
hence no stratify, no cv, and the seed does not move the cut.
"""

import numpy as np

from regexp.spec.schema import Split
from regexp.spec.sequences import Window


def window_starts(rows: int, window: Window, split: Split) -> list[np.ndarray]:
    """The first row of every window of train, val and test."""
    span = window.length + window.horizon  # rows a window reads, its label's row included
    starts = np.arange(0, rows - span + 1, window.stride)
    bounds = np.round(np.cumsum([0.0, split.train, split.val, split.test]) * rows).astype(int)
    return [starts[(starts >= lo) & (starts + span <= hi)] for lo, hi in zip(bounds[:-1], bounds[1:])]


def windowed(x: np.ndarray, y: np.ndarray, window: Window, split: Split) -> tuple[list[np.ndarray], tuple[int, int]]:
    """[x_train, y_train, x_val, y_val, x_test, y_test] of flat windows (N, length * channels), and
    the (length, channels) shape each sample is reshaped to. `x` holds every input channel per row."""
    parts = []
    for starts in window_starts(len(y), window, split):
        parts += [_flat(x, starts, window.length), y[starts + window.length - 1 + window.horizon]]
    return parts, (window.length, x.shape[1])


def every_window(x: np.ndarray, length: int) -> tuple[list[str], np.ndarray]:
    """Every window of `length` consecutive rows of a series (stride 1), flat as `windowed` makes them,
    and the rows each reads as its id ("0-19"): `regexp predict` on new rows."""
    starts = np.arange(len(x) - length + 1)
    return [f"{s}-{s + length - 1}" for s in starts], _flat(x, starts, length)


def _flat(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(windows, length * channels): rows s .. s+length-1 of x for each start s, step after step."""
    return x[starts[:, None] + np.arange(length)].reshape(len(starts), -1)
