"""The rank test of `report --failures worst`, where a failed seed ranks below every completed value:
by hand on scipy's permutation test, with the resampling settings of registry/stat_tests.py.
"""

import numpy as np

from regexp.registry.stat_tests import N_RESAMPLES, mean_difference


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
        result = stats.permutation_test((signed, np.zeros_like(signed)), mean_difference, vectorized=True,
                                        permutation_type="samples", n_resamples=N_RESAMPLES,
                                        alternative="two-sided", random_state=rng)
    else:
        a, b = score(list(other.values())), score(list(base.values()))
        ranks = stats.rankdata(np.concatenate([a, b]))
        result = stats.permutation_test((ranks[:len(a)], ranks[len(a):]), mean_difference, vectorized=True,
                                        permutation_type="independent", n_resamples=N_RESAMPLES,
                                        alternative="two-sided", random_state=rng)
    return float(result.pvalue)

