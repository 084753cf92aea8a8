"""The report's answer cache never shows stale data: status changes, deleted and copied-in folders,
runs being written and runs whose process died are all reflected."""

import json
import shutil
import subprocess
import sys

import pytest

import regexp.report
from regexp.cli import app

from runfolders import make_run


def report(runner, runs, *args) -> str:
    result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "csv", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def runs(tmp_path):
    for seed in range(3):
        make_run(tmp_path / "runs", f"a{seed}", seed=seed)
    make_run(tmp_path / "runs", "b0", name="other", dropout=0.5)
    return tmp_path / "runs"


def test_a_second_identical_report_is_answered_from_the_cache(runner, runs, monkeypatch):
    from regexp.report.cache import cache_file

    first = report(runner, runs)
    assert cache_file(runs).is_file() and not any(p.name.startswith(".") for p in runs.iterdir())  # runs/ untouched
    monkeypatch.setattr(regexp.report, "build_report", lambda *a,
                        **k: pytest.fail("recomputed although nothing changed"))
    assert report(runner, runs) == first
    monkeypatch.undo()
    assert report(runner, runs, "--no-groups") != first  # other options: another answer


def test_a_status_change_a_deleted_and_a_copied_in_folder_are_seen(runner, runs):
    assert report(runner, runs).count("\n") == 3  # header, the group of 3, the other run
    info = json.loads((runs / "b0" / "run.json").read_text())
    (runs / "b0" / "run.json").write_text(json.dumps({**info, "status": "failed"}))
    assert "failed" in report(runner, runs)
    shutil.rmtree(runs / "a2")
    assert "2 completed" in report(runner, runs)
    shutil.copytree(runs / "a1", runs / "a9")  # copy2 keeps the files' times: the new name and inodes still count
    config = (runs / "a9" / "config.yaml").read_text()
    (runs / "a9" / "config.yaml").write_text(config.replace("seed: 1", "seed: 9"))  # a new seed of the same point
    assert "3 completed" in report(runner, runs)


def test_a_run_being_written_and_one_whose_process_died_are_seen(runner, tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = make_run(tmp_path / "runs", "r0", status="running", pid=sleeper.pid, epochs=2)

        def epochs_run() -> float:
            return json.loads(report(runner, tmp_path / "runs", "--format",
                                     "json"))["rows"][0]["values"]["epochs_run"]["mean"]
        assert epochs_run() == 2
        with (path / "history.csv").open("a") as f:  # the next epoch arrives
            f.write("3,0.3,0.8,0.4,0.8,0.001,0.1\n")
        assert epochs_run() == 3  # read from the grown history.csv, not the cached answer
        assert ",running," in report(runner, tmp_path / "runs", "--all-params")  # cached now, with the run running
    finally:
        sleeper.kill()
        sleeper.wait()
    assert ",crashed," in report(runner, tmp_path / "runs", "--all-params")  # no file changed; the process ended


QUANTILE_PROBE = """
import sys
from regexp.report import quantiles
print(repr(quantiles.t_quantile({df}, 0.05)), "scipy" in sys.modules)
quantiles.remember()
"""


def quantile_in_a_new_process(df) -> tuple[float, bool]:
    """(the quantile, whether scipy was imported for it) from a fresh process (REGEXP_CACHE_DIR is this test's)."""
    out = subprocess.run([sys.executable, "-c", QUANTILE_PROBE.format(df=df)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    value, imported = out.stdout.split()
    return float(value), imported == "True"


def test_t_quantiles_are_scipys_and_a_later_process_reads_them_without_importing_scipy(tmp_path):
    from scipy import stats

    from regexp.store.files import cache_root

    assert quantile_in_a_new_process(9) == (stats.t.ppf(0.975, 9), True)
    assert quantile_in_a_new_process(9) == (stats.t.ppf(0.975, 9), False)  # read back bit for bit
    assert quantile_in_a_new_process(120) == (stats.t.ppf(0.975, 120), False)  # a group that grew: kept too
    assert quantile_in_a_new_process(7.3)[1] and quantile_in_a_new_process(7.3)[1]  # a Welch df is never kept
    stored = cache_root() / "t-quantiles.json"
    for damage in ("{not json", json.dumps({"scipy": "another scipy", "values": {"9:0.05": 5.0}}),
                   json.dumps({"scipy": json.loads(stored.read_text())["scipy"], "values": {"9:0.05": "5"}})):
        stored.write_text(damage)
        assert quantile_in_a_new_process(9) == (stats.t.ppf(0.975, 9), True)  # recomputed, not trusted
