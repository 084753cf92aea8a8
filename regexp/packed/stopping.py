"""Keras's EarlyStopping rule, per slice of a pack (a trial alone uses keras.callbacks.EarlyStopping)."""

from dataclasses import dataclass


@dataclass
class EarlyStop:
    """Keras's EarlyStopping counters for one slice (keras/src/callbacks/early_stopping.py)."""
    monitor: str
    patience: int
    min_delta: float
    maximize: bool
    restore: bool
    wait: int = 0
    best: float | None = None
    best_epoch: int = 0
    has_best_weights: bool = False

    def improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value - self.min_delta > self.best if self.maximize else value + self.min_delta < self.best

    def update(self, epoch: int, value: float | None) -> tuple[bool, bool]:
        """(keep these weights as the best, stop now) after epoch `epoch` (0-based)."""
        if value is None:
            return False, False
        keep = False
        if self.restore and not self.has_best_weights:
            keep, self.has_best_weights, self.best_epoch = True, True, epoch
        self.wait += 1
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return self.restore, False
        return keep, self.wait >= self.patience and epoch > 0
