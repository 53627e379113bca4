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
# 'BOS vs. NYK' is BOS at home, 'BOS @ NYK' is BOS away; the opponent is the last word.
MATCHUP_OPPONENT = "regexp_extract({}, '(\\S+)\\s*$', 1)"
MATCHUP_HOME_AWAY = "CASE WHEN {} LIKE '%@%' THEN 'away' WHEN {} LIKE '%vs%' THEN 'home' END"


def game_keys_from_matchup(team: str = "team_abbr", opp: str = "opponent_team_abbr") -> dict[str, str]:
    away = f"CASE WHEN home_away = 'home' THEN {opp} ELSE {team} END"
    home = f"CASE WHEN home_away = 'home' THEN {team} ELSE {opp} END"
    return {"game_id": ids.game_id_sql("game_date", away, home)}


team_game_logs = Loader(
    name="nba_api_team_game_logs", family=FAMILY, table="nba_raw.nbac_team_game_logs",
    description="NBA.com LeagueGameFinder team rows (preseason and All-Star rows filtered)",
    signature=frozenset({"SEASON_ID", "TEAM_ABBREVIATION", "GAME_ID", "MATCHUP"}),
    absent=frozenset({"PLAYER_ID"}),
    optional=frozenset({"PLUS_MINUS"}),
    columns={
        "_season_id": Text("SEASON_ID", required=True),
        "nba_game_id": NbaGameId("GAME_ID", required=True),
        "game_date": Date("GAME_DATE", required=True),
        "team_abbr": Team("TEAM_ABBREVIATION", required=True),
        "opponent_team_abbr": Team("MATCHUP", pre=MATCHUP_OPPONENT, required=True),
        "home_away": Text("MATCHUP", pre=MATCHUP_HOME_AWAY.replace("{}", "{0}")),
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
    name="nba_api_player_game_logs", family=FAMILY, table="nba_raw.nbac_player_boxscores",
    description="NBA.com PlayerGameLog rows (selected players only)",
    signature=frozenset({"player_id", "matchup", "threes_made", "pts"}),
    optional=frozenset({"game_id", "plus_minus"}),
    columns={
        "nba_game_id": NbaGameId("game_id"),
        "game_date": Date("date", required=True),
        "team_abbr": Team("team", required=True),
        "opponent_team_abbr": Team("matchup", pre=MATCHUP_OPPONENT, required=True),
        "home_away": Text("matchup", pre=MATCHUP_HOME_AWAY.replace("{}", "{0}")),
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
)

LOADERS = [schedule, team_game_logs, player_game_logs]
