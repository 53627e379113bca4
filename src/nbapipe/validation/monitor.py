"""`nbapipe monitor`: backfill progress per phase, table and season, processing rate and ETA,
recent failures.

Reads only the state store (ledger, runs, leases, calendar copy): SQLite in WAL mode lets it
read while a backfill in another process writes, and it never touches the DuckDB file, which
admits no reader beside a writer."""
from __future__ import annotations

import datetime as dt

from nbapipe.calendar import Calendar
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
    dead = ledger.close_dead_runs(st)       # a run killed without closing its row is crashed
    runs = active_runs(st)
    rate = _phase_rates(st, runs, phases)
    return {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "start_date": start.isoformat(), "end_date": end.isoformat(),
        "days": (end - start).days + 1, "game_dates": len(game_dates),
        "no_game_dates": (end - start).days + 1 - len(game_dates),
        "bootstrap_dates": sum(cal.is_bootstrap(d) for d in game_dates),
        "phases": phases, "tables": tables, "seasons": seasons,
        "runs": runs, "rate_per_s": round(sum(r["rate_per_s"] for r in runs), 1),
        # Phases run one after another at their own speed (Phase 5 trains models): the ETA is
        # the sum of each phase's remaining units over that phase's rate, not one overall rate.
        "eta_s": _eta(phases, runs) if runs else None,
        "last_run": last_run(st, dead),
        "failures": recent_failures(latest, failures),
        "leases": leases.current(st),
    }


def _progress(t: dict) -> dict:
    """A coverage row as progress counts: done of expected, what the rest is, and the
    bootstrap dates apart (skipped on purpose, never expected)."""
    m = t["missing_statuses"]
    return {"table": t["table"], "processor": t["processor"], "phase": t["phase"],
            "expected": t["expected"], "done": t["present"], "rows": t["rows"],
            "partial": m.get("partial", 0), "upstream_missing": m.get("upstream_missing", 0),
            "failed": m.get("failed", 0), "not_run": m.get("not_run", 0),
            "bootstrap": len(t["bootstrap_dates"]), "warmup": len(t.get("warmup_dates", [])),
            "pct": _pct(t["present"], t["expected"])}


def _by_phase(tables: list[dict]) -> list[dict]:
    keys = ("expected", "done", "rows", "partial", "upstream_missing", "failed", "not_run", "bootstrap", "warmup")
    out: dict[int, dict] = {}
    for t in tables:
        p = out.setdefault(t["phase"], {"phase": t["phase"], "processors": 0, **{k: 0 for k in keys}})
        p["processors"] += 1
        for k in keys:
            p[k] += t[k]
    for p in out.values():
        p["pct"] = _pct(p["done"], p["expected"])
    return [out[k] for k in sorted(out)]


def _phase_rates(st, runs: list[dict], phases: list[dict]) -> None:
    """Each phase's own rate (units computed per second), set on the phase with its remaining
    units and eta_s: from what the runs in progress computed in that phase, else from the
    latest run that computed it (a phase this run has not reached yet, e.g. Phase 5 behind a
    fast Phase 3, must not borrow Phase 3's speed)."""
    active = [r["run_id"] for r in runs]
    again = [r for r in runs if r["recomputes"]]
    for p in phases:
        p["remaining"] = max(p["expected"] - p["done"], 0)
        for r in again:          # done already, but being done again: what it has not recorded
            p["remaining"] = max(p["remaining"], p["expected"] - _recorded(st, r, p["phase"]))
        rate = _rate(st, p["phase"], active) or _rate(st, p["phase"], None)
        p["rate_per_s"] = round(rate, 1) if rate else None
        p["eta_s"] = round(p["remaining"] / rate, 1) if rate else (0.0 if not p["remaining"] else None)


def _recorded(st, run: dict, phase: int) -> int:
    return st.rows(f"SELECT count(*) AS n FROM run_ledger WHERE run_id = ? AND phase = ? AND {_COMPUTED}",
                   [run["run_id"], phase])[0]["n"]


# Units that were computed (skips are recorded at once, without work).
_COMPUTED = "status IN ('success', 'partial', 'failed', 'warmup')"   # on run_ledger


def _rate(st, phase: int, run_ids: list[str] | None) -> float | None:
    if run_ids is None:
        last = st.rows(f"SELECT run_id FROM run_ledger WHERE phase = ? AND {_COMPUTED} ORDER BY id DESC LIMIT 1", [phase])
        run_ids = [last[0]["run_id"]] if last else []
    if not run_ids:
        return None
    # A unit without its own start time started no later than its run.
    r = st.rows(f"SELECT count(*) AS n, min(COALESCE(l.started_at, r.started_at)) AS first, "
                f"max(l.finished_at) AS last FROM run_ledger l LEFT JOIN runs r ON r.run_id = l.run_id "
                f"WHERE l.phase = ? AND l.{_COMPUTED} AND l.run_id IN ({', '.join('?' * len(run_ids))})",
                [phase, *run_ids])[0]
    if not r["n"] or not r["first"]:
        return None
    secs = (dt.datetime.fromisoformat(r["last"]) - dt.datetime.fromisoformat(r["first"])).total_seconds()
    return r["n"] / max(secs, 1e-3)


def _eta(phases: list[dict], runs: list[dict]) -> float | None:
    """What remains of the phases the runs in progress cover, each at its own rate."""
    running = {int(x) for r in runs for x in (r["phases"] or "").split(",") if x.strip().isdigit()}
    todo = [p for p in phases if p["phase"] in running]
    if any(p["remaining"] and p["eta_s"] is None for p in todo):
        return None
    return round(sum(p["eta_s"] or 0.0 for p in todo), 1)


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
                    "elapsed_s": round(elapsed, 1), "rate_per_s": round(r["units"] / elapsed, 1),
                    "recomputes": recomputes(st, r["run_id"])})
    return out


def recomputes(st, run_id: str) -> bool:
    """Whether a run recomputes units already done (`--no-resume`, or inputs changed): it has
    recorded a unit whose previous outcome was a success. Its units not recorded yet are then
    in progress whatever their latest status, and what remains is what it has not recorded."""
    return bool(st.rows(
        "SELECT 1 FROM run_ledger l WHERE l.run_id = ? AND l.status IN ('success', 'partial') AND EXISTS "
        "(SELECT 1 FROM run_ledger e WHERE e.processor = l.processor AND e.game_date = l.game_date "
        "AND e.id < l.id AND e.status = 'success') LIMIT 1", [run_id]))


def _alive(run: dict) -> bool:
    """A run whose process is gone (ledger.run_dead) crashed, though its row may say running."""
    return not ledger.run_dead(run)


def last_run(st, dead: list[dict] = ()) -> dict | None:
    """The run that ended last. A dead run a read-only store could not close (`dead`, from
    ledger.close_dead_runs) counts as crashed when its heartbeat stopped."""
    units = "(SELECT count(*) FROM run_ledger l WHERE l.run_id = r.run_id) AS units"
    rows = st.rows(f"SELECT r.*, {units} FROM runs r WHERE status <> 'running' ORDER BY finished_at DESC LIMIT 1")
    ids = [d["run_id"] for d in dead]
    if ids:
        rows += [dict(r, status="crashed", finished_at=r["updated_at"]) for r in st.rows(
            f"SELECT r.*, {units} FROM runs r WHERE status = 'running' AND run_id IN ({','.join('?' * len(ids))})", ids)
            if r["updated_at"] and r["started_at"]]
    if not rows:
        return None
    r = max(rows, key=lambda x: x["finished_at"] or "")
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
