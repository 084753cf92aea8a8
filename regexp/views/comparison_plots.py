"""The report's comparison pictures (report --plot and the html report), each answering one question:

- overlaid curves: how do the arms learn? every row's validation curve on one axis per metric
  (mean line, ± std band, n in the legend: a seed stopped early is held at its kept weights' value,
  a curve ends where fewer than half its seeds are left), the baseline drawn thick and black;
- forest plot: which arms differ from the baseline, and by how much? each row's difference with
  its 95% CI, coloured by the adjusted verdict, sorted;
- heatmap: where in a two-parameter grid is the objective best? mean and n per cell, with a baseline
  the paired Δ where the cell's seeds pair with the baseline's, * where the difference from the
  baseline is significant after correction;
- search scatter: which values of each searched parameter did well? objective per trial against
  the parameter, log axis where the search sampled on a log scale, coloured by round;
- decide looks: how did each arm's interval close in, look by look, against the margin band?
- parallel coordinates (--importance): which combinations of the searched keys did well?

matplotlib is imported by the caller (figure.py); these functions draw on axes they are given.
"""

import math

import yaml

from regexp.report import Report
from regexp.report.collect import Row
from regexp.report.decisions import Decisions, point_text
from regexp.report.search import SearchSummary
from regexp.store.contract import Status, direction
from regexp.store.folders import read_sweep_state
from regexp.store.sweep_file import SweepState

VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red", "higher": "tab:blue", "lower": "tab:purple"}


