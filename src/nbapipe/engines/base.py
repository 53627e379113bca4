"""The engine interface the runner uses: run a processor's SQL over a date set with its lookback,
replace output slices, read table coverage.

SQL handed to an engine is DuckDB's dialect (the processors' own); an engine for another dialect
transpiles it (engines.transpile). Parameters are bound (`?`), never formatted into the text.
The runner owns planning, the ledger, events and resume, whichever engine runs the SQL.
"""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from typing import Any, Sequence

from nbapipe.processors.base import Processor

ENGINES = ("duckdb", "spark")


class EngineError(RuntimeError):
    """An engine cannot do what was asked (e.g. Spark and a processor that is not one SELECT)."""


class Engine(ABC):
    name: str = ""
    # Mixed into the input fingerprints: a unit done by one engine is stale for another (its
    # tables live elsewhere). Empty for DuckDB, so its fingerprints are what they always were.
    fingerprint_tag: str = ""

    # --- reading ----------------------------------------------------------------------
    @abstractmethod
    def tuples(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]: ...

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict]: ...

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        data = self.tuples(sql, params)
        return data[0][0] if data else None

    @abstractmethod
    def table_exists(self, qualified: str) -> bool: ...

    @abstractmethod
    def columns(self, qualified: str) -> list[str]: ...

    def confirm_slices(self, table: str, column: str, dates: set[dt.date]) -> set[dt.date]:
        """Of the `dates` the ledger says `table` holds, those this engine's storage holds.
        DuckDB keeps tables and ledger in one home and trusts the ledger."""
        return dates

    # --- running a processor ----------------------------------------------------------
    @abstractmethod
    def cursor(self) -> "Engine":
        """A handle for one worker thread: its own run tables, views and outputs."""

    def check_supported(self, p: Processor) -> None:
        """Raise EngineError when this engine cannot run `p`."""

    @abstractmethod
    def set_run(self, dates: list[dt.date], lookback_start: dt.date, run_id: str) -> None:
        """Temp tables run_dates(game_date) and run_bounds(start_date, end_date, lookback_start,
        run_id) that every processor SELECT reads."""

    @abstractmethod
    def create_view(self, name: str, sql: str) -> None:
        """A temporary view (the fallback chains' src_<chain>)."""

    @abstractmethod
    def materialize(self, out: str, sql: str) -> None:
        """Temp table `out` holding the rows of one SELECT, computed once."""

    @abstractmethod
    def write_slices(self, p: Processor, out: str, dates: list[dt.date]) -> None:
        """Replace exactly the `dates` slices of p.table by the rows of `out`, all or nothing
        per engine's means (one transaction in DuckDB, dynamic partition overwrite in Spark).
        `dates` are run_dates (set_run); the runner narrows both to the dates that passed
        their checks, since only a successful computation replaces a slice."""

    def close(self) -> None:
        pass
