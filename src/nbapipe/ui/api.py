"""The dashboard's JSON: small functions over the state store only (never the warehouse, which
admits no reader beside a writer), reusing the monitor, the report's colours and the
orchestrator's status so the page says exactly what the terminal tools say.

Every function takes a read-only StateStore and the calendar copy; none writes anything."""
from __future__ import annotations

import datetime as dt

from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.orchestration.events import bus_for
from nbapipe.orchestration.orchestrator import status as orchestrator_status
from nbapipe.orchestration.orchestrator import transitions
from nbapipe.orchestration.worker import RUNNING, WAITING_EARLIER, WAITING_WAREHOUSE, live_workers
from nbapipe.state import ledger
from nbapipe.validation.coverage import all_seasons_range, days_between
from nbapipe.validation.monitor import active_runs, recent_failures, snapshot
from nbapipe.validation.report import COLOURS, LABELS, cell_status

# The report's colours plus the two states only a live page can show.
LIVE_COLOURS = {"running": (30, 136, 229), "waiting": (255, 238, 88)}
LIVE_LABELS = {"running": "running (a run in progress has not recorded it yet)",
               "waiting": "waiting (a worker waits for the warehouse or earlier dates)"}
# Statuses a run in progress will (re)compute; a success is kept by resume, so it stays.
PENDING_FROM = ("not_run", "failed", "upstream_missing", "stale", "partial", "degraded")
MAX_DAYS = 3 * 366 + 31       # /api/units answers at most ~three seasons at once


