"""A sweep's identity: the resolved spec (--set applied) without its budget. No TensorFlow here.

It names the sweep folder `<time>_<name>_<hash>_sweep` and its lock, so that running the command
again finds the same sweep. The budget says only how many trials the question gets; raising it
continues the same sweep: the trials planned before come back with the same keys (point, seed,
fold) and are kept as they are, only the new ones train. Lowering it trains nothing new; the
trials already run stay in the sweep and its results. Each change is recorded in sweep.json
(`budget_changes`) and spec.yaml, the snapshot the trials run from, takes the new value.

A key is budget when the trials of a smaller value are the first of a larger value's trials, so
that growing it can never change a trial already planned:

- repeat: the seeds seed, seed+1, ... (or the listed seeds); trials are keyed by their seed.
- search.trials, random without refine: round 1 draws its points one after another from one
  generator seeded by (search seed, round), so the first n points of 2n are the n. tpe: a round's
  points depend on the seed and the rounds before it, never on how many follow, and a round asked
  for more points asks the same first ones (Optuna's asks are sequential; checked with 5.1). grid
  does not use it. With refine it is *not* budget: round 1's points decide which are kept, so
  every later round would change; there it stays in the identity (a new sweep).
- search.refine.rounds: round r samples around round r-1's best in ranges shrunk by shrink^(r-1),
  whatever the number of rounds after it.
- decide.max_seeds: where the looks stop. The intervals hold at every number of seeds at once
  (docs/decide.md), so going on past an earlier budget keeps the chance of any wrong decision
  within alpha: the looks already taken stand, nothing is recomputed.
- search.confirm.max_seeds: where the race stops, for the same reason (report/race.py): its
  intervals hold at every number of fresh seeds at once.

Not budget, so in the identity:

- decide.batch (and search.confirm.batch): when the looks are taken, hence at which seeds each
  arm was decided and stopped; the recorded looks are a function of it, so another batch is
  another sequential procedure.
- decide.alpha, margin, metric, baseline (and search.confirm's top, alpha, margin, metric): the
  decision rule itself (alpha sets every interval's width at every look).
- search.batch (tpe): what each round is told before it is asked; search.seed, search.halving,
  seed, cv and everything a trial trains with.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from regexp.errors import SpecError
from regexp.spec import LoadedSpec, load_spec
from regexp.store.folders import read_sweep_state


def budget(loaded: LoadedSpec) -> dict[str, Any]:
    """The budget keys that apply to this spec (dotted path -> value)."""
    spec = loaded.spec
    out: dict[str, Any] = {"repeat": spec.repeat}
    search = spec.search
    if search is not None and search.refine is not None:
        out["search.refine.rounds"] = search.refine.rounds
    elif search is not None and search.method != "grid":
        out["search.trials"] = search.trials
    if spec.decide is not None:
        out["decide.max_seeds"] = spec.decide.max_seeds
    if search is not None and search.confirm is not None:
        out["search.confirm.max_seeds"] = search.confirm.max_seeds
    return out


def sweep_hash(loaded: LoadedSpec) -> str:
    """The hash in the sweep folder's name: the resolved spec without its budget keys."""
    resolved = loaded.resolved()
    search = loaded.spec.search
    unused = ["search.trials"] if search is not None and search.method == "grid" else []
    for path in [*budget(loaded), *unused]:
        *parents, last = path.split(".")
        section = resolved
        for part in parents:
            section = section[part]
        del section[last]
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:8]


def sweep_identity(loaded: LoadedSpec, runs_dir: Path, resume: Path | None = None) -> tuple[Path, str, str]:
    """(runs folder, name, hash) of the sweep a command runs: what names its folder, its lock
    (lock.py) and, under --executor slurm, the folder of its jobs (slurm_pool.py)."""
    if resume is None:
        return runs_dir, loaded.spec.name, sweep_hash(loaded)
    state = read_sweep_state(resume)
    return resume.parent, state.name, snapshot_hash(resume) or state.spec_hash


def snapshot_hash(folder: Path) -> str | None:
    """The identity of the sweep whose snapshot (spec.yaml) is in `folder` (None: unreadable)."""
    try:
        return sweep_hash(load_spec(folder / "spec.yaml"))
    except (SpecError, OSError):
        return None


def find_sweep(runs_dir: Path, loaded: LoadedSpec) -> Path | None:
    """The newest sweep folder of this spec's identity in runs_dir. Folders made before the budget
    left the identity are named by the whole spec's hash: their snapshot says whose they are."""
    if not runs_dir.is_dir():
        return None
    name, key = loaded.spec.name, sweep_hash(loaded)
    matches = sorted(runs_dir.glob(f"*_{name}_{key}_sweep"))
    if matches:
        return matches[-1]
    return next((folder for folder in sorted(runs_dir.glob(f"*_{name}_*_sweep"), reverse=True)
                 if (folder / "sweep.json").is_file() and snapshot_hash(folder) == key), None)


def set_paths(written: dict, values: dict[str, Any]) -> dict:
    """`written` (a spec as yaml.safe_load reads it) with each dotted path set to its value."""
    for path, value in values.items():
        *parents, last = path.split(".")
        section = written
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = value
    return written
