"""Benchmark: `regexp train` against the same training written by hand in Keras (bench/handwritten_keras.py).

    .venv/bin/python bench/train_overhead.py [--repeats 5] [--epochs 30]

Whole processes (TensorFlow import included), alternating, round i with seed i on both sides.
  overhead  the matched script (regexp's settings: cached tf.data, whole epoch per call, verbose 0)
            vs `regexp train -q` on the quickstart without early stopping. Target: <= 1.03x.
  defaults  the typical script (numpy arrays, one step per call, verbose=1 progress bar) vs
            `regexp train` with its defaults and its progress display, both in a pseudo-terminal,
            as a user runs them. Target: regexp >= 1.3x faster per epoch.
Prints the medians, ratios and test accuracies (mean ± sd over the seeds) as markdown table rows.
"""

import argparse
import json
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = [sys.executable, str(REPO / "bench" / "handwritten_keras.py")]
REGEXP = [sys.executable, "-m", "regexp", "train", str(REPO / "configs" / "quickstart.yaml"),
          "--set", "training.early_stopping=null"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(command: list[str], terminal: bool) -> tuple[float, str]:
    """Wall seconds and output of a whole process; in a pseudo-terminal when `terminal`."""
    started = time.perf_counter()
    if not terminal:
        done = subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True, check=True)
        return time.perf_counter() - started, done.stdout
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=REPO, env={**ENV, "COLUMNS": "120"}, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(leader)
    assert process.returncode == 0, b"".join(chunks)[-2000:]
    return time.perf_counter() - started, b"".join(chunks).decode(errors="replace")


def script(style: str, seed: int, epochs: int, terminal: bool) -> dict:
    wall, out = run([*SCRIPT, "--style", style, "--seed", str(seed), "--epochs", str(epochs)], terminal)
    result = json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{")))
    return {"wall": wall, "epoch": statistics.median(result["epoch_s"][1:]), "accuracy": result["test_accuracy"]}


def regexp(seed: int, epochs: int, terminal: bool, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        wall, _ = run([*REGEXP, "--set", f"seed={seed}", "--set", f"training.epochs={epochs}",
                       "--runs-dir", runs, *extra, *([] if terminal else ["-q"])], terminal)
        (folder,) = Path(runs).iterdir()
        seconds = [float(line.split(",")[-1]) for line in (folder / "history.csv").read_text().splitlines()[1:]]
        accuracy = json.loads((folder / "metrics.json").read_text())["test"]["accuracy"]
    return {"wall": wall, "epoch": statistics.median(seconds[1:]), "accuracy": accuracy}


def summary(name: str, a: list[dict], b: list[dict], label_a: str, label_b: str) -> None:
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    acc = lambda rows: (f"{statistics.mean(r['accuracy'] for r in rows):.3f} ± "  # noqa: E731
                        f"{statistics.stdev(r['accuracy'] for r in rows):.3f}")
    print(f"| {name} | {label_a} | {med(a, 'wall'):.2f} s | {1000 * med(a, 'epoch'):.1f} ms | {acc(a)} |")
    print(f"| {name} | {label_b} | {med(b, 'wall'):.2f} s | {1000 * med(b, 'epoch'):.1f} ms | {acc(b)} |")
    print(f"| {name} | ratio {label_a} / {label_b} | {med(a, 'wall') / med(b, 'wall'):.3f}x | "
          f"{med(a, 'epoch') / med(b, 'epoch'):.2f}x | |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    overhead: dict[str, list] = {"script": [], "regexp": []}
    defaults: dict[str, list] = {"script": [], "regexp": []}
    for seed in range(args.repeats):
        overhead["script"].append(script("matched", seed, args.epochs, terminal=False))
        overhead["regexp"].append(regexp(seed, args.epochs, terminal=False, extra=[]))
        defaults["script"].append(script("typical", seed, args.epochs, terminal=True))
        defaults["regexp"].append(regexp(seed, args.epochs, terminal=True, extra=[]))
        print(f"round {seed + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    print("| benchmark | what | median process | median epoch | test accuracy |\n|---|---|---|---|---|")
    summary("overhead (same settings)", overhead["regexp"], overhead["script"], "regexp train -q", "matched script")
    summary("defaults (in a terminal)", defaults["script"], defaults["regexp"], "typical script", "regexp train")


if __name__ == "__main__":
    main()
