"""NBA.com PDFs as parsed to JSON by the production scrapers (source-samples/nbac_gamebook_pdf
and nbac_injury_report exp_*.json; the PDFs themselves are not data files here).

- gamebook: active players with stats, DNP players and inactive players of one game
  -> nbac_gamebook_player_stats (the primary player box-score source).
- injury report: one record per listed player and game -> nbac_injury_report.
"""
from __future__ import annotations

import re
from typing import Any

from nbapipe import ids
from nbapipe.sources.columns import Date, Int, Team, Text
from nbapipe.sources.native import Minutes, json_loader

# --- gamebook -------------------------------------------------------------------------------

# Gamebook stat field -> production column.
GAMEBOOK_STATS = {
    "points": "points", "fg_makes": "field_goals_made", "fg_attempts": "field_goals_attempted",
    "three_pt_makes": "three_pointers_made", "three_pt_attempts": "three_pointers_attempted",
    "ft_makes": "free_throws_made", "ft_attempts": "free_throws_attempted",
    "offensive_rebounds": "offensive_rebounds", "defensive_rebounds": "defensive_rebounds",
    "total_rebounds": "total_rebounds", "assists": "assists", "steals": "steals",
    "blocks": "blocks", "turnovers": "turnovers", "personal_fouls": "personal_fouls",
}


def _is_gamebook(doc: Any) -> bool:
    return (isinstance(doc["active_players"], list) and bool(doc["game_code"])
            and bool(doc["home_team"]) and bool(doc["away_team"]) and bool(doc["date"]))


# The PDF parser sometimes runs one team's inactive list into the other's: the last entry of
# the first list then carries a reason like "Injury/Illness - Left Patellar; Tendonitis)
# Inactive: Cavaliers - Jerome (Injury/Illness - Right Ankle; Surgery" and the entries after
# it are the second team's players again. Cut the reason at the marker and drop the spilled
# entries (they are repeated under the right team).
_SPILL = re.compile(r"\)?\s*Inactive:\s*[A-Za-z0-9 .']+ - ")


def _inactive_entries(players: list[dict]) -> list[dict]:
    out, spilled_from = [], set()
    for p in players:
        team, reason = p.get("team"), p.get("reason")
        if team in spilled_from:
            continue
        m = _SPILL.search(reason or "")
        if m:
            reason = reason[:m.start()].strip()
            spilled_from.add(team)
        out.append({**p, "reason": reason})
    return out


def _gamebook_records(doc: dict) -> list[dict]:
    game = {"date": doc["date"], "away_team": doc["away_team"], "home_team": doc["home_team"]}
    out = []
    for p in doc.get("active_players") or []:
        out.append({**game, "team": p.get("team"), "name": p.get("name"), "status": "active",
                    **(p.get("stats") or {})})
    for p in doc.get("dnp_players") or []:
        out.append({**game, "team": p.get("team"), "name": p.get("name"), "status": "dnp",
                    "reason": p.get("dnp_reason")})
    for p in _inactive_entries(doc.get("inactive_players") or []):
        out.append({**game, "team": p.get("team"), "name": p.get("name"), "status": "inactive",
                    "reason": p.get("reason")})
    return out


# Optional enrichment: the NBA id and game type of the game from the schedule when it is
# already loaded (the gamebook itself has neither); absent -> NULL, not a quarantine.
GAME_ID = ids.game_id_sql("game_date", "_away", "_home")
SCHEDULE_BY_GAME_ID = f"""
LEFT JOIN (SELECT game_id AS s_game_id, min(nba_game_id) AS s_nba_id, min(game_type) AS s_type,
                  min(season_year) AS s_season
           FROM nba_raw.nbac_schedule GROUP BY game_id) sch
       ON sch.s_game_id = {ids.game_id_sql("s1.game_date", "s1._away", "s1._home")}"""

