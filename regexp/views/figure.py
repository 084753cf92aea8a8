"""The figure of `report --plot` and the html report: the comparison pictures (comparison_plots.py), then
per row its train vs val curves (lr on a second axis; only for a few rows, the overlay covers many),
per-step loss and layer statistics.

A group is drawn as the mean over its members with a ±1 std band; the best epoch is marked with a
dashed line and an early stop with a dotted one. matplotlib is imported only here.
"""

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from regexp.report import Report
from regexp.report.collect import Row
from regexp.report.facts import mapping
from regexp.views import comparison_plots as pictures

if TYPE_CHECKING:  # matplotlib loads inside draw: report's other formats never pay for it
    from matplotlib.figure import Figure


def ewma(values: list[float | None], beta: float) -> list[float | None]:
    """Exponentially weighted moving average with bias correction, v_t / (1 - beta^t), as in Adam.

    Written by hand: numpy has no EWMA and pandas is not a dependency.
    """
    out, v, t = [], 0.0, 0
    for x in values:
        if x is None:
            out.append(None)
            continue
        t += 1
        v = beta * v + (1 - beta) * x
        out.append(v / (1 - beta**t))
    return out


@dataclass
class Curve:
    """One history column of a row, epoch by epoch: the mean and std over the seeds drawn there (n).

    A seed that early stopping ended is held at the value of the weights it kept (its best epoch's,
    or its last with restore_best_weights: false) up to the row's longest run, so that n stays the
    seeds of the row; one that ended otherwise (pruned, crashed, still running) drops out, and the
    curve ends where fewer than half of the row's seeds are left."""

    epochs: list[int] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    n: list[int] = field(default_factory=list)       # seeds averaged at each epoch
    held: list[int] = field(default_factory=list)    # of them, early-stopped seeds held at their kept value
    seeds: int = 0                                    # seeds with any value of the column
    cut: bool = False                                 # ended where fewer than half of the seeds were left

    def n_text(self) -> str:
        """"n = 30", "n = 30, 26 held after early stop", "n = 30 → 18" (fewer seeds at the last epoch drawn)."""
        if not self.n:
            return "n = 0"
        text = f"n = {self.n[0]}" if self.n[0] == self.n[-1] else f"n = {self.n[0]} → {self.n[-1]}"
        return text + (f", {self.held[-1]} held after early stop" if self.held[-1] else "")


def _kept_epoch(run) -> int | None:
    """The epoch (1-based) whose weights an early-stopped run kept; None when it did not stop early."""
    metrics = run.metrics
    if metrics is None or not metrics.early_stopped or not metrics.epochs_run:
        return None
    stopping = mapping(mapping(run.config.get("training")).get("early_stopping"))
    return metrics.best_epoch if stopping.get("restore_best_weights", True) and metrics.best_epoch else \
        metrics.epochs_run


def _curve(row: Row, key: str, beta: float | None) -> Curve:
    """The mean and std of one history column over the row's members, epoch by epoch (see Curve)."""
    finite = lambda v: v is not None and math.isfinite(v)  # noqa: E731
    raw = [[r.get(key) for r in run.history] for run in row.members]
    longest = max((len(s) for s in raw), default=0)
    series, held_from = [], []
    for run, values in zip(row.members, raw):
        kept = _kept_epoch(run)
        start = len(values)
        if kept is not None and 0 < kept <= len(values) and finite(values[kept - 1]):
            values = values + [values[kept - 1]] * (longest - len(values))
        series.append(ewma(values, beta) if beta else values)
        held_from.append(start)
    curve = Curve(seeds=sum(any(finite(v) for v in s) for s in series))
    for i in range(longest):
        at = [(s[i], i >= start) for s, start in zip(series, held_from) if i < len(s) and finite(s[i])]
        if not at:
            continue
        if 2 * len(at) <= curve.seeds:  # fewer than most of the seeds: a mean of a few would wobble
            curve.cut = True
            break
        values = [v for v, _ in at]
        mean = sum(values) / len(values)
        curve.epochs.append(i + 1)
        curve.mean.append(mean)
        curve.std.append(math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1
                         else 0.0)
        curve.n.append(len(values))
        curve.held.append(sum(held for _, held in at))
    return curve


PER_ROW_LIMIT = 4  # up to this many rows also get their own train-vs-val panel; beyond, the overlay says it


