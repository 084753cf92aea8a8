"""Confidence sequences and intervals for the mean of bounded differences, by betting.

A paired difference of an accuracy-like metric lies in [-span, +span] (span 1 for an accuracy) and
comes in steps of one sample of the evaluated part. Normal-theory intervals (the t interval, the
t-test confidence sequence of report/sequential.py) read a run of equal differences (a saturated
accuracy: 69 of 69 right in both arms, every seed) as no spread at all and give a zero-width
interval. The intervals here are valid for any distribution on the bounded range, so they never do.

Waudby-Smith & Ramdas (2023), "Estimating means of bounded random variables by betting", JRSS-B
86(1): for x_i in [0, 1] (a difference d mapped to x = (d + span) / (2 span)) and a candidate mean
m, a gambler who bets a predictable fraction of her capital on x_i against m holds

    K+_t(m) = prod_{i<=t} (1 + l+_i(m) (x_i - m)),     K-_t(m) = prod_{i<=t} (1 - l-_i(m) (x_i - m)),

each a nonnegative martingale with mean 1 when m is the true mean. The hedged capital
max(theta K+, (1 - theta) K-) is at most theta K+ + (1 - theta) K-, itself such a martingale, so by
Ville's inequality it ever reaches 1/alpha with probability at most alpha (their Theorem 3): the
set {m : the hedged capital has stayed below 1/alpha at every t <= n} covers the mean at every n at
once with probability >= 1 - alpha. It is an interval (each K+- is quasiconvex in m, and an
intersection of intervals is one).

The bets are their predictable plug-in (eqs. 26-27, "hedged capital process", theta = 1/2):

    l_t = sqrt(2 log(2/alpha) / (s2_{t-1} t log(1 + t)))     (a confidence sequence: any n), or
    l_t = sqrt(2 log(2/alpha) / (n s2_{t-1}))                (a confidence interval at a fixed n),
    l+_t(m) = min(l_t, c/m),   l-_t(m) = min(l_t, c/(1-m)),   c = 3/4,
    mu_t = (1/2 + sum_{i<=t} x_i) / (t + 1),   s2_t = (1/4 + sum_{i<=t} (x_i - mu_i)^2) / (t + 1).

The truncation at c keeps every factor at least 1 - c > 0. The interval is found on a grid of
candidate means, its ends refined by sectioning between the last excluded and first included point
(the reported ends are excluded candidates: the interval is slightly wide, never narrow). Written
by hand in numpy: no library this project keeps provides it (the authors' `confseq` is not a
dependency). tests/test_bounded.py checks it against a direct evaluation of the capital products and
its coverage by simulation.
"""

import math

C = 0.75                # the truncation: a bet never risks more than 3/4 of the capital
THETA = 0.5             # the hedge: half the capital on each side
GRID = 1024             # candidate means on the first pass
SECTIONS = (64, 64, 64)  # refinement points between an excluded and an included candidate, per round


def _np():
    import numpy  # here, not at the top: a report without a bounded comparison never imports it

    return numpy


def bets(x, alpha: float, n: int | None = None):
    """The predictable plug-in bet l_t for t = 1..len(x): from x_1..x_{t-1} only."""
    np = _np()
    x = np.asarray(x, dtype=float)
    t = np.arange(1, len(x) + 1)
    mu = (0.5 + np.cumsum(x)) / (t + 1)                  # mu_t, after x_t
    s2 = (0.25 + np.cumsum((x - mu) ** 2)) / (t + 1)     # s2_t, after x_t
    s2_before = np.concatenate([[0.25], s2[:-1]])        # s2_{t-1}: what the bet on x_t may know
    scale = n * s2_before if n else s2_before * t * np.log1p(t)
    return np.sqrt(2 * math.log(2 / alpha) / scale)


def log_capitals(x, m, lam):
    """log K+_t(m) and log K-_t(m) for every t (rows) and candidate m (columns)."""
    np = _np()
    x, m = np.asarray(x, dtype=float)[:, None], np.asarray(m, dtype=float)[None, :]
    up = np.minimum(lam[:, None], C / m)
    down = np.minimum(lam[:, None], C / (1 - m))
    return np.cumsum(np.log1p(up * (x - m)), axis=0), np.cumsum(np.log1p(-down * (x - m)), axis=0)


def _hedged(x, m, lam):
    """max over t <= n of log max(theta K+_t(m), (1 - theta) K-_t(m)), per candidate m."""
    np = _np()
    plus, minus = log_capitals(x, m, lam)
    return np.maximum(math.log(THETA) + plus, math.log(1 - THETA) + minus).max(axis=0)


