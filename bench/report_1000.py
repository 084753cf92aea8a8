"""Benchmark: `regexp report` over 1,000 run folders must finish in under 1 s (issue: report).

    .venv/bin/python bench/report_1000.py [--runs 1000] [--repeats 5]

Makes 1,000 copies of one real run folder with bench/report_10000.py's make_runs (20 points x 50
seeds, each run.json carrying its own config; the copies of earlier versions of this script
changed only config.yaml, which run.json's config overrides, so every copy was the same run).
Every repeat is cold: an empty answer cache. Times whole processes (`regexp report`, terminal table and json), median of
--repeats runs each, and checks that importing regexp.report pulls in no TensorFlow.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report_10000 import make_runs

REPO = Path(__file__).resolve().parent.parent
REGEXP = [sys.executable, "-m", "regexp"]


def median_seconds(command: list[str], repeats: int) -> float:
    """Cold every time: each repeat gets an empty answer cache (regexp/report/cache.py)."""
    times = []
    for _ in range(repeats):
        cache = tempfile.mkdtemp()
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=dict(os.environ, COLUMNS="160",
                                                                          REGEXP_CACHE_DIR=cache))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = make_runs(Path(tmp), args.runs)
        probe = "import sys, regexp.report, regexp.cli; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
        imports_tf = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                    check=True).stdout.strip()
        table = median_seconds([*REGEXP, "report", "--runs-dir", str(runs)], args.repeats)
        as_json = median_seconds([*REGEXP, "report", "--runs-dir", str(runs), "--format", "json"], args.repeats)
        no_groups = median_seconds([*REGEXP, "report", "--runs-dir", str(runs), "--no-groups", "--format", "json"],
                                   args.repeats)
    print(f"runs: {args.runs}, repeats: {args.repeats}, python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"import regexp.report pulls in TensorFlow/Keras: {imports_tf}")
    print(f"regexp report (table, 20 groups of 50):  median {table:.3f} s")
    print(f"regexp report --format json:             median {as_json:.3f} s")
    print(f"regexp report --no-groups --format json: median {no_groups:.3f} s")
    ok = max(table, as_json, no_groups) < 1.0 and imports_tf == "False"
    print("target (< 1 s, no TensorFlow import):", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
