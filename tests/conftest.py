"""Shared fixtures: tiny specs written to tmp folders, the CLI runner, one trained run per session."""

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def report_cache(tmp_path_factory, monkeypatch):
    """Each test's report answers are cached in a folder of its own, never in the user's ~/.cache."""
    monkeypatch.setenv("REGEXP_CACHE_DIR", str(tmp_path_factory.mktemp("report-cache")))


@pytest.fixture(autouse=True)
def fresh_consoles():
    """Each test's commands get new rich consoles, as each command line does: the CLI keeps one per
    process, and its width is read from COLUMNS when it is made (a test that sets COLUMNS would
    otherwise get the width of whichever test of its worker printed first)."""
    from regexp.cli.base import err, out

    out.cache_clear()
    err.cache_clear()


REPO = Path(__file__).resolve().parent.parent
# Small and fast: iris trains a 2-layer MLP in well under a second per epoch.
TINY = {
    "name": "tiny",
    "seed": 1,
    "data": {"dataset": "iris"},
    "model": {"layers": [{"type": "dense", "units": 8}]},
    "training": {"epochs": 3, "batch_size": 16},
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(dict or text, name='spec.yaml') -> Path of a spec file in a tmp folder."""
    def write(content, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path
    return write


def merged(base: dict, **sections) -> dict:
    """TINY with some sections replaced or extended: merged(TINY, training={'epochs': 5})."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in sections.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One real end-to-end training through the CLI, shared by the tests that read a run folder."""
    from regexp.cli import app

    folder = tmp_path_factory.mktemp("trained")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(merged(TINY, training={"epochs": 4, "early_stopping": {"patience": 10}})))
    result = CliRunner().invoke(app, ["train", str(spec), "--runs-dir", str(folder / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    (run,) = (folder / "runs").iterdir()
    return run
