"""The state store's own costs on each backend: SQLite (a file in a fresh home) and PostgreSQL
(a fresh schema on the server, dropped afterwards). No warehouse, no data folder needed.

  bus        publish N messages one by one, then claim and acknowledge them one by one
  ledger     record N unit results in one transaction (a backfill's), then read the latest rows
  leases     take and release the warehouse lease N times

    .venv/bin/python benchmarks/bench_state.py [--n 2000] [--postgres URL] [--json]

A full backfill on the PostgreSQL store: NBAPIPE_STATE_URL='...?schema=bench' benchmarks/bench_backfill.py
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from nbapipe.orchestration.events import bus_for
from nbapipe.state import connect, leases, ledger

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def measure(st, n: int) -> dict:
    out = {}
    bus = bus_for(st)
    t0 = time.perf_counter()
    for i in range(n):
        bus.publish("bench", {"n": i}, key=f"{i:06d}")
    out["bus_publish_per_s"] = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    done = 0
    while msgs := bus.pull("bench", 1):
        bus.ack(msgs[0])
        done += 1
    assert done == n, done
    out["bus_pull_ack_per_s"] = n / (time.perf_counter() - t0)

    day = dt.date(2021, 10, 19)
    results = [ledger.UnitResult(f"p{i % 5}", 3, day + dt.timedelta(days=i // 5), "success", rows=400)
               for i in range(n)]
    t0 = time.perf_counter()
    ledger.record(st, "bench-run", results)
    out["ledger_record_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert len(ledger.latest(st)) == n
    out["ledger_latest_seconds"] = time.perf_counter() - t0

    me = leases.Holder.me("bench")
    t0 = time.perf_counter()
    for _ in range(n // 4):
        assert leases.try_acquire(st, leases.WAREHOUSE, me) is None
        leases.release(st, leases.WAREHOUSE, me)
    out["lease_cycles_per_s"] = (n // 4) / (time.perf_counter() - t0)
    return {k: round(v, 3) if k.endswith("_seconds") else int(v) for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server URL ('' to skip PostgreSQL)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = {"n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        st = connect(Path(tmp) / "state.sqlite")
        try:
            result["sqlite"] = measure(st, args.n)
        finally:
            st.close()
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        st = connect(f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}")
        try:
            result["postgresql"] = measure(st, args.n)
        finally:
            st.con.execute(f"DROP SCHEMA {schema} CASCADE")
            st.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        backends = [b for b in ("sqlite", "postgresql") if b in result]
        print(f"{'':<22}" + "".join(f"{b:>14}" for b in backends))
        for k in result["sqlite"]:
            print(f"{k:<22}" + "".join(f"{result[b][k]:>14,}" for b in backends))
    return 0


if __name__ == "__main__":
    sys.exit(main())
