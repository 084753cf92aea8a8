"""Property-based fuzzing of the CLI (hypothesis), shared by tests/test_fuzz.py (a small fixed budget
in `make test`) and bench/fuzz.py (a long run that prints the counts).

The property, for every generated input: the command ends with exit 0, 1 or 2 and says something,
never with a traceback, and never changes a run folder it was not asked to write.
"""

import hashlib
import json
import logging
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from regexp.cli import app

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "configs").glob("*.yaml"))
OUTCOMES: Counter = Counter()
# TensorFlow's logger keeps the stderr of the CliRunner call that first logged; later calls close it,
# and Python's logging then prints "--- Logging error ---" with a traceback of its own. That is an
# artifact of many invocations in one process (a real `regexp` process has one stderr), not a crash.
logging.raiseExceptions = False  # (command, exit code or "traceback") -> count, over every call


def budget(examples: int) -> settings:
    """Deterministic (the same cases every run) and without per-example deadlines."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def invoke(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    crashed = "Traceback" in result.output or (result.exception is not None and not isinstance(result.exception,
                                                                                               SystemExit))
    OUTCOMES[(args[0], "traceback" if crashed else result.exit_code)] += 1
    assert not crashed, (args, result.output[-2000:], repr(result.exception))
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-2000:])
    assert result.output.strip(), (args, "no message")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# ------------------------------------------------------------------------------------------ strategies
def values(small: bool = False):
    """YAML-able values; `small` keeps numbers small enough to train (no 10^9-unit layers)."""
    numbers = (st.integers(-3, 64) | st.floats(-2.0, 2.0)) if small else (
        st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True))
    scalars = st.none() | st.booleans() | numbers | st.text(max_size=12)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                                             inner, max_size=3),
                        max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


@st.composite
def mutated(draw, base: dict, small: bool = False):
    """A spec with 1-3 mutations: a value replaced, a key deleted, or an unknown key added."""
    spec = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(spec) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = spec
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values(small))
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values(small))
    return spec


def example_specs():
    return st.sampled_from(EXAMPLES).flatmap(lambda file: mutated(yaml.safe_load(file.read_text())).map(
        lambda s: (file, s)))


# --------------------------------------------------------------------------------------- properties
def check_validate_spec(case) -> None:
    """A mutated example config, written beside the original (its `extends` and data paths still resolve)."""
    file, spec = case
    with tempfile.TemporaryDirectory(dir=file.parent, prefix=".fuzz-") as folder:
        target = Path(folder) / file.name
        try:
            target.write_text(yaml.safe_dump(spec, allow_unicode=True))
        except yaml.representer.RepresenterError:
            return
        invoke(["validate", str(target)])


def check_validate_text(text: str) -> None:
    """Any text at all as a spec file: control characters, tabs, half documents."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "spec.yaml"
        target.write_text(text, encoding="utf-8")
        invoke(["validate", str(target)])


def check_set(key: str, value: str) -> None:
    invoke(["validate", str(REPO / "configs" / "quickstart.yaml"), "--set", f"{key}={value}"])


def check_train(spec: dict) -> None:
    """A mutated tiny spec trained for one epoch (repeat and cv off: the budget is one short run)."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "spec.yaml"
        target.write_text(yaml.safe_dump(spec))
        invoke(["train", str(target), "--runs-dir", str(Path(folder) / "runs"), "-q", "--set", "training.epochs=1",
                "--set", "repeat=1", "--set", "cv=null", "--set", "search=null"])


DAMAGES = ("truncate", "empty", "random bytes", "delete", "wrong types", "a folder", "interrupted, bad resume point")


def damage(run: Path, file: str, how: str, rng: random.Random) -> None:
    path = run / file
    if how == "interrupted, bad resume point":  # resume then trains: its resume point must be judged first
        try:  # run.json may be damaged already: then it is written anew, saying interrupted
            info = json.loads((run / "run.json").read_text())
        except (OSError, ValueError):
            info = {}
        if isinstance(info, dict):
            info["status"] = "interrupted"
        shutil.rmtree(run / "run.json", ignore_errors=True)  # "a folder" damage
        (run / "run.json").write_text(json.dumps(info))
        (run / "checkpoint").mkdir(exist_ok=True)
        (run / "checkpoint" / "state.json").write_text(json.dumps(
            rng.choice([{}, {"epoch": "x"}, {"epoch": 2, "weights": "missing.h5"}, [1], {"epoch": -3, "weights": None},
                        {"epoch": 2, "weights": "../../etc/passwd", "counters": 5}])))
        return
    if how in ("empty", "random bytes") and path.is_dir():  # an earlier damage made it a folder
        shutil.rmtree(path)
    if how == "delete" or how == "a folder":
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        if how == "a folder":
            path.mkdir()
    elif how == "truncate" and path.is_file():
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(len(data) + 1)])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random bytes":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    elif how == "wrong types" and path.suffix == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            return
        if isinstance(data, dict) and data:
            key = rng.choice(sorted(data))
            data[key] = rng.choice([None, "x", [1], {"a": 1}, -1, 1e308, True])
            path.write_text(json.dumps(data))


def check_damaged(trained_run: Path, damages: list[tuple[str, str]], seed: int) -> None:
    """A copy of a real run damaged in 1-3 ways, next to an untouched copy: every reader, and resume."""
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder) / "runs"
        broken, intact = runs / "20260101T000000Z_broken_00000000", runs / "20260101T000000Z_intact_00000000"
        shutil.copytree(trained_run, broken)
        shutil.copytree(trained_run, intact)
        rng = random.Random(seed)
        for file, how in damages:
            damage(broken, file, how, rng)
        before = digest(intact)
        for args in (["report", "--runs-dir", str(runs)], ["report", "--runs-dir", str(runs), "--format", "json",
                                                           "--expand"],
                     ["show", str(broken)], ["diff", str(broken), str(intact)],
                     ["diagnose", str(broken)], ["resume", str(broken), "-q"]):
            invoke(args)
        assert digest(intact) == before, "an untouched run folder changed"


def damages():
    return st.lists(st.tuples(st.sampled_from(["run.json", "metrics.json", "history.csv", "config.yaml", "model.keras",
                                               "log.txt"]), st.sampled_from(DAMAGES)), min_size=1, max_size=3)


SET_KEYS = st.sampled_from(["training.epochs", "model.layers.0.units", "seed", "data.split.val", "repeat", "name",
                            "training.optimizer", "model.layers", "search.params", "a.b.c", "", "model.layers.99.units",
                            "training.lr_schedule"]) | st.text(max_size=20)
