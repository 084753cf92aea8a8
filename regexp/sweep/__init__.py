"""Many trials: expanding a spec into trials, the sweep runner, its lock, and the executors that run tasks."""
