"""A csv or parquet table as it comes, read by pandas: which cells are missing, which columns are
numbers, categories or left out, and why (a `TableReading`, data/reading.py).

- Missing: the markers R and pandas write (MISSING_MARKERS) and data.na_values. pandas' own default
  list also has "None", a real class in real tables (a car's airbags, a clinical outcome), so it
  is left out; a kept value that looks like a marker is a warning instead.
- Numeric: every non-missing cell is a number, quoted or with thousands separators ("1,234"; in a
  `;` file, Excel's European form "1.234,5"). A text column that is mostly numbers is an error
  that names the other tokens: only the user knows whether `?` means missing.
- Dropped: data.drop, columns outside data.columns, and a leading unnamed 1..n (or 0..n-1) column,
  the row index R's write.csv and pandas' to_csv write, with a note.
- Warned before training: an ID-like column, a column that alone predicts the label.

`validate` and training call the same `read_table`, so what validate prints is what trains.
"""

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regexp.data.reading import ColumnReading, TableReading
from regexp.errors import SpecError
from regexp.spec import LoadedSpec

# pandas.read_csv's default na_values (its documentation), less "None"; R writes NA.
MISSING_MARKERS = ("", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "#N/A", "#N/A N/A", "#NA",
                   "<NA>", "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN")
