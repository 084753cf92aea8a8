"""The reference pages, generated from the models that validate and write them (`make docs`; a
test checks that the committed pages are current): docs/spec.md from the spec models
(spec/schema.py, spec/training.py) and docs/run-folder.md from the run-folder contract
(store/contract.py, store/sweep_file.py). No TensorFlow here."""

import sys
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from regexp.data.reading import ColumnReading, TableReading
from regexp.spec.schema import Spec
from regexp.store.contract import (
    HISTORY_COLUMNS,
    LAYER_STATS_COLUMNS,
    RUN_FILES,
    RUN_STATUSES,
    STEPS_COLUMNS,
    Provenance,
    ResumeState,
    RunInfo,
    RunMetrics,
)
from regexp.store.sweep_file import (
    ArmDecision,
    Best,
    Decision,
    Look,
    Race,
    RaceLook,
    RaceStanding,
    SweepState,
    TrialEntry,
)


def spec_page() -> str:
    """docs/spec.md: every key of a spec with its type, default, allowed range and meaning."""
    lines = ["# The spec", "",
             "Generated from the spec models (`regexp/spec/schema.py`, `regexp/spec/training.py`) by `make docs`;",
             "a test checks that it is current. `regexp schema` prints the same models as JSON Schema.",
             "Unknown keys are errors; a key left out takes its default. Sections that hold one of several",
             "shapes (a layer, an initializer, a schedule, a distribution) list each shape.", ""]
    seen: set[type] = set()
    pending: list[tuple[str, type[BaseModel]]] = [("", Spec)]
    while pending:
        path, model = pending.pop(0)
        if model in seen:
            continue
        seen.add(model)
        lines += [f"## {path or 'top level'}", "", *([_first_line(model.__doc__), ""] if _own_doc(model) else []),
                  "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for key, field in model.model_fields.items():
            lines.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {_bounds(field)} | "
                         f"{_cell(field.description or '')} |")
            pending += [_section(path, key, sub, field.annotation) for sub in _models_in(field.annotation)]
        lines.append("")
    return "\n".join(lines) + "\n"


def _section(path: str, key: str, sub: type[BaseModel], annotation) -> tuple[str, type[BaseModel]]:
    name = f"{path}.{key}" if path else key
    if get_origin(annotation) is list or any(get_origin(a) is list for a in get_args(annotation)):
        name += "[]"
    shapes = _models_in(annotation)
    return (f"{name} ({sub.__name__})" if len(shapes) > 1 else name), sub


