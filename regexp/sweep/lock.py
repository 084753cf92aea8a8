"""One process at a time runs a sweep: a lock file per sweep identity (name and spec hash).

Two invocations of the same sweep (two terminals, a retried batch job) would otherwise both find
or create the sweep folder and run every trial, and report would count the copies as replicates.
The lock `<runs dir>/.<name>_<hash>_sweep.lock` is created with O_CREAT | O_EXCL, which is atomic
on local filesystems and on NFS v3 and later, and holds {pid, host, since}. A second invocation
refuses (exit 2) and names the holder. A holder is stale when it is on this host and its process
is gone, or, on another host, when it has not touched the lock for STALE_S seconds (the holder
touches it every HEARTBEAT_S seconds from a thread; hosts' clocks must agree within STALE_S). A
stale lock is removed only under a second O_EXCL file, so of several processes taking it over, one wins.
The lock file lives beside the run folders; `find_runs` skips dot files.
"""

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from regexp.errors import UserError

HEARTBEAT_S = 10.0
STALE_S = 60.0


class SweepLock:
    def __init__(self, runs_dir: Path, name: str, spec_hash: str):
        self.path = runs_dir / f".{name}_{spec_hash}_sweep.lock"
        self.label = f"sweep {name} (spec hash {spec_hash}) in {runs_dir}"
        self.token = uuid.uuid4().hex  # ours: release never removes a lock someone else took over
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "SweepLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):  # create; or take over a stale lock and create again
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read(self.path) or {}  # unreadable: being written this instant, or damaged (judged by age)
                if not stale(holder, self.path):
                    who = (f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}" if holder
                           else "another process")
                    raise UserError(f"{self.label} is already running: {who} (lock {self.path.name}). "
                                    "Wait for it, or stop it: its unfinished trials resume when you run the command "
                                    "again")
                self._take_over(holder)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "token": self.token}, f)
            self._thread = threading.Thread(target=self._beat, daemon=True, name="sweep-lock-heartbeat")
            self._thread.start()
            return
        raise UserError(f"{self.label}: another process keeps taking this sweep's lock; try again")

    def _take_over(self, seen: dict) -> None:
        """Remove a stale lock, holding a second O_EXCL file so that only one taker removes anything:
        a rename-aside scheme lets a slow taker move away (or put back over) a fresh lock."""
        mutex = self.path.with_name(self.path.name + ".takeover")
        try:
            os.close(os.open(mutex, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            if stale({}, mutex):  # a taker died mid-takeover (a window of microseconds)
                mutex.unlink(missing_ok=True)
            time.sleep(0.01)
            return
        try:
            if (_read(self.path) or {}) == seen:  # still the stale lock we judged: nobody else can remove it now
                self.path.unlink(missing_ok=True)
        finally:
            mutex.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        holder = _read(self.path)
        if holder is not None and holder.get("token") == self.token:
            self.path.unlink(missing_ok=True)


def stale(holder: dict, path: Path) -> bool:
    """The holder's process is gone (same host), or it stopped touching the lock (another host)."""
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    try:
        return time.time() - path.stat().st_mtime > STALE_S
    except FileNotFoundError:
        return True


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # being written this instant, or damaged: a damaged lock is judged by its age
    return data if isinstance(data, dict) else None
