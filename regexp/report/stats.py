"""Mean ± std with a 95% CI; each arm against the baseline: the difference with its CI, the t-test,
the p-value adjusted over the report's comparisons, an effect size and the power of the design.

scipy provides the t and noncentral t distributions, the tests and Benjamini-Hochberg; it is
imported only when a group or a baseline needs it, so a plain `regexp report` stays fast.
"""

import math
from dataclasses import dataclass

ALPHA = 0.05     # two-sided; every CI is the matching 95% interval
POWER = 0.80     # min_detectable and seeds_needed: the difference found 4 times in 5
MIN_POWER_N = 3  # below 3 seeds the observed spread says too little to plan with
MAX_SEEDS = 100_000
CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}


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
    std = _std(values)
    half = _t_quantile(n - 1) * std / math.sqrt(n)
    return Summary(mean, std, n, (mean - half, mean + half))


@dataclass
class Design:
    """The spread a comparison saw, enough to ask what it could detect: paired (the differences'
    std over n pairs) or Welch (each arm's std and n)."""

    paired: bool
    std_a: float              # paired: std of the differences; Welch: the baseline's std
    n_a: int
    std_b: float = 0.0        # Welch: the other arm's
    n_b: int = 0

    def se_df(self, n: int | None = None) -> tuple[float, float]:
        """Standard error of the difference and its degrees of freedom (Welch-Satterthwaite), with
        `n` seeds per arm (or pairs) instead of the observed ones when given."""
        n_a, n_b = (n, n) if n else (self.n_a, self.n_b)
        if self.paired:
            return self.std_a / math.sqrt(n_a), n_a - 1
        va, vb = self.std_a ** 2 / n_a, self.std_b ** 2 / n_b
        df = (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1)) if va + vb > 0 else n_a + n_b - 2
        return math.sqrt(va + vb), df

    def power(self, delta: float, n: int | None = None) -> float:
        """P(the two-sided t-test at ALPHA rejects) when the true difference is `delta`: the
        noncentral t distribution with noncentrality delta / se."""
        from scipy.stats import nct

        se, df = self.se_df(n)
        crit, nc = _t_quantile(df), abs(delta) / se
        upper, lower = float(nct.sf(crit, df, nc)), float(nct.cdf(-crit, df, nc))
        return upper + (lower if math.isfinite(lower) else 0.0)  # scipy's far tail can be NaN: it is ~0

    @property
    def plannable(self) -> bool:
        sizes = (self.n_a,) if self.paired else (self.n_a, self.n_b)
        return min(sizes) >= MIN_POWER_N and self.se_df()[0] > 0

    def min_detectable(self) -> float | None:
        """The smallest |difference| these seeds detect with POWER (None without spread or seeds)."""
        if not self.plannable:
            return None
        from scipy.optimize import brentq

        se, df = self.se_df()
        return float(brentq(lambda d: self.power(d) - POWER, 0.0, se * (_t_quantile(df) + 6)))

    def seeds_needed(self, delta: float) -> int | None:
        """The fewest seeds per arm (pairs, when paired) that detect `delta` with POWER; None when
        there is no spread to plan with or it takes more than MAX_SEEDS."""
        if not self.plannable or self.power(delta, MAX_SEEDS) < POWER:
            return None
        low, high = 2, 2  # power grows with n: double until enough, then bisect
        while self.power(delta, high) < POWER:
            low, high = high, high * 2
        while low < high:
            mid = (low + high) // 2
            low, high = (mid + 1, high) if self.power(delta, mid) < POWER else (low, mid)
        return high


