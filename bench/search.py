"""TPE against random search at equal budget (issue 30); results in bench/README.md.

    .venv/bin/python bench/search.py [--seeds 10] [--trials 20] [--batch 5]

The quickstart on digits (10 epochs, early stopping off, one seed per point), four searched keys:
learning rate and L2 log-uniform, dropout uniform, Adam's beta_1 on the 1 - beta log scale;
objective val_loss. For each search seed, one `regexp sweep` with method: random and one with
method: tpe (`--batch` points a round), the same budget of points. Prints, per method, the best
point's val_loss (mean ± sd over the search seeds) and the expected best after k trials (Dodge et
al. 2019, from `regexp report --importance --format json`) averaged over the search seeds, and the
parameter importance of the pooled tpe points.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REGEXP = [sys.executable, "-m", "regexp"]
SPEC = """extends: {repo}/configs/quickstart.yaml
name: {name}
training: {{epochs: 10, early_stopping: null}}
search:
  method: {method}
  trials: {trials}
  batch: {batch}
  seed: {seed}
  params:
    training.optimizer.learning_rate: {{log_uniform: [1.0e-4, 1.0e-1]}}
    model.defaults.l2: {{log_uniform: [1.0e-6, 1.0e-2]}}
    model.defaults.dropout: {{uniform: [0.0, 0.6]}}
    training.optimizer.beta_1: {{log_uniform_1m: [0.5, 0.999]}}
  objective: {{metric: val_loss}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    found = {"random": [], "tpe": []}
    with tempfile.TemporaryDirectory() as tmp:
        env["REGEXP_CACHE_DIR"] = str(Path(tmp) / "cache")
        for seed in range(args.seeds):
            for method in found:
                spec, runs = Path(tmp) / f"{method}{seed}.yaml", Path(tmp) / f"{method}{seed}"
                batch = args.batch if method == "tpe" else 8  # random ignores it
                spec.write_text(SPEC.format(repo=REPO, name=f"{method}{seed}", method=method, trials=args.trials,
                                            batch=batch, seed=seed))
                subprocess.run([*REGEXP, "sweep", str(spec), "--runs-dir", str(runs), "-q"], check=True, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                report = subprocess.run([*REGEXP, "report", "--runs-dir", str(runs), "--importance", "-f", "json"],
                                        check=True, env=env, capture_output=True, text=True)
                (search,) = json.loads(report.stdout)["search"]
                found[method].append(search)
                best = min(p["objective"] for p in search["points"])
                print(f"seed {seed} {method}: best val_loss {best:.4f} of {search['n']} points", flush=True)
    print(f"\n{args.seeds} search seeds, {args.trials} points each (tpe: batches of {args.batch})")
    ks = sorted({k for k in (1, 5, 10, args.trials) if k <= args.trials})
    print("| method | best val_loss, mean ± sd | " + " | ".join(f"expected best at k={k}" for k in ks) + " |")
    print("|---|---|" + "---|" * len(ks))
    for method, searches in found.items():
        bests = [min(p["objective"] for p in s["points"]) for s in searches]
        expected = [statistics.mean(e["mean"] for s in searches for e in s["expected_best"] if e["k"] == k)
                    for k in ks]
        print(f"| {method} | {statistics.mean(bests):.4f} ± {statistics.stdev(bests):.4f} | "
              + " | ".join(f"{e:.4f}" for e in expected) + " |")
    shares = [s["importance"] for s in found["tpe"] if s["importance"]]
    if shares:
        print("importance (tpe, mean over seeds): " + ", ".join(
            f"{key} {statistics.mean(s[key] for s in shares):.2f}" for key in shares[0]))


if __name__ == "__main__":
    main()
