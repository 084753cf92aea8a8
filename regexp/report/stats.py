"""Mean ± std with a 95% CI; each arm against the baseline: the difference with its CI, the test
(registry/stat_tests.py; the t-test by default), the p-value adjusted over the report's
comparisons, an effect size and the power of the design.

scipy provides the t and noncentral t distributions, the tests and Benjamini-Hochberg; it is
imported only when a baseline needs it or a group's t quantile is not yet in report/quantiles.py's
file, so a plain `regexp report` stays fast.
"""

import math
from dataclasses import dataclass, field

from regexp.registry.stat_tests import STAT_TESTS
from regexp.report import quantiles
from regexp.report.collect import replicate_text

ALPHA = 0.05     # two-sided; every CI is the matching 95% interval
POWER = 0.80     # min_detectable and seeds_needed: the difference found 4 times in 5
MIN_POWER_N = 3  # below 3 seeds the observed spread says too little to plan with
MAX_SEEDS = 100_000


@dataclass
class Summary:
    mean: float
    std: float | None        # sample standard deviation (ddof 1); None for a single value
    n: int
    ci95: tuple[float, float] | None  # t-based interval for the mean; None when n < 2

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std, "n": self.n, "ci95": list(self.ci95) if self.ci95 else None}


def summarize(values: list[float], bounds: tuple[float | None, float | None] = (None, None)) -> Summary | None:
    """Mean, std and the t interval of the mean, clipped to the metric's range (`bounds`): an
    accuracy's interval over 3 seeds can otherwise reach past 1."""
    if not values:
        return None
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Summary(mean, None, 1, None)
    std = _std(values)
    half = _t_quantile(n - 1) * std / math.sqrt(n)
    low, high = bounds
    return Summary(mean, std, n, (max(mean - half, low if low is not None else -math.inf),
                                  min(mean + half, high if high is not None else math.inf)))


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

    def power(self, delta: float, n: int | None = None, alpha: float = ALPHA) -> float:
        """P(the two-sided t-test at `alpha` rejects) when the true difference is `delta`: the
        noncentral t distribution with noncentrality delta / se."""
        from scipy.stats import nct

        se, df = self.se_df(n)
        crit, nc = _t_quantile(df, alpha), abs(delta) / se
        upper, lower = float(nct.sf(crit, df, nc)), float(nct.cdf(-crit, df, nc))
        return upper + (lower if math.isfinite(lower) else 0.0)  # scipy's far tail can be NaN: it is ~0

    @property
    def plannable(self) -> bool:
        sizes = (self.n_a,) if self.paired else (self.n_a, self.n_b)
        return min(sizes) >= MIN_POWER_N and self.se_df()[0] > 0

    def min_detectable(self, alpha: float = ALPHA) -> float | None:
        """An estimate, from the observed spread, of the smallest |difference| these seeds detect with
        POWER at `alpha` (the family's adjusted level); None without spread or seeds."""
        if not self.plannable:
            return None
        from scipy.optimize import brentq

        se, df = self.se_df()
        return float(brentq(lambda d: self.power(d, alpha=alpha) - POWER, 0.0, se * (_t_quantile(df, alpha) + 8)))

    def seeds_needed(self, delta: float, alpha: float = ALPHA) -> int | None:
        """The fewest seeds per arm (pairs, when paired) that detect `delta` with POWER at `alpha`;
        None when there is no spread to plan with or it takes more than MAX_SEEDS."""
        if not self.plannable or self.power(delta, MAX_SEEDS, alpha) < POWER:
            return None
        low, high = 2, 2  # power grows with n: double until enough, then bisect
        while self.power(delta, high, alpha) < POWER:
            low, high = high, high * 2
        while low < high:
            mid = (low + high) // 2
            low, high = (mid + 1, high) if self.power(delta, mid, alpha) < POWER else (low, mid)
        return high


