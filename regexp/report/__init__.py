"""`regexp report`: compare runs from their folders only (never TensorFlow, never the trainer).

The package loads lightly: a report answered from the cache (report/cache.py) needs none of the
code that builds one, which build.py holds and `regexp.report.build_report`, `Report` and
`find_row` load on first use.
"""

import contextlib
import gc

from regexp.compat import callable_package

FORMATS = ("table", "md", "csv", "json", "html", "latex")  # report --format: what views/report.py renders
BUILT = ("Report", "build_report", "find_row")      # from build.py, on first use


def __getattr__(name: str):
    if name in BUILT:
        from regexp.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'regexp.report' has no attribute {name!r}")


@contextlib.contextmanager
def collector_paused():
    """Python's cycle collector walks every live object again each time the heap has grown by a
    quarter: over the many records of a cold report that is a large share of its time (bench/README.md).
    Records hold no reference cycles, so it may wait for the report's end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


callable_package(__name__, "report")  # regexp.report(runs_dir=..., baseline=...) is regexp.api.report

__all__ = ["FORMATS", "Report", "build_report", "collector_paused", "find_row"]
