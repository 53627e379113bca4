"""Connection, schema and transactions of the state store.

Two backends behind one interface: SQLite, a file in the home (the embedded default for one
machine), and PostgreSQL (state.postgres, extra `nbapipe[postgres]`) for workers on several
hosts. Callers write one SQL dialect, the common ground of both: `?` parameters,
`INSERT ... ON CONFLICT`, `RETURNING`; rows answer by name and by position."""
from __future__ import annotations

import errno
import functools
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

STATE_SCHEMA_VERSION = 1
URL_SCHEMES = ("postgresql://", "postgres://")

_DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
-- One row per (processor, date) outcome: the latest row per pair is its current status.
CREATE TABLE IF NOT EXISTS run_ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            TEXT NOT NULL,
    processor         TEXT NOT NULL,
    phase             INTEGER NOT NULL,
    game_date         TEXT NOT NULL,
    status            TEXT NOT NULL,
    rows              INTEGER NOT NULL DEFAULT 0,
    expected          INTEGER,
    source_used       TEXT,
    input_fingerprint TEXT,
    missing_inputs    TEXT,
    detail            TEXT,
    error             TEXT,
    duration_s        REAL,
    started_at        TEXT,
    finished_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_ledger_unit ON run_ledger (processor, game_date, id);
CREATE INDEX IF NOT EXISTS run_ledger_date ON run_ledger (game_date);
-- Runs: one row per backfill / worker invocation, for the monitor's rate and ETA.
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    command     TEXT,
    phases      TEXT,
    start_date  TEXT,
    end_date    TEXT,
    planned     INTEGER,
    done        INTEGER DEFAULT 0,
    status      TEXT,
    host        TEXT,
    pid         INTEGER,
    started_at  TEXT,
    updated_at  TEXT,
    finished_at TEXT
);
-- Leases: the warehouse (single writer) and per-table locks, expiring unless renewed.
CREATE TABLE IF NOT EXISTS leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    host        TEXT,
    pid         INTEGER,
    purpose     TEXT,
    acquired_at TEXT,
    expires_at  REAL NOT NULL
);
-- Who is waiting for a lease (status shows them).
CREATE TABLE IF NOT EXISTS lease_waiters (
    holder      TEXT PRIMARY KEY,
    name        TEXT,
    host        TEXT,
    pid         INTEGER,
    purpose     TEXT,
    since       TEXT,
    expires_at  REAL
);
-- The season calendar, copied from the warehouse at ingest so tools need not open it.
CREATE TABLE IF NOT EXISTS calendar_seasons (
    season             TEXT PRIMARY KEY,
    season_year        INTEGER,
    season_start       TEXT,
    regular_season_end TEXT,
    bootstrap_end      TEXT,
    bootstrap_days     INTEGER,
    first_game_date    TEXT,
    last_game_date     TEXT,
    game_date_count    INTEGER,
    complete           INTEGER
);
CREATE TABLE IF NOT EXISTS calendar_dates (
    game_date     TEXT PRIMARY KEY,
    season        TEXT,
    games         INTEGER,
    game_types    TEXT,
    is_bootstrap  INTEGER
);
-- The event bus (orchestration/events.py): one row per message. Unacknowledged rows are the
-- queue of their topic. A pull claims a row until visible_at (the visibility timeout), so a
-- consumer that dies without acknowledging lets it be redelivered. attempts counts deliveries,
-- failures counts nacks with an error and claims that expired, and too many failures move
-- a message aside (dead_at) instead of redelivering it forever.
CREATE TABLE IF NOT EXISTS bus_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    topic         TEXT NOT NULL,
    msg_key       TEXT,
    dedup_id      TEXT,
    payload       TEXT NOT NULL,
    published_at  REAL NOT NULL,
    visible_at    REAL NOT NULL,
    claim_token   TEXT,
    claimed_by    TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    failures      INTEGER NOT NULL DEFAULT 0,
    acked_at      REAL,
    dead_at       REAL,
    last_error    TEXT
);
-- A publisher's idempotency key: publishing the same dedup_id twice stores one message.
CREATE UNIQUE INDEX IF NOT EXISTS bus_messages_dedup ON bus_messages (topic, dedup_id);
CREATE INDEX IF NOT EXISTS bus_messages_ready ON bus_messages (topic, acked_at, visible_at, id);
CREATE INDEX IF NOT EXISTS bus_messages_key ON bus_messages (topic, msg_key);
-- Phase orchestrators: every completion message received, per (transition, date, processor,
-- run). A redelivered or duplicated message has the same run id and adds nothing.
-- target_phase is the phase a trigger starts (3 for the phase2->3 orchestrator).
CREATE TABLE IF NOT EXISTS phase_completions (
    target_phase   INTEGER NOT NULL,
    game_date      TEXT NOT NULL,
    processor      TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    status         TEXT NOT NULL,
    record_count   INTEGER,
    correlation_id TEXT,
    completed_at   TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    message_id     INTEGER,
    PRIMARY KEY (target_phase, game_date, processor, run_id)
);
-- Per (transition, date): the last decision, and whether new completions await one (dirty).
CREATE TABLE IF NOT EXISTS phase_dates (
    target_phase  INTEGER NOT NULL,
    game_date     TEXT NOT NULL,
    state         TEXT NOT NULL,
    detail        TEXT,
    generation    TEXT,
    dirty         INTEGER NOT NULL DEFAULT 1,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (target_phase, game_date)
);
CREATE INDEX IF NOT EXISTS phase_dates_dirty ON phase_dates (dirty, target_phase);
-- Triggers, exactly one per (transition, date, upstream generation): written in the same
-- transaction as the decision, then relayed to the bus (published_at) with the row id as
-- the message's dedup id, so a crash can neither lose nor double one.
CREATE TABLE IF NOT EXISTS phase_triggers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    target_phase   INTEGER NOT NULL,
    game_date      TEXT NOT NULL,
    generation     TEXT NOT NULL,
    upstream_runs  TEXT NOT NULL,
    correlation_id TEXT,
    triggered_at   TEXT NOT NULL,
    message_id     INTEGER,
    published_at   TEXT,
    UNIQUE (target_phase, game_date, generation)
);
-- Workers (orchestration/worker.py): what each one is doing, for orchestrator status.
CREATE TABLE IF NOT EXISTS workers (
    worker_id     TEXT PRIMARY KEY,
    host          TEXT,
    pid           INTEGER,
    phases        TEXT,
    state         TEXT NOT NULL,
    message_id    INTEGER,
    phase         INTEGER,
    game_date     TEXT,
    since         TEXT,
    heartbeat_at  REAL
);
"""



class StateStoreError(RuntimeError):
    """An expected condition of the store's environment (unreachable, corrupt, disk full, a bad
    URL): the CLI prints the one-line message, which says what to do, and exits 2."""


class TransactionLost(StateStoreError):
    """The connection dropped inside a transaction (a server restart): nothing of it was kept,
    and the next transaction reconnects. `retried` functions run theirs again."""


def retried(fn):
    """For a function that runs one state transaction and may run it again (its writes are the
    same the second time): a transaction lost to a dropped connection is run again, for the
    bounded retry time (NBAPIPE_STATE_RETRY_SECONDS), so a server restart of a few seconds fails
    no write; past that, the error."""
    @functools.wraps(fn)
    def run(*args, **kw):
        from nbapipe.config import state_retry_seconds
        deadline = time.monotonic() + state_retry_seconds()
        while True:
            try:
                return fn(*args, **kw)
            except TransactionLost:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    return run


class StateStore(ABC):
    """The state store's interface; `connect` picks the backend from the location."""
    kind: str = ""
    location: str = ""
    # Opened for reading only (viewers, reading commands): writes are refused by the backend.
    is_read_only: bool = False

    @abstractmethod
    def tx(self) -> Iterator[Any]:
        """A write transaction (a context manager yielding a connection with execute and
        executemany). Write transactions are serialised, as SQLite's BEGIN IMMEDIATE does."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A read outside a transaction, as a cursor (code shared with transactions' `con`)."""

    def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        rows = self.rows(sql, params)
        return next(iter(rows[0].values())) if rows else None

    @abstractmethod
    def reopen(self) -> "StateStore":
        """Another handle with its own connection (heartbeat threads, helper processes)."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on a server)."""
        return None

    def schema_version(self) -> int:
        return int(self.scalar("SELECT value FROM meta WHERE key = 'schema_version'") or 0)

    def set_meta(self, con, key: str, value: str | None) -> None:
        upsert(con, "meta", ["key"], {"key": key, "value": value})

    def get_meta(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM meta WHERE key = ?", [key])

    def table_columns(self) -> dict[str, list[str]]:
        """The columns of every state table as the DDL declares them (for copies)."""
        return declared_columns()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"


def upsert(con, table: str, keys: list[str], row: dict) -> None:
    """Insert `row`, or update every other column of the row with the same `keys` (portable:
    SQLite's INSERT OR REPLACE would also reset columns the row does not name)."""
    cols = list(row)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT ({', '.join(keys)}) DO " + (f"UPDATE SET {sets}" if sets else "NOTHING"),
                list(row.values()))


