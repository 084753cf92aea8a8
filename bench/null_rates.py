"""Benchmark: false-positive rates of the report's comparisons on null experiments, by simulation.

    .venv/bin/python bench/null_rates.py [--experiments 10000]

Each experiment draws arms with no true difference (seed effects shared by the arms, as a seed's
split and initialization are) and runs them through regexp.report.stats (compare, adjust: the
report's own code). A false positive is a verdict of better or worse. With α = 0.05 a valid
procedure's rate is 0.05 within Monte Carlo error (±0.0044 at 10,000 experiments, 95%).

- lost seed: 10 seeds per arm, one of the arm's seeds missing (failed or crashed) at random;
- cv folds: 3 seeds x 3 folds, the folds of a seed sharing a part of the difference (their data);
- best of 9: 9 null arms against one baseline, the best by mean reported, Holm over the 9;
- failures in both arms: 10 seeds, each arm failing (half the time) on the seeds where its own outcome
  would be in its bottom 30%;
- failures in the arm only: the same failure process in the arm alone. Its "better" verdicts are
  false, since the arm diverges where the baseline does not; dropping the failed seeds flatters it.
"""

import argparse
import math

import numpy as np

from regexp.report.stats import adjust, compare


def verdict(base: dict, arm: dict, correction="holm") -> str:
    c = compare(base, arm, better="max")
    adjust([c], correction, "max")
    return c.verdict


def lost_seed(rng) -> dict[str, bool]:
    seed = rng.normal(0, 0.02, 10)
    base = {(s, None): 0.9 + seed[s] + rng.normal(0, 0.004) for s in range(10)}
    arm = {(s, None): 0.9 + seed[s] + rng.normal(0, 0.004) for s in range(10)}
    del arm[(int(rng.integers(10)), None)]
    return {"paired on the shared seeds (now)": verdict(base, arm) in ("better", "worse")}


def cv_folds(rng) -> dict[str, bool]:
    base, arm = {}, {}
    for s in range(3):
        shared = rng.normal(0, 0.01)  # the part of the difference a seed's data gives every fold
        for f in range(3):
            level = rng.normal(0, 0.02)
            base[(s, f)] = 0.9 + level
            arm[(s, f)] = 0.9 + level + shared + rng.normal(0, 0.003)
    now = verdict(base, arm) in ("better", "worse")
    folds_as_seeds = verdict({(s * 3 + f, None): v for (s, f), v in base.items()},
                             {(s * 3 + f, None): v for (s, f), v in arm.items()}) in ("better", "worse")
    return {"folds averaged within a seed (now)": now, "folds as replicates (before)": folds_as_seeds}


def best_of_9(rng) -> dict[str, bool]:
    seed = rng.normal(0, 0.02, 5)
    base = {(s, None): 0.9 + seed[s] + rng.normal(0, 0.004) for s in range(5)}
    arms = [{(s, None): 0.9 + seed[s] + rng.normal(0, 0.004) for s in range(5)} for _ in range(9)]
    best = max(range(9), key=lambda i: np.mean(list(arms[i].values())))
    family = [compare(base, arm) for arm in arms]
    adjust(family, "holm", "max")
    alone = compare(base, arms[best])
    adjust([alone], "holm", "max")
    return {"the best declared better, Holm over all 9 (now)": family[best].verdict == "better",
            "any of the 9 declared better or worse, Holm over all 9 (now)": any(
                c.verdict in ("better", "worse") for c in family),
            "the best declared better, Holm over the 1 shown (before)": alone.verdict == "better"}


NOISE = 0.004                           # a run's own noise around its seed's level
LOW = -0.5244005127080407 * NOISE       # the 30% quantile of that noise: the seeds that would score low


def _draw(rng, seed_levels) -> tuple[dict, dict]:
    """One arm's outcomes by seed and its own noise (what decides a failure)."""
    noise = rng.normal(0, NOISE, len(seed_levels))
    return {(s, None): 0.9 + level + e for s, (level, e) in enumerate(zip(seed_levels, noise))}, noise


def _fail_bad(rng, noise) -> list:
    """The seeds on which an arm diverges: each seed whose own outcome would have been in its
    arm's bottom 30% fails with probability 1/2, independently of the other seeds (a fixed
    threshold of the generating distribution: a cut at the sample's own quantile would tie the
    seeds together, and no per-seed test is exact then)."""
    return [(s, None) for s, e in enumerate(noise) if e <= LOW and rng.random() < 0.5]


def failures_both(rng) -> dict[str, bool]:
    """Both arms fail the same way (the null includes the failure process)."""
    seed = rng.normal(0, 0.02, 10)
    (base, base_noise), (arm, arm_noise) = _draw(rng, seed), _draw(rng, seed)
    arm_failed, base_failed = _fail_bad(rng, arm_noise), _fail_bad(rng, base_noise)
    arm_kept = {k: v for k, v in arm.items() if k not in arm_failed}
    base_kept = {k: v for k, v in base.items() if k not in base_failed}
    return {"failed seeds dropped (default)": verdict(base_kept, arm_kept) in ("better", "worse"),
            "--failures worst (ranked last)": verdict(_nan(base, base_failed), _nan(arm, arm_failed))
            in ("better", "worse")}


def failures(rng) -> dict[str, bool]:
    """Only the arm fails: it is worse (it diverges where the baseline does not), so a "better"
    verdict is the false one; dropping its failed seeds removes its low outcomes and flatters it."""
    seed = rng.normal(0, 0.02, 10)
    (base, _), (arm, arm_noise) = _draw(rng, seed), _draw(rng, seed)
    failed = _fail_bad(rng, arm_noise)
    dropped = {k: v for k, v in arm.items() if k not in failed}
    return {"failed seeds dropped (default): declared better": verdict(base, dropped) == "better",
            "--failures worst (ranked last): declared better": verdict(base, _nan(arm, failed)) == "better",
            "--failures worst (ranked last): declared worse (true)": verdict(base, _nan(arm, failed)) == "worse"}


def _nan(values: dict, failed: list) -> dict:
    """--failures worst as the report passes it: a failed seed is NaN, ranked below every value."""
    return {k: math.nan if k in failed else v for k, v in values.items()}


NOT_NULL = {"failures in the arm only"}  # the arm is worse: its "better" verdicts are the errors, at most α/2
CASES = {"lost seed": lost_seed, "cv folds": cv_folds, "best of 9": best_of_9,
         "failures in both arms": failures_both, "failures in the arm only": failures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, of: " + ", ".join(CASES))
    args = parser.parse_args()
    n = args.experiments
    print(f"| case | procedure | false-positive rate (n = {n:,}) | within [0.04, 0.06] |")
    print("|---|---|---|---|")
    for case in args.cases.split(","):
        simulate = CASES[case]
        rng = np.random.default_rng(0)
        counts: dict[str, int] = {}
        for _ in range(n):
            for name, hit in simulate(rng).items():
                counts[name] = counts.get(name, 0) + hit
        for name, hits in counts.items():
            rate = hits / n
            half = 1.96 * math.sqrt(rate * (1 - rate) / n)
            band = "not a null" if case in NOT_NULL else "yes" if 0.04 <= rate <= 0.06 else "no"
            print(f"| {case} | {name} | {rate:.4f} ± {half:.4f} | {band} |", flush=True)


if __name__ == "__main__":
    main()
