"""Benchmark: `regexp report` over 10,000 run folders: cold, warm, and after 100 new runs appear.

    .venv/bin/python bench/report_10000.py [--runs 10000] [--repeats 5] [--against REV]

Copies one real run folder (configs/quickstart.yaml, 2 epochs) 10,000 times: 200 points (dropout x
learning rate) x 50 seeds, each copy's run.json carrying its own config as training writes it.
Times whole processes, alternating: cold (the answer cache, $REGEXP_CACHE_DIR, removed first)
and warm (the same command again), then again after 100 new run folders appear (the folder grows by
100 each repeat), medians of --repeats, for the terminal table and json. --against REV times a
git revision's code beside this checkout's (a worktree in the temp folder), each step alternating
between the two, each with its own cache folder.
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


def seconds(command: list[str], code: Path | None, cache: Path) -> float:
    """One whole command; `code`: the checkout whose regexp it imports (this one when None)."""
    env = dict(os.environ, COLUMNS="160", REGEXP_CACHE_DIR=str(cache))
    if code is not None:
        env["PYTHONPATH"] = str(code)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=cache.parent)  # not the repo: -m
    return time.perf_counter() - start                                                    # imports from cwd first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", help="a git revision whose code is timed beside this checkout's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, Path | None] = {"this checkout": None}
        if args.against:
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", f"{tmp}/against", args.against],
                           check=True, capture_output=True)
            sides[args.against] = Path(tmp) / "against"
        try:
            measure(Path(tmp), args, sides)
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", f"{tmp}/against"])


def measure(tmp: Path, args, sides: dict[str, Path | None]) -> None:
    started = time.perf_counter()
    runs = make_runs(tmp, args.runs)
    print(f"made {args.runs} run folders in {time.perf_counter() - started:.0f} s")
    print("| code | command | cold median s (runs) | warm median s (runs) | after 100 new runs, median s (runs) |\n"
          "|---|---|---|---|---|")
    template = next(runs.iterdir())
    for label, extra in (("report (table)", []), ("report --format json", ["--format", "json"])):
        command = [*REGEXP, "report", "--runs-dir", str(runs), *extra]
        times = {side: {"cold": [], "warm": [], "grown": []} for side in sides}
        for r in range(args.repeats):
            for side, code in sides.items():
                cache = tmp / f"cache-{list(sides).index(side)}"
                shutil.rmtree(cache, ignore_errors=True)  # cold: no answers, no record index
                times[side]["cold"].append(seconds(command, code, cache))
                times[side]["warm"].append(seconds(command, code, cache))
                for i in range(100):  # a sweep adds runs: 100 more seeds of one point
                    shutil.copytree(template, runs / f"new-{len(extra)}-{r}-{side[:4]}-{i:03d}")
                times[side]["grown"].append(seconds(command, code, cache))
        for side, found in times.items():
            print(f"| {side} | {label} | " + " | ".join(
                f"{statistics.median(t):.2f} ({', '.join(f'{x:.2f}' for x in t)})" for t in found.values()) + " |")


if __name__ == "__main__":
    main()
