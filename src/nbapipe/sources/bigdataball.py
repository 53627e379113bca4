"""BigDataBall play-by-play CSV (source-samples/bigdataball_pbp) -> nba_raw.bigdataball_play_by_play.

One row per play with the ten players on the floor (a1..a5 away, h1..h5 home). The file
knows the NBA game id (without leading zeros) and the date, and names teams only on plays:
the home team is the team whose players appear in the home lineup columns, so the standard
game id is built from the file alone (a game whose home team cannot be told is quarantined).
"""
from __future__ import annotations

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Date, Int, NbaGameId, Num, Team, Text

FAMILY = "bigdataball"

_HOME_LINEUP = ", ".join(f"_h{i}" for i in range(1, 6))
_AWAY_LINEUP = ", ".join(f"_a{i}" for i in range(1, 6))

# Per game and team: how many of its plays were made by a player of the home lineup and how
# many by one of the away lineup. A few plays contradict (a jump ball is filed under the team
# that won the tip but names the other centre; a substitution names the player leaving), so
# the side is the majority: home team = the one team with more home-lineup than away-lineup plays.
GAME_TEAMS_JOIN = f"""
LEFT JOIN (
    SELECT nba_game_id,
           min(team_abbr) FILTER (WHERE home_n > away_n) AS g_home,
           count(*) FILTER (WHERE home_n > away_n) AS n_home,
           min(team_abbr) FILTER (WHERE away_n > home_n) AS g_away,
           count(*) FILTER (WHERE away_n > home_n) AS n_away
    FROM (SELECT nba_game_id, team_abbr,
                 count(*) FILTER (WHERE player_name IN ({_HOME_LINEUP})) AS home_n,
                 count(*) FILTER (WHERE player_name IN ({_AWAY_LINEUP})) AS away_n
          FROM _stage1 WHERE team_abbr IS NOT NULL GROUP BY nba_game_id, team_abbr)
    GROUP BY nba_game_id) g ON g.nba_game_id = s1.nba_game_id"""
_TEAMS_KNOWN = "g.n_home = 1 AND g.n_away = 1"

play_by_play = Loader(
    name="bigdataball_pbp", family=FAMILY, table="nba_raw.bigdataball_play_by_play",
    description="BigDataBall play-by-play with on-court lineups",
    signature=frozenset({"game_id", "data_set", "play_id", "a1", "h1", "remaining_time", "event_type"}),
    optional=frozenset({"shot_distance", "description", "type", "result", "points"}),
    columns={
        "nba_game_id": NbaGameId("game_id", required=True),
        "game_date": Date("date", required=True),
        "event_number": Int("play_id", required=True),
        "period": Int("period"),
        "remaining_time": Text("remaining_time"),      # '0:11:44' left in the period
        "team_abbr": Team("team"),
        "player_name": Text("player"),
        "event_type": Text("event_type"),
        "shot_type": Text("type"),
        "_result": Text("result"),
        "points": Int("points"),
        "shot_distance_ft": Num("shot_distance", minimum=0),
        "away_score": Int("away_score"),
        "home_score": Int("home_score"),
        "description": Text("description"),
        **{f"_h{i}": Text(f"h{i}") for i in range(1, 6)},
        **{f"_a{i}": Text(f"a{i}") for i in range(1, 6)},
    },
    join=GAME_TEAMS_JOIN,
    derived={
        "game_id": f"CASE WHEN {_TEAMS_KNOWN} THEN {ids.game_id_sql('game_date', 'g.g_away', 'g.g_home')} END",
        "player_lookup": ids.player_lookup_sql("player_name"),
        "shot_made": "CASE _result WHEN 'made' THEN true WHEN 'missed' THEN false END",
    },
    checks=[(f"NOT coalesce({_TEAMS_KNOWN}, false)",
             "'cannot tell home from away in game ' || s1.nba_game_id || ' from the lineup columns'")],
)

LOADERS = [play_by_play]
