from nbapipe.processors.base import EXPECTED_TEAM_ROSTERS, Input, processor

PROCESSOR = processor(
    __name__,
    name="player_game_summary", phase=3,
    table="nba_analytics.player_game_summary", key=("game_date", "player_lookup"),
    description="One row per player listed in a box score (played or DNP): box score, usage, "
                "shooting efficiency, shot zones, points line and over/under result",
    inputs=(
        Input("chain:player_boxscores"),                           # gamebook -> nbac -> bdl
        Input("team_offense_game_summary"),                        # team totals for usage rate
        Input("nba_raw.nbac_shot_chart", required=False),
        Input("chain:points_lines", required=False),               # odds_api -> bettingpros
    ),
    # Expected: both teams of every scheduled game, each with at least five players who
    # played; a missing roster makes the date partial and is named.
    expected_sql=EXPECTED_TEAM_ROSTERS,
)
