"""Ball Don't Lie API JSON (source-samples/bdl_*) -> nba_raw.bdl_player_boxscores.

Two response shapes carry the same player rows:
- box scores: `data` = games, each with home_team / visitor_team holding a `players` list;
- player stats: `data` = player rows, each with nested player, team and game.
Both are flattened to one record layout and loaded by the same column specs.

BDL lists every rostered player, with min '00' and all-zero stats for those who did not get
in: such rows say nothing but "on the roster" (BDL cannot tell DNP from inactive) and a zero
there would read as a real zero-point game, so they are out of scope (counted as filtered).
"""
from __future__ import annotations

from typing import Any

from nbapipe import ids
from nbapipe.sources.columns import Bool, Date, Int, Team, Text, Timestamp, et_date
from nbapipe.sources.native import Minutes, json_loader

FAMILY = "bdl"

# BDL stat field -> production column.
BDL_STATS = {
    "points": "pts", "fg_makes": "fgm", "fg_attempts": "fga", "three_pt_makes": "fg3m",
    "three_pt_attempts": "fg3a", "ft_makes": "ftm", "ft_attempts": "fta",
    "offensive_rebounds": "oreb", "defensive_rebounds": "dreb", "total_rebounds": "reb",
    "assists": "ast", "steals": "stl", "blocks": "blk", "turnovers": "turnover",
    "personal_fouls": "pf",
}

# BDL's own team ids (1-30, alphabetical by full name, stable since the API began): player-stat
# rows name their opponent only by this id.
BDL_TEAM_IDS = {
    1: "ATL", 2: "BOS", 3: "BKN", 4: "CHA", 5: "CHI", 6: "CLE", 7: "DAL", 8: "DEN", 9: "DET",
    10: "GSW", 11: "HOU", 12: "IND", 13: "LAC", 14: "LAL", 15: "MEM", 16: "MIA", 17: "MIL",
    18: "MIN", 19: "NOP", 20: "NYK", 21: "OKC", 22: "ORL", 23: "PHI", 24: "PHX", 25: "POR",
    26: "SAC", 27: "SAS", 28: "TOR", 29: "UTA", 30: "WAS",
}
_BDL_TEAM = "(VALUES " + ", ".join(f"('{i}', '{t}')" for i, t in BDL_TEAM_IDS.items()) + ")"


def _player_fields(p: dict) -> dict:
    player = p.get("player") or {}
    return {"player_id": player.get("id"), "first_name": player.get("first_name"),
            "last_name": player.get("last_name"), "min": p.get("min"),
            **{src: p.get(src) for src in BDL_STATS.values()}}


def _game_fields(g: dict) -> dict:
    return {"game_id": g.get("id"), "date": g.get("date"), "datetime": g.get("datetime"),
            "season": g.get("season"), "postseason": g.get("postseason")}


# --- box scores: games with nested players ---------------------------------------------------

def _is_box_scores(doc: Any) -> bool:
    g = doc["data"][0]
    return isinstance(g["home_team"]["players"], list) and isinstance(g["visitor_team"]["players"], list)


def _box_score_records(doc: dict) -> list[dict]:
    out = []
    for g in doc["data"]:
        home, away = g["home_team"], g["visitor_team"]
        teams = {"home_abbr": home.get("abbreviation"), "away_abbr": away.get("abbreviation")}
        for side in (home, away):
            for p in side.get("players") or []:
                out.append({**_game_fields(g), **teams, "team": side.get("abbreviation"),
                            **_player_fields(p)})
    return out


# --- player stats: rows with nested player / team / game -----------------------------------

def _is_player_stats(doc: Any) -> bool:
    row = doc["data"][0]
    return {"player", "team", "game", "pts"} <= set(row) and "home_team_id" in row["game"]


