"""NBA.com stats endpoints saved as CSV (the `nba_api/` folder).

team game logs -> nbac_team_game_logs (the second team source, used as a fallback);
schedule -> nbac_schedule; player game logs -> nbac_player_boxscores."""
from __future__ import annotations

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Bool, Date, Int, NbaGameId, Num, Team, Text

FAMILY = "nba_api"

# LeagueGameFinder / LeagueGameLog column -> production column.
GAME_LOG_STATS = {
    "points": "PTS", "fg_makes": "FGM", "fg_attempts": "FGA", "three_pt_makes": "FG3M",
    "three_pt_attempts": "FG3A", "ft_makes": "FTM", "ft_attempts": "FTA",
    "offensive_rebounds": "OREB", "defensive_rebounds": "DREB", "total_rebounds": "REB",
    "assists": "AST", "steals": "STL", "blocks": "BLK", "turnovers": "TOV", "personal_fouls": "PF",
}
# 'BOS vs. NYK' is BOS at home, 'BOS @ NYK' is BOS away. Read both teams from the text, never
# assume its first team is the row's: for neutral-site games NBA.com writes the matchup from
# the other team's side on one of the two rows ('MIA @ WAS' on the WAS row of the 2024-11-02
# game in Mexico City). The schedule then decides home and away where it has the game
# (contracts.agrees_with_schedule).
MATCHUP_OPPONENT = "regexp_extract({}, '(\\S+)\\s*$', 1)"
MATCHUP_FIRST = "regexp_extract({}, '^\\s*(\\S+)', 1)"
MATCHUP_HOME_AWAY = "CASE WHEN {} LIKE '%@%' THEN 'away' WHEN {} LIKE '%vs%' THEN 'home' END"


def matchup_columns(src: str = "MATCHUP") -> dict:
    """Stage-1 columns of a matchup text: its first team, its last team and its separator."""
    return {
        "_m_first": Team(src, pre=MATCHUP_FIRST, required=True),
        "_m_last": Team(src, pre=MATCHUP_OPPONENT, required=True),
        "_m_side": Text(src, pre=MATCHUP_HOME_AWAY.replace("{}", "{0}")),
    }


_M_AWAY = "CASE _m_side WHEN 'away' THEN _m_first WHEN 'home' THEN _m_last END"
_M_HOME = "CASE _m_side WHEN 'away' THEN _m_last WHEN 'home' THEN _m_first END"
MATCHUP_CHECKS = [
    ("_m_side IS NULL", "'matchup is neither \"A @ B\" nor \"A vs. B\"'"),
    (f"team_abbr NOT IN ({_M_AWAY}, {_M_HOME})",
     f"'team ' || team_abbr || ' is not in matchup ' || {_M_AWAY} || ' @ ' || {_M_HOME}"),
]


def game_keys_from_matchup(team: str = "team_abbr") -> dict[str, str]:
    """home_away, opponent and game_id of the row's team in the matchup's game."""
    return {
        "home_away": f"CASE WHEN {team} = {_M_HOME} THEN 'home' WHEN {team} = {_M_AWAY} THEN 'away' END",
        "opponent_team_abbr": f"CASE WHEN {team} = {_M_HOME} THEN {_M_AWAY} ELSE {_M_HOME} END",
        "game_id": ids.game_id_sql("game_date", _M_AWAY, _M_HOME),
    }


