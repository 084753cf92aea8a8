"""Benchmark: how regexp's epoch time grows with the number of samples and the width of the network.

    .venv/bin/python bench/scale.py [--epochs 6]

`regexp train` on scikit-learn's make_classification (20 features, 2 classes, split 60/20/20),
one hidden dense layer, batch 32, default settings; median of the epochs after the first
(which traces the graph), read from history.csv.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = ("name: scale\ndata: {dataset: classification}\nmodel: {layers: [{type: dense, units: 64}]}\n"
        "training: {epochs: 6}\n")
POINTS = [(1_000, 64), (10_000, 64), (100_000, 64), (10_000, 256), (10_000, 1024)]


def epoch_seconds(samples: int, units: int, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "scale.yaml"
        spec.write_text(SPEC)
        subprocess.run([sys.executable, "-m", "regexp", "train", str(spec), "-q", "--runs-dir", tmp,
                        "--set", f"data.samples={samples}", "--set", f"model.layers.0.units={units}",
                        "--set", f"training.epochs={epochs}"], cwd=REPO, check=True, capture_output=True)
        (history,) = Path(tmp).glob("*/history.csv")
        return statistics.median(float(line.split(",")[-1]) for line in history.read_text().splitlines()[2:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    print("| samples | units | train steps/epoch | median epoch | per step |\n|---|---|---|---|---|")
    for samples, units in POINTS:
        seconds = epoch_seconds(samples, units, args.epochs)
        steps = -(-int(samples * 0.6) // 32)
        print(f"| {samples:,} | {units} | {steps} | {1000 * seconds:.1f} ms | {1e6 * seconds / steps:.0f} µs |",
              flush=True)


if __name__ == "__main__":
    main()
