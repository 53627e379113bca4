"""The parity test's window on both engines, from one ingest (not timed): Phase 3 from the 2022-23
season's first game to 2023-01-22 (the lookback), then Phase 4 over 2023-01-09..2023-01-22.
Prints seconds per engine; Spark's include its JVM start (`spark_cold`) and a second run in the
same process (`spark_warm`, the number tests/test_spark_parity.py prints).

    .venv/bin/python benchmarks/bench_spark.py [--data DIR] [--json]
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

from common import data_folder, parser
from nbapipe.orchestration.backfill import run_backfill
from nbapipe.orchestration.runner import Request
from nbapipe.sources.ingest import run_ingest
from nbapipe.workspace import Workspace

SEASON_START, WINDOW = dt.date(2022, 10, 18), (dt.date(2023, 1, 9), dt.date(2023, 1, 22))


def days(a: dt.date, b: dt.date) -> list[dt.date]:
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


def run_window(home: Path, engine: str) -> float:
    ws = Workspace.at(home)
    t0 = time.perf_counter()
    try:
        for phase, dates in ((3, days(SEASON_START, WINDOW[1])), (4, days(*WINDOW))):
            r = run_backfill(ws, Request(dates=dates, phases=[phase], skip_downstream_trigger=True,
                                         resume=False, engine=engine))
            if r.failed:
                raise SystemExit(f"{engine}: failed units {[f.as_dict() for f in r.failed[:3]]}")
    finally:
        ws.close()
    return round(time.perf_counter() - t0, 1)


def main() -> int:
    ap = parser(__doc__)
    args = ap.parse_args()
    data = data_folder(args)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        ws = Workspace.at(base)
        run_ingest(ws, [data])
        ws.close()
        homes = {e: shutil.copytree(base, Path(tmp) / e) for e in ("duckdb", "spark")}
        result = {"window": f"{WINDOW[0]}..{WINDOW[1]}", "lookback_from": str(SEASON_START),
                  "duckdb": run_window(homes["duckdb"], "duckdb"),
                  "spark_cold": run_window(homes["spark"], "spark"),
                  "spark_warm": run_window(homes["spark"], "spark")}
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
