"""search.halving on the digits grid against the full grid (issue 30); results in bench/README.md.

    .venv/bin/python bench/halving.py [--repeats 3]

configs/digits-dropout-l2-sweep.yaml (3 x 3 grid of dropout and L2, 3 seeds, 20 epochs, early
stopping patience 5, objective val_loss), once as written and once with
search.halving {eta: 3, min_epochs: 2} (rungs after epochs 2, 6 and 18), in three set-ups: packed
(the default) for `--repeats` seed sets (seed 0, 3, 6, ...: seeds 0-2, 3-5, 6-8); trials alone
(--pack off --workers 2, ASHA's asynchronous decisions) for the first; and a wider, longer variant
(2 x 512 units, 40 epochs: rungs 2, 6, 18) packed, where a pack's step costs enough that compacting
it to the survivors pays. Prints, per set-up, seed set and method: epochs trained over all trials,
wall-clock seconds of the sweep, the best point and its mean val_loss, and where halving's best
point ranks in the full grid (1 = it found the grid's best).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "configs" / "digits-dropout-l2-sweep.yaml"


WIDE = ["model.layers=[{type: dense, units: 512}, {type: dense, units: 512}]", "training.epochs=40"]


def sweep(runs: Path, seed: int, halving: bool, pack: str, workers: int, extra: list[str]) -> dict:
    overrides = [f"seed={seed}", *extra] + (["search.halving={eta: 3, min_epochs: 2}"] if halving else [])
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "regexp", "sweep", str(SPEC), "--runs-dir", str(runs), "-q",
                    "--pack", pack, "--workers", str(workers), *sum((["--set", o] for o in overrides), [])],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    (folder,) = runs.glob("*_sweep")
    state = json.loads((folder / "sweep.json").read_text())
    epochs = sum(json.loads((runs / t["run"] / "metrics.json").read_text())["epochs_run"] for t in state["trials"])
    means: dict[str, list[float]] = {}
    for t in state["trials"]:
        if t["status"] == "completed":
            means.setdefault(json.dumps(t["point"], sort_keys=True), []).append(t["objective"])
    return {"epochs": epochs, "seconds": seconds, "best": state["best"], "pruned": sum(t["status"] == "pruned"
                                                                                      for t in state["trials"]),
            "means": {p: sum(v) / len(v) for p, v in means.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setups = [("packed, 1 worker", "auto", 1, [], range(args.repeats)),
              ("alone, 2 workers", "off", 2, [], range(1)),
              ("wide, packed, 2 workers", "auto", 2, WIDE, range(1))]
    with tempfile.TemporaryDirectory() as tmp:
        for label, pack, workers, extra, repeats in setups:
            print(label)
            for r in repeats:
                seed = 3 * r
                full = sweep(Path(tmp) / f"{pack}{workers}{len(extra)}full{r}", seed, False, pack, workers, extra)
                halved = sweep(Path(tmp) / f"{pack}{workers}{len(extra)}halved{r}", seed, True, pack, workers, extra)
                ranked = sorted(full["means"], key=full["means"].get)
                rank = ranked.index(json.dumps(halved["best"]["point"], sort_keys=True)) + 1
                for name, result in (("full grid", full), ("halving", halved)):
                    point = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in result["best"]["point"].items())
                    print(f"  seeds {seed}-{seed + 2}  {name:9s}  epochs {result['epochs']:4d}  "
                          f"{result['seconds']:6.1f} s  pruned {result['pruned']:2d}  best {point}: "
                          f"val_loss {result['best']['objective']:.4f}")
                print(f"  seeds {seed}-{seed + 2}  halving's best point is number {rank} of 9 in the full grid "
                      f"(its full-grid val_loss {full['means'][ranked[rank - 1]]:.4f})")


if __name__ == "__main__":
    main()
