"""The `regexp` command. Thin commands: each parses its options and calls one library function.

TensorFlow is imported only inside `train`, so `--help`, `validate` and `schema` start fast.
User mistakes exit with code 2 and no traceback; a run that fails after it started exits with 1.
"""

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from regexp.errors import RunFailed, SpecError

app = typer.Typer(help="Run and compare regularization experiments on neural networks from YAML specs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)

SetOption = Annotated[list[str], typer.Option(
    "--set", metavar="KEY=VALUE", help="Override a spec key, e.g. --set training.epochs=5 or "
                                       "--set model.layers.0.units=128 (the value is YAML). Repeatable.")]
SpecFiles = Annotated[list[Path], typer.Argument(help="Spec files (YAML).", show_default=False)]


def _fail(problems: list[str], code: int = 2):
    for line in problems:
        err_console.print(f"[red]error:[/] {line}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load_all(files: list[Path], overrides: list[str]):
    from regexp.spec import load_spec

    loaded, problems = [], []
    for file in files:
        try:
            loaded.append(load_spec(file, overrides))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        _fail(problems)
    return loaded


@app.command()
def train(
    specs: SpecFiles,
    overrides: SetOption = [],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display (log.txt still gets everything).")] = False,
):
    """Train each spec in turn; every run writes a folder under --runs-dir."""
    loaded = _load_all(specs, overrides)  # every spec is checked before the first one trains
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up notes (CUDA probing)
    from regexp.train import train as train_one

    failed = 0
    for spec in loaded:
        try:
            path = train_one(spec, runs_dir, console=None if quiet else console)
        except SpecError as exc:
            _fail(exc.problems)
        except RunFailed as exc:
            err_console.print(f"[red]run failed:[/] {exc.reason}\n  folder: {exc.run_path}", highlight=False)
            failed += 1
            continue
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/]: the run folder is marked interrupted")
            raise typer.Exit(130)
        console.print(f"run folder: {path}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def validate(specs: SpecFiles, overrides: SetOption = []):
    """Check specs (keys, values, data paths) without training."""
    from regexp.spec.load import resolve_data_path

    problems = []
    for spec in _load_all(specs, overrides):
        for warning in spec.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
        if spec.spec.data.path is not None and not resolve_data_path(spec).exists():
            problems.append(spec.error("data.path", f"{resolve_data_path(spec)} does not exist").problems[0])
            continue
        console.print(f"{spec.file}: ok", highlight=False)
    if problems:
        _fail(problems)


@app.command()
def schema():
    """Print the JSON Schema of a spec (for editors: YAML language server)."""
    from regexp.spec.schema import Spec

    print(json.dumps(Spec.model_json_schema(), indent=2))
