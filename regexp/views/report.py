"""A Report as a rich table, Markdown, CSV or JSON (the machine interface); report_html.py makes the
self-contained HTML page.

JSON keys are stable (docs/how-to/report.md, "report --format json"); every numeric value is a summary
{mean, std, n, ci95}, the same for a single run (std and ci95 null) as for a group.
"""

import csv
import io

import orjson
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from regexp.registry.metrics import short_name
from regexp.report import Report
from regexp.report.answer import to_json as answer_json
from regexp.report.collect import Row
from regexp.report.stats import ALPHA, POWER
from regexp.store.contract import Status
from regexp.views import report_cells
from regexp.views.layout import fit, share, unique_names

JSON_VERSION = 1


TERMINAL_COLUMNS = ("epochs_run", "best_epoch", "val_loss", "val_{m}", "test_{m}", "gap_{m}", "duration_s")
NARROW = 80  # below this terminal width each row is printed as a block instead of a table line
# the table's columns that a narrow terminal may leave out, the least wanted first (never the focused metric)
DROP_ORDER = ("duration_s", "epochs_run", "best_epoch", "gap_{m}", "test_mc_{m}", "val_loss", "ci", "test_{m}",
              "val_{m}", "status")
SHORT = {"epochs_run": "epochs", "best_epoch": "best", "duration_s": "sec"}  # a metric's is its registry entry's
STYLE = {Status.FAILED: "red", Status.CRASHED: "red", Status.INTERRUPTED: "yellow", Status.RUNNING: "cyan",
         Status.INCOMPLETE: "red", Status.PRUNED: "magenta"}


def _short_header(column: str, sep: str = "\n") -> str:
    part, _, name = column.partition("_")
    if column in SHORT or part not in ("train", "val", "test", "gap"):
        return SHORT.get(column) or short_name(column)
    return f"{part}{sep}{short_name(name)}"


def _terminal_cells(report: Report, row: Row, member: bool) -> dict[str, str]:
    """What the terminal shows of one row, by field (shared by the table and the stacked layout)."""
    short = row.id.split("_", 1)[1] if row.kind == "run" and "_" in row.id else row.id
    names = unique_names(list(row.params))  # two params never read the same: dropout, l2, layers.0.units
    ci = report.summaries[row.id].get(report.focus)
    c = report.comparisons.get(row.id)
    verdict = ""
    if row is report.baseline:
        verdict = "baseline"
    elif c is not None:
        lines = [f"{c.diff:+.4f} {report_cells.interval(c.diff_ci95)}".strip(),
                 f"descriptive ({report.focus}), not a verdict" if c.descriptive else c.verdict]
        if c.p_adjusted is not None:
            lines[-1] += f", p adj {c.p_adjusted:.3g}" + ("" if c.effect is None else f", {report_cells.effect(c)}")
        lines.append(report_cells.pairs(c, report_cells.stopped_at(report, row)))
        if c.min_detectable is not None:
            lines.append(f"≈80% power at |Δ| ≈ {c.min_detectable:.4f} (estimate)")
        if report.options.detect is not None:
            lines.append(f"seeds for {report.options.detect:g}: " + report_cells.maybe(c.seeds_needed, "{}", "n/a"))
        verdict = "\n".join(lines)
    return {
        "run": ("└ " if member else "") + short, "status": row.status,
        "n": str(len(row.member_values)) if row.kind == "group" else "",
        "params": "\n".join(f"{names[k]}={report_cells.param(v)}" for k, v in row.params.items() if v is not None),
        "ci": "\n".join(report_cells.number(report.focus, end) for end in ci.ci95) if ci and ci.ci95 else "",
        "verdict": verdict,
    }


def to_terminal(report: Report, width: int):
    """A table from 80 columns (the least wanted columns left out where it does not fit, a note says
    which); on narrower terminals, one block per row. Every column is in md/csv/json/html."""
    return to_table(report, width) if width >= NARROW else to_blocks(report)


def _shown(report: Report) -> list[str]:
    """The terminal's columns: the fixed ones, the MC-dropout main metric when runs have it, and the
    focused metric (--metric) when it is none of them: its mean ± std stands beside its CI."""
    mc = f"test_mc_{report.metric}"
    shown = [c.format(m=report.metric) for c in TERMINAL_COLUMNS] + ([mc] if mc in report.columns else [])
    return shown + ([report.focus] if report.focus not in shown and report.focus in report.columns else [])


