from nbapipe.processors.base import Input, processor

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
    expected_sql="""
        SELECT d.game_date, count(u.player_lookup), count(o.player_lookup), 'players'
        FROM run_dates d
        JOIN nba_analytics.upcoming_player_game_context u
          ON u.game_date = d.game_date AND u.games_played_season >= 3
        LEFT JOIN {out} o ON o.cache_date = u.game_date AND o.player_lookup = u.player_lookup
        GROUP BY d.game_date""",
)
