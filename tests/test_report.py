"""regexp report / show / diff over real and synthetic run folders, every format, every damaged run."""

import csv
import io
import json
import math

import pytest
from scipy.stats import t as stats_t

from regexp.cli import app
from regexp.report import build_report
from regexp.report.options import ReportOptions
from regexp.views import report as render
from regexp.views.figure import ewma

from runfolders import dead_pid, make_run


def clear_consoles():
    """The next command makes its consoles again, with the width COLUMNS says now."""
    from regexp.cli.base import err, out

    out.cache_clear()
    err.cache_clear()


def report_json(runner, runs_dir, *args) -> dict:
    result = runner.invoke(app, ["report", "--runs-dir", str(runs_dir), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def values(row: dict, column: str) -> float:
    return row["values"][column]["mean"]


def test_one_row_per_run_newest_first_with_the_columns(runner, tmp_path):
    make_run(tmp_path, "a", seed=0, dropout=0.0, val_accuracy=0.90, started="2026-11-01T00:00:00+00:00")
    make_run(tmp_path, "b", seed=0, dropout=0.5, val_accuracy=0.93, started="2026-11-02T00:00:00+00:00")
    data = report_json(runner, tmp_path)
    assert [r["id"] for r in data["rows"]] == ["b", "a"]
    row = data["rows"][0]
    assert row["kind"] == "run" and row["status"] == "completed" and row["n"] == 1
    assert data["metric"] == "accuracy"
    assert data["columns"] == ["epochs_run", "best_epoch", "train_loss", "val_loss", "test_loss", "train_accuracy",
                               "val_accuracy", "test_accuracy", "gap_loss", "gap_accuracy", "duration_s"]
    assert values(row, "val_accuracy") == 0.93 and values(row, "test_accuracy") == pytest.approx(0.92)
    assert values(row, "gap_accuracy") == pytest.approx(0.99 - 0.93)
    assert row["values"]["val_accuracy"]["std"] is None


def test_only_differing_params_are_shown_unless_all_params(runner, tmp_path):
    make_run(tmp_path, "a", dropout=0.0)
    make_run(tmp_path, "b", dropout=0.5, seed=1)
    data = report_json(runner, tmp_path, "--no-groups")
    assert data["params"] == ["model.defaults.dropout", "seed"]  # the layer's copy of the default is not repeated
    assert {r["id"]: r["params"]["model.defaults.dropout"] for r in data["rows"]} == {"a": 0.0, "b": 0.5}
    everything = report_json(runner, tmp_path, "--all-params")
    assert "training.optimizer.learning_rate" in everything["params"] and "model.layers.0.units" in everything["params"]


@pytest.mark.parametrize("column, order", [
    ("val_loss", ["low", "mid", "high"]),            # losses ascend
    ("val_accuracy", ["high", "mid", "low"]),        # accuracy descends
])
def test_sort_follows_the_metric_direction(runner, tmp_path, column, order):
    make_run(tmp_path, "low", seed=0, val_loss=0.1, val_accuracy=0.80)
    make_run(tmp_path, "mid", seed=1, val_loss=0.2, val_accuracy=0.85)
    make_run(tmp_path, "high", seed=2, val_loss=0.3, val_accuracy=0.90)
    make_run(tmp_path, "broken", seed=3, status="failed", epochs=0, write=("run", "config"))
    data = report_json(runner, tmp_path, "--sort", column, "--no-groups")
    assert [r["id"] for r in data["rows"]] == [*order, "broken"]  # no value: last
    assert [r["id"] for r in report_json(runner, tmp_path, "--sort", column, "--no-groups", "--limit",
                                         "2")["rows"]] == order[:2]


def test_filters_on_name_tag_status_and_config_values(runner, tmp_path):
    make_run(tmp_path, "a", name="mlp-small", dropout=0.5, tags=("baseline",))
    make_run(tmp_path, "b", name="mlp-big", seed=1, dropout=0.2)
    make_run(tmp_path, "c", name="cnn", seed=2, status="failed", write=("run", "config"))
    ids = lambda *f: sorted(r["id"] for r in report_json(runner, tmp_path, "--no-groups", *sum((["--filter",
                                                                                                 x] for x in f),
                                                                                               []))["rows"])
    assert ids("name=mlp-*") == ["a", "b"]
    assert ids("tag=baseline") == ["a"]
    assert ids("status=failed") == ["c"]
    assert ids("model.defaults.dropout=0.5") == ["a"]
    assert ids("name=mlp-*", "model.defaults.dropout=0.2") == ["b"]


def test_repeats_collapse_into_a_group_with_mean_std_and_ci(runner, tmp_path):
    accs = [0.90, 0.92, 0.94]
    for seed, acc in enumerate(accs):
        make_run(tmp_path, f"r{seed}", seed=seed, val_accuracy=acc)
    make_run(tmp_path, "r3", seed=3, status="failed", write=("run", "config"))
    data = report_json(runner, tmp_path, "--expand")
    (group,) = data["rows"]
    assert group["kind"] == "group" and group["n"] == 3 and group["status"] == "3 completed, 1 failed"
    summary = group["values"]["val_accuracy"]
    assert summary["mean"] == pytest.approx(0.92) and summary["std"] == pytest.approx(0.02)
    half = 4.302652729911275 * 0.02 / math.sqrt(3)  # t(0.975, df 2) * s / sqrt(n)
    assert summary["ci95"] == pytest.approx([0.92 - half, 0.92 + half])
    assert sorted(m["id"] for m in group["members"]) == ["r0", "r1", "r2", "r3"]
    no_groups = report_json(runner, tmp_path, "--no-groups")
    assert len(no_groups["rows"]) == 4


def _t_tail(t: float, df: float) -> float:
    """Two-sided p-value of Student's t, by Simpson integration of the density (independent of scipy)."""
    pdf = lambda x: math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2)) * (
        1 + x * x / df) ** (-(df + 1) / 2)
    a, b, n = abs(t), abs(t) + 400.0, 200_000
    h = (b - a) / n
    total = pdf(a) + pdf(b) + sum((4 if i % 2 else 2) * pdf(a + i * h) for i in range(1, n))
    return 2 * total * h / 3


