"""Data: built-in datasets and file loaders (sources), splitting and scaling statistics (prepare)."""

from regexp.data.prepare import Prepared, prepare

__all__ = ["Prepared", "prepare"]