@dataclass
class Comparison:
    diff: float                           # other minus baseline: the mean of the paired differences
    n: str                                # "10 pairs", "9 pairs (1 left out)", "5 vs 4"
    test: str | None = None               # "paired t-test", "Welch's t-test"; None when n is too small
    diff_ci95: tuple[float, float] | None = None  # unadjusted 95% interval of the difference
    p: float | None = None
    effect: float | None = None           # effect_name's value, small-sample corrected
    effect_name: str | None = None        # "d_z" (paired: mean difference / its std) or "Hedges' g" (unpaired)
    design: Design | None = None
    p_adjusted: float | None = None       # filled by adjust(), over every comparison of the report
    verdict: str = ""
    min_detectable: float | None = None   # an estimate: the |Δ| found with 80% power at the adjusted α
    seeds_needed: int | None = None       # with --detect
    note: str | None = None               # e.g. the metric chose the sweep's best point
    left_out: list[str] = field(default_factory=list)  # replicates only one arm has, and why
    folds_averaged: bool = False          # cross-validation: folds averaged within each seed, n = seeds
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per arm: runs by status
    equivalence: dict | None = None       # --margin: TOST on the same pairing (see `equivalence`)
    p_improvement: dict | None = None     # paired: P(arm beats the baseline on a seed) with its 95% CI
    pairs: list[float] = field(default_factory=list, repr=False)  # paired differences (or both arms, unpaired)
    span: float | None = None             # a bounded metric's range width: its intervals are report/betting.py's
    descriptive: str | None = None        # why this is no verdict (seeds a sequential rule collected)

    def to_json(self) -> dict:
        return {"diff": self.diff, "diff_ci95": list(self.diff_ci95) if self.diff_ci95 else None,
                "diff_ci95_adjusted": False, "test": self.test, "n": self.n, "p": self.p,
                "p_adjusted": self.p_adjusted, "effect_size": self.effect, "effect_size_name": self.effect_name,
                "verdict": self.verdict, "min_detectable": self.min_detectable, "seeds_needed": self.seeds_needed,
                "note": self.note, "left_out": self.left_out, "folds_averaged": self.folds_averaged,
                "counts": self.counts, "equivalence": self.equivalence, "p_improvement": self.p_improvement,
                "descriptive": self.descriptive}


def seed_order(key: tuple) -> tuple:
    """Replicates by seed, then fold, numbers in numeric order (seed 2 before seed 10)."""
    return tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, repr(v))
                 for v in key)


def by_seed(values: dict[tuple, float]) -> dict[tuple, float]:
    """Cross-validation folds of one seed share their data: they are one replicate, their mean."""
    groups: dict[tuple, list[float]] = {}
    for (seed, fold, *rest), value in values.items():
        groups.setdefault((seed, None, *rest), []).append(value)
    return {key: sum(v) / len(v) for key, v in groups.items()}


