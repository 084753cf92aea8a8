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
rewritten only when something in it changed. Written by hand: no library keeps derived values
keyed on file identities.
"""

import os
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
    known = stored.get("runs", {}) if stored.get("stamp") == stamp else {}
    kept: dict[str, list] = {}
    runs: list[RunRecord] = []
    for folder, files in scanned.items():
        if not is_run_folder(files):
            continue
        name = os.path.basename(folder)
        identity = ";".join(f"{f[0]}:{f[1]}:{f[2]}" if (f := files[file]) else "-" for file in KEYED)
        entry = known.get(name)
        unchanged = isinstance(entry, list) and len(entry) == 2 and entry[0] == identity
        run = _revive(folder, name, entry[1]) if unchanged else None
        if run is not None:
            runs.append(run)
            kept[name] = entry
            continue
        run = read_run(Path(folder))
        runs.append(run)
        if run.info.status in INDEXED and run.metrics is not None:
            kept[name] = [identity, [str(run.status), run.started, run.seed, run.name, run.warnings,
                                     facts(run).to_json()]]
    if kept.keys() != known.keys() or any(kept[name] is not known[name] for name in kept):
        _store(runs_dir, {"stamp": stamp, "runs": kept})
    return runs


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
        write_atomic(file, orjson.dumps(data).decode(), durable=False)  # 7 MB for 10,000 runs: fsync is most of it
    except OSError:
        pass  # nowhere to write: the next report reads the run folders again, with the same answers
