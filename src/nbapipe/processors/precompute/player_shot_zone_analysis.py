from nbapipe.processors.base import Input, processor

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
    expected_sql="""
        SELECT d.game_date, count(u.player_lookup), count(o.player_lookup), 'players'
        FROM run_dates d
        JOIN nba_analytics.upcoming_player_game_context u
          ON u.game_date = d.game_date AND u.games_played_season >= 1
        LEFT JOIN {out} o ON o.analysis_date = u.game_date AND o.player_lookup = u.player_lookup
        GROUP BY d.game_date""",
)
