"""The claims suite: train every claim spec of this folder and write docs/claims.md.

    make claims                                   # all claims, 10 seeds each (about 7 min on 2 cores)
    python configs/claims/run.py --smoke --runs-dir /tmp/r --out /tmp/claims.md   # 2 seeds, 2 epochs

A claim spec says in its header what it claims, where the claim comes from, and on its
`# Compare:` line the `regexp report` options that test it; `# Expect: lower|higher` is the
direction the claim predicts for the difference (arm minus baseline). `# Also: FILE` names a
second spec the comparison needs. The verdict is read from regexp's own report (json) and the
page quotes its Markdown table, so what docs/claims.md says is what `regexp report` says:

- confirmed: adjusted p < 0.05 and the difference in the predicted direction;
- contradicted: adjusted p < 0.05 in the other direction;
- inconclusive: no significant difference (min detectable says what these seeds could see).
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: no C++ start-up chatter
from regexp.cli import app  # noqa: E402

HERE = Path(__file__).resolve().parent
SMOKE = ["repeat=2", "training.epochs=2", "search.trials=2"]  # every claim, end to end, in seconds
HEADER = re.compile(r"^# (Claim|Source|Compare|Expect|Also):\s*(.*)$")


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


def run_claim(spec: Path, fields: dict, runs_dir: Path, workers: int, smoke: bool) -> dict:
    overrides = [a for o in SMOKE if smoke and (o != "search.trials=2" or search_trials(spec)) for a in ("--set", o)]
    for file in [spec, *(HERE / name for name in fields.get("Also", "").split())]:
        code = regexp("sweep", str(file), "--runs-dir", str(runs_dir), "--workers", str(workers), "--quiet",
                      "--max-failures", "100", *overrides)
        if code not in (0, 1):  # 1: some trials failed, which the report shows
            raise SystemExit(f"{file.name}: regexp sweep exited {code}")
    options = shlex.split(fields["Compare"])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for fmt in ("json", "md"):
            code = regexp("report", "--runs-dir", str(runs_dir), *options, "--format", fmt, "--output", str(out / fmt))
            if code != 0:
                raise SystemExit(f"{spec.name}: regexp report {fields['Compare']} exited {code}")
        return {"spec": spec, "fields": fields, "report": json.loads((out / "json").read_text()),
                "md": (out / "md").read_text()}


def verdict(comparison: dict, expect: str) -> str:
    if comparison["p_adjusted"] is None:
        return "inconclusive"
    if comparison["p_adjusted"] >= 0.05:
        return "inconclusive"
    return "confirmed" if (comparison["diff"] < 0) == (expect == "lower") else "contradicted"


def summary_lines(result: dict) -> list[dict]:
    """One line per comparison of a claim's report (a claim may compare several arms)."""
    data, expect = result["report"], result["fields"]["Expect"].strip()
    lines = []
    for row in data["rows"]:
        c = row["baseline"]
        if c is None:
            continue
        arm = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or row["name"]
        ci = c["diff_ci95"]
        lines.append({
            "claim": result["fields"]["Claim"], "spec": result["spec"].name, "arm": arm, "n": c["n"],
            "metric": data["focus"] + (f" vs {data['comparison']['against']}" if data["comparison"]["against"] else ""),
            "diff": c["diff"], "ci": ci, "effect": c["effect_size"], "p_adjusted": c["p_adjusted"],
            "min_detectable": c["min_detectable"], "expect": expect, "verdict": verdict(c, expect)})
    return lines


def number(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def page(results: list[dict], smoke: bool, workers: int) -> str:
    out = ["# The claims suite: what the course notes claim, measured",
           "",
           "Generated by `make claims` (`configs/claims/run.py`) from `regexp report --format json|md`;",
           "do not edit by hand. Each claim is one spec in `configs/claims/` (its header says the claim,",
           "the course note it comes from and how to run it), trained with 10 seeds per arm, the same",
           "seeds in every arm, so that each comparison is paired by seed (the search claim compares",
           "two sets of 12 trials with Welch's test).",
           "",
           "Verdict: **confirmed** when the Holm-adjusted p (over the comparisons of that claim's report)",
           "is below 0.05 and the difference has the predicted sign; **contradicted** when it is",
           "significant with the other sign; **inconclusive** otherwise (`min detectable` is the",
           "difference these seeds would have detected with 80% power). Δ is arm minus baseline.",
           "Claims are judged on test-part columns (or the train-val gap): the sweeps rank their points",
           "by val_loss, and a comparison on the ranking metric would be optimistic.",
           ""]
    if smoke:
        out += ["**Smoke run (2 seeds, 2 epochs): these numbers test the pipeline, not the claims.**", ""]
    out += [f"Trained with `--workers {workers}` and `--pack auto` (packed trials where the model is packable) on this "
            "machine.", "",
            "| claim | arm vs baseline | metric | predicted | n | Δ | 95% CI of Δ | effect | p adj | min detectable | "
            "verdict |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for line in summary_lines(result):
            ci = f"[{line['ci'][0]:+.4f}, {line['ci'][1]:+.4f}]" if line["ci"] else ""
            out.append(f"| {line['claim']} | {line['arm']} | {line['metric']} | {line['expect']} | {line['n']} | "
                       f"{line['diff']:+.4f} | {ci} | {number(line['effect'], '+.2f')} | "
                       f"{number(line['p_adjusted'], '.3g')} | "
                       f"{number(line['min_detectable'], '.4f')} | **{line['verdict']}** |")
    for result in results:
        fields = result["fields"]
        out += ["", f"## {fields['Claim']}", "", f"Source: {fields.get('Source', '')}  ",
                f"Spec: `configs/claims/{result['spec'].name}`  ",
                f"Report: `regexp report {fields['Compare']}`", "", result["md"].rstrip()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/claims"))
    parser.add_argument("--out", type=Path, default=Path("docs/claims.md"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="2 seeds, 2 epochs, 2 search trials: checks every claim "
                                                             "runs")
    parser.add_argument("--only", help="run only the claim specs whose file name contains this")
    args = parser.parse_args(argv)
    results = [run_claim(spec, fields, args.runs_dir, args.workers, args.smoke)
               for spec, fields in claims() if not args.only or args.only in spec.name]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(results, args.smoke, args.workers))
    for result in results:
        for line in summary_lines(result):
            print(f"{line['verdict']:>12}  {line['spec']}: {line['arm']} {line['metric']} Δ {line['diff']:+.4f} "
                  f"p adj {number(line['p_adjusted'], '.3g')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