def to_table(report: Report, width: int = 200) -> Group:
    """The table, then what was compared, the notes and the decisions as lines that wrap."""
    shown = _shown(report)
    lines = report_cells.lines(report)
    cells = [_terminal_cells(report, row, member) for row, member in lines]
    columns = {"run": ("run", dict(overflow="fold"), 18), "status": ("status", dict(overflow="fold"), 0),
               "n": ("n", dict(justify="right", no_wrap=True), None)}
    if report.params:
        columns["params"] = ("params", dict(overflow="fold"), 24)
    for column in shown:
        columns[column] = (_short_header(column), dict(justify="right", no_wrap=True), None)
        for line, (row, _) in zip(cells, lines):
            line[column] = report_cells.cell(report, row, column).replace(" ± ", "\n±")
    if any(row.kind == "group" for row in report.rows):
        columns["ci"] = (f"95% CI\n{_short_header(report.focus)}", dict(justify="right", no_wrap=True), None)
    if report.comparing:
        columns["verdict"] = (f"vs {'baseline' if report.baseline else report.options.against}\nΔ "
                              f"{_short_header(report.focus, ' ')} [95% CI]", dict(overflow="fold"), 24)
    texts = {key: [header, *(line[key] for line in cells)] for key, (header, _, _) in columns.items()}
    widths = {key: _least(texts[key], cap) for key, (_, _, cap) in columns.items()}
    optional = [c.format(m=report.metric) for c in DROP_ORDER]
    overhead = lambda kept: 3 * len(kept) - 1  # noqa: E731  (SIMPLE_HEAD, no edge padding: 3 between columns)
    dropped = fit(widths, [c for c in optional if c in columns and c != report.focus], width, overhead)
    kept = [key for key in columns if key not in dropped]
    wrapping = [key for key in kept if columns[key][2] is not None]
    room = width - overhead(kept) - sum(widths[key] for key in kept if key not in wrapping)
    shared = share({key: widths[key] for key in wrapping}, {key: _least(texts[key], 10**6) for key in wrapping}, room)
    table = Table(title=f"{len(report.rows)} rows · main metric {report.metric}", header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for key in kept:
        header, options, _ = columns[key]
        table.add_column(header, width=shared.get(key), **options)  # set widths: rich never crops a cell
    for line, (row, _) in zip(cells, lines):
        table.add_row(*(line[key] for key in kept), style=STYLE.get(row.status))
    named = ", ".join(f"95% CI {_short_header(report.focus, ' ')}" if c == "ci" else _short_header(c, " ")
                      for c in dropped)
    left_out = ([f"note: at {width} columns the table leaves out {named} "
                 "(a wider terminal shows them; --format md, csv and json have every column)"] if dropped else [])
    return Group(table, *(Text(line, style="dim") for line in filter(None, [
        report.comparing, *(f"note: {n}" for n in report.notes), *left_out, *_sections(report)])))


def _least(texts: list[str], cap: int | None) -> int:
    """A column's least width (header and cells): its longest line when it does not wrap; when it
    wraps, its longest word, and up to `cap` of its longest line."""
    longest = max((len(line) for text in texts for line in text.splitlines()), default=0)
    if cap is None:
        return longest
    word = max((len(word) for text in texts for word in text.split()), default=0)
    return max(min(longest, cap), min(word, 12))


def to_blocks(report: Report) -> Group:
    shown = _shown(report)
    blocks: list = [Text(f"{len(report.rows)} rows · main metric {report.metric}", style="bold")]
    for row, member in report_cells.lines(report):
        cells = _terminal_cells(report, row, member)
        indent = "    " if member else ""
        head = Text(indent + cells["run"], style="bold")
        head.append(f"  {cells['status']}" + (f", n = {cells['n']}" if cells["n"] else ""), style=STYLE.get(row.status))
        lines = [head]
        if cells["params"]:
            lines.append(Text(indent + "  " + ", ".join(cells["params"].splitlines()), style="dim"))
        values = [f"{_short_header(c, ' ')} {text}" for c in shown if (text := report_cells.cell(report, row, c))]
        lines.append(Text(indent + "  " + "   ".join(values)))
        if cells["ci"]:
            low, high = cells["ci"].splitlines()
            lines.append(Text(f"{indent}  95% CI {_short_header(report.focus, ' ')} [{low}, {high}]"))
        if cells["verdict"]:
            lines.append(Text(f"{indent}  vs baseline: " + "; ".join(cells["verdict"].splitlines())))
        blocks.append(Group(*lines))
    blocks += [Text(line, style="dim") for line in filter(None, [report.comparing,
                                                                 *(f"note: {n}" for n in report.notes),
                                                                 *_sections(report)])]
    return Group(*blocks)


def to_markdown(report: Report) -> str:
    headers, cells = report_cells.text_rows(report)
    def esc(text: str) -> str:
        return text.replace("|", "\\|")
    out = [f"{report.comparing}\n"] if report.comparing else []
    out += ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(esc(c) for c in line) + " |" for line in cells]
    out += ["", *(f"- note: {note}" for note in report.notes)] if report.notes else []
    for _, heading, lines in report_cells.headed(report):
        out += ["", heading, "", *(f"- {line}" for line in lines)]
    return "\n".join(out) + "\n"


