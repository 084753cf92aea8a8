"""regexp: run and compare regularization experiments from YAML specs."""

__version__ = "0.1.0"
