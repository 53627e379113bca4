"""NBA.com JSON as the production scrapers save it (source-samples/nbac_*).

- stats `boxscore` resource: TeamStats -> nbac_team_boxscore, PlayerStats -> nbac_player_boxscores.
  The document knows the NBA game id and the teams, but not the date nor who was at home, so
  those come from nba_raw.nbac_schedule (rows of games not in it are quarantined, saying so).
- stats `leaguegamelog` resource, player rows -> nbac_player_boxscores (MATCHUP gives home/away).
- schedule CDN (`leagueSchedule.gameDates[].games[]`) -> nbac_schedule.
- live play-by-play (`game.actions[]`) -> nbac_play_by_play; date and home/away from the actions.
"""
from __future__ import annotations

from typing import Any

from nbapipe import ids
from nbapipe.sources import bbref
from nbapipe.sources.columns import Bool, Date, Int, NbaGameId, Num, Team, Text, Timestamp, et_date
from nbapipe.sources.nba_api import GAME_LOG_STATS, MATCHUP_CHECKS, game_keys_from_matchup, matchup_columns
from nbapipe.sources.native import (Minutes, is_stats_resource, json_loader, result_set_records,
                                    shot_zone_sql)

FAMILY = "nbac"

# The boxscore resource writes TO where the game logs write TOV.
BOX_STATS = {**GAME_LOG_STATS, "turnovers": "TO"}


def _stats(mapping: dict[str, str]) -> dict:
    return {target: Int(src) for target, src in mapping.items()}


# --- boxscore resource -------------------------------------------------------------------

# The schedule row of the game: date, teams and the standard game id, all read from its
# game_id ('YYYYMMDD_AWAY_HOME') so the three always come from the same source row.
SCHEDULE_JOIN = """
LEFT JOIN (SELECT nba_game_id, g AS s_game_id, split_part(g, '_', 2) AS s_away,
                  split_part(g, '_', 3) AS s_home,
                  CAST(strptime(split_part(g, '_', 1), '%Y%m%d') AS DATE) AS s_date
           FROM (SELECT nba_game_id, min(game_id) AS g FROM nba_raw.nbac_schedule
                 GROUP BY nba_game_id)) sch
       ON sch.nba_game_id = s1.nba_game_id"""
SCHEDULE_DERIVED = {**bbref.SCHEDULE_DERIVED, "game_date": "sch.s_date"}


def _is_boxscore(result: str, needs: set[str]):
    return lambda doc: is_stats_resource(doc, "boxscore", result, needs)


team_boxscore = json_loader(
    name="nbac_boxscore_teams", family=FAMILY, table="nba_raw.nbac_team_boxscore",
    description="NBA.com boxscore resource, TeamStats (two rows per game; date and home/away "
                "from nbac_schedule)",
    matches=_is_boxscore("TeamStats", {"GAME_ID", "TEAM_ABBREVIATION", "PTS", "MIN"}),
    records=lambda doc: result_set_records(doc, "TeamStats"),
    columns={
        "nba_game_id": NbaGameId("GAME_ID", required=True),
        "team_abbr": Team("TEAM_ABBREVIATION", required=True),
        # Team minutes are written '265:00' (240 + 25 per overtime).
        "minutes": Int("MIN", pre="split_part({}, ':', 1)"),
        **_stats(BOX_STATS),
        "_margin": Int("PLUS_MINUS", minimum=None),   # a team's plus-minus is its margin
    },
    join=SCHEDULE_JOIN,
    derived={
        **SCHEDULE_DERIVED,
        "win_flag": "_margin > 0",
        "overtime_periods": "CAST(round((minutes - 240) / 25.0) AS INTEGER)",
    },
    checks=bbref.SCHEDULE_CHECKS,
)

# Players listed with a COMMENT ("DNP - Coach's Decision", "DND - Injury/Illness") did not
# play: the feed leaves MIN and every stat null, and so do we (NULL minutes = did not play,
# never a fake 0). They stay in the table because being listed is itself information.
player_boxscore = json_loader(
    name="nbac_boxscore_players", family=FAMILY, table="nba_raw.nbac_player_boxscores",
    description="NBA.com boxscore resource, PlayerStats (DNP players kept with NULL minutes)",
    matches=_is_boxscore("PlayerStats", {"GAME_ID", "PLAYER_ID", "PLAYER_NAME", "MIN", "PTS"}),
    records=lambda doc: result_set_records(doc, "PlayerStats"),
    columns={
        "nba_game_id": NbaGameId("GAME_ID", required=True),
        "team_abbr": Team("TEAM_ABBREVIATION", required=True),
        "player_name": Text("PLAYER_NAME", required=True),
        "nba_player_id": Text("PLAYER_ID"),
        "_start": Text("START_POSITION"),
        "minutes_played": Minutes("MIN"),
        **_stats(BOX_STATS),
        "plus_minus": Int("PLUS_MINUS", minimum=None),
    },
    join=SCHEDULE_JOIN,
    derived={
        **SCHEDULE_DERIVED,
        "player_lookup": ids.player_lookup_sql("player_name"),
        "starter_flag": "_start IS NOT NULL",        # starters carry their position (F, C, G)
    },
    checks=bbref.SCHEDULE_CHECKS,
)


