"""Benchmark: the error rate, coverage and seeds spent of `decide:` (sweep/decide.py), by simulation.

    .venv/bin/python bench/decide.py [--experiments 10000]

Each experiment draws per-seed outcomes of a baseline and 1 or 8 arms, takes looks of 5 seeds as
`decide:` does (report/sequential.py's interval at alpha / arms and its verdict), and stops an arm
when it is decided or has the budget. Differences are in units of the sd of one seed's paired
difference; the margin is 0.5 of that.

- wrong: the share of experiments with any wrong decision (better or worse against the truth, or
  equivalent when |Δ| >= margin): at most alpha = 0.05 is the guarantee;
- coverage: the share of arms whose final interval holds the true Δ (at least 95%);
- seeds: the mean seeds per arm at the decision (the budget for undecided arms), next to the seeds
  of a fixed-n paired t-test with 80% power at that effect (noncentral t, report/stats.py's Design).
"""

import argparse
import math

import numpy as np

from regexp.report import sequential
from regexp.report.stats import Design

ALPHA, MARGIN, BATCH = 0.05, 0.5, 5
SD = 1 / math.sqrt(2)  # each arm's per-seed noise: their paired difference then has sd 1


def normal(rng, shape):
    return rng.normal(0, SD, shape)


def heavy(rng, shape):  # Student t with 3 df, scaled to sd SD: rare huge seeds
    return rng.standard_t(3, shape) / math.sqrt(3) * SD


def skewed(rng, shape):  # centred exponential: a long right tail (the baseline stays normal)
    return (rng.exponential(1.0, shape) - 1.0) * SD


NOISE = {"normal": normal, "heavy-tailed (t3)": heavy, "skewed (exponential)": skewed}


def simulate(noise, effect: float, arms: int, n: int, max_seeds: int, rng) -> dict:
    base = normal(rng, (n, 1, max_seeds))
    d = noise(rng, (n, arms, max_seeds)) + effect - base  # arm minus baseline, per seed
    alpha = ALPHA / arms
    verdict = np.full((n, arms), "undecided", dtype=object)
    seeds = np.full((n, arms), max_seeds)
    low, high = np.full((n, arms), -np.inf), np.full((n, arms), np.inf)
    for looked in range(BATCH, max_seeds + 1, BATCH):
        open_ = verdict == "undecided"
        x = d[:, :, :looked]
        mean, sd = x.mean(axis=2), x.std(axis=2, ddof=1)
        r = sequential.radius(looked, 1.0, alpha) * sd
        lo, hi = mean - r, mean + r
        now = np.vectorize(lambda a, b: sequential.verdict(a, b, MARGIN, "max"))(lo, hi)
        low, high = np.where(open_, lo, low), np.where(open_, hi, high)
        decided = open_ & (now != "undecided")
        verdict[decided], seeds[decided] = now[decided], looked
    wrong = ((verdict == "better") & (effect <= 0)) | ((verdict == "worse") & (effect >= 0)) | (
        (verdict == "equivalent") & (abs(effect) >= MARGIN))
    return {"wrong": wrong.any(axis=1).mean(), "coverage": ((low <= effect) & (effect <= high)).mean(),
            "decided": (verdict != "undecided").mean(), "seeds": seeds.mean()}


def fixed_n(effect: float, arms: int) -> int:
    """Seeds of the fixed-n paired t-test with 80% power at `effect` (sd 1), at alpha / arms."""
    return Design(True, 1.0, 10).seeds_needed(effect, ALPHA / arms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=10_000)
    n = parser.parse_args().experiments
    rng = np.random.default_rng(0)
    print(f"| case | arms | seeds per arm: budget | wrong decisions (any arm) | final CI coverage | decided | "
          f"mean seeds per arm | fixed-n t, 80% power | (n = {n:,})")
    print("|---|---|---|---|---|---|---|---|")
    for name, noise in NOISE.items():
        for arms in (1, 8):
            r = simulate(noise, 0.0, arms, n, 40, rng)
            half = 1.96 * math.sqrt(r["wrong"] * (1 - r["wrong"]) / n)
            print(f"| null, {name} | {arms} | 40 | {r['wrong']:.4f} ± {half:.4f} | {r['coverage']:.4f} | "
                  f"{r['decided']:.3f} | {r['seeds']:.1f} | - |", flush=True)
    for effect in (0.5, 1.0, 2.0):
        for arms in (1, 8):
            for budget in (40, 200):
                r = simulate(normal, effect, arms, n, budget, rng)
                half = 1.96 * math.sqrt(r["wrong"] * (1 - r["wrong"]) / n)
                print(f"| effect {effect:g} sd, normal | {arms} | {budget} | {r['wrong']:.4f} ± {half:.4f} | "
                      f"{r['coverage']:.4f} | {r['decided']:.3f} | {r['seeds']:.1f} | {fixed_n(effect, arms)} |",
                      flush=True)


if __name__ == "__main__":
    main()
