"""Where a run came from (run.json `provenance`): the git commit of its spec, whether the spec or a
file it extends had uncommitted edits (and their diff), the data's fingerprint, the split's, and
the library versions that change numbers.

Git is asked with three short commands (about 5-10 ms together, bench/provenance.py) when a run
or a sweep starts, never when reading runs. Outside a repository, without git, in a shallow clone,
on a detached HEAD or in a submodule, training goes on and `git` says why a field is empty or what
to keep in mind. A data file's sha256 is streamed once and cached by (path, size, mtime) in
$REGEXP_CACHE_DIR/fingerprints.json. No TensorFlow here (versions are read by the caller).
"""

import functools
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from regexp.registry.datasets import DATASETS
from regexp.spec import LoadedSpec
from regexp.store.files import cache_root, write_atomic

GIT_TIMEOUT_S = 5
CHUNK = 1 << 20


def extends_chain(file: Path) -> list[Path]:
    """The spec file and every base its `extends:` names, in order."""
    chain = [Path(file).resolve()]
    while True:
        try:
            data = yaml.safe_load(chain[-1].read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return chain
        base = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(base, str):
            return chain
        nxt = (chain[-1].parent / base).resolve()
        if nxt in chain or not nxt.is_file():
            return chain
        chain.append(nxt)


def git_state(files: list[Path]) -> dict[str, Any]:
    """commit, branch, dirty (the files have uncommitted changes, or are not committed at all),
    diff (theirs against the commit), repo_dirty (any other tracked change) and `git`: why a
    field is empty, or a caveat (detached HEAD, shallow clone, submodule)."""
    empty = {"commit": None, "branch": None, "dirty": None, "diff": None, "repo_dirty": None}
    if shutil.which("git") is None:
        return {**empty, "git": "git is not on PATH"}
    folder = files[0].parent
    top = _git(folder, "rev-parse", "--show-toplevel", "--is-shallow-repository",
               "--show-superproject-working-tree")
    if top is None:
        return {**empty, "git": "the spec is not in a git repository"}
    lines = top.splitlines()
    root = Path(lines[0])
    notes = ["shallow clone"] * (len(lines) > 1 and lines[1] == "true")
    if len(lines) > 2 and lines[2]:
        notes.append(f"a submodule of {lines[2]}")
    status = _git(root, "status", "--porcelain=v2", "--branch", "--untracked-files=no") or ""
    head = dict(line[2:].split(" ", 1) for line in status.splitlines() if line.startswith("# ") and " " in line[2:])
    commit = head.get("branch.oid")
    if commit in (None, "(initial)"):
        return {**empty, "git": "the repository has no commit yet"}
    branch = head.get("branch.head")
    if branch == "(detached)":
        branch = None
        notes.append("detached HEAD")
    mine = [os.path.relpath(f, root) for f in files]
    spec_status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *mine) or ""
    dirty = bool(spec_status.strip())
    diff = _git(root, "diff", "HEAD", "--", *mine) if dirty else None
    if dirty and not diff:  # untracked: no diff against the commit, the file itself is the change
        diff = f"(not committed: {', '.join(line[3:] for line in spec_status.splitlines())})"
    changed = [line for line in status.splitlines() if not line.startswith("#")]
    others = [line for line in changed if line.rsplit(" ", 1)[-1] not in mine]
    return {"commit": commit, "branch": branch, "dirty": dirty, "diff": diff or None, "repo_dirty": bool(others),
            "git": "; ".join(notes) or None}


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.rstrip("\n") if done.returncode == 0 else None


def data_fingerprint(loaded: LoadedSpec) -> str:
    """sha256 of the data file(s) read (every file of an image folder), or the built-in dataset's name
    and the library that ships or generates it with its version. A generated dataset's keys (samples,
    length, noise, ...) are in config.yaml already; leaving them out keeps older runs' fingerprints."""
    from regexp.spec.load import DATA_PATHS, resolve_data_path

    data = loaded.spec.data
    files = [resolve_data_path(loaded, f"data.{key}") for key in DATA_PATHS if getattr(data, key) is not None]
    if files:
        digest = hashlib.sha256()
        for file in files:
            # a folder of images: every file in it, by its path inside the folder and its content
            for member in sorted(p for p in file.rglob("*") if p.is_file()) if file.is_dir() else [file]:
                digest.update(f"{member.relative_to(file) if file.is_dir() else ''}:{file_sha256(member)};".encode())
        return "sha256:" + digest.hexdigest()[:16]
    library = DATASETS[data.dataset].library
    return f"{data.dataset} ({library} {_version(library)})"


@functools.cache  # importlib.metadata parses the package's METADATA file each time, once per packed trial
def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def file_sha256(path: Path) -> str:
    """The file's sha256, from the cache when (path, size, mtime) are unchanged."""
    st = path.stat()
    return _sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}", path)


@functools.lru_cache(maxsize=64)  # keyed by (path, size, mtime): a pack's slices read the cache file once
def _sha256(key: str, path: Path) -> str:
    cache = cache_root() / "fingerprints.json"
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    known = {k: v for k, v in known.items() if not k.startswith(f"{path.resolve()}:")}
    known[key] = digest.hexdigest()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, json.dumps(known))
    except OSError:
        pass  # nowhere to cache: hashed again next time
    return known[key]


def split_fingerprint(parts) -> str:
    """A hash of the train, val and test parts as the run saw them (samples and labels, in order):
    equal exactly when the same samples fell in the same parts."""
    digest = hashlib.blake2b(digest_size=8)
    import numpy as np

    for x, y in parts:
        for array in (x, y):
            digest.update(str((array.shape, str(array.dtype))).encode())
            digest.update(np.ascontiguousarray(array))
    return digest.hexdigest()


def for_run(loaded: LoadedSpec, data, runs_dir: Path, parent: str | None, libraries: dict[str, str]) -> dict:
    """run.json `provenance`: a sweep's trial takes the git state its sweep recorded when it began
    (trials run from the sweep's snapshot of the spec, which git does not know)."""
    git = sweep_git_state(runs_dir / parent) if parent else None
    if git is None:
        git = git_state(extends_chain(loaded.file))
    parts = [(data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)]
    try:
        data_print = data_fingerprint(loaded)
    except OSError as exc:  # the data loaded a moment ago; a fingerprint that fails must not pass for a runs-dir error
        data_print = f"unreadable ({type(exc).__name__}: {exc.strerror or exc})"
    return {**git, "data": data_print, "split": split_fingerprint(parts), "libraries": libraries}


@functools.lru_cache(maxsize=8)  # a pack's slices share their sweep: sweep.json is read once per process
def sweep_git_state(folder: Path) -> dict | None:
    from regexp.store.folders import read_sweep_state

    state = read_sweep_state(folder, warnings=[])
    return state.provenance if state is not None and state.provenance else None
