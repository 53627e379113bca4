"""The state store: run ledger, leases, calendar copy, event bus, orchestrator records.

SQLite in the home by default; PostgreSQL (NBAPIPE_STATE_URL / --state) when workers run on
several hosts. Nothing outside this package opens the store's file or server directly.
Everything a second process must read while a backfill writes the warehouse lives here."""
from nbapipe.state.store import StateStore, connect, exists, open_state

__all__ = ["StateStore", "connect", "exists", "open_state"]
