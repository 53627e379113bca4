"""Leases: named locks with an expiry renewed by a heartbeat, so a dead holder's lease lapses
on any host. The warehouse lease makes every writer of the DuckDB file take turns."""
from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from nbapipe import cancel
from nbapipe.config import LEASE_TTL_SECONDS, host_name
from nbapipe.state.store import StateStore, upsert

WAREHOUSE = "warehouse"


def _now_iso() -> str:
    # Milliseconds: waiters are served in the order of their `since`.
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Holder:
    id: str
    host: str
    pid: int
    purpose: str

    @classmethod
    def me(cls, purpose: str) -> "Holder":
        host = host_name()
        return cls(f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}", host, os.getpid(), purpose)


class LeaseTimeout(RuntimeError):
    pass


def process_gone(host: str | None, pid: int | None) -> bool:
    """True when `pid` runs on this host and is gone (elsewhere nobody can tell: False)."""
    if host != host_name() or not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _dead_here(row) -> bool:
    """A holder on this host whose process is gone: its lease lapses now, not at expiry."""
    return process_gone(row["host"], row["pid"])


def try_acquire(st: StateStore, name: str, holder: Holder, ttl: float = LEASE_TTL_SECONDS) -> dict | None:
    """Take the lease if free, lapsed (expired, or its holder's process on this host is gone)
    or already ours. Returns None on success, else the current holder's row."""
    now = time.time()
    with st.tx() as con:
        row = con.execute("SELECT * FROM leases WHERE name = ?", [name]).fetchone()
        if row is not None and row["holder"] != holder.id and row["expires_at"] > now \
                and not _dead_here(row):
            return dict(row)
        upsert(con, "leases", ["name"], {"name": name, "holder": holder.id, "host": holder.host,
                                         "pid": holder.pid, "purpose": holder.purpose,
                                         "acquired_at": _now_iso(), "expires_at": now + ttl})
        con.execute("DELETE FROM lease_waiters WHERE holder = ?", [holder.id])
    return None


def renew(st: StateStore, name: str, holder: Holder, ttl: float = LEASE_TTL_SECONDS) -> bool:
    with st.tx() as con:
        cur = con.execute("UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                          [time.time() + ttl, name, holder.id])
        return cur.rowcount == 1


def release(st: StateStore, name: str, holder: Holder) -> None:
    with st.tx() as con:
        con.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder.id])


def current(st: StateStore) -> list[dict]:
    """Live leases and waiters (for status / monitor)."""
    now = time.time()
    leases = st.rows("SELECT * FROM leases WHERE expires_at > ?", [now])
    waiters = st.rows("SELECT * FROM lease_waiters WHERE expires_at > ?", [now])
    return [dict(l, state="held") for l in leases] + [dict(w, state="waiting") for w in waiters]


def describe(row: dict) -> str:
    return f"{row.get('purpose') or 'a process'} (host {row['host']}, pid {row['pid']}, since {row['acquired_at']})"


class _Heartbeat(threading.Thread):
    """Renews a lease from its own connection until stopped."""

    def __init__(self, st: StateStore, name: str, holder: Holder, ttl: float):
        super().__init__(daemon=True, name=f"lease-heartbeat-{name}")
        self.st, self.name_, self.holder, self.ttl = st, name, holder, ttl
        self.stop_event = threading.Event()

    def run(self) -> None:
        st = self.st.reopen()
        try:
            while not self.stop_event.wait(self.ttl / 3):
                renew(st, self.name_, self.holder, self.ttl)
        finally:
            st.close()


def _waiting_ahead(st: StateStore, name: str, holder: Holder) -> dict | None:
    """A live waiter for `name` that started waiting before `holder` did (any waiter, when
    `holder` is not waiting yet): it goes first, so a writer that keeps coming back (a
    worker with a queue of triggers) cannot starve a backfill that waits."""
    mine = st.scalar("SELECT since FROM lease_waiters WHERE holder = ?", [holder.id])
    rows = st.rows("SELECT * FROM lease_waiters WHERE name = ? AND holder <> ? AND expires_at > ? "
                   "AND (? IS NULL OR since < ?) ORDER BY since, holder",
                   [name, holder.id, time.time(), mine, mine])
    for r in rows:
        if not process_gone(r["host"], r["pid"]):
            return dict(r, acquired_at=r["since"], purpose=f"{r['purpose']} (waiting before us)")
    return None


def _wait_turn(st: StateStore, name: str, holder: Holder, ttl: float, wait: float | None,
               on_wait: Callable[[dict], None] | None, poll: float) -> None:
    """Take the lease, first come first served, waiting (registered as a waiter, which
    status shows) while someone holds it or waited longer."""
    deadline = None if wait is None else time.monotonic() + wait
    told = None
    try:
        while True:
            other = _waiting_ahead(st, name, holder) or try_acquire(st, name, holder, ttl)
            if other is None:
                return
            with st.tx() as con:      # a waiter keeps its first `since` (its place in line)
                con.execute("INSERT INTO lease_waiters VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (holder) "
                            "DO UPDATE SET name = excluded.name, purpose = excluded.purpose, "
                            "expires_at = excluded.expires_at",
                            [holder.id, name, holder.host, holder.pid, holder.purpose, _now_iso(),
                             time.time() + ttl])
            if on_wait and told != other["holder"]:
                on_wait(other)
                told = other["holder"]
            if deadline is not None and time.monotonic() > deadline:
                raise LeaseTimeout(f"lease {name!r} is held by {describe(other)}")
            cancel.sleep(poll)       # a stop request ends the wait (SIGINT, SIGTERM)
    except BaseException:
        # Timed out or interrupted: stop waiting at once, or others would wait behind us.
        with st.tx() as con:
            con.execute("DELETE FROM lease_waiters WHERE holder = ?", [holder.id])
        raise


@contextmanager
def hold(st: StateStore, name: str, purpose: str, *, wait: float | None = None,
         ttl: float = LEASE_TTL_SECONDS, on_wait: Callable[[dict], None] | None = None,
         poll: float = 0.5) -> Iterator[Holder]:
    """Hold lease `name` for the duration of the block, waiting for the current holder and
    for those who waited longer (forever when `wait` is None), renewing it in the background."""
    holder = Holder.me(purpose)
    _wait_turn(st, name, holder, ttl, wait, on_wait, poll)
    beat = _Heartbeat(st, name, holder, ttl)
    beat.start()
    try:
        yield holder
    finally:
        beat.stop_event.set()
        beat.join(timeout=5)
        release(st, name, holder)
