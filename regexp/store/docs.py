"""docs/run-folder.md, generated from the run-folder models in contract.py (`make docs`; a test
checks that the committed page is current)."""

from enum import StrEnum
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from regexp.store.contract import (HISTORY_COLUMNS, LAYER_STATS_COLUMNS, RUN_FILES, STEPS_COLUMNS, Best, ResumeState,
                              RunInfo, RunMetrics, Status, SweepState, TrialEntry)


def markdown() -> str:
    """docs/run-folder.md: every file of the contract and every key, from the models above."""
    lines = ["# The run folder", "",
             "Generated from `regexp/store/contract.py` by `make docs` (regexp/store/docs.py); a test checks that it is current.",
             "SPEC.md names the files; this page says what each key holds. Readers accept older folders:",
             "a missing key reads as its default and a key with a wrong value is ignored with a warning.", "",
             "```", "runs/<UTC time>_<name>_<short hash>/", *(f"  {name}" for name in RUN_FILES),
             "  error.txt        (failed runs: the traceback)",
             "  checkpoint/      (interrupted runs: the resume point; removed on completion)",
             "  layer_stats.csv  (logging.layer_stats)", "  steps.csv        (logging.per_step)",
             "runs/<UTC time>_<name>_<short hash>_sweep/", "  sweep.json", "  spec.yaml        (the spec the trials run from)", "```", "",
             "Statuses: " + ", ".join(f"`{s}`" for s in Status) + ". `crashed` and `incomplete` are never written: "
             "a reader concludes them (a running run whose process is gone; no readable run.json).", ""]
    for title, model in (("run.json", RunInfo), ("metrics.json", RunMetrics), ("checkpoint/state.json", ResumeState),
                         ("sweep.json", SweepState),
                         ("sweep.json: each of `trials`", TrialEntry), ("sweep.json: `best`", Best)):
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
        lines += ["", f"## {name}", "", f"Only with `logging.{key}: true`: {what}.", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{column}` | {_cell(meaning)} |" for column, meaning in columns.items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a literal bar inside a Markdown table cell


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n")[0]


def _type_name(annotation: Any) -> str:
    """int, str or null, list of Resumed, one of min | max: the type as a reader of the docs says it."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
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


if __name__ == "__main__":
    print(markdown(), end="")
