from nbapipe.processors.base import Input, expected_players, processor

PROCESSOR = processor(
    __name__,
    name="player_composite_factors", phase=4,
    table="nba_precompute.player_composite_factors", key=("game_date", "player_lookup"),
    description="Per player with a game that date: fatigue, shot-zone mismatch, pace and usage "
                "spike scores, each with its inputs; a missing input gives NULL and a flag",
    inputs=(
        Input("upcoming_player_game_context"),
        Input("player_shot_zone_analysis"),
        Input("team_defense_zone_analysis"),
        Input("player_game_summary", when="lookback"),
        Input("team_offense_game_summary", when="lookback"),
    ),
    lookback="season",
    bootstrap_skip=True,
    source_column=None,
    # Every player with a game that date gets a row (factors may be NULL with their flag).
    expected_sql=expected_players(),
)
