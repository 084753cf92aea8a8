"""Anytime-valid confidence sequences for a paired mean difference: what `decide:` decides with.

For n paired differences d (arm minus baseline, one per seed) with mean m and sd s, the interval

    m ± r_n,   r_n = t*_n · s / √n,

where t*_n is the |t| at which the t-test's Bayes factor with a normal prior on the standardized
effect, δ ~ N(0, g) (and the scale-invariant prior on σ), reaches 1/α:

    BF(t) = (1 + n·g)^(-1/2) · [(1 + t²/ν) / (1 + t²/(ν(1 + n·g)))]^((ν+1)/2),   ν = n - 1

(Gönen, Johnson, Lu & Westfall, 2005, for the formula). Under d ~ N(μ, σ²), this Bayes factor at
the true μ is a nonnegative martingale with mean 1 over the scale-invariant filtration, so by
Ville's inequality P(it ever reaches 1/α) <= α (Lai, 1976; Pérez-Ortiz, Lardy, de Heide &
Grünwald, 2024; Wang & Ramdas, 2025): the intervals cover μ at every n at once with probability
at least 1 - α, however the number of seeds was chosen. A decision read from the interval at
whatever look it is taken is wrong only if the interval missed. Written by hand: no library we
use ships a confidence sequence (closed form, below).

G = 1 (the unit-information prior, tuned to effects of about one standard deviation of d):
larger g spends less at huge effects and more at small ones. The price of looking as often as one
likes is width: at n = 40, α = 0.05, the interval is 1.64 times the fixed-n 95% t interval, and
there is no finite interval below NEEDED(α) pairs (5 at α = 0.05, 7 at 0.05/8).
"""

import math

G = 1.0


def radius(n: int, sd: float, alpha: float, g: float = G) -> float:
    """Half-width of the 1 - alpha confidence sequence at n pairs (math.inf: not yet finite)."""
    if n < 2:
        return math.inf
    nu = n - 1
    ratio = (math.sqrt(1 + n * g) / alpha) ** (2 / (nu + 1))  # the bracket BF must reach, solved for t²
    room = 1 - ratio / (1 + n * g)
    if room <= 0:
        return math.inf
    t_squared = nu * (ratio - 1) / room
    return math.sqrt(t_squared) * sd / math.sqrt(n)


def bayes_factor(t: float, n: int, g: float = G) -> float:
    """The t-test Bayes factor above, for checking `radius` (BF(t*) = 1/α)."""
    nu = n - 1
    return (1 + n * g) ** -0.5 * ((1 + t * t / nu) / (1 + t * t / (nu * (1 + n * g)))) ** ((nu + 1) / 2)


def needed(alpha: float, g: float = G) -> int:
    """The fewest pairs at which the interval is finite."""
    n = 2
    while math.isinf(radius(n, 1.0, alpha, g)):
        n += 1
    return n


def interval(pairs: list[float], alpha: float) -> tuple[float, float]:
    """The confidence sequence's interval for the mean of `pairs` (±inf while not yet finite)."""
    n = len(pairs)
    mean = sum(pairs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in pairs) / (n - 1)) if n > 1 else math.inf
    r = radius(n, sd, alpha) if math.isfinite(sd) else math.inf
    return mean - r, mean + r


def verdict(low: float, high: float, margin: float, better: str, resolution: float | None = None) -> str:
    """better / worse when the interval excludes 0 (by the metric's direction), equivalent when it
    lies within ±margin (and the margin is at least one sample of the part, `resolution`), else
    undecided."""
    if low > 0 or high < 0:
        return "better" if (low > 0) == (better == "max") else "worse"
    if -margin < low and high < margin and (resolution is None or margin >= resolution):
        return "equivalent"
    return "undecided"


# the interval of one comparison; a method (what sweep.json records) adds how alpha is shared
T_INTERVAL = f"anytime-valid confidence sequence (t-test Bayes factor, normal prior g = {G:g})"
BETTING_INTERVAL = ("anytime-valid confidence sequence for bounded differences (betting, hedged capital with "
                    "predictable plug-in bets: Waudby-Smith & Ramdas, 2023)")
OVER_ARMS = ", alpha split equally over the arms (Bonferroni)"
T_METHOD = T_INTERVAL + OVER_ARMS
BETTING_METHOD = BETTING_INTERVAL + OVER_ARMS


def method(metric: str) -> str:
    """How `decide:` makes the intervals of `metric`: betting for a metric with a bounded range (an
    accuracy: differences in [-1, 1], in steps of one sample, often all equal near saturation, where a
    normal-theory interval has width 0), the t-test confidence sequence otherwise."""
    from regexp.registry.metrics import span
    from regexp.store.contract import MetricKey

    return BETTING_METHOD if span(MetricKey.parse(metric).name) is not None else T_METHOD


def anytime_interval(metric: str, pairs: list[float], alpha: float, how: str) -> tuple[float, float]:
    """The interval of `how` (a `method` as sweep.json records it, or its interval alone) for the mean
    of `pairs` (in the order their seeds were collected)."""
    if how.startswith(BETTING_INTERVAL):
        from regexp.registry.metrics import span
        from regexp.report import betting
        from regexp.store.contract import MetricKey

        return betting.interval(pairs, span(MetricKey.parse(metric).name), alpha)
    return interval(pairs, alpha)


def first_possible(metric: str, alpha: float) -> int | None:
    """The fewest paired seeds at which a decision is possible: finite t intervals (`needed`), or,
    for a bounded metric, every pair at the range's end excluding 0."""
    if method(metric) == BETTING_METHOD:
        from regexp.registry.metrics import span
        from regexp.report import betting
        from regexp.store.contract import MetricKey

        return betting.fewest(span(MetricKey.parse(metric).name), alpha)
    return needed(alpha)


__all__ = ["BETTING_INTERVAL", "BETTING_METHOD", "G", "T_INTERVAL", "T_METHOD", "anytime_interval", "first_possible",
           "interval", "method", "needed", "radius", "verdict"]
