"""`regexp diff A B`: the config keys that differ between two runs and the metric deltas (views/run.py shows them)."""

from regexp.report.collect import MISSING, flatten, main_metric, run_values
from regexp.store.contract import direction
from regexp.store.folders import RunRecord


def diff(a: RunRecord, b: RunRecord) -> tuple[list[tuple[str, object, object]],
                                              list[tuple[str, float, float, float, str]]]:
    """(config key, a, b) for every differing key; (metric, a, b, b - a, better) for shared metrics."""
    fa, fb = flatten(a.config), flatten(b.config)
    keys = sorted(set(fa) | set(fb))
    config = [(k, fa.get(k, MISSING), fb.get(k, MISSING)) for k in keys if fa.get(k, MISSING) != fb.get(k, MISSING)]
    metric = main_metric([a, b])
    va, vb = run_values(a, metric), run_values(b, metric)
    deltas = []
    for column in va:
        if column in vb:
            delta = vb[column] - va[column]
            better = "" if delta == 0 else ("B" if (delta < 0) == (direction(column) == "min") else "A")
            deltas.append((column, va[column], vb[column], delta, better))
    return config, deltas


