"""The SQLite state store: run ledger, leases, calendar copy (and later the event bus).

Nothing outside this package opens the SQLite file. Everything a second process must read
while a backfill writes the warehouse lives here."""
from nbapipe.state.store import StateStore, open_state

__all__ = ["StateStore", "open_state"]
