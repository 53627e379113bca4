"""The DuckDB engine: the embedded default. It is the warehouse connection itself (a Warehouse),
so processors with a compute hook get the connection they expect; slices are replaced in one
transaction (delete the slice, insert the new rows)."""
from __future__ import annotations

import datetime as dt

from nbapipe.engines.base import Engine
from nbapipe.processors.base import Processor
from nbapipe.warehouse import Warehouse


class DuckDBEngine(Warehouse, Engine):
    name = "duckdb"

    @classmethod
    def wrap(cls, wh: Warehouse) -> "DuckDBEngine":
        """The engine over an open warehouse (same connection: its temp tables, its transaction)."""
        if isinstance(wh, DuckDBEngine):
            return wh
        engine = cls(wh.con, wh.path, wh.read_only)
        engine.temp_made = wh.temp_made
        return engine

    def cursor(self) -> "DuckDBEngine":
        # A DuckDB cursor is a connection of its own: its own temp tables, same database.
        return DuckDBEngine(self.con.cursor(), self.path, False)

    # set_run and create_view make a temp object only when this connection does not hold the same
    # one yet (temp_made): a run's processors mostly share their dates, lookback and source views,
    # and a daily morning's 12 units asked for ~60 such statements (~3 ms each for a view).
    def set_run(self, dates: list[dt.date], lookback_start: dt.date, run_id: str) -> None:
        def make_dates() -> None:
            self.execute("CREATE OR REPLACE TEMP TABLE run_dates (game_date DATE)")
            self.con.executemany("INSERT INTO run_dates VALUES (?)", [[d] for d in dates])
        bounds = (dates[0], dates[-1], lookback_start, run_id)
        self._make_temp("run_dates", tuple(dates), make_dates)
        self._make_temp("run_bounds", bounds, lambda: self.execute(
            "CREATE OR REPLACE TEMP TABLE run_bounds AS SELECT CAST(? AS DATE) AS start_date, CAST(? AS DATE) "
            "AS end_date, CAST(? AS DATE) AS lookback_start, CAST(? AS VARCHAR) AS run_id", list(bounds)))

    def create_view(self, name: str, sql: str) -> None:
        self._make_temp(name, sql, lambda: self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}"))

    def _make_temp(self, name: str, key: object, make) -> None:
        """Run `make` unless this connection already holds `name` made from the same `key`."""
        if self.temp_made.get(name) != key:
            self.temp_made.pop(name, None)      # a failed make leaves no stale claim
            make()
            self.temp_made[name] = key

    def materialize(self, out: str, sql: str) -> None:
        self.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS {sql}")

    def write_slices(self, p: Processor, out: str, dates: list[dt.date]) -> None:
        with self.transaction():
            if not self.table_exists(p.table):
                self.execute(f"CREATE SCHEMA IF NOT EXISTS {p.schema}")
                self.execute(f"CREATE TABLE {p.table} AS SELECT * FROM {out} WHERE false")
            self._add_new_columns(p.table, out)
            cols = self.columns(p.table)
            self.execute(f"DELETE FROM {p.table} WHERE {p.slice_column} IN (SELECT game_date FROM run_dates)")
            self.execute(f"INSERT INTO {p.table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {out} "
                         f"ORDER BY {', '.join(p.key)}")

    def _add_new_columns(self, table: str, out: str) -> None:
        # Additive migration: a processor whose output gained columns (a new feature version)
        # adds them to the stored table; the rows already there read NULL in them.
        have = set(self.columns(table))
        for name, dtype in self.tuples(f"SELECT column_name, column_type FROM (DESCRIBE {out})"):
            if name not in have:
                self.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {dtype}')
