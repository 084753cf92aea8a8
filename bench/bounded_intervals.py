"""Benchmark: `decide:` on an accuracy measured on a small test part, by simulation: the t-test
confidence sequence (report/sequential.py, the interval `decide:` used for every metric before) against
the betting confidence sequence for bounded differences (report/betting.py, what it uses now for
accuracy-like metrics), both with the rule that no arm is equivalent within a margin below one test
sample.

    .venv/bin/python bench/bounded_intervals.py [--experiments 2000]

Each experiment trains, per seed, a baseline and one arm evaluated on the same n_test test samples
(same seed, same split): sample i is right for an arm when rho z_i + sqrt(1 - rho^2) e_i < q_arm,
z_i shared by both arms (how hard the sample is), e_i each arm's own, q_arm = Phi^-1(p_arm); so an
arm's expected accuracy is exactly p_arm and the true difference is p_arm - p_baseline. Looks of 5
seeds up to 40, alpha 0.05, one arm, as `decide:` takes them.

- wrong: the share of experiments whose arm was decided wrongly (better when the true difference
  is <= 0, worse when >= 0, equivalent when |difference| >= margin): at most alpha is the guarantee;
- coverage: the share of final intervals that hold the true difference;
- zero width: the share of final intervals of width 0 (every paired difference equal);
- decided, seeds: the share decided within the budget, and the mean seeds at the decision.
"""

import argparse
import math
import time

import numpy as np
from scipy.stats import norm

from regexp.report import betting, sequential

ALPHA, BATCH, BUDGET, RHO = 0.05, 5, 40, 0.8
GRID = (np.arange(2000) + 0.5) / 2000  # candidate means in [0, 1], steps of 0.001 in the difference

CASES = [  # (name, n_test, p_baseline, p_arm, margin, rho, collapse)
    ("saturated, equal arms", 69, 0.99, 0.99, 0.01, 0.97, 0.0),
    ("saturated, equal arms", 100, 0.99, 0.99, 0.01, 0.97, 0.0),
    ("saturated, arm worse by the margin", 100, 0.99, 0.98, 0.01, 0.97, 0.0),
    ("saturated, arm worse by the margin", 50, 0.99, 0.97, 0.02, 0.97, 0.0),
    ("not saturated, equal arms", 50, 0.80, 0.80, 0.02, RHO, 0.0),
    ("not saturated, equal arms", 100, 0.80, 0.80, 0.02, RHO, 0.0),
    ("not saturated, arm better by the margin", 100, 0.80, 0.82, 0.02, RHO, 0.0),
    ("not saturated, arm better by 0.15", 100, 0.80, 0.95, 0.02, RHO, 0.0),
    ("arm collapses to 0.5 on 1 seed in 20", 100, 0.90, 0.90, 0.015, 0.97, 0.05),
]


def accuracies(rng, n: int, n_test: int, p_base: float, p_arm: float, rho: float, collapse: float,
               seeds: int = BUDGET) -> np.ndarray:
    """(experiments, seeds) paired differences of accuracy, arm minus baseline; on a share `collapse`
    of its seeds the arm's training collapses to an accuracy of 0.5 (no NaN: the run completes)."""
    z = rng.standard_normal((n, seeds, n_test))
    right = [(rho * z + math.sqrt(1 - rho ** 2) * rng.standard_normal(z.shape) < norm.ppf(p)).mean(axis=2)
             for p in (p_base, p_arm)]
    arm = np.where(rng.random(right[1].shape) < collapse, 0.5, right[1])
    return arm - right[0]


def verdicts(low, high, margin: float, resolution: float) -> np.ndarray:
    """sequential.verdict, vectorized, with no equivalence within a margin below the resolution."""
    out = np.full(low.shape, "undecided", dtype=object)
    out[(-margin < low) & (high < margin) & (margin >= resolution)] = "equivalent"
    out[low > 0], out[high < 0] = "better", "worse"
    return out


