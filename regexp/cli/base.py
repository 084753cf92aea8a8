"""What every `regexp` command shares: the Typer app, consoles, the one error path (`command`),
option types, and loading specs. The commands themselves are in reading.py and training.py."""


import contextlib
import functools
import os
from functools import cache
from pathlib import Path
from typing import Annotated

import typer

from regexp.errors import RunFailed, SweepInterrupted, SweepStopped, UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up notes (CUDA probing)

app = typer.Typer(help="Run and compare regularization experiments on neural networks from YAML specs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def main(verbose: Annotated[bool, typer.Option(
        "--verbose", help="Also show TensorFlow's own start-up and log lines (absl, oneDNN, CUDA probing).")] = False):
    """Run and compare regularization experiments on neural networks from YAML specs."""
    from regexp.compat import quiet_tensorflow

    if verbose:
        os.environ["REGEXP_VERBOSE"] = "1"  # spawned workers read it too
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        quiet_tensorflow()


@cache
def out():
    # rich is imported on first output: `schema` and a clean `validate` never need it
    from rich.console import Console

    return Console()


@cache
def err():
    from rich.console import Console

    return Console(stderr=True)


def say(text: str, console=None) -> None:
    """User text ([0.1, 0.2], paths) printed as it is, not as rich markup."""
    from rich.markup import escape

    (console or out()).print(escape(text), highlight=False, soft_wrap=True)


def problems(lines: list[str], code: int):
    from rich.markup import escape

    for line in lines:
        err().print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def command(trains: bool = False, group: typer.Typer | None = None, name: str | None = None):
    """Register a command (on `group`, a sub-app such as `data`, else the main app) with the one error
    path; `trains`: Ctrl-C and SIGTERM ask training to stop at the next step boundary (interrupts.py)."""
    def register(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            from regexp.trial import interrupts

            try:
                if not trains:
                    interrupts.restore_defaults()
                with interrupts.handled() if trains else contextlib.nullcontext():
                    return fn(*args, **kwargs)
            except UserError as exc:
                problems(exc.problems, 2)
            except RunFailed as exc:
                run_failed(exc)
                raise typer.Exit(1)
            except SweepStopped as exc:
                problems([f"sweep stopped: {exc}"], 1)
            except SweepInterrupted as exc:
                err().print(f"[red]interrupted[/] ({exc.how}): running trials are marked interrupted; "
                            "run the same command to resume", highlight=False, soft_wrap=True)
                raise typer.Exit(interrupts.exit_code(exc.how))
            except KeyboardInterrupt as exc:
                interrupted(exc)
            except OSError as exc:  # a full disk or a folder that vanished: where, and what to do
                problems([f"cannot write {exc.filename or 'a file'}: {exc.strerror or exc}. Nothing that was "
                          "recorded is lost: free some space (or fix the folder), then run the same command "
                          "again; finished trials are kept and unfinished ones resume"], 1)
        return (group or app).command(name)(run)
    return register


def interrupted(exc: KeyboardInterrupt):
    from rich.markup import escape

    from regexp.trial import interrupts

    how = interrupts.how(exc)
    where = getattr(exc, "run_path", None)
    if where is None:
        err().print(f"[red]interrupted[/] ({how}) before anything was written", highlight=False)
    else:
        err().print(f"[red]interrupted[/] ({how}): the run folder {escape(str(where))} is marked interrupted; "
                    f"`regexp resume {escape(str(where))}` continues it", highlight=False, soft_wrap=True)
    raise typer.Exit(interrupts.exit_code(how))


def run_failed(exc: RunFailed) -> None:
    from rich.markup import escape

    err().print(f"[red]run failed:[/] {escape(exc.reason)}\n  folder: {escape(str(exc.run_path))}",
                highlight=False, soft_wrap=True)


def warn(warning) -> None:
    from rich.markup import escape

    err().print(f"[yellow]warning:[/] {escape(str(warning))}", highlight=False, soft_wrap=True)


def progress(quiet: bool):
    return None if quiet else out()


SetOption = Annotated[list[str], typer.Option(
    "--set", metavar="KEY=VALUE", help="Override a spec key, e.g. --set training.epochs=5 or "
                                       "--set model.layers.0.units=128 (the value is YAML). Repeatable.")]
SpecFiles = Annotated[list[Path], typer.Argument(help="Spec files (YAML).", show_default=False)]
RunsDir = Annotated[Path, typer.Option(help="Where run folders are read from.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display (log.txt still gets everything).")]


def load(files: list[Path], overrides: list[str], check_data: bool = False):
    from regexp.spec import load_specs

    return load_specs(files, overrides, check_data=check_data)


PackOption = Annotated[str, typer.Option(
    "--pack", help="auto: train trials of one shape together in one graph (packs), as many as fit; "
                   "off: every trial alone; N: packs of at most N.")]


def pack_setting(value: str) -> str | int:
    if value in ("auto", "off"):
        return value
    if value.isdecimal() and int(value) >= 1:
        return int(value)
    raise UserError(f"--pack {value}: not a pack size (allowed: auto | off | a number >= 1)")