@dataclass
class Comparison:
    diff: float                           # other mean minus baseline mean
    n: str                                # "10 pairs", "5 vs 4"
    test: str | None = None               # "paired t-test", "Welch's t-test"; None when n is too small
    diff_ci95: tuple[float, float] | None = None
    p: float | None = None
    effect: float | None = None           # Cohen's d (Welch, pooled std) or d_z (paired): in std units
    design: Design | None = None
    p_adjusted: float | None = None       # filled by adjust(), over every comparison of the report
    verdict: str = ""
    min_detectable: float | None = None
    seeds_needed: int | None = None       # with --detect
    note: str | None = None               # e.g. the metric chose the sweep's best point

    def to_json(self) -> dict:
        return {"diff": self.diff, "diff_ci95": list(self.diff_ci95) if self.diff_ci95 else None,
                "test": self.test, "n": self.n, "p": self.p, "p_adjusted": self.p_adjusted,
                "effect_size": self.effect, "verdict": self.verdict, "min_detectable": self.min_detectable,
                "seeds_needed": self.seeds_needed, "note": self.note}


def compare(base: dict, other: dict) -> Comparison | None:
    """`other` against `base` ({replicate: value}): paired by replicate when both ran exactly the
    same seeds (and folds), Welch's t-test otherwise."""
    if not base or not other:
        return None
    b, o = list(base.values()), list(other.values())
    diff = sum(o) / len(o) - sum(b) / len(b)
    paired = set(base) == set(other)
    n = f"{len(b)} pairs" if paired else f"{len(b)} vs {len(o)}"
    if len(b) < 2 or len(o) < 2:
        return Comparison(diff, n, verdict="no test: needs 2 or more seeds per arm (repeat: 10)")
    import warnings

    from scipy import stats

    warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)  # near-identical values: caught below
    if paired:
        keys = sorted(base, key=repr)
        pairs = [other[k] - base[k] for k in keys]
        result = stats.ttest_rel([other[k] for k in keys], [base[k] for k in keys])
        sd = _std(pairs)
        comparison = Comparison(diff, n, "paired t-test", effect=diff / sd if sd else None,
                                design=Design(True, sd, len(pairs)))
    else:
        result = stats.ttest_ind(o, b, equal_var=False)
        pooled = math.sqrt(((len(o) - 1) * _std(o) ** 2 + (len(b) - 1) * _std(b) ** 2) / (len(o) + len(b) - 2))
        comparison = Comparison(diff, n, "Welch's t-test", effect=diff / pooled if pooled else None,
                                design=Design(False, _std(b), len(b), _std(o), len(o)))
    p = float(result.pvalue)
    spread = comparison.design.se_df()[0]
    scale = max(abs(v) for v in (*b, *o)) or 1.0
    if not math.isfinite(p) or spread <= 1e-9 * scale:  # identical up to rounding: no variance to test
        comparison.verdict = "no test: no variance"
        return comparison
    ci = result.confidence_interval(1 - ALPHA)
    comparison.p, comparison.diff_ci95 = p, (float(ci.low), float(ci.high))
    comparison.min_detectable = comparison.design.min_detectable()
    return comparison


def adjust(comparisons: list[Comparison], correction: str, better: str | None) -> None:
    """Adjust the p-values over the comparisons that have one and read each verdict from its
    adjusted p. `better` is the focus column's direction: "min", "max", or None (higher/lower)."""
    tested = [c for c in comparisons if c.p is not None]
    for c, p_adjusted in zip(tested, adjusted_p([c.p for c in tested], correction)):
        c.p_adjusted = p_adjusted
        if p_adjusted < ALPHA and better is None:
            c.verdict = "higher" if c.diff > 0 else "lower"
        elif p_adjusted < ALPHA:
            improved = (c.diff < 0) == (better == "min")
            c.verdict = "better" if improved else "worse"
        else:
            c.verdict = "no significant difference"


def adjusted_p(ps: list[float], correction: str) -> list[float]:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjusted p-values."""
    if correction == "none" or not ps:
        return list(ps)
    if correction == "bh":
        from scipy.stats import false_discovery_control

        return [float(p) for p in false_discovery_control(ps, method="bh")]
    # Holm's step-down by hand (scipy has none): the i-th smallest p times (m - i), kept monotone
    m, out, running = len(ps), [0.0] * len(ps), 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: ps[i])):
        running = max(running, min(1.0, (m - rank) * ps[index]))
        out[index] = running
    return out


def _t_quantile(df: float) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, 1 - ALPHA / 2))


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
