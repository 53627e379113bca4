from nbapipe.processors.base import Input, expected_players, processor

PROCESSOR = processor(
    __name__,
    name="player_shot_zone_analysis", phase=4,
    table="nba_precompute.player_shot_zone_analysis", key=("analysis_date", "player_lookup"),
    slice_column="analysis_date",
    description="Per player with a game that date: shot mix and FG% by zone over his last 10 and "
                "20 games, attempts per game, primary scoring zone",
    inputs=(
        Input("upcoming_player_game_context"),                 # who plays that date
        Input("player_game_summary", when="lookback"),
    ),
    lookback="season",
    bootstrap_skip=True,
    source_column=None,
    # Expected: players with a game that date who have played at least once this season.
    expected_sql=expected_players("analysis_date", min_games_played=1),
)
