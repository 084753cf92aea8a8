"""report/betting.py, the intervals for bounded differences (an accuracy's), against independent
computations: the capital process evaluated directly in plain Python (no numpy, no grid), coverage at
every n at once by simulation, and the margin's checks against the metric's range and resolution."""

import math
import random

import numpy as np
import pytest

from regexp.cli import app
from regexp.registry.metrics import resolution, span
from regexp.report import betting

from conftest import TINY, merged


def brute_capital(xs: list[float], m: float, alpha: float, n: int | None = None) -> tuple[float, float, float]:
    """(max over t of the hedged capital, of K+, of K-) at candidate m, written out from the paper's
    definitions one observation at a time."""
    plus = minus = 1.0
    best = best_plus = best_minus = 0.0
    total = squares = 0.0
    for t, x in enumerate(xs, start=1):
        s2_before = (0.25 + squares) / t  # (1/4 + sum_{i<t} (x_i - mu_i)^2) / t
        scale = n * s2_before if n else s2_before * t * math.log(1 + t)
        lam = math.sqrt(2 * math.log(2 / alpha) / scale)
        plus *= 1 + min(lam, betting.C / m) * (x - m)
        minus *= 1 - min(lam, betting.C / (1 - m)) * (x - m)
        best = max(best, betting.THETA * plus, (1 - betting.THETA) * minus)
        best_plus, best_minus = max(best_plus, plus), max(best_minus, minus)
        total += x
        squares += (x - (0.5 + total) / (t + 1)) ** 2
    return best, best_plus, best_minus


@pytest.mark.parametrize("pairs", [
    [0.0] * 12,                                            # saturated: every difference 0
    [1 / 69] * 20,                                         # every difference one sample
    [random.Random(1).choice([-1 / 69, 0.0, 0.0, 1 / 69, 2 / 69]) for _ in range(40)],
    list(np.random.default_rng(2).normal(0.3, 0.2, 30).clip(-1, 1)),
])
@pytest.mark.parametrize("n", [None, "fixed"])
def test_the_interval_ends_are_where_the_capital_process_reaches_one_over_alpha(pairs, n):
    alpha = 0.05
    planned = len(pairs) if n else None
    low, high = betting.interval(pairs, 1.0, alpha, planned)
    xs = [(d + 1) / 2 for d in pairs]
    to_m = lambda d: (d + 1) / 2  # noqa: E731
    assert high - low > 0.01  # never of zero width, whatever the spread
    for end, inward in ((low, 1e-6), (high, -1e-6)):
        if -1 < end < 1:
            assert brute_capital(xs, to_m(end), alpha, planned)[0] >= 1 / alpha  # the end is excluded
            assert brute_capital(xs, to_m(end) + inward, alpha, planned)[0] < 1 / alpha  # just inside is not
    mean = sum(pairs) / len(pairs)
    assert low < mean < high
    # the vectorized capital is the product written out
    plus, minus = betting.log_capitals(betting.to_unit(pairs, 1.0), np.array([0.3, 0.5, 0.71]),
                                       betting.bets(betting.to_unit(pairs, 1.0), alpha, planned))
    for j, m in enumerate((0.3, 0.5, 0.71)):
        _, best_plus, best_minus = brute_capital(xs, m, alpha, planned)
        assert math.exp(plus[:, j].max()) == pytest.approx(best_plus, rel=1e-9)
        assert math.exp(minus[:, j].max()) == pytest.approx(best_minus, rel=1e-9)


def test_the_p_value_rejects_exactly_where_the_interval_excludes():
    for pairs in ([0.2] * 14, [0.2] * 6, [-0.05, 0.0, 0.1] * 10):
        low, high = betting.interval(pairs, 1.0, 0.05)
        p = betting.p_value(pairs, 1.0, 0.0)
        assert (p <= 0.05) == (not low < 0 < high)
        assert p == pytest.approx(min(1.0, 1 / brute_capital([(d + 1) / 2 for d in pairs], 0.5, 0.05)[0]))
    fewest = betting.fewest(1.0, 0.05)
    assert betting.p_value([1.0] * fewest, 1.0) <= 0.05 < betting.p_value([1.0] * (fewest - 1), 1.0)


