"""Basketball-Reference box-score pages, parsed to CSV (the `bbref/` folder).

player_box + inactives -> nbac_gamebook_player_stats (every listed player, DNP and inactive
included); team_box + line_scores -> nbac_team_boxscore; games -> nbac_schedule."""
from __future__ import annotations

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Bool, Date, Int, NbaGameId, Num, Team, Text

FAMILY = "bbref"

# Box-score counting stats: bbref column -> production column.
BOX_STATS = {
    "points": "pts", "fg_makes": "fg", "fg_attempts": "fga", "three_pt_makes": "fg3",
    "three_pt_attempts": "fg3a", "ft_makes": "ft", "ft_attempts": "fta",
    "offensive_rebounds": "orb", "defensive_rebounds": "drb", "total_rebounds": "trb",
    "assists": "ast", "steals": "stl", "blocks": "blk", "turnovers": "tov", "personal_fouls": "pf",
}


def box_stats(mapping: dict[str, str] = BOX_STATS) -> dict:
    return {target: Int(src) for target, src in mapping.items()}


def _game_keys() -> dict[str, str]:
    """game_id / season / type for rows that know home_away and both teams."""
    away = "CASE WHEN home_away = 'home' THEN opponent_team_abbr ELSE team_abbr END"
    home = "CASE WHEN home_away = 'home' THEN team_abbr ELSE opponent_team_abbr END"
    return {
        "game_id": ids.game_id_sql("game_date", away, home),
        "season_year": ids.season_year_from_nba_id_sql("nba_game_id"),
        "game_type": ids.game_type_sql("nba_game_id"),
    }


HOME_AWAY_CHECK = ("home_away NOT IN ('home', 'away')", "'home_away must be home or away: ' || home_away")

# Rows that know only the NBA game id and their own team take the rest from the schedule.
SCHEDULE_JOIN = """
LEFT JOIN (SELECT nba_game_id, min(game_id) AS s_game_id, min(home_team_abbr) AS s_home,
                  min(away_team_abbr) AS s_away
           FROM nba_raw.nbac_schedule GROUP BY nba_game_id) sch
       ON sch.nba_game_id = s1.nba_game_id"""
SCHEDULE_DERIVED = {
    "game_id": "sch.s_game_id",
    "opponent_team_abbr": "CASE WHEN s1.team_abbr = sch.s_home THEN sch.s_away ELSE sch.s_home END",
    "home_away": "CASE WHEN s1.team_abbr = sch.s_home THEN 'home' ELSE 'away' END",
    "season_year": ids.season_year_from_nba_id_sql("s1.nba_game_id"),
    "game_type": ids.game_type_sql("s1.nba_game_id"),
}
SCHEDULE_CHECKS = [
    ("sch.s_game_id IS NULL", "'game ' || s1.nba_game_id || ' not in nba_raw.nbac_schedule (ingest the schedule first)'"),
    ("sch.s_game_id IS NOT NULL AND s1.team_abbr NOT IN (sch.s_home, sch.s_away)",
     "'team ' || s1.team_abbr || ' did not play game ' || s1.nba_game_id"),
]

player_box = Loader(
    name="bbref_player_box", family=FAMILY, table="nba_raw.nbac_gamebook_player_stats",
    description="Basketball-Reference player box scores (players who played and DNP players)",
    signature=frozenset({"bbref_game_id", "bbref_player_id", "status", "mp"}),
    optional=frozenset({"usg_pct", "plus_minus"}),
    columns={
        "nba_game_id": NbaGameId("nba_game_id", required=True),
        "game_date": Date("game_date", required=True),
        "team_abbr": Team("team_nba", required=True),
        "opponent_team_abbr": Team("opponent", required=True),
        "home_away": Text("home_away", required=True),
        "player_name": Text("player", required=True),
        "bbref_player_id": Text("bbref_player_id"),
        "_status": Text("status"),
        "_starter": Text("starter"),
        "minutes_played": Num("minutes", minimum=0),
        **box_stats(),
        "plus_minus": Int("plus_minus", minimum=None),
        "bbref_usage_rate": Num("usg_pct", minimum=0),
    },
    derived={
        **_game_keys(),
        "player_lookup": ids.player_lookup_sql("player_name"),
        # A listed player either played or not; the status text is the DNP reason.
        "player_status": "CASE WHEN _status IS NULL OR _status = 'Played' THEN 'active' ELSE 'dnp' END",
        "dnp_reason": "CASE WHEN _status <> 'Played' THEN _status END",
        "starter_flag": "coalesce(_starter = '1', false)",
    },
    checks=[HOME_AWAY_CHECK],
)

