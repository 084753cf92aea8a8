"""The distribution-free comparison (`report --test permutation`): scipy's permutation test and
bootstrap, on the same pairing as the t-test.

Paired arms: the sign of each seed's difference is flipped at random (the two arms exchangeable on a
seed under the null); exact over all 2^n sign patterns up to 16 pairs (65,536 <= N_RESAMPLES), a
seeded Monte Carlo of N_RESAMPLES flips above. Unpaired arms: the arm labels are permuted. The CI of
Δ is a percentile bootstrap of the same pairs; at small n (3-5 seeds) its coverage falls short of
95% (the resamples see at most n distinct values), which docs/formulas.md states.
"""

import numpy as np

N_RESAMPLES = 100_000  # exact below this many permutations, Monte Carlo (seeded) above
N_BOOTSTRAP = 10_000


def permutation_test(data, paired: bool, seed: int = 0) -> tuple[float, tuple[float, float]]:
    """(two-sided p, 95% bootstrap CI of Δ) for paired differences, or unpaired (arm, baseline)."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    if paired:
        d = np.asarray(data, dtype=float)
        # pairs (d_i, 0) with their members swapped at random: each swap flips the sign of d_i
        result = stats.permutation_test((d, np.zeros_like(d)), _mean_difference, vectorized=True,
                                        permutation_type="samples", n_resamples=N_RESAMPLES,
                                        alternative="two-sided", random_state=rng)
        ci = stats.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=N_BOOTSTRAP, method="percentile",
                             vectorized=True, random_state=rng).confidence_interval
    else:
        arm, base = (np.asarray(x, dtype=float) for x in data)
        result = stats.permutation_test((arm, base), _mean_difference, vectorized=True,
                                        permutation_type="independent", n_resamples=N_RESAMPLES,
                                        alternative="two-sided", random_state=rng)
        ci = stats.bootstrap((arm, base), _mean_difference, confidence_level=0.95, n_resamples=N_BOOTSTRAP,
                             method="percentile", vectorized=True, random_state=rng).confidence_interval
    return float(result.pvalue), (float(ci.low), float(ci.high))


def failures_last_test(base: dict, other: dict, paired: bool, better: str, seed: int = 0) -> float:
    """Two-sided p of a rank test in which a failed or crashed seed (NaN here) ranks below every
    completed value of either arm (`--failures worst`). Paired: Wilcoxon's signed-rank statistic
    (zero differences, such as two failures, kept at rank 0: Pratt's treatment), its sign flips
    exact up to 16 pairs; unpaired: the Mann-Whitney statistic with the arm labels permuted.
    Valid whether or not failures depend on the outcome: under the null the two arms of a seed,
    failures included, are exchangeable, and the ranks do not need a value for a failure.
    Written by hand: scipy's wilcoxon and mannwhitneyu take no "worse than everything" value."""
    from scipy import stats

    def score(values: list[float]) -> np.ndarray:  # higher is better; a failure is -inf
        x = np.asarray(values, dtype=float) * (1.0 if better == "max" else -1.0)
        return np.where(np.isnan(x), -np.inf, x)

    rng = np.random.default_rng(seed)
    keys = sorted(other, key=repr)
    if paired:
        a, b = score([other[k] for k in keys]), score([base[k] for k in keys])
        with np.errstate(invalid="ignore"):  # -inf - -inf is NaN: two failures are a tie
            d = np.where(np.isneginf(a) & np.isneginf(b), 0.0, a - b)
        signed = np.sign(d) * stats.rankdata(np.abs(d))
        result = stats.permutation_test((signed, np.zeros_like(signed)), _mean_difference, vectorized=True,
                                        permutation_type="samples", n_resamples=N_RESAMPLES,
                                        alternative="two-sided", random_state=rng)
    else:
        a, b = score(list(other.values())), score(list(base.values()))
        ranks = stats.rankdata(np.concatenate([a, b]))
        result = stats.permutation_test((ranks[:len(a)], ranks[len(a):]), _mean_difference, vectorized=True,
                                        permutation_type="independent", n_resamples=N_RESAMPLES,
                                        alternative="two-sided", random_state=rng)
    return float(result.pvalue)


def _mean_difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)
