"""A sweep's pace: the wall time its trials took, measured over every round or look so far, and the
ETA of the trials left at that pace. rich's TimeRemainingColumn estimates from the last few updates,
so packs that end ten trials at once made it jump (0:00:18, 0:02:23, 0:01:30, 0:00:02 with 16 of
20 trials left); here each estimate is the mean seconds per trial over all trials done, counted
down between completions. No TensorFlow here."""

import time


class Pace:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.done = 0               # trials ended (any status) in the runner's calls so far
        self.seconds = 0.0          # wall time of those calls up to their last completion
        self._call_start: float | None = None
        self._last: float | None = None  # when the last trial ended

    def start(self) -> None:
        """A batch of trials begins (a round, a look): time outside batches is not counted."""
        self._call_start = self.clock()

    def stop(self) -> None:
        self._call_start = None

    def add(self, trials: int) -> None:
        """`trials` ended now."""
        now = self.clock()
        if self._call_start is not None:
            self.seconds += now - max(self._call_start, self._last or self._call_start)
        self.done += trials
        self._last = now

    def per_trial(self) -> float | None:
        return self.seconds / self.done if self.done else None

    def eta(self, left: int, at_most: bool = False) -> str:
        """'ETA 0:01:30' for `left` trials (ETA ≤ ... when `left` is an upper bound), counted down
        since the last completion; before any trial ended there is nothing to measure yet."""
        rate = self.per_trial()
        if left <= 0:
            return ""
        if rate is None:
            return "ETA after the first trial"
        since = self.clock() - max(self._last, self._call_start) if self._call_start is not None else 0.0
        return f"ETA {'≤ ' if at_most else ''}{clock_text(max(0.0, rate * left - since))}"


def clock_text(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
