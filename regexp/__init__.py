"""regexp: run and compare regularization experiments from YAML specs."""

import importlib

__version__ = "0.2.0"  # also keys the report cache: answers of another version are not reused

API = ("train", "sweep", "load_run", "Run", "Sweep", "Report")  # regexp/api.py, loaded on first use


def __getattr__(name: str):
    """`regexp.train(...)`, `regexp.report(...)`, ... without loading anything on `import regexp`
    (PEP 562). By name, as lazy_loader does: every module imports this package first (it holds
    __version__), so the package must not import the layers above them."""
    if name in API:
        return getattr(importlib.import_module("regexp.api"), name)
    if name == "report":  # the report package, which is also callable: regexp.report(runs_dir=...)
        return importlib.import_module("regexp.report")
    raise AttributeError(f"module 'regexp' has no attribute {name!r}")
