"""A 24-trial packed sweep through Slurm against the local executor, on this machine (`make bench`).

bench/packed.py's small grid (dropout 0/0.2/0.5 x L2 0/1e-3 on digits, 4 seeds, 10 epochs), with
--workers 2 both ways: the same 2 packs of 12 trials, trained by two local worker processes or by a
job array of 2 on the one-node cluster tests/slurm-cluster.sh starts (slurm.cpus_per_task 1, so
both jobs run at once on the 2 cores). Whole commands, alternating, a fresh runs folder each time;
medians. Prints squeue once while a Slurm round runs and the report of the last Slurm sweep.

    .venv/bin/python bench/slurm.py [--rounds 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = f"""extends: {REPO}/configs/digits-dropout-l2-sweep.yaml
name: slurm-bench
repeat: 4
training: {{early_stopping: null, epochs: 10}}
search:
  params:
    model.defaults.dropout: [0.0, 0.2, 0.5]
    model.defaults.l2: [0.0, 1.0e-3]
slurm: {{cpus_per_task: 1, time: "30"}}
"""
SQUEUE = ["squeue", "-r", "-o", "%.8i %.9P %.28j %.8u %.2t %.8M %.5C %R"]


def sweep(spec: Path, runs: Path, executor: str) -> tuple[float, str]:
    """Wall seconds of one whole `regexp sweep`; for Slurm, squeue as it showed while the jobs ran."""
    command = [sys.executable, "-m", "regexp", "sweep", str(spec), "--executor", executor, "--workers", "2",
               "--runs-dir", str(runs), "-q"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    queue = ""
    while process.poll() is None:
        if executor == "slurm" and " R " not in queue:  # this sweep's jobs (named regexp-<name>-<hash>), running
            lines = subprocess.run(SQUEUE, capture_output=True, text=True).stdout.splitlines()
            queue = "\n".join(line for i, line in enumerate(lines) if i == 0 or "regexp-slurm-bench" in line)
        time.sleep(0.5)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    return time.perf_counter() - started, queue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    subprocess.run(["bash", str(REPO / "tests" / "slurm-cluster.sh")], check=True)
    times: dict[str, list[float]] = {"local": [], "slurm": []}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(SPEC)
        for r in range(rounds):
            for executor in ("local", "slurm") if r % 2 == 0 else ("slurm", "local"):
                seconds, queue = sweep(spec, Path(tmp) / f"{executor}{r}", executor)
                times[executor].append(seconds)
                print(f"round {r + 1} {executor}: {seconds:.1f} s", flush=True)
                if queue:
                    print(f"squeue while it ran:\n{queue}", flush=True)
        last = Path(tmp) / f"slurm{rounds - 1}"
        print(subprocess.run([sys.executable, "-m", "regexp", "report", "--runs-dir", str(last)], cwd=REPO,
                             capture_output=True, text=True, env={**os.environ, "COLUMNS": "150"}).stdout)
    local, slurm = statistics.median(times["local"]), statistics.median(times["slurm"])
    print(f"| 24 trials (6 points x 4 seeds), 10 epochs, --workers 2 | local {local:.1f} s | slurm {slurm:.1f} s | "
          f"**{slurm / local:.2f}x** | rounds {[round(t, 1) for t in times['local']]} vs "
          f"{[round(t, 1) for t in times['slurm']]} |")


if __name__ == "__main__":
    main()
