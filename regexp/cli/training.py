"""The commands that train or check what will train: train, resume, sweep, validate, evaluate,
predict and `data fetch`. Each parses its options, calls one library function and hands the result to
a view (regexp/views/); errors take the one path of base.py's `command`: a UserError (a bad spec, option
or target) exits with 2 and no traceback; a run that fails after it started with 1; an interrupted one
with 130 (Ctrl-C) or 143 (SIGTERM). TensorFlow is imported only inside the commands that need it."""


import os
from pathlib import Path
from typing import Annotated

import typer

from regexp.cli.base import (
    PackOption,
    Quiet,
    SetOption,
    SpecFiles,
    app,
    command,
    err,
    load,
    out,
    pack_setting,
    progress,
    run_failed,
    say,
    warn,
)
from regexp.errors import RunFailed, UserError
from regexp.registry.datasets import downloaded, keras_cache

# ------------------------------------------------------------------------------------------ training
NeededOption = Annotated[bool, typer.Option("--needed", help="Train only the trials with no up-to-date completed "
                                                              "run (same resolved config and data) in --runs-dir; "
                                                              "say what was skipped.")]
BoardOption = Annotated[bool, typer.Option("--tensorboard", help="Also write TensorBoard event files with an HParams "
                                                                "summary per run (as logging.tensorboard: true).")]
FetchOption = Annotated[bool, typer.Option("--fetch", help=f"First download a missing {'/'.join(downloaded())} "
                                                            "into the Keras cache (as `regexp data fetch`).")]


def up_to_date(loaded, overrides: list[str], runs_dir: Path, search: bool) -> dict[str, str]:
    """{trial key: its up-to-date run folder} for --needed (a decide sweep: any seed it may plan)."""
    from regexp.sweep.freshness import needed_runs

    return needed_runs(loaded, overrides, runs_dir, search)


def read_tables(loaded: list) -> None:
    """Each spec's csv/parquet tables read before anything trains (an unreadable one exits 2 here), and what
    the reading inferred (notes) or found suspicious (warnings) said once, not once per trial."""
    for spec in loaded:
        if spec.spec.reads_files():
            from regexp.data.columns import check_columns

            for key, reading in check_columns(spec).items():
                for note in reading.notes:
                    say(f"note: {key} {reading.file}: {note}", err())
                for warning in reading.warnings:
                    warn(f"{key} {reading.file}: {warning}")


def fetch_missing(loaded: list, quiet: bool) -> None:
    from regexp.data.fetch import missing

    for name in dict.fromkeys(spec.spec.data.dataset for spec in loaded):
        if name in downloaded() and missing(name):
            data_fetch(name, quiet=quiet)


@command(trains=True)
def train(specs: SpecFiles, overrides: SetOption = [],
          runs_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("runs"),
          pack: PackOption = "auto", fetch: FetchOption = False, tensorboard: BoardOption = False,
          needed: NeededOption = False, quiet: Quiet = False):
    """Train each spec in turn; every run writes a folder under --runs-dir (repeat/cv: packed as in sweep)."""
    pack = pack_setting(pack)
    overrides = [*overrides, *(["logging.tensorboard=true"] if tensorboard else [])]
    loaded = load(specs, overrides)  # every spec is checked before the first one trains
    read_tables(loaded)
    if fetch:
        fetch_missing(loaded, quiet)
    from regexp.store.contract import Status
    from regexp.sweep.runner import has_trials, run_trials
    from regexp.trial.train import train as train_one
    from regexp.views.commands import sweep_summary

    failed = 0
    for spec in loaded:
        if spec.spec.search is not None:
            say(f"note: {spec.file} has a search; `train` runs the spec as written, "
                f"`regexp sweep {spec.file}` runs the search", err())
        fresh = up_to_date(spec, overrides, runs_dir, search=False) if needed else None
        if fresh and not has_trials(spec):
            say(f"{spec.file}: skipped, up to date ({next(iter(fresh.values()))}) (--needed)")
            continue
        if fresh is not None and not has_trials(spec):
            say(f"{spec.file}: no up-to-date run in {runs_dir}, training it (--needed)")
        if has_trials(spec):
            sweep = run_trials(spec, overrides, runs_dir, search=False, console=progress(quiet), pack=pack,
                               needed=fresh)
            for line in sweep_summary(sweep):
                say(line)
            failed += sweep.state.status != Status.COMPLETED
            continue
        try:
            say(f"run folder: {train_one(spec, runs_dir, console=progress(quiet))}")
        except RunFailed as exc:  # the next spec still trains
            run_failed(exc)
            failed += 1
    if failed:
        raise typer.Exit(1)