def compare(base: dict, other: dict, why: dict[str, dict] | None = None, test: str = "t",
            better: str | None = None, seed: int = 0, folds: str = "average",
            span: float | None = None) -> Comparison | None:
    """`other` against `base` ({(seed, fold): value}): paired on the replicates both arms have (the
    others are left out and named, with `why` = {"baseline": {replicate: reason}, "arm": {...}});
    cross-validation folds are paired fold by fold and then averaged within each seed; Welch's
    t-test only when the arms share no seed. `test`: the registry/stat_tests.py test that gives p and
    the CI of Δ (the t-test by default). `better`: the focus's direction,
    for P(improvement). `span`: the width of a bounded metric's range (1 for an accuracy): paired
    differences that are all equal get the bounded interval and test of report/betting.py, never a
    zero-width one, and equivalence is tested with it."""
    if not base or not other:
        return None
    why = why or {}
    shared = set(base) & set(other)
    # a replicate only one arm has is named with why the other lacks it (failed, crashed, no value, not run)
    left_out = [f"{replicate_text(k)} ({lacking}: {why.get(lacking, {}).get(k, 'not run')})"
                for lacking, present in (("arm", base), ("baseline", other))
                for k in sorted(set(present) - shared, key=repr)]
    cv = any(len(k) > 1 and k[1] is not None for k in (*base, *other))
    if shared:
        base, other = {k: base[k] for k in shared}, {k: other[k] for k in shared}
    if cv and folds == "nadeau-bengio" and shared:
        return _corrected_resampled(_at_worst(base, better), _at_worst(other, better), left_out)
    if cv:
        base, other = by_seed(base), by_seed(other)  # a seed with a failed fold (NaN) is a failed seed
    folds = cv
    # --failures worst marks a failed seed NaN: Δ counts it as its arm's worst value, the test ranks it last
    ranked = (base, other) if any(math.isnan(v) for v in (*base.values(), *other.values())) else None
    if ranked:
        base, other = _at_worst(base, better), _at_worst(other, better)
        if not base or not other:
            return Comparison(math.nan, "", verdict="no test: every seed of an arm failed", left_out=left_out)
    b, o = list(base.values()), list(other.values())
    paired = bool(shared)
    if paired:
        keys = sorted(base, key=seed_order)  # the order the seeds were trained in (report/betting.py bets in it)
        pairs = [other[k] - base[k] for k in keys]
        diff = sum(pairs) / len(pairs)
        n = f"{len(keys)} {'seeds' if folds else 'pairs'}" + (f" ({len(left_out)} left out)" if left_out else "")
    else:
        diff = sum(o) / len(o) - sum(b) / len(b)
        n = f"{len(b)} vs {len(o)}"
    comparison = Comparison(diff, n, left_out=left_out, folds_averaged=folds)
    if len(b) < 2 or len(o) < 2:
        comparison.verdict = "no test: needs 2 or more seeds per arm (repeat: 10)"
        return comparison
    import warnings

    warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)  # near-identical values: caught below
    comparison.pairs = pairs if paired else [*o, *b]
    if paired and better is not None:
        comparison.p_improvement = p_improvement(pairs, better)
    # the design, effect size and power are the t-test's, whichever test gives p
    if paired:
        sd = _std(pairs)
        comparison.design = Design(True, sd, len(pairs))
        comparison.effect_name = "d_z"
        comparison.effect = _effect(diff, sd, len(pairs) - 1)
    else:
        pooled = math.sqrt(((len(o) - 1) * _std(o) ** 2 + (len(b) - 1) * _std(b) ** 2) / (len(o) + len(b) - 2))
        comparison.design = Design(False, _std(b), len(b), _std(o), len(o))
        comparison.effect_name = "Hedges' g"
        comparison.effect = _effect(diff, pooled, len(o) + len(b) - 2)
    comparison.test = STAT_TESTS["t"].label(paired)
    spread = comparison.design.se_df()[0]
    scale = max(abs(v) for v in (*b, *o)) or 1.0
    if paired and span is not None and test == "t" and not ranked:
        comparison.span = span
    chosen = STAT_TESTS[test]
    # identical up to rounding: no variance to test
    p, ci = chosen.compute(pairs if paired else (o, b), paired, seed) if spread > 1e-9 * scale else (math.nan, None)
    if not math.isfinite(p):
        if comparison.span is None:
            comparison.verdict = "no test: no variance"
            return comparison
        from regexp.report import betting  # every difference equal: an interval valid for bounded ones

        comparison.test = "betting test (bounded differences)"
        comparison.p = betting.p_value(pairs, span, n=len(pairs))
        comparison.diff_ci95 = betting.interval(pairs, span, ALPHA, n=len(pairs))
        return comparison
    comparison.test, comparison.p, comparison.diff_ci95 = chosen.label(paired), p, ci
    if ranked:
        from regexp.report.resampling import failures_last_test

        comparison.test = ("Wilcoxon signed-rank (failures ranked last)" if paired
                           else "Mann-Whitney U (failures ranked last)")
        comparison.p = failures_last_test(*ranked, paired, better or "max", seed)
    return comparison


def _at_worst(values: dict, better: str | None) -> dict:
    """A failed replicate (NaN) at its arm's worst completed value; an arm with none is empty."""
    done = [v for v in values.values() if not math.isnan(v)]
    if not done:
        return {}
    worst = (max if better == "min" else min)(done)
    return {k: worst if math.isnan(v) else v for k, v in values.items()}


def _corrected_resampled(base: dict, other: dict, left_out: list[str]) -> Comparison:
    """Fold-level inference by the corrected resampled t-test (Nadeau & Bengio, 2003): the variance
    of the mean difference over J = seeds x folds is inflated from s²/J to (1/J + n_test/n_train)·s²,
    where k-fold cross-validation has n_test/n_train = 1/(k - 1), since the folds overlap in their
    training data; df = J - 1."""
    from scipy.stats import t as student

    keys = sorted(base, key=repr)
    d = [other[k] - base[k] for k in keys]
    j, k = len(d), len({key[1] for key in keys})
    diff = sum(d) / j
    comparison = Comparison(diff, f"{j} seed x fold pairs", left_out=left_out)
    if j < 2 or k < 2:
        comparison.verdict = "no test: needs 2 or more folds and pairs"
        return comparison
    sd = _std(d)
    se = math.sqrt((1 / j + 1 / (k - 1)) * sd * sd)
    comparison.test = "corrected resampled t-test (Nadeau-Bengio)"
    comparison.design = Design(True, se * math.sqrt(j), j)  # its se is the corrected one
    if se <= 0:
        comparison.verdict = "no test: no variance"
        return comparison
    half = float(student.ppf(1 - ALPHA / 2, j - 1)) * se
    comparison.p = float(2 * student.sf(abs(diff) / se, j - 1))
    comparison.diff_ci95 = (diff - half, diff + half)
    comparison.pairs = d
    return comparison


