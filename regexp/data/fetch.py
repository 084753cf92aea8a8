"""Downloads of the datasets that need one (registry/datasets.py's `remotes`), only when asked.

A file is checked when it is fetched, against the hash its Remote pins. A download goes to a
temporary name and is renamed only once its hash matched, so an interrupted or corrupted download
never looks cached. Reading the cached files back is the dataset's own loader: regexp never
downloads at run time. No TensorFlow here.
"""

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from regexp.errors import UserError
from regexp.registry.datasets import DATASETS, Remote, downloaded, keras_cache

CHUNK = 1 << 16


def missing(name: str) -> list[Path]:
    """The files of `name` not in the cache (existence only: fetch checked their hashes)."""
    files = [keras_cache() / remote.path for remote in DATASETS[name].remotes]
    return [file for file in files if not file.is_file()]


def fetch(name: str, progress=None, force: bool = False) -> list[Path]:
    """Download what `name` misses from the cache (everything with `force`); returns the files written.
    `progress`: a rich Progress, or None for silence. Raises UserError offline or on a bad hash."""
    if name not in downloaded():
        raise UserError(f"{name}: not a dataset regexp fetches (allowed: {' | '.join(downloaded())}; the others are "
                        "bundled with scikit-learn)")
    written = []
    for remote in DATASETS[name].remotes:
        target = keras_cache() / remote.path
        if target.is_file() and not force:
            continue
        _download(remote, target, progress)
        written.append(target)
    return written


def _download(remote: Remote, target: Path, progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.new(remote.algorithm)
    try:
        with urllib.request.urlopen(remote.url, timeout=30) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            task = progress.add_task(target.name, total=total) if progress is not None else None
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if task is not None:
                    progress.advance(task, len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise UserError(f"cannot download {remote.url} ({reason}). regexp downloads only on request and needs the "
                        f"network for it; offline, copy the file to {target}") from None
    if digest.hexdigest() != remote.digest:
        partial.unlink(missing_ok=True)
        raise UserError(f"{remote.url}: the download's {remote.algorithm} is {digest.hexdigest()}, expected "
                        f"{remote.digest}; nothing was written to the cache (a proxy or a changed file? try again)")
    os.replace(partial, target)
