"""The `regexp` command: commands.py holds the commands, base.py what they share."""

from regexp.cli.commands import app

__all__ = ["app"]