team_game_logs = Loader(
    name="nba_api_team_game_logs", family=FAMILY, table="nba_raw.nbac_team_game_logs", version=2,
    description="NBA.com LeagueGameFinder team rows (preseason and All-Star rows filtered)",
    signature=frozenset({"SEASON_ID", "TEAM_ABBREVIATION", "GAME_ID", "MATCHUP"}),
    absent=frozenset({"PLAYER_ID"}),
    optional=frozenset({"PLUS_MINUS"}),
    columns={
        "_season_id": Text("SEASON_ID", required=True),
        "nba_game_id": NbaGameId("GAME_ID", required=True),
        "game_date": Date("GAME_DATE", required=True),
        "team_abbr": Team("TEAM_ABBREVIATION", required=True),
        **matchup_columns("MATCHUP"),
        "_wl": Text("WL"),
        "minutes": Int("MIN"),
        **{t: Int(s) for t, s in GAME_LOG_STATS.items()},
        "plus_minus": Int("PLUS_MINUS", minimum=None),
    },
    derived={
        **game_keys_from_matchup(),
        "season_year": ids.season_year_from_nba_id_sql("nba_game_id"),
        "game_type": ids.game_type_sql("nba_game_id"),
        "win_flag": "CASE _wl WHEN 'W' THEN true WHEN 'L' THEN false END",
    },
    checks=MATCHUP_CHECKS,
    # SEASON_ID's first digit: 2 regular, 4 playoffs, 5 play-in, 6 IST final; 1 preseason
    # and 3 All-Star are not league games.
    where="substr(_season_id, 1, 1) IN ('2', '4', '5', '6')",
)

schedule = Loader(
    name="nba_api_schedule", family=FAMILY, table="nba_raw.nbac_schedule", order=10,
    description="NBA.com schedule, one row per game",
    signature=frozenset({"game_id", "home_team_id", "away_team_id", "game_date"}),
    optional=frozenset({"bbref_game_id", "home_team_minutes", "neutral_site_matchup_text",
                        "home_pts", "away_pts"}),
    columns={
        "nba_game_id": NbaGameId("game_id", required=True),
        "bbref_game_id": Text("bbref_game_id"),
        "season": Text("season", required=True),
        "game_type": Text("game_type"),
        "game_date": Date("game_date", required=True),
        "home_team_abbr": Team("home_team", required=True),
        "away_team_abbr": Team("away_team", required=True),
        "home_team_score": Int("home_pts"),
        "away_team_score": Int("away_pts"),
        "_minutes": Int("home_team_minutes"),
        "neutral_site": Bool("neutral_site_matchup_text"),
    },
    derived={
        "game_id": ids.game_id_sql("game_date", "away_team_abbr", "home_team_abbr"),
        "season_year": "TRY_CAST(substr(season, 1, 4) AS INTEGER)",
        # Team minutes are 240 + 25 per overtime (the file rounds to 239/241).
        "overtime_periods": "CAST(round((_minutes - 240) / 25.0) AS INTEGER)",
    },
)

player_game_logs = Loader(
    name="nba_api_player_game_logs", family=FAMILY, table="nba_raw.nbac_player_boxscores", version=2,
    description="NBA.com PlayerGameLog rows (selected players only)",
    signature=frozenset({"player_id", "matchup", "threes_made", "pts"}),
    optional=frozenset({"game_id", "plus_minus"}),
    columns={
        "nba_game_id": NbaGameId("game_id"),
        "game_date": Date("date", required=True),
        "team_abbr": Team("team", required=True),
        **matchup_columns("matchup"),
        "player_name": Text("player", required=True),
        "nba_player_id": Text("player_id"),
        "minutes_played": Num("minutes", minimum=0),
        "points": Int("pts"), "fg_makes": Int("fgm"), "fg_attempts": Int("fga"),
        "three_pt_makes": Int("threes_made"), "three_pt_attempts": Int("threes_attempted"),
        "ft_makes": Int("ftm"), "ft_attempts": Int("fta"), "offensive_rebounds": Int("oreb"),
        "defensive_rebounds": Int("dreb"), "total_rebounds": Int("reb"), "assists": Int("ast"),
        "steals": Int("stl"), "blocks": Int("blk"), "turnovers": Int("tov"),
        "personal_fouls": Int("pf"), "plus_minus": Int("plus_minus", minimum=None),
    },
    derived={
        **game_keys_from_matchup(),
        "player_lookup": ids.player_lookup_sql("player_name"),
        "season_year": f"coalesce({ids.season_year_from_nba_id_sql('nba_game_id')}, "
                       f"{ids.season_year_from_date_sql('game_date')})",
        "game_type": ids.game_type_sql("nba_game_id"),
    },
    checks=MATCHUP_CHECKS,
)

LOADERS = [schedule, team_game_logs, player_game_logs]
