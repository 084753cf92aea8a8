"""The documentation site (mkdocs.yml): the command-line reference is current, and the strict build
that `make docs` runs passes, offline, without importing regexp or TensorFlow, so a broken link or
anchor fails `make test`."""

import os
import subprocess
import sys

from conftest import REPO

# The build in a fresh process, as `make docs` runs it; afterwards it says whether the build imported
# regexp (mkdocstrings must read the source statically) or TensorFlow.
BUILD = """
import sys
from mkdocs.__main__ import cli
try:
    cli.main(["build", "--strict", "--quiet", "--site-dir", sys.argv[1]], standalone_mode=False)
finally:
    print("imported:", *sorted(m for m in ("regexp", "tensorflow") if m in sys.modules))
"""


def test_docs_cli_md_is_generated_from_the_typer_app(tmp_path):
    page = tmp_path / "cli.md"
    done = subprocess.run([sys.executable, "-m", "typer", "regexp.cli", "utils", "docs", "--name", "regexp",
                           "--title", "The command line", "--output", str(page)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (REPO / "docs" / "reference" / "cli.md").read_text() == page.read_text(), "run `make docs`"
    assert "## `regexp sweep`" in page.read_text() and "`--baseline" in page.read_text()


def test_the_site_builds_strict_offline_without_importing_regexp(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", BUILD, str(tmp_path / "site")], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr  # strict: any warning (a broken link, anchor) fails
    assert done.stdout.strip().splitlines()[-1] == "imported:", done.stdout
    home = (tmp_path / "site" / "index.html").read_text()
    assert "fonts.googleapis.com" not in home  # theme.font: false, nothing fetched when the page is viewed
    api = (tmp_path / "site" / "reference" / "python-api.html").read_text()
    assert "regexp.api.report" in api and "baseline" in api  # the API reference came from the docstrings
