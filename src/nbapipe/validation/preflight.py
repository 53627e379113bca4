"""`nbapipe preflight`: before a backfill, what each table already has over a range (and why the
rest is missing), and what a backfill of that range will do per phase.

Reads the warehouse read-only (one query per table) and plans with the runner's dry run, so the
numbers are the ones the backfill itself will act on."""
from __future__ import annotations

import datetime as dt

from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.engines import engine_session
from nbapipe.orchestration.runner import BOOTSTRAP, DEGRADED, DONE, NO_GAMES, RUN, UPSTREAM, PlannedUnit, Request, Runner
from nbapipe.validation.coverage import days_between, processor_coverage, raw_coverage, window
from nbapipe.workspace import Workspace

# A date's action for a whole phase is the most telling of its processors' actions: one
# processor lacking an input makes the date a gap even if the others can run; one that will run
# without some dates of its lookback makes it degraded.
ACTION_ORDER = (UPSTREAM, DEGRADED, RUN, DONE, BOOTSTRAP, NO_GAMES)


class ValidationError(RuntimeError):
    """The tool cannot answer (nothing ingested, unknown season): exit code 2."""


def load_calendar(ws: Workspace) -> Calendar:
    cal = Calendar.from_state(ws.state)
    if not cal.dates:
        raise ValidationError("the calendar is empty: run `nbapipe ingest` (or `nbapipe quickstart`) first")
    return cal


def dry_run_plan(wh, st, cal: Calendar, start: dt.date, end: dt.date) -> list[PlannedUnit]:
    """The plan of a backfill of every existing phase over [start, end] (writes nothing).
    All phases are planned together so a later phase sees the earlier phases' planned runs."""
    phases = registry.phases()
    if not phases:
        return []
    return Runner(wh, st, cal).run(Request(dates=days_between(start, end), phases=phases, dry_run=True)).plan


def plan_summary(units: list[PlannedUnit]) -> list[dict]:
    """Per phase: how many dates the backfill will process (fully, or degraded: without some
    lookback dates), find already done, skip as bootstrap, lack inputs for (which, also the
    lookback dates a degraded run will do without), or skip for having no games."""
    by_phase: dict[int, dict[dt.date, list[PlannedUnit]]] = {}
    for u in units:
        by_phase.setdefault(u.phase, {}).setdefault(u.game_date, []).append(u)
    out = []
    for phase in sorted(set(registry.MODULES) | set(by_phase)):
        days = by_phase.get(phase, {})
        dates: dict[str, list[str]] = {a: [] for a in ACTION_ORDER}
        inputs: dict[str, set[str]] = {}
        for d, us in sorted(days.items()):
            action = min((DEGRADED if u.degraded else u.action for u in us), key=ACTION_ORDER.index)
            dates[action].append(d.isoformat())
            for u in us:
                for name, ds in (u.missing_inputs or {}).items():
                    inputs.setdefault(name, set()).update(ds)
        out.append({"phase": phase, "built": bool(days),
                    "processors": sorted({u.processor for us in days.values() for u in us}),
                    "counts": {a: len(v) for a, v in dates.items()}, "dates": dates,
                    "missing_inputs": {k: sorted(v) for k, v in inputs.items()}})
    return out


def preflight(ws: Workspace, start: dt.date, end: dt.date, phase: int | None = None,
              engine: str | None = None) -> dict:
    """Everything `nbapipe preflight` reports (raises WarehouseBusy while a writer has the file).
    The plan and the Phase 3+ tables are the `engine`'s (--engine, else the home's setting), as
    `backfill --dry-run` plans them; raw tables always live in DuckDB."""
    cal = load_calendar(ws)
    with ws.reader() as wh, engine_session(ws, wh, engine) as eng:
        plan = dry_run_plan(eng, ws.state, cal, start, end)
        tables = raw_coverage(wh, cal, start, end) if phase in (None, 2) else []
        if phase != 2:
            by_unit = {(u.processor, u.game_date): u for u in plan}
            tables += processor_coverage(ws.state, cal, start, end, phases=[phase] if phase else None,
                                         wh=eng, plan=by_unit)
    for t in tables:
        t["pct"] = round(100.0 * t["present"] / t["expected"], 1) if t["expected"] else None
    return {**window(cal, start, end), "phase": phase, "tables": tables, "plan": plan_summary(plan)}
