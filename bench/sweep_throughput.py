"""Benchmark: trials per minute of a 12-trial digits sweep (issue: sweeps; target >= 1.7x).

    .venv/bin/python bench/sweep_throughput.py [--epochs 10] [--repeats 1]

Three ways to run the same 12 trials (dropout x L2 grid on the digits quickstart), timed as whole
commands, wall clock:
  A  regexp sweep --workers 2                 (2 long-lived workers, TensorFlow imported once each)
  B  12 x `regexp train --set ...`, one after another, each a fresh process
  C  regexp sweep --workers 1                 (one process runs them in sequence)
Prints the times, trials per minute and the ratios B/A and C/A.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REGEXP = [sys.executable, "-m", "regexp"]
DROPOUT = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
L2 = [0.0, 0.0001]


def spec_text(epochs: int) -> str:
    return f"""extends: {REPO / 'configs' / 'quickstart.yaml'}
name: bench-sweep
training: {{epochs: {epochs}, early_stopping: null}}
search:
  params:
    model.defaults.dropout: {DROPOUT}
    model.defaults.l2: {L2}
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1, help="repeat each measurement, report the median")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"A": [], "B": [], "C": []}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "sweep.yaml"
        spec.write_text(spec_text(args.epochs))
        for i in range(args.repeats):  # alternate the three so that machine noise hits them alike
            results["A"].append(timed([*REGEXP, "sweep", str(spec), "--workers", "2", "-q", "--runs-dir",
                                       f"{tmp}/a{i}"]))
            start = time.perf_counter()
            for d in DROPOUT:
                for l2 in L2:
                    subprocess.run([*REGEXP, "train", str(spec), "-q", "--runs-dir", f"{tmp}/b{i}", "--set",
                                    "search=null",
                                    "--set", f"model.defaults.dropout={d}", "--set", f"model.defaults.l2={l2}"],
                                   check=True, capture_output=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            results["B"].append(time.perf_counter() - start)
            results["C"].append(timed([*REGEXP, "sweep", str(spec), "--workers", "1", "-q", "--runs-dir",
                                       f"{tmp}/c{i}"]))
    a, b, c = (statistics.median(results[k]) for k in "ABC")
    trials = len(DROPOUT) * len(L2)
    print(f"{trials} trials, {args.epochs} epochs each, {os.cpu_count()} cores, median of {args.repeats}")
    print(f"A sweep --workers 2:            {a:7.1f} s  {trials / a * 60:6.1f} trials/min")
    print(f"B one fresh process per trial:  {b:7.1f} s  {trials / b * 60:6.1f} trials/min")
    print(f"C sweep --workers 1:            {c:7.1f} s  {trials / c * 60:6.1f} trials/min")
    print(f"B/A = {b / a:.2f}x (target >= 1.7x), C/A = {c / a:.2f}x")


if __name__ == "__main__":
    main()
