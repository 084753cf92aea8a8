"""Which runs may be compared or pooled, by where they came from (run.json provenance): other data
is another experiment, another split of a seed is not its re-run, and arms from other commits,
dirty specs or library versions get a warning. No TensorFlow here."""

import hashlib

from regexp.report.facts import facts
from regexp.store.folders import RunRecord


def split_generations(key: str, runs: list[RunRecord], replicate) -> dict[str, list[RunRecord]]:
    """Runs of one seed whose train/val/test parts differ (a library changed the split) are not
    re-runs of each other: the newest split of each seed stays under `key`, older ones form rows
    of their own."""
    by_replicate: dict[tuple, list[RunRecord]] = {}
    for run in runs:
        by_replicate.setdefault(replicate(run), []).append(run)
    out: dict[str, list[RunRecord]] = {}
    for same in by_replicate.values():
        splits: list[str | None] = []
        for run in sorted(same, key=lambda r: r.started, reverse=True):
            split = facts(run).split  # None for runs older than provenance
            if split not in splits:
                splits.append(split)
            generation = splits.index(split)
            out.setdefault(key if generation == 0 else hashlib.sha256(f"{key}|split{generation}".encode()).hexdigest(),
                           []).append(run)
    return out


def mixing(rows) -> str | None:
    """What differs in where the rows' runs came from (spec commit, uncommitted edits, library
    versions), as one phrase; None when nothing does or nothing was recorded."""
    runs = [run for row in rows for run in row.members if run.info.provenance is not None]
    commits = sorted({run.info.provenance.commit[:7] for run in runs if run.info.provenance.commit})
    dirty = sum(bool(run.info.provenance.dirty) for run in runs)
    versions: dict[str, set] = {}
    for run in runs:
        for name, version in run.info.provenance.libraries.items():
            versions.setdefault(name, set()).add(version)
    parts = [f"spec commits {', '.join(commits)}"] * (len(commits) > 1)
    # all from uncommitted specs (one sweep of a new spec file) is one source; some and not others is two
    parts += [f"{dirty} of {len(runs)} runs from a spec with uncommitted edits"] * (0 < dirty < len(runs))
    parts += [f"{name} {' / '.join(sorted(v))}" for name, v in sorted(versions.items()) if len(v) > 1]
    return "; ".join(parts) or None
