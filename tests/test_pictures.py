"""The report's comparison pictures: overlaid curves, forest plot, heatmap and search scatter."""

import pytest

from regexp.cli import app
from regexp.report import build_report
from regexp.report.options import ReportOptions
from regexp.views.figure import draw

from conftest import TINY, merged
from runfolders import make_run


@pytest.fixture(scope="module")
def grid_runs(tmp_path_factory):
    """A 2 x 2 grid (l2 x dropout), 2 seeds per point, 3 epochs: 8 packed trials."""
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("grid")
    import yaml

    (root / "spec.yaml").write_text(yaml.safe_dump(merged(TINY, training={"epochs": 3}, repeat=2, search={
        "params": {"model.defaults.l2": [0.0, 0.01], "model.defaults.dropout": [0.0, 0.3]}})))
    result = CliRunner().invoke(app, ["sweep", str(root / "spec.yaml"), "--runs-dir", str(root / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    return root / "runs"


def titles(figure) -> list[str]:
    return [ax.get_title(loc="left") for ax in figure.axes]


def baseline_id(runs) -> str:
    report = build_report(ReportOptions(runs_dir=runs))
    return next(r.id for r in report.rows if r.params["model.defaults.l2"] == 0.0 and r.params[
        "model.defaults.dropout"] == 0.0)


def test_every_row_on_one_axis_with_the_baseline_emphasized(grid_runs):
    report = build_report(ReportOptions(runs_dir=grid_runs, baseline=baseline_id(grid_runs)))
    figure = draw(report)
    overlay = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("val loss of every row"))
    labels = [line.get_label() for line in overlay.lines]
    assert len(labels) == 4 and all("(n = 2)" in label for label in labels)
    (base,) = [line for line in overlay.lines if line.get_label().endswith("baseline")]
    assert base.get_linewidth() > max(line.get_linewidth() for line in overlay.lines if line is not base)


def test_forest_plot_and_heatmap_follow_the_comparisons(grid_runs):
    report = build_report(ReportOptions(runs_dir=grid_runs, baseline=baseline_id(grid_runs)))
    figure = draw(report)
    forest = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("difference from the baseline"))
    assert "Holm" in forest.get_title(loc="left")
    assert len(forest.get_yticklabels()) == 3  # the three other arms, sorted by their difference
    renderer, box = figure.canvas.get_renderer(), forest.get_window_extent(figure.canvas.get_renderer())
    assert all(box.x0 <= t.get_window_extent(renderer).x0 and t.get_window_extent(renderer).x1 <= box.x1
               for t in forest.texts)  # each verdict beside its bar stays inside the panel
    ordered = sorted((c.diff for c in report.comparisons.values() if c.diff_ci95), key=float)
    drawn = [line.get_xdata()[0] for line in forest.lines if len(line.get_xdata()) == 1]  # the points
    assert drawn == pytest.approx(ordered)
    heat = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("mean val_loss per grid point"))
    cells = [t.get_text() for t in heat.texts]
    assert len(cells) == 4 and sum("baseline" in c for c in cells) == 1 and all("n = 2" in c for c in cells)
    significant = sum(c.verdict in ("better", "worse") for c in report.comparisons.values())
    assert sum("*" in c for c in cells) == significant


def test_random_search_scatter_uses_a_log_axis_where_the_search_did(write_spec, runner, tmp_path):
    spec = write_spec(merged(TINY, training={"epochs": 2}, search={
        "method": "random", "trials": 4, "refine": {"rounds": 2, "keep": 2},
        "params": {"training.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]}, "model.defaults.dropout": [0.0,
                                                                                                                 0.2]}}))
    assert runner.invoke(app, ["sweep", str(spec), "--runs-dir", str(tmp_path), "-q"]).exit_code == 0
    figure = draw(build_report(ReportOptions(runs_dir=tmp_path)))
    scatter = {ax.get_xlabel(): ax for ax in figure.axes if ax.get_title(loc="left").endswith("per trial")}
    lr = scatter["training.optimizer.learning_rate (log scale, as sampled)"]
    assert lr.get_xscale() == "log" and scatter["model.defaults.dropout"].get_xscale() == "linear"
    assert [text.get_text() for text in lr.get_legend().get_texts()] == ["round 1", "round 2"]
    assert sum(len(c.get_offsets()) for c in lr.collections) == 8


def curve_of(runs_dir, column="val_loss"):
    from regexp.views.figure import _curve

    (row,) = build_report(ReportOptions(runs_dir=runs_dir)).rows
    return _curve(row, column, None)


