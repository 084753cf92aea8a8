"""regexp: run and compare regularization experiments from YAML specs."""

__version__ = "0.2.0"  # also keys the report cache: answers of another version are not reused
