"""The commands that read run folders: report, show, diff, diagnose, gradcheck, export and schema.
None imports TensorFlow except diagnose --learning-curve and gradcheck, which train."""


import sys
from pathlib import Path
from typing import Annotated

import typer

from regexp.cli.base import (
    RunsDir,
    SetOption,
    app,
    command,
    err,
    load,
    out,
    say,
    warn,
)
from regexp.errors import UserError
from regexp.registry.stat_tests import help_line


# ------------------------------------------------------------------------------------------ reading
@command()
def report(
    targets: Annotated[list[str], typer.Argument(help="Run folders, ids (prefixes) or globs; default: every run in "
                                                      "--runs-dir.", show_default=False)] = None,
    runs_dir: RunsDir = Path("runs"),
    sort: Annotated[str, typer.Option(help="Sort by a column, best first by its direction: val_loss ascending, "
                                           "val_accuracy descending.")] = None,
    filters: Annotated[list[str], typer.Option("--filter", help="Keep runs matching name=GLOB, tag=T, status=S or a "
                                                                "config key=value. Repeatable (all must match).")] = [],
    limit: Annotated[int, typer.Option(help="Show at most N rows (after sorting).", min=1)] = None,
    all_params: Annotated[bool, typer.Option("--all-params",
                                             help="Show every config key, not only those that differ.")] = False,
    expand: Annotated[bool, typer.Option("--expand", help="List the member runs under each group of repeats.")] = False,
    no_groups: Annotated[bool, typer.Option("--no-groups",
                                            help="One row per run, even for repeats of one spec.")] = False,
    group_by: Annotated[str, typer.Option(help="Group by this config key (or name) instead: every distinct config in a "
                                               "group is one sample, e.g. the trials of two random searches.")] = None,
    baseline: Annotated[str, typer.Option(help="Run or group (id, name, or config KEY=VALUE pairs, comma-separated, "
                                               "full or as the params column shows them: "
                                               "dropout=0.0,l2=0.001) to compare every other row against: the "
                                               "difference with its 95% CI, a t-test paired on the seeds both arms "
                                               "have (Welch's when they share none), adjusted p, effect size.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Column for the 95% CI and the baseline test (default: the "
                                                         "--sort metric, else val_<main metric>).")] = None,
    correction: Annotated[str, typer.Option(help="Adjust the p-values over the report's comparisons: holm "
                                                 "(family-wise) | bh (Benjamini-Hochberg, false discovery rate) | "
                                                 "none.")] = "holm",
    against: Annotated[str, typer.Option(help="Instead of a baseline row: compare each row's --metric column with this "
                                              "column of the same runs, paired by run (e.g. --metric test_mc_loss "
                                              "--against test_loss).")] = None,
    detect: Annotated[float, typer.Option(help="With --baseline: per arm, the seeds needed to detect a difference of "
                                               "DELTA with 80% power, from the observed spread.", min=1e-12)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table (terminal) | md | csv | json (machine interface) | "
                                                            "html (one self-contained file) | latex (a booktabs "
                                                            "table for a paper).")] = "table",
    across: Annotated[str, typer.Option(help="data: compare on each dataset (data.dataset or data.path), then "
                                             "aggregate over datasets as rliable does: IQM of normalized scores and "
                                             "P(improvement), stratified bootstrap CIs.")] = None,
    margin: Annotated[float, typer.Option(help="With --baseline: also test equivalence (TOST, two one-sided tests on "
                                               "the same pairing): an arm whose 90% CI of Δ lies within ±MARGIN, "
                                               "adjusted over the same family, is 'equivalent'.", min=1e-12)] = None,
    test: Annotated[str, typer.Option("--test", help=help_line())] = "t",
    cv_folds: Annotated[str, typer.Option("--cv-folds", help="Cross-validation: average (the folds of a seed "
                                                             "averaged, n = seeds) | nadeau-bengio (fold-level "
                                                             "corrected resampled t-test).")] = "average",
    failures: Annotated[str, typer.Option(help="drop: a comparison pairs only seeds with a value (the default) | "
                                               "worst: a failed or crashed seed counts as its arm's worst value, so "
                                               "an arm that fails more cannot gain from losing its bad seeds.")
                        ] = "drop",
    output: Annotated[Path, typer.Option(help="Write to this file instead of the terminal.")] = None,
    plot: Annotated[Path, typer.Option(help="Also draw learning curves to this .png or .svg file.")] = None,
    smooth: Annotated[float, typer.Option(help="Smooth the plotted curves: EWMA with bias correction, beta in [0, 1).",
                                          min=0.0, max=0.999)] = None,
    importance: Annotated[bool, typer.Option(
        "--importance", help="For each search sweep in the report: how much of the objective's variance each searched "
                             "parameter explains (fANOVA, Optuna) and the expected best objective vs the number of "
                             "trials (random, tpe).")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw the table whenever runs change (a running sweep's "
                                                        "decisions too), until Ctrl-C.")] = False,
):
    """Compare runs: one row per run or group of repeats, the params that differ, mean ± std, significance."""
    from regexp import __version__
    from regexp.report import FORMATS, cache, collector_paused
    from regexp.report.options import ReportOptions
    from regexp.store import scan as scanning

    if across is not None:
        from regexp.report.across import check_options

        check_options(across, fmt, plot)
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: not a format (allowed: {' | '.join(FORMATS)})")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        raise UserError(f"--plot {plot}: the file must end in .png or .svg")
    if watch and (output is not None or plot is not None or fmt != "table"):
        raise UserError("--watch: redraws the terminal table; it takes no --output, --plot or --format")
    options = ReportOptions(
        targets=tuple(targets or ()), runs_dir=runs_dir, filters=tuple(filters), sort=sort, limit=limit,
        all_params=all_params, expand=expand, no_groups=no_groups, group_by=group_by, baseline=baseline, metric=metric,
        correction=correction, against=against, detect=detect, failures=failures, margin=margin, test=test,
        cv_folds=cv_folds, importance=importance, across=across)
    terminal = (200, None, False) if output is not None else (out().width, out().color_system, out().is_terminal)
    rendering = {"fmt": fmt, "smooth": smooth, "terminal": terminal, "version": __version__}
    if watch:
        from regexp.views.watch import watch as watch_runs

        build_report, view = _builder(options)

        def render() -> tuple[str, int]:
            result = build_report(options)
            return view.terminal_text(result, *terminal), len(result.rows)
        return watch_runs(options, rendering, render, out())
    with collector_paused():  # one report, then the process ends: no cycle collections over 10,000 records
        # one stat per file, for the cache and the reading
        scanned = scanning.scan(runs_dir) if options.whole_folder else None
        cache_key = cache.key(scanned, options, rendering) if plot is None else None  # a plot is always drawn
        answer = cache.lookup(runs_dir, cache_key) if cache_key else None
        if answer is None:
            answer = _build_answer(options, scanned, cache_key, plot, fmt, smooth, terminal)
    if output is None:
        sys.stdout.write(answer["text"])
    else:
        output.write_text(answer["text"], encoding="utf-8")
    for warning in answer["warnings"]:
        warn(warning)