def test_a_seed_stopped_early_is_held_at_its_kept_weights_value_so_n_stays_the_rows(tmp_path):
    """Four seeds of 10 epochs: two ran them all, one stopped after 6 (best epoch 4), one after 8
    (best 5). Every epoch averages all four, the stopped ones at their best epoch's value."""
    base = {0: 0.30, 1: 0.32, 2: 0.40, 3: 0.50}  # val_loss at epoch e: base + 0.1 * (10 - e)
    for seed, stopped in ((0, None), (1, None), (2, (6, 4)), (3, (8, 5))):
        make_run(tmp_path, f"r{seed}", seed=seed, epochs=10, val_loss=base[seed], stopped=stopped, early_stopping=True)
    curve = curve_of(tmp_path)
    assert curve.epochs == list(range(1, 11)) and curve.n == [4] * 10
    assert curve.held == [0] * 6 + [1] * 2 + [2] * 2
    at = lambda seed, epoch: base[seed] + 0.1 * (10 - epoch)  # noqa: E731
    assert curve.mean[9] == pytest.approx((at(0, 10) + at(1, 10) + at(2, 4) + at(3, 5)) / 4)
    assert curve.mean[6] == pytest.approx((at(0, 7) + at(1, 7) + at(2, 4) + at(3, 7)) / 4)
    assert curve.n_text() == "n = 4, 2 held after early stop"
    figure = draw(build_report(ReportOptions(runs_dir=tmp_path)))
    overlay = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("val loss of every row"))
    (label,) = [line.get_label() for line in overlay.lines]
    assert label.endswith(" (n = 4, 2 held after early stop)")
    assert "held at its kept weights' value" in " ".join(overlay.get_title(loc="left").split())


def test_a_curve_ends_where_fewer_than_half_its_seeds_are_left(tmp_path):
    """Seeds that failed (no kept weights) drop out: 5 seeds, 2 failed after epoch 4, 1 more after 7."""
    for seed, ran in ((0, 10), (1, 10), (2, 7), (3, 4), (4, 4)):
        make_run(tmp_path, f"r{seed}", seed=seed, epochs=10, status="completed" if ran == 10 else "failed",
                 stopped=None if ran == 10 else (ran, ran), early_stopping=True)
    curve = curve_of(tmp_path)
    assert curve.n == [5] * 4 + [3] * 3 and curve.epochs == list(range(1, 8))  # 2 of 5 left after epoch 7
    assert curve.cut and curve.n_text() == "n = 5 → 3" and curve.held == [0] * 7


def test_heatmap_cells_show_their_n_and_the_paired_difference(tmp_path):
    """A 2 x 2 grid: the baseline point has seeds 0-3, the others seeds 0-1; val_accuracy = 0.80 +
    0.02·dropout·10 + 0.01·seed."""
    for dropout in (0.0, 0.5):
        for l2 in (0.0, 0.01):
            for seed in range(4 if (dropout, l2) == (0.0, 0.0) else 2):
                make_run(tmp_path, f"r{dropout}_{l2}_{seed}", seed=seed, dropout=dropout, l2=l2,
                         val_accuracy=0.80 + 0.04 * (dropout == 0.5) + 0.01 * seed + 0.002 * (l2 > 0))
    report = build_report(ReportOptions(runs_dir=tmp_path, baseline="dropout=0.0,l2=0.0"))
    heat = next(ax for ax in draw(report).axes if ax.get_title(loc="left").startswith("mean val_accuracy per grid"))
    cells = {tuple(t.get_position()): t.get_text() for t in heat.texts}
    assert cells[(0, 0)] == "0.815\nn = 4\nbaseline"  # mean over its 4 seeds
    assert cells[(1, 0)] == "0.845\nn = 2\nΔ +0.04 (2 pairs)"  # Δ over seeds 0 and 1 only, not 0.845 - 0.815
    assert cells[(0, 1)] == "0.807\nn = 2\nΔ +0.002 (2 pairs)"
    title = " ".join(heat.get_title(loc="left").split())
    assert "not the same in every cell" in title and "Δ: mean paired difference" in title


def test_no_title_is_cut_at_the_figure_edge(tmp_path):
    """A long panel title (decide's, over y ticks as wide as -0.0006) wraps onto lines within the figure."""
    from regexp.report.decisions import Decisions
    from regexp.store.sweep_file import Decision

    for dropout in (0.0, 0.5):
        for seed in range(3):
            make_run(tmp_path, f"r{dropout}_{seed}", seed=seed, dropout=dropout)
    report = build_report(ReportOptions(runs_dir=tmp_path))
    arm = {"point": {"model.defaults.dropout": 0.5}, "verdict": "better", "seeds": 10, "diff": 0.00056,
           "ci": [0.00015, 0.00098], "look": 2}
    record = Decision(baseline="dropout=0.0", baseline_point={"model.defaults.dropout": 0.0}, metric="val_accuracy",
                      margin=0.0001, alpha=0.05, batch=5, max_seeds=30, method="m", arms=[arm],
                      looks=[{"seeds": 5, "arms": [{**arm, "verdict": "undecided", "ci": [-0.0006, 0.0011]}]},
                             {"seeds": 10, "arms": [arm]}])
    other = next(row for row in report.rows if row.params["model.defaults.dropout"] == 0.5)
    report.decisions = Decisions("s_sweep", record, {other.id: record.arms[0]}, None)
    figure = draw(report)
    renderer, width = figure.canvas.get_renderer(), figure.bbox.width
    from matplotlib.text import Text

    titles = [t for ax in figure.axes for t in ax.get_children() if isinstance(t, Text) and t.get_text()
              and t.get_text() in {ax.get_title(loc=loc) for loc in ("left", "center", "right")}]
    decide = next(t for t in titles if t.get_text().startswith("decide:"))
    assert "\n" in decide.get_text() and decide.get_text().replace("\n", " ").endswith("fits in the band")
    assert all(0 <= t.get_window_extent(renderer).x0 and t.get_window_extent(renderer).x1 <= width for t in titles)