def draw(report: Report, beta: float | None = None) -> "Figure":
    """The comparison pictures first (comparison_plots.py), then per row: train vs val curves (few rows),
    the per-step loss and the layer statistics (when recorded)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.rows or []
    cells = pictures.grid(report)
    searched = [(state, path, sampled) for state, params in pictures.searches(report)
                for path, sampled in params.items()]
    forest = any(c.diff_ci95 is not None for c in report.comparisons.values())
    single = ([("forest",)] * forest + [("heatmap",)] * (cells is not None)  # full-width panels
              + [("decide",)] * bool(report.decisions and report.decisions.record.looks)
              + [("search", summary) for summary in report.searches
                 if len(summary.scales) > 1 and len(summary.points) > 1])  # a picture of 2 or more points
    pairs = [searched[i:i + 2] for i in range(0, len(searched), 2)]
    own = rows if len(rows) <= PER_ROW_LIMIT else []
    extras = [(kind, row) for row in rows for kind, has in (("steps", _first(row, "steps")),
                                                             ("layers", _first(row, "layer_stats"))) if has]
    heights = [3.4] * (1 + len(single) + len(pairs)) + [3.2] * (len(own) + len(extras))
    heights[1:1 + len(single)] = [max(2.6, 0.35 * len(rows) + 1.2) if kind == ("forest",) else 4.0 for kind in single]
    fig, axes = plt.subplots(len(heights), 2, figsize=(11, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    at = iter(axes)
    spec = axes[0][0].get_gridspec()
    if rows:
        pictures.draw_overlaid(next(at), report, _curve, beta)
    else:
        next(at)[0].set_title("no runs", loc="left")
    for i, kind in enumerate(single, start=1):
        for ax in next(at):
            ax.remove()
        wide = fig.add_subplot(spec[i, :])  # the whole row
        if kind == ("forest",):
            pictures.draw_forest(wide, report)
        elif kind == ("heatmap",):
            pictures.draw_heatmap(wide, fig, report, cells)
        elif kind[0] == "search":
            pictures.draw_parallel_coordinates(wide, fig, kind[1])
        else:
            pictures.draw_decisions(wide, report.decisions)
    for pair in pairs:
        pair_axes = next(at)
        for ax, (state, path, sampled) in zip(pair_axes, pair):
            pictures.draw_search(ax, state, path, sampled)
        if len(pair) == 1:
            pair_axes[1].axis("off")
    for row in own:
        _draw_row(*next(at), row, report, beta)
    for kind, row in extras:
        (_draw_steps if kind == "steps" else _draw_layers)(*next(at), row, beta)
    fig.tight_layout()
    if _fit_titles(fig):  # room for the titles' new lines, laid out from the start again: a second
        params = matplotlib.rcParams  # tight_layout from the first one's spacing crowds twin axes' labels
        fig.subplots_adjust(**{key: params[f"figure.subplot.{key}"] for key in
                               ("left", "right", "bottom", "top", "wspace", "hspace")})
        fig.tight_layout()
    return fig


def _fit_titles(fig: "Figure") -> bool:
    """Wrap each panel title wider than its panel onto more lines (a long title is otherwise cut at
    the figure's edge); True when one was wrapped. The titles are found as drawn, so that panels drawn
    elsewhere (draw_decisions, draw_parallel_coordinates) fit too."""
    import textwrap

    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    wrapped = False
    for ax in fig.axes:
        room = ax.get_window_extent(renderer).width
        for loc in ("left", "center", "right"):
            title = ax.get_title(loc=loc)
            artist = next((c for c in ax.get_children() if isinstance(c, Text) and title and c.get_text() == title),
                          None)
            if artist is None:
                continue
            width = artist.get_window_extent(renderer).width
            if width <= room:
                continue
            text = " ".join(title.split())
            per_char, lines = width / max(len(line) for line in title.splitlines()), math.ceil(width / room)
            widest = max(20, int(room / per_char) - 1)
            fills = [textwrap.fill(text, chars) for chars in range(min(widest, math.ceil(len(text) / lines)),
                                                                   widest + 1)]
            artist.set_text(min(fills, key=lambda f: (f.count("\n"), max(map(len, f.splitlines())))))  # fewest, even
            wrapped = True
    return wrapped


def _draw_row(loss_ax, metric_ax, row: Row, report: Report, beta: float | None) -> None:
    """One row's train vs val loss (lr on a second axis) and main metric, best epoch and early stop marked."""
    from matplotlib.ticker import MaxNLocator

    counts = []
    for ax, name in ((loss_ax, "loss"), (metric_ax, report.metric)):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            curve = _curve(row, key, beta)
            if not curve.epochs:
                continue
            counts.append(curve)
            label = key.replace("val_", "val ") if key.startswith("val") else f"train {key}"
            (line,) = ax.plot(curve.epochs, curve.mean, style, label=label)
            if any(curve.std):
                ax.fill_between(curve.epochs, [m - s for m, s in zip(curve.mean, curve.std)],
                                [m + s for m, s in zip(curve.mean, curve.std)], color=line.get_color(), alpha=0.2)
        best = row.mean("best_epoch")
        if best is not None:
            ax.axvline(best, color="gray", linestyle="--", linewidth=1, label=f"best epoch {best:.0f}")
        stopped = [run.metrics.epochs_run for run in row.members
                   if run.metrics and run.metrics.early_stopped and run.metrics.epochs_run is not None]
        if stopped:
            ax.axvline(sum(stopped) / len(stopped), color="black", linestyle=":", linewidth=1, label="early stop")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    lr_curve = _curve(row, "lr", None)
    epochs, lr = lr_curve.epochs, lr_curve.mean
    if epochs:
        lr_ax = loss_ax.twinx()
        lr_ax.plot(epochs, lr, color="tab:gray", alpha=0.6, linewidth=1, label="lr")
        lr_ax.set_ylabel("learning rate")
        if max(lr) > 0 and max(lr) / max(min(lr), 1e-30) > 20:
            lr_ax.set_yscale("log")
        elif min(lr) == max(lr):  # a constant rate: show it against zero, not as noise around itself
            lr_ax.set_ylim(0, max(lr) * 1.5 or 1)
        lines = loss_ax.get_legend_handles_labels()
        extra = lr_ax.get_legend_handles_labels()
        loss_ax.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=8, loc="upper right")
    else:
        loss_ax.legend(fontsize=8)
    metric_ax.legend(fontsize=8)
    title = row.id if row.kind == "run" else f"{row.id} (mean ± std, {counts[0].n_text() if counts else 'n = 0'})"
    held = any(c.held and c.held[-1] for c in counts)
    loss_ax.set_title(title + (f", smoothed β = {beta}" if beta else "") + (
        "; held: at the value of the weights it kept" if held else ""), fontsize=9, loc="left")