def _player_stat_records(doc: dict) -> list[dict]:
    out = []
    for r in doc["data"]:
        g, team = r.get("game") or {}, r.get("team") or {}
        out.append({**_game_fields(g), "home_team_id": g.get("home_team_id"),
                    "visitor_team_id": g.get("visitor_team_id"), "team": team.get("abbreviation"),
                    "team_id": team.get("id"), "bdl_stat_id": r.get("id"), **_player_fields(r)})
    return out


# The opponent id of a player-stat row, as a tricode.
BDL_TEAM_JOIN = f"""
LEFT JOIN {_BDL_TEAM} home_t(bdl_id, abbr) ON home_t.bdl_id = s1._home_id
LEFT JOIN {_BDL_TEAM} away_t(bdl_id, abbr) ON away_t.bdl_id = s1._away_id"""

_HOME = "coalesce(_home_abbr, home_t.abbr)"
_AWAY = "coalesce(_away_abbr, away_t.abbr)"
_PLAYED = " OR ".join([f"coalesce(minutes_played, 0) > 0"] +
                      [f"coalesce({t}, 0) <> 0" for t in BDL_STATS])


def _bdl_loader(name: str, description: str, matches, records) -> Any:
    return json_loader(
        name=name, family=FAMILY, table="nba_raw.bdl_player_boxscores",
        description=description, matches=matches, records=records,
        columns={
            "bdl_game_id": Text("game_id"),
            # BDL `date` is the Eastern game date; `datetime` (tip-off, UTC) only when present.
            "_date": Date("date", pre="left({}, 10)"),
            "_tipoff": Timestamp("datetime"),
            "_season": Int("season"),
            "_postseason": Bool("postseason"),
            "team_abbr": Team("team", required=True),
            "_home_abbr": Team("home_abbr"),
            "_away_abbr": Team("away_abbr"),
            "_home_id": Text("home_team_id"),
            "_away_id": Text("visitor_team_id"),
            "bdl_player_id": Text("player_id"),
            "player_name": Text("first_name", pre="concat_ws(' ', trim({}), trim(\"last_name\"))",
                                required=True),
            "minutes_played": Minutes("min"),
            **{target: Int(src) for target, src in BDL_STATS.items()},
        },
        join=BDL_TEAM_JOIN,
        derived={
            "game_date": f"coalesce(_date, {et_date('_tipoff')})",
            "game_id": ids.game_id_sql(f"coalesce(_date, {et_date('_tipoff')})", _AWAY, _HOME),
            "season_year": "_season",              # BDL's season is the start year (2024 = 2024-25)
            # BDL flags play-in and playoff games alike as postseason.
            "game_type": "CASE WHEN _postseason THEN 'playoffs' WHEN NOT _postseason THEN 'regular' END",
            "home_away": f"CASE WHEN team_abbr = {_HOME} THEN 'home' WHEN team_abbr = {_AWAY} THEN 'away' END",
            "opponent_team_abbr": f"CASE WHEN team_abbr = {_HOME} THEN {_AWAY} ELSE {_HOME} END",
            "player_lookup": ids.player_lookup_sql("player_name"),
        },
        checks=[
            (f"team_abbr NOT IN ({_HOME}, {_AWAY})",
             f"'team ' || team_abbr || ' did not play in game ' || coalesce({_AWAY}, '?') || ' @ ' || "
             f"coalesce({_HOME}, '?')"),
            ("_home_id IS NOT NULL AND home_t.abbr IS NULL", "'unknown BDL team id ' || _home_id"),
            ("_away_id IS NOT NULL AND away_t.abbr IS NULL", "'unknown BDL team id ' || _away_id"),
        ],
        where=_PLAYED,
    )


box_scores = _bdl_loader("bdl_box_scores", "Ball Don't Lie box scores (games with nested players)",
                         _is_box_scores, _box_score_records)
player_stats = _bdl_loader("bdl_player_stats", "Ball Don't Lie player stats (rows with nested game)",
                           _is_player_stats, _player_stat_records)

LOADERS = [box_scores, player_stats]
