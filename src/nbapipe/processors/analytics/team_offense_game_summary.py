from nbapipe.processors.base import EXPECTED_TEAM_GAMES, Input, processor

PROCESSOR = processor(
    __name__,
    name="team_offense_game_summary", phase=3,
    table="nba_analytics.team_offense_game_summary", key=("game_date", "team_abbr"),
    description="Team box score per game with possessions, offensive rating, pace, TS%, zones",
    inputs=(
        Input("chain:team_boxscores"),                      # team box -> game logs -> from players
        Input("nba_reference.schedule"),
        Input("nba_raw.nbac_shot_chart", required=False),   # zones where shot data exist
    ),
    # Both teams of every scheduled game are expected.
    expected_sql=EXPECTED_TEAM_GAMES,
)
