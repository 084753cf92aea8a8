"""Benchmark: `regexp report` over 1,000 run folders must finish in under 1 s (issue: report).

    .venv/bin/python bench/report_1000.py [--runs 1000] [--repeats 5]

Makes 1,000 copies of one real run folder (trains configs/quickstart.yaml for 2 epochs first),
varying seed and dropout so that the report has groups of 5 repeats, 10 params values, and real
history/metrics files. Times whole processes (`regexp report`, terminal table and json), median of
--repeats runs each, and checks that importing regexp.report pulls in no TensorFlow.
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
    runs = root / "runs"
    runs.mkdir()
    for i in range(count):
        seed, dropout = i % 5, round(0.05 * (i // 5 % 10), 2)
        target = runs / f"{template.name}-{i:04d}"
        shutil.copytree(template, target)
        config = yaml.safe_load((target / "config.yaml").read_text())
        config["seed"], config["model"]["defaults"]["dropout"] = seed, dropout
        config["training"]["optimizer"]["learning_rate"] = 0.001 * (1 + i // 50)
        (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        info = json.loads((target / "run.json").read_text())
        info.update(id=target.name, seed=seed)
        (target / "run.json").write_text(json.dumps(info))
        (target / "model.keras").unlink()  # report never reads it; keeps the temp folder small
    return runs


def median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=dict(os.environ, COLUMNS="160"))
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
        imports_tf = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
        table = median_seconds([*REGEXP, "report", "--runs-dir", str(runs)], args.repeats)
        as_json = median_seconds([*REGEXP, "report", "--runs-dir", str(runs), "--format", "json"], args.repeats)
        no_groups = median_seconds([*REGEXP, "report", "--runs-dir", str(runs), "--no-groups", "--format", "json"], args.repeats)
    print(f"runs: {args.runs}, repeats: {args.repeats}, python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"import regexp.report pulls in TensorFlow/Keras: {imports_tf}")
    print(f"regexp report (table, groups of 5):      median {table:.3f} s")
    print(f"regexp report --format json:             median {as_json:.3f} s")
    print(f"regexp report --no-groups --format json: median {no_groups:.3f} s")
    ok = max(table, as_json, no_groups) < 1.0 and imports_tf == "False"
    print("target (< 1 s, no TensorFlow import):", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
