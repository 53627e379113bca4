"""Opening the warehouse file, running queries, replacing date slices."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from nbapipe import cancel


class WarehouseBusy(RuntimeError):
    """Another process holds the DuckDB file (DuckDB admits one writer and no reader beside it)."""


class Warehouse:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None, read_only: bool):
        self.con = con
        self.path = path
        self.read_only = read_only
        # A stop request (Ctrl-C, SIGTERM, a lapsed lease) interrupts the statement in flight.
        cancel.register(con)

    # --- reading -------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | dict | None) -> list[tuple]:
        # DuckDB 2 refuses new work on a connection with an undrained result: always drain.
        cancel.check()          # an interrupt between statements is otherwise lost
        try:
            cur = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
            self._description = cur.description
            return cur.fetchall() if cur.description else []
        except Exception:
            cancel.check()      # the statement was interrupted: the stop, not an error of the SQL
            raise

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

    def table_exists(self, qualified: str) -> bool:
        schema, name = qualified.split(".")
        return bool(self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name]))

    def columns(self, qualified: str) -> list[str]:
        schema, name = qualified.split(".")
        return [r["column_name"] for r in self.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position", [schema, name])]

    # --- writing -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            try:
                self.con.execute("ROLLBACK")    # not self.execute: it refuses after a stop request
            except duckdb.Error:
                pass                            # an interrupted statement already aborted it
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


def _connect(path: Path | None, read_only: bool) -> duckdb.DuckDBPyConnection:
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
        if "lock" in str(e).lower():
            raise WarehouseBusy(
                f"the warehouse {path} is in use by another process (a backfill, ingest or worker); "
                f"status and monitor read the state store instead. DuckDB says: {e}") from e
        raise
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextmanager
def open_warehouse(path: Path | None, read_only: bool = False) -> Iterator[Warehouse]:
    """Open the warehouse file (None: in memory, for tests)."""
    wh = Warehouse(_connect(path, read_only), path, read_only)
    try:
        yield wh
    finally:
        wh.close()