def _models_in(annotation) -> list[type[BaseModel]]:
    """The spec sections an annotation holds (a section, a list of layers, a model or a string)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in get_args(annotation) for m in _models_in(a)]


def _own_doc(model: type[BaseModel]) -> bool:
    return bool(model.__doc__) and all(model.__doc__ != base.__doc__ for base in model.__mro__[1:])


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(section)"
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            value = [v.model_dump(exclude_none=True) for v in value]
        return f"`{value!r}`"
    if field.default is PydanticUndefined:
        return "required"
    return "null" if field.default is None else f"`{field.default!r}`"


def _bounds(field) -> str:
    return _cell(_constraints(field.metadata))


def _constraints(metadata) -> str:
    """ge/gt/le/lt, lengths and patterns of annotated constraints, as `>= 0, < 1`."""
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "length >=", "max_length": "length <=",
             "pattern": "matches"}
    parts = []
    for item in metadata:
        for inner in getattr(item, "metadata", [item]):  # a FieldInfo inside Annotated carries its own
            for name, sign in signs.items():
                value = getattr(inner, name, None)
                if value is not None:  # 0, not 0.0: pydantic may hand a float field's bound back as a float
                    value = int(value) if isinstance(value, float) and value.is_integer() else value
                    parts.append(f"{sign} {value}")
    return ", ".join(dict.fromkeys(parts))


def run_folder_page() -> str:
    """docs/run-folder.md: every file of the contract and every key, from its models."""
    lines = ["# The run folder", "",
             "Generated from `regexp/store/contract.py` and `sweep_file.py` by `make docs`",
             "(regexp/views/reference.py); a test checks that it is current.",
             "The run folder is the API between training and reporting; this page says what each key holds. Readers "
             "accept older folders:",
             "a missing key reads as its default and a key with a wrong value is ignored with a warning.", "",
             "```", "runs/<UTC time>_<name>_<short hash>/", *(f"  {name}" for name in RUN_FILES),
             "  error.txt        (failed runs: the traceback)",
             "  checkpoint/      (interrupted runs: the resume point; removed on completion)",
             "  layer_stats.csv  (logging.layer_stats)", "  steps.csv        (logging.per_step)",
             "  vocabulary.txt   (data.text: the train part's vocabulary, one word a line, line k token id k + 2;",
             "                    0 pads, 1 is out of vocabulary: TextVectorization(vocabulary=...) reads it)",
             "runs/<UTC time>_<name>_<short hash>_sweep/", "  sweep.json", "  spec.yaml        (the spec the trials "
                                                                           "run from)",
             "  halving.json     (search.halving: each rung's reports {trial: [point, value]} and decisions per point)",
             "```", "",
             "Statuses: " + ", ".join(f"`{s}`" for s in RUN_STATUSES) + ". `crashed` and `incomplete` are never "
             "written: a reader concludes them (a running run whose process is gone; no readable run.json). `pruned`: "
             "stopped at a rung by its sweep's search.halving (run.json `error` says where and why); the folder "
             "holds what it trained (history, metrics, model.keras), report shows it and never counts it as a "
             "completed replicate, and neither a sweep nor `regexp resume` continues it.", ""]
    for title, model in (("run.json", RunInfo), ("run.json: `provenance`", Provenance),
                         ("run.json: `table`", TableReading), ("run.json: each of `table.columns`", ColumnReading),
                         ("metrics.json", RunMetrics), ("checkpoint/state.json", ResumeState),
                         ("sweep.json", SweepState), ("sweep.json: each of `trials`", TrialEntry),
                         ("sweep.json: `best`", Best), ("sweep.json: `decide`", Decision),
                         ("sweep.json: `decide.looks`", Look), ("sweep.json: each arm of a look and of `decide.arms`",
                                                                ArmDecision),
                         ("sweep.json: `confirm`", Race), ("sweep.json: `confirm.looks`", RaceLook),
                         ("sweep.json: each point of a look and of `confirm.standings`", RaceStanding)):
        lines += [f"## {title}", "", _first_line(model.__doc__), "", "| key | type | meaning |", "|---|---|---|"]
        fields = {**model.model_fields, **model.model_computed_fields}
        for key, field in fields.items():
            annotation = getattr(field, "annotation", None) or getattr(field, "return_type", None)
            lines.append(f"| `{key}` | {_type_name(annotation)} | {_cell(field.description)} |")
        lines.append("")
    lines += ["## history.csv", "", "One row per epoch, appended and flushed as the epoch ends; a resumed run keeps "
              "its rows up to the resume point. Columns, in order:", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{column}` | {_cell(meaning)} |" for column, meaning in HISTORY_COLUMNS.items()]
    for name, key, columns, what in (
            ("layer_stats.csv", "layer_stats", LAYER_STATS_COLUMNS, "one row per epoch and weighted layer, measured on "
             "the first 256 train samples in inference mode (recording never changes the training)"),
            ("steps.csv", "per_step", STEPS_COLUMNS, "one row per optimizer step, written at each epoch's end")):
        lines += ["", f"## {name}", "", f"Only with `logging.{key}: true`: {what}.", "", "| column | meaning |",
                  "|---|---|"]
        lines += [f"| `{column}` | {_cell(meaning)} |" for column, meaning in columns.items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a literal bar inside a Markdown table cell


def _first_line(doc: str | None) -> str:
    """A model's docstring up to its first blank line, as one line: a description that wraps onto a
    second docstring line is not cut mid-sentence."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _type_name(annotation: Any) -> str:
    """int, str or null, list of Resumed, one of min | max: the type as a reader of the docs says it."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:  # a constrained type inside a union or list: int (>= 1)
        inner = _type_name(args[0])
        bounds = _constraints(args[1:])
        return f"{inner} ({bounds})" if bounds and not _models_in(args[0]) else inner
    if origin in (Union, UnionType):
        if len(_models_in(annotation)) > 1:  # a layer, an initializer, a schedule: each has a section below
            return " or ".join(m.__name__ for m in _models_in(annotation)) + (" or null" if type(None) in args else "")
        named = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + _cell(" | ".join(map(str, args)))
    if origin in (list, dict):
        return f"{origin.__name__} of " + " to ".join(_type_name(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "string"  # the description lists the values
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"object ({', '.join(annotation.model_fields)})"
    return getattr(annotation, "__name__", str(annotation))


PAGES = {"spec": spec_page, "run-folder": run_folder_page}

if __name__ == "__main__":  # python -m regexp.views.reference spec|run-folder > docs/<page>.md
    print(PAGES[sys.argv[1]](), end="")
