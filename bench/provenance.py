"""Benchmark: what provenance costs per run, and `regexp status` over 100 specs.

    .venv/bin/python bench/provenance.py

- git: trial/provenance.py's git_state on a spec that extends a base, in a fresh repository (median
  of 20); a run alone pays it once, a sweep once for all its trials;
- data: the sha256 of a 10 MB csv, cold and then from the (path, size, mtime) cache;
- split: the fingerprint of the train/val/test parts of digits (1,797 x 64) and of an array the size
  of MNIST (70,000 x 784 float32), which every trial pays;
- status: `regexp status` over 100 specs (copies of configs/quickstart.yaml under other names, 3
  seeds each) against a runs folder where each has 3 completed runs (made by hand, no training).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from regexp.spec import load_spec
from regexp.trial.provenance import data_fingerprint, extends_chain, git_state, split_fingerprint

REPO = Path(__file__).resolve().parent.parent


def median_ms(fn, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["REGEXP_CACHE_DIR"] = str(tmp / "cache")
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
               "GIT_COMMITTER_EMAIL": "b@b"}
        repo = tmp / "repo"
        repo.mkdir()
        (repo / "base.yaml").write_text((REPO / "configs" / "quickstart.yaml").read_text())
        (repo / "spec.yaml").write_text("extends: base.yaml\nname: child\n")
        for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "s"]):
            subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
        chain = extends_chain(repo / "spec.yaml")
        print(f"git state (spec + base, clean): {median_ms(lambda: git_state(chain)):.1f} ms median of 20")
        (repo / "base.yaml").write_text((repo / "base.yaml").read_text() + "\n# edited\n")
        print(f"git state (base edited, with its diff): {median_ms(lambda: git_state(chain)):.1f} ms median of 20")

        rng = np.random.default_rng(0)
        csv = tmp / "big.csv"
        np.savetxt(csv, rng.normal(size=(50_000, 20)), delimiter=",", header=",".join(f"c{i}" for i in range(20)),
                   comments="", fmt="%.6f")
        spec = tmp / "csv.yaml"
        spec.write_text(yaml.safe_dump({"name": "csv", "data": {"path": str(csv), "target": "c0"}}))
        loaded = load_spec(spec)
        start = time.perf_counter()
        data_fingerprint(loaded)
        cold = (time.perf_counter() - start) * 1000
        print(f"data fingerprint, {csv.stat().st_size / 1e6:.1f} MB csv: cold {cold:.1f} ms, cached "
              f"{median_ms(lambda: data_fingerprint(loaded)):.2f} ms median of 20")

        digits = [(rng.normal(size=(1078, 64)), rng.integers(10, size=1078)) for _ in range(3)]
        mnist = [(rng.normal(size=(n, 784)).astype(np.float32), rng.integers(10, size=n)) for n in (48000, 12000,
                                                                                                   10000)]
        print(f"split fingerprint: digits-sized {median_ms(lambda: split_fingerprint(digits)):.2f} ms, "
              f"MNIST-sized {median_ms(lambda: split_fingerprint(mnist), 5):.1f} ms (median)")

        specs, runs = tmp / "specs", tmp / "runs"
        specs.mkdir()
        base = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
        fingerprint = data_fingerprint(load_spec(REPO / "configs" / "quickstart.yaml"))
        for i in range(100):
            file = specs / f"s{i:03d}.yaml"
            file.write_text(yaml.safe_dump({**base, "name": f"s{i:03d}", "repeat": 3}))
            for seed in range(3):
                trial = load_spec(file, [f"seed={seed}", "repeat=1", "search=null", "decide=null"])
                folder = runs / f"20261201T000000Z_s{i:03d}_{seed}"
                folder.mkdir(parents=True)
                info = {"id": folder.name, "name": f"s{i:03d}", "status": "completed", "seed": seed,
                        "started": "2026-12-01T00:00:00.000+00:00", "spec_hash": trial.spec_hash(),
                        "config": trial.resolved(), "provenance": {"data": fingerprint}}
                (folder / "run.json").write_text(json.dumps(info))
                (folder / "config.yaml").write_text("{}")
                (folder / "metrics.json").write_text(json.dumps({"val": {"loss": 0.1}}))
        times = []
        for _ in range(5):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "regexp", "status", str(specs), "--runs-dir", str(runs),
                                   "--check"], capture_output=True, text=True)
            times.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stdout + done.stderr
        print(f"regexp status over 100 specs x 3 seeds, 300 runs, all up to date: {statistics.median(times):.2f} s "
              "median of 5 (the command, Python start-up included)")


if __name__ == "__main__":
    main()
