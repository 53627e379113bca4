"""The state store on PostgreSQL (extra `nbapipe[postgres]`): one server every host reaches.

The tables are the SQLite store's (one DDL, types widened: ids are identities, INTEGER is
BIGINT, REAL is DOUBLE PRECISION), in the schema the URL names (`?schema=name`, default
`nbapipe`), created and migrated by nbapipe. Callers' SQL is the common dialect of both
backends; `?` placeholders become psycopg's `%s` and values are bound client-side, as SQLite
binds them (no server-side type inference of parameters such as `? IS NULL`).

Write transactions take one transaction-level advisory lock, so they are serialised exactly as
SQLite's BEGIN IMMEDIATE serialises them: the read-then-write logic of leases and orchestrators
holds unchanged. The event bus's claims are the exception: they lock rows with
FOR UPDATE SKIP LOCKED (orchestration.events), so consumers never queue behind each other."""
from __future__ import annotations

import re
import threading
import time
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from nbapipe import cancel
from nbapipe.config import state_retry_seconds
from nbapipe.state.store import (_DDL, STATE_SCHEMA_VERSION, StateStore, StateStoreError, TransactionLost,
                                 declared_columns, display, migrations)

DEFAULT_SCHEMA = "nbapipe"
# pg_advisory_xact_lock keys: every write transaction; schema creation.
WRITE_LOCK = 0x6E62_6170_6970_65      # "nbapipe"
SCHEMA_LOCK = WRITE_LOCK + 1


class StateStoreUnavailable(StateStoreError):
    """The server cannot be reached, or psycopg is not installed."""


class LostInTransaction(StateStoreUnavailable, TransactionLost):
    """The server dropped the connection inside a transaction (rolled back)."""


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StateStoreUnavailable("a postgresql:// state store needs psycopg: pip install 'nbapipe[postgres]'") from None
    return psycopg


def split_url(url: str) -> tuple[str, str]:
    """(libpq URL, schema): nbapipe's own `schema` parameter is not libpq's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise StateStoreError(f"schema {schema!r} in the state URL {display(url)} is not a schema name: use "
                              f"?schema= with lower-case letters, digits and _ (starting with a letter or _)")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


@lru_cache(maxsize=256)
def to_pg(sql: str) -> str:
    """The common dialect to psycopg's: literal % doubled, ? placeholders as %s."""
    return sql.replace("%", "%%").replace("?", "%s")