gamebook = json_loader(
    name="nbac_gamebook", family="nbac_gamebook", table="nba_raw.nbac_gamebook_player_stats",
    description="NBA.com gamebook PDF parsed to JSON: active (with stats), DNP and inactive players",
    matches=_is_gamebook,
    records=_gamebook_records,
    columns={
        "game_date": Date("date", required=True),
        "_away": Team("away_team", required=True),
        "_home": Team("home_team", required=True),
        "team_abbr": Team("team", required=True),          # full names: 'Memphis Grizzlies'
        "player_name": Text("name", required=True),
        "player_status": Text("status"),
        "dnp_reason": Text("reason"),
        "minutes_played": Minutes("minutes"),
        **{target: Int(src) for target, src in GAMEBOOK_STATS.items()},
        "plus_minus": Int("plus_minus", minimum=None),
    },
    join=SCHEDULE_BY_GAME_ID,
    derived={
        "game_id": GAME_ID,
        "nba_game_id": "sch.s_nba_id",
        "game_type": "sch.s_type",
        "season_year": f"coalesce(sch.s_season, {ids.season_year_from_date_sql('game_date')})",
        "opponent_team_abbr": "CASE WHEN team_abbr = _home THEN _away ELSE _home END",
        "home_away": "CASE WHEN team_abbr = _home THEN 'home' ELSE 'away' END",
        "player_lookup": ids.player_lookup_sql("player_name"),
        # The gamebook lists each team's five starters first among its active players.
        "starter_flag": "player_status = 'active' AND row_number() OVER (PARTITION BY team_abbr, "
                        "player_status ORDER BY __line) <= 5",
    },
    checks=[("team_abbr NOT IN (_home, _away)",
             "'team ' || team_abbr || ' did not play game ' || _away || ' @ ' || _home")],
)


# --- injury report --------------------------------------------------------------------------

def _is_injury_report(doc: Any) -> bool:
    first = doc["records"][0]
    return bool(doc["metadata"]["gamedate"]) and {"player", "matchup", "status", "team"} <= set(first)


def _injury_records(doc: dict) -> list[dict]:
    meta = doc["metadata"]
    report = {"report_date": meta.get("gamedate"), "report_hour": meta.get("hour24")}
    return [{**report, **{k: r.get(k) for k in ("date", "matchup", "team", "player", "status", "reason")}}
            for r in doc["records"]]


# 'Duke Jr., David' -> 'David Duke Jr.': the report writes 'Last, First'.
_FIRST_LAST = ("CASE WHEN {0} LIKE '%,%' THEN trim(split_part({0}, ',', 2)) || ' ' || "
               "trim(split_part({0}, ',', 1)) ELSE {0} END")

injury_report = json_loader(
    name="nbac_injury_report", family="nbac_injury_report", table="nba_raw.nbac_injury_report",
    description="NBA.com official injury report PDF parsed to JSON, one row per player and game",
    matches=_is_injury_report,
    records=_injury_records,
    nullable_key=frozenset({"report_hour"}),
    columns={
        "report_date": Date("report_date", fmt="%Y%m%d", required=True),
        "report_hour": Int("report_hour"),
        "game_date": Date("date", fmt="%m/%d/%Y", required=True),
        "_away": Team("matchup", pre="split_part({}, '@', 1)", required=True),
        "_home": Team("matchup", pre="split_part({}, '@', 2)", required=True),
        "team_abbr": Team("team", required=True),
        "player_name": Text("player", pre=_FIRST_LAST, required=True),
        "_status": Text("status", required=True),
        "reason": Text("reason"),
    },
    derived={
        "game_id": ids.game_id_sql("game_date", "_away", "_home"),
        "player_lookup": ids.player_lookup_sql("player_name"),
        "injury_status": "lower(_status)",
    },
    checks=[
        ("team_abbr NOT IN (_home, _away)",
         "'team ' || team_abbr || ' is not in matchup ' || _away || '@' || _home"),
        ("lower(_status) NOT IN ('out', 'questionable', 'doubtful', 'probable', 'available')",
         "'unknown injury status: ' || _status"),
        ("report_hour NOT BETWEEN 0 AND 23", "'report hour out of range: ' || report_hour"),
    ],
)

LOADERS = [gamebook, injury_report]
