"""Per table and date: which game dates have rows, which do not, and why.

One query per table over the whole range (never a query per date). Every tool speaks the same
five answers for an empty cell (DESIGN section 5): no games that day, bootstrap skip (both never
missing), a gap (which input is missing), failed (why), and complete."""
from __future__ import annotations

import datetime as dt

from nbapipe.calendar import Calendar, dates_text
from nbapipe.engines import Engine
from nbapipe.warehouse import Warehouse

# Phase 2 tables by role; the first of each chain is the primary, the rest its fallbacks.
RAW_TABLES = {
    "nba_raw.nbac_schedule": "schedule",
    "nba_raw.nbac_gamebook_player_stats": "player box scores (primary)",
    "nba_raw.nbac_player_boxscores": "player box scores (fallback 1)",
    "nba_raw.bdl_player_boxscores": "player box scores (fallback 2)",
    "nba_raw.nbac_team_boxscore": "team box scores (primary)",
    "nba_raw.nbac_team_game_logs": "team box scores (fallback)",
    "nba_raw.nbac_shot_chart": "shot zones (optional)",
    "nba_raw.odds_api_player_points_props": "points lines (optional)",
    "nba_raw.bettingpros_player_points_props": "points lines (fallback, optional)",
    "nba_raw.odds_api_game_lines": "game lines (optional)",
}
FALLBACKS = {
    "nba_raw.nbac_gamebook_player_stats": ["nba_raw.nbac_player_boxscores", "nba_raw.bdl_player_boxscores"],
    "nba_raw.nbac_team_boxscore": ["nba_raw.nbac_team_game_logs", "nba_raw.nbac_gamebook_player_stats"],
    "nba_raw.odds_api_player_points_props": ["nba_raw.bettingpros_player_points_props"],
}


# Latest statuses whose slice rows, if any, are kept from an earlier run (not fresh).
KEPT = ("stale", "failed")


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def window(cal: Calendar, start: dt.date, end: dt.date) -> dict:
    """The calendar facts of a range, as every tool reports them (ISO dates)."""
    days = days_between(start, end)
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "days": len(days),
            "game_dates": [d.isoformat() for d in days if cal.is_game_date(d)],
            "no_game_dates": [d.isoformat() for d in days if not cal.is_game_date(d)],
            "bootstrap_dates": [d.isoformat() for d in days if cal.is_bootstrap(d)]}


def all_seasons_range(cal: Calendar, complete_only: bool = False) -> tuple[dt.date, dt.date] | None:
    """First to last game date of every season in the calendar (or of the complete ones)."""
    seasons = [s for s in cal.seasons.values() if s["complete"] or not complete_only]
    if not seasons:
        return None
    return (dt.date.fromisoformat(min(s["first_game_date"] for s in seasons)),
            dt.date.fromisoformat(max(s["last_game_date"] for s in seasons)))


def expected_dates(p, cal: Calendar, game_dates: list[dt.date]) -> list[dt.date]:
    """The dates a processor must produce: game dates, less the bootstrap window when it skips it."""
    return [d for d in game_dates if not (p.bootstrap_skip and cal.is_bootstrap(d))]


def dates_with_rows(wh: Warehouse | Engine, table: str, start: dt.date, end: dt.date,
                    date_col: str = "game_date") -> dict[dt.date, int]:
    if not wh.table_exists(table):
        return {}
    return {r[0]: r[1] for r in wh.tuples(
        f"SELECT {date_col}, count(*) FROM {table} WHERE {date_col} BETWEEN ? AND ? GROUP BY 1",
        [start, end])}


def raw_coverage(wh: Warehouse, cal: Calendar, start: dt.date, end: dt.date) -> list[dict]:
    """Coverage of each Phase 2 table over the game dates of [start, end]."""
    game_dates = cal.game_dates(start, end)
    present = {t: dates_with_rows(wh, t, start, end) for t in RAW_TABLES}
    out = []
    primary_of = {f: p for p, fs in FALLBACKS.items() for f in fs if f not in FALLBACKS}
    for table, role in RAW_TABLES.items():
        have = present[table]
        # A fallback is only needed where its primary lacks the date.
        needed = [d for d in game_dates if table not in primary_of or d not in present[primary_of[table]]]
        missing = [d for d in needed if d not in have]
        reasons = {}
        for d in missing:
            covered = [f for f in FALLBACKS.get(table, []) if d in present[f]]
            reasons[d.isoformat()] = (f"no rows; fallback available: {', '.join(covered)}" if covered
                                      else "no rows in this source" + (" (optional input)" if "optional" in role else ""))
        out.append({
            "table": table, "phase": 2, "role": role,
            "expected": len(needed), "present": sum(1 for d in needed if d in have),
            "rows": sum(have.values()),
            "missing": [d.isoformat() for d in missing], "missing_reasons": reasons,
            "fallback_covers": sorted({d.isoformat() for f in FALLBACKS.get(table, []) for d in missing
                                       if d in present[f]}),
        })
    return out