def test_welch_test_against_a_hand_computed_value(runner, tmp_path):
    base, new = [0.90, 0.92, 0.91], [0.93, 0.97, 0.95, 0.99]
    for seed, acc in enumerate(base):
        make_run(tmp_path, f"base{seed}", name="base", seed=seed, val_accuracy=acc)
    for seed, acc in enumerate(new, start=10):  # other seeds and another n: unpaired, unequal variances
        make_run(tmp_path, f"new{seed}", name="new", seed=seed, val_accuracy=acc)
    data = report_json(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy")
    row = next(r for r in data["rows"] if r["name"] == "new")
    v1 = 0.01**2 / 3                                # s^2 / n of the baseline (sd 0.01)
    v2 = (sum((x - 0.96) ** 2 for x in new) / 3) / 4  # s^2 / n of the new arm (mean 0.96)
    t = (0.96 - 0.91) / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / 2 + v2**2 / 3)   # Welch-Satterthwaite
    p = _t_tail(t, df)
    pooled = math.sqrt((2 * 0.01**2 + 3 * (v2 * 4)) / 5)
    test = row["baseline"]
    assert test["test"] == "Welch's t-test"
    assert test["diff"] == pytest.approx(0.05) and test["p"] == pytest.approx(p, rel=1e-4)
    hedges = 1 - 3 / (4 * 5 - 1)  # Hedges' g: Cohen's d (pooled sd) times J(5), here its usual approximation
    assert test["effect_size"] == pytest.approx(0.05 / pooled * hedges, rel=2e-3)
    assert test["effect_size_name"] == "Hedges' g"
    assert test["p_adjusted"] == test["p"] and test["verdict"] == "better"  # one comparison: nothing to adjust
    half = stats_t.ppf(0.975, df) * math.sqrt(v1 + v2)  # the Welch interval of the difference
    assert test["diff_ci95"] == pytest.approx([0.05 - half, 0.05 + half], rel=1e-6)


def test_paired_test_when_seeds_match_and_honest_when_not_significant(runner, tmp_path):
    for seed, (a, b) in enumerate([(0.90, 0.93), (0.92, 0.94), (0.91, 0.95)]):
        make_run(tmp_path, f"base{seed}", name="base", seed=seed, val_accuracy=a)
        make_run(tmp_path, f"new{seed}", name="new", seed=seed, val_accuracy=b)
        make_run(tmp_path, f"same{seed}", name="same", seed=seed, val_accuracy=a + (0.01 if seed == 0 else -0.005))
    data = report_json(runner, tmp_path, "--baseline", "base", "--metric", "val_accuracy")
    new = next(r for r in data["rows"] if r["name"] == "new")["baseline"]
    t = 0.03 / (0.01 / math.sqrt(3))  # paired differences 0.03, 0.02, 0.04: mean 0.03, sd 0.01, df 2
    p = 2 * (1 - (0.5 + t / (2 * math.sqrt(2 + t * t))))  # t CDF with 2 df, closed form
    assert new["test"] == "paired t-test" and new["p"] == pytest.approx(p, rel=1e-6)
    # d_z = 0.03 / 0.01 = 3, times J(2) = Γ(1) / (√1 Γ(1/2)) = 1/√π: the uncorrected d_z is 1.77x too big at n = 3
    assert new["effect_size"] == pytest.approx(3.0 / math.sqrt(math.pi)) and new["effect_size_name"] == "d_z"
    half = stats_t.ppf(0.975, 2) * 0.01 / math.sqrt(3)
    assert new["diff_ci95"] == pytest.approx([0.03 - half, 0.03 + half])
    same = next(r for r in data["rows"] if r["name"] == "same")["baseline"]
    assert same["p"] > 0.05 and same["verdict"] == "inconclusive"
    # Holm over the two comparisons: the smaller p doubled, the larger kept (not below the first)
    assert new["p_adjusted"] == pytest.approx(min(1.0, 2 * p)) and same["p_adjusted"] == pytest.approx(max(same["p"],
                                                                                                           2 * p))