def label(row: Row) -> str:
    """The row as its differing params say it (l2=0.001, dropout=0.5), else its id."""
    if row.params:
        return ", ".join(f"{key.rsplit('.', 1)[-1]}={_short(value)}" for key, value in row.params.items())
    return row.id


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def draw_overlaid(axes, report: Report, curve, beta: float | None) -> None:
    """One axis per metric (val loss, val main metric); `curve(row, key, beta)` gives a figure.Curve: the
    mean, std and n at each epoch (the legend says n at the first and last epoch drawn)."""
    for ax, name in zip(axes, ("loss", report.metric)):
        held = cut = False
        for row in report.rows:
            drawn = curve(row, f"val_{name}", beta)
            if not drawn.epochs:
                continue
            held, cut = held or bool(drawn.held[-1]), cut or drawn.cut
            base = row is report.baseline
            mean, std = drawn.mean, drawn.std
            (line,) = ax.plot(drawn.epochs, mean, color="black" if base else None, linewidth=2.6 if base else 1.3,
                              label=f"{label(row)} ({drawn.n_text()})" + (" baseline" if base else ""),
                              zorder=3 if base else 2)
            if any(std):
                ax.fill_between(drawn.epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                                color=line.get_color(), alpha=0.12)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"val {name}")
        how = ["a seed that stopped early is held at its kept weights' value"] * held + [
            "a curve ends where fewer than half its seeds are left"] * cut
        ax.set_title(f"val {name} of every row (mean ± std over seeds" + "".join(f"; {h}" for h in how) + ")"
                     + (f", EWMA β = {beta}" if beta else ""), fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper right")


def draw_forest(ax, report: Report) -> bool:
    """Each row's difference from the baseline with its 95% CI; False when there is nothing to draw."""
    items = [(row, report.comparisons[row.id]) for row in report.rows if row.id in report.comparisons
             and report.comparisons[row.id].diff_ci95 is not None]
    if not items:
        return False
    items.sort(key=lambda item: item[1].diff)
    for y, (row, comparison) in enumerate(items):
        low, high = comparison.diff_ci95
        colour = VERDICT_COLOURS.get(comparison.verdict, "tab:gray")
        ax.plot([low, high], [y, y], color=colour, linewidth=2)
        ax.plot([comparison.diff], [y], "o", color=colour)
        p = comparison.p_adjusted
        verdict = comparison.verdict.replace("inconclusive", "n.s.") or "n.s."
        ax.annotate(f"{verdict} (p adj {p:.2g})" if p is not None else comparison.n,
                    (high, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=7)
    ax.axvline(0, color="black", linewidth=1)
    low, high = ax.get_xlim()
    ax.set_xlim(low, high + 0.3 * (high - low))  # room for the verdict beside the right-most bar
    ax.set_yticks(range(len(items)), [label(row) for row, _ in items], fontsize=7)
    compared = label(report.baseline) if report.baseline else report.options.against
    ax.set_xlabel(f"Δ {report.focus} vs baseline ({compared}), 95% CI")
    ax.set_title(f"difference from the baseline: {report.comparing.split(':', 1)[1].split(';')[0].strip()}; "
                 "bars: unadjusted 95% CIs" if report.comparing else "difference from the baseline",
                 fontsize=9, loc="left")
    ax.grid(alpha=0.3, axis="x")
    return True


def grid(report: Report) -> tuple[str, str, list, list] | None:
    """The two differing params of a full two-parameter grid, with their sorted values; else None."""
    if len(report.params) != 2 or len(report.rows) < 4:
        return None
    x_key, y_key = report.params
    xs = sorted({_key(row.params.get(x_key)) for row in report.rows})
    ys = sorted({_key(row.params.get(y_key)) for row in report.rows})
    if len(xs) < 2 or len(ys) < 2 or len(xs) * len(ys) != len(report.rows):
        return None
    return x_key, y_key, xs, ys


def _empty(row) -> str:
    """A cell without a mean: why, where no member completed ("3 pruned\nafter epoch 2", "2 failed")."""
    if any(r.status == Status.COMPLETED for r in row.members):
        return "–"
    return str(row.status).replace(" after", "\nafter")


def _key(value):
    return (0, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, str(value))


def draw_heatmap(ax, figure, report: Report, cells: tuple[str, str, list, list]) -> None:
    x_key, y_key, xs, ys = cells
    values = [[math.nan] * len(xs) for _ in ys]
    for row in report.rows:
        mean = row.mean(report.focus)
        values[ys.index(_key(row.params.get(y_key)))][xs.index(_key(row.params.get(x_key)))] = \
            mean if mean is not None else math.nan
    finite = [v for line in values for v in line if not math.isnan(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    reverse = direction(report.focus) == "min"  # the better end is bright either way
    image = ax.imshow(values, cmap="viridis_r" if reverse else "viridis", aspect="auto", origin="lower")
    counts, paired = set(), False
    for row in report.rows:
        i, j = ys.index(_key(row.params.get(y_key))), xs.index(_key(row.params.get(x_key)))
        mean = row.mean(report.focus)
        share = (mean - low) / (high - low) if mean is not None and high > low else 0.5
        dark = share > 0.5 if reverse else share < 0.5  # viridis is dark at its low end
        text = _empty(row)
        if mean is not None:
            summary = report.summaries.get(row.id, {}).get(report.focus)
            n = summary.n if summary is not None else len(row.column(report.focus))
            counts.add(n)
            text, delta = _cell_text(report, row, mean, n)
            paired = paired or delta
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black",
                fontweight="bold" if row is report.baseline else "normal")
    figure.colorbar(image, ax=ax, label=f"mean {report.focus}")
    # grid values in order, one cell each: a log-spaced grid reads as log scale, which is how it was chosen
    ax.set_xticks(range(len(xs)), [_short(v) for _, v in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [_short(v) for _, v in ys], fontsize=8)
    ax.set_xlabel(x_key + (" (log-spaced)" if _log_spaced(xs) else ""))
    ax.set_ylabel(y_key + (" (log-spaced)" if _log_spaced(ys) else ""))
    notes = [f"n: the seeds in the mean{', not the same in every cell' if len(counts) > 1 else ''}"]
    if paired:
        notes.append("Δ: mean paired difference from the baseline over the seeds both have")
    if report.comparisons:
        notes.append("* differs from the baseline, adjusted p < 0.05")
    ax.set_title(f"mean {report.focus} per grid point ({'; '.join(notes)})", fontsize=9, loc="left")


def _cell_text(report: Report, row: Row, mean: float, n: int) -> tuple[str, bool]:
    """A heatmap cell: its mean (* when it differs from the baseline), its n, and where its seeds are
    paired with the baseline's, Δ over the pairs; True when it shows a Δ."""
    comparison = report.comparisons.get(row.id)
    star = "*" if comparison is not None and comparison.verdict in VERDICT_COLOURS else ""
    lines = [f"{mean:.4g}{star}", f"n = {n}"]
    if row is report.baseline:
        return "\n".join([*lines, "baseline"]), False
    design = comparison.design if comparison is not None else None
    if design is None or not design.paired or comparison.diff is None or not math.isfinite(comparison.diff):
        return "\n".join(lines), False
    return "\n".join([*lines, f"Δ {comparison.diff:+.3g} ({design.n_a} pairs)"]), True


def _log_spaced(values: list) -> bool:
    positive = [v for kind, v in values if kind == 0 and v > 0]
    return len(positive) >= 3 and max(positive) / min(positive) >= 100


def searches(report: Report) -> list[tuple[SweepState, dict]]:
    """The random and tpe searches behind the report's runs: (sweep.json, the spec's search.params)."""
    out, seen = [], set()
    for row in report.rows:
        for run in row.members:
            parent = run.info.parent
            if not parent or parent in seen:
                continue
            seen.add(parent)
            folder = run.path.parent / parent
            state = read_sweep_state(folder, warnings=[])  # a damaged one: no search picture
            try:
                spec = yaml.safe_load((folder / "spec.yaml").read_text()) or {}
            except (OSError, yaml.YAMLError):
                continue
            if state is None:
                continue
            search = spec.get("search") or {}
            if search.get("method") in ("random", "tpe") and search.get("params"):
                out.append((state, search["params"]))
    return out


def draw_search(ax, state: SweepState, path: str, sampled) -> None:
    trials = [t for t in state.trials if t.objective is not None and isinstance(t.point.get(path), (int, float))]
    rounds = sorted({t.round for t in trials})
    for r in rounds:
        mine = [t for t in trials if t.round == r]
        ax.scatter([t.point[path] for t in mine], [t.objective for t in mine], s=14, label=f"round {r}")
    if isinstance(sampled, dict) and any(kind.startswith("log_uniform") for kind in sampled):
        ax.set_xscale("log")
    ax.set_xlabel(path + (" (log scale, as sampled)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel(state.objective.metric)
    ax.set_title(f"{state.name}: {state.objective.metric} per trial", fontsize=9, loc="left")
    ax.grid(alpha=0.3)
    if len(rounds) > 1:
        ax.legend(fontsize=7)


def draw_decisions(ax, decisions: Decisions) -> None:
    """Each arm's interval look by look against the margin band (drawn on given axes; figure.py owns
    matplotlib)."""
    record = decisions.record
    ax.axhspan(-record.margin, record.margin, color="#dfe8f3", label=f"±margin {record.margin:g}")
    ax.axhline(0, color="black", lw=0.8)
    points = {str(arm.point): row for row, arm in decisions.rows.items()}
    for offset, (key, row) in enumerate(points.items()):
        xs, mids, lows, highs, open_xs, open_mids = [], [], [], [], [], []
        for look in record.looks:
            arm = next((a for a in look.arms if str(a.point) == key), None)
            x = look.seeds + 0.15 * record.batch * (offset - (len(points) - 1) / 2)
            if arm is None or arm.diff is None:
                continue
            if arm.ci is None or None in arm.ci:  # too few seeds for a finite interval yet
                open_xs.append(x)
                open_mids.append(arm.diff)
                continue
            xs.append(x)
            mids.append(arm.diff)
            lows.append(arm.diff - arm.ci[0])
            highs.append(arm.ci[1] - arm.diff)
        final = decisions.rows[row]
        bars = ax.errorbar(xs, mids, yerr=[lows, highs], fmt="o-", capsize=3, lw=1.2,
                           label=f"{point_text(final.point)}: {final.verdict}")
        ax.scatter(open_xs, open_mids, facecolors="none", edgecolors=bars[0].get_color(), s=30)
    looks = [look.seeds for look in record.looks]
    ax.set_xticks(looks)
    ax.set_xlim(0, max(looks) + record.batch / 2)
    ax.set_xlabel("seeds per arm at the look")
    ax.set_ylabel(f"Δ {record.metric} vs baseline")
    ax.set_title(f"decide: each arm's anytime-valid interval look by look (α {record.alpha:g} over all arms and "
                 "looks; hollow: not yet finite); decided when it leaves 0 or fits in the band", fontsize=9, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def draw_parallel_coordinates(ax, fig, summary: SearchSummary) -> None:
    """Parallel coordinates: one line per evaluated point across the searched keys (each axis from
    its lowest to its highest value, log for log distributions, choices in list order), coloured by
    the mean objective, the best point drawn last and thickest (figure.py owns matplotlib)."""
    import matplotlib.pyplot as plt

    keys = list(summary.scales)
    best_last = sorted(summary.points, key=lambda pv: pv[1], reverse=(summary.mode == "min"))
    values = [pv[1] for pv in best_last]
    norm = plt.Normalize(min(values), max(values))
    cmap = plt.get_cmap("viridis_r" if summary.mode == "min" else "viridis")  # the best bright in both modes
    axes = {key: _axis(summary.scales[key], [p[key] for p, _ in summary.points]) for key in keys}
    for i, (point, value) in enumerate(best_last):
        last = i == len(best_last) - 1
        ax.plot(range(len(keys)), [axes[k](point[k]) for k in keys], color=cmap(norm(value)),
                lw=2.5 if last else 1.0, alpha=1.0 if last else 0.7, zorder=3 if last else 2)
    ax.set_xticks(range(len(keys)), [k.rsplit(".", 1)[-1] for k in keys])
    ax.set_yticks([0, 1], ["low", "high"])
    for x in range(len(keys)):
        ax.axvline(x, color="#999", lw=0.8, zorder=1)
    ax.set_title(f"{summary.method} search, {len(summary.points)} points: each line a point, colour its mean "
                 f"{summary.metric} (the best thick)", loc="left", fontsize=9)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=summary.metric)


def _axis(scale: str, values: list):
    """value -> [0, 1] on one axis."""
    if scale == "choice":
        seen = list(dict.fromkeys(repr(v) for v in values))
        return lambda v: seen.index(repr(v)) / max(1, len(seen) - 1)
    lo, hi = min(values), max(values)
    f = math.log if scale == "log" and lo > 0 else (lambda v: v)
    span = (f(hi) - f(lo)) or 1.0
    return lambda v: (f(v) - f(lo)) / span
