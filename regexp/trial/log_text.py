"""What a run's log.txt says beyond its epochs: how a table was read (as `regexp validate` prints
it and `regexp show` shows it: one line per column (kind, values and encoding, missing cells and
their fill, dropped and why), the label's classes with counts, then the notes and warnings of the
reading), and the run's closing summary table."""

from rich.table import Table

from regexp.data.reading import ColumnReading, TableReading


def table_lines(key: str, reading: TableReading) -> list[str]:
    sep = f", separator {reading.sep!r}" if reading.sep else ""
    lines = [f"{key} {reading.file}: {reading.rows} rows, {len(reading.features)} features{sep}"]
    width = max(len(c.name) for c in reading.columns)
    for column in reading.columns:
        lines.append(f"  {column.name.ljust(width)}  {column.kind.ljust(11)}  {column_text(column, reading)}".rstrip())
    lines += [f"  note: {note}" for note in reading.notes]
    lines += [f"  warning: {warning}" for warning in reading.warnings]
    return lines


def column_text(column: ColumnReading, reading: TableReading | None = None) -> str:
    """What a column became, after its kind: `3 values, one-hot; 11 missing (NA ×11) -> out of vocabulary`."""
    parts = []
    if column.kind == "target":
        if reading is not None and reading.classes:
            shown = ", ".join(f"{name} ({count})" for name, count in list(reading.classes.items())[:10])
            more = f", ... ({len(reading.classes)} in all)" if len(reading.classes) > 10 else ""
            parts.append(f"{len(reading.classes)} classes: {shown}{more}")
        else:
            parts.append(f"{column.values} values (regression)")
    elif column.kind == "categorical":
        encoding = "one-hot" if column.encoding == "one_hot" else "embedded"
        parts.append(f"{column.values} values, {encoding}" + (" (data.categorical)" if column.why ==
                                                               "data.categorical" else ""))
    elif column.kind == "dropped":
        parts.append(column.why or "")
    elif column.number_form:
        parts.append(f"written with {column.number_form}")
    if column.missing:
        markers = ", ".join(f"{m} ×{n}" for m, n in column.markers.items())
        parts.append(f"{column.missing} missing ({markers})" + (f" -> {column.fill}" if column.fill else ""))
    return "; ".join(p for p in parts if p)


def summary_table(results: dict, metrics) -> Table:
    """The end of a run's log: each part's final loss, penalty and metrics, and the best epoch."""
    names = list(results["train"])
    table = Table(title=f"best epoch {metrics.best_epoch} of {metrics.epochs_run}"
                        + (" (early stopped)" if metrics.early_stopped else ""))
    table.add_column("part")
    for name in names:
        table.add_column(name, justify="right")
    for part, values in results.items():
        table.add_row(part, *(f"{values[n]:.4f}" for n in names))
    return table
