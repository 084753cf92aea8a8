"""One scan of a runs folder for a report: `scan` lists it and stats the files a report depends on
in every entry, once; the answer cache's key (report/cache.py), the list of run folders and the
strays all come from it (before, the listing and the key each stat'ed every folder: 0.3 s of a
report over 10,000 runs).

A persistent index of parsed run records was tried here and not kept (bench/README.md, "Report
over 10,000 runs"): making the Python objects of a run's parsed JSON costs the same whether the
JSON comes from the run's files or from an index, and the index was 40 MB to rewrite.
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
        for name in WATCHED:
            try:
                st = os.stat(os.path.join(path, name))
                files[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                files[name] = None
    return found


def run_folders(scanned: Scan) -> list[Path]:
    """The run folders of a scan: entries with a run.json or a config.yaml (find_runs's rule)."""
    return [Path(path) for path, files in scanned.items() if files["run.json"] or files["config.yaml"]]


def strays(scanned: Scan) -> list[str]:
    """Entries that are neither run folders nor sweep folders (find_runs's `strays`)."""
    return [os.path.basename(path) for path, files in scanned.items()
            if not (files["run.json"] or files["config.yaml"])
            and not (path.endswith("_sweep") and files["sweep.json"])]
