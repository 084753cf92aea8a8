"""The experiment spec: schema (pydantic), YAML loading with line marks, extends and --set."""

__all__ = ["LoadedSpec", "load_spec", "load_specs"]


def __getattr__(name: str):
    # loaded on first use, so `regexp schema` (models only) skips the YAML loader's imports
    if name in __all__:
        from regexp.spec import load

        return getattr(load, name)
    raise AttributeError(f"module 'regexp.spec' has no attribute {name!r}")
