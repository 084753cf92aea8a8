"""Benchmark: how often the race of search.confirm names a point that is not within the margin of the
truly best, and the seeds it spends, by simulation (report/race.py's own decision step).

    .venv/bin/python bench/racing.py [--experiments 2000]

Each experiment draws per-seed outcomes of k points with known means (higher is better): point i on
seed j is mu_i + s_j + e_ij, where s_j is a seed effect every point shares (sd 1: what pairing
removes) and e_ij the point's own noise, normal or skewed (a centred exponential: a long tail on the
good side), with sd 1/sqrt(2), so that a paired difference has sd 1. The race takes looks of 5 seeds
as sweep/confirm.py does (every point still racing gets the same new seeds; report/race.py's `step`
at alpha 0.05 over the k(k-1)/2 pairs; a point decided worse leaves) until the leader is decided
best or every point has 40 seeds. Means and margins (0.5 and 1) are in units of the sd of a paired
difference.

- wrong: the share of experiments that named a point more than the margin below the best (at most
  alpha = 0.05 is the guarantee), with its 95% Monte Carlo interval (Wilson);
- named: the share that named a best (the rest end undecided at the budget);
- seeds: the mean seeds per point, against the fixed design's 40 (every point at the budget);
- fixed design: the same 40 seeds of every point, the best mean named: how often it names a point
  outside the margin (no error control, never "undecided").
"""

import argparse
import math
import time

import numpy as np

from regexp.report import race, sequential

ALPHA, BATCH, BUDGET = 0.05, 5, 40
MARGINS = (0.5, 1.0)
SD = 1 / math.sqrt(2)


def normal(rng, shape):
    return rng.normal(0, SD, shape)


def skewed(rng, shape):
    return (rng.exponential(1.0, shape) - 1.0) * SD


NOISE = {"normal": normal, "skewed (exponential)": skewed}


def truths(k: int, margin: float) -> dict[str, np.ndarray]:
    """The true means: one point better than all others by 1.2 margins (naming any other is an
    error, the hardest case for the guarantee); a ladder, each point half a margin below the one
    before (naming the third or lower is an error); every point equal (any is right)."""
    return {"one best by 1.2 m": np.array([0.0] + [-1.2 * margin] * (k - 1)),
            "ladder of m/2": -0.5 * margin * np.arange(k),
            "all equal": np.zeros(k)}


def race_once(x: np.ndarray, margin: float) -> tuple[int | None, int]:
    """Race the k rows of x (k points x BUDGET seeds): (the point named best or None, seeds trained)."""
    k = len(x)
    rule = race.Rule("val_loss", margin, ALPHA, "max", k, sequential.T_INTERVAL)
    alive, spent, trained = list(range(k)), 0, 0
    while spent < BUDGET:
        spent = min(spent + BATCH, BUDGET)
        trained += BATCH * len(alive)
        found = race.step({str(i): dict(enumerate(x[i, :spent].tolist())) for i in alive}, rule)
        if found.decided:
            return int(found.leader), trained
        alive = [int(s.key) for s in found.standings if s.verdict != "worse"]
    return None, trained


def wilson(wrong: int, n: int) -> tuple[float, float]:
    """The 95% Wilson interval of a share, as scipy.stats.binomtest(...).proportion_ci(method="wilson")
    gives it (written out: this benchmark needs numpy alone)."""
    p, z = wrong / n, 1.96
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (
        1 + z * z / n)
    return max(0.0, centre - half), centre + half


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=2000)
    n = parser.parse_args().experiments
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    print(f"| noise | k | margin | truth | wrong (race) [95% MC] | named | seeds per point (fixed: {BUDGET}) | "
          f"wrong (fixed design) | (n = {n:,})")
    print("|---|---|---|---|---|---|---|---|")
    for name, noise in NOISE.items():
        for k in (3, 5, 8):
            for margin in MARGINS:
                for truth, mu in truths(k, margin).items():
                    wrong = named = seeds = fixed_wrong = 0
                    for _ in range(n):
                        x = mu[:, None] + rng.normal(0, 1, (1, BUDGET)) + noise(rng, (k, BUDGET))
                        best, trained = race_once(x, margin)
                        named += best is not None
                        wrong += best is not None and mu[best] < mu.max() - margin
                        seeds += trained / k
                        fixed_wrong += mu[int(np.argmax(x.mean(axis=1)))] < mu.max() - margin
                    low, high = wilson(wrong, n)
                    print(f"| {name} | {k} | {margin:g} | {truth} | {wrong / n:.4f} [{low:.4f}, {high:.4f}] | "
                          f"{named / n:.3f} | {seeds / n:.1f} | {fixed_wrong / n:.4f} |", flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
