from nbapipe.processors.base import EXPECTED_TEAM_GAMES, Input, processor

PROCESSOR = processor(
    __name__,
    name="upcoming_team_game_context", phase=3,
    table="nba_analytics.upcoming_team_game_context", key=("game_date", "team_abbr"),
    description="Per team and game date: rest, back-to-back, schedule density, streak, lines",
    inputs=(
        Input("nba_reference.schedule"),                        # the game and every earlier result
        Input("nba_raw.odds_api_game_lines", required=False),   # spread/total where lines exist
    ),
    lookback="season",
    source_column=None,
    expected_sql=EXPECTED_TEAM_GAMES,
)
