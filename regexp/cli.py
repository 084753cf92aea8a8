"""The `regexp` command. Thin commands: each parses its options and calls one library function.

TensorFlow is imported only inside `train`, so `--help`, `validate` and `schema` start fast.
User mistakes exit with code 2 and no traceback; a run that fails after it started exits with 1;
an interrupted one with 130 (Ctrl-C) or 143 (SIGTERM).
"""

import json
import os
import signal
from functools import cache
from pathlib import Path
from typing import Annotated

import typer

from regexp.errors import RunFailed, SpecError

app = typer.Typer(help="Run and compare regularization experiments on neural networks from YAML specs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@cache
def out():
    # rich is imported on first output: about 20 ms that `schema` and a clean `validate` never need
    from rich.console import Console

    return Console()


@cache
def err():
    from rich.console import Console

    return Console(stderr=True)


def escape(text: str) -> str:
    """User text ([0.1, 0.2], paths) is not rich markup."""
    from rich.markup import escape

    return escape(text)


SetOption = Annotated[list[str], typer.Option(
    "--set", metavar="KEY=VALUE", help="Override a spec key, e.g. --set training.epochs=5 or "
                                       "--set model.layers.0.units=128 (the value is YAML). Repeatable.")]
SpecFiles = Annotated[list[Path], typer.Argument(help="Spec files (YAML).", show_default=False)]


def _warn(warning) -> None:
    err().print(f"[yellow]warning:[/] {escape(str(warning))}", highlight=False, soft_wrap=True)


def _fail(problems: list[str], code: int = 2):
    for line in problems:
        err().print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load_all(files: list[Path], overrides: list[str]):
    from regexp.spec import load_spec

    loaded, problems = [], []
    for file in files:
        try:
            loaded.append(load_spec(file, overrides))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        _fail(problems)
    return loaded


@app.command()
def train(
    specs: SpecFiles,
    overrides: SetOption = [],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display (log.txt still gets everything).")] = False,
):
    """Train each spec in turn; every run writes a folder under --runs-dir."""
    loaded = _load_all(specs, overrides)  # every spec is checked before the first one trains
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up notes (CUDA probing)
    signal.signal(signal.SIGTERM, _sigterm)
    from regexp.train import train as train_one

    failed = 0
    for spec in loaded:
        if spec.spec.search is not None:
            err().print(f"note: {spec.file} has a search; `train` runs the spec as written, "
                        f"`regexp sweep {spec.file}` runs the search", highlight=False)
        if spec.spec.seeds() != [spec.spec.seed] or spec.spec.cv is not None:
            failed += _run_trials(spec, overrides, runs_dir, workers=1, quiet=quiet, search=False)
            continue
        try:
            path = train_one(spec, runs_dir, console=None if quiet else out())
        except SpecError as exc:
            _fail(exc.problems)
        except RunFailed as exc:
            err().print(f"[red]run failed:[/] {escape(exc.reason)}\n  folder: {exc.run_path}", highlight=False, soft_wrap=True)
            failed += 1
            continue
        except KeyboardInterrupt as exc:
            _interrupted(exc)
        out().print(f"run folder: {path}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def resume(
    run: Annotated[Path, typer.Argument(help="An interrupted or crashed run folder.", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
):
    """Continue an interrupted or crashed run from its last completed epoch, in the same folder."""
    if not (run / "run.json").is_file():
        _fail([f"{run}: not a run folder (no run.json)"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGTERM, _sigterm)
    from regexp.train import resume as resume_run

    try:
        path = resume_run(run, console=None if quiet else out())
    except SpecError as exc:
        _fail(exc.problems)
    except RunFailed as exc:
        _fail([f"run failed: {exc.reason}", f"folder: {exc.run_path}"], code=1)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    out().print(f"run folder: {path}", highlight=False, soft_wrap=True)


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder with a model.keras.", show_default=False)],
    mc_dropout: Annotated[int, typer.Option(help="Also average this many test passes with dropout on.", min=0, max=1000)] = 0,
):
    """Reload a run's model (Keras safe mode; Lambda layers and foreign classes are refused) and score it again."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rich.table import Table

    from regexp.evaluate import evaluate_run

    try:
        now, recorded = evaluate_run(run, mc_dropout)
    except SpecError as exc:
        _fail(exc.problems)
    table = Table(title=f"{run.name}: model.keras scored again", header_style="bold")
    for column in ("part", "metric", "now", "metrics.json"):
        table.add_column(column, justify="left" if column in ("part", "metric") else "right")
    for part, values in now.items():
        for name, value in values.items():
            old = recorded[part].get(name)
            table.add_row(part, name, f"{value:.4f}", "" if not isinstance(old, (int, float)) else f"{old:.4f}")
    out().print(table)


def _sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")  # a run stopped by `kill` is interrupted and resumable, like Ctrl-C


def _interrupted(exc: KeyboardInterrupt):
    how = getattr(exc, "how", "Ctrl-C")
    where = f" {exc.run_path}" if getattr(exc, "run_path", None) else ""
    err().print(f"[red]interrupted[/] ({how}): the run folder{where} is marked interrupted; "
                f"`regexp resume{where or ' RUN'}` continues it", highlight=False, soft_wrap=True)
    raise typer.Exit(143 if how == "SIGTERM" else 130)


def _run_trials(spec, overrides: list[str], runs_dir: Path, *, workers: int, quiet: bool, search: bool,
                resume: Path | None = None, max_failures: int = 3, pool=None) -> int:
    """repeat/cv (and search, for sweep) through the trial runner; returns 1 if any trial failed."""
    from regexp.sweep import SweepStopped, run_sweep

    if not search and spec.spec.search is not None:
        overrides = [*overrides, "search=null"]
        from regexp.spec import load_spec
        spec = load_spec(spec.file, overrides)
    try:
        sweep = run_sweep(spec, overrides, runs_dir, workers=workers, resume=resume, max_failures=max_failures,
                          console=None if quiet else out(), pool=pool)
    except SpecError as exc:
        _fail(exc.problems)
    except SweepStopped as exc:
        _fail([f"sweep stopped: {exc}"], code=1)
    except KeyboardInterrupt:
        err().print("[red]interrupted[/]: running trials are marked interrupted; run the same command to resume")
        raise typer.Exit(130)
    state = sweep.state
    out().print(f"{state['kind']} folder: {sweep.path}  ({state['status']})", highlight=False, soft_wrap=True)
    if state["best"] is not None:
        best = state["best"]
        point = ", ".join(f"{k}={v}" for k, v in best["point"].items()) or "the spec"
        out().print(f"best: {point}: {state['objective']['metric']} {best['objective']:.4f} (mean of {best['n']})",
                    highlight=False, soft_wrap=True)
    out().print(f"compare: regexp report --filter parent={sweep.path.name}", highlight=False, soft_wrap=True)
    return 0 if state["status"] == "completed" else 1


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="A spec with repeat, cv and/or search.", show_default=False)],
    overrides: SetOption = [],
    workers: Annotated[int, typer.Option(help="Trials in parallel (default: the number of cores; with Ray, what the cluster fits).", min=1)] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders and the sweep folder are written (with Ray: a path every node reaches).")] = Path("runs"),
    resume: Annotated[Path, typer.Option(help="Continue this sweep folder: skip completed trials, rerun the rest.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the planned trials and stop.")] = False,
    max_failures: Annotated[int, typer.Option(help="Stop after this many trials fail in a row.", min=1)] = 3,
    executor: Annotated[str, typer.Option(help="local (worker processes here) | ray (Ray tasks; pip install 'regexp[ray]').")] = "local",
    address: Annotated[str, typer.Option(help="Ray cluster address (default: start a local Ray instance).")] = None,
    cpus_per_trial: Annotated[float, typer.Option(help="Ray: CPUs each trial reserves.", min=0.0)] = 1.0,
    gpus_per_trial: Annotated[float, typer.Option(help="Ray: GPUs each trial reserves (fractions share a GPU).", min=0.0)] = 0.0,
    shared_fs: Annotated[bool, typer.Option("--shared-fs/--no-shared-fs", help="Ray: --runs-dir is on a filesystem every node shares; otherwise run folders travel back to this machine.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
):
    """Run every trial of a spec: search points × repeat seeds × cv folds, in parallel, resumable."""
    (loaded,) = _load_all([spec], overrides)
    if executor not in ("local", "ray"):
        _fail([f"--executor {executor}: not an executor (allowed: local | ray)"])
    if dry_run:
        _print_plan(loaded, overrides)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    pool = None
    if executor == "ray":
        from regexp.ray_executor import RayPool

        try:
            pool = RayPool(address, cpus_per_trial, gpus_per_trial, shared_fs)
        except SpecError as exc:
            _fail(exc.problems)
        workers = workers or pool.slots
    code = _run_trials(loaded, overrides, runs_dir, workers=workers or os.cpu_count() or 1, quiet=quiet,
                       search=True, resume=resume, max_failures=max_failures, pool=pool)
    raise typer.Exit(code)


def _print_plan(loaded, overrides: list[str]) -> None:
    from rich.table import Table

    from regexp.plan import plan_round, rounds

    try:
        trials = plan_round(loaded, overrides)
    except SpecError as exc:
        _fail(exc.problems)
    table = Table(title=f"{len(trials)} trials" + (f" in round 1 of {rounds(loaded)} (later rounds depend on results)"
                                                    if rounds(loaded) > 1 else ""))
    paths = [path for path, _ in trials[0].point] if trials else []
    for column in ("#", *paths, "seed", "fold", "key"):
        table.add_column(column, justify="right" if column != "key" else "left")
    for i, trial in enumerate(trials, 1):
        values = [f"{v:.4g}" if isinstance(v, float) else str(v) for _, v in trial.point]
        table.add_row(str(i), *values, str(trial.seed), "" if trial.fold is None else str(trial.fold), trial.key)
    out().print(table)


@app.command()
def validate(specs: SpecFiles, overrides: SetOption = []):
    """Check specs (keys, values, data paths) without training."""
    from regexp.spec.load import resolve_data_path

    problems = []
    for spec in _load_all(specs, overrides):
        for warning in spec.warnings:
            _warn(warning)
        if spec.spec.data.path is not None and not resolve_data_path(spec).exists():
            problems.append(spec.error("data.path", f"{resolve_data_path(spec)} does not exist").problems[0])
            continue
        print(f"{spec.file}: ok")
    if problems:
        _fail(problems)


ReportFormat = typer.Option("--format", "-f", help="table (terminal) | md | csv | json (machine interface) | html (one self-contained file).")


@app.command()
def report(
    targets: Annotated[list[str], typer.Argument(help="Run folders, ids (prefixes) or globs; default: every run in --runs-dir.", show_default=False)] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are read from.")] = Path("runs"),
    sort: Annotated[str, typer.Option(help="Sort by a column, best first by its direction: val_loss ascending, val_accuracy descending.")] = None,
    filters: Annotated[list[str], typer.Option("--filter", help="Keep runs matching name=GLOB, tag=T, status=S or a config key=value. Repeatable (all must match).")] = [],
    limit: Annotated[int, typer.Option(help="Show at most N rows (after sorting).", min=1)] = None,
    all_params: Annotated[bool, typer.Option("--all-params", help="Show every config key, not only those that differ.")] = False,
    expand: Annotated[bool, typer.Option("--expand", help="List the member runs under each group of repeats.")] = False,
    no_groups: Annotated[bool, typer.Option("--no-groups", help="One row per run, even for repeats of one spec.")] = False,
    baseline: Annotated[str, typer.Option(help="Run or group (id or name) to compare every other row against, with a t-test over seeds.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Column for the 95% CI and the baseline test (default: the --sort metric, else val_<main metric>).")] = None,
    fmt: Annotated[str, ReportFormat] = "table",
    output: Annotated[Path, typer.Option(help="Write to this file instead of the terminal.")] = None,
    plot: Annotated[Path, typer.Option(help="Also draw learning curves to this .png or .svg file.")] = None,
    smooth: Annotated[float, typer.Option(help="Smooth the plotted curves: EWMA with bias correction, beta in [0, 1).", min=0.0, max=0.999)] = None,
):
    """Compare runs: one row per run or group of repeats, the params that differ, mean ± std, significance."""
    from regexp.report import build_report
    from regexp.report import render

    formats = ("table", "md", "csv", "json", "html")
    if fmt not in formats:
        _fail([f"--format {fmt}: not a format (allowed: {' | '.join(formats)})"])
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        _fail([f"--plot {plot}: the file must end in .png or .svg"])
    try:
        result = build_report(targets or [], runs_dir, filters=filters, sort=sort, limit=limit, all_params=all_params,
                              expand=expand, baseline=baseline, focus=metric, group=not no_groups)
    except (LookupError, ValueError) as exc:
        _fail([f"--baseline {exc}" if baseline and str(exc).startswith(baseline) else str(exc)])
    if not result.rows:
        err().print(f"no runs in {runs_dir}" + (" match the filters" if filters else ""), highlight=False)
    if plot is not None or fmt == "html":
        from regexp.report import plots
    if plot is not None:
        plots.save(result, plot, smooth)
    if fmt == "table":
        from rich.console import Console

        table = out() if output is None else Console(file=output.open("w", encoding="utf-8"), width=200)
        table.print(render.to_terminal(result, width=table.width))
        for warning in result.warnings:
            _warn(warning)
        return
    text = {"md": render.to_markdown, "csv": render.to_csv, "json": render.to_json}[fmt](result) if fmt != "html" \
        else render.to_html(result, plots.png_bytes(result, smooth) if result.rows else None)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
    for warning in result.warnings:
        _warn(warning)


def _one_run(target: str, runs_dir: Path):
    from regexp.runs import find_runs, read_run

    try:
        found = find_runs([target], runs_dir)
    except LookupError as exc:
        _fail([str(exc)])
    if len(found) > 1:
        _fail([f"{target!r} matches {len(found)} runs: {', '.join(p.name for p in found[:5])}; name one"])
    return read_run(found[0])


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="A run folder or id (prefix).", show_default=False)],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are read from.")] = Path("runs"),
):
    """Everything about one run: status, metrics, the per-epoch history, config and files."""
    from regexp.report.inspect import show as show_run

    out().print(show_run(_one_run(run, runs_dir)))


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="First run (A).", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="Second run (B).", show_default=False)],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are read from.")] = Path("runs"),
):
    """The config keys that differ between two runs and the metric deltas (B - A)."""
    from regexp.report.inspect import diff_tables

    out().print(diff_tables(_one_run(run_a, runs_dir), _one_run(run_b, runs_dir)))


@app.command()
def diagnose(
    target: Annotated[str, typer.Argument(help="A run or group (id, id prefix or name); with --learning-curve, a spec file.", show_default=False)],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are read (and, for --learning-curve, written).")] = Path("runs"),
    bayes_error: Annotated[float, typer.Option(help="Best achievable error (default: the spec's evaluation.bayes_error, else 0).", min=0.0)] = None,
    bias_threshold: Annotated[float, typer.Option(help="Avoidable bias above this is high (default 0.02; regression: 0.1 x dev error).", min=0.0)] = None,
    variance_threshold: Annotated[float, typer.Option(help="Dev minus train error above this is high (same default).", min=0.0)] = None,
    mismatch_threshold: Annotated[float, typer.Option(help="Test minus dev error above this is a mismatch (same default).", min=0.0)] = None,
    learning_curve: Annotated[bool, typer.Option("--learning-curve", help="Train TARGET (a spec) on growing fractions of its train part.")] = False,
    fractions: Annotated[str, typer.Option(help="Learning curve: fractions of the train part, comma-separated.")] = "0.1,0.25,0.5,1.0",
    plot: Annotated[Path, typer.Option(help="Learning curve: write the plot to this PNG.")] = None,
    overrides: SetOption = [],
    fmt: Annotated[str, typer.Option("--format", "-f", help="panel (terminal) | json | md.")] = "panel",
):
    """Bias or variance? The recipe's verdict and next steps for a run or group, or from a learning curve."""
    from regexp import diagnose as dx

    if fmt not in ("panel", "json", "md"):
        _fail([f"--format {fmt}: not a format (allowed: panel | json | md)"])
    limits = {"bias": bias_threshold, "variance": variance_threshold, "mismatch": mismatch_threshold}
    if learning_curve:
        _learning_curve(Path(target), overrides, runs_dir, fractions, plot, bayes_error, limits, fmt)
        return
    from regexp.report import build_report, find_row

    try:
        exact_run = (runs_dir / target).is_dir() or Path(target).is_dir()
        report = build_report([target] if Path(target).is_dir() else [], runs_dir, group=not exact_run)
        row = report.rows[0] if Path(target).is_dir() else find_row(report.rows, target)
        result = dx.diagnose_row(row, report.metric, bayes=bayes_error, thresholds=limits)
    except (LookupError, ValueError) as exc:
        _fail([str(exc)])
    if fmt == "json":
        print(json.dumps(result.to_json(), indent=2))
    elif fmt == "md":
        print(_diagnosis_markdown(result), end="")
    else:
        out().print(_diagnosis_panel(result))


def _diagnosis_rows(d) -> list[tuple[str, str]]:
    test = "" if d.test is None else f"{d.test:.4f}"
    gap = "" if d.dev_test_gap is None else f"{d.dev_test_gap:+.4f}"
    return [("train error", f"{d.train:.4f}"), ("dev (val) error", f"{d.dev:.4f}"), ("test error", test),
            ("best achievable", f"{d.bayes:.4f} ({d.bayes_source})"),
            ("avoidable bias", f"{d.avoidable_bias:+.4f} (high above {d.thresholds.bias:.4g})"),
            ("variance", f"{d.variance:+.4f} (high above {d.thresholds.variance:.4g})"),
            ("dev -> test", f"{gap} (mismatch above {d.thresholds.mismatch:.4g})")]


def _diagnosis_panel(d):
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    for name, value in _diagnosis_rows(d):
        table.add_row(name, value)
    steps = "\n".join(f"- {s}" for s in d.steps)
    curve = "\n".join(f"- {c}" for c in d.curve)
    parts = [table, f"\n[bold]verdict: {d.verdict}[/]", "\nnext steps:\n" + steps]
    if curve:
        parts.append("\nlearning curve:\n" + curve)
    return Panel(Group(*parts), title=f"diagnose {d.target} (n = {d.n}, error = {d.error_of})", expand=False)


def _diagnosis_markdown(d) -> str:
    lines = [f"## diagnose {d.target} (n = {d.n}, error = {d.error_of})", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in _diagnosis_rows(d)]
    lines += ["", f"**verdict: {d.verdict}**", "", "Next steps:", *(f"- {s}" for s in d.steps)]
    if d.curve:
        lines += ["", "Learning curve:", *(f"- {c}" for c in d.curve)]
    return "\n".join(lines) + "\n"


def _learning_curve(spec: Path, overrides, runs_dir, fractions: str, plot, bayes_error, limits, fmt) -> None:
    from regexp import diagnose as dx

    try:
        steps = sorted(float(f) for f in fractions.split(","))
    except ValueError:
        _fail([f"--fractions {fractions}: expected comma-separated numbers, e.g. 0.1,0.25,0.5,1.0"])
    if not steps or steps[0] <= 0 or steps[-1] > 1:
        _fail([f"--fractions {fractions}: each fraction must be in (0, 1]"])
    (loaded,) = _load_all([spec], overrides)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if fmt == "panel":
        out().print(f"[bold]learning curve of {spec}[/] (fractions {', '.join(f'{f:g}' for f in steps)})", highlight=False)
    try:
        points, metric = dx.learning_curve(spec, overrides, runs_dir, steps, console=None if fmt != "panel" else out())
    except SpecError as exc:
        _fail(exc.problems)
    except RunFailed as exc:
        _fail([f"run failed: {exc.reason} ({exc.run_path})"], code=1)
    bayes = bayes_error if bayes_error is not None else (loaded.spec.evaluation.bayes_error or 0.0)
    threshold = limits["bias"] or (dx.DEFAULT_CLASSIFICATION_THRESHOLD if metric == "accuracy"
                                   else dx.DEFAULT_REGRESSION_FRACTION * points[-1].dev)
    verdict = dx.read_curve(points, bayes, threshold)
    if plot is not None:
        dx.plot_curve(points, bayes, plot, metric)
    if fmt == "json":
        print(json.dumps({"metric": metric, "bayes_error": bayes, "threshold": threshold, "verdict": verdict,
                          "points": [p.__dict__ for p in points], "plot": str(plot) if plot else None}, indent=2))
        return
    tail = f"verdict: {verdict}" + (f"\nplot: {plot}" if plot else "")
    if fmt == "md":
        rows = [f"| {p.samples} | {p.train:.4f} | {p.dev:.4f} |" for p in points]
        print("\n".join(["| samples | train error | dev error |", "|---|---|---|", *rows, "", tail]))
    else:
        out().print(f"[bold]{tail}[/]", highlight=False)


@app.command()
def gradcheck(
    spec: Annotated[Path, typer.Argument(help="A spec file: its model is checked in float64, without dropout or noise.", show_default=False)],
    overrides: SetOption = [],
    samples: Annotated[int, typer.Option(help="Entries checked per tensor (seeded sample); 0 checks every entry.", min=0)] = 30,
    batch: Annotated[int, typer.Option(help="Training samples in the batch.", min=1)] = 16,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | json.")] = "table",
):
    """Compare backprop's gradients with two-sided numerical differences; exit 1 when one looks like a bug."""
    _load_all([spec], overrides)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from regexp.gradcheck import BUG, FINE, check_spec

    try:
        result = check_spec(spec, overrides, batch=batch, samples=samples or None)
    except SpecError as exc:
        _fail(exc.problems)
    if fmt == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"gradient check: overall {result.overall:.2e} ({result.verdict}); "
                            f"fine < {FINE:g}, likely bug > {BUG:g}")
        for column in ("tensor", "checked", "difference", "verdict"):
            table.add_column(column, justify="left" if column in ("tensor", "verdict") else "right")
        for t in result.tensors:
            style = "red" if t.difference > BUG else "yellow" if t.difference > FINE else None
            table.add_row(t.name, f"{t.checked}/{t.size}", f"{t.difference:.2e}", t.verdict, style=style)
        out().print(table)
    if result.failed:
        raise typer.Exit(1)


@app.command()
def schema():
    """Print the JSON Schema of a spec (for editors: YAML language server)."""
    from regexp.spec.schema import Spec

    print(json.dumps(Spec.model_json_schema(), indent=2))
