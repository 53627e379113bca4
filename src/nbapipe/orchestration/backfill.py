"""`nbapipe backfill`: the runner under the warehouse lease, with the calendar from the state
store. Used by the CLI, the guide's backfill_jobs entry points and the phase workers."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from nbapipe import cancel
from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.config import engine_name, host_name
from nbapipe.engines import EngineError, engine_session
from nbapipe.orchestration.runner import Report, Request, Runner
from nbapipe.state.ledger import UnitResult, close_dead_runs
from nbapipe.workspace import Workspace


class BackfillError(ValueError):
    """A request that cannot be planned (usage error, exit code 2)."""


def expand_dates(start: dt.date | None, end: dt.date | None, dates: list[dt.date] | None) -> list[dt.date]:
    if dates:
        if start or end:
            raise BackfillError("give either --start-date/--end-date or --dates, not both")
        return sorted(set(dates))
    if not start or not end:
        raise BackfillError("give --start-date and --end-date (or --dates D1,D2,...)")
    if end < start:
        raise BackfillError(f"--end-date {end} is before --start-date {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def parse_phases(phase: str) -> list[int]:
    existing = registry.phases()
    if phase == "all":
        return existing
    try:
        n = int(phase)
    except ValueError:
        raise BackfillError(f"--phase must be 3, 4, 5 or all, got {phase!r}") from None
    if n not in existing:
        raise BackfillError(f"phase {n} has no processors yet; existing phases: {', '.join(map(str, existing))}")
    return [n]


def run_backfill(ws: Workspace, req: Request, on_event: Callable[[str, dict], None] | None = None,
                 on_wait: Callable[[dict], None] | None = None,
                 unit_done: Callable[[UnitResult], None] | None = None,
                 purpose: str | None = None) -> Report:
    """`purpose` is what status shows for this writer (default: the command and phases)."""
    cal = Calendar.from_state(ws.state)
    if not cal.dates:
        raise BackfillError("the calendar is empty: run `nbapipe ingest` (or `nbapipe quickstart`) first")
    events = on_event or (lambda k, i: None)
    if req.dry_run and engine_name(req.engine) == "spark" and not ws.duckdb_here():
        # Another host's Spark worker plans on the mirror it would run on.
        with engine_session(ws, None, "spark", mirror=False) as engine:
            return Runner(engine, ws.state, cal, on_event=events).run(req)
    if req.dry_run:
        # A dry run writes nothing: no lease, a read-only warehouse, no ledger rows.
        with ws.reader() as wh, engine_session(ws, wh, req.engine) as engine:
            return Runner(engine, ws.state, cal, on_event=events).run(req)
    purpose = purpose or f"{req.command} phase {','.join(map(str, req.phases))}"
    close_dead_runs(ws.state)             # runs a SIGKILL left `running` are closed first
    if engine_name(req.engine) == "spark":
        return _run_on_spark(ws, req, cal, events, on_wait, unit_done, purpose)
    # Waiting for the lease, a signal stops the process at once; once the runner runs, it
    # stops between its own steps (cancel.deferred), so no unit is half recorded.
    with ws.writer(purpose, on_wait=on_wait) as wh, engine_session(ws, wh, req.engine) as engine, \
            cancel.deferred():
        return Runner(engine, ws.state, cal, on_event=events, unit_done=unit_done).run(req)


def _run_on_spark(ws: Workspace, req: Request, cal: Calendar, events, on_wait, unit_done, purpose: str) -> Report:
    """A Spark run holds no warehouse lease: it refreshes the raw tables' mirror under the lease
    (on the host that writes DuckDB), then writes each table under that table's lease, so runs
    on several hosts go on at once and take turns only per table (engines.spark)."""
    with engine_session(ws, None, "spark", mirror=False) as engine:
        if ws.duckdb_here():
            with ws.writer(f"{purpose}: raw tables for Spark", on_wait=on_wait) as wh:
                engine.mirror(wh)
        elif not engine.has_mirror():
            raise EngineError(f"the Spark warehouse {engine.root} has no raw tables yet, and this host "
                              f"({host_name()}) does not write the DuckDB warehouse: run `nbapipe backfill "
                              f"--engine spark` once on the host that does")
        engine.lease_store = ws.settings.state_location
        with cancel.deferred():
            return Runner(engine, ws.state, cal, on_event=events, unit_done=unit_done).run(req)

