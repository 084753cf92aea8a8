"""Packed trials against trials alone (issue 13); results in bench/README.md.

  python bench/packed.py dist [--seeds 30]       quickstart, dropout on: packed vs alone, two-sample tests
  python bench/packed.py speed [--seeds 10] [--rounds 3]
                                                 dropout x L2 grid (9 points) x seeds, 20 epochs, whole
                                                 commands alternating: --pack auto vs --pack off --workers 2
  python bench/packed.py anchor [--seeds 10|100] [--rounds 3]
                                                 the same grid, 20 epochs: regexp sweep --pack auto against
                                                 bench/anchor_jax.py (JAX vmap by hand; pip install -e '.[bench]')
  python bench/packed.py small [--rounds 3]      the 24-trial grid, 10 epochs: --pack auto vs --pack off --workers 2
  python bench/packed.py conv [--seeds 20] [--rounds 3]
                                                 the digits CNN (no augmentation), 20 epochs, the same two commands
  python bench/packed.py scale | scale-cnn       ms per model-epoch and peak memory against the pack size, 1 thread
  python bench/packed.py profile [--size 90]     where a pack's time goes, bookkeeping included
  python bench/packed.py tables [--seeds 20] [--rounds 3] [--against ec11bf8]
                                                 a penguins-like table (text columns, empty cells), 2x2 decide
                                                 sweep: packed, REV's code (such trials alone), all-numeric copy
"""

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REGEXP = [str(REPO / ".venv" / "bin" / "regexp")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def sweep(spec: Path, runs: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([*REGEXP, "sweep", str(spec), "--runs-dir", str(runs), "-q", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def runs_of(runs: Path) -> list[dict]:
    out = []
    for folder in runs.iterdir():
        if (folder / "metrics.json").exists():
            out.append(json.loads((folder / "metrics.json").read_text()))
    return out


def dist(seeds: int) -> None:
    from scipy import stats

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "q.yaml"
        spec.write_text(f"extends: {REPO / 'configs/quickstart.yaml'}\nname: dist\nrepeat: {seeds}\n")
        found = {}
        for mode, args in (("packed", ["--pack", "auto", "--workers", "1"]), ("alone", ["--pack", "off", "--workers",
                                                                                        "2"])):
            seconds = sweep(spec, Path(tmp) / mode, *args)
            metrics = runs_of(Path(tmp) / mode)
            found[mode] = {"test_accuracy": [m["test"]["accuracy"] for m in metrics],
                           "val_loss": [m["val"]["loss"] for m in metrics], "seconds": seconds}
    print(f"quickstart (dropout 0.2, L2 1e-4, early stopping), {seeds} seeds each side")
    print("| metric | packed mean ± sd | alone mean ± sd | Welch t p | Mann-Whitney p | KS p |")
    print("|---|---|---|---|---|---|")
    for key in ("test_accuracy", "val_loss"):
        a, b = found["packed"][key], found["alone"][key]
        print(f"| {key} | {statistics.mean(a):.4f} ± {statistics.stdev(a):.4f} | {statistics.mean(b):.4f} ± "
              f"{statistics.stdev(b):.4f} | {stats.ttest_ind(a, b, equal_var=False).pvalue:.3f} | "
              f"{stats.mannwhitneyu(a, b).pvalue:.3f} | {stats.ks_2samp(a, b).pvalue:.3f} |")
    print(f"wall: packed {found['packed']['seconds']:.1f} s, alone (2 workers) {found['alone']['seconds']:.1f} s")


def packed_vs_alone(spec_text: str, rounds: int) -> dict[str, list[float]]:
    """Whole `regexp sweep` commands, --pack auto and --pack off --workers 2 alternating, a fresh
    runs folder each time: the seconds of each side's rounds."""
    times = {"packed": [], "alone": []}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(spec_text)
        for r in range(rounds):
            for mode, args in (("packed", ["--pack", "auto"]), ("alone", ["--pack", "off", "--workers", "2"])):
                times[mode].append(sweep(spec, Path(tmp) / f"{mode}{r}", *args))
                print(f"round {r + 1} {mode}: {times[mode][-1]:.1f} s", flush=True)
    return times


def speed(seeds: int, rounds: int) -> None:
    times = packed_vs_alone(f"extends: {REPO / 'configs/digits-dropout-l2-sweep.yaml'}\nname: speed\n"
                            f"repeat: {seeds}\ntraining: {{early_stopping: null}}\n", rounds)  # every epoch, both sides
    trials = 9 * seeds
    packed, alone = statistics.median(times["packed"]), statistics.median(times["alone"])
    print(f"| {trials} trials, 20 epochs | --pack auto {packed:.1f} s | --pack off --workers 2 {alone:.1f} s | "
          f"**{alone / packed:.1f}x** | medians of {rounds} |")


GRID = ("extends: {repo}/configs/digits-dropout-l2-sweep.yaml\nname: {name}\nrepeat: {seeds}\n"
        "training: {{early_stopping: null, epochs: {epochs}}}\n")  # every trial trains every epoch, as the anchor


def tree_rss_mib(pid: int) -> float:
    """The summed resident memory of a process and all its descendants, from /proc (Linux)."""
    parent, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, grew = {pid}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        tree, grew = tree | more, bool(more)
    return sum(rss.get(p, 0) for p in tree) / 2**20


def timed(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds of a whole process and the peak summed RSS of its process tree (sampled every 0.1 s)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mib(process.pid))
        time.sleep(0.1)
    if process.returncode:
        raise SystemExit(f"{command} exited {process.returncode}")
    return time.perf_counter() - started, peak


def anchor(seeds_list: list[int], rounds: int) -> None:
    """regexp sweep --pack auto (every run folder) against bench/anchor_jax.py (numbers only) on the
    dropout x L2 grid, 20 epochs, no early stopping: whole processes, alternating, medians."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seeds in seeds_list:
            spec = Path(tmp) / f"grid{seeds}.yaml"
            spec.write_text(GRID.format(repo=REPO, name=f"anchor{seeds}", seeds=seeds, epochs=20))
            found = {"regexp": [], "jax": []}
            for r in range(rounds):
                runs = Path(tmp) / f"runs{seeds}-{r}"
                commands = {"regexp": [*REGEXP, "sweep", str(spec), "--runs-dir", str(runs), "-q", "--pack", "auto"],
                            "jax": [sys.executable, str(REPO / "bench/anchor_jax.py"), "--seeds", str(seeds),
                                    "--out", str(Path(tmp) / "numbers.json")]}
                for side in ("regexp", "jax") if r % 2 == 0 else ("jax", "regexp"):
                    found[side].append(timed(commands[side]))
                    print(f"{9 * seeds} trials, round {r + 1}, {side}: {found[side][-1][0]:.1f} s, "
                          f"peak {found[side][-1][1]:.0f} MiB", flush=True)
                models = len(list(runs.glob("*/model.keras")))
                assert models == 9 * seeds, f"{models} model.keras files for {9 * seeds} trials"
                shutil.rmtree(runs)
            rows.append((9 * seeds, *(statistics.median(t for t, _ in found[side]) for side in ("regexp", "jax")),
                         *(max(m for _, m in found[side]) for side in ("regexp", "jax")),
                         [round(t, 1) for t, _ in found["regexp"]], [round(t, 1) for t, _ in found["jax"]]))
    print("| trials | regexp sweep --pack auto (every run folder) | JAX vmap by hand (numbers only) | ratio | "
          "peak RSS regexp / JAX (MiB) | rounds regexp; JAX (s) |")
    print("|---|---|---|---|---|---|")
    for trials, mine, theirs, mem, their_mem, rs, js in rows:
        print(f"| {trials} | {mine:.1f} s | {theirs:.1f} s | **{mine / theirs:.2f}** | {mem:.0f} / {their_mem:.0f} | "
              f"{rs}; {js} |")


def small(rounds: int) -> None:
    """The 24-trial grid (dropout 0/0.2/0.5 x L2 0/1e-3, 4 seeds, 10 epochs): --pack auto against
    --pack off --workers 2, whole commands alternating, medians."""
    times = packed_vs_alone(GRID.format(repo=REPO, name="small", seeds=4, epochs=10)
                            + "search:\n  params:\n    model.defaults.l2: [0.0, 1.0e-3]\n", rounds)
    packed, alone = statistics.median(times["packed"]), statistics.median(times["alone"])
    print(f"| 24 trials (6 points x 4 seeds), 10 epochs | --pack auto {packed:.1f} s | --pack off --workers 2 "
          f"{alone:.1f} s | **{alone / packed:.1f}x** | rounds {[round(t, 1) for t in times['packed']]} vs "
          f"{[round(t, 1) for t in times['alone']]} |")


CNN = ("extends: {repo}/configs/digits-cnn-augment.yaml\nname: {name}\nrepeat: {seeds}\n"
       "training: {{augment: [], cutout: null, early_stopping: null, epochs: {epochs}}}\n")


def conv(seeds: int, rounds: int, epochs: int = 20) -> None:
    """The digits CNN (conv 16, conv 32, max_pool, flatten, dense 64; augmentation off, which packs do
    not hold) with `seeds` seeds: whole commands, --pack auto against --pack off --workers 2."""
    times = packed_vs_alone(CNN.format(repo=REPO, name="cnn", seeds=seeds, epochs=epochs), rounds)
    packed, alone = statistics.median(times["packed"]), statistics.median(times["alone"])
    print(f"| digits CNN, {seeds} seeds, {epochs} epochs | --pack auto {packed:.1f} s | --pack off --workers 2 "
          f"{alone:.1f} s | **{alone / packed:.1f}x** | medians of {rounds} |")


def scale_one(size: int, epochs: int, cnn: bool = False) -> None:
    """In a fresh process: a pack of `size` quickstart trials; prints ms per model-epoch and peak RSS."""
    from regexp.data import prepare
    from regexp.packed.trainer import PackTrainer
    from regexp.spec import load_spec

    if cnn:
        file = Path(tempfile.mkdtemp()) / "cnn.yaml"
        file.write_text(CNN.format(repo=REPO, name="cnn", seeds=1, epochs=epochs))
    else:
        file = REPO / "configs/quickstart.yaml"
    specs = [load_spec(file, [f"seed={s}", f"training.epochs={epochs}", "training.early_stopping=null"])
             for s in range(size)]
    data = [prepare(s) for s in specs]
    with tempfile.TemporaryDirectory() as tmp:
        trainer = PackTrainer(specs, data, Path(tmp), "bench", "p")
        seconds = []
        real = trainer._train_epoch

        def timed(*args):
            started = time.perf_counter()
            out = real(*args)
            out["n"].numpy()
            seconds.append(time.perf_counter() - started)
            return out
        trainer._train_epoch = timed
        trainer.run("val_loss")
    per = statistics.median(seconds[1:]) / size * 1000  # the first epoch traces
    print(json.dumps({"size": size, "ms_per_model_epoch": per,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def alone_epoch_ms(cnn: bool, epochs: int) -> float:
    """The same trial trained alone, one thread: median of history.csv's epoch seconds after the first."""
    with tempfile.TemporaryDirectory() as tmp:
        if cnn:
            file = Path(tmp) / "cnn.yaml"
            file.write_text(CNN.format(repo=REPO, name="cnn", seeds=1, epochs=epochs).replace("repeat: 1\n", ""))
        else:
            file = REPO / "configs/quickstart.yaml"
        subprocess.run([*REGEXP, "train", "-q", str(file), "--runs-dir", tmp, "--set", f"training.epochs={epochs}",
                        "--set", "training.early_stopping=null"], check=True, capture_output=True, env=dict(os.environ,
                                                                                                            **THREADS))
        (history,) = Path(tmp).glob("*/history.csv")
        rows = list(csv.DictReader(history.open()))
    return statistics.median(float(r["seconds"]) for r in rows[1:]) * 1000


def scale(sizes: list[int], cnn: bool = False) -> None:
    print(f"{'digits CNN' if cnn else 'quickstart MLP'}, one thread (as a sweep worker of two gets)")
    print("| pack size N | ms per model-epoch (train steps) | peak RSS (MiB, whole process) |")
    print("|---|---|---|")
    print(f"| a trial alone (regexp train) | {alone_epoch_ms(cnn, epochs=6):.2f} | |", flush=True)
    for size in sizes:
        one = [sys.executable, __file__, "scale-one-cnn" if cnn else "scale-one", str(size)]
        out = subprocess.run(one, check=True, capture_output=True, text=True, env=dict(os.environ, **THREADS))
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {size} | {row['ms_per_model_epoch']:.2f} | {row['peak_rss_mib']:.0f} |", flush=True)


def profile(size: int) -> None:
    """One pack of `size` quickstart trials (20 epochs, no early stopping), time per phase."""
    from regexp.data import prepare
    from regexp.packed import trainer as module
    from regexp.spec import load_spec

    spent: dict[str, float] = {}

    def clock(name, fn):
        def wrapped(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
        return wrapped
    from regexp.trial import provenance

    git = provenance.git_state(provenance.extends_chain(REPO / "configs/quickstart.yaml"))
    provenance.sweep_git_state = lambda folder: git  # as in a sweep: its git state, read once (no sweep.json here)
    trainer_class = module.PackTrainer
    for name in ("_train_epoch", "_evaluate", "_record", "_keep_best", "keras_model", "_finish", "_open"):
        setattr(trainer_class, name, clock(name, getattr(trainer_class, name)))
    started = time.perf_counter()
    specs = [load_spec(REPO / "configs/quickstart.yaml", [f"seed={s}", "training.epochs=20",
                                                          "training.early_stopping=null"])
             for s in range(size)]
    data = [prepare(s) for s in specs]
    spent["load specs and data"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        trainer = trainer_class(specs, data, "p")
        first = trainer._train_epoch
        epochs = []
        def timed_epoch(*args):
            started = time.perf_counter()
            out = first(*args)
            epochs.append(time.perf_counter() - started)
            return out
        trainer._train_epoch = timed_epoch
        trainer.run(Path(tmp), "bench", [f"k{i}" for i in range(size)], "val_loss")
    total = time.perf_counter() - started
    spent["_finish (without keras_model)"] = spent.pop("_finish") - spent["keras_model"]
    spent.pop("_train_epoch")
    spent["first epoch (traces and compiles)"], spent["train steps, epochs 2-20"] = epochs[0], sum(epochs[1:])
    print(f"pack of {size} quickstart trials, 20 epochs: {total:.1f} s in all")
    print("| phase | seconds | share |")
    print("|---|---|---|")
    names = {"_train_epoch": "train steps (20 epoch calls, first traces)", "_evaluate": "validation + final scoring",
             "_record": "history rows, log lines, early stopping (per slice per epoch)", "_keep_best": "best weights",
             "keras_model": "build each trial's Keras model and set its weights", "_open": "make run folders",
             "_finish (without keras_model)": "final scoring; save model.keras, metrics.json, run.json"}
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"| {names.get(name, name)} | {seconds:.2f} | {seconds / total:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["dist", "speed", "conv", "anchor", "small", "scale", "scale-cnn", "scale-one",
                                         "scale-one-cnn", "profile", "tables"])
    parser.add_argument("size", nargs="?", type=int, default=90)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", default="ec11bf8", help="tables: the code (a git revision) of side (b)")
    args = parser.parse_args()
    if args.what == "dist":
        dist(args.seeds or 30)
    elif args.what == "speed":
        speed(args.seeds or 10, args.rounds)
    elif args.what == "anchor":
        anchor([args.seeds] if args.seeds else [10, 100], args.rounds)
    elif args.what == "small":
        small(args.rounds)
    elif args.what == "conv":
        conv(args.seeds or 20, args.rounds)
    elif args.what in ("scale", "scale-cnn"):
        scale([1, 2, 4, 8, 16, 32, 64, 128, 256], cnn=args.what == "scale-cnn")
    elif args.what in ("scale-one", "scale-one-cnn"):
        scale_one(args.size, epochs=6, cnn=args.what == "scale-one-cnn")
    elif args.what == "tables":
        from packed_tables import tables  # bench/ is on sys.path: this script's folder

        tables(args.seeds or 20, args.rounds, args.against)
    else:
        profile(args.size)
