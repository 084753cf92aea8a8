"""The run store: one folder per run, the API between training and reporting (SPEC.md).

Files are written atomically (temp file in the same folder, fsync, rename) so a reader never sees
half a run.json; history rows are appended and flushed once per epoch. No TensorFlow here.
"""

import json
import os
import platform
import socket
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

import regexp

RUN_FILES = ("config.yaml", "run.json", "history.csv", "metrics.json", "model.keras", "log.txt")


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Run:
    path: Path
    info: dict[str, Any]

    @classmethod
    def create(cls, runs_dir: Path, name: str, spec_hash: str, resolved: dict, extra: dict) -> "Run":
        """Make a new run folder (never reusing one) and write config.yaml and run.json."""
        runs_dir.mkdir(parents=True, exist_ok=True)
        started = now()
        stem = f"{started:%Y%m%dT%H%M%SZ}_{name}_{spec_hash}"
        for attempt in range(1000):  # exclusive mkdir: parallel trainers never share a folder
            path = runs_dir / (stem if attempt == 0 else f"{stem}-{attempt}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"{runs_dir}: no free run folder name for {stem}")
        info = {
            "id": path.name, "name": name, "status": "running",
            "started": started.isoformat(timespec="milliseconds"), "ended": None, "duration_s": None,
            "seed": resolved["seed"], "spec_hash": spec_hash, "parent": None,
            "host": socket.gethostname(), "pid": os.getpid(),
            "versions": {"python": platform.python_version(), "regexp": regexp.__version__},
            "argv": sys.argv, **extra,
        }
        write_atomic(path / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
        run = cls(path, info)
        run.save()
        return run

    def save(self) -> None:
        write_json(self.path / "run.json", self.info)

    def update(self, **fields) -> None:
        self.info.update(fields)
        self.save()

    def finish(self, status: str, error: str | None = None) -> None:
        ended = now()
        started = datetime.fromisoformat(self.info["started"])
        self.update(status=status, ended=ended.isoformat(timespec="milliseconds"),
                    duration_s=round((ended - started).total_seconds(), 3), error=error)
