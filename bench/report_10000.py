"""Benchmark: `regexp report` over 10,000 run folders: cold, warm, and after 100 new runs appear.

    .venv/bin/python bench/report_10000.py [--runs 10000] [--repeats 5]

Copies one real run folder (configs/quickstart.yaml, 2 epochs) 10,000 times: 200 points (dropout x
learning rate) x 50 seeds, each copy's run.json carrying its own config as training writes it.
Times whole processes, alternating: cold (the answer cache, $REGEXP_CACHE_DIR, removed first)
and warm (the same command again), then again after 100 new run folders appear (the folder grows by
100 each repeat), medians of --repeats, for the terminal table and json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
REGEXP = [sys.executable, "-m", "regexp"]


def make_runs(root: Path, count: int) -> Path:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([*REGEXP, "train", "-q", str(REPO / "configs" / "quickstart.yaml"), "--set", "training.epochs=2",
                    "--runs-dir", str(root / "template")], check=True, env=env, capture_output=True)
    (template,) = (root / "template").iterdir()
    (template / "model.keras").unlink()  # report never reads it; keeps the copies small
    info = json.loads((template / "run.json").read_text())
    runs = root / "runs"
    runs.mkdir()
    for i in range(count):
        seed, point = i % 50, i // 50
        config = json.loads(json.dumps(info["config"]))
        config["seed"] = seed
        config["model"]["defaults"]["dropout"] = round(0.05 * (point % 10), 2)
        config["training"]["optimizer"]["learning_rate"] = 0.001 * (1 + point // 10)
        target = runs / f"{template.name}-{i:05d}"
        shutil.copytree(template, target)
        (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (target / "run.json").write_text(json.dumps({**info, "id": target.name, "seed": seed, "config": config}))
    return runs


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=dict(os.environ, COLUMNS="160"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["REGEXP_CACHE_DIR"] = str(Path(tmp) / "cache")  # the subprocesses inherit it
        started = time.perf_counter()
        runs = make_runs(Path(tmp), args.runs)
        print(f"made {args.runs} run folders in {time.perf_counter() - started:.0f} s")
        print("| command | cold median s (runs) | warm median s (runs) | after 100 new runs, median s (runs) |\n"
              "|---|---|---|---|")
        template = next(runs.iterdir())
        for label, extra in (("report (table)", []), ("report --format json", ["--format", "json"])):
            command = [*REGEXP, "report", "--runs-dir", str(runs), *extra]
            cold, warm, grown = [], [], []
            for r in range(args.repeats):
                shutil.rmtree(os.environ["REGEXP_CACHE_DIR"], ignore_errors=True)
                cold.append(seconds(command))
                warm.append(seconds(command))
                for i in range(100):  # a sweep adds runs: 100 more seeds of one point
                    shutil.copytree(template, runs / f"new-{len(extra)}-{r}-{i:03d}")
                grown.append(seconds(command))
            print(f"| {label} | {statistics.median(cold):.2f} ({', '.join(f'{t:.2f}' for t in cold)}) | "
                  f"{statistics.median(warm):.2f} ({', '.join(f'{t:.2f}' for t in warm)}) | "
                  f"{statistics.median(grown):.2f} ({', '.join(f'{t:.2f}' for t in grown)}) |")


if __name__ == "__main__":
    main()