class ApiError(ValueError):
    """A request the API refuses, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def legend() -> list[dict]:
    colours = {**COLOURS, **LIVE_COLOURS}
    labels = {**LABELS, **LIVE_LABELS}
    return [{"status": s, "label": labels[s], "colour": "rgb({}, {}, {})".format(*c)} for s, c in colours.items()]


# --- parameters ---------------------------------------------------------------------------

def parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(f"{name} must be a date like 2021-10-19 (YYYY-MM-DD), got {value!r}") from None


def date_range(params: dict[str, str], cal: Calendar, max_days: int | None = None) -> tuple[dt.date, dt.date]:
    """start/end from the query (both or neither; default: every season in the calendar)."""
    if ("start" in params) != ("end" in params):
        raise ApiError("give both start and end (YYYY-MM-DD), or neither for every season")
    if "start" in params:
        start, end = parse_date(params["start"], "start"), parse_date(params["end"], "end")
    else:
        span = all_seasons_range(cal)
        if span is None:
            raise ApiError("the calendar is empty: run `nbapipe ingest` first", 404)
        start, end = span
    if end < start:
        raise ApiError(f"end {end} is before start {start}")
    if max_days and (end - start).days + 1 > max_days:
        raise ApiError(f"at most {max_days} days per request, got {(end - start).days + 1}")
    return start, end


def parse_phase(params: dict[str, str]) -> int | None:
    if "phase" not in params:
        return None
    known = registry.phases()
    try:
        phase = int(params["phase"])
    except ValueError:
        raise ApiError(f"phase must be one of {', '.join(map(str, known))}, got {params['phase']!r}") from None
    if phase not in known:
        raise ApiError(f"phase must be one of {', '.join(map(str, known))}, got {phase}")
    return phase


def parse_limit(params: dict[str, str], default: int = 50) -> int:
    try:
        limit = int(params.get("limit", default))
    except ValueError:
        raise ApiError(f"limit must be a whole number, got {params['limit']!r}") from None
    if not 1 <= limit <= 1000:
        raise ApiError(f"limit must be between 1 and 1000, got {limit}")
    return limit


# --- endpoints ----------------------------------------------------------------------------

def summary(st, cal: Calendar, start: dt.date, end: dt.date) -> dict:
    """Progress per phase, table and season (the monitor's snapshot), runs in progress,
    lease holders and waiters, live workers, the seasons and the legend."""
    snap = snapshot(st, cal, start, end, failures=10)
    current = snap.pop("leases")                  # leases.current: holders and waiters, live ones
    held = [l for l in current if l["state"] == "held"]
    waiting = [l for l in current if l["state"] == "waiting"]
    return {**snap, "lease_holders": held, "lease_waiters": waiting, "workers": live_workers(st),
            "latest_activity_season": latest_activity_season(st, cal),
            "calendar": [{k: s[k] for k in ("season", "season_start", "bootstrap_end", "first_game_date",
                                            "last_game_date", "game_date_count")} for s in cal.seasons.values()],
            "legend": legend()}


def latest_activity_season(st, cal: Calendar) -> str | None:
    """The season of the unit the ledger recorded last: where the dashboard opens (the newest
    season may be all "not run yet")."""
    last = st.rows("SELECT game_date FROM run_ledger ORDER BY id DESC LIMIT 1")
    return cal.season_of(dt.date.fromisoformat(last[0]["game_date"])) if last else None


def units(st, cal: Calendar, start: dt.date, end: dt.date, phase: int | None = None) -> dict:
    """Every (processor, date) of the range with its status and, when the ledger has one,
    its latest entry; units a run in progress has not recorded yet are `running`, those of a
    worker waiting for its turn `waiting` (see pending())."""
    procs = {n: p for n, p in registry.all_processors().items() if phase is None or p.phase == phase}
    latest = ledger.latest_map(st, start=start, end=end, processors=list(procs))
    live = pending(st, procs, start, end)
    out = []
    for d in days_between(start, end):
        for name, p in procs.items():
            out.append(_unit(name, p, d, latest.get((name, d)), live.get((name, d)), cal))
    return {"start": start.isoformat(), "end": end.isoformat(), "phase": phase,
            "processors": [{"processor": n, "phase": p.phase, "table": p.table} for n, p in procs.items()],
            "units": out}


def _unit(name: str, p, d: dt.date, row: dict | None, live: dict | None, cal: Calendar) -> dict:
    status = cell_status(p, d, row, cal)
    u = {"processor": name, "phase": p.phase, "date": d.isoformat(), "status": status,
         "ledger_status": row["status"] if row else None, "game_date": cal.is_game_date(d),
         "bootstrap": cal.is_bootstrap(d)}
    if live and (status in PENDING_FROM or live.get("recomputes")):
        u.update(status=live["status"], live=live)
    if row:
        u["ledger"] = {k: row[k] for k in ("run_id", "rows", "expected", "source_used", "duration_s", "error",
                                            "detail", "missing_inputs", "started_at", "finished_at")}
    return u


def pending(st, procs: dict, start: dt.date, end: dt.date) -> dict[tuple[str, dt.date], dict]:
    """What the state store says is in progress, per unit. A run in progress (runs table,
    process alive) covers its phases and date range: the units it has not recorded yet are
    running (the runner records a whole DAG level at once, so these are its current and later
    levels). A worker waiting for the warehouse or for earlier dates (workers table) covers its
    trigger's phase and date: waiting. A backfill waiting for the warehouse has no runs row
    yet and no unit list in the store: it is listed as a lease waiter, not drawn as cells."""
    out: dict[tuple[str, dt.date], dict] = {}
    for r in active_runs(st):
        phases = {int(x) for x in (r["phases"] or "").split(",") if x.strip().isdigit()}
        recorded = {(x["processor"], x["game_date"]) for x in
                    st.rows("SELECT processor, game_date FROM run_ledger WHERE run_id = ?", [r["run_id"]])}
        lo = max(start, dt.date.fromisoformat(r["start_date"]))
        hi = min(end, dt.date.fromisoformat(r["end_date"]))
        for d in days_between(lo, hi):
            for name, p in procs.items():
                if p.phase in phases and (name, d.isoformat()) not in recorded:
                    out[(name, d)] = {"status": "running", "run_id": r["run_id"], "command": r["command"],
                                      "recomputes": r["recomputes"]}
    for w in live_workers(st):
        if w["state"] in (WAITING_WAREHOUSE, WAITING_EARLIER, RUNNING) and w["game_date"]:
            d = dt.date.fromisoformat(w["game_date"])
            if start <= d <= end:
                kind = "running" if w["state"] == RUNNING else "waiting"
                for name, p in procs.items():
                    if p.phase == w["phase"]:
                        out.setdefault((name, d), {"status": kind, "worker": w["worker_id"], "why": w["state"]})
    return out


def orchestrator(st, cal: Calendar, start: dt.date, end: dt.date, phase2_required: str) -> dict:
    """Per date and triggered phase: reported, awaited, blocked, triggered, trigger count
    (the orchestrator's own status function, over the read-only store)."""
    rows = orchestrator_status(st, bus_for(st), transitions(phase2_required), days_between(start, end))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return {"start": start.isoformat(), "end": end.isoformat(), "counts": counts, "dates": rows}


def failures(st, start: dt.date, end: dt.date, limit: int) -> dict:
    """Units whose latest outcome is failed, newest first, with their errors."""
    latest = ledger.latest_map(st, start=start, end=end)
    return {"start": start.isoformat(), "end": end.isoformat(), "failures": recent_failures(latest, limit)}
