"""The views of train, sweep, evaluate, diagnose and gradcheck: rich renderables or text."""

import json

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from regexp.store.contract import Status
from regexp.views.layout import unique_names


def evaluate_table(run_name: str, now: dict, recorded: dict) -> Table:
    """`regexp evaluate`: the scores of model.keras now, beside those metrics.json recorded."""
    table = Table(title=f"{run_name}: model.keras scored again", header_style="bold")
    for column in ("part", "metric", "now", "metrics.json"):
        table.add_column(column, justify="left" if column in ("part", "metric") else "right")
    for part, values in now.items():
        for name, value in values.items():
            old = recorded[part].get(name)
            table.add_row(part, name, f"{value:.4f}", "" if not isinstance(old, (int, float)) else f"{old:.4f}")
    return table


def plan_table(trials: list, rounds: int, packs: list) -> Table:
    """`regexp sweep --dry-run`: the trials of round 1, with the pack each trains in (- alone)."""
    later = f" in round 1 of {rounds} (later rounds depend on results)" if rounds > 1 else ""
    named = [f"{name} = {path}" for path, name in unique_names([p for p, _ in trials[0].point]).items()
             if name != path] if trials else []
    table = Table(title=f"{len(trials)} trials{later}", caption="; ".join(named) or None)
    paths = [path for path, _ in trials[0].point] if trials else []
    names = unique_names(paths)  # model.defaults.dropout and model.defaults.l2 read dropout and l2, never alike
    pack_of = {m: (str(i) if len(p.members) > 1 else "-") for i, p in enumerate(packs) for m in p.members}
    for column in ("#", *paths, "seed", "fold", "pack", "key"):
        table.add_column(names.get(column, column), justify="right" if column != "key" else "left")
    for i, trial in enumerate(trials):
        values = [f"{v:.4g}" if isinstance(v, float) else str(v) for _, v in trial.point]
        table.add_row(str(i + 1), *values, str(trial.seed), "" if trial.fold is None else str(trial.fold),
                      pack_of[i], trial.key)
    return table


def sweep_summary(sweep) -> list[str]:
    """The lines after a sweep: its folder and status, the best point, how to compare its runs, and
    the race of search.confirm: is the best really the best?"""
    state = sweep.state
    lines = [f"{state.kind} folder: {sweep.path}  ({state.status})"]
    if state.decide is not None:
        from regexp.report.decisions import ended, point_text

        spent = sum(1 for t in state.trials if t.status == Status.COMPLETED)
        lines.append(f"decided against {state.decide.baseline} on {state.decide.metric} ({spent} trials):")
        lines += [f"  {point_text(arm.point)}: {ended(arm, state.decide)}" for arm in state.decide.arms]
    elif state.best is not None:
        point = ", ".join(f"{k}={v}" for k, v in state.best.point.items()) or "the spec"
        lines.append(f"best: {point}: {state.objective.metric} {state.best.objective:.4f} (mean of {state.best.n})")
    pruned = [t for t in state.trials if t.status == Status.PRUNED]
    if pruned:
        points = len({repr(sorted(t.point.items())) for t in pruned})
        lines.append(f"pruned by search.halving: {len(pruned)} trials of {points} points (status pruned, not ranked)")
    lines.append(f"compare: regexp report --filter parent={sweep.path.name}")
    if state.confirm is not None:  # the race's answer comes last: the search's best alone is the winner's curse
        from regexp.report.race import lines as race_lines

        lines += race_lines(state.confirm)
    return lines


# ------------------------------------------------------------------------------------------ diagnose
def _diagnosis_rows(d) -> list[tuple[str, str]]:
    test = "" if d.test is None else f"{d.test:.4f}"
    gap = "" if d.dev_test_gap is None else f"{d.dev_test_gap:+.4f}"
    return [("train error", f"{d.train:.4f}"), ("dev (val) error", f"{d.dev:.4f}"), ("test error", test),
            ("best achievable", f"{d.bayes:.4f} ({d.bayes_source})"),
            ("avoidable bias", f"{d.avoidable_bias:+.4f} (high above {d.thresholds.bias:.4g})"),
            ("variance", f"{d.variance:+.4f} (high above {d.thresholds.variance:.4g})"),
            ("dev -> test", f"{gap} (mismatch above {d.thresholds.mismatch:.4g})")]


def diagnosis_panel(d) -> Panel:
    table = Table.grid(padding=(0, 2))
    for name, value in _diagnosis_rows(d):
        table.add_row(name, value)
    steps = "\n".join(f"- {s}" for s in d.steps)
    curve = "\n".join(f"- {c}" for c in d.curve)
    parts = [table, f"\n[bold]verdict: {d.verdict}[/]", "\nnext steps:\n" + steps]
    if curve:
        parts.append("\nlearning curve:\n" + curve)
    return Panel(Group(*parts), title=f"diagnose {d.target} (n = {d.n}, error = {d.error_of})", expand=False)


def diagnosis_markdown(d) -> str:
    lines = [f"## diagnose {d.target} (n = {d.n}, error = {d.error_of})", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in _diagnosis_rows(d)]
    lines += ["", f"**verdict: {d.verdict}**", "", "Next steps:", *(f"- {s}" for s in d.steps)]
    if d.curve:
        lines += ["", "Learning curve:", *(f"- {c}" for c in d.curve)]
    return "\n".join(lines) + "\n"


def diagnosis_json(d) -> str:
    return json.dumps(d.to_json(), indent=2)


def learning_curve_text(curve, fmt: str) -> str:
    """The verdict of `diagnose --learning-curve` (the points were printed as they came) or all of it."""
    if fmt == "json":
        return json.dumps(curve.to_json(), indent=2)
    tail = f"verdict: {curve.verdict}" + (f"\nplot: {curve.plot}" if curve.plot else "")
    if fmt == "md":
        rows = [f"| {p.samples} | {p.train:.4f} | {p.dev:.4f} |" for p in curve.points]
        return "\n".join(["| samples | train error | dev error |", "|---|---|---|", *rows, "", tail])
    return f"[bold]{tail}[/]"


# ----------------------------------------------------------------------------------------- gradcheck
def gradcheck_table(result) -> Table:
    limits = result.to_json()["thresholds"]
    table = Table(title=f"gradient check: overall {result.overall:.2e} ({result.verdict}); "
                        f"fine < {limits['fine']:g}, likely bug > {limits['bug']:g}")
    for column in ("tensor", "checked", "difference", "verdict"):
        table.add_column(column, justify="left" if column in ("tensor", "verdict") else "right")
    for t in result.tensors:
        style = "red" if t.difference > limits["bug"] else "yellow" if t.difference > limits["fine"] else None
        table.add_row(t.name, f"{t.checked}/{t.size}", f"{t.difference:.2e}", t.verdict, style=style)
    return table
