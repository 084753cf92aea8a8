"""Mean ± std with a 95% confidence interval, and the significance test against a baseline.

scipy provides the t distribution and the tests (Welch's t-test, the paired t-test); it is imported
only when a group or a baseline needs it, so a plain `regexp report` stays fast.
"""

import math
from dataclasses import dataclass

from regexp.report.collect import Row

ALPHA = 0.05  # two-sided; the CI is the matching 95% interval


@dataclass
class Summary:
    mean: float
    std: float | None        # sample standard deviation (ddof 1); None for a single value
    n: int
    ci95: tuple[float, float] | None  # t-based interval for the mean; None when n < 2

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std, "n": self.n, "ci95": list(self.ci95) if self.ci95 else None}


def summarize(values: list[float]) -> Summary | None:
    if not values:
        return None
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Summary(mean, None, 1, None)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.special import stdtrit  # t quantile

    half = float(stdtrit(n - 1, 1 - ALPHA / 2)) * std / math.sqrt(n)
    return Summary(mean, std, n, (mean - half, mean + half))


@dataclass
class Comparison:
    diff: float                  # other mean minus baseline mean
    test: str | None             # "paired t-test", "Welch's t-test", or None when n is too small
    p: float | None
    effect: float | None         # Cohen's d (Welch) or d_z (paired): the difference in std units
    verdict: str

    def to_json(self) -> dict:
        return {"diff": self.diff, "test": self.test, "p": self.p, "effect_size": self.effect, "verdict": self.verdict}


def compare(baseline: Row, other: Row, column: str) -> Comparison | None:
    """other vs baseline on one column, paired by seed when both ran exactly the same seeds."""
    base, oth = baseline.by_seed(column), other.by_seed(column)
    if not base or not oth:
        return None
    b, o = list(base.values()), list(oth.values())
    diff = sum(o) / len(o) - sum(b) / len(b)
    if len(b) < 2 or len(o) < 2:
        return Comparison(diff, None, None, None, f"no test: n = {len(b)} vs {len(o)} (needs repeats)")
    from scipy import stats

    if set(base) == set(oth):  # the same seeds: pair the runs seed by seed
        seeds = sorted(base)
        pairs = [oth[s] - base[s] for s in seeds]
        result = stats.ttest_rel([oth[s] for s in seeds], [base[s] for s in seeds])
        sd = _std(pairs)
        test, effect, n_text = "paired t-test", (sum(pairs) / len(pairs)) / sd if sd else None, f"n = {len(pairs)}"
    else:
        result = stats.ttest_ind(o, b, equal_var=False)
        pooled = math.sqrt(((len(o) - 1) * _std(o) ** 2 + (len(b) - 1) * _std(b) ** 2) / (len(o) + len(b) - 2))
        test, effect = "Welch's t-test", diff / pooled if pooled else None
        n_text = f"n = {len(b)}" if len(b) == len(o) else f"n = {len(b)} vs {len(o)}"
    p = float(result.pvalue)
    if not math.isfinite(p):  # identical values on both sides: no variance to test
        return Comparison(diff, test, None, effect, f"no test: no variance ({n_text})")
    verdict = f"significant (p = {p:.3g}, {n_text})" if p < ALPHA else f"not significant with {n_text}"
    return Comparison(diff, test, p, effect, verdict)


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