def t_intervals(d: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The t confidence sequence at each look: (experiments, looks)."""
    looks = range(BATCH, BUDGET + 1, BATCH)
    low, high = [], []
    for n in looks:
        x = d[:, :n]
        r = sequential.radius(n, 1.0, alpha) * x.std(axis=1, ddof=1)
        low.append(x.mean(axis=1) - r)
        high.append(x.mean(axis=1) + r)
    return np.array(low).T, np.array(high).T


def betting_intervals(d: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The betting confidence sequence at each look on the grid (ends widened by one grid step)."""
    looks = np.arange(BATCH, BUDGET + 1, BATCH) - 1
    low, high = np.empty((len(d), len(looks))), np.empty((len(d), len(looks)))
    bar = math.log(1 / alpha)
    for e, pairs in enumerate(d):
        x = betting.to_unit(pairs, 1.0)
        plus, minus = betting.log_capitals(x, GRID, betting.bets(x, alpha))
        hedged = np.maximum.accumulate(np.maximum(math.log(betting.THETA) + plus,
                                                  math.log(1 - betting.THETA) + minus), axis=0)[looks]
        for k, row in enumerate(hedged < bar):
            inside = np.flatnonzero(row)
            if not len(inside):  # every candidate excluded: an empty interval, which holds nothing
                low[e, k], high[e, k] = np.inf, -np.inf
                continue
            low[e, k] = 2 * GRID[max(inside[0] - 1, 0)] - 1 if inside[0] else -1.0
            high[e, k] = 2 * GRID[min(inside[-1] + 1, len(GRID) - 1)] - 1 if inside[-1] < len(GRID) - 1 else 1.0
    return low, high


def run(low, high, truth: float, margin: float, resolution: float) -> dict:
    """Each experiment stops at its first decided look; the numbers of the table."""
    now = verdicts(low, high, margin, resolution)
    decided = now != "undecided"
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), low.shape[1] - 1)
    rows = np.arange(len(low))
    verdict, lo, hi = now[rows, first], low[rows, first], high[rows, first]
    wrong = (((verdict == "better") & (truth <= 0)) | ((verdict == "worse") & (truth >= 0))
             | ((verdict == "equivalent") & (abs(truth) >= margin - 1e-12)))
    return {"wrong": wrong.mean(), "coverage": ((lo <= truth) & (truth <= hi)).mean(),
            "zero": (hi - lo <= 0).mean(), "decided": (verdict != "undecided").mean(),
            "seeds": ((first + 1) * BATCH).mean(), "verdicts": {v: (verdict == v).mean() for v in
                                                                 ("better", "worse", "equivalent")}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=2000)
    n = parser.parse_args().experiments
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    print(f"(n = {n:,} experiments per line; alpha {ALPHA}; looks of {BATCH} seeds up to {BUDGET})")
    print("| case | n_test (one sample) | accuracy: baseline, arm | margin | interval | wrong | coverage | "
          "zero width | decided (better/worse/equivalent) | mean seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, n_test, p_base, p_arm, margin, rho, collapse in CASES:
        d = accuracies(rng, n, n_test, p_base, p_arm, rho, collapse)
        truth = (1 - collapse) * p_arm + collapse * 0.5 - p_base
        for method, (low, high) in (("t CS", t_intervals(d, ALPHA)), ("betting CS", betting_intervals(d, ALPHA))):
            r = run(low, high, truth, margin, 1 / n_test)
            half = 1.96 * math.sqrt(max(r["wrong"] * (1 - r["wrong"]), 1 / n) / n)
            split = "/".join(f"{r['verdicts'][v]:.2f}" for v in ("better", "worse", "equivalent"))
            print(f"| {name} | {n_test} ({1 / n_test:.4f}) | {p_base:.2f}, {p_arm:.2f} | {margin:g} | {method} | "
                  f"{r['wrong']:.3f} ± {half:.3f} | {r['coverage']:.3f} | {r['zero']:.3f} | {r['decided']:.2f} "
                  f"({split}) | {r['seeds']:.1f} |", flush=True)
    print()
    print("Seeds the betting confidence sequence needs (one arm, alpha 0.05, no budget): median over "
          f"{n // 10} experiments of the first seed at which the arm is better (not saturated, n_test 100)")
    print("| true difference | 0.02 | 0.05 | 0.10 | 0.15 | 0.30 |")
    print("|---|---|---|---|---|---|")
    print("| seeds to 'better' | " + " | ".join(f"{first_better(rng, n // 10, effect)}" for effect in
                                                (0.02, 0.05, 0.10, 0.15, 0.30)) + " |")
    print("| margin | 0.01 | 0.02 | 0.05 | 0.10 | 0.20 |")
    print("| seeds to 'equivalent', every difference 0 | " + " | ".join(
        str(first_equivalent(margin)) for margin in (0.01, 0.02, 0.05, 0.10, 0.20)) + " |")
    print(f"({time.perf_counter() - start:.0f} s)")


def first_better(rng, n: int, effect: float, most: int = 1500) -> str:
    """The median first seed at which the hedged capital against a difference of 0 reaches 1/alpha."""
    firsts = []
    for _ in range(n):
        (pairs,) = accuracies(rng, 1, 100, 0.80, 0.80 + effect, RHO, 0.0, seeds=most)
        x = betting.to_unit(pairs, 1.0)
        plus, minus = betting.log_capitals(x, np.array([0.5]), betting.bets(x, ALPHA))
        hit = np.flatnonzero(np.maximum(math.log(betting.THETA) + plus, math.log(1 - betting.THETA) + minus)[:, 0]
                             >= math.log(1 / ALPHA))
        firsts.append(hit[0] + 1 if len(hit) else np.inf)
    median = float(np.median(firsts))
    return f"{median:.0f}" if math.isfinite(median) else f"> {most}"


def first_equivalent(margin: float, most: int = 5000) -> str:
    """The fewest seeds, every paired difference 0, whose interval lies within ±margin (bisection)."""
    inside = lambda k: max(np.abs(betting.interval([0.0] * k, 1.0, ALPHA))) < margin  # noqa: E731
    if not inside(most):
        return f"> {most}"
    low, high = 1, most
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if inside(mid) else (mid + 1, high)
    return str(low)


if __name__ == "__main__":
    main()
