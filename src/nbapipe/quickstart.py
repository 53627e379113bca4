"""`nbapipe quickstart` (what `make demo` runs): ingest the data folder, run every phase that
exists over the backfill guide's test window, and summarise what is there and what is not.

Without a data folder it generates the synthetic sample league first (labelled as such)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

from nbapipe import synthetic
from nbapipe.calendar import Calendar
from nbapipe.config import QUICKSTART_END, QUICKSTART_START, resolve_data_dir
from nbapipe.sources.ingest import run_ingest
from nbapipe.orchestration.backfill import run_backfill
from nbapipe.orchestration.runner import Request
from nbapipe import processors as registry
from nbapipe.validation.coverage import days_between, processor_coverage, raw_coverage, window
from nbapipe.workspace import Workspace


def run_quickstart(ws: Workspace, data: Path | None, on_step: Callable[[str], None] = print,
                   **ingest_kw) -> dict:
    folder = resolve_data_dir(data)
    is_synthetic = folder is None
    if is_synthetic:
        folder = synthetic.generate(ws.home)
        on_step(f"no data folder found: generated a SYNTHETIC sample league in {folder}")
    on_step(f"ingesting {folder}")
    summary = run_ingest(ws, [folder], **ingest_kw)
    synthetic.mark(ws.state, is_synthetic)
    start, end = dt.date.fromisoformat(QUICKSTART_START), dt.date.fromisoformat(QUICKSTART_END)
    days = days_between(start, end)
    phases = registry.phases()
    on_step(f"backfilling phases {', '.join(map(str, phases))} over {start}..{end}")
    report = run_backfill(ws, Request(dates=days, phases=phases, skip_downstream_trigger=True,
                                      command="quickstart"), on_wait=ingest_kw.get("on_wait"))
    cal = Calendar.from_state(ws.state)
    with ws.reader() as wh:
        coverage = raw_coverage(wh, cal, start, end)
    processed = processor_coverage(ws.state, cal, start, end)
    return {
        "synthetic": is_synthetic,
        "data_folder": str(folder),
        "window": window(cal, start, end),
        "ingest": {"seconds": round(summary.seconds, 2), "refused": [o.as_dict() for o in summary.refused],
                   "files_loaded": sum(o.status == "loaded" for o in summary.outcomes),
                   "files_unchanged": sum(o.status == "unchanged" for o in summary.outcomes),
                   "quarantined_rows": summary.as_dict()["quarantined"]},
        "backfill": {"run_id": report.run_id, "seconds": round(report.seconds, 2), "counts": report.counts(),
                     "failed": [r.as_dict() for r in report.failed]},
        "tables": coverage + processed,
    }