@pytest.mark.parametrize("name, draw, mean", [
    ("one sample either way, saturated", lambda rng, size: rng.choice([-1 / 69, 0.0, 1 / 69], size, p=[.1, .8, .1]),
     0.0),
    ("a coin: -1 or +1", lambda rng, size: rng.choice([-1.0, 1.0], size, p=[.7, .3]), -0.4),
    ("a rare collapse", lambda rng, size: np.where(rng.random(size) < 0.03, -0.5, 0.0), -0.015),
    ("uniform", lambda rng, size: rng.uniform(-0.2, 0.6, size), 0.2),
])
def test_coverage_holds_at_every_n_at_once_by_simulation(name, draw, mean):
    """P(the true mean is ever outside the sequence's interval, over 200 pairs) <= alpha: the capital
    at the true mean never reaching 1/alpha is exactly that event."""
    rng, alpha, misses, runs = np.random.default_rng(0), 0.1, 0, 1500
    m = np.array([(mean + 1) / 2])
    for _ in range(runs):
        x = betting.to_unit(draw(rng, 200), 1.0)
        plus, minus = betting.log_capitals(x, m, betting.bets(x, alpha))
        misses += bool(np.maximum(math.log(betting.THETA) + plus, math.log(1 - betting.THETA) + minus).max()
                       >= math.log(1 / alpha))
    assert misses / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs), name


def test_the_fixed_n_interval_covers_by_simulation():
    rng, misses, runs = np.random.default_rng(3), 0, 400
    for _ in range(runs):
        low, high = betting.interval(list(rng.choice([-1.0, 0.0, 1.0], 25, p=[.2, .5, .3])), 1.0, 0.1, 25)
        misses += not low <= 0.1 <= high
    assert misses / runs <= 0.1 + 3 * math.sqrt(0.09 / runs)


def test_resolution_and_range_of_metrics():
    assert span("accuracy") == 1.0 and span("loss") is None and span("r2") is None
    assert resolution("accuracy", 69) == pytest.approx(1 / 69) and resolution("loss", 69) is None


def spec_with(write_spec, **decide):
    return write_spec(merged(TINY, search={"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5]}},
                             decide={"baseline": "dropout=0.0", "metric": "test_accuracy", **decide}))


def test_validate_names_a_margin_outside_the_range_or_below_one_sample(runner, write_spec):
    whole = runner.invoke(app, ["validate", str(spec_with(write_spec, margin=1))])
    assert whole.exit_code == 2 and "decide.margin: 1 is the whole range of test_accuracy ([0, 1])" in whole.output
    fine = runner.invoke(app, ["validate", str(spec_with(write_spec, margin=0.01))])  # iris: 30 test samples
    assert fine.exit_code == 0
    said = " ".join(fine.output.split())
    assert "decide.margin: 0.01 is below one sample of the part test_accuracy is scored on (1/30 = 0.03333)" in said
    loss = runner.invoke(app, ["validate", str(spec_with(write_spec, margin=0.01, metric="test_loss"))])
    assert loss.exit_code == 0 and "below one sample" not in loss.output


def test_metrics_json_records_the_resolution_of_accuracy_like_scores(trained_run):
    import json

    from regexp.store.contract import MetricKey, RunMetrics

    written = json.loads((trained_run / "metrics.json").read_text())
    sizes = written["sizes"]
    assert written["resolution"]["test"] == {"accuracy": pytest.approx(1 / sizes["test"])}
    assert written["resolution"]["val"] == {"accuracy": pytest.approx(1 / sizes["val"])}
    older = RunMetrics.model_validate({k: v for k, v in written.items() if k != "resolution"})  # derived on reading
    assert older.step(MetricKey.parse("test_accuracy")) == pytest.approx(1 / sizes["test"])
    assert older.step(MetricKey.parse("test_loss")) is None