def _first(row: Row, table: str) -> list[dict]:
    """The per-step or layer rows of the row's first member that has them."""
    for run in row.members:
        rows = getattr(run, table)()
        if rows:
            return rows
    return []


def _draw_steps(ax, other, row: Row, beta: float | None) -> None:
    """Note 003's picture: the noisy mini-batch loss and its EWMA (β = --smooth, else 0.9)."""
    steps = _first(row, "steps")
    x, loss = [s["step"] for s in steps], [s["loss"] for s in steps]
    beta = beta or 0.9
    ax.plot(x, loss, linewidth=0.6, alpha=0.35, label="batch loss")
    ax.plot(x, ewma(loss, beta), linewidth=1.5, label=f"EWMA β = {beta}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{row.id}: per-step loss" + ("" if len(row.members) == 1 else " of its first run"), fontsize=9,
                 loc="left")
    other.axis("off")


def _draw_layers(weights_ax, sparsity_ax, row: Row, beta: float | None) -> None:
    """Per layer: weight norm (solid) and gradient norm (dashed), and L1's sparsity, by epoch."""
    stats = _first(row, "layer_stats")
    for layer in dict.fromkeys(r["layer"] for r in stats):
        mine = [r for r in stats if r["layer"] == layer]
        epochs = [r["epoch"] for r in mine]
        (line,) = weights_ax.plot(epochs, [r["weight_norm"] for r in mine], label=f"{layer} ‖W‖")
        weights_ax.plot(epochs, [r["grad_norm"] for r in mine], "--", color=line.get_color(), label=f"{layer} ‖∇W‖")
        sparsity_ax.plot(epochs, [r["sparsity"] for r in mine], color=line.get_color(), label=layer)
    weights_ax.set_yscale("log")
    weights_ax.set_title(f"{row.id}: layer statistics", fontsize=9, loc="left")
    from matplotlib.ticker import MaxNLocator

    for ax, label in ((weights_ax, "norm (log)"), (sparsity_ax, "fraction |w| < threshold")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)


def save(report: Report, target: Path | io.BytesIO, beta: float | None = None, **options) -> None:
    import matplotlib.pyplot as plt

    fig = draw(report, beta)
    try:
        fig.savefig(target, **{"dpi": 100, **options})
    finally:
        plt.close(fig)  # pyplot keeps every figure alive until closed


def png_bytes(report: Report, beta: float | None = None) -> bytes:
    buffer = io.BytesIO()
    save(report, buffer, beta, format="png", dpi=80)
    return buffer.getvalue()