@command(trains=True)
def resume(run: Annotated[Path, typer.Argument(help="An interrupted or crashed run folder.", show_default=False)],
           changes: Annotated[list[str], typer.Option(
               "--set", metavar="KEY=VALUE", help="Change training.optimizer.learning_rate, training.epochs or "
                                                  "training.early_stopping.patience from the next epoch on (recorded "
                                                  "in run.json). Repeatable.")] = [],
           quiet: Quiet = False):
    """Continue an interrupted or crashed run from its last completed epoch, in the same folder."""
    from regexp.trial.train import resume as resume_run

    say(f"run folder: {resume_run(run, console=progress(quiet), changes=changes)}")


@command(trains=True)
def replay(run: Annotated[Path, typer.Argument(help="A completed run folder.", show_default=False)]):
    """Train a run again in a temporary folder: "identical" (exit 0), or where and why it differs (exit 1).

    From its config.yaml, seed and data (a packed trial with its whole pack); a difference names the first epoch
    and column and the likely cause (data, split, library versions, device, threads)."""
    from regexp.trial.replay import replay as replay_run

    result = replay_run(run)
    for line in result.lines():
        say(line)
    if not result.identical:
        raise typer.Exit(1)


@command()
def evaluate(run: Annotated[Path, typer.Argument(help="A run folder with a model.keras.", show_default=False)],
             mc_dropout: Annotated[int, typer.Option(help="Also average this many test passes with dropout on.", min=0,
                                                     max=1000)] = 0):
    """Reload a run's model (Keras safe mode; Lambda layers and foreign classes are refused) and score it again."""
    from regexp.trial.evaluate import evaluate_run
    from regexp.views.commands import evaluate_table

    out().print(evaluate_table(run.name, *evaluate_run(run, mc_dropout)))


@command()
def predict(run: Annotated[Path, typer.Argument(help="A completed run folder (its model.keras).", show_default=False)],
            inputs: Annotated[Path, typer.Argument(help="New rows: a .csv with a header (the run's target column is "
                                                        "dropped if present), an .npz with x, or a folder of images. "
                                                        "A data.window run: a csv series, one row per window "
                                                        "(row: the rows it reads); a data.text run: the csv's text "
                                                        "column or a folder of text files, read through the run's "
                                                        "vocabulary.txt.",
                                                   show_default=False)],
            mc_dropout: Annotated[int, typer.Option(help="Average this many passes with dropout on; adds std per class "
                                                          "and the entropy.", min=0, max=1000)] = 0,
            output: Annotated[Path, typer.Option(help="Write the csv here (default: standard output).")] = None):
    """Predict new rows with a run's model: class and probabilities per row, as csv."""
    from regexp.net.predict import predict_csv

    text, notes = predict_csv(run, inputs, mc_dropout)
    for note in notes:
        warn(note)
    print(text, end="") if output is None else output.write_text(text, encoding="utf-8")


