"""`regexp replay RUN`: train a run again from its own config.yaml (its seed, its data) in a
temporary folder and compare the histories and final metrics number by number.

A trial that trained in a pack is replayed with its whole pack, as it trained: the pack's members
are the sibling run folders with the same `packed.id`, rebuilt from their sweep's spec snapshot
and sweep.json entries. "identical" means every history value and every final metric equal as
written (timings aside); otherwise the first epoch and column that differ, and what differs in
where the two runs came from (data fingerprint, library versions, device, threads) as the likely
cause.
"""

import csv
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from regexp.errors import UserError
from regexp.spec import load_spec
from regexp.store.contract import Status
from regexp.store.folders import RunRecord, read_run, read_sweep_state
from regexp.sweep.trials import Trial, point_of
from regexp.trial.task import Task, TaskTrial

IGNORED = {"seconds"}  # wall-clock time differs on every run


@dataclass
class Replay:
    run: str
    identical: bool
    first_difference: str | None = None
    causes: list[str] = field(default_factory=list)
    packed: bool = False

    def lines(self) -> list[str]:
        how = " (with its pack)" if self.packed else ""
        if self.identical:
            return [f"{self.run}: identical{how}: every history value and final metric as recorded"]
        out = [f"{self.run}: differs{how}: {self.first_difference}"]
        out += [f"  likely cause: {cause}" for cause in self.causes] or ["  likely cause: none recorded differs "
                                                                          "(nondeterministic kernels?)"]
        return out


def replay(folder: Path) -> Replay:
    original = read_run(folder)
    if original.status != Status.COMPLETED:
        raise UserError(f"{folder}: replay needs a completed run (this one is {original.status})")
    with tempfile.TemporaryDirectory(prefix="regexp-replay-") as tmp:
        again = _train_again(original, Path(tmp))
        difference = _first_difference(original, again)
        return Replay(original.id, difference is None, difference, _causes(original, again) if difference else [],
                      packed=original.info.packed is not None)


def _train_again(original: RunRecord, tmp: Path) -> RunRecord:
    packed = original.info.packed
    if packed is None:
        from regexp.trial.train import train

        return read_run(train(load_spec(original.path / "config.yaml"), tmp))
    from regexp.packed.trainer import run_pack

    sweep = original.path.parent / (original.info.parent or "")
    state = read_sweep_state(sweep, warnings=[]) if original.info.parent else None
    if state is None:
        raise UserError(f"{original.path}: trained in pack {packed.id}, but its sweep folder ({sweep}) is gone: "
                        "a pack replays only as it trained")
    siblings = [read_run(p) for p in sorted(original.path.parent.iterdir()) if (p / "run.json").is_file()]
    members = sorted((r for r in siblings if r.info.packed is not None and r.info.packed.id == packed.id),
                     key=lambda r: r.info.packed.slot)
    entries = {e.key: e for e in state.trials}
    trials = [Trial(entries[m.info.trial].round, point_of(entries[m.info.trial].point), entries[m.info.trial].seed,
                    entries[m.info.trial].fold) for m in members if m.info.trial in entries]
    if len(trials) != len(members) or len(members) != packed.size:
        raise UserError(f"{original.path}: pack {packed.id} had {packed.size} trials, {len(trials)} of them can be "
                        "rebuilt from its sweep: a pack replays only whole")
    tmp_sweep = tmp / sweep.name  # the replayed runs name the same parent, in the temporary folder
    tmp_sweep.mkdir()
    (tmp_sweep / "spec.yaml").write_bytes((sweep / "spec.yaml").read_bytes())
    run_pack(Task(str(tmp_sweep / "spec.yaml"), str(tmp), sweep.name, state.objective.metric,
                  tuple(TaskTrial(t.key, tuple(t.overrides), t.point_key) for t in trials), pack_id=packed.id))
    mine = [read_run(p) for p in tmp.iterdir() if (p / "run.json").is_file()]
    return next(r for r in mine if r.info.trial == original.info.trial)


def _history(run: RunRecord) -> list[dict[str, str]]:
    with (run.path / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _first_difference(a: RunRecord, b: RunRecord) -> str | None:
    ha, hb = _history(a), _history(b)
    for row_a, row_b in zip(ha, hb):
        for column in row_a:
            if column not in IGNORED and row_a.get(column) != row_b.get(column):
                return (f"epoch {row_a.get('epoch')}, {column}: {row_a.get(column)} recorded, "
                        f"{row_b.get(column)} now")
    if len(ha) != len(hb):
        return f"{len(ha)} epochs recorded, {len(hb)} now"
    ma, mb = a.metrics.model_dump(mode="json"), b.metrics.model_dump(mode="json")
    for part in ("train", "val", "test"):
        for name, value in (ma.get(part) or {}).items():
            if (mb.get(part) or {}).get(name) != value:
                return f"final {part}_{name}: {value} recorded, {(mb.get(part) or {}).get(name)} now"
    return None


def _causes(a: RunRecord, b: RunRecord) -> list[str]:
    pa, pb = a.info.provenance, b.info.provenance
    out = []
    if pa is None:
        out.append("the run predates provenance: its data and library versions were not recorded")
    else:
        if pa.data != pb.data:
            out.append(f"the data changed: {pa.data} recorded, {pb.data} now")
        elif pa.split != pb.split:
            out.append(f"the split changed: {pa.split} recorded, {pb.split} now")
        for name, version in pa.libraries.items():
            if pb.libraries.get(name) != version:
                out.append(f"{name} {version} recorded, {pb.libraries.get(name)} now")
    if a.info.device != b.info.device:
        out.append(f"device {a.info.device} recorded, {b.info.device} now")
    if a.info.threads != b.info.threads:
        out.append(f"threads {a.info.threads} recorded, {b.info.threads} now")
    return out
