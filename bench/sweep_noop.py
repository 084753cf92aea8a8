"""Benchmark: running a sweep again when every trial is done (issue #40: under 1.5 s, no TensorFlow).

    .venv/bin/python bench/sweep_noop.py [--repeats 5] [--code DIR ...]

Each case trains its sweep once (iris, 1 epoch, packed, the default --workers), then times the same
`regexp sweep SPEC` again: whole processes, wall clock, median of the repeats. Every re-run is
checked: it trained nothing (the same run folders) and, run once more under `python -X importtime`
with a probe, no process of it imported TensorFlow: neither the sweep process (sys.modules at its
end) nor a worker it spawned (-X importtime reaches spawned workers; their imports would show).
`--code DIR` also times another checkout (PYTHONPATH=DIR, its own runs folder) in the same minutes,
alternating with this one: `--code /path/to/an/older/checkout` gives the before/after.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BASE = {"name": "noop", "seed": 1, "data": {"dataset": "iris"}, "model": {"layers": [{"type": "dense", "units": 8}]},
        "training": {"epochs": 1, "batch_size": 16}}
CASES = {  # name -> (spec sections, what it is)
    "grid": ({"repeat": 6, "search": {"method": "grid", "params": {
        "model.defaults.dropout": [0.0, 0.1, 0.2, 0.3]}}}, "4 points x 6 seeds, 24 trials"),
    "decide": ({"search": {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5],
                                                       "model.defaults.l2": [0.0, 0.001]}},
                "decide": {"baseline": "dropout=0.0,l2=0.001", "metric": "val_accuracy", "margin": 0.0001,
                           "batch": 5, "max_seeds": 10}}, "decide, 3 arms, max_seeds 10"),
}
PROBE = ("import sys, runpy; sys.argv = ['regexp', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('regexp', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print('tensorflow imported' if {'tensorflow', 'keras'} & set(sys.modules) else 'no tensorflow')")


def regexp(code: Path, *argv: str, probe: bool = False) -> subprocess.CompletedProcess:
    """In the folder of the spec: `python -m` puts the working folder first on sys.path, which
    would win over PYTHONPATH in a checkout."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, "-X", "importtime", "-c", PROBE, *argv] if probe else [
        sys.executable, "-m", "regexp", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=Path(argv[1]).parent)


def runs_of(runs: Path) -> dict[str, str]:
    return {p.name: (p / "run.json").read_text() for p in runs.iterdir() if (p / "run.json").is_file()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--code", type=Path, action="append", default=[], help="Another checkout to time too.")
    args = parser.parse_args()
    trees = [REPO, *args.code]
    print(f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, median of {args.repeats} whole processes\n")
    print("| case | code | first run (trains) | again: median | min | max | trained again | TensorFlow imported |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for case, (sections, what) in CASES.items():
            spec = Path(tmp, f"{case}.yaml")
            spec.write_text(yaml.safe_dump({**BASE, "name": f"noop-{case}", **sections}, sort_keys=False))
            argv = {tree: ["sweep", str(spec), "--runs-dir", str(Path(tmp, f"runs-{case}-{i}")), "-q"]
                    for i, tree in enumerate(trees)}
            first, before, times = {}, {}, {tree: [] for tree in trees}
            for tree in trees:
                started = time.perf_counter()
                done = regexp(tree, *argv[tree])
                assert done.returncode == 0, done.stdout + done.stderr
                first[tree] = time.perf_counter() - started
                before[tree] = runs_of(Path(argv[tree][3]))
            for _ in range(args.repeats):  # alternating, so that both trees get the same minutes
                for tree in trees:
                    started = time.perf_counter()
                    again = regexp(tree, *argv[tree])
                    times[tree].append(time.perf_counter() - started)
                    assert again.returncode == 0, again.stdout + again.stderr
            for tree in trees:
                probe = regexp(tree, *argv[tree], probe=True)
                imported = "tensorflow imported" in probe.stdout or re.search(r"\|\s*tensorflow$", probe.stderr, re.M)
                retrained = runs_of(Path(argv[tree][3])) != before[tree]
                t = times[tree]
                print(f"| {case} ({what}) | {tree} | {first[tree]:.1f} s | {statistics.median(t):.3f} s | "
                      f"{min(t):.3f} s | {max(t):.3f} s | {'yes' if retrained else 'no'} | "
                      f"{'yes' if imported else 'no'} |")


if __name__ == "__main__":
    main()
