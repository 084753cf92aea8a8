"""`regexp validate`'s data check: every data setting a spec's trials will use (each search point's
data.* keys), each table read whole by the reader training uses (data/table.py), so a wrong target
column or an unreadable cell is an error before a sweep starts, not a failed trial in the middle of
one, and the reading validate prints is the one that trains. No TensorFlow here."""

import json

from regexp.data.reading import TableReading
from regexp.data.table import read_table
from regexp.errors import SpecError
from regexp.spec import LoadedSpec, load_spec
from regexp.spec.load import DATA_PATHS, existing_data_path


def check_data(loaded: LoadedSpec, overrides: list[str]) -> dict[str, TableReading]:
    """The spec's tables as read ({data key: reading}, the spec's own settings); raises one SpecError listing
    the problems of the spec's data and of every search point's."""
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
    problems, seen, readings = [], set(), {}
    for label, spec in variants:
        settings = json.dumps(spec.resolved()["data"], sort_keys=True, default=str)
        if settings in seen:
            continue
        seen.add(settings)
        try:
            read = check_columns(spec)
            readings = readings or read
        except SpecError as exc:  # a point's own location is its --set override: the label says where instead
            problems += [label + (line.split(": ", 1)[1] if label and line.startswith("--set ") else line)
                         for line in exc.problems]
    if problems:
        raise SpecError(problems)
    return readings


def check_columns(loaded: LoadedSpec) -> dict[str, TableReading]:
    """Each data file exists; each csv or parquet table is read as training will read it: {data key: its reading}
    (data.text: its text column or folder and labels are read, as training reads them; no table)."""
    readings = {}
    for name in DATA_PATHS:
        if getattr(loaded.spec.data, name) is None:
            continue
        key = f"data.{name}"
        path = existing_data_path(loaded, key)
        if loaded.spec.data.text is not None:  # one text column (or folder) and the labels, never a table of features
            from regexp.data.text import read_texts

            read_texts(loaded, path, key)
        elif path.suffix.lower() in (".csv", ".parquet"):
            readings[key] = read_table(loaded, path, key).reading
    return readings
