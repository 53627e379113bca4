"""Per table and date: which game dates have rows, which do not, and why.

One query per table over the whole range (never a query per date)."""
from __future__ import annotations

import datetime as dt

from nbapipe.calendar import Calendar
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


def dates_with_rows(wh: Warehouse, table: str, start: dt.date, end: dt.date,
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
            "fallback_covers": sorted({d for f in FALLBACKS.get(table, []) for d in missing
                                       if d in present[f]}),
        })
    return out


def processor_coverage(st, cal: Calendar, start: dt.date, end: dt.date,
                       phases: list[int] | None = None) -> list[dict]:
    """Per processor over [start, end], from the ledger: every date's latest status, the
    expected dates (game dates; Phase 4 outside the bootstrap window) and what is missing."""
    from nbapipe import processors as registry
    from nbapipe.state import ledger
    latest = ledger.latest_map(st, start=start, end=end)
    game_dates = cal.game_dates(start, end)
    out = []
    for name, p in registry.all_processors().items():
        if phases and p.phase not in phases:
            continue
        expected = [d for d in game_dates if not (p.bootstrap_skip and cal.is_bootstrap(d))]
        statuses = {d: latest.get((name, d), {}).get("status") for d in game_dates}
        rows = sum((latest.get((name, d)) or {}).get("rows") or 0 for d in game_dates)
        missing, reasons = [], {}
        for d in expected:
            s = statuses[d]
            if s != "success":
                missing.append(d.isoformat())
                r = latest.get((name, d)) or {}
                reasons[d.isoformat()] = (f"{s}: {r.get('detail') or r.get('error') or ''}".strip(": ")
                                          if s else "not run yet")
        out.append({
            "table": p.table, "processor": name, "phase": p.phase,
            "expected": len(expected), "present": sum(statuses[d] == "success" for d in expected),
            "rows": rows, "missing": missing, "missing_reasons": reasons,
            "bootstrap_dates": [d.isoformat() for d in game_dates if p.bootstrap_skip and cal.is_bootstrap(d)],
            "statuses": {s: sum(1 for v in statuses.values() if v == s) for s in set(statuses.values()) if s},
        })
    return out
