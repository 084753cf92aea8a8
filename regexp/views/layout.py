"""Layout helpers of the terminal views: parameter names that never read the same, left-out seeds in
one phrase, and which columns a table of a given width can hold (views/report.py, views/commands.py)."""

import re
from collections import Counter


def unique_names(paths: list[str]) -> dict[str, str]:
    """Each dotted path's shortest suffix that no other path ends with: model.defaults.dropout and
    model.defaults.l2 read dropout and l2, model.layers.0.units and model.layers.1.units read
    layers.0.units and layers.1.units (a suffix never starts at a list index)."""
    split = {path: path.split(".") for path in paths}
    names = {}
    for path, parts in split.items():
        others = [p for other, p in split.items() if other != path]
        for k in range(1, len(parts) + 1):
            tail = parts[-k:]
            if tail[0].isdigit() and k < len(parts):
                continue
            if not any(p[-k:] == tail for p in others):
                break
        names[path] = ".".join(tail)
    return names


_LEFT_OUT = re.compile(r"^(?P<what>.+) \((?P<side>arm|baseline): (?P<why>.+)\)$")


def left_out_phrase(entries: list[str], stopped_at: int | None = None) -> str:
    """Replicates left out of a pairing, as `report` lists them ("seed 11 (arm: not run)", one per
    seed), in one short phrase: "20 (arm stopped at look 2)", "seed 3 (baseline: crashed)". With
    `stopped_at`, the look where a decide: sweep decided the arm, its seeds not run are said so."""
    groups: Counter = Counter()
    single: dict[tuple, str] = {}
    loose = []
    for entry in entries:
        found = _LEFT_OUT.match(entry)
        if found is None:
            loose.append(entry)
            continue
        key = (found["side"], found["why"])
        groups[key] += 1
        single[key] = found["what"]
    parts = []
    for (side, why), count in groups.items():
        if side == "arm" and why == "not run" and stopped_at is not None:
            reason = f"arm stopped at look {stopped_at}"
        else:
            reason = f"{side}: {why}"
        parts.append(f"{single[(side, why)] if count == 1 else count} ({reason})")
    return ", ".join(parts + loose)


def fit(widths: dict[str, int], drop_order: list[str], room: int, overhead) -> list[str]:
    """The columns to drop so that a table fits `room` characters: `widths` is each column's least
    width, `drop_order` the droppable ones, least wanted first, and `overhead(kept)` the width the
    table's padding and borders add for the kept columns."""
    dropped: list[str] = []
    for column in drop_order:
        kept = [c for c in widths if c not in dropped]
        if sum(widths[c] for c in kept) + overhead(kept) <= room:
            break
        dropped.append(column)
    return dropped


def share(least: dict[str, int], natural: dict[str, int], room: int) -> dict[str, int]:
    """Widths for the columns that wrap: each at least its least width; the room left goes first to
    the columns nearest their natural (unwrapped) width, so that a status or a params cell reads
    whole and the widest column (the comparison) wraps instead."""
    widths = dict(least)
    spare = room - sum(widths.values())
    for column in sorted(widths, key=lambda c: natural[c] - widths[c]):
        more = max(0, min(spare, natural[column] - widths[column]))
        widths[column] += more
        spare -= more
    return widths
