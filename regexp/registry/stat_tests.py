"""The tests `regexp report --test NAME` offers for an arm against its baseline, one StatTestDef each:
what it assumes, what computes it (scipy's tests), its citation and its line of the CLI's help.
Adding a test is one entry here plus its test; docs/formulas.md documents each (a test checks it).

Every test takes the comparison's own pairing: the paired differences of the seeds both arms have,
or the two arms when they share no seed, and returns the two-sided p and the 95% interval of Δ.
The effect size and the power stay the t-test's (report/stats.py). No numpy or scipy at import:
each test imports them when called.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

N_RESAMPLES = 100_000  # exact below this many permutations, Monte Carlo (seeded) above
N_BOOTSTRAP = 10_000
CONFIDENCE = 0.95      # report/stats.py's ALPHA = 0.05, two-sided

Interval = tuple[float, float]


@dataclass(frozen=True)
class StatTestDef:
    name: str                  # the --test value
    paired: str                # its name in the report, arms paired on their seeds
    unpaired: str              # ... arms that share no seed
    assumes: str               # what its p-value rests on, besides independent seeds
    compute: Callable[[Any, bool, int], tuple[float, Interval]]  # (pairs | (arm, baseline), paired, seed) -> (p, CI)
    computed_by: tuple[str, ...]  # the library functions it calls (docs/formulas.md names them)
    citation: str
    help: str                  # its line in `regexp report --help`

    def label(self, paired: bool) -> str:
        return self.paired if paired else self.unpaired


def _t(data, paired: bool, seed: int) -> tuple[float, Interval]:
    """The paired t-test (a one-sample t of the differences, as scipy's ttest_rel), or Welch's."""
    from scipy import stats

    result = stats.ttest_1samp(data, 0.0) if paired else stats.ttest_ind(*data, equal_var=False)
    ci = result.confidence_interval(CONFIDENCE)
    return float(result.pvalue), (float(ci.low), float(ci.high))


def _permutation(data, paired: bool, seed: int) -> tuple[float, Interval]:
    """Paired: the sign of each seed's difference flipped at random (the two arms exchangeable on a
    seed under the null); exact over all 2^n sign patterns up to 16 pairs (65,536 <= N_RESAMPLES).
    Unpaired: the arm labels permuted. The CI of Δ is `bootstrap_interval`'s."""
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(seed)
    if paired:
        d = np.asarray(data, dtype=float)
        # pairs (d_i, 0) with their members swapped at random: each swap flips the sign of d_i
        samples, kind = (d, np.zeros_like(d)), "samples"
    else:
        samples, kind = tuple(np.asarray(x, dtype=float) for x in data), "independent"
    result = stats.permutation_test(samples, mean_difference, vectorized=True, permutation_type=kind,
                                    n_resamples=N_RESAMPLES, alternative="two-sided", random_state=rng)
    return float(result.pvalue), bootstrap_interval(data, paired, rng)


def _ranks(data, paired: bool, seed: int) -> tuple[float, Interval]:
    """Wilcoxon's signed rank of the differences (zero differences ranked and then left out: Pratt),
    or the rank sum (Mann-Whitney U) of two unpaired arms. The p-value is the permutation
    distribution of the statistic, exact up to N_RESAMPLES arrangements: a seed's accuracy often
    ties another's, and then scipy's default (the normal approximation) is off at 3-10 seeds."""
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(seed)
    exact = stats.PermutationMethod(n_resamples=N_RESAMPLES, rng=rng)
    if paired:
        result = stats.wilcoxon(np.asarray(data, dtype=float), zero_method="pratt", method=exact)
    else:
        result = stats.mannwhitneyu(*data, alternative="two-sided", method=exact)
    return float(result.pvalue), bootstrap_interval(data, paired, rng)


def bootstrap_interval(data, paired: bool, rng) -> Interval:
    """The percentile bootstrap 95% interval of Δ from the same pairs (or each arm resampled). At
    3-5 seeds it covers less than 95% (the resamples see at most n distinct values)."""
    import numpy as np
    from scipy import stats

    samples = (np.asarray(data, dtype=float),) if paired else tuple(np.asarray(x, dtype=float) for x in data)
    ci = stats.bootstrap(samples, np.mean if paired else mean_difference, confidence_level=CONFIDENCE,
                         n_resamples=N_BOOTSTRAP, method="percentile", vectorized=True,
                         random_state=rng).confidence_interval
    return float(ci.low), float(ci.high)


def mean_difference(x, y, axis=-1):
    import numpy as np

    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


STAT_TESTS: dict[str, StatTestDef] = {t.name: t for t in (
    StatTestDef("t", "paired t-test", "Welch's t-test",
                "the mean difference roughly normal over the seeds (Welch: each arm's mean; unequal spreads allowed)",
                _t, ("scipy.stats.ttest_1samp", "scipy.stats.ttest_ind"), "Student (1908); Welch (1947)",
                "paired or Welch t-test"),
    StatTestDef("permutation", "sign-flip permutation test", "permutation test (arm labels)",
                "under the null a seed's two values (or the arms' labels) are exchangeable",
                _permutation, ("scipy.stats.permutation_test", "scipy.stats.bootstrap"),
                "Fisher (1935); Efron & Tibshirani (1993)",
                "sign-flip for paired arms, exact up to 16 pairs; label permutation otherwise; bootstrap CI of Δ"),
    StatTestDef("wilcoxon", "Wilcoxon signed-rank test", "Mann-Whitney U test",
                "under the null the differences are symmetric about 0 (unpaired: both arms have one distribution)",
                _ranks, ("scipy.stats.wilcoxon", "scipy.stats.mannwhitneyu", "scipy.stats.bootstrap"),
                "Wilcoxon (1945); Pratt (1959); Mann & Whitney (1947)",
                "signed ranks for paired arms, Mann-Whitney U otherwise: one wild seed moves it little; exact by "
                "permutation up to 16 pairs; bootstrap CI of Δ"),
)}


def help_line() -> str:
    """The --test option's help: each test with its line."""
    return " | ".join(f"{t.name} ({t.help})" for t in STAT_TESTS.values()) + "."