def processor_coverage(st, cal: Calendar, start: dt.date, end: dt.date,
                       phases: list[int] | None = None, wh: Engine | None = None,
                       plan: dict | None = None, latest: dict | None = None) -> list[dict]:
    """Per processor over [start, end]: the expected dates (game dates; outside the bootstrap
    window for processors that skip it), which are present, what is missing and why.

    Without `wh` a date is present when its latest ledger status is success (the state store
    alone: works while a backfill writes). With `wh`, the engine that wrote the tables (DuckDB,
    or Spark's Parquet folders), it is present when the table has rows for it (what is really
    there, e.g. after a slice was deleted by hand) that are fresh: rows a failed or stale unit
    kept from an earlier run are not (the ledger says so); the ledger and the dry-run `plan`
    ({(processor, date): PlannedUnit}) explain what is missing. `latest` is the ledger's
    latest_map when the caller has read it already (the monitor reads it once)."""
    from nbapipe import processors as registry
    from nbapipe.state import ledger
    if latest is None:
        latest = ledger.latest_map(st, start=start, end=end)
    game_dates = cal.game_dates(start, end)
    out = []
    for name, p in registry.all_processors().items():
        if phases and p.phase not in phases:
            continue
        units = {d: latest.get((name, d)) or {} for d in game_dates}
        # A model's warm-up (too little earlier history to train on) is, like the bootstrap
        # window, expected by design to hold nothing: never counted as missing.
        warmup = [d for d in game_dates if units[d].get("status") == "warmup"]
        expected = [d for d in expected_dates(p, cal, game_dates) if d not in warmup]
        if wh is not None:
            counts = dates_with_rows(wh, p.table, start, end, p.slice_column)
            present = {d for d in expected if counts.get(d) and units[d].get("status") not in KEPT}
        else:
            counts = {d: u.get("rows") or 0 for d, u in units.items()}
            present = {d for d in expected if units[d].get("status") == "success"}
        missing = [d for d in expected if d not in present]
        bootstrap = [d for d in game_dates if d not in expected and d not in warmup]
        row = {
            "table": p.table, "processor": name, "phase": p.phase,
            "expected": len(expected), "present": len(present),
            "rows": sum(counts.get(d, 0) for d in game_dates),
            "missing": [d.isoformat() for d in missing],
            "missing_reasons": {d.isoformat(): explain(units[d], (plan or {}).get((name, d))) for d in missing},
            "bootstrap_dates": [d.isoformat() for d in bootstrap],
            "warmup_dates": [d.isoformat() for d in warmup],
            "warmup_why": units[warmup[0]].get("detail") if warmup else None,
            "statuses": _count(u["status"] for u in units.values() if u.get("status")),
            # Why the missing dates are missing, counted by latest status ("not_run": no row).
            "missing_statuses": _count(units[d].get("status") or "not_run" for d in missing),
        }
        if wh is not None:
            row["bootstrap_rows"] = {d.isoformat(): counts[d] for d in bootstrap if counts.get(d)}
            row["off_calendar_rows"] = {d.isoformat(): n for d, n in counts.items() if not cal.is_game_date(d)}
            # The ledger counted rows that the table no longer has (or more): changed since.
            row["row_mismatches"] = {d.isoformat(): {"ledger": units[d]["rows"], "table": counts.get(d, 0)}
                                     for d in present if units[d].get("status") == "success"
                                     and units[d].get("rows") != counts.get(d, 0)}
        out.append(row)
    return out


def explain(unit: dict, planned=None) -> str:
    """Why a date has no rows, from its latest ledger row, else from the dry-run plan."""
    status = unit.get("status")
    if status == "success":
        return f"no rows in the table although the ledger recorded success ({unit.get('rows')} rows, run {unit.get('run_id')}): deleted since?"
    if status == "stale":
        return f"stale (rows of an earlier run kept): {unit.get('detail') or ''}"
    if status == "upstream_missing" and unit.get("missing_inputs"):
        return "upstream_missing: " + "; ".join(f"{k} on {dates_text(v)}" for k, v in unit["missing_inputs"].items())
    if status:
        return f"{status}: {unit.get('error') or unit.get('detail') or ''}".rstrip(": ")
    if planned is not None:
        return f"not run yet; {planned.reason}" if planned.action == "run" else f"not run yet; {planned.action}: {planned.reason}"
    return "not run yet"


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out

