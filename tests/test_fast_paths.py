"""`regexp --help`, `validate`, `schema` and `report` must not import TensorFlow (they start fast)."""

import subprocess
import sys

import pytest

from conftest import REPO

PROBE = """
import sys
from typer.testing import CliRunner
from regexp.cli import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == 0, result.output
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["validate", str(REPO / "configs" / "quickstart.yaml")], ["schema"],
                                  ["report", "--runs-dir", str(REPO / "tests")]])
def test_command_does_not_import_tensorflow(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_console_script_is_installed_and_helps():
    out = subprocess.run([str(REPO / ".venv" / "bin" / "regexp"), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "train" in out.stdout and "validate" in out.stdout and "schema" in out.stdout


def test_show_and_diff_do_not_import_tensorflow(tmp_path):
    from runfolders import make_run

    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b", dropout=0.5)
    for args in (["show", str(a)], ["diff", str(a), str(b)]):
        out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "[]"
