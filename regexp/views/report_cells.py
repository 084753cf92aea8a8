"""The cells a report's text formats share: the table's headers and rows as strings (the table,
Markdown and HTML formats lay them out), the comparison's cells, and the decide: and search
sections with their headings."""

import re
from typing import Any

from regexp.report import Report
from regexp.report.across import Across, ArmAcross, Estimate
from regexp.report.collect import Row
from regexp.store.contract import Status
from regexp.views.layout import left_out_phrase

HEADERS = {"epochs_run": "epochs", "best_epoch": "best", "duration_s": "time s"}


def header(column: str) -> str:
    return HEADERS.get(column, column.replace("_", " "))


def number(column: str, value: float) -> str:
    if column in ("epochs_run", "best_epoch"):
        return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    if column == "duration_s":
        return f"{value:.1f}"
    return f"{value:.3f}"


def cell(report: Report, row: Row, column: str) -> str:
    summary = report.summaries[row.id].get(column)
    if summary is None:
        return ""
    text = number(column, summary.mean)
    return text if not summary.std else f"{text} ± {number(column, summary.std)}"


def param(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def lines(report: Report) -> list[tuple[Row, bool]]:
    """(row, is_member) in display order: each group followed by its members when expanded."""
    out = []
    for row in report.rows:
        out.append((row, False))
        out.extend((member, True) for member in report.expanded.get(row.id, []))
    return out


def text_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and cells shared by the table, Markdown and HTML formats."""
    headers = ["run", "name", "status", "n", *report.params, *(header(c) for c in report.columns)]
    if any(row.kind == "group" for row in report.rows):
        headers.append(f"95% CI {header(report.focus)}")
    detect = report.options.detect
    if report.comparing:
        headers += [f"Δ {header(report.focus)}", "95% CI of Δ (unadjusted)", "test", "n pairs", "p", "p adj",
                    "effect", "80% power at |Δ| ≈", *([f"seeds for Δ {detect:g}"] if detect is not None else []),
                    "verdict"]
    cells = []
    for row, member in lines(report):
        n = str(len(row.member_values)) if row.kind == "group" else ""
        line = [("  └ " if member else "") + row.id, row.name, row.status, n,
                *(param(row.params.get(p)) for p in report.params), *(cell(report, row, c) for c in report.columns)]
        if "95% CI" in " ".join(headers):
            ci = report.summaries[row.id].get(report.focus)
            line.append(
                f"[{number(report.focus, ci.ci95[0])}, {number(report.focus, ci.ci95[1])}]" if ci and ci.ci95 else "")
        if report.comparing:
            line += comparison_cells(report, row, member)
        cells.append(line)
    return headers, cells


def comparison_cells(report: Report, row: Row, member: bool) -> list[str]:
    c = report.comparisons.get(row.id)
    blank = [""] * (9 if report.options.detect is not None else 8)
    if row is report.baseline:
        return [*blank, "baseline"]
    if c is None:
        return [*blank, "" if member else "no values"]
    detect = [maybe(c.seeds_needed, "{}", "")] if report.options.detect is not None else []
    return [f"{c.diff:+.4f}", interval(c.diff_ci95), c.test or "", pairs(c, stopped_at(report, row)),
            maybe(c.p, "{:.3g}"), maybe(c.p_adjusted, "{:.3g}"), effect(c), maybe(c.min_detectable, "{:.4f}"),
            *detect, c.verdict]


def effect(c) -> str:
    return "" if c.effect is None else f"{c.effect_name} {c.effect:+.2f}"


def pairs(c, stopped_at: int | None = None) -> str:
    """n, and the replicates left out of the pairing in one phrase: "10 pairs; left out: 20 (arm
    stopped at look 2)", "8 pairs; left out: seed 3 (arm: crashed)"."""
    if not c.left_out:
        return c.n
    n = re.sub(r" [(]\d+ left out[)]", "", c.n)  # the phrase says how many
    return f"{n}; left out: {left_out_phrase(c.left_out, stopped_at)}"


def stopped_at(report: Report, row: Row) -> int | None:
    """The look at which a decide: sweep decided this row's arm (its later seeds were never run)."""
    arm = report.decisions.rows.get(row.id) if report.decisions else None
    return arm.look if arm is not None else None


def maybe(value, fmt: str, empty: str = "") -> str:
    return empty if value is None else fmt.format(value)


def interval(ci) -> str:
    return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else ""


def headed(report: Report) -> list[tuple[str, str, list[str]]]:
    """(title, heading, lines): a decide: sweep's question and its one answer per arm (report/answer.py),
    then any sentence where another metric points another way; each search.confirm race (its rule, how
    each point ended); with --importance, each search's heading, importance and expected best."""
    decided = [("Answers", report.question.text, [
        f"{a.row} ({a.arm}): {a.text}" + "".join(f" ({note})" for note in a.notes) for a in report.answers]
        + report.conflicts)] if report.decisions and report.question else []
    return decided + [("Race", race.heading, race.lines()) for race in report.races] + [
        ("Search", search.heading, search.lines()) for search in report.searches]


def running(report: Report) -> list[tuple]:
    """(pid, host) of the runs shown as running: a cached report is stale once one of them ends."""
    return [(run.info.pid, run.info.host) for row in report.rows for run in [*row.members, *row.reruns]
            if run.status == Status.RUNNING]


# ------------------------------------------------- --across data: the cells views/across.py and latex.py share
def aggregate_cells(across: Across) -> tuple[list[str], list[list[str]]]:
    """Headers and one line per arm: its datasets, their verdicts, both IQMs, P(improvement)."""
    side = "higher" if across.neutral else "better"
    headers = ["arm", "datasets", "verdicts per dataset", "IQM baseline [95% CI]", "IQM arm [95% CI]",
               f"P(arm {side}) [95% CI]"]
    return headers, [[arm.arm, str(len(arm.lines)), verdicts(arm), estimate(arm.baseline_iqm), estimate(arm.iqm),
                      estimate(arm.improvement)] for arm in across.arms]


def dataset_cells(across: Across) -> tuple[list[str], list[list[str]], tuple[int, ...]]:
    """Headers, one line per arm and dataset, and the index of each arm's last line."""
    focus = header(across.focus)
    headers = ["arm", "dataset", "n", f"baseline {focus}", f"arm {focus}", f"Δ {focus}", "95% CI of Δ (unadjusted)",
               "p adj", "verdict"]
    lines, last = [], []
    for arm in across.arms:
        for line in arm.lines:
            c = line.comparison
            lines.append([arm.arm, line.dataset, c.n if c else "", mean_std(across.focus, line.baseline),
                          mean_std(across.focus, line.arm), f"{c.diff:+.4f}" if c else "",
                          interval(c.diff_ci95) if c else "",
                          maybe(c.p_adjusted, "{:.3g}") if c else "",
                          c.verdict if c else "no values"])
        last.append(len(lines) - 1)
    return headers, lines, tuple(last)


def mean_std(column: str, summary) -> str:
    if summary is None:
        return ""
    text = number(column, summary.mean)
    return text if not summary.std else f"{text} ± {number(column, summary.std)}"


def estimate(value: Estimate) -> str:
    return f"{value.value:.3f} [{value.low:.3f}, {value.high:.3f}]"


def verdicts(arm: ArmAcross) -> str:
    """"2 better, 2 inconclusive": the per-dataset verdicts, the most common first."""
    return ", ".join(f"{n} {verdict}" for verdict, n in sorted(arm.verdicts().items(), key=lambda kv: (-kv[1], kv[0])))