@command(trains=True)
def sweep(
    spec: Annotated[Path, typer.Argument(help="A spec with repeat, cv and/or search.", show_default=False)],
    overrides: SetOption = [],
    workers: Annotated[int, typer.Option(help="Trials in parallel (default: the number of cores; with Ray, what the "
                                              "cluster fits).", min=1)] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders and the sweep folder are written (with Ray: a path "
                                                "every node reaches).")] = Path("runs"),
    resume: Annotated[Path,
                      typer.Option(help="Continue this sweep folder: skip completed trials, rerun the rest.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the planned trials and stop.")] = False,
    max_failures: Annotated[int, typer.Option(help="Stop after this many trials fail in a row.", min=1)] = 3,
    executor: Annotated[str, typer.Option(help="local (worker processes here) | ray (Ray tasks; pip install "
                                               "'regexp[ray]') | slurm (job arrays, the spec's `slurm` section; pip "
                                               "install 'regexp[slurm]').")] = "local",
    address: Annotated[str, typer.Option(help="Ray cluster address (default: start a local Ray instance).")] = None,
    cpus_per_trial: Annotated[float, typer.Option(help="Ray: CPUs each trial reserves.", min=0.0)] = 1.0,
    gpus_per_trial: Annotated[float, typer.Option(help="Ray: GPUs each trial reserves (fractions share a GPU).",
                                                  min=0.0)] = 0.0,
    shared_fs: Annotated[bool, typer.Option(
        "--shared-fs/--no-shared-fs",
        help="Ray: --runs-dir is on a filesystem every node shares; otherwise run folders travel back to this "
             "machine.")] = True,
    pack: PackOption = "auto",
    fetch: FetchOption = False,
    tensorboard: BoardOption = False,
    needed: NeededOption = False,
    quiet: Quiet = False,
):
    """Run every trial of a spec: search points × repeat seeds × cv folds, in parallel, resumable."""
    pack = pack_setting(pack)
    overrides = [*overrides, *(["logging.tensorboard=true"] if tensorboard else [])]
    (loaded,) = load([spec], overrides)
    read_tables([loaded])
    if fetch:
        fetch_missing([loaded], quiet)
    if executor not in ("local", "ray", "slurm"):
        raise UserError(f"--executor {executor}: not an executor (allowed: local | ray | slurm)")
    from regexp.views.commands import plan_table, sweep_summary

    halving = loaded.spec.search is not None and loaded.spec.search.halving is not None
    if dry_run:
        from regexp.sweep.runner import pack_lines, plan_packs
        from regexp.sweep.trials import plan_round, rounds

        trials = plan_round(loaded, overrides)
        if loaded.spec.decide is not None:  # the first look: each point's first batch of seeds
            from regexp.sweep import decide

            baseline, others = decide.arms(loaded)
            trials = decide.look_trials(loaded, 1, [baseline, *others])
            say(decide.plan_line(loaded))
        if executor == "slurm":
            from regexp.sweep.slurm_queue import slots

            workers = workers or slots(loaded.spec.slurm)
        packs = plan_packs(spec, overrides, trials, pack, workers or os.cpu_count() or 1, halving)
        out().print(plan_table(trials, rounds(loaded), packs))
        for line in pack_lines(packs, len(trials)):
            say(line)
        if executor == "slurm":
            from regexp.sweep.slurm_pool import plan_lines

            for line in plan_lines(loaded, runs_dir, resume, workers, len(packs)):
                say(line)
        if halving:
            from regexp.sweep.halving import rung_epochs

            rule = loaded.spec.search.halving
            rungs = rung_epochs(rule.eta, rule.min_epochs, loaded.spec.training.epochs)
            say(f"search.halving: rungs after epochs {', '.join(map(str, rungs))} of {loaded.spec.training.epochs}; "
                f"at each, the best 1/{rule.eta} of the points go on, the others end pruned")
        if loaded.spec.search is not None and loaded.spec.search.confirm is not None:
            from regexp.sweep.confirm import plan_line

            say(f"then {plan_line(loaded)}")
        return
    pool = None
    if executor == "ray" and not shared_fs and halving:  # each node would keep a rung ledger of its own
        raise UserError("search.halving with --executor ray needs --shared-fs: every trial reads and writes the "
                        "sweep folder's halving.json")
    if executor == "ray":
        from regexp.sweep.ray_pool import RayPool

        pool = RayPool(address, cpus_per_trial, gpus_per_trial, shared_fs)
        workers = workers or pool.slots
    if executor == "slurm":
        from regexp.sweep.slurm_pool import slurm_pool

        pool = slurm_pool(loaded, runs_dir, resume, workers, say=None if quiet else say)
        workers = workers or pool.slots
    from regexp.store.contract import Status
    from regexp.sweep.runner import run_trials

    fresh = up_to_date(loaded, overrides, runs_dir, search=True) if needed else None
    result = run_trials(loaded, overrides, runs_dir, search=True, workers=workers or os.cpu_count() or 1,
                        resume=resume, max_failures=max_failures, console=progress(quiet), pool=pool, pack=pack,
                        needed=fresh)
    for line in sweep_summary(result):
        say(line)
    raise typer.Exit(0 if result.state.status == Status.COMPLETED else 1)


@command()
def validate(specs: SpecFiles, overrides: SetOption = []):
    """Check specs (keys, values, data files' columns, every search point) without training."""
    from regexp.errors import SpecError

    loaded, problems, readings = load(specs, overrides, check_data=True), [], {}
    for spec in loaded:
        if not spec.spec.reads_files():  # a built-in dataset: nothing to read (and numpy stays unloaded)
            search = spec.spec.search
            if search is not None and search.method in ("grid", "random"):  # tpe's points come as it learns
                from regexp.sweep.trials import plan_round

                try:
                    plan_round(spec, overrides)  # every point of round 1 makes a valid spec
                except SpecError as exc:
                    problems += exc.problems
            continue
        from regexp.data.columns import check_data

        try:
            readings[spec.file] = check_data(spec, overrides)
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    for spec in loaded:
        for warning in spec.warnings:
            warn(warning)
        for key, reading in readings.get(spec.file, {}).items():
            from regexp.trial.log_text import table_lines

            for line in table_lines(key, reading):
                print(line)
        if "data.path" in readings.get(spec.file, {}):
            from regexp.errors import problem
            from regexp.spec.checks import margin_problems

            for key, message in margin_problems(spec.spec, readings[spec.file]["data.path"].rows)[1]:
                warn(problem(spec.where(key), key, message))
        print(f"{spec.file}: ok")



data_app = typer.Typer(help="Datasets on request: the one place regexp downloads.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@command(group=data_app, name="fetch")
def data_fetch(name: Annotated[str, typer.Argument(help=" | ".join(downloaded()) + ".", show_default=False)],
               force: Annotated[bool, typer.Option("--force",
                                                   help="Download again even when the files are cached.")] = False,
               quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False):
    """Download a dataset into the Keras cache, its hash checked; `train` then reads it offline."""
    from regexp.data.fetch import fetch

    if quiet:
        written = fetch(name, None, force)
    else:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=err()) as bar:
            written = fetch(name, bar, force)
    say(f"{name}: " + (
        f"downloaded {len(written)} file(s) to {keras_cache()}" if written else f"already in {keras_cache()}"))
