"""Packs on a table with text columns and empty cells (issue #40), for `bench/packed.py tables`.

A penguins-like csv and a 2 x 2 dropout x L2 decide sweep on it, timed as whole `regexp sweep`
processes three ways: (a) this checkout, packed; (b) a git revision's code (a worktree in the temp
folder) where such trials train alone; (c) this checkout on an all-numeric copy of the table. The
decide margin is tiny and early stopping is off, so every arm runs to max_seeds and every trial
trains every epoch: the three sides do the same work. CPU seconds (the process tree's, from
getrusage) beside the wall clock: this machine is shared, and CPU time moves less with its load.
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from packed import REPO, timed

PENGUINS = ("name: penguins\nseed: 0\ndata: {{path: {path}, target: species{missing}}}\nmodel:\n"
            "  defaults: {{dropout: 0.0, l2: 0.0}}\n  layers: [{{type: dense, units: 32}}]\ntraining:\n  epochs: 30\n"
            "  batch_size: 16\n  optimizer: {{name: adam, learning_rate: 0.01}}\n  early_stopping: null\nsearch:\n"
            "  method: grid\n  params: {{model.defaults.dropout: [0.0, 0.2], model.defaults.l2: [0.0, 1.0e-3]}}\n"
            "  objective: {{metric: val_loss}}\ndecide: {{baseline: 'dropout=0.0,l2=0.0', metric: test_accuracy, "
            "margin: 1.0e-6, max_seeds: {seeds}}}\n")  # every trial trains every epoch; no arm is equivalent
SPECIES = {"Adelie": (152, (38.8, 2.7), (18.3, 1.2), (190, 6.5), (3700, 460), ("Biscoe", "Dream", "Torgersen")),
           "Chinstrap": (68, (48.8, 3.3), (18.4, 1.1), (196, 7.1), (3733, 384), ("Dream",)),
           "Gentoo": (124, (47.5, 3.1), (15.0, 1.0), (217, 6.5), (5076, 504), ("Biscoe",))}


def penguins(folder: Path) -> tuple[Path, Path]:
    """A penguins-like csv (344 rows: 3 species, bill/flipper/mass with 2 rows empty, island, sex with
    11 empty) and its all-numeric copy: island and sex one-hot coded as 0/1 columns, empty cells filled
    with the column's mean (an empty sex: 0 in both)."""
    import numpy as np

    rng, rows = np.random.default_rng(0), []
    for species, (n, *measures, islands) in SPECIES.items():
        for _ in range(n):
            values = [f"{rng.normal(m, s):.1f}" for m, s in measures]
            rows.append([species, islands[rng.integers(len(islands))], *values, ("male", "female")[rng.integers(2)]])
    empty = rng.choice(len(rows), 11, replace=False)  # as the real data: 2 rows empty but species and island,
    for i in empty[:2]:                                 # 9 more without sex
        rows[i][2:] = [""] * 5
    for i in empty[2:]:
        rows[i][6] = ""
    header = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
    means = [np.mean([float(r[j]) for r in rows if r[j]]) for j in range(2, 6)]
    coded = [[r[0], *(int(r[1] == v) for v in ("Biscoe", "Dream", "Torgersen")),
              *(r[j] or f"{means[j - 2]:.1f}" for j in range(2, 6)), int(r[6] == "male"), int(r[6] == "female")]
             for r in rows]
    files = (folder / "penguins.csv", folder / "penguins_numeric.csv")
    for file, head, body in zip(files, (header, [header[0], "island_biscoe", "island_dream", "island_torgersen",
                                                 *header[2:6], "sex_male", "sex_female"]), (rows, coded)):
        file.write_text("".join(",".join(map(str, row)) + "\n" for row in [head, *body]))
    return files


def tables(seeds: int, rounds: int, against: str) -> None:
    """The penguins-like decide sweep, whole `regexp sweep` processes (2 workers here) alternating, medians: (a)
    this checkout, packed; (b) `against`'s code, where such a table trains alone; (c) the all-numeric copy."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table, numeric = penguins(folder)
        (folder / "a.yaml").write_text(PENGUINS.format(path=table, missing=", missing: mean", seeds=seeds))
        (folder / "c.yaml").write_text(PENGUINS.format(path=numeric, missing="", seeds=seeds))
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder / "old"), against],
                       check=True, capture_output=True)
        sides = {"(a) packed": ("a.yaml", REPO), f"(b) {against}: alone": ("a.yaml", folder / "old"),
                 "(c) all-numeric, packed": ("c.yaml", REPO)}
        found = {side: [] for side in sides}
        try:  # the cwd is the temp folder: `python -m` would import this checkout's regexp from the repo root
            for r in range(rounds):
                for side in list(sides)[r % 3:] + list(sides)[:r % 3]:
                    runs, (spec, code) = folder / f"runs-{r}-{side[1]}", sides[side]
                    cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
                    seconds, _ = timed([sys.executable, "-m", "regexp", "sweep", str(folder / spec), "--runs-dir",
                                        str(runs), "-q"], dict(os.environ, PYTHONPATH=str(code)), cwd=folder)
                    cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - cpu  # its workers' included
                    found[side].append((seconds, cpu, len(list(runs.glob("*/model.keras")))))
                    print(f"round {r + 1} {side}: {seconds:.1f} s, CPU {cpu:.1f} s, {found[side][-1][2]} trials",
                          flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder / "old")])
    wall = {side: statistics.median(t for t, _, _ in times) for side, times in found.items()}
    cpu = {side: statistics.median(c for _, c, _ in times) for side, times in found.items()}
    print("| side | median wall s | median CPU s | rounds: wall s, CPU s (trials) |\n|---|---|---|---|")
    for side, times in found.items():
        print(f"| {side} | {wall[side]:.1f} | {cpu[side]:.1f} | "
              f"{'; '.join(f'{t:.1f}, {c:.1f} ({n})' for t, c, n in times)} |")
    for what, m in (("wall", wall), ("CPU", cpu)):
        a, b, c = m.values()
        print(f"{what}: (b)/(a) = {b / a:.1f}x (target >= 10); (a)/(c) = {a / c:.2f} (target <= 1.5)")