def _builder(options):
    """(build, view module): the report's, or with --across the same options per dataset, then the aggregate."""
    if options.across:
        from regexp.report.across import build_across
        from regexp.views import across

        return build_across, across
    from regexp.report import build_report
    from regexp.views import report

    return build_report, report


def _build_answer(options, scanned, cache_key: str | None, plot: Path | None, fmt: str, smooth: float | None,
                  terminal: tuple) -> dict:
    """{"text", "warnings"} of a report built now (and remembered in the cache when it has a key)."""
    from regexp.report import cache

    build_report, view = _builder(options)
    result = build_report(options, scanned)
    if not result.rows:
        say(f"no runs in {options.runs_dir}" + (" match the filters" if options.filters else ""), err())
    if plot is not None:
        from regexp.views import figure as plots

        plots.save(result, plot, smooth)
    text = view.terminal_text(result, *terminal) if fmt == "table" else view.as_text(result, fmt, smooth)
    if cache_key and result.rows:
        cache.store(options.runs_dir, cache_key, text, result.warnings, view.running(result))
    return {"text": text, "warnings": result.warnings}


@command()
def show(run: Annotated[str, typer.Argument(help="A run folder or id (prefix).", show_default=False)],
         runs_dir: RunsDir = Path("runs")):
    """Everything about one run: status, metrics, the per-epoch history, config and files."""
    from regexp.store.folders import find_one_run
    from regexp.views.run import show as show_run

    out().print(show_run(find_one_run(run, runs_dir)))


