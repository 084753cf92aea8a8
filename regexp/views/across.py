"""`regexp report --across data` as a terminal table, Markdown, JSON or LaTeX: the aggregate per arm
(IQM of normalized scores, P(improvement), each with its 95% CI; on how many datasets the arm's
verdict was which) and the per-dataset table beside it. The cells are made once here, so every
format says the same numbers, rounded as the report's terminal table rounds them."""

import io

import orjson
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from regexp.report.across import Across
from regexp.report.stats import ALPHA
from regexp.views import report_cells

JSON_VERSION = 1


def to_markdown(across: Across) -> str:
    def table(headers: list[str], lines: list[list[str]]) -> list[str]:
        def esc(text: str) -> str:
            return text.replace("|", "\\|")
        return ["| " + " | ".join(map(esc, headers)) + " |", "|" + "---|" * len(headers),
                *("| " + " | ".join(map(esc, line)) + " |" for line in lines)]
    headers, lines, _ = report_cells.dataset_cells(across)
    out = [f"{across.comparing}\n", *table(*report_cells.aggregate_cells(across)), "", "Per dataset:", "",
           *table(headers, lines)]
    out += ["", *(f"- note: {note}" for note in across.notes)] if across.notes else []
    return "\n".join(out) + "\n"


def to_terminal(across: Across) -> Group:
    """The aggregate table, then one per-dataset table per arm (the arm its title); short headers,
    an estimate and its interval on two lines, so that 80 columns hold them."""
    def table(title: str, headers: list[str], lines: list[list[str]]) -> Table:
        shown = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
        for index, header in enumerate(headers):
            first = dict(overflow="fold", min_width=min(18, max(len(line[0]) for line in [headers, *lines])))
            number = dict(justify="right", no_wrap=header != "verdicts")
            shown.add_column(header, **(first if index == 0 else number))
        for line in lines:
            shown.add_row(line[0], *(cell.replace(" [", "\n[").replace(" ± ", "\n± ").replace(", ", ",\n ")
                                     for cell in line[1:]))
        return shown
    _, lines = report_cells.aggregate_cells(across)
    side = "higher" if across.neutral else "better"
    tables = [table(f"across {len(across.datasets)} datasets · {across.focus}",
                    ["arm", "data", "verdicts", "IQM base", "IQM arm", f"P({side})"], lines)]
    _, lines, _ = report_cells.dataset_cells(across)
    for arm in across.arms:
        mine = [line[1:] for line in lines if line[0] == arm.arm]
        tables.append(table(f"{arm.arm} · {across.focus}", ["dataset", "n", "baseline", "arm", "Δ [95% CI]", "verdict"],
                            [[dataset, n, base, value, f"{diff} {ci}".strip(),
                              f"{verdict}\np adj {p}" if p else verdict]
                             for dataset, n, base, value, diff, ci, p, verdict in mine]))
    return Group(*tables, *(Text(line, style="dim") for line in [across.comparing,
                                                                  *(f"note: {n}" for n in across.notes)]))


def to_json(across: Across) -> str:
    return orjson.dumps({
        "version": JSON_VERSION, "across": "data", "metric": across.metric, "focus": across.focus,
        "better": across.better, "neutral": across.neutral, "normalization": across.scaling,
        "datasets": across.datasets, "baseline": across.baseline, "correction": across.correction,
        "family": across.family, "alpha": ALPHA, "text": across.comparing,
        "arms": [arm.to_json() for arm in across.arms], "notes": across.notes, "warnings": across.warnings,
    }, option=orjson.OPT_INDENT_2, default=str).decode() + "\n"


def terminal_text(across: Across, width: int, color_system: str | None, terminal: bool) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=color_system, force_terminal=terminal,
            no_color=not terminal).print(to_terminal(across))
    return buffer.getvalue()


def as_text(across: Across, fmt: str, smooth: float | None = None) -> str:
    """md, json or latex (report/across.py's FORMATS less the terminal table)."""
    if fmt == "latex":
        from regexp.views.latex import across_table

        return across_table(across)
    return {"md": to_markdown, "json": to_json}[fmt](across)


def running(across: Across) -> list[tuple]:
    """(pid, host) of the runs shown as running, over every dataset's report (report/cache.py)."""
    return [found for report in across.reports.values() for found in report_cells.running(report)]