LOOKS_MISSING = ("None", "none", "NONE", "?", "-", "--", ".", "missing", "Missing", "unknown", "Unknown", "na", "n.a.")
SEPARATORS = ",;\t|"
MAX_AUTO_CLASSES = 50   # integer labels with more distinct values than this are read as regression
ID_SHARE = 0.95         # a column with a distinct value in this share of its rows (and at least ID_ROWS) is ID-like
ID_ROWS = 20
ID_NAME = re.compile(r"(^|[^a-z])(id|key|no|number|index)$", re.IGNORECASE)
NUMBER_FORMS = {",": ("thousands separators (1,234.5)", re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"), ",", "."),
                ";": ("decimal commas (1.234,5)", re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d*)?$"), ".", ",")}


@dataclass
class Column:
    """A table's feature column: numeric (a missing cell is NaN when data.missing allows it), or
    categorical, coded in x as the index of its value in `values` (this file's sorted values; NaN
    for an empty cell). prepare.py turns the codes into the train part's vocabulary."""

    name: str
    kind: str                                  # numeric | categorical
    values: list[str] | None = None            # categorical: every value in this file, sorted


@dataclass(frozen=True)
class Table:
    x: np.ndarray            # (N, D) float32, read-only: numbers, or categorical codes into Column.values
    y: np.ndarray            # (N,) labels: float64 numbers or strings, read-only
    columns: list[Column]
    reading: TableReading


class _Problem(Exception):
    """A reading problem: the spec key it belongs to and the sentence; read_table adds the location."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message


def read_table(loaded: LoadedSpec, path: Path, key: str) -> Table:
    """The table of data.path (or data.val_path / data.test_path), read as data.* says; one SpecError
    lists every column that cannot be read."""
    d = loaded.spec.data
    settings = (d.target, tuple(d.categorical) if isinstance(d.categorical, list) else d.categorical, d.max_onehot,
                d.missing, tuple(d.na_values), tuple(d.columns) if d.columns is not None else None, tuple(d.drop),
                d.sep, loaded.spec.model.task)
    st = path.stat()
    try:
        return _read(str(path), st.st_size, st.st_mtime_ns, settings)
    except TableProblems as exc:
        raise SpecError([loaded.error(p.key if p.key != "path" else key, p.message).problems[0]
                         for p in exc.problems]) from None


class TableProblems(Exception):
    """The problems of one reading (read_table turns them into a SpecError with the spec's locations)."""

    def __init__(self, problems: list[_Problem]):
        self.problems = problems


@functools.lru_cache(maxsize=8)  # a pack's slices and a sweep's points share their file: read once per process
def _read(path: str, size: int, mtime: int, settings: tuple) -> Table:
    target, categorical, max_onehot, missing, na_values, wanted, drop, sep, task = settings
    file = Path(path)
    frame, sep, notes = read_frame(file, sep, categorical)
    names = [str(n) for n in frame.columns]
    target = target or names[-1]
    problems: list[_Problem] = []
    if target not in names:
        raise TableProblems([_Problem("data.target", f"{file.name} has no column {target!r} (columns: "
                                                 f"{', '.join(names)}){_one_string_hint(names, sep)}")])
    for option, listed in (("data.columns", wanted or ()), ("data.drop", drop),
                           ("data.categorical", categorical if isinstance(categorical, tuple) else ())):
        unknown = [n for n in listed if n not in names or n == target]
        if unknown:
            problems.append(_Problem(option, f"{file.name} has no feature column {', '.join(map(repr, unknown))} "
                                             f"(feature columns: {', '.join(n for n in names if n != target)})"))
    if problems:
        raise TableProblems(problems)
    markers = [*MISSING_MARKERS, *na_values]
    readings, columns, blocks, warnings, cleaned = [], [], [], [], {}
    for j, name in enumerate(names):
        cells, seen = without_markers(frame.iloc[:, j], markers)
        cleaned[name] = cells
        missing_count = sum(seen.values())
        if name == target:
            readings.append(ColumnReading(name=name, kind="target", values=int(cells.nunique()), missing=missing_count,
                                          markers=seen))
            if missing_count:
                rows = [str(i + 1) for i in np.flatnonzero(cells.isna().to_numpy())[:5]]
                problems.append(_Problem("data.target", f"{file.name}: the target column {target!r} has "
                                                        f"{missing_count} missing values (rows {', '.join(rows)}"
                                                        f"{', ...' if missing_count > 5 else ''}); drop those rows"))
            continue
        why = _dropped(j, name, cells, wanted, drop)
        if why:
            readings.append(ColumnReading(name=name, kind="dropped", why=why, values=int(cells.nunique()),
                                          missing=missing_count, markers=seen))
            if why.startswith("row index"):
                notes.append(f"{name} has no header and holds {why.removeprefix('row index ')}: a row index, "
                             "dropped (name it in data.columns to keep it)")
            continue
        try:
            column, block, reading = _feature(file, name, cells, categorical, max_onehot, missing, missing_count,
                                               seen, sep)
        except _Problem as problem:
            problems.append(problem)
            continue
        columns.append(column)
        blocks.append(block)
        readings.append(reading)
    if problems:
        raise TableProblems(problems)
    if not columns:
        raise TableProblems([_Problem("path", f"{file.name} has no feature columns besides the target {target!r}")])
    x = np.stack(blocks, axis=1).astype(np.float32) if blocks else np.empty((len(frame), 0), np.float32)
    labels = frame[target]
    y = labels.to_numpy(np.float64) if labels.dtype.kind in "biuf" else labels.astype(str).to_numpy(str)
    classes = _classes(y, task)
    for reading, values in ((r, cleaned[r.name]) for r in readings if r.kind != "dropped"):
        counts = values[values.isin(LOOKS_MISSING)].value_counts() if values.dtype == object else {}
        kept = [v for v in LOOKS_MISSING if v in counts]
        if kept:
            warnings.append(f"column {reading.name!r}: {', '.join(repr(v) for v in kept)} "
                            f"({', '.join(str(int(counts[v])) for v in kept)} cells) is read as a value; "
                            "if it marks a missing cell, add it to data.na_values")
    warnings += _suspicious(columns, x, y, classes is not None)
    reading = TableReading(file=file.name, sep=sep, rows=len(frame), columns=readings, classes=classes, notes=notes,
                           warnings=warnings)
    x.flags.writeable = False
    y.flags.writeable = False
    return Table(x, y, columns, reading)


def read_frame(file: Path, sep: str, categorical):
    """(the file as a pandas DataFrame, the separator, notes); missing markers are still text."""
    import pandas as pd

    listed = categorical if isinstance(categorical, tuple) else ()
    notes = []
    if file.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise TableProblems([_Problem("path", "reading parquet needs pyarrow: pip install 'regexp[parquet]'")]) \
                from None
        frame = pq.read_table(file).to_pandas()
        for name in listed:
            if name in frame.columns and frame[name].dtype != object:
                frame[name] = frame[name].map(category_text, na_action="ignore")
        return frame, None, notes
    if sep == "auto":
        sep = _sniff(file)
        if sep != ",":
            notes.append(f"separator {sep!r} (sniffed; set data.sep to choose)")
    try:
        # No markers here: a column with one is read as text, so that each marker can be counted (without_markers)
        frame = pd.read_csv(file, sep=sep, keep_default_na=False, dtype={n: str for n in listed}, encoding="utf-8")
    except pd.errors.ParserError as exc:  # "Error tokenizing data. C error: Expected 3 fields in line 5, saw 4"
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        what = (f"line {found[2]}: {found[3]} fields where the header has {found[1]}" if found else
                f"cannot be parsed: {str(exc).split('C error: ')[-1].strip()}")
        with file.open(encoding="utf-8", errors="replace") as f:
            header = f.readline().rstrip("\r\n")
        hint = _one_string_hint([header], sep) or "; set data.sep if that is not the file's"
        raise TableProblems([_Problem("path", f"{file.name} {what} (separator {sep!r}){hint}")]) from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TableProblems([_Problem("path", f"{file.name} cannot be read as a csv table ({exc})")]) from None
    if len(frame) == 0:
        raise TableProblems([_Problem("path", f"{file.name} needs a header row and at least one data row")])
    with file.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f, delimiter=sep))
    twice = sorted({n for n in header if header.count(n) > 1 and n})
    if twice:
        raise TableProblems([_Problem("path", f"{file.name}: column {', '.join(map(repr, twice))} appears more than "
                                              "once in the header")])
    frame.columns = [n if n else f"column {j + 1}" for j, n in enumerate(header)]  # not pandas' "Unnamed: 0"
    return frame, sep, notes


def _sniff(file: Path) -> str:
    """The separator of a csv (csv.Sniffer on its first 64 KB among , ; tab |); a comma when it cannot tell."""
    with file.open(encoding="utf-8", errors="replace", newline="") as f:
        sample = f.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def _one_string_hint(names: list[str], sep: str | None) -> str:
    if len(names) <= 2 and any(other in names[0] for other in SEPARATORS if other != sep):
        found = next(other for other in SEPARATORS if other != sep and other in names[0])
        return f"; the header looks like one {found!r}-separated string: set data.sep: {found!r}"
    return ""


def without_markers(cells, markers: list[str]):
    """(the column with each missing marker as NaN, {marker: count}); a parquet file's nulls count as `null`."""
    if cells.dtype.kind in "biuf":
        count = int(cells.isna().sum())
        return cells, ({"null": count} if count else {})
    cells = cells.astype(object)  # pandas 3 reads text as its `str` dtype, pandas 2 as object: one form here
    nulls = cells.isna()
    marked = cells.isin(markers)
    seen = {("empty" if k == "" else str(k)): int(c) for k, c in cells[marked].value_counts().items()}
    if nulls.any():
        seen["null"] = int(nulls.sum())
    return cells.where(~marked), seen


def _dropped(j: int, name: str, cells, wanted, drop) -> str | None:
    if name in drop:
        return "data.drop"
    if wanted is not None:
        return None if name in wanted else "not in data.columns"
    if j == 0 and name == "column 1" and cells.dtype.kind in "iu":
        values = cells.to_numpy()
        for start in (1, 0):
            if np.array_equal(values, np.arange(start, start + len(values))):
                return f"row index {start}..{start + len(values) - 1}"
    return None


def _feature(file: Path, name: str, cells, categorical, max_onehot: int, missing: str, missing_count: int,
             seen: dict, sep: str | None) -> tuple[Column, np.ndarray, ColumnReading]:
    """One feature column: its Column, its float block (numbers or codes) and its reading."""
    listed = isinstance(categorical, tuple) and name in categorical
    if missing_count and missing == "error":
        first = int(np.flatnonzero(cells.isna().to_numpy())[0])
        raise _Problem("path", f"{file.name} row {first + 1}, column {name!r}: a missing value (set data.missing: "
                               "mean, median or indicator to fill it inside the model, or data.drop the column; "
                               f"{missing_count} missing in the column)")
    form = None
    if not listed and cells.dtype.kind in "biuf":
        numbers = cells.to_numpy(np.float64)
    elif not listed:
        numbers, form = as_numbers(cells.astype(object), sep)
        given = cells.notna().to_numpy()
        other = given & np.isnan(numbers)
        if other.any():
            if isinstance(categorical, tuple):  # a list that leaves this column out: it must be numbers
                first = int(np.flatnonzero(other)[0])
                raise _Problem("path", f"{file.name} row {first + 1}, column {name!r}: a non-numeric value "
                                       f"{cells.iloc[first]!r} (a numeric column; list it in data.categorical, or use "
                                       "categorical: auto, to take it as categories)")
            if other.sum() < given.sum() / 2:
                tokens = cells[other].value_counts()
                shown = ", ".join(f"{t!r} ×{c}" for t, c in tokens.head(5).items())
                first = int(np.flatnonzero(other)[0])
                others = int(other.sum())
                more = ", ..." if len(tokens) > 5 else ""
                raise _Problem("path", f"{file.name} column {name!r}: {int(given.sum()) - others} numbers and "
                                       f"{others} other cell{'s' if others > 1 else ''} ({shown}{more}; "
                                       f"first in row {first + 1}): add the token to data.na_values if it marks a "
                                       "missing cell, or list the column in data.categorical to read it as categories")
            numbers = None
    else:
        numbers = None
    if numbers is not None:
        infinite = ~np.isfinite(numbers) & ~np.isnan(numbers)
        if infinite.any():
            first = int(np.flatnonzero(infinite)[0])
            raise _Problem("path", f"{file.name} row {first + 1}, column {name!r}: {numbers[first]} is not a finite "
                                   "number")
        fill = None if not missing_count else {"mean": "train mean", "median": "train median",
                                               "indicator": "train mean + was-missing column"}[missing]
        return (Column(name, "numeric"), numbers,
                ColumnReading(name=name, kind="numeric", values=int(len(np.unique(numbers[~np.isnan(numbers)]))),
                              missing=missing_count, markers=seen, fill=fill, number_form=form))
    text = cells.map(category_text, na_action="ignore")
    values = sorted(text.dropna().unique().tolist())
    index = {v: float(i) for i, v in enumerate(values)}
    codes = text.map(index).to_numpy(np.float64, na_value=np.nan)
    return (Column(name, "categorical", values), codes,
            ColumnReading(name=name, kind="categorical", why="data.categorical" if listed else "text values",
                          values=len(values), encoding="one_hot" if len(values) <= max_onehot else "embedding",
                          missing=missing_count, markers=seen,
                          fill="out of vocabulary (code 0)" if missing_count else None))


def category_text(value) -> str:
    """A category as text: an integer-valued number reads 3, not 3.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_numbers(cells, sep: str | None) -> tuple[np.ndarray, str | None]:
    """(each cell as a number, NaN where it is none; the NUMBER_FORMS form read, if any). Excel writes 1,234.5
    with `,` separators (quoted) and 1.234,5 with `;` ones (where a comma is the decimal mark)."""
    import pandas as pd

    text = cells.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    form, pattern, group, decimal = NUMBER_FORMS[";" if sep == ";" else ","]
    grouped = text.str.fullmatch(pattern).fillna(False).to_numpy(bool) & np.isnan(numbers)
    if grouped.any():
        plain = text[grouped].str.replace(group, "", regex=False).str.replace(decimal, ".", regex=False)
        numbers[grouped] = pd.to_numeric(plain, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return numbers, form if grouped.any() else None


def _classes(y: np.ndarray, task: str) -> dict[str, int] | None:
    """Each class with its count, when the labels are classes (as prepare.py's task detection reads them)."""
    values, counts = np.unique(y, return_counts=True)
    numeric = y.dtype.kind == "f"
    if task == "regression" or (numeric and (task == "auto" and (len(values) > MAX_AUTO_CLASSES
                                                                 or not np.all(np.mod(values, 1) == 0)))):
        return None
    return {category_text(v.item()): int(c) for v, c in zip(values, counts)}


def _suspicious(columns: list[Column], x: np.ndarray, y: np.ndarray, classify: bool) -> list[str]:
    """Warnings for an ID-like column (a distinct value in nearly every row: an embedding would memorize it)
    and for a column that alone predicts the label perfectly (a leak: the label's code, or a row number in a
    file sorted by label)."""
    out = []
    for j, column in enumerate(columns):
        values = x[:, j]
        given = ~np.isnan(values)
        distinct = len(np.unique(values[given]))
        if column.kind == "categorical":
            id_like = distinct >= ID_SHARE * given.sum()
        else:  # an income is a distinct integer in every row too: an ID number also counts up, or says it is one
            id_like = distinct == given.sum() and bool(np.all(np.mod(values[given], 1) == 0)) and (
                bool(np.all(np.diff(values[given]) > 0)) or ID_NAME.search(column.name) is not None)
        if classify and distinct >= 2 and _alone_predicts(values[given], y[given], column.kind == "categorical"):
            how = "each value has one label" if column.kind == "categorical" else "each class is a range of values"
            out.append(f"column {column.name!r} alone predicts the label perfectly ({how}): a leak? (a copy of the "
                       "label, or a row number in a file sorted by label; data.drop it if so)")
        elif id_like and given.sum() >= ID_ROWS:
            out.append(f"column {column.name!r} has a distinct value in {distinct} of {int(given.sum())} rows: an ID? "
                       "(data.drop it unless it means something)")
    return out


def _alone_predicts(values: np.ndarray, y: np.ndarray, categorical: bool) -> bool:
    """Each value has one label, and (for numbers) each class is one interval of the sorted values."""
    order = np.lexsort((y, values))
    v, labels = values[order], y[order]
    starts = np.r_[True, v[1:] != v[:-1]]
    groups = np.cumsum(starts) - 1
    first = labels[starts]
    if not np.all(labels == first[groups]):
        return False  # a value with two labels
    if categorical:
        return len(first) < len(v)  # some value repeats: not an ID
    runs = 1 + int(np.sum(first[1:] != first[:-1]))
    return runs == len(np.unique(labels))
