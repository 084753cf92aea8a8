"""`regexp report --watch`: the table redrawn as runs finish (and a `decide:` sweep's looks as they
are taken), until Ctrl-C.

Cheap beside a running sweep: every EVERY_S seconds it takes the report cache's fingerprint of the
runs folder (report/cache.py: a stat of five files per folder, no parsing) and rebuilds the report
only when that changed.
"""

import sys
import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console

from regexp.report import cache
from regexp.report.options import ReportOptions
from regexp.store import scan as scanning

EVERY_S = 2.0


def watch(options: ReportOptions, rendering: dict, render: Callable[[], tuple[str, int]], console: Console,
          every: float = EVERY_S) -> None:
    """`render()` -> (the report's text, its row count); redrawn whenever the runs folder changes."""
    seen = None
    try:
        while True:
            now = cache.key(scanning.scan(options.runs_dir), options, rendering)
            if now is None or now != seen:
                text, rows = render()
                console.clear()
                console.print(f"watching {options.runs_dir}: {rows} rows, updated {datetime.now():%H:%M:%S} (every "
                              f"{every:g} s; Ctrl-C to stop)", style="dim", highlight=False)
                sys.stdout.write(text)
                sys.stdout.flush()
                seen = now
            time.sleep(every)
    except KeyboardInterrupt:
        console.print("stopped watching", style="dim")
