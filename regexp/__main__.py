"""`regexp` and `python -m regexp`. Ctrl-C and SIGTERM are routed through trial/interrupts.py
before typer, rich or TensorFlow load, so a signal in the first second of a command is a request
to stop that the command honours, not a kill that leaves a run folder half-made."""

import os
import sys


def main() -> None:
    from regexp.trial import interrupts

    interrupts.install()
    from regexp.cli import app

    try:
        app(prog_name="regexp")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # Every file the command wrote is closed by now. Python's finalization would put the default
    # signal handlers back and then spend a second or more tearing TensorFlow down, so a signal in
    # that window killed a command that had finished (exit -15 after "completed"): exit directly.
    os._exit(code)


if __name__ == "__main__":
    main()
