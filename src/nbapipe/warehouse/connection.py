"""Opening the warehouse file, running queries, replacing date slices."""
from __future__ import annotations

import datetime as dt
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb

from nbapipe import cancel, config


class WarehouseBusy(RuntimeError):
    """Another process holds the DuckDB file (DuckDB admits one writer and no reader beside it)."""

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid


class WarehouseError(RuntimeError):
    """The DuckDB file cannot be used (corrupt, not a DuckDB file, its disk full): one line
    saying what to do; the CLI exits 2."""


def _holder_pid(message: str) -> int | None:
    m = re.search(r"\(PID (\d+)\)", message)
    return int(m.group(1)) if m else None


def program_of(pid: int | None) -> str:
    """What a process on this host runs, for "who holds the file" (its command line, cut)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, TypeError):
        return "another process"
    words = [a.decode(errors="replace") for a in argv if a]
    # python .../nbapipe sql ...: show from the nbapipe word on.
    for i, w in enumerate(words):
        if w.endswith("nbapipe") or w == "nbapipe.cli":
            words = ["nbapipe", *words[i + 1:]]
            break
    # The command, not where it runs: --home and --state are this home's anyway.
    shown, skip = [], False
    for w in words:
        if skip or w in ("--home", "--state"):
            skip = not skip
            continue
        if not w.startswith(("--home=", "--state=")):
            shown.append(w)
    words = shown
    text = " ".join(words)
    return text if len(text) <= 80 else text[:77] + "..."


# What table_exists and columns read: one snapshot of the database's tables and views with their
# columns per connection, taken on first use and retaken once any connection of this process
# changed the catalog: after its DDL statement (other than on temp objects) and again when its
# transaction ends (only then do other connections see the change). A daily cycle asked the
# catalog ~90 times a morning (~0.7 ms each); most mornings change nothing in it, so one
# snapshot (~4 ms) per connection serves. ATTACH and DETACH change other databases' catalogs
# only (the snapshot is of the current one): a replay morning attaches its staging database.
_DDL = re.compile(
    r"\s*(?:--[^\n]*\n\s*)*(?:(?:CREATE|ALTER)(?!\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s)|DROP|"
    r"USE|IMPORT|LOAD)\b", re.IGNORECASE)
_END = re.compile(r"\s*(?:COMMIT|ROLLBACK|ABORT|END)\b", re.IGNORECASE)
_catalog_generation = 0
# Connections (by id: two Warehouse objects may share one) with a catalog change not yet committed.
_ddl_open: set[int] = set()


def _catalog_changed(con, ddl: bool) -> None:
    global _catalog_generation
    if ddl:
        _ddl_open.add(id(con))
    else:
        _ddl_open.discard(id(con))
    _catalog_generation += 1


class Warehouse:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None, read_only: bool):
        self.con = con
        self.path = path
        self.read_only = read_only
        self._catalog: tuple[int, dict[tuple[str, str], list[str]]] | None = None
        self._threads: int | None = None            # the threads setting, once read (see threads)
        self._default_threads: int | None = None
        # Temp objects this connection holds, by name -> what made them: a run's next processor
        # asking for the same run_dates or view again costs no statement (the engine's set_run,
        # create_view). Shared with the engines wrapping this connection (same temp namespace).
        self.temp_made: dict[str, object] = {}
        # A stop request (Ctrl-C, SIGTERM, a lapsed lease) interrupts the statement in flight
        # (cursors of parallel processors are Warehouses too, so each is registered).
        cancel.register(con)

    # --- reading -------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | dict | None) -> list[tuple]:
        # A process asked to stop (a lost lease, a signal) starts no statement: a writer that
        # may no longer hold the warehouse lease writes nothing more.
        cancel.check()
        ddl = bool(_DDL.match(sql))
        # DuckDB 2 refuses new work on a connection with an undrained result: always drain.
        try:
            cur = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
            self._description = cur.description
            return cur.fetchall() if cur.description else []
        except Exception:
            cancel.check()      # the statement was interrupted: the stop, not an error of the SQL
            raise
        finally:
            if ddl or (id(self.con) in _ddl_open and _END.match(sql)):
                _catalog_changed(self.con, ddl)

    def rows(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[dict]:
        """Run a query, return a list of dicts (column name -> value)."""
        data = self._run(sql, params)
        cols = [d[0] for d in self._description or []]
        return [dict(zip(cols, r)) for r in data]

    def tuples(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        return self._run(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
        data = self._run(sql, params)
        return data[0][0] if data else None

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> None:
        self._run(sql, params)

    # The database's own tables and views (not temp ones, not those of attached databases).
    def table_exists(self, qualified: str) -> bool:
        return tuple(qualified.split(".")) in self._catalog_snapshot()

    def columns(self, qualified: str) -> list[str]:
        return list(self._catalog_snapshot().get(tuple(qualified.split(".")), []))

    def _catalog_snapshot(self) -> dict[tuple[str, str], list[str]]:
        if self._catalog is None or self._catalog[0] != _catalog_generation:
            generation = _catalog_generation
            rows = self._run("SELECT schema_name, table_name, list(column_name ORDER BY column_index) "
                             "FROM duckdb_columns() WHERE database_name = current_database() GROUP BY ALL", None)
            self._catalog = (generation, {(s, t): cols for s, t, cols in rows})
        return self._catalog[1]

    @contextmanager
    def threads(self, n: int | None) -> Iterator[None]:
        """DuckDB's worker threads (a setting of the database, not of this connection) set to
        `n` for the block (None: DuckDB's default, one per core), then back to what they were.
        Nothing is set when they already are `n`: a daily cycle sets one thread once for all
        its runs, and each run asking for one again costs no statement (a pair of SETs, which
        stop or start DuckDB's threads, took ~5 ms). Only this method changes the setting."""
        if self._threads is None:
            self._threads = self._default_threads = int(self.scalar("SELECT current_setting('threads')"))
        before, n = self._threads, self._default_threads if n is None else int(n)
        if n == before:
            yield
            return
        self.execute(f"SET threads = {n}")
        self._threads = n
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {before}")    # also after a stop request
            self._threads = before

    # --- writing -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            self.temp_made.clear()              # a temp object made inside is gone again
            try:
                self.con.execute("ROLLBACK")    # not self.execute: it refuses after a stop request
            except duckdb.Error:
                pass                            # an interrupted statement already aborted it
            finally:
                if id(self.con) in _ddl_open:   # a table it created is gone again
                    _catalog_changed(self.con, False)
            raise

    def replace_slices(self, table: str, slice_col: str, dates: Sequence[dt.date],
                       select_sql: str, params: Sequence[Any] | dict | None = None) -> None:
        """Replace exactly the rows of `table` whose `slice_col` is in `dates` by the rows of
        `select_sql` (caller wraps this in a transaction with its ledger rows' writes).

        Rows of the SELECT outside `dates` are not written: a processor may compute a wider
        range, only the requested slices change."""
        date_list = list(dates)
        self.execute("CREATE OR REPLACE TEMP TABLE _slice_dates (d DATE)")
        if date_list:
            self.con.executemany("INSERT INTO _slice_dates VALUES (?)", [[d] for d in date_list])
        if not self.table_exists(table):
            self.execute(f"CREATE TABLE {table} AS SELECT * FROM ({select_sql}) WHERE false", params)
        self.execute(f"DELETE FROM {table} WHERE {slice_col} IN (SELECT d FROM _slice_dates)")
        cols = ", ".join(self.columns(table))
        self.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM ({select_sql}) "
            f"WHERE {slice_col} IN (SELECT d FROM _slice_dates)", params)

    def close(self) -> None:
        cancel.unregister(self.con)
        self.con.close()


# A connection for SQL typed by a user: no file but the warehouse (no COPY TO, EXPORT, ATTACH,
# read_csv of other files, INSTALL), and no setting can be changed back.
SEALED = ("SET enable_external_access = false", "SET lock_configuration = true")


def _connect(path: Path | None, read_only: bool, sealed: bool = False) -> duckdb.DuckDBPyConnection:
    if path is None:
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")     # timestamps are stored as naive UTC
        return con
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `nbapipe ingest` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        msg = str(e)
        if "lock" in msg.lower():
            pid = _holder_pid(msg)
            raise WarehouseBusy(
                f"the warehouse {path} is in use by another process ({program_of(pid)}, pid {pid}); "
                f"status and monitor read the state store instead", pid) from e
        if "no space left" in msg.lower():
            raise WarehouseError(f"cannot write the warehouse {path}: the disk is full. Free space on "
                                 f"that disk (or move the home), then run the command again") from None
        if "not a valid duckdb" in msg.lower() or "corrupt" in msg.lower():
            raise WarehouseError(_corrupt(path, msg)) from None
        raise
    except duckdb.Error as e:       # a file DuckDB cannot read as a database (SerializationException, ...)
        if path.exists() and not isinstance(e, duckdb.InterruptException):
            raise WarehouseError(_corrupt(path, str(e))) from None
        raise
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on stdout for long statements: it would corrupt --json output.
    con.execute("SET enable_progress_bar = false")
    _memory_limit(con)
    for stmt in SEALED if sealed else ():     # after TimeZone: its extension loads from a file
        con.execute(stmt)
    return con


def _memory_limit(con: duckdb.DuckDBPyConnection) -> None:
    limit = config.duckdb_memory_limit()
    try:
        con.execute("SET memory_limit = ?", [limit])
    except duckdb.Error as e:
        con.close()
        raise WarehouseError(f"NBAPIPE_DUCKDB_MEMORY must be a size such as 1GB or 512MB, got {limit!r} "
                             f"({str(e).splitlines()[0]})") from None


def _corrupt(path: Path, msg: str) -> str:
    first = msg.strip().splitlines()[0] if msg.strip() else "unreadable"
    return (f"the warehouse {path} is not a readable DuckDB database (corrupt or overwritten: {first[:160]}). "
            f"Move it aside and restore it from a backup, or rebuild it: `nbapipe ingest` then `nbapipe backfill`")


def connect_when_free(path: Path, on_busy: Callable[[dict], None] | None = None,
                      wait: float | None = None, poll: float = 0.5) -> duckdb.DuckDBPyConnection:
    """A writable connection, waiting while another process has the file open (a reader: `nbapipe
    sql`, a dry run, the dashboard) as a writer waits for the lease; `on_busy` hears who holds it
    (once per holder). WarehouseBusy after `wait` seconds (None: no limit)."""
    from nbapipe.config import host_name
    deadline = None if wait is None else time.monotonic() + wait
    told = None
    while True:
        try:
            return _connect(path, read_only=False)
        except WarehouseBusy as e:
            if on_busy and told != e.pid:
                on_busy({"purpose": f"{program_of(e.pid)}, which has the DuckDB file open", "host": host_name(),
                         "pid": e.pid, "acquired_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
                told = e.pid
            if deadline is not None and time.monotonic() > deadline:
                raise
        cancel.check()
        time.sleep(poll)


@contextmanager
def open_warehouse(path: Path | None, read_only: bool = False, *, on_busy: Callable[[dict], None] | None = None,
                   wait_busy: bool = False, wait: float | None = None,
                   sealed: bool = False) -> Iterator[Warehouse]:
    """Open the warehouse file (None: in memory, for tests). `wait_busy`: a writer waits for
    the processes that have the file open (see connect_when_free) instead of failing.
    `sealed`: statements reach no other file and change no setting (SEALED)."""
    if wait_busy and path is not None and not read_only:
        con = connect_when_free(path, on_busy, wait)
    else:
        con = _connect(path, read_only, sealed)
    wh = Warehouse(con, path, read_only)
    try:
        yield wh
    finally:
        wh.close()
