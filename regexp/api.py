"""regexp from Python (a notebook, a script): the functions the CLI commands call, with results as
objects instead of text. docs/api.md has a worked example (tests/test_api.py runs it).

    import regexp
    run = regexp.train("configs/quickstart.yaml", runs_dir="runs", overrides=["training.epochs=5"])
    result = regexp.report(runs_dir="runs", baseline="dropout=0.0", metric="val_loss")
    result.rows, result.comparison, result.notes    # as `regexp report --format json` has them
    result.to_pandas()                               # with pandas installed
    result                                           # in Jupyter: the html report's table and pictures

`import regexp` and `regexp.report(...)` load no TensorFlow; train and sweep load it when called.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regexp.compat import quiet_tensorflow
from regexp.spec import load_spec
from regexp.store.contract import Provenance, RunInfo, RunMetrics
from regexp.store.folders import read_run
from regexp.store.sweep_file import SweepState


@dataclass
class Run:
    """One run folder, read through the run-folder contract (store/contract.py)."""

    path: Path
    info: RunInfo
    config: dict[str, Any]
    metrics: RunMetrics | None          # None until it completed
    history: list[dict[str, float | None]]

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return str(self.info.status)

    @property
    def provenance(self) -> Provenance | None:
        return self.info.provenance

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r})"


@dataclass
class Sweep:
    """A sweep, repeat or cv folder: sweep.json's state and the runs it made."""

    path: Path
    state: SweepState

    @property
    def runs(self) -> list[Run]:
        return [load_run(self.path.parent / t.run) for t in self.state.trials if t.run
                and (self.path.parent / t.run / "run.json").is_file()]

    def __repr__(self) -> str:
        return f"Sweep({self.path.name!r}, status={str(self.state.status)!r}, trials={len(self.state.trials)})"


class Report:
    """What `regexp report` computes: `.rows`, `.comparison`, `.notes`, `.warnings`, `.decide`,
    `.question`, `.answers` and `.conflicts` are the json format's keys; `.to_pandas()`, `.to_html()`,
    and the table in a Jupyter cell."""

    def __init__(self, built):
        from regexp.views.report import report_data

        self._built = built
        self.data: dict[str, Any] = report_data(built)
        self.rows, self.comparison = self.data["rows"], self.data["comparison"]
        self.notes, self.warnings, self.decide = self.data["notes"], self.data["warnings"], self.data["decide"]
        self.question, self.answers, self.conflicts = (self.data[k] for k in ("question", "answers", "conflicts"))

    def to_pandas(self):
        """One line per row: id, name, status, n, the params that differ, each column's mean (and
        `<column>_std`), and with a baseline the comparison's diff, CI, p, p_adjusted and verdict."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Report.to_pandas needs pandas: pip install pandas") from None
        lines = []
        for row in self.rows:
            line = {"id": row["id"], "name": row["name"], "status": row["status"], "n": row["n"], **row["params"]}
            for column, summary in row["values"].items():
                line[column], line[f"{column}_std"] = summary["mean"], summary["std"]
            if row["baseline"]:
                b = row["baseline"]
                low, high = b["diff_ci95"] or (None, None)
                line.update(diff=b["diff"], diff_ci95_low=low, diff_ci95_high=high, p=b["p"],
                            p_adjusted=b["p_adjusted"], verdict=b["verdict"])
            lines.append(line)
        return pd.DataFrame(lines)

    def to_html(self) -> str:
        from regexp.views.report import as_text

        return as_text(self._built, "html")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"Report({len(self.rows)} rows, metric={self.data['metric']!r}, focus={self.data['focus']!r})"


def load_run(path: str | Path) -> Run:
    record = read_run(Path(path))
    return Run(record.path, record.info, record.config, record.metrics, record.history)


def train(spec: str | Path, runs_dir: str | Path = "runs", overrides: list[str] = (), pack: str = "auto"
          ) -> Run | Sweep:
    """`regexp train SPEC`: one run (a Run), or its repeats/folds (a Sweep). Raises SpecError for a
    bad spec, RunFailed when the run failed (its folder says why)."""
    quiet_tensorflow()
    from regexp.sweep.runner import has_trials, run_trials

    loaded = load_spec(spec, list(overrides))
    if has_trials(loaded):
        done = run_trials(loaded, list(overrides), Path(runs_dir), search=False, pack=pack)
        return Sweep(done.path, done.state)
    from regexp.trial.train import train as train_one

    return load_run(train_one(loaded, Path(runs_dir)))


def sweep(spec: str | Path, runs_dir: str | Path = "runs", overrides: list[str] = (), workers: int = 1,
          pack: str = "auto") -> Sweep:
    """`regexp sweep SPEC`: every trial of its search × repeat × cv (and a `decide:` section's looks)."""
    quiet_tensorflow()
    from regexp.sweep.runner import run_trials

    done = run_trials(load_spec(spec, list(overrides)), list(overrides), Path(runs_dir), search=True,
                      workers=workers, pack=pack)
    return Sweep(done.path, done.state)


def report(targets: list[str] = (), runs_dir: str | Path = "runs", **options) -> Report:
    """`regexp report`: the command's options by their names (baseline, metric, margin, sort, filters,
    limit, correction, test, failures, cv_folds, no_groups, ...): the fields of ReportOptions."""
    from regexp.report import build_report
    from regexp.report.options import ReportOptions

    return Report(build_report(ReportOptions(targets=tuple(targets), runs_dir=Path(runs_dir), **options)))