def test_a_single_run_baseline_says_no_test(runner, tmp_path):
    make_run(tmp_path, "a", name="a")
    make_run(tmp_path, "b", name="b", val_accuracy=0.95)
    data = report_json(runner, tmp_path, "--baseline", "a")
    row = next(r for r in data["rows"] if r["id"] == "b")
    assert row["baseline"]["p"] is None and row["baseline"]["p_adjusted"] is None
    assert row["baseline"]["verdict"] == "no test: needs 2 or more seeds per arm (repeat: 10)"


def test_damaged_and_unfinished_runs_are_listed_with_warnings(runner, tmp_path):
    make_run(tmp_path, "ok", seed=0)
    make_run(tmp_path, "running", seed=1, status="running", write=("run", "config", "history"))
    make_run(tmp_path, "crashed", seed=2, status="running", pid=dead_pid(), write=("run", "config", "history"))
    make_run(tmp_path, "interrupted", seed=3, status="interrupted", write=("run", "config", "history"))
    make_run(tmp_path, "nometrics", seed=4, write=("run", "config", "history"))
    bad_json = make_run(tmp_path, "badjson", seed=5)
    (bad_json / "run.json").write_text('{"status": "comp')
    truncated = make_run(tmp_path, "truncated", seed=6, status="failed", write=("run", "config", "history"))
    with (truncated / "history.csv").open("a") as f:
        f.write("4,0.2,0.9")  # the process died mid-line
    make_run(tmp_path, "noconfig", seed=7, write=("run", "metrics", "history"))
    (tmp_path / "not-a-run").mkdir()
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--format", "json", "--no-groups"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    status = {r["id"]: r["status"] for r in data["rows"]}
    assert status == {"ok": "completed", "running": "running", "crashed": "crashed", "interrupted": "interrupted",
                      "nometrics": "completed", "badjson": "incomplete", "truncated": "failed", "noconfig": "completed"}
    rows = {r["id"]: r for r in data["rows"]}
    assert values(rows["interrupted"], "epochs_run") == 3 and values(rows["interrupted"],
                                                                     "val_accuracy") == pytest.approx(0.9)
    assert values(rows["truncated"], "epochs_run") == 3
    warnings = " | ".join(data["warnings"])
    for expected in ("nometrics: metrics.json is missing", "badjson: run.json is unreadable",
                     "truncated: history.csv: the last row is truncated", "noconfig: config.yaml is missing"):
        assert expected in warnings
    assert "warning:" in result.stderr
    table = runner.invoke(app, ["report", "--runs-dir", str(tmp_path)])  # the terminal view survives it too
    assert table.exit_code == 0 and "crashed" in table.stdout