@command()
def diff(run_a: Annotated[str, typer.Argument(help="First run (A).", show_default=False)],
         run_b: Annotated[str, typer.Argument(help="Second run (B).", show_default=False)],
         runs_dir: RunsDir = Path("runs")):
    """The config keys that differ between two runs and the metric deltas (B - A)."""
    from regexp.store.folders import find_one_run
    from regexp.views.run import diff_tables

    out().print(diff_tables(find_one_run(run_a, runs_dir), find_one_run(run_b, runs_dir)))


@command()
def diagnose(
    target: Annotated[str, typer.Argument(help="A run or group (id, id prefix or name); with --learning-curve, a spec "
                                               "file.", show_default=False)],
    runs_dir: Annotated[Path, typer.Option(
                            help="Where run folders are read (and, for --learning-curve, written).")] = Path("runs"),
    bayes_error: Annotated[float, typer.Option(help="Best achievable error (default: the spec's "
                                                    "evaluation.bayes_error, else 0).", min=0.0)] = None,
    bias_threshold: Annotated[float, typer.Option(help="Avoidable bias above this is high (default 0.02; regression: "
                                                       "0.1 x dev error).", min=0.0)] = None,
    variance_threshold: Annotated[float, typer.Option(help="Dev minus train error above this is high (same default).",
                                                      min=0.0)] = None,
    mismatch_threshold: Annotated[float, typer.Option(help="Test minus dev error above this is a mismatch (same "
                                                           "default).", min=0.0)] = None,
    learning_curve: Annotated[bool, typer.Option("--learning-curve", help="Train TARGET (a spec) on growing fractions "
                                                                          "of its train part.")] = False,
    fractions: Annotated[str, typer.Option(help="Learning curve: fractions of the train part, "
                                                "comma-separated.")] = "0.1,0.25,0.5,1.0",
    plot: Annotated[Path, typer.Option(help="Learning curve: write the plot to this PNG.")] = None,
    overrides: SetOption = [],
    fmt: Annotated[str, typer.Option("--format", "-f", help="panel (terminal) | json | md.")] = "panel",
):
    """Bias or variance? The recipe's verdict and next steps for a run or group, or from a learning curve."""
    from regexp.report import diagnose as dx
    from regexp.views import commands as view

    if fmt not in ("panel", "json", "md"):
        raise UserError(f"--format {fmt}: not a format (allowed: panel | json | md)")
    if learning_curve:
        steps = dx.parse_fractions(fractions)
        (loaded,) = load([Path(target)], overrides)
        if fmt == "panel":
            out().print(f"[bold]learning curve of {target}[/] (fractions {', '.join(f'{f:g}' for f in steps)})",
                        highlight=False)
        curve = dx.learning_curve(loaded, overrides, runs_dir, steps, bayes=bayes_error, threshold=bias_threshold,
                                  plot=plot, console=out() if fmt == "panel" else None)
        text = view.learning_curve_text(curve, fmt)
        out().print(text, highlight=False) if fmt == "panel" else print(text)
        return
    limits = {"bias": bias_threshold, "variance": variance_threshold, "mismatch": mismatch_threshold}
    result = dx.diagnose_target(target, runs_dir, bayes=bayes_error, thresholds=limits)
    if fmt == "json":
        print(view.diagnosis_json(result))
    elif fmt == "md":
        print(view.diagnosis_markdown(result), end="")
    else:
        out().print(view.diagnosis_panel(result))