def equivalence(c: Comparison, margin: float) -> dict | None:
    """TOST (Schuirmann, 1987) on the comparison's own pairing: two one-sided t-tests of Δ <= -margin
    and Δ >= +margin; equivalent at α when both reject, i.e. the 90% CI lies within ±margin."""
    if c.design is None or c.p is None:
        return None
    if c.span is not None:  # a bounded metric: a near-zero spread must not pass for a tight interval
        from regexp.report import betting

        p, ci90 = betting.equivalence(c.pairs, c.span, margin, 2 * ALPHA)
        return {"margin": margin, "ci90": ci90, "p": p, "p_adjusted": None, "equivalent": False,
                "test": "betting (bounded differences)"}
    from scipy.stats import t as student

    se, df = c.design.se_df()
    lower = float(student.sf((c.diff + margin) / se, df))  # H0: Δ <= -margin
    upper = float(student.cdf((c.diff - margin) / se, df))  # H0: Δ >= +margin
    half = float(student.ppf(1 - ALPHA, df)) * se
    return {"margin": margin, "ci90": [c.diff - half, c.diff + half], "p": max(lower, upper), "p_adjusted": None,
            "equivalent": False, "test": "TOST"}


def p_improvement(pairs: list[float], better: str) -> dict:
    """P(the arm beats the baseline on a seed) over the paired seeds, ties counting half, with the
    Wilson 95% interval (Wilson, 1927); the seeds are the trials."""
    wins = sum(1.0 if (d < 0 if better == "min" else d > 0) else 0.5 if d == 0 else 0.0 for d in pairs)
    n, z = len(pairs), 1.959963984540054
    share = wins / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"p": share, "ci95": [max(0.0, centre - half), min(1.0, centre + half)], "n": n}


def _effect(diff: float, sd: float, df: int) -> float | None:
    """diff / sd times Hedges' correction J(df) = Γ(df/2) / (√(df/2) Γ((df-1)/2)), exact (Hedges, 1981);
    d_z takes it with df = pairs - 1 (Lakens, 2013). At df = 2 it is 0.56: an uncorrected d_z at n = 3
    is 1.77x too big. None without spread or below df 2 (J(1) is 0: one degree of freedom says nothing)."""
    if not sd or df < 2:
        return None
    return diff / sd * math.exp(math.lgamma(df / 2) - math.lgamma((df - 1) / 2)) / math.sqrt(df / 2)


def adjust(comparisons: list[Comparison], correction: str, better: str | None, margin: float | None = None) -> None:
    """Adjust the p-values over the comparisons that have one and read each verdict from its
    adjusted p. `better` is the focus column's direction: "min", "max", or None (higher/lower).
    With `margin`, each also gets a TOST, adjusted over the same family, and "equivalent" when it
    is equivalent and not significantly different."""
    tested = [c for c in comparisons if c.p is not None]
    if margin is not None:
        for c in tested:
            c.equivalence = equivalence(c, margin)
        for c, p_adjusted in zip(tested, adjusted_p([c.equivalence["p"] for c in tested], correction)):
            c.equivalence.update(p_adjusted=p_adjusted, equivalent=p_adjusted < ALPHA)
    # min detectable is planned at the level the family's smallest p must reach: α/m under Holm or BH
    level = family_level(len(tested), correction)
    for c, p_adjusted in zip(tested, adjusted_p([c.p for c in tested], correction)):
        c.p_adjusted = p_adjusted
        c.min_detectable = c.design.min_detectable(level)
        if p_adjusted < ALPHA and better is None:
            c.verdict = "higher" if c.diff > 0 else "lower"
        elif p_adjusted < ALPHA:
            improved = (c.diff < 0) == (better == "min")
            c.verdict = "better" if improved else "worse"
        elif c.equivalence and c.equivalence["equivalent"]:
            c.verdict = "equivalent"
        else:
            c.verdict = "inconclusive"


def family_level(m: int, correction: str) -> float:
    """The α that the family's smallest p must reach: α/m under Holm and BH, α without a correction."""
    return ALPHA / m if correction != "none" and m else ALPHA


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


def _t_quantile(df: float, alpha: float = ALPHA) -> float:
    return quantiles.t_quantile(df, alpha)


def _std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
