"""A home directory: its settings, its state store, and turns at writing its warehouse.

Every process that writes the warehouse takes the warehouse lease first (DESIGN section 3):
others wait, say who holds it, and never fail for it.

With a state store shared by several hosts (PostgreSQL), the DuckDB file stays single-host: the
first host that writes it owns it (meta `duckdb_host`), and writers on any other host are
refused, not queued (a DuckDB file on a network share written from two hosts is corrupted;
leases only order writers that share one file system safely). Workers on other hosts run with
the Spark engine instead.

Only writers create a home (ingest, quickstart, backfill, workers...): a workspace opened for
reading (`Workspace.at(home, reading=True)`: status, verify, sql...) opens the state store
read-only, never writes it (a read-only mount works), and on a folder that is not a home raises
NotAHome instead of creating an empty one there (a typo in --home)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from nbapipe.config import Settings, host_name, load_settings
from nbapipe.state import StateStore, connect, exists
from nbapipe.state import leases
from nbapipe.state.store import StateStoreError, display
from nbapipe.warehouse import Warehouse, ensure_schema, open_warehouse


class WarehouseElsewhere(RuntimeError):
    """This host may not write the home's DuckDB warehouse: another host owns it."""


class NotAHome(StateStoreError):
    """A reading command pointed at a folder that holds no nbapipe home."""


class Workspace:
    def __init__(self, settings: Settings, reading: bool = False):
        self.settings = settings
        self.reading = reading
        self._state: StateStore | None = None
        self._writing: Warehouse | None = None      # the open writer session, if any

    @classmethod
    def at(cls, home: str | Path | None = None, reading: bool = False) -> "Workspace":
        return cls(load_settings(home), reading=reading)

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def state(self) -> StateStore:
        """The state store; read-only for a reading workspace (which never creates one)."""
        if self._state is None:
            if self.reading:
                self.require_home()
            self._state = connect(self.settings.state_location, read_only=self.reading)
        return self._state

    def require_home(self) -> None:
        """NotAHome unless a home (its state store) exists: looking creates nothing."""
        location = self.settings.state_location
        if exists(location):
            return
        if self.settings.state_url:
            raise NotAHome(f"no nbapipe state store at {display(location)} (home {self.home}): check --state "
                           f"/ NBAPIPE_STATE_URL, or run `nbapipe ingest` (or `nbapipe quickstart`) to create it")
        what = "does not exist" if not self.home.exists() else "is not an nbapipe home (no state.sqlite in it)"
        raise NotAHome(f"{self.home} {what}: check --home / NBAPIPE_HOME, or run "
                       f"`nbapipe ingest` (or `nbapipe quickstart`) to create a home there")

    def has_warehouse(self) -> bool:
        return self.settings.warehouse_path.exists()

    @contextmanager
    def writer(self, purpose: str, on_wait: Callable[[dict], None] | None = None,
               wait: float | None = None) -> Iterator[Warehouse]:
        """The warehouse, opened for writing while holding its lease. Re-entrant: inside an
        open session (a `daily` cycle holds one for the whole day) it is that session, so the
        day's runs share one lease and one connection instead of opening the file for each."""
        if self.reading:
            raise RuntimeError("a reading workspace does not write the warehouse")
        if self._writing is not None:
            yield self._writing
            return
        self.check_duckdb_host()
        with leases.hold(self.state, leases.WAREHOUSE, purpose, on_wait=on_wait, wait=wait):
            # Readers (`nbapipe sql`, a dry run) take no lease but hold the file open: wait
            # for them too, saying who, instead of failing.
            with open_warehouse(self.settings.warehouse_path, wait_busy=True, on_busy=on_wait, wait=wait) as wh:
                ensure_schema(wh)
                self._writing = wh
                try:
                    yield wh
                finally:
                    self._writing = None

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
    def reader(self, sealed: bool = False) -> Iterator[Warehouse]:
        """The warehouse, read-only (fails with WarehouseBusy while a writer has it open).
        `sealed`: nor can its statements touch any other file or change a setting (DuckDB's
        enable_external_access=false, lock_configuration): for SQL typed by a user."""
        if self._writing is not None and not sealed:    # this process writes it: read through that
            yield self._writing
            return
        with open_warehouse(self.settings.warehouse_path, read_only=True, sealed=sealed) as wh:
            yield wh

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
