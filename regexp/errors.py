"""User-facing errors. The CLI prints them without a traceback: UserError exits with code 2,
RunFailed and SweepStopped with 1, interrupts with 130 (Ctrl-C) or 143 (SIGTERM)."""


class UserError(Exception):
    """A mistake the user can fix: a bad option, a target that names nothing. One line per problem."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SpecError(UserError):
    """One or more mistakes in a spec, a --set override or the data it names.

    Each problem reads `WHERE: dotted.key: what is wrong (got X; allowed: ...)`, where WHERE is
    `FILE:LINE` or the `--set` override that brought the value in.
    """


def problem(where: str | None, key: str, message: str) -> str:
    """Format one problem line; `key` is a dotted path ('' for the whole spec)."""
    parts = [p for p in (where, key) if p]
    return ": ".join(parts + [message])


class RunFailed(Exception):
    """Training started and then failed; the run folder keeps status `failed` and the reason."""

    def __init__(self, run_path, reason: str):
        self.run_path, self.reason = run_path, reason
        super().__init__(f"{run_path}: {reason}")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during training; the run folder says interrupted and can be resumed."""

    def __init__(self, run_path, how: str = "Ctrl-C"):
        self.run_path, self.how = run_path, how
        super().__init__(f"{run_path}: interrupted ({how})")


class SweepStopped(Exception):
    """The sweep stopped early (too many failures in a row); its parent folder can be resumed."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep: running trials are marked interrupted; the same command resumes it."""

    def __init__(self, sweep_path, how: str = "Ctrl-C"):
        self.sweep_path, self.how = sweep_path, how
        super().__init__(f"{sweep_path}: interrupted ({how})")


def failure_reason(exc: BaseException) -> str:
    """The one line that run.json and sweep.json keep for an exception (error.txt keeps the traceback)."""
    import errno

    if getattr(exc, "reason", None):
        return exc.reason
    if isinstance(exc, UserError):
        return "; ".join(exc.problems)
    if isinstance(exc, OSError):
        full = " (free some space, then resume)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        return f"cannot write {exc.filename or 'a file'}: {os_reason(exc)}{full}"
    return f"{type(exc).__name__}: {first_line(str(exc))}"


def os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def first_line(message: str, limit: int = 200) -> str:
    text = message.strip()
    line = text.split("\n", 1)[0][:limit]
    return line if line == text else line + " …"
