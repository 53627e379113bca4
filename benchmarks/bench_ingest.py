"""Full Phase 2 ingest of the real data folder into a fresh home; prints seconds and rows per
table. Budget (DESIGN section 12): < 30 s on the 2-core machine.

    .venv/bin/python benchmarks/bench_ingest.py [--data DIR] [--json]
"""
from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from common import data_folder, parser
from nbapipe.sources.ingest import run_ingest
from nbapipe.workspace import Workspace


def main() -> int:
    ap = parser(__doc__)
    args = ap.parse_args()
    data = data_folder(args)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.at(tmp)
        t0 = time.perf_counter()
        summary = run_ingest(ws, [data])
        seconds = time.perf_counter() - t0
        ws.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib), "refused": len(summary.refused),
              "files": {Path(o.path).name: round(o.seconds, 2) for o in summary.outcomes if o.status == "loaded"},
              "tables": summary.tables}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"full ingest of {data}: {seconds:.2f} s, peak RSS {peak_mib:.0f} MiB, refused files {len(summary.refused)}")
        for name, s in sorted(result["files"].items(), key=lambda kv: -kv[1]):
            print(f"  {s:6.2f} s  {name}")
        for table, n in summary.tables.items():
            print(f"  {n:>9,}  {table}")
    return 1 if summary.refused else 0


if __name__ == "__main__":
    sys.exit(main())
