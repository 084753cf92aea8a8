"""Writes penguins-like.csv, the claims suite's real-shaped table: a table shaped like R's export of
the Palmer penguins (Horst, Hill & Gorman, 2020; `write.csv(palmerpenguins::penguins)`), 344 rows
with a row index column without a header, quoted strings, NA markers (two birds with no
measurements, eleven with no sex), three species on three islands. The values are drawn, seeded,
from each species' published means and standard deviations (males 0.5 sd larger), not measured:
the suite needs the shape of a real table, and the data may not be downloaded.

    python configs/claims/penguins_like.py configs/claims/penguins-like.csv
"""

import csv
import sys
from pathlib import Path

import numpy as np

# species: (birds per island, mean and sd of bill length, bill depth, flipper length, body mass)
SPECIES = {
    "Adelie": ({"Biscoe": 44, "Dream": 56, "Torgersen": 52}, [(38.79, 2.66), (18.35, 1.22), (189.95, 6.54),
                                                              (3700.66, 458.57)]),
    "Chinstrap": ({"Dream": 68}, [(48.83, 3.34), (18.42, 1.14), (195.82, 7.13), (3733.09, 384.34)]),
    "Gentoo": ({"Biscoe": 124}, [(47.50, 3.08), (14.98, 0.98), (217.19, 6.48), (5076.02, 504.12)]),
}
COLUMNS = ["", "species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex",
           "year"]


def rows(seed: int = 0) -> list[list]:
    rng = np.random.default_rng(seed)
    out = []
    for species, (islands, measures) in SPECIES.items():
        for island, count in islands.items():
            for _ in range(count):
                male = rng.random() < 0.5
                values = [mean + sd * (rng.standard_normal() + (0.5 if male else -0.5)) for mean, sd in measures]
                out.append([species, island, round(values[0], 1), round(values[1], 1), int(round(values[2])),
                            int(round(values[3] / 25) * 25), "male" if male else "female",
                            int(rng.choice([2007, 2008, 2009]))])
    for index in (3, 271):  # two birds without measurements or sex, as in the real table
        out[index][2:7] = ["NA"] * 5
    for index in rng.choice([i for i in range(len(out)) if i not in (3, 271)], 9, replace=False):
        out[index][6] = "NA"
    return [[i + 1, *row] for i, row in enumerate(out)]


def write(path: Path) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows():
            writer.writerow(row)
    # R writes NA bare: csv's QUOTE_NONNUMERIC would quote it as a string
    path.write_text(path.read_text().replace('"NA"', "NA"))


if __name__ == "__main__":
    write(Path(sys.argv[1]))
