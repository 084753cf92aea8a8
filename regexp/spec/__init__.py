"""The experiment spec: schema (pydantic), YAML loading with line marks, extends and --set."""

from regexp.spec.load import LoadedSpec, load_spec

__all__ = ["LoadedSpec", "load_spec"]
