"""Process-wide cancellation: one place that says "stop now" and one way to obey it.

Whatever decides the process must stop (SIGINT/SIGTERM, a warehouse lease that could not be
renewed before it lapsed) calls `request(reason, exit_code)`. That interrupts every registered
DuckDB connection (the statement in flight raises) and makes `check()` raise `Cancelled`, so the
runner starts nothing new. Code that catches errors to record a unit `failed` must first call
`check()`: an interrupted statement is not a failure of the unit, it is left as it was so that
resume reruns it."""
from __future__ import annotations

import threading
from typing import Any


class Cancelled(BaseException):
    """The process was asked to stop. A BaseException, so `except Exception` never swallows it."""

    def __init__(self, reason: str, exit_code: int):
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


_lock = threading.Lock()
_request: Cancelled | None = None
_connections: set[Any] = set()


def request(reason: str, exit_code: int) -> None:
    """Ask the process to stop; the first request wins. Safe from signal handlers and threads."""
    global _request
    with _lock:
        if _request is None:
            _request = Cancelled(reason, exit_code)
        cons = list(_connections)
    for con in cons:
        try:
            con.interrupt()
        except Exception:       # a closed connection has nothing to interrupt
            pass


def requested() -> Cancelled | None:
    return _request


def check() -> None:
    """Raise Cancelled if a stop was requested."""
    if _request is not None:
        raise Cancelled(_request.reason, _request.exit_code)


def register(con: Any) -> None:
    """A connection whose statement in flight a stop request interrupts (DuckDB: .interrupt())."""
    with _lock:
        _connections.add(con)
    if _request is not None:
        try:
            con.interrupt()
        except Exception:
            pass


def unregister(con: Any) -> None:
    with _lock:
        _connections.discard(con)


def reset() -> None:
    """Forget a stop request (tests; a long-lived process after it handled one)."""
    global _request
    with _lock:
        _request = None
