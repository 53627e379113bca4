from nbapipe.processors.base import Input, expected_players, processor

PROCESSOR = processor(
    __name__,
    name="player_daily_cache", phase=4,
    table="nba_precompute.player_daily_cache", key=("cache_date", "player_lookup"),
    slice_column="cache_date",
    description="Per player with a game that date and 3+ games played this season: scoring, "
                "minutes and usage windows, recent load, his team's pace and offensive rating",
    inputs=(
        Input("upcoming_player_game_context"),
        Input("player_game_summary", when="lookback"),
        Input("team_offense_game_summary", when="lookback"),
    ),
    lookback="season",
    bootstrap_skip=True,
    source_column=None,
    expected_sql=expected_players("cache_date", min_games_played=3),
)
