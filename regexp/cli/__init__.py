"""The `regexp` command: base.py holds what every command shares (the app, the one error path,
option types); training.py and reading.py hold the commands. Importing them registers them, in
this order, which is the order `regexp --help` lists them in."""

from regexp.cli.base import app

from regexp.cli import training  # noqa: F401  # isort: skip
from regexp.cli import reading  # noqa: F401  # isort: skip

__all__ = ["app"]
