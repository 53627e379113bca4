"""Process-wide cancellation: one place that says "stop now" and one way to obey it.

Whatever decides the process must stop (SIGINT/SIGTERM, a warehouse lease that could not be
renewed before it lapsed) calls `request(reason, exit_code)`. That interrupts every registered
DuckDB connection (the statement in flight raises) and makes `check()` raise `Cancelled`, so the
runner starts nothing new. Code that catches errors to record a unit `failed` must first call
`check()`: an interrupted statement is not a failure of the unit, it is left as it was so that
resume reruns it.

Signals (`on_signals`): the first SIGINT or SIGTERM requests the stop. Outside a `deferred()`
region the handler also raises `Cancelled` at once, as Ctrl-C raises KeyboardInterrupt (a
process waiting for a lease or parsing files stops there; every such place already cleans up
on BaseException). Inside one (the runner, a step of an orchestrator) nothing is raised
asynchronously: the statement in flight is interrupted and the code stops at its next check,
so a unit is never half recorded. A second signal exits at once (os._exit)."""
from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator


class Cancelled(BaseException):
    """The process was asked to stop. A BaseException, so `except Exception` never swallows it."""

    def __init__(self, reason: str, exit_code: int):
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code
        # What was done and what is left, said by whoever knows (the runner, a worker).
        self.summary = ""

    def line(self) -> str:
        """The one line a command prints when it stops for this request."""
        return f"{self.reason}: {self.summary}" if self.summary else f"{self.reason}; rerun the same command to resume"


# Reentrant: a signal handler runs in the main thread, possibly while that thread holds it.
_lock = threading.RLock()
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
    global _request, _signals
    with _lock:
        _request = None
        _signals = 0


def sleep(seconds: float, step: float = 0.1) -> None:
    """time.sleep that ends early, raising Cancelled, once a stop is requested."""
    end = time.monotonic() + seconds
    while True:
        check()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))


class StopFlag:
    """A threading.Event for loops that wait on one (`is_set`, `wait`, `set`), also set by a
    stop request. Its wait polls in short slices instead of being woken: a signal handler
    must not take the Event's lock, which the interrupted thread may hold."""

    def __init__(self, event: threading.Event | None = None, step: float = 0.1):
        self.event = event or threading.Event()
        self.step = step

    def is_set(self) -> bool:
        return self.event.is_set() or _request is not None

    def set(self) -> None:
        self.event.set()

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = self.step if end is None else min(self.step, end - time.monotonic())
            if left <= 0:
                return False
            self.event.wait(left)
        return True


# --- signals -------------------------------------------------------------------------------

SIGNALS = {signal.SIGINT: ("SIGINT", 130), signal.SIGTERM: ("SIGTERM", 143)}
_deferred = 0          # depth of deferred() regions (main thread: where handlers run)
_signals = 0           # signals received since the handlers were installed


@contextmanager
def deferred() -> Iterator[None]:
    """A region where a signal never raises asynchronously: the code inside checks (check(), a
    statement that raises because it was interrupted) and stops between its own steps."""
    global _deferred
    if threading.current_thread() is not threading.main_thread():
        yield                  # handlers run in the main thread only: nothing to defer
        return
    _deferred += 1
    try:
        yield
    finally:
        _deferred -= 1


def _handle(signum, frame) -> None:
    global _signals
    name, code = SIGNALS[signum]
    _signals += 1
    if _signals > 1:           # a second Ctrl-C: stop now, whatever is in flight
        os.write(2, f"{name} again: exiting at once\n".encode())
        os._exit(code)
    request(f"interrupted by {name}", code)
    if not _deferred:
        check()


@contextmanager
def on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM request a stop (exit code 130 and 143) while the block runs; the
    previous handlers and a clean slate come back after it (in-process callers, tests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    try:
        yield
    except BaseException:
        # Leaving with an error: a stop request stays, so whoever reports the error (cli main)
        # says the stop was the cause (a lost lease makes the next state read fail too).
        _restore(previous)
        raise
    _restore(previous)
    reset()


def _restore(previous: dict) -> None:
    for s, h in previous.items():
        signal.signal(s, h)
