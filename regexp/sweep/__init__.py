"""Many trials: expanding a spec into trials, the sweep runner, its lock, and the executors that run tasks.
Called, the package runs a sweep (regexp.api.sweep), as regexp.report runs a report."""

from regexp.compat import callable_package

callable_package(__name__, "sweep")
