"""Backfill of every game date of the three bbref seasons on the real data, into a fresh home
(ingest not timed). Prints seconds per phase, the resume rerun and the one-day incremental run.

Budgets (DESIGN section 12): Phase 3 < 20 s, Phase 4 < 40 s, Phase 3 + 4 < 60 s,
one day's Phase 3 + 4 incremental < 2 s, peak memory < 2 GiB.

    .venv/bin/python benchmarks/bench_backfill.py [--phases 3,4] [--json]
"""
from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import tempfile
import time

from common import data_folder, parser
from nbapipe import processors as registry
from nbapipe.orchestration.backfill import run_backfill
from nbapipe.orchestration.runner import Request
from nbapipe.sources.ingest import run_ingest
from nbapipe.workspace import Workspace

START, END = dt.date(2021, 10, 1), dt.date(2024, 6, 30)


def days(a: dt.date, b: dt.date) -> list[dt.date]:
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


def timed(ws: Workspace, phases: list[int], dates: list[dt.date], **kw) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = run_backfill(ws, Request(dates=dates, phases=phases, skip_downstream_trigger=True, **kw))
    if r.failed:
        raise SystemExit(f"failed units: {[f.as_dict() for f in r.failed[:3]]}")
    return time.perf_counter() - t0, r.counts()


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--phases", default=",".join(map(str, registry.phases())))
    args = ap.parse_args()
    phases = [int(p) for p in args.phases.split(",")]
    data = data_folder(args)
    result: dict = {"range": f"{START}..{END}"}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.at(tmp)
        run_ingest(ws, [data])
        for ph in phases:
            secs, counts = timed(ws, [ph], days(START, END))
            result[f"phase_{ph}_seconds"] = round(secs, 2)
            result[f"phase_{ph}_units"] = counts
        secs, counts = timed(ws, phases, days(START, END))
        result["resume_rerun_seconds"] = round(secs, 2)
        result["resume_rerun_units"] = counts
        # One day's incremental run: a late-season date recomputed with its full lookback.
        day = dt.date(2024, 3, 15)
        secs, counts = timed(ws, phases, [day], resume=False)
        result["one_day_incremental_seconds"] = round(secs, 2)
        ws.close()
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
