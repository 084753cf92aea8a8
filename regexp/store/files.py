"""Files every writer shares, and what the report's answer cache needs before anything else:
atomic writes, the cache folder, whether a run's process lives. Nothing here imports pydantic, so a
report answered from the cache loads none of the run-folder models."""

import os
import socket
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write `text` to a temp file beside `path`, fsync, rename; an OSError names `path` itself.
    `durable=False` skips the fsync: for caches, which a reader that finds them damaged recomputes."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_root() -> Path:
    """Where regexp keeps what it can recompute (report answers, data fingerprints): $REGEXP_CACHE_DIR,
    else $XDG_CACHE_HOME/regexp, else ~/.cache/regexp. Never inside a runs folder."""
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("REGEXP_CACHE_DIR") or user_cache / "regexp")


def process_alive(pid: int | None, host: str | None) -> bool:
    """A running run's process still exists (only checkable on the host that started it)."""
    if host != socket.gethostname() or pid is None:
        return True  # another machine's run: trust what it says
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
