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
from nbapipe.config import LEASE_STOP_MARGIN, host_name, lease_ttl, state_retry_limit
from nbapipe.state.store import StateStore, StateStoreError, retried, upsert

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


def try_acquire(st: StateStore, name: str, holder: Holder, ttl: float | None = None) -> dict | None:
    """Take the lease if free, lapsed (expired, or its holder's process on this host is gone)
    or already ours. Returns None on success, else the current holder's row."""
    return _acquire(st, name, holder, ttl or lease_ttl())[0]


@retried
def _acquire(st: StateStore, name: str, holder: Holder, ttl: float) -> tuple[dict | None, float]:
    """try_acquire, and the expiry it wrote (epoch seconds)."""
    with st.tx() as con:
        now = time.time()       # after BEGIN: the lock, or a store coming back, may have been waited for
        row = con.execute("SELECT * FROM leases WHERE name = ?", [name]).fetchone()
        if row is not None and row["holder"] != holder.id and row["expires_at"] > now \
                and not _dead_here(row):
            return dict(row), 0.0
        upsert(con, "leases", ["name"], {"name": name, "holder": holder.id, "host": holder.host,
                                         "pid": holder.pid, "purpose": holder.purpose,
                                         "acquired_at": _now_iso(), "expires_at": now + ttl})
        con.execute("DELETE FROM lease_waiters WHERE holder = ?", [holder.id])
    return None, now + ttl


@retried
def renew(st: StateStore, name: str, holder: Holder, ttl: float | None = None) -> bool:
    """Extend our lease; False when it is no longer ours."""
    with st.tx() as con:
        cur = con.execute("UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                          [time.time() + (ttl or lease_ttl()), name, holder.id])
        return cur.rowcount == 1


@retried
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
    """Keeps a lease: a renewer thread renews it every ttl/3 from its own connection, retrying
    with backoff through state-store outages, while this thread watches the clock. Fencing: when
    the lease has not been renewed by `ttl * LEASE_STOP_MARGIN` before it lapses (or the renewer
    finds it taken), the process is asked to stop (nbapipe.cancel: the DuckDB statement in flight
    is interrupted and none starts after it), so the holder stops writing before anyone else can
    take the lease. The watch does not depend on the renewer returning: a renewal that hangs on
    a dead connection cannot delay the stop."""

    def __init__(self, st: StateStore, name: str, holder: Holder, ttl: float, expires_at: float):
        super().__init__(daemon=True, name=f"lease-heartbeat-{name}")
        self.st, self.name_, self.holder, self.ttl = st, name, holder, ttl
        self.expires_at = expires_at        # no later than the expiry the store holds
        self.stop_event = threading.Event()
        self.lost: str | None = None
        self._failing_since: float | None = None
        self._error = ""
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name=f"lease-renew-{name}")

    def run(self) -> None:
        self._renewer.start()
        try:
            self._watch()
        finally:
            # Its connection is closed before the holder goes on (a SQLite store's -wal file
            # goes with the last connection: a copy of the home right after must not race it).
            self._renewer.join(timeout=self.ttl * LEASE_STOP_MARGIN)

    def _watch(self) -> None:
        while not self.stop_event.wait(min(0.25, self.ttl / 20)):
            if self.lost:
                return
            if time.time() >= self.expires_at - self.ttl * LEASE_STOP_MARGIN:
                since = self._failing_since or (self.expires_at - self.ttl)
                self._fence(f"lost the {self.name_} lease: could not renew it for {time.time() - since:.0f}s "
                            f"(state store unreachable: {self._error or 'no answer'}); stopped before it "
                            f"lapsed. Run the command again once the state store is back (resume skips "
                            f"what was done)")
                return

    def _renew_loop(self) -> None:
        st, pause = None, 0.2
        # A renewal must not wait out the store's whole retry time: the watch needs fresh tries.
        with state_retry_limit(min(2.0, self.ttl / 10)):
            wait = self.ttl / 3
            while not self.stop_event.wait(wait) and not self.lost:
                try:
                    st = st or self.st.reopen()
                    t = time.time()
                    if not renew(st, self.name_, self.holder, self.ttl):
                        self._fence(f"lost the {self.name_} lease: another process took it (ours was "
                                    f"not renewed in time); stopped writing")
                        break
                    self.expires_at, self._failing_since, wait, pause = t + self.ttl, None, self.ttl / 3, 0.2
                except Exception as e:      # the store unreachable, a dropped connection
                    self._failing_since = self._failing_since or time.time()
                    self._error = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
                    st = _close_quietly(st)
                    wait, pause = pause, min(pause * 2, 2.0)
        _close_quietly(st)

    def _fence(self, reason: str) -> None:
        if self.lost is None and not self.stop_event.is_set():
            self.lost = reason
            cancel.request(reason, 2)


