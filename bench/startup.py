"""Benchmark: start-up of the commands that must not import TensorFlow (target <= 0.3 s each).

    .venv/bin/python bench/startup.py [--repeats 10]

Whole processes, wall clock, median of the repeats; each also checked for tensorflow/keras in
sys.modules (the report path has its own benchmark: bench/report_1000.py).
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "regexp --help": ["--help"],
    "regexp validate configs/quickstart.yaml": ["validate", "configs/quickstart.yaml"],
    "regexp schema": ["schema"],
}
PROBE = ("import sys, runpy; sys.argv = ['regexp', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('regexp', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "assert not {'tensorflow', 'keras'} & set(sys.modules), 'TensorFlow was imported'")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    print("| command | median | min | max |\n|---|---|---|---|")
    for name, argv in COMMANDS.items():
        subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, check=True, capture_output=True)
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "regexp", *argv], cwd=REPO, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        print(f"| `{name}` | {statistics.median(times):.3f} s | {min(times):.3f} s | {max(times):.3f} s |")


if __name__ == "__main__":
    main()
