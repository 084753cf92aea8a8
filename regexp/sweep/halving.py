"""search.halving: successive halving over epochs, asynchronous as in ASHA (Li et al., 2020, "A
System for Massively Parallel Hyperparameter Tuning"), over points with seed replicates. No TensorFlow.

Rungs are at min_epochs, min_epochs·eta, min_epochs·eta², ... epochs, below training.epochs. A trial
that reaches a rung reports its objective at that epoch (the history column of
search.objective.metric: val_loss, val_accuracy, ...); a point's value at the rung is the mean over
its seeds and folds that have reported there. The point goes on if that mean is among the best
⌊n/eta⌋ of the n points with a value at the rung (the best one while fewer than eta have reported):
the rule of Optuna's SuccessiveHalvingPruner (optuna/pruners/_successive_halving.py,
_is_trial_promotable_to_next_rung), written here because it is a few lines and a grid or random
search must not need Optuna. Otherwise its trials stop with status `pruned`.

A decision never waits for other trials (ASHA's asynchrony: no worker idles at a rung), and it is
sticky per point: the first decision at a rung is the point's, so its later seeds follow it and a
resumed sweep makes the same decisions. The trials of a pack report together, so a pack decides as
synchronous successive halving among its own points plus every point that reached the rung before.

The ledger, halving.json in the sweep folder, holds every report and decision. Tasks in other
processes (local workers, Ray tasks on a shared filesystem) update it under an exclusive
fcntl.flock on halving.lock.
"""

import fcntl
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from regexp.store.contract import MetricKey
from regexp.store.folders import write_json

LEDGER, LOCK = "halving.json", "halving.lock"


def rung_epochs(eta: int, min_epochs: int, epochs: int) -> tuple[int, ...]:
    """The epochs a decision is taken after: min_epochs · eta^i below `epochs` (the last epoch is no rung)."""
    out, at = [], min_epochs
    while at < epochs:
        out.append(at)
        at *= eta
    return tuple(out)


def promoted(value: float, competing: list[float], eta: int, maximize: bool) -> bool:
    """Whether `value` is among the best max(1, ⌊n/eta⌋) of `competing` (the n values at the rung, its own included)."""
    ranked = sorted(competing, reverse=maximize)
    threshold = ranked[max(1, len(ranked) // eta) - 1]
    return value >= threshold if maximize else value <= threshold


@dataclass(frozen=True)
class Halving:
    """A sweep's halving rule and where its ledger lives; picklable, so that it travels to workers."""

    folder: str       # the sweep folder
    eta: int
    rungs: tuple[int, ...]
    column: str       # the objective's history column
    maximize: bool

    @classmethod
    def of(cls, spec, folder: Path, mode: str) -> "Halving | None":
        search = spec.search
        if search is None or search.halving is None:
            return None
        h = search.halving
        return cls(str(folder), h.eta, rung_epochs(h.eta, h.min_epochs, spec.training.epochs),
                   MetricKey.parse(search.objective.metric).history_column, mode == "max")

    def decide(self, epoch: int, reports: dict[str, tuple[str, float]]) -> dict[str, str | None]:
        """Record `reports` (trial key -> (point key, objective at `epoch`)) at the rung `epoch` and
        decide each reporting point; trial key -> None (it goes on) or why it is pruned."""
        with self._locked():
            ledger = read_ledger(Path(self.folder))
            rung = ledger.setdefault(str(epoch), {"values": {}, "decisions": {}})
            for trial, (point, value) in reports.items():
                rung["values"][trial] = [point, value if math.isfinite(value) else None]
            means = _means(rung["values"], self.maximize)
            for point in dict.fromkeys(p for p, _ in reports.values()):
                if point not in rung["decisions"]:
                    kept = max(1, len(means) // self.eta)
                    rung["decisions"][point] = {"go_on": promoted(means[point], list(means.values()), self.eta,
                                                                  self.maximize),
                                                "value": _finite(means[point]), "points": len(means), "kept": kept}
            write_json(Path(self.folder) / LEDGER, ledger)
        return {trial: self._why(epoch, rung["decisions"][point]) for trial, (point, _) in reports.items()}

    def _why(self, epoch: int, decision: dict) -> str | None:
        if decision["go_on"]:
            return None
        value = "not finite" if decision["value"] is None else f"{decision['value']:.4f}"
        return (f"pruned by search.halving after epoch {epoch} (rung {self.rungs.index(epoch) + 1} of "
                f"{len(self.rungs)}): its point's mean {self.column} {value} was not among the best "
                f"{decision['kept']} of the {decision['points']} points at the rung (eta {self.eta})")

    @contextmanager
    def _locked(self):
        with open(Path(self.folder) / LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _means(values: dict[str, list], maximize: bool) -> dict[str, float]:
    """Point key -> mean over its reported trials; a non-finite report counts as the worst value."""
    worst = -math.inf if maximize else math.inf
    by_point: dict[str, list[float]] = {}
    for point, value in values.values():
        by_point.setdefault(point, []).append(worst if value is None else value)
    return {point: sum(v) / len(v) for point, v in by_point.items()}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no infinity


def read_ledger(folder: Path) -> dict:
    """halving.json: rung epoch (as text) -> {values: {trial: [point, value]}, decisions: {point: ...}}."""
    try:
        return json.loads((folder / LEDGER).read_text())
    except FileNotFoundError:
        return {}


def last_rungs(folder: Path) -> dict[str, tuple[int, float]]:
    """Point key -> (the last rung it was decided at, its mean there): what a tpe round is told of a pruned point."""
    out: dict[str, tuple[int, float]] = {}
    for epoch, rung in sorted(read_ledger(folder).items(), key=lambda item: int(item[0])):
        for point, decision in rung["decisions"].items():
            if decision["value"] is not None:
                out[point] = (int(epoch), decision["value"])
    return out
