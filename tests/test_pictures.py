"""The report's comparison pictures: overlaid curves, forest plot, heatmap and search scatter."""

import pytest

from regexp.cli import app
from regexp.report import build_report
from regexp.report.figure import draw

from conftest import TINY, merged


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
    report = build_report([], runs)
    return next(r.id for r in report.rows if r.params["model.defaults.l2"] == 0.0 and r.params[
        "model.defaults.dropout"] == 0.0)


def test_every_row_on_one_axis_with_the_baseline_emphasized(grid_runs):
    report = build_report([], grid_runs, baseline=baseline_id(grid_runs))
    figure = draw(report)
    overlay = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("val loss of every row"))
    labels = [line.get_label() for line in overlay.lines]
    assert len(labels) == 4 and all("(n = 2)" in label for label in labels)
    (base,) = [line for line in overlay.lines if line.get_label().endswith("baseline")]
    assert base.get_linewidth() > max(line.get_linewidth() for line in overlay.lines if line is not base)


def test_forest_plot_and_heatmap_follow_the_comparisons(grid_runs):
    report = build_report([], grid_runs, baseline=baseline_id(grid_runs))
    figure = draw(report)
    forest = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("difference from the baseline"))
    assert "Holm" in forest.get_title(loc="left")
    assert len(forest.get_yticklabels()) == 3  # the three other arms, sorted by their difference
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
    figure = draw(build_report([], tmp_path))
    scatter = {ax.get_xlabel(): ax for ax in figure.axes if ax.get_title(loc="left").endswith("per trial")}
    lr = scatter["training.optimizer.learning_rate (log scale, as sampled)"]
    assert lr.get_xscale() == "log" and scatter["model.defaults.dropout"].get_xscale() == "linear"
    assert [text.get_text() for text in lr.get_legend().get_texts()] == ["round 1", "round 2"]
    assert sum(len(c.get_offsets()) for c in lr.collections) == 8