# --- leaguegamelog resource (player rows) ---------------------------------------------------

player_game_log = json_loader(
    name="nbac_leaguegamelog_players", family="nbac_gamelog", table="nba_raw.nbac_player_boxscores", version=2,
    description="NBA.com leaguegamelog resource, player rows (whole minutes; preseason and "
                "All-Star rows filtered)",
    matches=lambda doc: is_stats_resource(doc, "leaguegamelog", "LeagueGameLog",
                                          {"PLAYER_ID", "PLAYER_NAME", "GAME_ID", "MATCHUP", "MIN"}),
    records=lambda doc: result_set_records(doc, "LeagueGameLog"),
    columns={
        "_season_id": Text("SEASON_ID", required=True),
        "nba_game_id": NbaGameId("GAME_ID", required=True),
        "game_date": Date("GAME_DATE", required=True),
        "team_abbr": Team("TEAM_ABBREVIATION", required=True),
        **matchup_columns("MATCHUP"),
        "player_name": Text("PLAYER_NAME", required=True),
        "nba_player_id": Text("PLAYER_ID"),
        "minutes_played": Minutes("MIN"),
        **_stats(GAME_LOG_STATS),
        "plus_minus": Int("PLUS_MINUS", minimum=None),
    },
    derived={
        **game_keys_from_matchup(),
        "player_lookup": ids.player_lookup_sql("player_name"),
        "season_year": ids.season_year_from_nba_id_sql("nba_game_id"),
        "game_type": ids.game_type_sql("nba_game_id"),
    },
    checks=MATCHUP_CHECKS,
    # SEASON_ID's first digit as in the team game logs: 1 preseason and 3 All-Star are not
    # league games.
    where="substr(_season_id, 1, 1) IN ('2', '4', '5', '6')",
)


# --- schedule CDN ---------------------------------------------------------------------------

def _is_schedule(doc: Any) -> bool:
    return isinstance(doc["leagueSchedule"]["gameDates"], list)


def _schedule_records(doc: dict) -> list[dict]:
    league = doc["leagueSchedule"]
    out = []
    for day in league["gameDates"]:
        for g in day.get("games") or []:
            away, home = g.get("awayTeam") or {}, g.get("homeTeam") or {}
            out.append({
                "season": league.get("seasonYear"), "gameId": g.get("gameId"),
                "gameDateTimeUTC": g.get("gameDateTimeUTC"), "gameDateEst": g.get("gameDateEst"),
                "gameStatus": g.get("gameStatus"), "isNeutral": g.get("isNeutral"),
                "arenaName": g.get("arenaName"),
                "awayTeamId": away.get("teamId"), "awayTricode": away.get("teamTricode"),
                "awayScore": away.get("score"),
                "homeTeamId": home.get("teamId"), "homeTricode": home.get("teamTricode"),
                "homeScore": home.get("score"),
            })
    return out


# The Eastern date of tip-off; gameDateEst (the Eastern day, mislabelled 'Z') when the time
# is missing.
_GAME_DATE = f"coalesce({et_date('_tipoff')}, _est_day)"
_TIPOFF_ET = "timezone('America/New_York', CAST(_tipoff AS TIMESTAMPTZ))"

schedule = json_loader(
    name="nbac_schedule_cdn", family=FAMILY, table="nba_raw.nbac_schedule", order=10,
    description="NBA.com schedule CDN (scheduleLeagueV2), every game of a season incl. preseason",
    matches=_is_schedule,
    records=_schedule_records,
    columns={
        "nba_game_id": NbaGameId("gameId", required=True),
        "season": Text("season", required=True),
        "_tipoff": Timestamp("gameDateTimeUTC"),
        "_est_day": Date("gameDateEst", pre="left({}, 10)"),
        "_status": Int("gameStatus"),
        "_away_id": Text("awayTeamId"),
        "_home_id": Text("homeTeamId"),
        "away_team_abbr": Team("awayTricode", required=True),
        "home_team_abbr": Team("homeTricode", required=True),
        "_away_score": Int("awayScore"),
        "_home_score": Int("homeScore"),
        "neutral_site": Bool("isNeutral"),
        "arena": Text("arenaName"),
    },
    derived={
        "game_date": _GAME_DATE,
        "game_time_et": f"strftime({_TIPOFF_ET}, '%-I:%M %p')",     # '7:30 PM' as in bbref
        "game_id": ids.game_id_sql(_GAME_DATE, "away_team_abbr", "home_team_abbr"),
        "season_year": "TRY_CAST(substr(season, 1, 4) AS INTEGER)",
        "game_type": ids.game_type_sql("nba_game_id"),
        # The feed writes 0-0 for games not yet played: scores only once final (status 3).
        "away_team_score": "CASE WHEN _status = 3 THEN _away_score END",
        "home_team_score": "CASE WHEN _status = 3 THEN _home_score END",
    },
    checks=[("TRY_CAST(substr(season, 1, 4) AS INTEGER) IS NULL", "'not a season label: ' || season")],
    # Preseason exhibitions against clubs outside the NBA (Melbourne United, ...) are not NBA
    # games: both teams must carry an NBA franchise id (1610612737..1610612766). All-Star
    # teams and undecided playoff slots (id 0, 'TBD') are left out the same way.
    where="regexp_matches(_away_id, '^16106127[0-9]{2}$') AND regexp_matches(_home_id, '^16106127[0-9]{2}$')",
)


