"""`regexp validate`'s data check: every data setting a spec's trials will use (each search point's
data.* keys), read as far as the header and the first row of each table, so a wrong target column
or a text feature is an error before a sweep starts, not a failed trial in the middle of one.
Loading the samples themselves (sources.py) still checks every row. No TensorFlow here."""

import csv
import json
from pathlib import Path

from regexp.data.sources import not_a_number, target_and_features
from regexp.errors import SpecError
from regexp.spec import LoadedSpec, load_spec
from regexp.spec.load import DATA_PATHS, existing_data_path


def check_data(loaded: LoadedSpec, overrides: list[str]) -> None:
    """Raise one SpecError listing the problems of the spec's data and of every search point's."""
    from regexp.sweep.trials import plan_round

    variants: list[tuple[str, LoadedSpec]] = [("", loaded)]
    if loaded.spec.search is not None:
        for trial in {t.point: t for t in plan_round(loaded, overrides)}.values():
            data_keys = [path for path, _ in trial.point if path.startswith("data.")]
            if data_keys:  # its problems point at the search.params line that gives the value
                where = loaded.locations.get(("search", "params", data_keys[0])) or loaded.where("search.params")
                label = ", ".join(f"{p}={v}" for p, v in trial.point)
                variants.append((f"{where}: search point {label}: ",
                                 load_spec(loaded.file, [*overrides, *trial.overrides])))
    problems, seen = [], set()
    for label, spec in variants:
        settings = json.dumps(spec.resolved()["data"], sort_keys=True, default=str)
        if settings in seen:
            continue
        seen.add(settings)
        try:
            check_columns(spec)
        except SpecError as exc:  # a point's own location is its --set override: the label says where instead
            problems += [label + (line.split(": ", 1)[1] if label and line.startswith("--set ") else line)
                         for line in exc.problems]
    if problems:
        raise SpecError(problems)


def check_columns(loaded: LoadedSpec) -> None:
    """Each data file exists; a csv's or parquet's target and feature columns are there and numeric."""
    data = loaded.spec.data
    for name in DATA_PATHS:
        if getattr(data, name) is None:
            continue
        key = f"data.{name}"
        path = existing_data_path(loaded, key)
        if path.suffix.lower() == ".csv":
            _check_csv(loaded, path, key)
        elif path.suffix.lower() == ".parquet":
            _check_parquet(loaded, path, key)


def _check_csv(loaded: LoadedSpec, path: Path, key: str) -> None:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header, first = next(reader, None), next(reader, None)
    if not header or first is None:
        raise loaded.error(key, f"{path.name} needs a header row and at least one data row")
    _, features = target_and_features(loaded, path, header, key)
    row = dict(zip(header, first))
    for name in features:
        cell = row.get(name, "")
        if cell == "" and loaded.spec.data.missing != "error":
            continue
        try:
            float(cell)
        except ValueError:
            if not _categorical(loaded, name):
                raise not_a_number(loaded, path, key, 0, name, row.get(name)) from None


def _categorical(loaded: LoadedSpec, name: str) -> bool:
    """data.categorical takes this column as categories (auto: any column with a non-number in it)."""
    wanted = loaded.spec.data.categorical
    return wanted == "auto" or name in wanted


def _check_parquet(loaded: LoadedSpec, path: Path, key: str) -> None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise loaded.error(key, "reading parquet needs pyarrow: pip install 'regexp[parquet]'") from None
    schema = pq.read_schema(path)
    _, features = target_and_features(loaded, path, list(schema.names), key)
    for name in features:
        kind = schema.field(name).type
        if not (str(kind).startswith(("int", "uint", "float", "double", "bool", "halffloat"))) \
                and not _categorical(loaded, name):
            raise loaded.error(key, f"{path.name} column {name!r} holds {kind} values (a numeric column; list it in "
                                    "data.categorical, or use categorical: auto, to take it as categories)")
