"""Many trials: expanding a spec into trials, the sweep runner, its lock, and the executors that run tasks."""

import sys
import types


class _CallableModule(types.ModuleType):
    """`regexp.sweep(spec, ...)` from Python is regexp.api.sweep. Once this package is imported (the
    first train or sweep imports it), `regexp.sweep` is the package, not regexp/__init__.py's lazy
    attribute: called, it still runs the sweep (as regexp.report does for the report package)."""

    def __call__(self, *args, **kwargs):
        from regexp.api import sweep

        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