def to_unit(pairs, span: float):
    """Differences in [-span, span] as x in [0, 1]."""
    np = _np()
    return np.clip((np.asarray(pairs, dtype=float) + span) / (2 * span), 0.0, 1.0)


def interval(pairs: list[float], span: float, alpha: float, n: int | None = None) -> tuple[float, float]:
    """The 1 - alpha interval for the mean difference of `pairs` (each in [-span, span], in the order
    they were collected): a confidence sequence (valid at every length at once) without `n`, a
    confidence interval tuned to `n` pairs with it. Never of zero width."""
    np = _np()
    if not pairs:
        return -span, span
    x = to_unit(pairs, span)
    lam = bets(x, alpha, n)
    bar = math.log(1 / alpha)
    grid = (np.arange(GRID) + 0.5) / GRID
    kept = _hedged(x, grid, lam) < bar
    if not kept.any():  # every candidate excluded at some t (chance <= alpha): the last t's set alone
        plus, minus = log_capitals(x, grid, lam)
        last = np.maximum(math.log(THETA) + plus[-1], math.log(1 - THETA) + minus[-1])
        kept = last < bar
        if not kept.any():
            best = int(np.argmin(last))
            return _back(grid[max(best - 1, 0)], span), _back(grid[min(best + 1, GRID - 1)], span)
    inside = np.flatnonzero(kept)
    low = 0.0 if inside[0] == 0 else _edge(x, lam, bar, grid[inside[0] - 1], grid[inside[0]])
    high = 1.0 if inside[-1] == GRID - 1 else _edge(x, lam, bar, grid[inside[-1] + 1], grid[inside[-1]])
    return _back(low, span), _back(high, span)


def _edge(x, lam, bar: float, out: float, inside: float) -> float:
    """The end of the interval between an excluded candidate `out` and an included one `inside`,
    to within (|out - inside| / 64^3); returns an excluded candidate, so the interval errs wide."""
    np = _np()
    for count in SECTIONS:
        points = np.linspace(out, inside, count + 2)[1:-1]
        kept = _hedged(x, points, lam) < bar
        first = int(np.argmax(kept)) if kept.any() else count
        out = points[first - 1] if first > 0 else out
        inside = points[first] if first < count else inside
    return float(out)


def _back(m: float, span: float) -> float:
    return float(m * 2 * span - span)


def p_value(pairs: list[float], span: float, null: float = 0.0, side: str = "both", alpha: float = 0.05,
            n: int | None = None) -> float:
    """1 / (the largest capital reached) against a mean difference of `null`: "both" the hedged
    capital (the mean is not `null`), "greater" K+ alone (the mean is above `null`: valid for every
    mean <= null), "less" K- alone. Valid by Ville's inequality; the bets are tuned at `alpha`.
    It is below alpha exactly when `interval` at alpha excludes `null` ("both")."""
    np = _np()
    if not pairs:
        return 1.0
    x = to_unit(pairs, span)
    m = np.array([min(max((null + span) / (2 * span), 1e-12), 1 - 1e-12)])
    plus, minus = log_capitals(x, m, bets(x, alpha, n))
    best = {"both": np.maximum(math.log(THETA) + plus, math.log(1 - THETA) + minus), "greater": plus,
            "less": minus}[side].max()
    return float(min(1.0, math.exp(-best)))


def equivalence(pairs: list[float], span: float, margin: float, alpha: float) -> tuple[float, list[float]]:
    """Equivalence within ±margin at a fixed n: the larger of the p-values that the mean is above
    -margin (K+) and below +margin (K-), and the 1 - alpha interval (alpha = 0.1 for the 90% interval a
    TOST at 0.05 reads)."""
    n = len(pairs)
    p = max(p_value(pairs, span, -margin, "greater", alpha, n), p_value(pairs, span, margin, "less", alpha, n))
    return p, list(interval(pairs, span, alpha, n))


def fewest(span: float, alpha: float, most: int = 1000) -> int | None:
    """The fewest pairs with which any decision is possible: every pair at the range's end excludes a
    difference of 0 (None beyond `most`)."""
    for n in range(1, most + 1):
        if p_value([span] * n, span, alpha=alpha) <= alpha:
            return n
    return None


__all__ = ["C", "THETA", "bets", "equivalence", "fewest", "interval", "log_capitals", "p_value", "to_unit"]
