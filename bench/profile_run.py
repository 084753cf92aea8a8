"""Where the time of one `regexp train` goes: cProfile over the quickstart (30 epochs, no early stopping).

    .venv/bin/python bench/profile_run.py

In-process after the imports; prints a markdown table of the phases (cumulative seconds of the
functions that make up each phase) and the share of the epochs that regexp's own callbacks take.
"""

import cProfile
import os
import pstats
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from regexp.spec import load_spec  # noqa: E402
from regexp.trial.train import train  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PHASES = {  # phase -> (file fragment, function name) whose cumulative time it is
    "whole train()": ("regexp/trial/train.py", "train"),
    "prepare data (split, scaling stats)": ("regexp/data/prepare.py", "prepare"),
    "build the Keras model": ("regexp/net/model.py", "build_model"),
    "model.fit (30 epochs, the first traces the graph)": ("keras/src/backend/tensorflow/trainer.py", "fit"),
    "  regexp's epoch callbacks: history row, log, progress": ("regexp/trial/train.py", "on_epoch_end"),
    "  regexp's resume-point snapshots": ("regexp/trial/resume_point.py", "on_epoch_end"),
    "score train/val/test": ("regexp/net/scoring.py", "score"),
    "model.save (model.keras)": ("keras/src/models/model.py", "save"),
}


def main() -> None:
    loaded = load_spec(REPO / "configs" / "quickstart.yaml", ["training.early_stopping=null"])
    with tempfile.TemporaryDirectory() as runs:
        profile = cProfile.Profile()
        profile.runcall(train, loaded, Path(runs))
    stats = pstats.Stats(profile).stats
    totals = {name: 0.0 for name in PHASES}
    for (file, _, function), (_, _, _, cumulative, _) in stats.items():
        for name, (fragment, wanted) in PHASES.items():
            if function == wanted and file.endswith(fragment):
                totals[name] += cumulative
    whole = totals["whole train()"]
    print("| phase | seconds | share |\n|---|---|---|")
    for name, seconds in totals.items():
        print(f"| {name} | {seconds:.3f} | {seconds / whole:.1%} |")


if __name__ == "__main__":
    main()
