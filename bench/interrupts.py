"""Benchmark: Ctrl-C and SIGTERM at random moments into `regexp train`, `regexp resume` and a packed
`regexp sweep`, counting how each process ended and what its run folders say.

    .venv/bin/python bench/interrupts.py [--runs 100] [--parallel 2]

Each attempt starts a fresh process on a fresh runs folder, waits a uniform random time in
[0, the command's own duration] (so about a third of the signals land during TensorFlow's import,
before any folder exists), sends SIGINT or SIGTERM (alternating), and gives it 60 s to exit. A
clean exit is: exit 130 (SIGINT) or 143 (SIGTERM), or 0 when the command finished first, or death
by the signal within the interpreter's start-up with no output and nothing written; no
traceback in its output; every run folder `interrupted` (with a resume point whose epoch equals its
history rows) or `completed`; sweep.json `interrupted` or `completed`. Anything else is listed.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SPEC = {"name": "bench-int", "seed": 1, "data": {"dataset": "iris"},
        "model": {"layers": [{"type": "dense", "units": 8}]}, "training": {"epochs": 60, "batch_size": 16}}
SWEEP = {**SPEC, "repeat": 4}
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "REGEXP_CHECKPOINT_SECONDS": "10"}


def command(kind: str, folder: Path, template: Path) -> list[str]:
    runs = folder / "runs"
    if kind == "resume":  # an interrupted run to continue, copied from the template
        shutil.copytree(template, runs / template.name)
        return ["resume", str(runs / template.name), "-q"]
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(SWEEP if kind == "sweep" else SPEC))
    return [kind, str(spec), "--runs-dir", str(runs), "-q", *(["--workers", "1"] if kind == "sweep" else [])]


def attempt(kind: str, delay: float, number: int, template: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="regexp-int-") as scratch:
        folder = Path(scratch)
        args = command(kind, folder, template)
        process = subprocess.Popen([sys.executable, "-m", "regexp", *args], cwd=REPO, env=ENV,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(delay)
        sent = time.monotonic()
        process.send_signal(number)
        try:
            output, _ = process.communicate(timeout=60)
            code, seconds = process.returncode, time.monotonic() - sent
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            code, seconds = "hang", 60.0
        problems = folder_problems(folder / "runs")
        expected = {signal.SIGINT: 130, signal.SIGTERM: 143}[number]
        # killed by the signal's default action before regexp's first line ran (the interpreter's own
        # start-up): nothing was written, and a shell sees 128 + signal, the same exit status
        unborn = code == -number and not output.strip()
        clean = (code in (expected, 0) or unborn) and "Traceback" not in output and not problems
        return {"kind": kind, "code": code, "seconds": seconds, "clean": clean, "problems": problems,
                "output": "" if clean else output[-2000:]}


def folder_problems(runs: Path) -> list[str]:
    problems = []
    for run in sorted(runs.glob("*")) if runs.is_dir() else []:
        if run.name.startswith("."):
            continue
        if run.name.endswith("_sweep"):
            status = json.loads((run / "sweep.json").read_text())["status"]
            if status not in ("interrupted", "completed"):
                problems.append(f"sweep.json {status}")
            continue
        info = json.loads((run / "run.json").read_text())
        rows = len((run / "history.csv").read_text().splitlines()) - 1 if (run / "history.csv").exists() else 0
        if info["status"] == "interrupted":
            state = run / "checkpoint" / "state.json"
            epoch = json.loads(state.read_text())["epoch"] if state.exists() else 0
            if epoch != rows and not (epoch == 0 and rows == 0):
                problems.append(f"{run.name}: resume point at epoch {epoch}, history has {rows} rows")
        elif info["status"] != "completed":
            problems.append(f"{run.name}: {info['status']}")
    return problems


def duration(kind: str, template: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="regexp-int-") as scratch:
        args = command(kind, Path(scratch), template)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "regexp", *args], cwd=REPO, env=ENV, capture_output=True, check=True)
        return time.monotonic() - started


def make_template(scratch: Path) -> Path:
    """An interrupted run after about 20 epochs: what every resume attempt continues."""
    spec = scratch / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    process = subprocess.Popen([sys.executable, "-m", "regexp", "train", str(spec), "--runs-dir", str(scratch / "runs"),
                                "-q"], cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        histories = list((scratch / "runs").glob("*/history.csv"))
        if histories and len(histories[0].read_text().splitlines()) > 20:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    process.wait()
    (run,) = (scratch / "runs").iterdir()
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100, help="attempts per command")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--kinds", default="train,resume,sweep")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="regexp-int-template-") as scratch:
        template = make_template(Path(scratch))
        print(f"template: an interrupted run at epoch "
              f"{json.loads((template / 'checkpoint/state.json').read_text())['epoch']}")
        plan = []
        for kind in args.kinds.split(","):
            whole = duration(kind, template)
            print(f"{kind}: {whole:.1f} s uninterrupted; signals at uniform [0, {whole:.1f}] s")
            plan += [(kind, rng.uniform(0, whole), (signal.SIGINT, signal.SIGTERM)[i % 2]) for i in range(args.runs)]
        with ThreadPoolExecutor(args.parallel) as pool:
            outcomes = list(pool.map(lambda p: attempt(*p, template), plan))
    print("\n| command | attempts | clean exits | exit codes | slowest exit after the signal | not clean |")
    print("|---|---|---|---|---|---|")
    for kind in args.kinds.split(","):
        mine = [o for o in outcomes if o["kind"] == kind]
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(Counter(str(o["code"]) for o in mine).items()))
        print(f"| {kind} | {len(mine)} | {sum(o['clean'] for o in mine)}/{len(mine)} | {codes} | "
              f"{max(o['seconds'] for o in mine):.2f} s | {sum(not o['clean'] for o in mine)} |")
    for outcome in outcomes:
        if not outcome["clean"]:
            print(f"\n{outcome['kind']} exit {outcome['code']}: {outcome['problems']}\n{outcome['output']}")


if __name__ == "__main__":
    main()
