"""Ctrl-C and SIGTERM while training: the first asks training to stop at the next step boundary,
the second stops at once.

The first signal only sets a flag. The trial alone checks it after every call into TensorFlow
(a Keras callback), a pack after every epoch, and the sweep runner between tasks; each then
writes its resume point and ends its run folders `interrupted` (exit 130 for Ctrl-C, 143 for
SIGTERM). A KeyboardInterrupt raised from the signal handler at an arbitrary moment (Python's
default) could land inside TensorFlow's start-up or in the middle of writing a run folder; the
flag keeps that to the second signal, for a user who does not want to wait. No TensorFlow here.
"""

import signal
from contextlib import contextmanager

NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
_requested: list[str] = []  # the signals received, by name; empty: keep going


def install(numbers: tuple = tuple(NAMES)) -> None:
    """Route these signals through the flag (main thread only, as Python requires); a stop already
    asked for (during start-up) stays asked for."""
    for number in numbers:
        signal.signal(number, _handle)


def restore_defaults() -> None:
    """For the commands that only read: Ctrl-C interrupts at once, as everywhere else; one that came
    during start-up is honoured now."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    check()


@contextmanager
def handled(numbers: tuple = tuple(NAMES)):
    """install() for the length of a command, then the handlers that were there before."""
    previous = {number: signal.getsignal(number) for number in numbers}
    install(numbers)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _requested.clear()


def _handle(number, frame) -> None:
    _requested.append(NAMES[number])
    if len(_requested) > 1:  # the second one: stop now
        raise KeyboardInterrupt(_requested[0])


def requested() -> str | None:
    """"Ctrl-C" or "SIGTERM" once a stop was asked for, else None."""
    return _requested[0] if _requested else None


def check() -> None:
    """Raise KeyboardInterrupt(how) at a safe point when a stop was asked for."""
    if _requested:
        raise KeyboardInterrupt(_requested[0])


def how(exc: BaseException) -> str:
    """How an interrupt came: its first argument when a handler named it ("SIGTERM"), else Ctrl-C."""
    name = getattr(exc, "how", None) or (exc.args[0] if exc.args and isinstance(exc.args[0], str) else None)
    return name if name in NAMES.values() else "Ctrl-C"


def exit_code(name: str) -> int:
    return 143 if name == "SIGTERM" else 130
