"""The run ledger: one row per (processor, date) outcome; the latest row is the unit's status.

Statuses (DESIGN section 5): success, partial, no_games, bootstrap_skip, warmup,
upstream_missing, failed. Coverage counts success over expected dates; no_games is never
expected; bootstrap_skip and warmup are expected but not missing: warmup is a model-based
processor before enough earlier history exists to train on (Phase 5's first weeks), the model's
bootstrap, decided when it computes (and by its downstream from it)."""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from typing import Iterable

from nbapipe.config import host_name
from nbapipe.config import host_name
from nbapipe.state.leases import process_gone
from nbapipe.state.store import StateStore, retried, upsert

STATUSES = ("success", "partial", "no_games", "bootstrap_skip", "warmup", "upstream_missing", "failed")
# Expected, written nothing on purpose, never missing.
SKIPPED_ON_PURPOSE = ("bootstrap_skip", "warmup")
DONE = ("success",)
GAPS = ("upstream_missing", "partial")


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class UnitResult:
    processor: str
    phase: int
    game_date: dt.date
    status: str
    rows: int = 0
    expected: int | None = None
    source_used: str | None = None
    input_fingerprint: str | None = None
    missing_inputs: dict | None = None      # input -> list of ISO dates
    detail: str | None = None
    error: str | None = None
    duration_s: float | None = None
    started_at: str | None = None
    run_id: str | None = None

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["date"] = self.game_date.isoformat()
        d.pop("game_date")
        return d


@retried
def record(st: StateStore, run_id: str, results: Iterable[UnitResult]) -> int:
    rows = [[run_id, r.processor, r.phase, r.game_date.isoformat(), r.status, r.rows, r.expected,
             r.source_used, r.input_fingerprint,
             json.dumps(r.missing_inputs, sort_keys=True) if r.missing_inputs else None,
             r.detail, r.error, r.duration_s, r.started_at, now_iso()] for r in results]
    if rows:
        with st.tx() as con:
            con.executemany(
                "INSERT INTO run_ledger (run_id, processor, phase, game_date, status, rows, expected, "
                "source_used, input_fingerprint, missing_inputs, detail, error, duration_s, started_at, "
                "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def latest(st: StateStore, start: dt.date | None = None, end: dt.date | None = None,
           processors: Iterable[str] | None = None, phase: int | None = None,
           dates: Iterable[dt.date] | None = None) -> list[dict]:
    """The latest ledger row of every (processor, date) in the range."""
    where, params = [], []
    if start:
        where.append("game_date >= ?")
        params.append(start.isoformat())
    if end:
        where.append("game_date <= ?")
        params.append(end.isoformat())
    if dates is not None:
        ds = [d.isoformat() for d in dates]
        where.append(f"game_date IN ({','.join('?' * len(ds))})" if ds else "1 = 0")
        params += ds
    if processors is not None:
        ps = list(processors)
        where.append(f"processor IN ({','.join('?' * len(ps))})" if ps else "1 = 0")
        params += ps
    if phase is not None:
        where.append("phase = ?")
        params.append(phase)
    clause = " AND ".join(where) or "1 = 1"
    rows = st.rows(f"""
        SELECT l.* FROM run_ledger l
        JOIN (SELECT processor, game_date, max(id) AS id FROM run_ledger WHERE {clause}
              GROUP BY processor, game_date) m ON m.id = l.id
        ORDER BY l.game_date, l.phase, l.processor""", params)
    for r in rows:
        r["missing_inputs"] = json.loads(r["missing_inputs"]) if r["missing_inputs"] else None
    return rows


def latest_map(st: StateStore, **kw) -> dict[tuple[str, dt.date], dict]:
    return {(r["processor"], dt.date.fromisoformat(r["game_date"])): r for r in latest(st, **kw)}


# --- runs (for progress, rate and ETA) ---------------------------------------------------------
#
# A run's status: running, then success | failed (a unit failed) | interrupted (SIGINT, SIGTERM
# or a lost lease stopped it; its units in flight left as they were) | crashed (an error ended
# it, or its process vanished without closing the row: SIGKILL, a lost machine; the next
# command that reads the runs closes it, see close_dead_runs).

