"""regexp: run and compare regularization experiments from YAML specs."""

__version__ = "0.2.0"  # also keys the report cache: answers of another version are not reused

API = ("train", "sweep", "load_run", "Run", "Sweep", "Report")  # regexp/api.py, loaded on first use


def __getattr__(name: str):
    """`regexp.train(...)`, `regexp.report(...)`, ... without loading anything on `import regexp`."""
    if name in API:
        from regexp import api

        return getattr(api, name)
    if name == "report":  # the report package, which is also callable: regexp.report(runs_dir=...)
        import regexp.report

        return regexp.report
    raise AttributeError(f"module 'regexp' has no attribute {name!r}")