# --- live play-by-play ------------------------------------------------------------------------

def _is_play_by_play(doc: Any) -> bool:
    game = doc["game"]
    return isinstance(game["actions"], list) and bool(game["gameId"])


_PBP_FIELDS = ("actionNumber", "orderNumber", "timeActual", "period", "clock", "teamTricode",
               "personId", "playerNameI", "actionType", "subType", "shotResult", "isFieldGoal",
               "area", "shotDistance", "scoreHome", "scoreAway", "description")


def _pbp_records(doc: dict) -> list[dict]:
    game_id = doc["game"]["gameId"]
    return [{"gameId": game_id, **{f: a.get(f) for f in _PBP_FIELDS}} for a in doc["game"]["actions"]]


# The document has neither the date nor the home team, but its actions do: the Eastern date
# of the first action's wall-clock time, and the team whose scoring plays raise scoreHome
# (per team, the side its scoring plays raised more often: robust to a stray mis-filed play;
# a game without exactly one such team per side is quarantined).
PBP_GAME_JOIN = f"""
LEFT JOIN (
    SELECT nba_game_id, {et_date('min(first_time)')} AS g_date,
           min(team_abbr) FILTER (WHERE home_n > away_n) AS g_home,
           count(team_abbr) FILTER (WHERE home_n > away_n) AS n_home,
           min(team_abbr) FILTER (WHERE away_n > home_n) AS g_away,
           count(team_abbr) FILTER (WHERE away_n > home_n) AS n_away
    FROM (SELECT nba_game_id, team_abbr, min(_time) AS first_time,
                 count(*) FILTER (WHERE score_home > prev_home) AS home_n,
                 count(*) FILTER (WHERE score_away > prev_away) AS away_n
          FROM (SELECT nba_game_id, _time, team_abbr, score_home, score_away,
                       lag(score_home) OVER (PARTITION BY nba_game_id ORDER BY _order, event_number) AS prev_home,
                       lag(score_away) OVER (PARTITION BY nba_game_id ORDER BY _order, event_number) AS prev_away
                FROM _stage1)
          GROUP BY nba_game_id, team_abbr)
    GROUP BY nba_game_id) g ON g.nba_game_id = s1.nba_game_id"""

play_by_play = json_loader(
    name="nbac_play_by_play", family=FAMILY, table="nba_raw.nbac_play_by_play",
    description="NBA.com live play-by-play (game.actions); date and home/away from the actions",
    matches=_is_play_by_play,
    records=_pbp_records,
    columns={
        "nba_game_id": NbaGameId("gameId", required=True),
        "event_number": Int("actionNumber", required=True),
        "_order": Int("orderNumber"),
        "_time": Timestamp("timeActual"),
        "period": Int("period"),
        # 'PT11M58.00S' -> '11:58.00' (minutes:seconds left in the period)
        "clock": Text("clock", pre="regexp_replace({}, '^PT([0-9]+)M([0-9.]+)S$', '\\1:\\2')"),
        "team_abbr": Team("teamTricode"),
        "nba_player_id": Text("personId", pre="NULLIF({}, '0')"),
        "player_name": Text("playerNameI"),          # 'I. Zubac': the feed has no full names
        "action_type": Text("actionType"),
        "sub_type": Text("subType"),
        "_result": Text("shotResult"),
        "_is_fg": Text("isFieldGoal"),
        "_area": Text("area"),
        "shot_distance_ft": Num("shotDistance", minimum=0),
        "score_home": Int("scoreHome"),
        "score_away": Int("scoreAway"),
        "description": Text("description"),
    },
    join=PBP_GAME_JOIN,
    derived={
        "game_date": "g.g_date",
        "game_id": f"CASE WHEN g.n_home = 1 AND g.n_away = 1 "
                   f"THEN {ids.game_id_sql('g.g_date', 'g.g_away', 'g.g_home')} END",
        # Initial + last name cannot be normalised into a player_lookup other sources share:
        # link play-by-play players by nba_player_id instead.
        "player_lookup": "CAST(NULL AS VARCHAR)",
        "shot_made": "CASE _result WHEN 'Made' THEN true WHEN 'Missed' THEN false END",
        "shot_value": "CASE action_type WHEN '3pt' THEN 3 WHEN '2pt' THEN 2 WHEN 'freethrow' THEN 1 END",
        "shot_zone": f"CASE WHEN _is_fg = '1' THEN {shot_zone_sql('_area')} END",
    },
    checks=[("g.n_home <> 1 OR g.n_away <> 1",
             "'cannot tell the home team of game ' || s1.nba_game_id || ' from its scoring plays'")],
)

LOADERS = [schedule, team_boxscore, player_boxscore, player_game_log, play_by_play]
