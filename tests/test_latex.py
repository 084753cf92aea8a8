"""`regexp report --format latex`: a booktabs table that compiles without edits (pdflatex, which
tests/install-tools.sh installs from Debian's texlive-latex-base and texlive-latex-recommended),
with the terminal's rounding and the spec's commit in a comment. Without pdflatex the compile
test is skipped and says so; the syntax check below runs everywhere."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from regexp.cli import app

from runfolders import make_run

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DOCUMENT = r"""\documentclass{article}
\usepackage{booktabs,graphicx}
\begin{document}
\input{table}
\end{document}
"""


def write_runs(runs_dir: Path) -> None:
    """Two arms of 5 seeds; the arm's data.path has every character TeX treats specially."""
    for dropout, path in ((0.0, "plain.csv"), (0.5, "we_ird #1 & 50% {x} ~$^.csv")):
        for seed in range(5):
            run = make_run(runs_dir, f"r_{dropout}_{seed}", seed=seed, dropout=dropout, name="exp_under",
                           test_accuracy=0.9 + dropout * 0.05 + (seed * 7 % 5) * 0.003 * (1 + dropout) + seed * 0.001,
                           test_loss=0.3 - dropout * 0.1)
            config = yaml.safe_load((run / "config.yaml").read_text())
            config["data"] = {"dataset": None, "path": path}
            (run / "config.yaml").write_text(yaml.safe_dump(config))
            info = json.loads((run / "run.json").read_text())
            info["provenance"] = {"commit": COMMIT, "dirty": dropout > 0}
            (run / "run.json").write_text(json.dumps(info))


def report(runner, runs_dir: Path, fmt: str, *options: str) -> str:
    result = runner.invoke(app, ["report", "--runs-dir", str(runs_dir), "--baseline", "dropout=0.0", "--metric",
                                 "test_accuracy", "--format", fmt, *options])
    assert result.exit_code == 0, result.output
    return result.stdout  # warnings go to stderr


def syntax_errors(tex: str) -> list[str]:
    """What would stop LaTeX: unbalanced braces or environments, a raw special character in the
    text, a tabular line whose cells do not match its column spec, a non-ASCII character."""
    errors = []
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    stripped = re.sub(r"\\[\\&%$#_{}]", "", body)
    if stripped.count("{") != stripped.count("}"):
        errors.append("unbalanced braces")
    if re.findall(r"\\begin\{(\w+)\}", body) != list(reversed(re.findall(r"\\end\{(\w+)\}", body)))[::-1] and \
            sorted(re.findall(r"\\begin\{(\w+)\}", body)) != sorted(re.findall(r"\\end\{(\w+)\}", body)):
        errors.append("unbalanced environments")
    if re.search(r"(?<!\\)[#%_^~]", re.sub(r"\$[^$]*\$", "", stripped)):
        errors.append("a special character unescaped")
    if any(ord(char) > 127 for char in tex):
        errors.append("a non-ASCII character")
    for spec, rows in re.findall(r"\\begin\{tabular\}\{@\{\}(\w+)@\{\}\}(.*?)\\end\{tabular\}", body, re.S):
        for row in re.findall(r"^(.*) \\\\$", rows, re.M):
            if len(re.findall(r"(?<!\\)&", row)) != len(spec) - 1:
                errors.append(f"a row with the wrong number of cells: {row}")
    return errors


def test_the_latex_table_is_well_formed_and_rounds_as_the_terminal_does(tmp_path, runner):
    write_runs(tmp_path / "runs")
    tex = report(runner, tmp_path / "runs", "latex")
    assert syntax_errors(tex) == []
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert f"% spec commit: {COMMIT} (uncommitted edits)" in tex.splitlines()
    assert r"we\_ird \#1 \& 50\% \{x\} \textasciitilde{}\$\textasciicircum{}.csv" in tex
    md = report(runner, tmp_path / "runs", "md")
    header = next(line for line in md.splitlines() if line.startswith("| run |"))
    arm = next(line for line in md.splitlines() if "we_ird" in line)
    cells = dict(zip(header.strip("| ").split(" | "), arm.strip("| ").split(" | ")))
    mean_std, delta, ci = (cells[key] for key in ("test accuracy", "Δ test accuracy", "95% CI of Δ (unadjusted)"))
    assert re.fullmatch(r"0\.\d{3} ± 0\.\d{3}", mean_std) and re.fullmatch(r"[+-]0\.\d{4}", delta)
    pm = mean_std.replace("±", r"$\pm$")
    assert f" & {pm} & " in tex and f" & {delta} & {ci} & " in tex
    assert " & better \\\\" in tex  # the verdict, from the p adjusted over the report's family


def test_the_syntax_check_finds_what_would_stop_latex():
    good = "\\begin{tabular}{@{}lr@{}}\na & b \\\\\n\\end{tabular}\n"
    assert syntax_errors(good) == []
    assert syntax_errors(good.replace("a & b", "a_1 & b")) == ["a special character unescaped"]
    assert syntax_errors(good.replace("a & b", "a & b & c")) == ["a row with the wrong number of cells: a & b & c"]
    assert syntax_errors(good.replace("b \\\\", "± \\\\")) == ["a non-ASCII character"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (tests/install-tools.sh installs "
                                                            "texlive-latex-base and -recommended as root); the syntax "
                                                            "check test ran instead")
@pytest.mark.parametrize("across", [False, True], ids=["report", "across"])
def test_the_latex_table_compiles_without_edits(tmp_path, runner, across):
    write_runs(tmp_path / "runs")
    if across:  # the two arms' datasets are two files: give both arms both
        for run in (tmp_path / "runs").iterdir():
            config = yaml.safe_load((run / "config.yaml").read_text())
            config["data"]["path"] = "plain.csv" if run.name.endswith(("_0", "_1", "_2")) else "other_data.csv"
            (run / "config.yaml").write_text(yaml.safe_dump(config))
    tex = report(runner, tmp_path / "runs", "latex", *(["--across", "data"] if across else []))
    (tmp_path / "table.tex").write_text(tex)
    (tmp_path / "paper.tex").write_text(DOCUMENT)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
    assert "Undefined control sequence" not in done.stdout and "Missing $" not in done.stdout
    assert "Overfull \\hbox" not in (tmp_path / "paper.log").read_text()  # a wide table is scaled to the page
