"""The claims suite never rots: every claim spec runs end to end (2 seeds, 2 epochs) and lands in the
page with a verdict read from regexp's own report; each claim is specified with ≥ 10 paired seeds."""

import importlib.util
import re
from pathlib import Path

import pytest

from regexp.spec import load_spec

from conftest import REPO

spec = importlib.util.spec_from_file_location("claims_run", REPO / "configs" / "claims" / "run.py")
claims_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(claims_run)

CLAIMS = claims_run.claims()


def test_every_claim_the_issue_lists_has_a_spec():
    names = {path.stem for path, _ in CLAIMS}
    assert names == {"l2-narrows-the-gap", "dropout-narrows-the-gap", "early-stopping", "batchnorm-high-lr",
                     "batchnorm-placement", "he-init-deep-relu", "optimizers", "lr-decay", "search-log-scale",
                     "label-smoothing-calibration", "mixup", "mc-dropout-uncertainty", "rnn-recurrent-dropout",
                     "rnn-layer-norm"}


@pytest.mark.parametrize("path, fields", CLAIMS, ids=[p.stem for p, _ in CLAIMS])
def test_a_claim_header_says_the_claim_its_source_how_to_run_it_and_the_seeds(path, fields):
    assert fields["Claim"] and re.search(r"seeds/00\d", fields["Source"])
    assert fields["Expect"].strip() in ("lower", "higher")
    assert f"regexp sweep configs/claims/{path.name}" in path.read_text()
    loaded = load_spec(path)
    if loaded.spec.search is not None and loaded.spec.search.method == "random":
        assert loaded.spec.search.trials >= 10  # the search claim: each trial is one sample
    else:
        assert len(loaded.spec.seeds()) >= 10
    assert "--baseline" in fields["Compare"] or "--against" in fields["Compare"]


def section(page: str, heading: str) -> list[str]:
    """The table lines of one `## heading` section of the page."""
    text = page.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in text.splitlines() if line.startswith("| ") and line.rstrip().endswith("** |")]


def test_smoke_run_of_every_claim_writes_the_page(tmp_path, capsys):
    """Two of the four datasets (a built-in and the csv table) keep it to a minute or two."""
    out = tmp_path / "claims.md"
    assert claims_run.main(["--smoke", "--runs-dir", str(tmp_path / "runs"), "--out", str(out), "--workers", "1",
                            "--datasets", "digits,penguins-like.csv"]) == 0
    page = out.read_text()
    assert "**Smoke run (2 seeds, 2 epochs)" in page
    verdict = re.compile(r"\*\*(supported|not supported|inconclusive)\*\* \|$")
    per_dataset, across = section(page, "Per dataset"), section(page, "Across datasets")
    assert all(verdict.search(line) for line in per_dataset + across)
    assert len(across) >= len(CLAIMS) + 1  # optimizers compares two arms
    # every arm on both datasets, but a claim that names its own (`# Datasets:`, the recurrent ones) on those
    counts = [int(re.search(r"\| \d+ of (\d+) datasets", line).group(1)) for line in across]
    assert len(per_dataset) == sum(counts) and set(counts) == {1, 2}
    assert {line.split(" | ")[2] for line in per_dataset} == {"digits", "penguins-like.csv", "noisy_sequence"}
    for _, fields in CLAIMS:
        assert f"## {fields['Claim']}" in page and f"Report: `regexp report {fields['Compare']} --across data`" in page
    # every claim's own across-datasets report is quoted, with its correction named
    assert page.count("p adjusted by Holm over the") == len(CLAIMS)
    printed = capsys.readouterr().out
    assert len(re.findall(r"^ *(supported|not supported|inconclusive) ", printed, re.M)) == len(per_dataset) + len(
        across)
    assert "p adj, page" in page and "in this setup" in page


def test_an_unknown_dataset_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        claims_run.main(["--datasets", "digits,mnist", "--out", str(tmp_path / "c.md")])
    assert exit_info.value.code == 2 and "--datasets mnist: not a dataset of the suite" in capsys.readouterr().err


def across_report(p: float, diff: float = 0.01, improvement: tuple = (0.55, 0.7)) -> dict:
    """What `regexp report --across data --format json` says of one arm on one dataset."""
    comparison = {"n": "10 pairs", "diff": diff, "diff_ci95": [0.0, 0.02], "effect_size": 1.0,
                  "effect_size_name": "d_z", "p": p, "p_adjusted": p, "min_detectable": 0.01}
    estimate = {"value": 0.6, "ci95": [0.5, 0.7]}
    return {"focus": "test_accuracy", "baseline": "dropout=0.0", "better": "max", "neutral": False,
            "arms": [{"arm": "dropout=0.5", "iqm": estimate, "baseline_iqm": estimate,
                      "improvement": {"value": sum(improvement) / 2, "ci95": list(improvement)},
                      "per_dataset": [{"dataset": "digits", "comparison": comparison}]}]}


def test_the_page_adjusts_over_every_claim_with_holm():
    results = [{"fields": {"Claim": f"claim {i}", "Expect": "higher"}, "spec": Path(f"c{i}.yaml"),
                "report": across_report(p)} for i, p in enumerate([0.004, 0.02, 0.03])]
    lines = claims_run.page_lines(results)
    assert [line["p_page"] for line in lines] == pytest.approx([0.012, 0.04, 0.04])  # Holm over the 3 claims
    assert [line["verdict"] for line in lines] == ["supported", "supported", "supported"]
    results[2]["report"]["arms"][0]["per_dataset"][0]["comparison"]["p"] = 0.3
    assert claims_run.page_lines(results)[2]["verdict"] == "inconclusive"


@pytest.mark.parametrize("expect, better, improvement, verdict", [
    ("higher", "max", (0.55, 0.7), "supported"), ("higher", "max", (0.3, 0.45), "not supported"),
    ("higher", "max", (0.45, 0.7), "inconclusive"), ("lower", "min", (0.55, 0.7), "supported"),
    ("lower", "max", (0.55, 0.7), "not supported"),  # a claim of a lower value on a column where higher is better
])
def test_across_datasets_a_claim_holds_when_the_improvement_ci_is_on_its_side_of_one_half(expect, better,
                                                                                        improvement, verdict):
    report = across_report(0.01, improvement=improvement)
    report["better"] = better
    results = [{"fields": {"Claim": "c", "Expect": expect}, "spec": Path("c.yaml"), "report": report}]
    (line,) = claims_run.aggregate_lines(results, claims_run.page_lines(results))
    assert line["verdict"] == verdict and line["datasets"] == 1
