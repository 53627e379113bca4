"""`nbapipe monitor`: backfill progress per phase, table and season, processing rate and ETA,
recent failures.

Reads only the state store (ledger, runs, leases, calendar copy): SQLite in WAL mode lets it
read while a backfill in another process writes, and it never touches the DuckDB file, which
admits no reader beside a writer."""
from __future__ import annotations

import datetime as dt
import os

from nbapipe.calendar import Calendar
from nbapipe.config import host_name
from nbapipe.state import leases, ledger
from nbapipe.validation.coverage import processor_coverage


def snapshot(st, cal: Calendar, start: dt.date, end: dt.date, failures: int = 10) -> dict:
    """One reading of the progress over [start, end]."""
    game_dates = cal.game_dates(start, end)
    latest = ledger.latest_map(st, start=start, end=end)       # one read of the ledger
    tables = [_progress(t) for t in processor_coverage(st, cal, start, end, latest=latest)]
    seasons = []
    for season in sorted({cal.season_of(d) for d in game_dates}):
        lo, hi = cal.season_dates(season)
        rows = processor_coverage(st, cal, max(lo, start), min(hi, end), latest=latest)
        seasons.append({"season": season, "phases": _by_phase([_progress(t) for t in rows])})
    phases = _by_phase(tables)
    runs = active_runs(st)
    remaining = sum(p["expected"] - p["done"] for p in phases)
    rate = sum(r["rate_per_s"] for r in runs)
    return {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "start_date": start.isoformat(), "end_date": end.isoformat(),
        "days": (end - start).days + 1, "game_dates": len(game_dates),
        "no_game_dates": (end - start).days + 1 - len(game_dates),
        "bootstrap_dates": sum(cal.is_bootstrap(d) for d in game_dates),
        "phases": phases, "tables": tables, "seasons": seasons,
        "runs": runs, "rate_per_s": round(rate, 1),
        "eta_s": round(remaining / rate, 1) if rate > 0 and runs else None,
        "last_run": last_run(st),
        "failures": recent_failures(latest, failures),
        "leases": leases.current(st),
    }


def _progress(t: dict) -> dict:
    """A coverage row as progress counts: done of expected, what the rest is, and the
    bootstrap dates apart (skipped on purpose, never expected)."""
    m = t["missing_statuses"]
    return {"table": t["table"], "processor": t["processor"], "phase": t["phase"],
            "expected": t["expected"], "done": t["present"], "rows": t["rows"],
            "partial": m.get("partial", 0), "degraded": m.get("degraded", 0),
            "upstream_missing": m.get("upstream_missing", 0), "stale": m.get("stale", 0),
            "failed": m.get("failed", 0), "not_run": m.get("not_run", 0),
            "bootstrap": len(t["bootstrap_dates"]), "pct": _pct(t["present"], t["expected"])}


def _by_phase(tables: list[dict]) -> list[dict]:
    keys = ("expected", "done", "rows", "partial", "degraded", "upstream_missing", "stale", "failed", "not_run", "bootstrap")
    out: dict[int, dict] = {}
    for t in tables:
        p = out.setdefault(t["phase"], {"phase": t["phase"], "processors": 0, **{k: 0 for k in keys}})
        p["processors"] += 1
        for k in keys:
            p[k] += t[k]
    for p in out.values():
        p["pct"] = _pct(p["done"], p["expected"])
    return [out[k] for k in sorted(out)]


def _pct(done: int, expected: int) -> float | None:
    return round(100.0 * done / expected, 1) if expected else None


def active_runs(st) -> list[dict]:
    """Runs still marked running whose process is alive, with their rate from the ledger."""
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for r in st.rows("SELECT r.*, (SELECT count(*) FROM run_ledger l WHERE l.run_id = r.run_id) AS units "
                     "FROM runs r WHERE status = 'running' ORDER BY started_at"):
        if not _alive(r):
            continue
        elapsed = max((now - dt.datetime.fromisoformat(r["started_at"])).total_seconds(), 1e-3)
        out.append({"run_id": r["run_id"], "command": r["command"], "phases": r["phases"],
                    "start_date": r["start_date"], "end_date": r["end_date"], "host": r["host"],
                    "pid": r["pid"], "started_at": r["started_at"], "units": r["units"],
                    "elapsed_s": round(elapsed, 1), "rate_per_s": round(r["units"] / elapsed, 1)})
    return out


def _alive(run: dict) -> bool:
    """A run whose process on this host is gone crashed (its row still says running)."""
    if run["host"] != host_name() or not run["pid"]:
        return True
    try:
        os.kill(run["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def last_run(st) -> dict | None:
    r = st.rows("SELECT r.*, (SELECT count(*) FROM run_ledger l WHERE l.run_id = r.run_id) AS units "
                "FROM runs r WHERE status <> 'running' ORDER BY finished_at DESC LIMIT 1")
    if not r:
        return None
    r = r[0]
    secs = (dt.datetime.fromisoformat(r["finished_at"]) - dt.datetime.fromisoformat(r["started_at"])).total_seconds()
    return {"run_id": r["run_id"], "command": r["command"], "status": r["status"], "units": r["units"],
            "seconds": round(secs, 1), "finished_at": r["finished_at"],
            "rate_per_s": round(r["units"] / secs, 1) if secs > 0 else None}


def recent_failures(latest: dict, limit: int) -> list[dict]:
    """Units whose latest outcome (ledger.latest_map) is failed, newest first, with their errors."""
    rows = [r for r in latest.values() if r["status"] == "failed"]
    rows.sort(key=lambda r: (r["finished_at"], r["game_date"]), reverse=True)
    return [{"processor": r["processor"], "phase": r["phase"], "date": r["game_date"], "error": r["error"],
             "run_id": r["run_id"], "finished_at": r["finished_at"]} for r in rows[:limit]]