def _close_quietly(st: StateStore | None) -> None:
    if st is not None:
        try:
            st.close()
        except Exception:
            pass
    return None


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


@retried
def _register_waiter(st: StateStore, name: str, holder: Holder, ttl: float) -> None:
    with st.tx() as con:      # a waiter keeps its first `since` (its place in line)
        con.execute("INSERT INTO lease_waiters VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (holder) "
                    "DO UPDATE SET name = excluded.name, purpose = excluded.purpose, "
                    "expires_at = excluded.expires_at",
                    [holder.id, name, holder.host, holder.pid, holder.purpose, _now_iso(), time.time() + ttl])


def _wait_turn(st: StateStore, name: str, holder: Holder, ttl: float, wait: float | None,
               on_wait: Callable[[dict], None] | None, poll: float) -> float:
    """Take the lease, first come first served, waiting (registered as a waiter, which
    status shows) while someone holds it or waited longer."""
    deadline = None if wait is None else time.monotonic() + wait
    told = None
    try:
        while True:
            other = _waiting_ahead(st, name, holder)
            if other is None:
                other, expires_at = _acquire(st, name, holder, ttl)
                if other is None:
                    return expires_at
            _register_waiter(st, name, holder, ttl)
            if on_wait and told != other["holder"]:
                on_wait(other)
                told = other["holder"]
            if deadline is not None and time.monotonic() > deadline:
                raise LeaseTimeout(f"lease {name!r} is held by {describe(other)}")
            cancel.sleep(poll)       # a stop request ends the wait (SIGINT, SIGTERM)
    except BaseException:
        # Timed out or interrupted: stop waiting at once, or others would wait behind us (a
        # store that cannot be reached lets the waiter row lapse at its expiry instead).
        try:
            with st.tx() as con:
                con.execute("DELETE FROM lease_waiters WHERE holder = ?", [holder.id])
        except StateStoreError:
            pass
        raise


@contextmanager
def hold(st: StateStore, name: str, purpose: str, *, wait: float | None = None,
         ttl: float | None = None, on_wait: Callable[[dict], None] | None = None,
         poll: float = 0.5) -> Iterator[Holder]:
    """Hold lease `name` for the duration of the block, waiting for the current holder and
    for those who waited longer (forever when `wait` is None), renewing it in the background.
    A holder that cannot renew in time is stopped (see _Heartbeat): the block then raises
    nbapipe.cancel.Cancelled with the reason."""
    ttl = ttl or lease_ttl()
    holder = Holder.me(purpose)
    expires_at = _wait_turn(st, name, holder, ttl, wait, on_wait, poll)
    beat = _Heartbeat(st, name, holder, ttl, expires_at)
    beat.start()
    try:
        yield holder
        if beat.lost:       # the block ended before it noticed the stop request
            cancel.check()
    finally:
        beat.stop_event.set()
        beat.join(timeout=5)
        try:
            with state_retry_limit(2.0):    # leaving: do not wait out a long outage
                release(st, name, holder)
        except StateStoreError:
            pass            # unreachable store: the lease lapses at its expiry
