"""The html report opens in a real browser (headless Chromium) with its table and plots drawn."""

import shutil
import subprocess

import numpy as np
from PIL import Image

from regexp.cli import app

from runfolders import make_run

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "Chromium is not installed: `make test` installs it (tests/install-tools.sh)"
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def measured(tmp_path, page, script: str, window: str) -> dict[str, int]:
    """Open `page` in Chromium at `window` size with `script` (JavaScript that sets `m`, a
    'name value ...' string) appended, and return what the layout measured."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", f"<script>{script}; document.body.insertAdjacentHTML("
                                              "'beforeend', `<p id=measured>${m}</p>`)</script></body>"))
    dom = chromium(tmp_path, f"--window-size={window}", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr
    words = dom.stdout.split("id=\"measured\">", 1)[1].split("<", 1)[0].split()
    return dict(zip(words[::2], map(int, words[1::2])))


def test_html_report_renders_table_and_plots(runner, tmp_path):
    for seed in range(3):
        make_run(tmp_path / "runs", f"g{seed}", seed=seed, val_accuracy=0.9 + 0.01 * seed, epochs=6)
    make_run(tmp_path / "runs", "solo", name="solo", dropout=0.5, epochs=6)
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--format", "html", "--output",
                                 str(page)])
    assert result.exit_code == 0, result.output

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    assert dom.stdout.count("<tr class=") == 2 and "exp@" in dom.stdout and "solo" in dom.stdout
    assert "<img id=\"curves\"" in dom.stdout

    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1400,1600", f"--screenshot={shot}", page.as_uri())
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    blue = int(((abs(r - 31) < 25) & (abs(g - 119) < 25) & (abs(b - 180) < 25)).sum())
    orange = int(((abs(r - 255) < 25) & (abs(g - 127) < 30) & (b < 60)).sum())
    assert blue > 200 and orange > 200, (blue, orange)  # the train (blue) and val (orange) curves were drawn


def test_a_wide_table_scrolls_in_its_box_and_the_page_keeps_the_window_width(runner, tmp_path):
    """Twelve differing params make a table far wider than 900 px: the page must not be."""
    for i in range(4):
        make_run(tmp_path / "runs", f"w{i}", name=f"wide{i}", seed=i, dropout=0.1 * i, epochs=3)
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--all-params", "--format", "html",
                                 "--output", str(page)])
    assert result.exit_code == 0, result.output
    sizes = measured(tmp_path, page, "const m = `page ${document.documentElement.scrollWidth} window "
                     "${window.innerWidth} table ${document.getElementById('runs').scrollWidth} box "
                     "${document.querySelector('.table-box').clientWidth}`", "900,800")
    assert sizes["table"] > sizes["box"], sizes    # the table is wider than its box ...
    assert sizes["page"] <= sizes["window"], sizes  # ... and scrolls inside it, not the page


def test_each_comparisons_answer_is_visible_without_scrolling_in_a_1280_px_window(runner, tmp_path):
    for seed in range(3):
        for dropout in (0.0, 0.2, 0.5):
            for l2 in (0.0, 0.001, 0.01):
                make_run(tmp_path / "runs", f"d{dropout}l{l2}s{seed}", seed=seed, dropout=dropout, l2=l2,
                         val_accuracy=0.9 + dropout / 20 - l2 + 0.003 * seed * (1 + dropout))
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--runs-dir", str(tmp_path / "runs"), "--format", "html", "--baseline",
                                 "dropout=0.0,l2=0.0", "--metric", "val_accuracy", "--output", str(page)])
    assert result.exit_code == 0, result.output
    sizes = measured(tmp_path, page, "const t = document.getElementById('answers'), r = t.getBoundingClientRect(), "
                     "m = `right ${Math.ceil(r.right)} window ${window.innerWidth} rows ${t.tBodies[0].rows.length}`",
                     "1280,900")
    assert sizes["rows"] == 8 and sizes["right"] <= sizes["window"], sizes  # every arm's Δ, CI and verdict in view
    assert "95% CI of Δ (unadjusted)" in page.read_text() and "alt='validation curves of 9 rows" in page.read_text()