def _sections(report: Report) -> list[str]:
    return [line for _, heading, lines in report_cells.headed(report) for line in (heading, *lines)]


COMPARISON_CSV = ("diff", "diff_ci95_low", "diff_ci95_high", "test", "n", "p", "p_adjusted", "effect_size",
                  "effect_size_name", "min_detectable", "seeds_needed", "verdict", "note", "left_out")


def to_csv(report: Report) -> str:
    """One line per row; numbers unformatted, a `_std` column beside each (empty for single runs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    numeric = [h for c in report.columns for h in (c, f"{c}_std")]
    extra = [f"baseline_{key}" for key in COMPARISON_CSV] if report.comparing else []
    writer.writerow(["kind", "id", "name", "status", "n", *report.params, *numeric, *extra, "ignored_reruns"])
    for row, member in report_cells.lines(report):
        values = []
        for c in report.columns:
            s = report.summaries[row.id].get(c)
            values += ["" if s is None else s.mean, "" if s is None or s.std is None else s.std]
        tail = []
        if report.comparing:
            c = report.comparisons.get(row.id)
            found = c.to_json() if c else {"verdict": "baseline" if row is report.baseline else ""}
            found["diff_ci95_low"], found["diff_ci95_high"] = found.pop("diff_ci95", None) or ("", "")
            found["left_out"] = "; ".join(found.get("left_out") or [])
            tail = ["" if found.get(key) is None else found[key] for key in COMPARISON_CSV]
        writer.writerow(["member" if member else row.kind, row.id, row.name, row.status, len(row.member_values),
                         *(report_cells.param(row.params.get(p)) for p in report.params), *values, *tail,
                         " ".join(run.id for run in row.reruns)])
    return buffer.getvalue()


def report_data(report: Report) -> dict:
    """The json format's content as Python values (what regexp.report(...) returns as `.data`)."""
    def row_json(row: Row) -> dict:
        comparison = report.comparisons.get(row.id)
        return {
            "kind": row.kind, "id": row.id, "name": row.name, "status": row.status,
            "n": len(row.member_values), "runs": [run.id for run in row.members],
            "paths": [str(run.path) for run in row.members], "seeds": row.seeds,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in row.params.items()},
            "values": {c: s.to_json() for c, s in report.summaries[row.id].items()},
            "baseline": comparison.to_json() if comparison else None,
            "members": [row_json(m) for m in report.expanded.get(row.id, [])],
            "reruns": [{"id": run.id, "seed": run.seed, "status": run.status} for run in row.reruns],
            "notes": row.notes, "warnings": row.warnings,
        }
    comparison = {"text": report.comparing, "alpha": ALPHA, "power": POWER, "correction": report.options.correction,
                  "against": report.options.against, "detect": report.options.detect} if report.comparing else None
    return {
        "version": JSON_VERSION, "metric": report.metric, "focus": report.focus, "columns": report.columns,
        "params": report.params, "baseline": report.baseline.id if report.baseline else None,
        "comparison": comparison, "rows": [row_json(row) for row in report.rows],
        "notes": report.notes, "warnings": report.warnings,
        "decide": report.decisions.to_json() if report.decisions else None, **answer_json(report),
        "search": [search.to_json() for search in report.searches] if report.options.importance else None,
        "race": [race.to_json() for race in report.races],
    }


def to_json(report: Report) -> str:
    # orjson: json's indenting encoder is pure Python
    return orjson.dumps(report_data(report), option=orjson.OPT_INDENT_2, default=str).decode() + "\n"


def terminal_text(report: Report, width: int, color_system: str | None, terminal: bool) -> str:
    """The terminal table (or blocks) rendered to text, ANSI styles included when `terminal`."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=color_system, force_terminal=terminal,
            no_color=not terminal).print(to_terminal(report, width=width))
    return buffer.getvalue()


running = report_cells.running  # what the cache asks each view (views/across.py has its own)


def as_text(report: Report, fmt: str, smooth: float | None = None) -> str:
    """md, csv, json, html (the html page embeds the learning curves) or latex (views/latex.py)."""
    if fmt == "latex":
        from regexp.views.latex import report_table

        return report_table(report)
    if fmt == "html":
        from regexp.views import figure as plots
        from regexp.views.report_html import to_html

        return to_html(report, plots.png_bytes(report, smooth) if report.rows else None)
    return {"md": to_markdown, "csv": to_csv, "json": to_json}[fmt](report)
