"""`regexp show RUN` (everything about one run) and `regexp diff A B` as rich renderables."""

import statistics

import yaml
from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table

from regexp.report.diff import diff
from regexp.store.contract import LAYER_STATS_COLUMNS, OPTIONAL_FILES, PARTS, RUN_FILES, Status
from regexp.store.folders import RunRecord


def show(run: RunRecord) -> Group:
    info = Table.grid(padding=(0, 2))
    for key in ("status", "name", "started", "ended", "duration_s", "seed", "spec_hash", "device", "host", "error"):
        value = run.status if key == "status" else getattr(run.info, key)
        if value is not None:  # a pruned run's `error` is why its sweep's halving stopped it
            info.add_row("why" if key == "error" and run.status == Status.PRUNED else key, str(value))
    info.add_row("folder", str(run.path))
    for key, value in provenance_rows(run):
        info.add_row(key, value)
    if run.info.table:
        from regexp.data.reading import TableReading
        from regexp.trial.log_text import column_text

        reading = TableReading.model_validate(run.info.table)
        info.add_row("table", f"{reading.file}: {reading.rows} rows" + (f", separator {reading.sep!r}" if reading.sep
                                                                         else ""))
        info.add_row("read as", "\n".join(f"{c.name}: {c.kind}  {column_text(c, reading)}".rstrip()
                                          for c in reading.columns))
        for line in [*reading.notes, *reading.warnings]:
            info.add_row("", line)
    if run.metrics is not None and run.metrics.columns:
        info.add_row("columns", "\n".join(_column_text(c) for c in run.metrics.columns))
    files = [f"{name} ({(run.path / name).stat().st_size:,} B)" for name in (*RUN_FILES, *OPTIONAL_FILES)
             if (run.path / name).exists()]
    info.add_row("files", ", ".join(files))

    metrics = Table(title="metrics")
    parts = {part: run.metrics.part(part) if run.metrics else {} for part in PARTS}
    names = sorted({str(k) for values in parts.values() for k in values}, key=lambda k: (k != "loss", k))
    metrics.add_column("part")
    for name in names:
        metrics.add_column(name, justify="right")
    for part, values in parts.items():
        if values:
            metrics.add_row(part, *(_fmt(values.get(n)) for n in names))
    if run.metrics is not None:
        metrics.caption = "  ".join(f"{key}: {getattr(run.metrics, key)}"
                                    for key in ("best_epoch", "stopped_epoch", "early_stopped"))

    history = Table(title="history")
    columns = list(run.history[0]) if run.history else []
    for column in columns:
        history.add_column(column, justify="right")
    best = run.metrics.best_epoch if run.metrics else None
    for row in run.history:
        history.add_row(*(_fmt(row[c], c) for c in columns), style="bold green" if row.get("epoch") == best else None)

    parts = [info, metrics, history, *_probes(run),
             Syntax(yaml.safe_dump(run.config, sort_keys=False), "yaml", theme="ansi_dark")]
    parts += [f"[yellow]warning:[/] {w}" for w in run.warnings]
    return Group(*parts)


def _probes(run: RunRecord) -> list:
    """The last epoch's layer statistics and a line about the per-step loss, when the run has them."""
    out = []
    stats = run.layer_stats()
    if stats:
        last = stats[-1]["epoch"]
        table = Table(title=f"layer statistics, epoch {last:.0f} (layer_stats.csv has every epoch)")
        columns = [c for c in LAYER_STATS_COLUMNS if c != "epoch"]
        for column in columns:
            table.add_column(column, justify="left" if column == "layer" else "right")
        for row in stats:
            if row["epoch"] == last:
                table.add_row(*(row[c] if c == "layer" else _fmt(row[c], "lr") for c in columns))
        out.append(table)
    steps = run.steps()
    if steps:
        epochs = sorted({s["epoch"] for s in steps})
        last = [s["loss"] for s in steps if s["epoch"] == epochs[-1]]
        spread = statistics.pstdev(last) if len(last) > 1 else 0.0
        out.append(f"per-step loss: {len(epochs)} epochs of {len(last)} steps (steps.csv); the last epoch's "
                   f"batch losses range {min(last):.4f} to {max(last):.4f} (std {spread:.4f})")
    return out


def diff_tables(a: RunRecord, b: RunRecord) -> Group:
    config, deltas = diff(a, b)
    keys = Table(title=f"config: {len(config)} keys differ", caption=f"A = {a.id}\nB = {b.id}")
    for column in ("key", "A", "B"):
        keys.add_column(column)
    for key, va, vb in config:
        keys.add_row(key, str(va), str(vb))
    pa, pb = dict(provenance_rows(a)), dict(provenance_rows(b))
    for key in pa.keys() | pb.keys():
        if pa.get(key) != pb.get(key):
            keys.add_row(f"({key})", pa.get(key, ""), pb.get(key, ""))
    metrics = Table(title="metrics")
    for column in ("metric", "A", "B", "B - A", "better"):
        metrics.add_column(column, justify="left" if column == "metric" else "right")
    for name, va, vb, delta, better in deltas:
        metrics.add_row(name, _fmt(va, name), _fmt(vb, name), f"{delta:+.4f}", better)
    return Group(keys, metrics, *(f"[yellow]warning:[/] {r.id}: {w}" for r in (a, b) for w in r.warnings))


def _column_text(column: dict) -> str:
    """'color: categorical, 3 values, one_hot' or 'weight: numeric, missing filled with 0.0123 (+ indicator)'."""
    if column["kind"] == "categorical":
        return f"{column['name']}: categorical, {len(column['vocabulary'] or [])} values (+ out of vocabulary), " \
               f"{column['encoding']}"
    fill = f", missing filled with {column['fill']:.4g}" if column.get("fill") is not None else ""
    return f"{column['name']}: numeric{fill}" + (" (+ indicator)" if column.get("indicator") else "")


def provenance_rows(run: RunRecord) -> list[tuple[str, str]]:
    """run.json provenance as (label, text): commit and branch, dirty (with the diff's size), data, split, libraries."""
    p = run.info.provenance
    if p is None:
        return [("provenance", "not recorded (a run older than regexp 0.2's provenance)")]
    git = f"{p.commit[:12]} on {p.branch or 'a detached HEAD'}" if p.commit else "none"
    if p.dirty:
        git += f", spec dirty ({len((p.diff or '').splitlines())} diff lines in run.json)"
    if p.repo_dirty:
        git += ", other tracked files changed"
    rows = [("commit", git + (f" ({p.git})" if p.git else ""))]
    rows += [("data", p.data or ""), ("split", p.split or ""),
             ("libraries", ", ".join(f"{k} {v}" for k, v in p.libraries.items()))]
    return rows


def _fmt(value, column: str = "") -> str:
    if value is None:
        return ""
    if column in ("epoch", "epochs_run", "best_epoch") and float(value).is_integer():
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.4g}" if column == "lr" else f"{value:.4f}"
    return str(value)
