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


def _mean_difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)
