"""One question, one answer per arm (report/answer.py), in the terminal, json, md and html alike: on a
`decide:` sweep the decision is the answer and the fixed-n comparisons are description; where another
metric points another way, one sentence says so. Fake run folders with known answers."""

import html
import json
import re
from html.parser import HTMLParser

import pytest

from regexp.cli import app
from regexp.report import betting
from regexp.report.answer import Answer, conflict
from regexp.report.stats import ALPHA

from conftest import TINY, merged
from runfolders import looks, make_run, noise

GRID = {"method": "grid", "params": {"model.defaults.dropout": [0.0, 0.5], "model.defaults.l2": [0.0, 0.001]}}
VERDICTS = ("better", "worse", "equivalent", "undecided", "inconclusive")
BETTER, SAME, WORSE = ({"model.defaults.dropout": d, "model.defaults.l2": l2} for d, l2 in ((0.5, 0.0), (0.0, 0.0),
                                                                                            (0.5, 0.001)))


def values(point, seed):
    """val_loss: BETTER lower by 0.05, WORSE higher by 0.05, SAME no different; test_accuracy: BETTER
    lower by 0.05 (it points the other way), the others no different."""
    shift = {str(BETTER): -0.05, str(WORSE): 0.05}.get(str(point), 0.0)
    accuracy = 0.9 - 0.05 * (point == BETTER) + noise(point, seed + 100, 0.005)
    return {"val_loss": 0.35 + shift + noise(point, seed, 0.004), "val_accuracy": accuracy + 0.01,
            "test_accuracy": accuracy}


@pytest.fixture
def decided(tmp_path, write_spec):
    file = write_spec(merged(TINY, search=GRID, decide={"baseline": "dropout=0.0,l2=0.001", "metric": "val_loss",
                                                        "margin": 0.02, "batch": 6, "max_seeds": 12}))
    sweep, _ = looks(tmp_path, file, values)
    return tmp_path / "runs", sweep.state.decide


def shown(runner, runs, fmt, *args):
    result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", fmt, "--baseline",
                                 "dropout=0.0,l2=0.001", "--metric", "test_accuracy", *args], terminal_width=250)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_decide_sweep_gives_one_verdict_per_arm_in_every_format(runner, decided):
    runs, record = decided
    ended = {str(a.point): a.verdict for a in record.arms}
    assert ended == {str(BETTER): "better", str(SAME): "equivalent", str(WORSE): "worse"}

    data = json.loads(shown(runner, runs, "json"))
    assert data["question"]["kind"] == "decide" and data["question"]["metric"] == "val_loss"
    assert data["question"]["margin"] == 0.02 and data["question"]["family"] == 3
    answers = {a["row"]: a for a in data["answers"]}
    assert sorted(a["verdict"] for a in answers.values()) == ["better", "equivalent", "worse"]  # one per arm
    arms = [row for row in data["rows"] if row["id"] in answers]
    for row in arms:  # the fixed-n test over decide's seeds is description, not a second verdict
        assert row["baseline"]["verdict"] == "descriptive" and row["baseline"]["p_adjusted"] is None
        assert "sequentially" in row["baseline"]["descriptive"]
    better_row = next(row["id"] for row in arms if row["params"]["model.defaults.dropout"] == 0.5
                      and row["params"]["model.defaults.l2"] == 0.0)
    (sentence,) = data["conflicts"]  # BETTER on val_loss, lower test accuracy: said once, in words
    assert sentence.startswith(f"{answers[better_row]['arm']}: test_accuracy is lower than the baseline's")
    assert "on val_loss, the question's metric, it is better" in sentence

    md = shown(runner, runs, "md")
    table = [line for line in md.splitlines() if line.startswith("| ") and any(r in line for r in answers)]
    assert len(table) == 3 and all(line.rstrip(" |").endswith("descriptive") for line in table)
    for row, a in answers.items():
        assert md.count(f"- {row} ({a['arm']}): {a['verdict']} after ") == 1
        assert _verdict_words(md.replace(a["text"], "").replace(sentence, ""), row) == []
    assert md.count(sentence) == 1

    terminal = " ".join(shown(runner, runs, "table").split())
    assert terminal.count("descriptive (test_accuracy), not a verdict") == 3 and not re.search(r"p adj \d", terminal)
    for row, a in answers.items():
        assert terminal.count(f"{row} ({a['arm']}): {a['text']}") == 1

    page = shown(runner, runs, "html")
    tables = _tables(page)
    assert [cells[-2] for cells in tables["answers"][1:]] == [answers[r]["verdict"] for r in answers]
    verdict_column = tables["runs"][0].index("verdict")
    assert {cells[verdict_column] for cells in tables["runs"][1:]} == {"descriptive", "baseline"}
    assert html.escape(sentence) in page and "id='decisions'" not in page