@command()
def gradcheck(spec: Annotated[Path,
                    typer.Argument(help="A spec file: its model is checked in float64, without dropout or noise.",
                                   show_default=False)],
    overrides: SetOption = [],
    samples: Annotated[int, typer.Option(help="Entries checked per tensor (seeded sample); 0 checks every entry.",
                                         min=0)] = 30,
    batch: Annotated[int, typer.Option(help="Training samples in the batch.", min=1)] = 16,
    after_steps: Annotated[int, typer.Option(help="First train this many steps with the spec's optimizer (in float64, "
                                                  "dropout and noise off): check away from the initial weights.",
                                             min=0)] = 0,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | json.")] = "table",
):
    """Compare backprop's gradients with two-sided numerical differences; exit 1 when one looks like a bug."""
    load([spec], overrides)
    from regexp.trial.gradcheck import check_spec
    from regexp.views.commands import gradcheck_table

    result = check_spec(spec, overrides, batch=batch, samples=samples or None, after_steps=after_steps)
    if fmt == "json":
        import json

        print(json.dumps(result.to_json(), indent=2))
    else:
        out().print(gradcheck_table(result))
    if result.failed:
        raise typer.Exit(1)


export_app = typer.Typer(help="Send run folders where users already look.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@command(group=export_app, name="mlflow")
def export_mlflow(
    targets: Annotated[list[str], typer.Argument(help="Run folders, ids (prefixes) or globs; default: every run in "
                                                      "--runs-dir.", show_default=False)] = None,
    runs_dir: RunsDir = Path("runs"),
    filters: Annotated[list[str], typer.Option("--filter", help="As in report: name=GLOB, tag=T, status=S, "
                                                                "parent=SWEEP or a config key=value.")] = [],
    tracking_uri: Annotated[str, typer.Option(help="The MLflow tracking store, e.g. sqlite:///mlflow.db or "
                                                   "http://host:5000.")] = "sqlite:///mlflow.db",
):
    """Log run folders into MLflow (params, per-epoch metrics, tags, model.keras); exporting twice adds nothing."""
    from regexp.report.collect import matches
    from regexp.report.export_mlflow import export
    from regexp.store.folders import find_runs, read_run

    runs = [run for run in map(read_run, find_runs(targets or [], runs_dir)) if all(matches(run, f) for f in filters)]
    done = export(runs, tracking_uri)
    say(f"{tracking_uri}: {len(done.created)} runs exported, {len(done.replaced)} replaced (their status changed), "
        f"{len(done.skipped)} already there")


@command()
def status(
    specs: Annotated[list[Path], typer.Argument(help="Spec files or folders (searched for *.yaml); default: configs/.",
                                                show_default=False)] = None,
    runs_dir: RunsDir = Path("runs"),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when any spec is not up to date (for CI and "
                                                        "pre-commit hooks).")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text | json.")] = "text",
):
    """One line per spec: not run, up to date, stale (and why), running, failed."""
    import json

    from regexp.sweep.freshness import read_runs, spec_status

    if fmt not in ("text", "json"):
        raise UserError(f"--format {fmt}: not a format (allowed: text | json)")
    files = []
    for target in specs or [Path("configs")]:
        if target.is_dir():
            files += sorted(target.rglob("*.yaml"))
        elif target.is_file():
            files.append(target)
        else:
            raise UserError(f"{target}: no such spec file or folder")
    runs = read_runs(runs_dir)
    found = [spec_status(file, runs, runs_dir) for file in files]
    if fmt == "json":
        print(json.dumps([s.to_json() for s in found], indent=2))
    else:
        for s in found:
            say(s.line())
    if check and any(s.state != "up to date" for s in found):
        raise typer.Exit(1)


@app.command()
def schema():
    """Print the JSON Schema of a spec (for editors: YAML language server)."""
    import json

    from regexp.spec.schema import Spec

    print(json.dumps(Spec.model_json_schema(), indent=2))