def declared_columns() -> dict[str, list[str]]:
    """Table -> column names, read from the DDL (the one definition of the state schema)."""
    out = {}
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", _DDL, re.S):
        cols = [line.strip().split()[0] for line in m.group(2).splitlines()
                if line.strip() and not line.strip().startswith(("--", "PRIMARY KEY", "UNIQUE"))]
        out[m.group(1)] = cols
    return out


def is_url(location: Any) -> bool:
    return str(location).startswith(URL_SCHEMES)


def display(location: Any) -> str:
    """A location fit to print: a URL's password hidden."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", str(location))


def connect(location: Path | str, read_only: bool = False) -> StateStore:
    """The state store at `location`: a postgresql:// URL, else a SQLite file path."""
    if is_url(location):
        from nbapipe.state.postgres import PostgresStateStore
        return PostgresStateStore(str(location), read_only=read_only)
    return SqliteStateStore.read_only(location) if read_only else SqliteStateStore(location)


def exists(location: Path | str) -> bool:
    """Whether a state store was created there (looking must not create one)."""
    if is_url(location):
        from nbapipe.state.postgres import store_exists
        return store_exists(str(location))
    return Path(location).exists()


class SqliteStateStore(StateStore):
    kind = "sqlite"

    def __init__(self, path: Path | str):
        self._path = Path(path)
        self.location = str(self._path)
        with self._errors():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the
            # write lock up front instead of failing on upgrade; readers never block (WAL).
            self.con = sqlite3.connect(str(self._path), timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
            self.con.row_factory = sqlite3.Row
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA busy_timeout=30000")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self._ensure_schema()

    @property
    def path(self) -> Path:
        return self._path

    @classmethod
    def read_only(cls, path: Path | str) -> "SqliteStateStore":
        """A connection that cannot write (SQLite mode=ro, query_only): for viewers such as the
        web dashboard, which must never change the store, not even its schema row. WAL lets it
        read while backfills and workers write."""
        self = cls.__new__(cls)
        self._path = Path(path)
        self.location = str(self._path)
        self.is_read_only = True
        if not self._path.exists():
            raise FileNotFoundError(f"no state store at {self._path}")
        with self._errors():
            try:
                self.con = self._open_ro("mode=ro")
            except sqlite3.OperationalError:
                # A WAL database on a read-only mount: its -shm cannot be created there, and
                # nobody can be writing it either, so read it as immutable.
                self.con = self._open_ro("mode=ro&immutable=1")
        return self

    def _open_ro(self, mode: str) -> sqlite3.Connection:
        con = sqlite3.connect(f"{self._path.resolve().as_uri()}?{mode}", uri=True, timeout=30.0,
                              isolation_level=None, check_same_thread=False)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("PRAGMA query_only=ON")
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()    # opens the file now
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors for conditions of the environment, as one line saying what to do."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            raise sqlite_error(self._path, e) from None
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES):
                raise StateStoreError(f"cannot write the state store's folder {self._path.parent}: "
                                      f"{e.strerror}") from None
            raise

    def _ensure_schema(self) -> None:
        with self.tx() as con:
            for stmt in _DDL.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            have = {t: {r[1] for r in con.execute(f"PRAGMA table_info({t})")} for t in declared_columns()}
            for stmt in migrations(have):
                con.execute(stmt)
            self.set_meta(con, "schema_version", str(STATE_SCHEMA_VERSION))

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taking the lock at BEGIN (no deadlock on upgrade)."""
        with self._errors():
            self.con.execute("BEGIN IMMEDIATE")
            try:
                yield self.con
            except BaseException:
                if self.con.in_transaction:
                    self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        with self._errors():
            return [dict(r) for r in self.con.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        with self._errors():
            r = self.con.execute(sql, params).fetchone()
        return r[0] if r else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.con.execute(sql, params)

    def reopen(self) -> "SqliteStateStore":
        return SqliteStateStore.read_only(self._path) if self.is_read_only else SqliteStateStore(self._path)

    def close(self) -> None:
        self.con.close()


# SQLite's messages for conditions a user must act on (others are bugs: they keep their traceback).
_SQLITE_ENVIRONMENT = {
    "file is not a database": "is not a SQLite database (corrupt or overwritten): move it aside and restore "
                              "it from a backup, or rebuild the home with `nbapipe ingest`",
    "database disk image is malformed": "is corrupt: move it aside and restore it from a backup, or rebuild "
                                        "the home with `nbapipe ingest`",
    "database or disk is full": "cannot grow: the disk is full. Free space on that disk (or move the home), "
                                "then run the command again",
    "attempt to write a readonly database": "is read-only: reading commands work there, writing ones "
                                            "need a writable home",
    "unable to open database file": "cannot be opened (missing folder or no permission)",
}


def _disk_full(path: Path) -> bool:
    import shutil
    try:
        return shutil.disk_usage(path.parent).free < 4 * 2**20
    except OSError:
        return False


def sqlite_error(path: Path, e: sqlite3.DatabaseError) -> Exception:
    """StateStoreError for an error of the environment, else `e` itself."""
    msg = str(e)
    if "disk I/O error" in msg:     # what a full disk looks like when the -shm or -wal cannot grow
        what = _SQLITE_ENVIRONMENT["database or disk is full"] if _disk_full(path) else \
            "cannot be read or written (a failing disk or file system): check it, then run the command again"
        return StateStoreError(f"the state store {path} {what} (SQLite: {msg})")
    for key, what in _SQLITE_ENVIRONMENT.items():
        if key in msg:
            return StateStoreError(f"the state store {path} {what} (SQLite: {msg})")
    return e


def migrations(have: dict[str, set[str]]) -> list[str]:
    """Additive migration: ALTER TABLE ... ADD COLUMN for every declared column an existing
    table lacks (a store made by an older nbapipe). Types come from the DDL line."""
    stmts = []
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", _DDL, re.S):
        table, cols = m.group(1), have.get(m.group(1), set())
        if not cols:
            continue
        for line in m.group(2).splitlines():
            parts = line.strip().rstrip(",").split()
            if parts and parts[0] not in cols and not parts[0].startswith("--") \
                    and parts[0] not in ("PRIMARY", "UNIQUE") and "PRIMARY" not in parts:
                stmts.append(f"ALTER TABLE {table} ADD COLUMN {' '.join(parts)}")
    return stmts


@contextmanager
def open_state(location: Path | str) -> Iterator[StateStore]:
    st = connect(location)
    try:
        yield st
    finally:
        st.close()
