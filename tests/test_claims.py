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


def test_smoke_run_of_every_claim_writes_the_page(tmp_path, capsys):
    out = tmp_path / "claims.md"
    assert claims_run.main(["--smoke", "--runs-dir", str(tmp_path / "runs"), "--out", str(out), "--workers", "1"]) == 0
    page = out.read_text()
    assert "**Smoke run (2 seeds, 2 epochs)" in page
    summary = [line for line in page.splitlines() if line.startswith("| ") and line.rstrip().endswith("** |")]
    verdicts = re.findall(r"\*\*(supported|not supported|inconclusive)\*\* \|$", "\n".join(summary), re.M)
    assert len(verdicts) == len(summary) >= len(CLAIMS) + 1  # optimizers compares two arms
    for _, fields in CLAIMS:
        assert f"## {fields['Claim']}" in page and f"Report: `regexp report {fields['Compare']}`" in page
    # every claim's own report table is quoted, with its test and correction named
    assert page.count("p adjusted by Holm") == len(CLAIMS)
    printed = capsys.readouterr().out
    assert len(re.findall(r"^ *(supported|not supported|inconclusive) ", printed, re.M)) == len(summary)
    assert "p adj, page" in page and "in this setup" in page


def test_the_page_adjusts_over_every_claim_with_holm():
    results = [{"fields": {"Claim": f"claim {i}", "Expect": "higher"}, "spec": Path(f"c{i}.yaml"), "report": {
        "focus": "test_accuracy", "comparison": {"against": None},
        "rows": [{"params": {}, "name": "arm", "baseline": {"n": "10 pairs", "diff": 0.01, "diff_ci95": [0.0, 0.02],
                                                             "effect_size": 1.0, "effect_size_name": "d_z",
                                                             "p": p, "p_adjusted": p, "min_detectable": 0.01}}]}}
               for i, p in enumerate([0.004, 0.02, 0.03])]
    lines = claims_run.page_lines(results)
    assert [line["p_page"] for line in lines] == pytest.approx([0.012, 0.04, 0.04])  # Holm over the 3 claims
    assert [line["verdict"] for line in lines] == ["supported", "supported", "supported"]
    results[2]["report"]["rows"][0]["baseline"]["p"] = 0.3
    assert claims_run.page_lines(results)[2]["verdict"] == "inconclusive"
