"""Per-epoch time of recurrent layers on this machine's CPU, through `regexp train` in-process.

    python bench/recurrent.py            # about 2 min on 2 cores

The adding problem (1,000 samples of 20 steps: 600 train, batch 32, 19 steps an epoch), one layer
of 32 units. Rows: LSTM and GRU with recurrent_dropout 0 (the option set that cuDNN's fused kernel
accepts on a GPU) and 0.2 (never fused), and SimpleRNN. On a CPU Keras 3 has no fused kernel at all
(backend.cudnn_ok needs a GPU), so both run the same step loop; the difference is the per-step
mask. The median epoch time over epochs 2-5 (epoch 1 traces the graph), from history.csv.
"""

import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import yaml  # noqa: E402

from regexp.spec import load_spec  # noqa: E402
from regexp.trial.train import train  # noqa: E402

CASES = [("lstm", 0.0), ("lstm", 0.2), ("gru", 0.0), ("gru", 0.2), ("simple_rnn", 0.0)]


def epoch_seconds(kind: str, recurrent_dropout: float, runs: Path) -> tuple[float, float]:
    spec = {"name": f"bench-{kind}", "data": {"dataset": "adding", "length": 20, "samples": 1000},
            "model": {"layers": [{"type": kind, "units": 32, "recurrent_dropout": recurrent_dropout}]},
            "training": {"epochs": 5, "batch_size": 32}}
    path = runs / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(spec))
    start = time.perf_counter()
    run = train(load_spec(path), runs)
    whole = time.perf_counter() - start
    with (run / "history.csv").open() as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    return statistics.median(seconds[1:]), whole


def main() -> int:
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| layer | recurrent_dropout | fused on GPU | median epoch | whole run (5 epochs) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, rate in CASES:
            epoch, whole = epoch_seconds(kind, rate, Path(tmp))
            fused = "yes (cuDNN)" if kind != "simple_rnn" and rate == 0 else "no"
            print(f"| {kind} | {rate} | {fused} | {epoch * 1000:.0f} ms | {whole:.1f} s |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
