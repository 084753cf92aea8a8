"""The long fuzz run: the properties of tests/test_fuzz.py with far larger budgets, and the counts.

    .venv/bin/python bench/fuzz.py [SCALE]     # SCALE multiplies every budget (default 1)

Prints, per property, the cases generated and the exits by code (a traceback would fail the run
and print the case). bench/README.md records the last run.
"""

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import yaml  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from regexp.cli import app  # noqa: E402

import fuzzing  # noqa: E402
from conftest import TINY  # noqa: E402

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def trained_run(folder: Path) -> Path:
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump({**TINY, "training": {"epochs": 4, "early_stopping": {"patience": 10}}}))
    result = CliRunner().invoke(app, ["train", str(spec), "--runs-dir", str(folder / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = (folder / "runs").iterdir()
    return run


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        run = trained_run(Path(folder))
        cases = {
            "mutated example configs -> validate": (2000, given(fuzzing.example_specs())(fuzzing.check_validate_spec)),
            "any text as a spec -> validate": (2000, given(st.text(max_size=400))(fuzzing.check_validate_text)),
            "generated --set -> validate": (2000, given(fuzzing.SET_KEYS, st.text(max_size=40))(fuzzing.check_set)),
            "mutated tiny specs -> train 1 epoch": (150, given(fuzzing.mutated(json.loads(json.dumps(TINY)),
                                                                               small=True))(fuzzing.check_train)),
            "damaged run folders -> report, show, diff, diagnose, resume": (
                300, given(fuzzing.damages(), st.integers(0, 2**16))(lambda d, s: fuzzing.check_damaged(run, d, s))),
        }
        print(f"{'property':<60} {'cases':>6} {'calls':>6}  exits")
        for name, (examples, test) in cases.items():
            fuzzing.OUTCOMES.clear()
            started = time.perf_counter()
            fuzzing.budget(int(examples * SCALE))(test)()
            exits = Counter()
            for (_, code), n in fuzzing.OUTCOMES.items():
                exits[code] += n
            cases_run = sum(n for (command, _), n in fuzzing.OUTCOMES.items()
                            if command in ("validate", "train", "resume"))  # one per case
            print(f"{name:<60} {cases_run:>6} {sum(exits.values()):>6}  "
                  + ", ".join(f"exit {code}: {n}" for code, n in sorted(exits.items(), key=str))
                  + f"  ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
