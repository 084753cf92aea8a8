"""The report's record index (report/index.py): a report after new runs reads only those, and its
answers are the same as a report that read every run folder, whatever it shows."""

import json
import os
import subprocess
import sys

import pytest

import regexp.report.index as record_index
from regexp.report import build_report
from regexp.report.options import ReportOptions
from regexp.store import scan as scanning
from regexp.views.report import as_text

from runfolders import make_run

OPTION_SETS = [
    {},
    {"expand": True},
    {"baseline": "exp", "margin": 0.05},
    {"filters": ["dropout=0.5"]},
    {"filters": ["status=failed"]},
    {"group_by": "model.defaults.dropout"},
    {"sort": "val_accuracy", "limit": 2, "all_params": True},
]


@pytest.fixture
def runs(tmp_path):
    runs = tmp_path / "runs"
    for seed in range(4):
        make_run(runs, f"a{seed}", seed=seed, val_accuracy=0.90 + 0.01 * seed)
        make_run(runs, f"b{seed}", seed=seed, name="drop", dropout=0.5, val_accuracy=0.93 + 0.005 * seed)
    make_run(runs, "f0", seed=7, name="drop", dropout=0.5, status="failed")
    return runs


def answer(runs, **options) -> str:
    return as_text(build_report(ReportOptions(runs_dir=runs, **options)), "json")


def counting_reads(monkeypatch) -> list:
    """The run folders the index had to read (a list that fills as the report reads)."""
    read = []
    real = record_index.read_run

    def read_run(path):
        read.append(path.name)
        return real(path)
    monkeypatch.setattr(record_index, "read_run", read_run)
    return read


def without_index(runs, **options) -> str:
    record_index.index_file(runs).unlink(missing_ok=True)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(record_index, "_store", lambda *a: None)  # read every folder, keep no index
    try:
        return answer(runs, **options)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o) or "default")
def test_a_report_from_the_index_says_what_one_from_the_run_folders_says(runs, options):
    expected = without_index(runs, **options)
    answer(runs)  # writes the index
    assert record_index.index_file(runs).is_file()
    assert answer(runs, **options) == expected


def test_after_new_runs_only_they_are_read(runs, monkeypatch):
    """Only the new runs are parsed whole (and a failed one: not indexed, its values come from its
    history); the params that differ read each row's first run.json, no metrics."""
    answer(runs)
    read = counting_reads(monkeypatch)
    answer(runs)
    assert read == ["f0"]
    make_run(runs, "a4", seed=4)
    make_run(runs, "c0", seed=0, name="new", dropout=0.2)
    read.clear()
    found = json.loads(answer(runs))
    assert {row["name"]: row["n"] for row in found["rows"]} == {"exp": 5, "drop": 4, "new": 1}
    assert read == ["a4", "c0", "f0"]
    read.clear()
    answer(runs)
    assert read == ["f0"]


def test_a_finished_run_changed_in_place_is_read_again(runs, monkeypatch):
    before = json.loads(answer(runs))
    metrics = json.loads((runs / "a0" / "metrics.json").read_text())
    metrics["val"]["accuracy"] = 0.5
    (runs / "a0" / "metrics.json").write_text(json.dumps(metrics, indent=4))  # another size, another identity
    read = counting_reads(monkeypatch)
    after = json.loads(answer(runs))
    assert read == ["a0", "f0"]
    mean = {row["name"]: row["values"]["val_accuracy"]["mean"] for row in after["rows"]}
    assert mean["exp"] == pytest.approx((0.5 + 0.91 + 0.92 + 0.93) / 4)
    assert mean != {row["name"]: row["values"]["val_accuracy"]["mean"] for row in before["rows"]}


@pytest.mark.parametrize("damage", ["not json", "[1, 2]", '{"runs": {"a0": [1], "a1": {}}}', "CUT", "STALE"])
def test_a_damaged_or_stale_index_is_read_around(runs, damage):
    expected = without_index(runs)
    answer(runs)
    file = record_index.index_file(runs)
    if damage == "STALE":  # written by other report code: every entry is discarded
        data = json.loads(file.read_text())
        file.write_text(json.dumps({**data, "stamp": "older code"}))
    elif damage == "CUT":
        data = json.loads(file.read_text())
        data["runs"]["a0"][1] = ["completed", "x"]  # the identity matches, the entry is cut short
        data["runs"]["a1"][1][-1] = data["runs"]["a1"][1][-1][:3]
        data["runs"]["a2"] = data["runs"]["a2"][:1]  # its identity alone
        data["runs"]["a3"][1][0] = "running"  # never indexed: read again
        file.write_text(json.dumps(data))
    else:
        file.write_text(damage)
    assert answer(runs) == expected
    assert answer(runs) == expected  # and the rewritten index answers the same


def test_an_indexed_run_reads_its_folder_for_what_the_index_does_not_hold(runs):
    answer(runs)
    (indexed,) = [run for run in record_index.read_runs(runs, scanning.scan(runs)) if run.id == "b2"]
    assert isinstance(indexed, record_index.IndexedRun)
    assert (indexed.name, indexed.seed, indexed.status) == ("drop", 2, "completed")
    assert indexed.config["model"]["defaults"]["dropout"] == 0.5  # read from the folder on first use
    assert indexed.metrics.val["accuracy"] == pytest.approx(0.94)
    assert [row["epoch"] for row in indexed.history] == [1, 2, 3]


PARALLEL_PROBE = """
import sys
from pathlib import Path

import regexp.report.index as record_index
from regexp.report import build_report
from regexp.report.options import ReportOptions
from regexp.views.report import as_text

record_index.PARALLEL_AT = 1  # as over thousands of new folders
forked = record_index._read_in_parallel
record_index._read_in_parallel = lambda folders: print(len(entries := forked(folders)), file=sys.stderr) or entries
sys.stdout.write(as_text(build_report(ReportOptions(runs_dir=Path(sys.argv[1]))), "json"))
"""


def test_many_new_folders_are_read_by_forked_processes_and_answer_the_same(runs):
    expected = without_index(runs)
    # a process of its own: the forked read is skipped in a process with threads (a pytest-xdist worker has some)
    out = subprocess.run([sys.executable, "-c", PARALLEL_PROBE, str(runs)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected
    forked = "8" if len(os.sched_getaffinity(0)) > 1 else "0"  # one core: nothing is forked
    assert out.stderr.split()[-1] == forked  # every finished run came back from it (f0 failed: not indexed)
    assert answer(runs) == expected  # and the index that read wrote answers the same