class Row(tuple):
    """A row that answers by position and by name, and converts with dict(), like sqlite3.Row."""

    def __new__(cls, values, index: dict[str, int]):
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key):
        return super().__getitem__(self._index[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor):
    index = {c.name: i for i, c in enumerate(cursor.description or [])}
    return lambda values: Row(values, index)


class _Connection:
    """What a transaction yields: execute / executemany in the common dialect."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql: str, params: Sequence[Any] = ()):
        cur = self._con.cursor()
        cur.execute(to_pg(sql), list(params) or None)
        return cur

    def executemany(self, sql: str, seq):
        cur = self._con.cursor()
        seq = [list(p) for p in seq]
        if seq:
            cur.executemany(to_pg(sql), seq)
        return cur


def connect_raw(url: str, schema: str | None = None, autocommit: bool = True,
                retry: float | None = None):
    """A connection, retrying a refused or dropped one with backoff for `retry` seconds
    (default: the setting NBAPIPE_STATE_RETRY_SECONDS), so a server restart or failover of a few
    seconds fails nothing; past that, StateStoreUnavailable."""
    psycopg = _psycopg()
    libpq, default_schema = split_url(url)
    deadline = time.monotonic() + (state_retry_seconds() if retry is None else retry)
    pause = 0.1
    while True:
        try:
            left = deadline - time.monotonic()
            con = psycopg.connect(libpq, autocommit=autocommit, cursor_factory=psycopg.ClientCursor,
                                  row_factory=_row_factory, connect_timeout=int(min(10, max(2, left))))
            con.execute(f"SET search_path TO {schema or default_schema}")
            return con
        except psycopg.OperationalError as e:
            if time.monotonic() + pause > deadline or cancel.requested():
                waited = state_retry_seconds() if retry is None else retry
                raise StateStoreUnavailable(
                    f"cannot reach the state store at {display(url)}"
                    + (f" (retried for {waited:.0f}s)" if waited >= 1 else "")
                    + f": {str(e).strip().splitlines()[0]}. Check that the server runs and accepts "
                      f"connections, or raise NBAPIPE_STATE_RETRY_SECONDS") from None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def store_exists(url: str) -> bool:
    """A store is there when its schema has the meta table (looking creates nothing)."""
    _, schema = split_url(url)
    with connect_raw(url, "public") as con:
        return con.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.meta"]).fetchone()[0]


def postgres_ddl(ddl: str = _DDL) -> str:
    return (ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
               .replace("INTEGER", "BIGINT").replace("REAL", "DOUBLE PRECISION"))


class PostgresStateStore(StateStore):
    kind = "postgresql"

    def __init__(self, url: str, read_only: bool = False):
        self.url, (_, self.schema) = url, split_url(url)
        self.location = display(url)
        self._read_only = self.is_read_only = read_only
        self._lock = threading.RLock()      # one transaction at a time on this connection
        if read_only and not store_exists(url):
            raise FileNotFoundError(f"no state store at {self.location}")
        self._connect()
        if not read_only:
            self._ensure_schema()

    def _connect(self) -> None:
        self.con = connect_raw(self.url)
        if self._read_only:
            self.con.execute("SET default_transaction_read_only = on")

    def _retry(self, fn):
        """fn(connection), again on a new connection when the server dropped this one (a
        restart, a failover, an idle timeout): long-running workers outlive their connections,
        and `_connect` waits out a refusal for the bounded retry time. Only for statements that
        did not change anything: a read, or a transaction's BEGIN."""
        operational = _psycopg().OperationalError
        deadline = time.monotonic() + state_retry_seconds()
        while True:
            try:
                return fn(self.con)
            except operational as e:
                if not self.con.broken:
                    raise
                if time.monotonic() > deadline or cancel.requested():
                    raise StateStoreUnavailable(f"lost the state store at {self.location}: "
                                                f"{str(e).strip().splitlines()[0]}") from None
                self._connect()

    def _ensure_schema(self) -> None:
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            for stmt in postgres_ddl().split(";"):
                if stmt.strip():
                    self.con.execute(stmt)
            have: dict[str, set[str]] = {}
            for r in self.con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                      "WHERE table_schema = %s", [self.schema]):
                have.setdefault(r[0], set()).add(r[1])
            for stmt in migrations(have):
                self.con.execute(postgres_ddl(stmt))
            self.set_meta(_Connection(self.con), "schema_version", str(STATE_SCHEMA_VERSION))

    @contextmanager
    def tx(self, serialise: bool = True) -> Iterator[_Connection]:
        """A write transaction; `serialise=False` only for row-locking claims (the bus)."""
        with self._lock, self._lost(), ExitStack() as stack:
            self._retry(lambda con: stack.enter_context(con.transaction()))
            if serialise:
                self.con.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            yield _Connection(self.con)

    @contextmanager
    def _lost(self) -> Iterator[None]:
        """A connection lost inside a transaction (nothing of it was committed) is the store
        being unavailable, said in one line; the next transaction reconnects."""
        try:
            yield
        except _psycopg().OperationalError as e:
            if not self.con.broken:
                raise
            raise LostInTransaction(f"lost the state store at {self.location} during a transaction "
                                        f"(rolled back): {str(e).strip().splitlines()[0]}") from None

    def rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        with self._lock:
            return self._retry(lambda con: [dict(r) for r in con.execute(to_pg(sql), list(params) or None).fetchall()])

    def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        with self._lock:
            r = self._retry(lambda con: con.execute(to_pg(sql), list(params) or None).fetchone())
        return r[0] if r else None

    def execute(self, sql: str, params: Sequence[Any] = ()):
        with self._lock:
            return self._retry(lambda con: _Connection(con).execute(sql, params))

    def reopen(self) -> "PostgresStateStore":
        return PostgresStateStore(self.url, read_only=self._read_only)

    def listen(self, channel: str):
        """A connection of its own, LISTENing on `channel` (the bus's wake-ups)."""
        con = connect_raw(self.url)
        con.execute(f"LISTEN {channel}")
        return con

    def close(self) -> None:
        self.con.close()


def copy_store(src: StateStore, dst: StateStore) -> dict[str, int]:
    """Every row of every state table from `src` into `dst` (emptied first), ids kept: move a
    one-machine home's state to a server. Returns rows per table."""
    counts = {}
    with dst.tx() as con:
        for table, cols in declared_columns().items():
            if table == "meta":
                continue
            con.execute(f"DELETE FROM {table}")
            rows = src.rows(f"SELECT {', '.join(cols)} FROM {table}")
            con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            [list(r.values()) for r in rows])
            counts[table] = len(rows)
        for key in ("dataset",):
            value = src.get_meta(key)
            if value is not None:
                dst.set_meta(con, key, value)
        if isinstance(dst, PostgresStateStore):
            # Identities continue after the copied ids.
            for table, cols in declared_columns().items():
                if "id" in cols:
                    con.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
    return counts