RUN_STATUSES = ("running", "success", "failed", "interrupted", "crashed")
# A running run renews runs.updated_at this often (a thread of its own, so a long statement
# does not stop it), and one on another host that has not for RUN_LAPSE_SECONDS is dead.
RUN_HEARTBEAT_SECONDS = 10.0
RUN_LAPSE_SECONDS = 300.0

@retried
def start_run(st: StateStore, run_id: str, command: str, phases: str, start: dt.date | None,
              end: dt.date | None, planned: int) -> None:
    with st.tx() as con:
        upsert(con, "runs", ["run_id"], {
            "run_id": run_id, "command": command, "phases": phases,
            "start_date": start.isoformat() if start else None, "end_date": end.isoformat() if end else None,
            "planned": planned, "done": 0, "status": "running", "host": host_name(), "pid": os.getpid(),
            "started_at": now_iso(), "updated_at": now_iso(), "finished_at": None})


@retried
def progress_run(st: StateStore, run_id: str, done: int) -> None:
    with st.tx() as con:
        con.execute("UPDATE runs SET done = ?, updated_at = ? WHERE run_id = ?", [done, now_iso(), run_id])


@retried
def finish_run(st: StateStore, run_id: str, status: str) -> None:
    with st.tx() as con:
        con.execute("UPDATE runs SET status = ?, finished_at = ?, updated_at = ? WHERE run_id = ?",
                    [status, now_iso(), now_iso(), run_id])


class RunHeartbeat(threading.Thread):
    """Renews a running run's updated_at from its own connection until stopped, so that its
    liveness is known on every host (a process on another host cannot be asked)."""

    def __init__(self, st: StateStore, run_id: str, every: float = RUN_HEARTBEAT_SECONDS):
        super().__init__(daemon=True, name=f"run-heartbeat-{run_id}")
        self.st, self.run_id, self.every = st, run_id, every
        self.stop_event = threading.Event()

    def run(self) -> None:
        st = None
        try:
            st = self.st.reopen()
            while not self.stop_event.wait(self.every):
                try:
                    with st.tx() as con:
                        con.execute("UPDATE runs SET updated_at = ? WHERE run_id = ? AND status = 'running'",
                                    [now_iso(), self.run_id])
                except Exception:       # a state store outage: beat again next time
                    pass
        except Exception:
            pass                        # no connection: the run's own updates still go on
        finally:
            if st is not None:
                st.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


def run_dead(row: dict, now: dt.datetime | None = None) -> bool:
    """A run row still `running` whose process is gone: on this host, its pid is not alive;
    on another, its heartbeat (updated_at) lapsed."""
    if row.get("host") == host_name() and row.get("pid"):
        return process_gone(row["host"], row["pid"])
    try:
        updated = dt.datetime.fromisoformat(row["updated_at"])
    except (KeyError, TypeError, ValueError):
        return True
    now = now or dt.datetime.now(dt.timezone.utc)
    return (now - updated).total_seconds() > RUN_LAPSE_SECONDS


def close_dead_runs(st: StateStore) -> list[dict]:
    """Close the runs whose process died without closing them (status crashed, finished_at
    now) and return them. Commands that read the runs call it first: one SELECT over the
    runs still marked running (a handful), one UPDATE only when one is dead. A read-only
    store is left as it is (the dead runs are only returned)."""
    dead = [r for r in st.rows("SELECT * FROM runs WHERE status = 'running'") if run_dead(r)]
    if dead and not is_read_only(st):
        stamp = now_iso()
        try:
            with st.tx() as con:
                con.executemany("UPDATE runs SET status = 'crashed', finished_at = ?, updated_at = ? "
                                "WHERE run_id = ? AND status = 'running'",
                                [[stamp, stamp, r["run_id"]] for r in dead])
        except sqlite3.OperationalError as e:   # a read-only file or mount opened for writing
            if "readonly" not in str(e).replace("-", "").lower():
                raise
    return dead


def is_read_only(st: StateStore) -> bool:
    """A store opened for reading only (SQLite query_only, a PostgreSQL read-only session)."""
    if getattr(st, "is_read_only", False) or getattr(st, "_read_only", False):
        return True
    if st.kind == "sqlite":
        return bool(st.scalar("PRAGMA query_only"))
    return False
