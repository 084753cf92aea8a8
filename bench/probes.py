"""Benchmark: what logging.layer_stats and logging.per_step cost on the quickstart.

    .venv/bin/python bench/probes.py [--repeats 3] [--epochs 30]

One process, the three settings alternating (round i uses seed i for all three), early stopping off.
The wall time of the whole train() call (data, model, fit, scoring, saving) is compared, so the
callbacks' own time counts. Prints medians and ratios as markdown table rows.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from regexp.spec import load_spec
from regexp.trial.train import train

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {"off": [], "layer_stats": ["logging.layer_stats=true"], "per_step": ["logging.per_step=true"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    times = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as runs:
        base = [f"training.epochs={args.epochs}", "training.early_stopping=null"]
        train(load_spec(REPO / "configs" / "quickstart.yaml", base), Path(runs))  # warm-up: imports, first traces
        for i in range(args.repeats):
            for name, extra in SETTINGS.items():
                started = time.perf_counter()
                train(load_spec(REPO / "configs" / "quickstart.yaml", [*base, f"seed={i}", *extra]), Path(runs))
                times[name].append(time.perf_counter() - started)
    off = statistics.median(times["off"])
    print("| logging | median s per run | ms per epoch more | ratio |\n|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} ({', '.join(f'{v:.2f}' for v in values)}) | "
              f"{1000 * (median - off) / args.epochs:+.1f} | {median / off:.2f}x |")


if __name__ == "__main__":
    main()
