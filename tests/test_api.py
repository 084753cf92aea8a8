"""regexp from Python as a notebook uses it (a fresh process), and `report --watch` in a terminal."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

from conftest import REPO
from runfolders import make_run


def test_the_docs_api_example_runs_as_a_notebook_would(tmp_path):
    code = re.search(r"```python\n(.*?)```", (REPO / "docs" / "api.md").read_text(), re.S).group(1)
    code += ("\nimport json, sys\nprint('RESULT', json.dumps({'rows': len(result.rows), "
             "'columns': list(table.columns), 'html': html.startswith('<!doctype html>') and 'Every row' in html, "
             "'tf_before_train': TF_BEFORE}))\n")
    code += "\nprint('AGAIN', regexp.sweep('iris-dropout.yaml', runs_dir='runs'))\n"  # once its package is loaded
    code = "import sys\nimport regexp\nTF_BEFORE = 'tensorflow' in sys.modules\n" + code
    bare = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "REGEXP_VERBOSE")}  # a notebook's
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=bare)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("absl::InitializeLog", "cuInit", "NodeDef mentions", "Compiled cluster using XLA", "oneDNN"):
        assert line not in done.stderr, done.stderr  # as quiet as the CLI: TensorFlow's start-up lines held back
    found = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    assert found["rows"] == 2 and found["html"] and found["tf_before_train"] is False
    assert {"id", "n", "val_loss", "val_loss_std", "verdict", "diff_ci95_low", "model.defaults.dropout"} <= set(
        found["columns"])
    assert "Sweep(" in done.stdout and "status='completed', trials=6)" in done.stdout
    assert re.search(r"AGAIN Sweep\(.*status='completed', trials=6\)", done.stdout)


def test_report_from_python_loads_no_tensorflow_and_matches_the_json_format(tmp_path):
    for seed in range(3):
        make_run(tmp_path, f"b{seed}", name="base", seed=seed, val_accuracy=0.90 + 0.01 * seed)
        make_run(tmp_path, f"a{seed}", name="arm", seed=seed, val_accuracy=0.92 + 0.01 * seed + 0.001 * seed ** 2)
    code = (f"import sys, json, regexp\nr = regexp.report(runs_dir={str(tmp_path)!r}, baseline='base', "
            "metric='val_accuracy')\nprint(json.dumps({'tf': 'tensorflow' in sys.modules, 'data': r.data}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    cli = subprocess.run([sys.executable, "-m", "regexp", "report", "--runs-dir", str(tmp_path), "--baseline", "base",
                          "--metric", "val_accuracy", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert found["tf"] is False and found["data"] == json.loads(cli.stdout)


def test_watch_redraws_the_table_when_a_run_appears(tmp_path):
    assert shutil.which("tmux"), "tmux is not installed: `make test` installs it (tests/install-tools.sh)"
    runs = tmp_path / "runs"
    make_run(runs, "first", name="first", val_accuracy=0.9)
    session = f"regexp-watch-{tmp_path.name}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "30",
                    f"{sys.executable} -m regexp report --runs-dir {runs} --watch"], check=True)
    try:
        def pane() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        def wait_for(text: str) -> str:
            for _ in range(60):
                shown = pane()
                if text in shown:
                    return shown
                time.sleep(0.5)
            raise AssertionError(f"{text!r} never showed:\n{shown}")
        assert "first" in wait_for("watching") and "1 rows" in pane()
        make_run(runs, "second", name="second", val_accuracy=0.8)
        assert "second" in wait_for("2 rows")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
        for _ in range(20):  # Ctrl-C ends the command, and with it the pane's session
            if subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode != 0:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("--watch did not stop on Ctrl-C")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
