"""`regexp report --format latex`: a booktabs table for a paper, of a report or of `--across data`.

The output is a `table` float to `\\input{}` into a document that loads booktabs and graphicx
(`\\usepackage{booktabs,graphicx}`); it compiles without edits (tests/test_latex.py runs pdflatex).
A table wider than the text (a report has up to ten columns) is scaled down to \\linewidth by
graphicx's \\resizebox, and a narrow one keeps its size. The file is plain ASCII, every character
TeX treats specially escaped and every symbol written as a TeX command. Numbers are those of the
terminal table, rounded by the same rules (views/report.py): means and intervals to 3 decimals, Δ
and its interval to 4, p to 3 significant digits. A comment above the table says what was compared
and the commits of the specs that ran.
"""

import unicodedata

from regexp.report import Report
from regexp.report.across import Across
from regexp.report.collect import Row
from regexp.views import report_cells

SYMBOLS = {"±": r"$\pm$", "Δ": r"$\Delta$", "≈": r"$\approx$", "α": r"$\alpha$", "×": r"$\times$", "≥": r"$\geq$",
           "≤": r"$\leq$", "−": "-", "–": "--", "—": "---", "…": r"\ldots{}", "└": "", "·": r"$\cdot$"}
ASCII = {"±": "+/-", "Δ": "Delta", "≈": "~", "α": "alpha", "×": "x", "≥": ">=", "≤": "<=", "−": "-", "–": "-",
         "—": "--", "…": "...", "·": "."}
SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
           "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
           ">": r"\textgreater{}", "|": r"\textbar{}"}


def escape(text: str) -> str:
    """Text as TeX typesets it: specials escaped, known symbols as commands, other non-ASCII
    letters by their ASCII base (é -> e), anything else dropped."""
    out = []
    for char in str(text):
        if char in SPECIAL:
            out.append(SPECIAL[char])
        elif char in SYMBOLS:
            out.append(SYMBOLS[char])
        elif ord(char) < 128:
            out.append(char)
        else:
            out.append(unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode())
    return "".join(out)


def booktabs(headers: list[str], lines: list[list[str]], align: str, caption: str, comments: list[str],
             rules_after: tuple[int, ...] = ()) -> str:
    """A table float, its columns aligned by `align` (l or r per column), a \\midrule after each
    line index in `rules_after`."""
    spec = "@{}" + align + "@{}"
    out = [f"% {escape_comment(c)}" for c in comments]
    out += [r"\begin{table}[htbp]", r"\centering", r"\small", rf"\caption{{{escape(caption)}}}",
            # scale down to the text width, never up: \width is the tabular's natural width
            r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{" + rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule", " & ".join(escape(h) for h in headers) + r" \\", r"\midrule"]
    for index, line in enumerate(lines):
        out.append(" & ".join(escape(cell) for cell in line) + r" \\")
        if index in rules_after and index != len(lines) - 1:
            out.append(r"\midrule")
    out += [r"\bottomrule", r"\end{tabular}}", r"\end{table}"]
    return "\n".join(out) + "\n"


def escape_comment(text: str) -> str:
    """A comment line: one line of ASCII (TeX reads nothing after the %, so nothing is escaped)."""
    words = "".join(ASCII.get(char, char) for char in " ".join(str(text).split()))
    return unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()


def spec_commits(rows: list[Row]) -> str:
    """The git commits of the specs behind the rows (run.json provenance), or why none is known."""
    found: dict[str, bool] = {}
    for row in rows:
        for run in row.members:
            provenance = run.info.provenance
            if provenance is not None and provenance.commit:
                found[provenance.commit] = found.get(provenance.commit, False) or bool(provenance.dirty)
    if not found:
        return "spec commit: unknown (the runs have no git provenance)"
    return "spec commit: " + ", ".join(commit + (" (uncommitted edits)" if dirty else "")
                                       for commit, dirty in sorted(found.items()))


def report_table(report: Report) -> str:
    """One line per row: its params, n, the focus column's mean ± std and 95% CI, and with a
    comparison Δ with its CI, the adjusted p and the verdict."""
    focus = report_cells.header(report.focus)
    headers = ["run", *report.params, "n", f"{focus} (mean ± std)", "95% CI"]
    if report.comparing:
        headers += [f"Δ {focus}", "95% CI of Δ", "p adj", "verdict"]
    lines = []
    for row in report.rows:
        summary = report.summaries[row.id].get(report.focus)
        line = [row.id, *(report_cells.param(row.params.get(p)) for p in report.params), str(len(row.member_values)),
                report_cells.cell(report, row, report.focus), _ci(report.focus, summary)]
        if report.comparing:
            c = report.comparisons.get(row.id)
            line += (["", "", "", "baseline"] if row is report.baseline else ["", "", "", ""] if c is None else
                     [f"{c.diff:+.4f}", report_cells.interval(c.diff_ci95),
                      report_cells.maybe(c.p_adjusted, "{:.3g}"), c.verdict])
        lines.append(line)
    caption = (f"{report.focus}: mean ± std over seeds" + (f", against {report.baseline.id}" if report.baseline else
                                                             f", against {report.against}" if report.against else ""))
    comments = ["regexp report --format latex; needs \\usepackage{booktabs,graphicx}", spec_commits(report.rows),
                *([report.comparing] if report.comparing else [])]
    align = "l" * (1 + len(report.params)) + "rrr" + ("rrrl" if report.comparing else "")
    return booktabs(headers, lines, align, caption, comments)


def across_table(across: Across) -> str:
    """Two floats: the aggregate per arm (IQM of normalized scores, P(improvement), verdicts per
    dataset), then the per-dataset table (Δ with its CI, p adjusted over every dataset)."""
    side = "higher" if across.neutral else "better"
    headers, lines = report_cells.aggregate_cells(across)
    comments = ["regexp report --across data --format latex; needs \\usepackage{booktabs,graphicx}",
                spec_commits(across.rows), across.comparing]
    aggregate = booktabs(headers, lines, "llrrrr", f"{across.focus} vs {across.baseline} across "
                         f"{len(across.datasets)} datasets: IQM of normalized scores and P(arm {side} than baseline), "
                         "stratified bootstrap 95% CIs", comments)
    headers, lines, last = report_cells.dataset_cells(across)
    per_dataset = booktabs(headers, lines, "llrrrrrrl", f"{across.focus} vs {across.baseline} per dataset, p adjusted "
                           f"over all {across.family} comparisons", [], last)
    return aggregate + per_dataset


def _ci(column: str, summary) -> str:
    if not (summary and summary.ci95):
        return ""
    low, high = (report_cells.number(column, bound) for bound in summary.ci95)
    return f"[{low}, {high}]"
