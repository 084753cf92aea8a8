"""The report's answer cache: `regexp report` over 10,000 runs in well under a second when nothing
changed since the last report with the same options.

The key is a fingerprint of everything a report reads, taken without parsing anything: the report
code's own files (mtime and size: an edited checkout gives new answers), the names
in the runs folder and, per folder, (mtime, size, inode) of run.json, config.yaml, metrics.json,
history.csv and sweep.json. Run files are replaced atomically (a new inode) or appended (a new
size), so a run that changes status, a deleted or copied-in folder and a run being written all
change the key. The one input that is not a file, whether a `running` run's process is still
alive (report shows `crashed` otherwise), is checked again on every hit for the runs that were
running. The cache lives outside the runs folder, which report never writes to: one file per runs
folder in $REGEXP_CACHE_DIR (default $XDG_CACHE_HOME/regexp, else ~/.cache/regexp), at most KEEP
answers each; when it cannot be written the report is simply computed. Written by hand: no
library caches on file fingerprints.
"""

import hashlib
import json
import os
from pathlib import Path

from regexp.report.options import ReportOptions
from regexp.store.files import cache_root, process_alive, write_atomic
from regexp.store.scan import Scan

KEEP = 8


def key(scanned: Scan | None, options: ReportOptions, rendering: dict) -> str | None:
    """The cache key of a report over a whole runs folder (its store.scan.scan) asked `options` and
    laid out as `rendering` says (format, smoothing, terminal, version); None when uncacheable."""
    if scanned is None:
        return None
    digest = hashlib.sha256(json.dumps({**options.to_json(), **rendering}, sort_keys=True, default=str).encode())
    digest.update(code_stamp().encode())
    for folder, files in scanned.items():
        digest.update(folder.encode())
        for name, identity in files.items():
            digest.update(f"{name}:{identity[0]}:{identity[1]}:{identity[2]};".encode() if identity
                          else f"{name}:-;".encode())
    return digest.hexdigest()


def code_stamp() -> str:
    """The report code's files (mtime, size): an edited checkout (an editable install) never
    reuses answers its old code gave, whatever __version__ says."""
    package = Path(__file__).resolve().parent.parent
    stamps = []
    for folder in (package / "report", package / "views", package / "store"):
        with os.scandir(folder) as entries:
            stamps += [f"{e.name}:{e.stat().st_mtime_ns}:{e.stat().st_size}" for e in entries if e.name.endswith(".py")]
    return ";".join(sorted(stamps))


def lookup(runs_dir: Path, cache_key: str) -> dict | None:
    """{"text", "warnings"} of an earlier identical report, if every run that was running still is."""
    entry = _read(runs_dir).get(cache_key)
    if entry is None or not all(process_alive(pid, host) for pid, host in entry.get("running", [])):
        return None
    return entry


def store(runs_dir: Path, cache_key: str, text: str, warnings: list[str], running: list[tuple]) -> None:
    entries = _read(runs_dir)
    entries.pop(cache_key, None)
    entries[cache_key] = {"text": text, "warnings": warnings, "running": running}
    try:
        file = cache_file(runs_dir)
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, json.dumps(dict(list(entries.items())[-KEEP:])))
    except OSError:
        pass  # nowhere to write: no cache, the same answers


def cache_file(runs_dir: Path, kind: str = "report") -> Path:
    """The cache folder's file of `kind` (report: the answers, index: report/index.py) for a runs folder."""
    folder = hashlib.sha256(str(runs_dir.resolve()).encode()).hexdigest()[:16]
    return cache_root() / f"{kind}-{folder}.json"


def _read(runs_dir: Path) -> dict:
    try:
        data = json.loads(cache_file(runs_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
