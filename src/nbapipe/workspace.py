"""A home directory: its settings, its state store, and turns at writing its warehouse.

Every process that writes the warehouse takes the warehouse lease first (DESIGN section 3):
others wait, say who holds it, and never fail for it.

With a state store shared by several hosts (PostgreSQL), the DuckDB file stays single-host: the
first host that writes it owns it (meta `duckdb_host`), and writers on any other host are
refused, not queued (a DuckDB file on a network share written from two hosts is corrupted;
leases only order writers that share one file system safely). Workers on other hosts run with
the Spark engine instead."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from nbapipe.config import Settings, host_name, load_settings
from nbapipe.state import StateStore, connect
from nbapipe.state import leases
from nbapipe.warehouse import Warehouse, ensure_schema, open_warehouse


class WarehouseElsewhere(RuntimeError):
    """This host may not write the home's DuckDB warehouse: another host owns it."""


class Workspace:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._state: StateStore | None = None

    @classmethod
    def at(cls, home: str | Path | None = None) -> "Workspace":
        return cls(load_settings(home))

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def state(self) -> StateStore:
        if self._state is None:
            self._state = connect(self.settings.state_location)
        return self._state

    def has_warehouse(self) -> bool:
        return self.settings.warehouse_path.exists()

    @contextmanager
    def writer(self, purpose: str, on_wait: Callable[[dict], None] | None = None,
               wait: float | None = None) -> Iterator[Warehouse]:
        """The warehouse, opened for writing while holding its lease."""
        self.check_duckdb_host()
        with leases.hold(self.state, leases.WAREHOUSE, purpose, on_wait=on_wait, wait=wait):
            with open_warehouse(self.settings.warehouse_path) as wh:
                ensure_schema(wh)
                yield wh

    def check_duckdb_host(self) -> None:
        """On a shared state store: claim the DuckDB warehouse for this host the first time,
        then raise WarehouseElsewhere on every other host."""
        st = self.state
        if st.kind == "sqlite":      # the state lives in the home: one host by construction
            return
        me = host_name()
        if st.get_meta("duckdb_host") is None:
            with st.tx() as con:      # the first claim wins; a later one inserts nothing
                con.execute("INSERT INTO meta (key, value) VALUES ('duckdb_host', ?) ON CONFLICT (key) DO NOTHING", [me])
        owner = st.get_meta("duckdb_host")
        if owner != me:
            raise WarehouseElsewhere(
                f"this home's DuckDB warehouse is written on host {owner}, and this is host {me}: DuckDB "
                f"is one file that one host writes. Run this on {owner}, or run workers here with "
                f"--engine spark (tables in a Spark warehouse every host reaches). If the warehouse "
                f"moved to this host for good: `nbapipe state claim-warehouse`.")

    def duckdb_here(self) -> bool:
        """This host has the DuckDB warehouse and may write it (it owns it, or nobody does yet)."""
        return self.has_warehouse() and self.state.get_meta("duckdb_host") in (None, host_name())

    @contextmanager
    def reader(self) -> Iterator[Warehouse]:
        """The warehouse, read-only (fails with WarehouseBusy while a writer has it open)."""
        with open_warehouse(self.settings.warehouse_path, read_only=True) as wh:
            yield wh

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
