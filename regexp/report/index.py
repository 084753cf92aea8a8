"""The report's record index: what the report derives from each finished run (report/facts.py),
kept between reports so that a report after new runs reads only those.

One JSON file per runs folder beside the answer cache (report/cache.py's folder, never the runs
folder). Per run folder it holds the identity (mtime, size, inode) of run.json, config.yaml,
metrics.json and history.csv as the scan saw them, the run's status, start, seed, name and reading
warnings, and its Facts: a few hundred bytes, where the run's files are about 4 KB and their
parsed objects cost the same whether they come from the files or from an index (an index of whole
records was measured and not kept: bench/README.md). A folder whose files kept their identities
is taken from the index as an IndexedRun; the others are read as before. Only completed and
pruned runs are indexed: a running run's status depends on its process, and an unfinished run's
values come from its history. The index is discarded whenever the report's code changes, and
rewritten only when something in it changed. When thousands of folders are not in it (a first
report over a big runs folder), forked processes, one per core, read shares of them and send back
only their entries. Written by hand: no library keeps derived values keyed on file identities.
"""

import contextlib
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import orjson

from regexp.report.cache import cache_file, code_stamp
from regexp.report.facts import Facts, facts
from regexp.store.contract import Status
from regexp.store.files import write_atomic
from regexp.store.folders import RunRecord, read_info, read_metrics, read_run
from regexp.store.scan import Scan, is_run_folder

INDEXED = (Status.COMPLETED, Status.PRUNED)  # finished for good: their files no longer change
STATUSES = {status.value: status for status in INDEXED}  # a dict lookup: Status(text) is a fifth of the load
KEYED = ("run.json", "config.yaml", "metrics.json", "history.csv")  # what the Facts and IndexedRun are read from


class IndexedRun(RunRecord):
    """A finished run as the index holds it. What the report groups and compares by is here; its
    info, config and metrics are read from the run folder the first time something asks for them
    (the params that differ, --filter on a config key, the html page's curves)."""

    def __init__(self, folder: str, run_id: str, status: Status, started: str, seed: int | str, name: str,
                 warnings: list[str], known: Facts):
        self._folder, self._id, self.warnings, self.facts, self._history = folder, run_id, warnings, known, None
        self._status, self._started, self._seed, self._name = status, started, seed, name

    def __getattr__(self, attribute: str) -> Any:  # only for what __init__ did not set
        # the files are those the index was made from (same identities): their warnings are already in self.warnings
        if attribute in ("info", "config"):  # the params that differ need each row's first config: run.json only
            self.info, self.config = read_info(self.path, [])
        elif attribute == "metrics":
            self.metrics = read_metrics(self.path, True, [])
        else:
            raise AttributeError(attribute)
        return getattr(self, attribute)

    path = property(lambda self: Path(self._folder))  # made when used: 10,000 Paths are a third of the index's load
    id = property(lambda self: self._id)
    name = property(lambda self: self._name)
    started = property(lambda self: self._started)
    seed = property(lambda self: self._seed)
    status = property(lambda self: self._status)


def read_runs(runs_dir: Path, scanned: Scan) -> list[RunRecord]:
    """The run folders of a scan of runs_dir, in its order: from the index where their files are
    unchanged, read (and indexed, when finished) otherwise."""
    stamp = code_stamp()
    stored = _load(runs_dir)
    before = stored.get("runs", {}) if stored.get("stamp") == stamp else {}
    folders = []  # (folder, name, identity) of every run folder, in the scan's order
    for folder, files in scanned.items():
        if is_run_folder(files):
            identity = ";".join(f"{f[0]}:{f[1]}:{f[2]}" if (f := files[file]) else "-" for file in KEYED)
            folders.append((folder, os.path.basename(folder), identity))
    known = {**before, **_read_in_parallel([(f, i) for f, name, i in folders if not _current(before.get(name), i)])}
    kept: dict[str, list] = {}
    runs: list[RunRecord] = []
    for folder, name, identity in folders:
        entry = known.get(name)
        run = _revive(folder, name, entry[1]) if _current(entry, identity) else None
        if run is not None:
            runs.append(run)
            kept[name] = entry
            continue
        run = read_run(Path(folder))  # new, changed, or not indexed (a failed run: a forked read sent nothing back)
        runs.append(run)
        if (fields := _fields(run)) is not None:
            kept[name] = [identity, fields]
    if kept.keys() != before.keys() or any(kept[name] is not before[name] for name in kept):
        _store(runs_dir, {"stamp": stamp, "runs": kept})
    return runs


def _current(entry: Any, identity: str) -> bool:
    """An index entry made from files with these identities."""
    return isinstance(entry, list) and len(entry) == 2 and entry[0] == identity


def _fields(run: RunRecord) -> list | None:
    """What the index keeps of a run; None for a run it does not index."""
    if run.info.status not in INDEXED or run.metrics is None:
        return None
    return [str(run.status), run.started, run.seed, run.name, run.warnings, facts(run).to_json()]


PARALLEL_AT = 2000  # folders to read before a second process pays: forking and sending back cost ~0.1 s


def _read_in_parallel(folders: list[tuple[str, str]]) -> dict[str, list]:
    """Index entries of many unindexed (folder, identity)s, read by this process and forked ones
    (one per core): a cold report over 10,000 runs reads 20,000 files, half the report's time. Only
    the entries (a few hundred bytes a run) come back; {} when reading here alone is the better deal
    (few folders, one core, no fork, or threads, which a fork could leave holding a lock)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if (len(folders) < PARALLEL_AT or cores < 2 or threading.active_count() > 1
            or "fork" not in multiprocessing.get_all_start_methods()):
        return {}
    shares = [folders[i::cores] for i in range(cores)]
    sys.stdout.flush()  # a forked process flushes its copy of these buffers when it ends
    sys.stderr.flush()
    with ProcessPoolExecutor(cores - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_entries, share) for share in shares[1:]]
        entries = _entries(shares[0])
        for future in futures:
            with contextlib.suppress(BrokenProcessPool):  # a process died (out of memory): read_runs reads its share
                entries.update(future.result())
    return entries


def _entries(folders: list[tuple[str, str]]) -> dict[str, list]:
    out = {}
    for folder, identity in folders:
        if (fields := _fields(read_run(Path(folder)))) is not None:
            out[os.path.basename(folder)] = [identity, fields]
    return out


def _revive(folder: str, run_id: str, fields: Any) -> IndexedRun | None:
    """The IndexedRun of an index entry; None when the entry is damaged (then the folder is read)."""
    try:
        status, started, seed, name, warnings, derived = fields
        return IndexedRun(folder, run_id, STATUSES[status], started, seed, name, warnings, Facts(*derived))
    except (TypeError, ValueError, KeyError):
        return None


def index_file(runs_dir: Path) -> Path:
    return cache_file(runs_dir, "index")


def _load(runs_dir: Path) -> dict:
    try:
        data = orjson.loads(index_file(runs_dir).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("runs"), dict) else {}


def _store(runs_dir: Path, data: dict) -> None:
    try:
        file = index_file(runs_dir)
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, orjson.dumps(data).decode(), durable=False)  # a cache, recomputed when damaged: no fsync
    except OSError:
        pass  # nowhere to write: the next report reads the run folders again, with the same answers
