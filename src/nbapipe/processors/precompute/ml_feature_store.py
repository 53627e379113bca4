from nbapipe.processors.base import Input, expected_players, processor

# The features, in order; the SQL has one column per name and a source for each.
FEATURES = (
    "points_avg_last_5", "points_avg_last_10", "points_avg_season", "points_std_last_10",
    "games_in_last_7_days", "fatigue_score", "shot_zone_mismatch_score", "pace_score",
    "usage_spike_score", "rest_advantage", "recent_trend", "minutes_change",
    "opponent_def_rating", "opponent_pace", "home_away", "back_to_back", "pct_paint",
    "pct_mid_range", "pct_three", "pct_free_throw", "team_pace", "team_off_rating",
    "team_win_pct", "vegas_points_line", "has_vegas_line",
)
# v1: the first 25, kept unchanged (columns and meaning) so models and readers of v1 still work.
FEATURES_V1 = FEATURES
# v2 adds what carries signal for a player's points (the SQL's header says how each is made).
FEATURES_V2_ADDED = (
    "points_avg_last_3", "minutes_avg_last_3", "minutes_avg_last_5", "minutes_avg_last_10",
    "minutes_avg_season", "minutes_trend", "starts_last_5", "minutes_share_last_10",
    "usage_rate_last_10", "fga_avg_last_5", "fta_avg_last_5", "points_per_minute_last_10",
    "points_per_minute_season", "games_played_season", "days_since_last_game",
    "third_in_four_nights", "team_games_missed_last_5", "games_since_joining",
    "absent_teammate_points", "absent_teammate_minutes", "absent_teammates",
    "opp_role_points_allowed", "opp_points_allowed", "team_spread", "game_total_line",
    "prev_season_points_avg", "prev_season_minutes_avg", "prev_season_games",
)
# v3 adds availability from the date's inactive list, the role tonight, recency-weighted form and
# the points + rebounds + assists market (the SQL's header says how each is made).
FEATURES_V3_ADDED = (
    "teammates_out", "teammates_out_points", "teammates_out_minutes", "teammates_out_starts",
    "teammates_newly_out_points", "teammates_returning_points", "opponents_out_points",
    "returning_from_inactive", "minutes_rank_tonight", "start_rank_tonight",
    "available_minutes_tonight", "expected_minutes_tonight", "points_ewm_5", "minutes_ewm_5",
    "points_last_game", "minutes_last_game", "started_last_game", "pra_line", "pra_implied_points",
)
# v4 adds his last 40 games in any season, overall, as a starter, off the bench and in his role
# tonight (the SQL's header says how each is made).
FEATURES_V4_ADDED = (
    "points_avg_last_40", "minutes_avg_last_40", "points_per_minute_last_40", "games_last_40",
    "starts_last_40", "points_avg_started_last_40", "points_avg_bench_last_40",
    "minutes_avg_started_last_40", "minutes_avg_bench_last_40", "points_avg_role_last_40",
    "minutes_avg_role_last_40",
)
FEATURES = FEATURES_V1 + FEATURES_V2_ADDED + FEATURES_V3_ADDED + FEATURES_V4_ADDED
FEATURE_VERSION = "v4_83features"

PROCESSOR = processor(
    __name__,
    name="ml_feature_store", phase=4,
    table="nba_predictions.ml_feature_store", key=("game_date", "player_lookup"),
    description="Per player with a game that date: the named, versioned feature vector, each "
                "feature with its source (Phase 4, Phase 3 fallback, calculated, missing)",
    inputs=(
        Input("upcoming_player_game_context"),
        Input("upcoming_team_game_context"),
        Input("player_daily_cache"),
        Input("player_composite_factors"),
        Input("player_shot_zone_analysis"),
        Input("team_defense_zone_analysis"),
        Input("player_game_summary", when="lookback"),
        Input("team_offense_game_summary", when="lookback"),
        Input("team_defense_game_summary", when="lookback"),
    ),
    lookback="season",
    bootstrap_skip=True,
    source_column=None,
    expected_sql=expected_players(),
)
