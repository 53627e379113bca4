"""A home directory: its settings, its state store, and turns at writing its warehouse.

Every process that writes the warehouse takes the warehouse lease first (DESIGN section 3):
others wait, say who holds it, and never fail for it."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from nbapipe.config import Settings, load_settings
from nbapipe.state import StateStore
from nbapipe.state import leases
from nbapipe.warehouse import Warehouse, ensure_schema, open_warehouse


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
            self._state = StateStore(self.settings.state_path)
        return self._state

    def has_warehouse(self) -> bool:
        return self.settings.warehouse_path.exists()

    @contextmanager
    def writer(self, purpose: str, on_wait: Callable[[dict], None] | None = None,
               wait: float | None = None) -> Iterator[Warehouse]:
        """The warehouse, opened for writing while holding its lease."""
        with leases.hold(self.state, leases.WAREHOUSE, purpose, on_wait=on_wait, wait=wait):
            with open_warehouse(self.settings.warehouse_path) as wh:
                ensure_schema(wh)
                yield wh

    @contextmanager
    def reader(self) -> Iterator[Warehouse]:
        """The warehouse, read-only (fails with WarehouseBusy while a writer has it open)."""
        with open_warehouse(self.settings.warehouse_path, read_only=True) as wh:
            yield wh

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
