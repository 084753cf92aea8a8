"""The run store: one folder per run, the API between training and reporting (docs/run-folder.md).

Files are written atomically (temp file in the same folder, fsync, rename) so a reader never sees
half a run.json; history rows are appended and flushed once per epoch. Reading never raises on a
damaged folder: it returns what it could read and a warning per problem. No TensorFlow here.
"""

import contextlib
import csv
import fnmatch
import json
import os
import platform
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import yaml

import regexp
from regexp.errors import UserError
from regexp.store.contract import RunInfo, RunMetrics, Status
from regexp.store.files import process_alive, write_atomic
from regexp.store.sweep_file import SweepState

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C parser where installed
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the same text, from C


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Run:
    """The writer's side: a run folder being trained into."""

    path: Path
    info: RunInfo

    @classmethod
    def create(cls, runs_dir: Path, name: str, spec_hash: str, resolved: dict, extra: dict) -> "Run":
        """Make a new run folder (never reusing one) and write config.yaml and run.json."""
        runs_dir.mkdir(parents=True, exist_ok=True)
        started = now()
        stem = f"{started:%Y%m%dT%H%M%SZ}_{name}_{spec_hash}"
        for attempt in range(1000):  # exclusive mkdir: parallel trainers never share a folder
            path = runs_dir / (stem if attempt == 0 else f"{stem}-{attempt}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"{runs_dir}: no free run folder name for {stem}")
        info = RunInfo(
            id=path.name, name=name, status=Status.RUNNING, started=started.isoformat(timespec="milliseconds"),
            seed=resolved["seed"], spec_hash=spec_hash, host=socket.gethostname(), pid=os.getpid(),
            versions={"python": platform.python_version(), "regexp": regexp.__version__}, argv=sys.argv, **extra,
            # the resolved spec again, as JSON: report reads it far faster than config.yaml (PyYAML
            # constructs in Python)
            config=resolved,
        )
        write_atomic(path / "config.yaml", yaml.dump(resolved, Dumper=_YAML_DUMPER, sort_keys=False))
        run = cls(path, info)
        run.save()
        return run

    def save(self) -> None:
        write_json(self.path / "run.json", self.info.to_json())

    def update(self, **fields) -> None:
        for key, value in fields.items():
            setattr(self.info, key, value)  # validated: a wrong type is a bug here, not a damaged file
        self.save()

    def finish(self, status: Status, error: str | None = None) -> None:
        ended = now()
        started = datetime.fromisoformat(self.info.started)
        self.update(status=status, ended=ended.isoformat(timespec="milliseconds"),
                    duration_s=round((ended - started).total_seconds(), 3), error=error)


# ------------------------------------------------------------------------------------------ reading
@dataclass
class RunRecord:
    """What could be read of one run folder, and what could not (`warnings`)."""

    path: Path
    info: RunInfo
    config: dict[str, Any]
    metrics: RunMetrics | None     # None until the run completed (or when metrics.json is unreadable)
    warnings: list[str]
    _history: list[dict[str, float | None]] | None = None

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        for name in (self.info.name, self.config.get("name")):
            if isinstance(name, str) and name:
                return name
        return self.id

    @property
    def started(self) -> str:
        return self.info.started or ""

    @property
    def seed(self) -> int | str:
        seed = self.config.get("seed", self.info.seed)
        return seed if isinstance(seed, (int, str)) and not isinstance(seed, bool) else self.id

    @property
    def status(self) -> Status:
        status = self.info.status
        if status is None:
            return Status.INCOMPLETE
        if status == Status.RUNNING and not process_alive(self.info.pid, self.info.host):
            return Status.CRASHED
        return status

    @property
    def history(self) -> list[dict[str, float | None]]:
        if self._history is None:
            self._history = read_table(self.path / "history.csv", self.warnings)
        return self._history

    def layer_stats(self) -> list[dict[str, float | str | None]]:
        """layer_stats.csv (logging.layer_stats), [] when the run did not record it."""
        return read_table(self.path / "layer_stats.csv", self.warnings, text=("layer",))

    def steps(self) -> list[dict[str, float | None]]:
        """steps.csv (logging.per_step), [] when the run did not record it."""
        return read_table(self.path / "steps.csv", self.warnings)


def read_run(path: Path) -> RunRecord:
    warnings: list[str] = []
    info, config = read_info(path, warnings)
    metrics = read_metrics(path, info.status in (Status.COMPLETED, Status.PRUNED), warnings)
    return RunRecord(path, info, config, metrics, warnings)


def read_info(path: Path, warnings: list[str]) -> tuple[RunInfo, dict[str, Any] | None]:
    """run.json and the resolved config: run.json's copy, else config.yaml's (older runs)."""
    folder = str(path)  # string paths: report reads 10,000 folders, and pathlib's joins cost a third of it
    info = RunInfo.parse(_read_file(os.path.join(folder, "run.json"), orjson.loads, warnings), "run.json", warnings)
    config = info.config
    if config is not None:  # run.json carries the resolved spec; config.yaml is its YAML twin
        if not os.path.exists(os.path.join(folder, "config.yaml")):
            warnings.append("config.yaml is missing")
    else:
        config = _read_file(os.path.join(folder, "config.yaml"),
                            lambda data: yaml.load(data.decode("utf-8"), Loader=_YAML_LOADER), warnings)
    return info, config


def read_metrics(path: Path, required: bool, warnings: list[str]) -> RunMetrics | None:
    """metrics.json; `required` (a completed or pruned run): its absence is a warning."""
    raw = _read_file(os.path.join(str(path), "metrics.json"), orjson.loads, warnings, required=required)
    return RunMetrics.parse(raw, "metrics.json", warnings) if raw else None


def read_sweep_state(folder: Path, warnings: list[str] | None = None) -> SweepState | None:
    """sweep.json of a sweep folder. With `warnings` (readers: report) a missing or damaged file is
    None and one warning; without (resume) it is a UserError, since nothing can continue from it."""
    try:
        data = json.loads((folder / "sweep.json").read_text())
        state = SweepState.parse(data, "sweep.json", warnings if warnings is not None else [])
        if state is None:
            raise ValueError("a required key is missing")
        return state
    except (OSError, ValueError) as exc:
        if warnings is not None:
            warnings.append(f"{folder.name}/sweep.json is unreadable ({type(exc).__name__})")
            return None
        raise UserError(f"--resume {folder}: not a sweep folder (its sweep.json is missing or damaged: "
                        f"{type(exc).__name__})") from None


def find_runs(targets: list[str], runs_dir: Path, strays: list[str] | None = None) -> list[Path]:
    """Run folders named by path, glob or id (prefix) in runs_dir; all of runs_dir when none.
    `strays` collects the entries of runs_dir that are neither run folders, sweep folders nor dot files."""
    def is_run(p: Path) -> bool:
        return p.is_dir() and not p.name.startswith(".") and any((p / f).exists() for f in ("run.json", "config.yaml"))

    if not targets:
        try:  # os.scandir and string paths: at 10,000 folders pathlib's own overhead is a third of a second
            with os.scandir(runs_dir) if runs_dir.is_dir() else contextlib.nullcontext([]) as listing:
                entries = sorted((e.path, e.is_dir()) for e in listing)
        except OSError as exc:
            raise UserError(f"--runs-dir {runs_dir}: cannot list it ({exc.strerror})") from None
        runs = [Path(path) for path, folder in entries if folder and not os.path.basename(path).startswith(".")
                and any(os.path.exists(os.path.join(path, name)) for name in ("run.json", "config.yaml"))]
        entries = [Path(path) for path, _ in entries]
        if strays is not None:
            found = set(runs)
            strays += [p.name for p in entries if p not in found and not p.name.startswith(".")
                       and not (p.name.endswith("_sweep") and (p / "sweep.json").exists())]
        return runs
    found: dict[Path, None] = {}
    for target in targets:
        direct = Path(target)
        if is_run(direct):
            found[direct] = None
            continue
        pattern = target if any(c in target for c in "*?[") else f"{target}*"
        names = sorted(p for p in runs_dir.iterdir() if is_run(p)) if runs_dir.is_dir() else []
        matches = [p for p in names if fnmatch.fnmatch(p.name, pattern) or fnmatch.fnmatch(str(p), pattern)]
        matches += sorted(p for p in Path().glob(target) if is_run(p)) if not direct.is_absolute() else []
        if not matches:
            raise UserError(f"no run matches {target!r} (looked in {runs_dir})")
        found.update(dict.fromkeys(matches))
    return list(found)


def find_one_run(target: str, runs_dir: Path) -> RunRecord:
    """The one run a user named (show, diff): a UserError when it names none or several."""
    found = find_runs([target], runs_dir)
    if len(found) > 1:
        raise UserError(f"{target!r} matches {len(found)} runs: {', '.join(p.name for p in found[:5])}; name one")
    return read_run(found[0])


def _read_file(path: str, parse, warnings: list[str], required: bool = True) -> dict:
    name = os.path.basename(path)
    try:
        with open(path, "rb") as file:  # bytes: orjson parses them directly
            data = parse(file.read())
    except FileNotFoundError:
        if required:
            warnings.append(f"{name} is missing")
        return {}
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:  # orjson's error is a ValueError
        warnings.append(f"{name} is unreadable ({type(exc).__name__})")
        return {}
    if not isinstance(data, dict):
        warnings.append(f"{name} does not hold a mapping")
        return {}
    return data


def csv_cell(value) -> str:
    """A cell of history.csv, layer_stats.csv or steps.csv: floats in full (repr), None empty."""
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def read_table(path: Path, warnings: list[str], text: tuple[str, ...] = ()) -> list[dict]:
    """A run's csv (history.csv, layer_stats.csv, steps.csv) as rows of floats (`text` columns stay
    strings); a truncated last row (no newline or missing fields) is dropped with a warning."""
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        warnings.append(f"{path.name} is unreadable ({type(exc).__name__})")
        return []
    lines = content.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        warnings.append(f"{path.name}: the last row is truncated and was skipped")
        lines = lines[:-1]
    rows = []
    reader = csv.reader(lines)
    header = next(reader, None) or []
    for i, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            warnings.append(f"{path.name} line {i}: {len(cells)} fields, expected {len(header)}; skipped")
            continue
        try:
            rows.append({k: v if k in text else float(v) if v != "" else None for k, v in zip(header, cells)})
        except ValueError:
            warnings.append(f"{path.name} line {i}: not numbers; skipped")
    return rows
