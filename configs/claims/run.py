"""The claims suite: train every claim spec of this folder on four datasets and write docs/claims.md.

    make claims                                   # all claims on DATASETS, 10 seeds each
    python configs/claims/run.py --smoke --runs-dir /tmp/r --out /tmp/claims.md   # 2 seeds, 2 epochs
    python configs/claims/run.py --datasets digits,wine ...                       # some of the datasets

A claim spec says in its header what it claims, where the claim comes from, and on its
`# Compare:` line the `regexp report` options that test it; `# Expect: lower|higher` is the
direction the claim predicts for the difference (arm minus baseline). `# Also: FILE` names a
second spec the comparison needs; `# Datasets: NAME ...` the datasets a claim about one kind of
data runs on (the recurrent-network claims: their sequence task) in place of the suite's. The
verdict is read from regexp's own report (json) and the page quotes its Markdown table, so what
docs/claims.md says is what `regexp report` says:

- supported (in this setup): the page-wide adjusted p < 0.05 and the difference in the predicted
  direction;
- not supported (in this setup): the page-wide adjusted p < 0.05 in the other direction;
- inconclusive (in this setup): neither (min detectable says what these seeds could see).

Every claim runs on each dataset of DATASETS (the spec's own digits, and the same spec with
`--set` data overrides) and is compared with `regexp report --across data`: per dataset, and
across them as rliable does (IQM of normalized scores, the probability of improvement, stratified
bootstrap CIs). Each claim's report adjusts over its comparisons on every dataset (its family);
the page adjusts again, with Holm over every comparison of every claim on every dataset, since a
reader takes the page as one set of findings. A claim holds on a dataset when that comparison's
page-wide verdict is supported; across datasets, when the 95% CI of its probability of improvement
lies on the predicted side of 1/2.
"""

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

import click

from regexp.report.stats import adjusted_p

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: no C++ start-up chatter
from regexp.cli import app  # noqa: E402

HERE = Path(__file__).resolve().parent
SMOKE = ["repeat=2", "training.epochs=2", "search.trials=2"]  # every claim, end to end, in seconds
TABLE = HERE / "penguins-like.csv"  # real-shaped: an R export with a row index and NA markers (penguins_like.py)
DATASETS = {  # the name `regexp report --across data` gives each -> the overrides that train a claim spec on it
    "digits": [],
    "breast_cancer": ["data.dataset=breast_cancer"],
    "wine": ["data.dataset=wine"],
    TABLE.name: ["data.dataset=null", f"data.path={TABLE}", "data.target=species", "data.missing=mean"],
}
HEADER = re.compile(r"^# (Claim|Source|Compare|Expect|Also|Datasets):\s*(.*)$")


def claims() -> list[tuple[Path, dict]]:
    """(spec, header fields) of every spec here with a # Compare: line, in file order."""
    found = []
    for path in sorted(HERE.glob("*.yaml")):
        fields: dict[str, str] = {}
        key = None
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            match = HEADER.match(line)
            if match:
                key = match.group(1)
                fields[key] = match.group(2)
            elif key in ("Claim", "Source") and line.startswith("#   "):  # a continued line
                fields[key] += " " + line[1:].strip()
            else:
                key = None
        if "Compare" in fields:
            found.append((path, fields))
    return found


def regexp(*args: str) -> int:
    """Run one regexp command in this process (TensorFlow loads once for the whole suite)."""
    try:
        return int(app(list(args), standalone_mode=False) or 0)  # click returns an Exit's code
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.exceptions.Exit as exc:
        return exc.exit_code


def search_trials(spec: Path) -> bool:
    return "\nsearch:" in spec.read_text()


