"""What a trial ends with, as the sweep runner records it: one typed result per trial, whichever
engine trained it (alone or in a pack) and whichever executor ran it. No TensorFlow here."""

from dataclasses import dataclass

from regexp.store.contract import Status


@dataclass
class TrialResult:
    status: Status
    run: str | None = None          # the run folder's name; None when the trial failed before it had one
    objective: float | None = None  # the sweep objective of a completed run
    error: str | None = None        # why it failed, was interrupted or was pruned, one line
    seconds: float | None = None    # wall-clock of the trial (in a pack: its share)
    archive: bytes | None = None    # Ray without a shared filesystem: the run folder as tar.gz, unpacked by the driver

    @property
    def before_start(self) -> bool:
        """Failed before a run folder existed: the point's spec or data is wrong, training never began."""
        return self.status == Status.FAILED and self.run is None

    def entry(self) -> dict:
        """The fields of this trial's sweep.json entry."""
        return {"status": self.status, "run": self.run, "objective": self.objective, "error": self.error,
                "seconds": self.seconds}


def failed_before_start(error: str) -> TrialResult:
    return TrialResult(Status.FAILED, error=error)
