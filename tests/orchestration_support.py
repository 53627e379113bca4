"""Helpers shared by the orchestration tests: slices of the real source files (new data
arriving for a few dates) and bounded waits."""
from __future__ import annotations

import csv
import gzip
import time
from pathlib import Path
from typing import Callable


def write_slice(src: Path, dst: Path, start: str, end: str) -> Path:
    """The rows of a gzipped source CSV with game_date in [start, end], same header (the
    loaders recognise the file by it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(src, "rt", newline="") as f, open(dst, "w", newline="") as g:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(g, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(r for r in reader if start <= r["game_date"] <= end)
    return dst


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.2):
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