def run_claim(spec: Path, fields: dict, runs_dir: Path, workers: int, smoke: bool, datasets: list[str]) -> dict:
    smoke_sets = [o for o in SMOKE if smoke and (o != "search.trials=2" or search_trials(spec))]
    # a claim about one kind of data (a sequence task for recurrent networks) names its own: `# Datasets:`
    for dataset in fields["Datasets"].split() if "Datasets" in fields else datasets:
        overrides = [a for o in [*DATASETS.get(dataset, []), *smoke_sets] for a in ("--set", o)]
        for file in [spec, *(HERE / name for name in fields.get("Also", "").split())]:
            code = regexp("sweep", str(file), "--runs-dir", str(runs_dir), "--workers", str(workers), "--quiet",
                          "--max-failures", "100", *overrides)
            if code not in (0, 1):  # 1: some trials failed, which the report shows
                raise SystemExit(f"{file.name} on {dataset}: regexp sweep exited {code}")
    options = [*shlex.split(fields["Compare"]), "--across", "data"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for fmt in ("json", "md"):
            code = regexp("report", "--runs-dir", str(runs_dir), *options, "--format", fmt, "--output", str(out / fmt))
            if code != 0:
                raise SystemExit(f"{spec.name}: regexp report {fields['Compare']} exited {code}")
        return {"spec": spec, "fields": fields, "report": json.loads((out / "json").read_text()),
                "md": (out / "md").read_text()}


def verdict(line: dict) -> str:
    """From the page-wide adjusted p: one dataset, one architecture, these seeds ("in this setup")."""
    if line["p_page"] is None or line["p_page"] >= 0.05:
        return "inconclusive"
    return "supported" if (line["diff"] < 0) == (line["expect"] == "lower") else "not supported"


def page_lines(results: list[dict]) -> list[dict]:
    """Every comparison of every claim, its p adjusted again by Holm over all of them."""
    lines = [line for result in results for line in summary_lines(result)]
    tested = [line for line in lines if line["p"] is not None]
    for line, p_page in zip(tested, adjusted_p([line["p"] for line in tested], "holm")):
        line["p_page"] = p_page
    for line in lines:
        line.setdefault("p_page", None)
        line["verdict"] = verdict(line)
    return lines


def summary_lines(result: dict) -> list[dict]:
    """One line per comparison of a claim's across-datasets report: every arm on every dataset."""
    data, expect = result["report"], result["fields"]["Expect"].strip()
    lines = []
    for arm in data["arms"]:
        for line in arm["per_dataset"]:
            c = line["comparison"]
            if c is None:
                continue
            lines.append({
                "claim": result["fields"]["Claim"], "spec": result["spec"].name, "arm": arm["arm"],
                "dataset": line["dataset"], "n": c["n"], "metric": metric_text(data), "diff": c["diff"],
                "ci": c["diff_ci95"], "effect": c["effect_size"], "effect_name": c.get("effect_size_name"),
                "p": c["p"], "p_adjusted": c["p_adjusted"], "min_detectable": c["min_detectable"], "expect": expect})
    return lines


def metric_text(data: dict) -> str:
    against = data["baseline"].removeprefix("--against ") if data["baseline"].startswith("--against ") else None
    return data["focus"] + (f" vs {against}" if against else "")


def aggregate_lines(results: list[dict], lines: list[dict]) -> list[dict]:
    """One line per arm of every claim: on how many datasets it holds (page-wide verdicts) and the
    aggregate across datasets, with its verdict from the CI of P(improvement)."""
    out = []
    for result in results:
        data, expect = result["report"], result["fields"]["Expect"].strip()
        # P(improvement) counts the arm better (higher, for a column without a better side): the claim
        # predicts it above 1/2 when its predicted direction is the better one
        above = (expect == "higher") == (data["better"] == "max")
        for arm in data["arms"]:
            mine = [line for line in lines if line["spec"] == result["spec"].name and line["arm"] == arm["arm"]]
            low, high = arm["improvement"]["ci95"]
            side = "predicted" if (low > 0.5 if above else high < 0.5) else (
                "other" if (high < 0.5 if above else low > 0.5) else None)
            out.append({"claim": result["fields"]["Claim"], "arm": arm["arm"], "metric": metric_text(data),
                        "expect": expect, "datasets": len(mine), "better": data["better"], "neutral": data["neutral"],
                        "holds": sum(line["verdict"] == "supported" for line in mine),
                        "against": sum(line["verdict"] == "not supported" for line in mine),
                        "iqm": arm["iqm"], "baseline_iqm": arm["baseline_iqm"], "improvement": arm["improvement"],
                        "verdict": {"predicted": "supported", "other": "not supported", None: "inconclusive"}[side]})
    return out


def number(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def estimate(value: dict) -> str:
    return f"{value['value']:.3f} [{value['ci95'][0]:.3f}, {value['ci95'][1]:.3f}]"


def page(results: list[dict], smoke: bool, workers: int, datasets: list[str]) -> str:
    lines = page_lines(results)
    out = ["# The claims suite: what the course notes claim, measured",
           "",
           "Generated by `make claims` (`configs/claims/run.py`) from `regexp report --across data --format json|md`;",
           "do not edit by hand. Each claim is one spec in `configs/claims/` (its header says the claim,",
           "the course note it comes from and how to run it), trained on "
           f"{len(datasets)} datasets ({', '.join(f'`{d}`' for d in datasets)}) with",
           "10 seeds per arm, the same seeds in every arm, so that each comparison is paired by seed (the",
           "search claim compares two sets of 12 trials with Welch's test). `digits` is each spec's own",
           "dataset; the others are the same spec with `--set data.dataset=...`, and `penguins-like.csv` a",
           "real-shaped table (an R export with a row index and NA markers, `configs/claims/penguins_like.py`)",
           "read with `data.missing=mean`.",
           "",
           "A *family* is the set of comparisons one correction is made over: the more comparisons, the",
           "stricter each. Each claim's report adjusts over its own comparisons on every dataset",
           "(`p adj, claim`); this page adjusts again with Holm over every comparison of every claim on every",
           "dataset (`p adj, page`), since it is read as one set of findings. Verdict on a dataset, from the",
           "page-wide p: **supported** when it is below 0.05 and the difference has the predicted sign; **not",
           "supported** when it is significant with the other sign; **inconclusive** otherwise (`80% power",
           "at` is the difference these seeds would have found 4 times in 5, an estimate). Across datasets",
           "(Agarwal et al., 2021, as rliable computes it; docs/formulas.md): the interquartile mean (IQM)",
           "of scores normalized per dataset to [0, 1], higher better, and P(arm better than baseline), the",
           "probability that a run of the arm beats a run of the baseline on the same dataset, averaged over",
           "datasets, each with a stratified bootstrap 95% CI; the claim is **supported** across datasets",
           "when that CI lies on the predicted side of 0.5, **not supported** when on the other, **inconclusive**",
           "otherwise. Each verdict holds *in this setup*: these datasets, one architecture per claim, 10",
           "seeds, not the claim in general. Δ is arm minus baseline; the CI of Δ is unadjusted.",
           "",
           "The two kinds of verdict answer different questions and can disagree: a per-dataset verdict is a",
           "paired test of the mean difference, Holm-adjusted over every comparison on this page; the verdict",
           "across datasets reads an unadjusted 95% CI of how often a run of the arm beats a run of the",
           "baseline, pooled over datasets without pairing seeds. So an arm can be across-datasets",
           "*supported* while *inconclusive* on every dataset after the page's correction (dropout's gap",
           "below); the per-dataset verdict is the stricter one. A claim with its own datasets (`# Datasets:`,",
           "the recurrent-network claims on one sequence task) has an aggregate over that one dataset only.",
           "Claims are judged on test-part columns (or the train-val gap): the sweeps rank their points",
           "by val_loss, and a comparison on the ranking metric would be optimistic.",
           ""]
    if smoke:
        out += ["**Smoke run (2 seeds, 2 epochs): these numbers test the pipeline, not the claims.**", ""]
    out += [f"Trained with `--workers {workers}` and `--pack auto` (packed trials where the model is packable) on this "
            "machine.", "", "## Across datasets", "",
            "| claim | arm vs baseline | metric | predicted | holds on (page-wide) | IQM baseline [95% CI] | "
            "IQM arm [95% CI] | P(arm better) [95% CI] | verdict across datasets |",
            "|---|---|---|---|---|---|---|---|---|"]
    for line in aggregate_lines(results, lines):
        against = f", not supported on {line['against']}" if line["against"] else ""
        side = "P(arm higher)" if line["neutral"] else "P(arm better)"
        out.append(f"| {line['claim']} | {line['arm']} | {line['metric']} | {line['expect']} | "
                   f"{line['holds']} of {line['datasets']} datasets{against} | {estimate(line['baseline_iqm'])} | "
                   f"{estimate(line['iqm'])} | {side} {estimate(line['improvement'])} | **{line['verdict']}** |")
    out += ["", "## Per dataset", "",
            "| claim | arm vs baseline | dataset | metric | predicted | n | Δ | 95% CI of Δ (unadjusted) | effect | "
            "p adj, claim | p adj, page | 80% power at | verdict in this setup |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for line in lines:
        ci = f"[{line['ci'][0]:+.4f}, {line['ci'][1]:+.4f}]" if line["ci"] else ""
        effect = f"{line['effect_name']} {line['effect']:+.2f}" if line["effect"] is not None else ""
        out.append(f"| {line['claim']} | {line['arm']} | {line['dataset']} | {line['metric']} | {line['expect']} | "
                   f"{line['n']} | {line['diff']:+.4f} | {ci} | {effect} | {number(line['p_adjusted'], '.3g')} | "
                   f"{number(line['p_page'], '.3g')} | {number(line['min_detectable'], '.4f')} | "
                   f"**{line['verdict']}** |")
    for result in results:
        fields = result["fields"]
        out += ["", f"## {fields['Claim']}", "", f"Source: {fields.get('Source', '')}  ",
                f"Spec: `configs/claims/{result['spec'].name}`  ",
                f"Report: `regexp report {fields['Compare']} --across data`", "", result["md"].rstrip()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/claims"))
    parser.add_argument("--out", type=Path, default=Path("docs/claims.md"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="2 seeds, 2 epochs, 2 search trials: checks every claim "
                                                             "runs")
    parser.add_argument("--only", help="run only the claim specs whose file name contains this")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated, of {', '.join(DATASETS)} (default: all)")
    args = parser.parse_args(argv)
    datasets = args.datasets.split(",")
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        parser.error(f"--datasets {','.join(unknown)}: not a dataset of the suite (allowed: {', '.join(DATASETS)})")
    results = [run_claim(spec, fields, args.runs_dir, args.workers, args.smoke, datasets)
               for spec, fields in claims() if not args.only or args.only in spec.name]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(results, args.smoke, args.workers, datasets))
    lines = page_lines(results)
    for line in lines:
        print(f"{line['verdict']:>13}  {line['spec']} on {line['dataset']}: {line['arm']} {line['metric']} "
              f"Δ {line['diff']:+.4f} p adj {number(line['p_adjusted'], '.3g')} (page {number(line['p_page'], '.3g')})")
    for line in aggregate_lines(results, lines):
        print(f"{line['verdict']:>13}  across datasets: {line['claim'][:60]} {line['arm']}: holds on {line['holds']} "
              f"of {line['datasets']}, P(improvement) {estimate(line['improvement'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