inactives = Loader(
    name="bbref_inactives", family=FAMILY, table="nba_raw.nbac_gamebook_player_stats", order=60,
    description="official inactive lists (inactive players are not rows of player_box)",
    signature=frozenset({"bbref_game_id", "bbref_player_id", "team_nba"}),
    absent=frozenset({"status", "mp", "pts"}),
    columns={
        "nba_game_id": NbaGameId("nba_game_id", required=True),
        "game_date": Date("game_date", required=True),
        "team_abbr": Team("team_nba", required=True),
        "player_name": Text("player", required=True),
        "bbref_player_id": Text("bbref_player_id"),
    },
    join=SCHEDULE_JOIN,
    derived={
        **SCHEDULE_DERIVED,
        "player_lookup": ids.player_lookup_sql("player_name"),
        "player_status": "'inactive'",
        "dnp_reason": "'Inactive'",
        "starter_flag": "false",
    },
    checks=SCHEDULE_CHECKS,
)

team_box = Loader(
    name="bbref_team_box", family=FAMILY, table="nba_raw.nbac_team_boxscore",
    description="Basketball-Reference team totals, two rows per game",
    signature=frozenset({"bbref_game_id", "pts_for", "pts_against"}),
    absent=frozenset({"bbref_player_id"}),
    columns={
        "nba_game_id": NbaGameId("nba_game_id", required=True),
        "game_date": Date("game_date", required=True),
        "team_abbr": Team("team_nba", required=True),
        "opponent_team_abbr": Team("opponent", required=True),
        "home_away": Text("home_away", required=True),
        "win_flag": Bool("win"),
        "minutes": Int("mp"),
        **box_stats(),
    },
    derived=_game_keys(),
    checks=[HOME_AWAY_CHECK],
)

line_scores = Loader(
    name="bbref_line_scores", family=FAMILY, table="nba_raw.nbac_team_boxscore", order=60,
    description="points per period; adds quarter and overtime points to nbac_team_boxscore",
    signature=frozenset({"bbref_game_id", "total", "p1", "p4"}),
    optional=frozenset({"p5", "p6", "p7"}),
    columns={
        "nba_game_id": NbaGameId("nba_game_id", required=True),
        "game_date": Date("game_date", required=True),
        "team_abbr": Team("team_nba", required=True),
        "q1_points": Int("p1"), "q2_points": Int("p2"), "q3_points": Int("p3"), "q4_points": Int("p4"),
        "_p5": Int("p5"), "_p6": Int("p6"), "_p7": Int("p7"),
    },
    join=SCHEDULE_JOIN,
    derived={
        **SCHEDULE_DERIVED,
        "ot_points": "coalesce(_p5, 0) + coalesce(_p6, 0) + coalesce(_p7, 0)",
        "overtime_periods": "(_p5 IS NOT NULL)::INT + (_p6 IS NOT NULL)::INT + (_p7 IS NOT NULL)::INT",
    },
    checks=SCHEDULE_CHECKS,
)

games = Loader(
    name="bbref_games", family=FAMILY, table="nba_raw.nbac_schedule", order=10,
    description="one row per game: date, teams, result, season, type",
    signature=frozenset({"bbref_game_id", "start_time_et", "away_team", "home_team"}),
    optional=frozenset({"arena", "overtime_periods", "start_time_et"}),
    columns={
        "bbref_game_id": Text("bbref_game_id"),
        "nba_game_id": NbaGameId("nba_game_id", required=True),
        "season": Text("season", required=True),
        "game_type": Text("game_type"),
        "game_date": Date("game_date", required=True),
        "game_time_et": Text("start_time_et"),
        "away_team_abbr": Team("away_team", required=True),
        "home_team_abbr": Team("home_team", required=True),
        "away_team_score": Int("away_pts"),
        "home_team_score": Int("home_pts"),
        "overtime_periods": Int("overtime_periods"),
        "arena": Text("arena"),
    },
    derived={
        "game_id": ids.game_id_sql("game_date", "away_team_abbr", "home_team_abbr"),
        "season_year": "TRY_CAST(substr(season, 1, 4) AS INTEGER)",
    },
    checks=[("TRY_CAST(substr(season, 1, 4) AS INTEGER) IS NULL", "'not a season label: ' || season")],
)

LOADERS = [games, player_box, inactives, team_box, line_scores]