def test_real_trained_run_reports_shows_and_diffs(runner, trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # rich reads the width from the environment
    data = report_json(runner, trained_run.parent)
    (row,) = data["rows"]
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert values(row, "test_accuracy") == pytest.approx(metrics["test"]["accuracy"])
    shown = runner.invoke(app, ["show", str(trained_run)], terminal_width=160)
    assert shown.exit_code == 0
    for fragment in ("completed", "history", "val_accuracy", "model.keras", "seed: 1"):
        assert fragment in shown.stdout
    other = make_run(tmp_path, "other", seed=1, dropout=0.5)
    diffed = runner.invoke(app, ["diff", str(trained_run), str(other)], terminal_width=160)
    assert diffed.exit_code == 0 and "model.defaults.dropout" in diffed.stdout and "val_accuracy" in diffed.stdout


def test_diff_lists_differing_keys_and_metric_deltas(tmp_path):
    from regexp.report.diff import diff
    from regexp.store.folders import read_run

    a = read_run(make_run(tmp_path, "a", dropout=0.0, val_loss=0.30, val_accuracy=0.90))
    b = read_run(make_run(tmp_path, "b", dropout=0.5, val_loss=0.20, val_accuracy=0.95))
    config, deltas = diff(a, b)
    assert ("model.defaults.dropout", 0.0, 0.5) in config and ("model.layers.0.dropout", 0.0, 0.5) in config
    by_name = {d[0]: d for d in deltas}
    assert by_name["val_loss"][3] == pytest.approx(-0.10) and by_name["val_loss"][4] == "B"      # lower loss: B better
    assert by_name["val_accuracy"][3] == pytest.approx(0.05) and by_name["val_accuracy"][4] == "B"


def test_every_format(runner, tmp_path, monkeypatch):
    for seed in range(2):
        make_run(tmp_path, f"g{seed}", seed=seed, val_accuracy=0.9 + 0.02 * seed)
    make_run(tmp_path, "solo", name="solo", dropout=0.3)
    out = lambda fmt: runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--format", fmt])
    md = out("md").stdout.splitlines()
    assert md[0].startswith("| run | name | status | n |") and md[1].startswith("|---|") and len(md) == 4
    rows = list(csv.DictReader(io.StringIO(out("csv").stdout)))
    group = next(r for r in rows if r["kind"] == "group")
    assert float(group["val_accuracy"]) == pytest.approx(0.91) and float(group["val_accuracy_std"]) > 0
    assert json.loads(out("json").stdout)["version"] == 1
    page = out("html").stdout
    assert page.startswith("<!doctype html>") and "<table id=\"runs\">" in page and "data:image/png;base64," in page
    target = tmp_path / "out.md"
    assert runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--format", "md", "--output",
                               str(target)]).exit_code == 0
    assert target.read_text().startswith("| run |")
    monkeypatch.setenv("COLUMNS", "200")  # rich reads the width from the environment
    clear_consoles()
    table = runner.invoke(app, ["report", "--runs-dir", str(tmp_path)])
    assert "95% CI" in table.stdout and "±0.014" in table.stdout  # val acc 0.910, its std below it
    monkeypatch.setenv("COLUMNS", "79")  # below 80 columns: a block per row
    clear_consoles()
    narrow = runner.invoke(app, ["report", "--runs-dir", str(tmp_path)])
    assert "95% CI val acc [" in narrow.stdout


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_files(runner, tmp_path, suffix):
    for seed in range(2):
        make_run(tmp_path / "runs", f"g{seed}", seed=seed)
    target = tmp_path / f"curves{suffix}"
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--plot", str(target), "--smooth",
                                 "0.6"])
    assert result.exit_code == 0, result.output
    head = target.read_bytes()[:64]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in target.read_bytes()[:2000]


def test_ewma_with_bias_correction():
    assert ewma([1.0, 2.0, 3.0], 0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    assert ewma([None, 4.0], 0.9) == [None, pytest.approx(4.0)]  # the first value is not biased toward 0


@pytest.mark.parametrize("args, fragment", [
    (["--sort", "val_acuracy"], "--sort val_acuracy: unknown column"),
    (["--baseline", "nothing"], "--baseline nothing: no run or group"),
    (["--format", "xml"], "--format xml: not a format"),
    (["--plot", "x.jpg"], "must end in .png or .svg"),
    (["missing-run-id"], "no run matches 'missing-run-id'"),
])
def test_bad_report_options_exit_2(runner, tmp_path, args, fragment):
    make_run(tmp_path, "a")
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), *args])
    assert result.exit_code == 2 and fragment in result.output and "Traceback" not in result.output


def test_empty_runs_dir(runner, tmp_path):
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 0 and "no runs" in result.output


def test_build_report_is_usable_as_a_library(tmp_path):
    make_run(tmp_path, "a")
    report = build_report(ReportOptions(runs_dir=tmp_path))
    assert render.to_markdown(report).count("\n") == 3


@pytest.mark.parametrize("file, key", [
    ("run.json", "started"), ("run.json", "status"), ("run.json", "seed"), ("run.json", "duration_s"), ("run.json",
                                                                                                        "name"),
    ("run.json", "host"), ("run.json", "pid"),
    ("metrics.json", "train"), ("metrics.json", "directions"), ("metrics.json", "best_epoch"), ("metrics.json",
                                                                                                "early_stopped"),
])
@pytest.mark.parametrize("odd", [None, "x", [1]])
def test_odd_values_in_run_files_never_crash(runner, tmp_path, file, key, odd):
    for seed in range(2):
        path = make_run(tmp_path / "runs", f"r{seed}", seed=seed, epochs=4)
    data = json.loads((path / file).read_text())
    data[key] = odd
    (path / file).write_text(json.dumps(data))
    for args in (["report"], ["report", "--sort", "val_loss", "--baseline", "r0", "--expand", "--format", "json"],
                 ["report", "--format", "html", "--plot", str(tmp_path / "c.png")], ["show", str(path)]):
        where = [] if args[0] == "show" else ["--runs-dir", str(tmp_path / "runs")]
        result = runner.invoke(app, [*args, *where])
        assert result.exit_code in (0, 2), (args, result.output)
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
