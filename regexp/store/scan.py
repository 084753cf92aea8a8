"""One scan of a runs folder for a report: `scan` lists it and stats the files a report depends on
in every entry, once; the answer cache's key (report/cache.py), the list of run folders and the
strays all come from it (before, the listing and the key each stat'ed every folder: 0.3 s of a
report over 10,000 runs).

The report's record index (report/index.py) takes each run folder's identity from the same scan.
"""

import os
from pathlib import Path

WATCHED = ("run.json", "config.yaml", "metrics.json", "history.csv", "sweep.json")  # what a report can read

Scan = dict[str, dict[str, tuple[int, int, int] | None]]  # entry path -> file name -> (mtime_ns, size, inode)


def scan(runs_dir: Path) -> Scan | None:
    """Every entry of runs_dir (dot files aside), sorted, with the identity of each WATCHED file in
    it (None: absent, or the entry is not a folder); None when runs_dir cannot be listed."""
    try:
        with os.scandir(runs_dir) as entries:
            paths = sorted(e.path for e in entries if not e.name.startswith("."))
    except OSError:
        return None
    found: Scan = {}
    for path in paths:
        files = found[path] = {}
        prefix = path + os.sep  # not os.path.join, called once per watched file of a warm report
        for name in WATCHED:
            if name == "sweep.json" and not path.endswith("_sweep"):  # only sweep folders hold one: 10,000 stats less
                files[name] = None
                continue
            try:
                st = os.stat(prefix + name)
                files[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                files[name] = None
    return found


def run_folders(scanned: Scan) -> list[Path]:
    """The run folders of a scan, in its order."""
    return [Path(path) for path, files in scanned.items() if is_run_folder(files)]


def is_run_folder(files: dict[str, tuple[int, int, int] | None]) -> bool:
    """An entry with a run.json or a config.yaml (find_runs's rule)."""
    return bool(files["run.json"] or files["config.yaml"])


def strays(scanned: Scan) -> list[str]:
    """Entries that are neither run folders nor sweep folders (find_runs's `strays`)."""
    return [os.path.basename(path) for path, files in scanned.items()
            if not is_run_folder(files)
            and not (path.endswith("_sweep") and files["sweep.json"])]
