"""A Report as one self-contained HTML page: the answers, the table (scrolling in its box), the
pictures as an inline PNG, notes, warnings, decisions and searches."""

import html

from regexp.report import Report
from regexp.views.report_cells import headed, maybe, pairs, param, text_rows


def to_html(report: Report, plot_png: bytes | None) -> str:
    """One file, no external resources: the table (scrolling in its box), the pictures as an inline PNG, warnings."""
    import base64

    headers, cells = text_rows(report)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr class='{}'>{}</tr>".format(html.escape(line[2].split(" ")[-1]),
                                                   "".join(
                                                       f"<td>{html.escape(c)}</td>" for c in line)) for line in cells)
    plot = (f"<h2>Pictures</h2><img id='curves' alt='{html.escape(_picture_alt(report), quote=True)}' "
            f"src='data:image/png;base64,{base64.b64encode(plot_png).decode()}'>") if plot_png else ""
    warnings = "".join(f"<h2>{title}</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in items) + "</ul>"
                       for title, items in (("Notes", report.notes), ("Warnings", report.warnings)) if items)
    decided = "".join(f"<h2>{title}</h2><p>{html.escape(heading)}</p><ul class='{title.lower()}'>"
                      + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
                      for title, heading, lines in headed(report) if title != "Answers")  # answers: below
    comparing = (f"<p id='comparing'>{html.escape(report.comparing)}</p>"
                 if report.comparing and (report.question is None or report.question.kind != "fixed") else "")
    answers = _answers_html(report)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>regexp report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
/* the table scrolls inside its own box, so the page never gets wider than the window; its header stays on top */
.table-box {{ max-width: 100%; max-height: 70vh; overflow: auto; border: 1px solid #ccc; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
th, td {{ border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }}
th {{ background: #f3f3f3; position: sticky; top: 0; white-space: normal; min-width: 4.5em; vertical-align: bottom; }}
td:nth-child(-n+3), th:nth-child(-n+3) {{ text-align: left; }}
tr.failed, tr.crashed, tr.incomplete {{ color: #b00; }}
tr.interrupted {{ color: #a60; }}
img {{ max-width: 100%; }}
/* the answers: one narrow line per comparison, readable without scrolling in a 1280 px window */
#answers td, #answers th {{ white-space: normal; }}
#answers td.verdict {{ font-weight: bold; text-align: left; }}
</style></head><body>
<h1>regexp report</h1>
<p>{len(report.rows)} rows · main metric <b>{html.escape(report.metric)}</b> · statistics on
<b>{html.escape(report.focus)}</b></p>
{comparing}
{answers}
{decided}
<h2>Every row</h2>
<div class="table-box"><table id="runs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>
{plot}
{warnings}
</body></html>
"""


def _picture_alt(report: Report) -> str:
    """What the figure shows, in words, for a reader who cannot see it."""
    parts = [f"validation curves of {len(report.rows)} rows overlaid (mean and spread over seeds)"]
    if report.comparisons:
        parts.append(f"a forest plot of each arm's difference in {report.focus} from the baseline with its unadjusted "
                     "95% CI and adjusted verdict")
    parts.append("per-row train and validation learning curves")
    return "; ".join(parts)


def _answers_html(report: Report) -> str:
    """The question once, then one answer per arm, narrow (the wide table follows), then any sentence
    where another metric points another way (report/answer.py builds them all)."""
    question = report.question
    if question is None or not report.answers:
        return ""
    decided = question.kind == "decide"
    head = ("<tr><th>arm</th><th>params</th><th>" + ("seeds" if decided else "n") + "</th><th>Δ "
            + html.escape(question.metric) + "</th><th>" + ("anytime-valid interval of Δ" if decided
                                                            else "95% CI of Δ (unadjusted)")
            + "</th>" + ("" if decided else "<th>p adj</th>") + "<th>answer</th><th>note</th></tr>")
    rows = {row.id: row for row in report.rows}
    lines = []
    for a in report.answers:
        row = rows.get(a.row)
        params = ", ".join(f"{k.rsplit('.', 1)[-1]}={param(v)}" for k, v in row.params.items()
                           if v is not None) if row else ""
        low, high = a.ci or (None, None)
        interval = "" if a.ci is None else "[{}, {}]".format(*(
            "∞" if v is None else f"{v:+.4f}" for v in (low, high)))
        seeds = pairs(report.comparisons[a.row]) if not decided and a.row in report.comparisons else str(a.seeds)
        diff = "" if a.diff is None else f"{a.diff:+.4f}"
        p = "" if decided else f"<td>{maybe(a.p_adjusted, '{:.3g}')}</td>"
        lines.append(f"<tr><td>{html.escape(a.row)}</td><td>{html.escape(params)}</td><td>{html.escape(seeds)}</td>"
                     f"<td>{diff}</td><td>{interval}</td>{p}<td class='verdict'>{html.escape(a.verdict)}</td>"
                     f"<td>{html.escape('; '.join(a.notes))}</td></tr>")
    conflicts = ("<ul id='conflicts'>" + "".join(f"<li>{html.escape(c)}</li>" for c in report.conflicts) + "</ul>"
                 if report.conflicts else "")
    return (f"<h2>Answers</h2><p id='question'>{html.escape(question.text)}</p><table id='answers'><thead>{head}"
            f"</thead><tbody>{''.join(lines)}</tbody></table>{conflicts}")
