"""The run store: the typed contract of run and sweep folders, writing and reading them, its generated docs."""
