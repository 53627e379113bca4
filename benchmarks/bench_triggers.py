"""The event-driven path over a season: a Phase 3 backfill of 2023-24 run without
--skip-downstream-trigger publishes its completions; then `orchestrator run` and two
`nbapipe worker` processes (as a user starts them) turn them into per-date Phase 4 and 5
triggers and drain them. Timed: from the services' start until every trigger is acknowledged
and nothing is left to decide. Prints the triggers drained, the seconds and the worker runs, beside a backfill of the same
Phase 4 and 5 dates (the yardstick: a drain should cost about as much).

    .venv/bin/python benchmarks/bench_triggers.py [--batch-max N] [--json]

`--batch-max 1` is the worker of one date per run (before batching); the default claims
every ready trigger of a phase and runs them as one run.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import data_folder, parser
from nbapipe.config import REPO_ROOT
from nbapipe.orchestration.backfill import run_backfill
from nbapipe.orchestration.events import unit_publisher
from nbapipe.orchestration.runner import Request
from nbapipe.sources.ingest import run_ingest
from nbapipe.state import open_state
from nbapipe.workspace import Workspace

START, END = dt.date(2023, 10, 1), dt.date(2024, 6, 30)
NBAPIPE = str(REPO_ROOT / ".venv" / "bin" / "nbapipe")


def drained(st) -> bool:
    return (st.scalar("SELECT count(*) FROM bus_messages WHERE acked_at IS NULL AND dead_at IS NULL") == 0
            and st.scalar("SELECT count(*) FROM phase_dates WHERE dirty = 1") == 0
            and st.scalar("SELECT count(*) FROM phase_triggers WHERE published_at IS NULL") == 0)


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--batch-max", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    data = data_folder(args)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ws = Workspace.at(home)
        run_ingest(ws, [data])
        dates = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
        run_backfill(ws, Request(dates=dates, phases=[3]), unit_done=unit_publisher(ws))
        ws.close()
        # The yardstick: a backfill of the same Phase 4 and 5 work, on a copy of that home.
        shutil.copytree(home, Path(tmp) / "yardstick")
        other = Workspace.at(Path(tmp) / "yardstick")
        t0 = time.perf_counter()
        run_backfill(other, Request(dates=dates, phases=[4, 5], skip_downstream_trigger=True))
        backfill_secs = time.perf_counter() - t0
        other.close()
        env = dict(os.environ, NBAPIPE_HOME=str(home))
        extra = ["--batch-max", str(args.batch_max)] if args.batch_max else []
        cmds = [[NBAPIPE, "orchestrator", "run", "--poll", "0.2"]] + \
            [[NBAPIPE, "worker", "--phase", str(p), "--poll", "0.2", *extra] for p in (4, 5)]
        logs = [open(Path(tmp) / f"service-{i}.log", "w") for i in range(len(cmds))]
        t0 = time.perf_counter()
        procs = [subprocess.Popen(c, env=env, stdout=f, stderr=subprocess.STDOUT) for c, f in zip(cmds, logs)]
        try:
            with open_state(home / "state.sqlite") as st:
                time.sleep(1.0)
                while not drained(st) or st.scalar("SELECT count(*) FROM workers WHERE state <> 'idle'"):
                    if time.perf_counter() - t0 > args.timeout or any(p.poll() is not None for p in procs):
                        raise SystemExit("the services stopped or timed out:\n" +
                                         "\n".join((Path(tmp) / f"service-{i}.log").read_text()[-2000:] for i in range(3)))
                    time.sleep(0.2)
                secs = time.perf_counter() - t0
                triggers = {r["target_phase"]: r["n"] for r in st.rows(
                    "SELECT target_phase, count(*) AS n FROM phase_triggers GROUP BY 1")}
                runs = st.scalar("SELECT count(*) FROM runs WHERE command = 'worker'")
                failed = st.scalar("SELECT count(*) FROM run_ledger WHERE status = 'failed'")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=60)
    result = {"season": "2023-24", "batch_max": args.batch_max or "default", "seconds": round(secs, 1),
              "backfill_phase_4_5_seconds": round(backfill_secs, 1),
              "triggers": {f"phase_{k}": v for k, v in sorted(triggers.items())}, "worker_runs": runs,
              "failed_units": failed}
    print(json.dumps(result) if args.json else
          f"drained {sum(triggers.values())} triggers ({', '.join(f'phase {k}: {v}' for k, v in sorted(triggers.items()))}) "
          f"in {secs:.1f}s with {runs} worker runs, {failed} failed units (batch max {result['batch_max']}); "
          f"a backfill of the same Phase 4 and 5 dates: {backfill_secs:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