def test_no_baseline_asked_the_decisions_are_the_only_answers(runner, decided):
    runs, _ = decided
    result = runner.invoke(app, ["report", "--runs-dir", str(runs), "--format", "json"])
    data = json.loads(result.stdout)
    assert len(data["answers"]) == 3 and data["conflicts"] == [] and data["comparison"] is None
    assert all(row["baseline"] is None for row in data["rows"])


def _verdict_words(text: str, row: str) -> list[str]:
    """Verdict words on the lines that name `row`."""
    return [word for line in text.splitlines() if row in line for word in VERDICTS if re.search(rf"\b{word}\b", line)]


def _tables(page: str) -> dict[str, list[list[str]]]:
    """Each <table id=...>'s rows of cell texts."""
    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.current, self.cell = {}, None, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.current = self.tables.setdefault(dict(attrs).get("id"), [])
            elif tag == "tr" and self.current is not None:
                self.current.append([])
            elif tag in ("td", "th") and self.current is not None:
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.current[-1].append(self.cell)
                self.cell = None
            elif tag == "table":
                self.current = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Cells()
    parser.feed(page)
    return parser.tables


def test_a_saturated_accuracy_in_a_fixed_n_report_is_never_a_zero_width_equivalence(runner, tmp_path):
    """Every seed 68 or 69 of 69 test samples right in both arms: no zero-width interval, and no
    'equivalent' within ±0.01, below one test sample (0.0145)."""
    sizes = {"train": 90, "val": 30, "test": 69}
    for seed in range(10):
        for name, dropout in (("base", 0.0), ("arm", 0.5)):
            make_run(tmp_path, f"{name}{seed}", name=name, seed=seed, dropout=dropout, sizes=sizes,
                     test_accuracy=(68 + seed % 2) / 69)
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--format", "json", "--baseline", "base",
                                 "--metric", "test_accuracy", "--margin", "0.01"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    c = next(row for row in data["rows"] if row["name"] == "arm")["baseline"]
    assert c["test"] == "betting test (bounded differences)" and c["verdict"] == "inconclusive"
    assert list(c["diff_ci95"]) == pytest.approx(list(betting.interval([0.0] * 10, 1.0, ALPHA, 10)))
    assert c["diff_ci95"][1] - c["diff_ci95"][0] > 0.5
    assert c["p"] == pytest.approx(betting.p_value([0.0] * 10, 1.0, n=10))
    assert not c["equivalence"]["equivalent"] and c["equivalence"]["test"] == "betting (bounded differences)"
    assert "--margin 0.01 is below one sample of the part test_accuracy is scored on (1/69 = 0.01449)" in " ".join(
        result.output.split())
    (a,) = data["answers"]
    assert a["verdict"] == "inconclusive" and data["question"]["resolution"] == pytest.approx(1 / 69)
    whole = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--baseline", "base", "--metric",
                                "test_accuracy", "--margin", "1"])
    assert whole.exit_code == 2 and "--margin 1: the whole range of test_accuracy is 1 wide" in whole.output


def test_equivalence_of_an_accuracy_at_a_fixed_n_is_tested_by_betting(runner, tmp_path):
    """Near-equal differences within ±0.005 of an accuracy: the t TOST would call them equivalent
    from six seeds; the bounded test needs far more, and its p is the capital process's."""
    from test_comparisons import _paired_arms

    diffs = [0.001, -0.002, 0.0015, -0.001, 0.0005, 0.0]
    _paired_arms(tmp_path, {"same": diffs})
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path), "--format", "json", "--baseline", "base",
                                 "--metric", "val_accuracy", "--margin", "0.005"])
    c = next(row for row in json.loads(result.stdout)["rows"] if row["name"] == "same")["baseline"]
    p, ci90 = betting.equivalence(diffs, 1.0, 0.005, 2 * ALPHA)
    assert c["equivalence"]["p"] == pytest.approx(p) and c["equivalence"]["ci90"] == pytest.approx(ci90)
    assert c["verdict"] == "inconclusive" and not c["equivalence"]["equivalent"]


def test_the_sentence_when_two_metrics_point_different_ways():
    same = Answer("r1", "dropout=0.5", "equivalent", "test_accuracy", 0.0, [-0.01, 0.01], 20, "")
    said = conflict(same, "val_loss", 0.04, (0.02, 0.06))
    assert said == ("dropout=0.5: val_loss is higher than the baseline's (Δ +0.0400, 95% CI [+0.0200, +0.0600], "
                    "descriptive), but on test_accuracy, the question's metric, it is equivalent: a higher loss with "
                    "the same accuracy means less confident predictions, not less often right ones.")
    assert conflict(same, "val_loss", 0.01, (-0.01, 0.03)) is None  # no clear direction: nothing to reconcile
    worse = Answer("r1", "dropout=0.5", "worse", "test_loss", 0.1, [0.05, 0.15], 20, "")
    assert conflict(worse, "test_accuracy", -0.02, (-0.03, -0.01)) is None  # both worse: the same way
