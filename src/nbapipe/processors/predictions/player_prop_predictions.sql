-- player_prop_predictions: each system's points prediction per player with a game that date,
-- its confidence and, where the feature row carries a line, a pick
-- (key: game_date, player_lookup, system_id).
-- Reads the systems' raw predictions (temp table raw_predictions: game_date, player_lookup,
-- system_id, predicted_points, reference_std, model_version) and the date's feature-store row
-- (line, feature quality, scoring volatility): nothing else of the date or later.
--   confidence (0-100) = feature_quality_score x min(1, reference_std / points_std_last_10):
--     lower when features are missing, or when the player's last-10 scoring spread is wider
--     than the system's typical error (reference_std); no spread known -> quality alone.
--   edge = predicted_points - points_line (NULL without a line).
--   recommendation: NULL without a line; OVER / UNDER when |edge| >= the minimum edge and
--     confidence >= the minimum confidence (settings, bound as parameters); else PASS (a
--     prediction exactly on the line is always PASS).
WITH scored AS (
    SELECT r.game_date, r.player_lookup, r.system_id, r.model_version,
           f.game_id, f.team_abbr, f.opponent_team_abbr, f.feature_version, f.feature_quality_score,
           f.vegas_points_line AS points_line,
           round(r.predicted_points, 6) AS predicted_points,
           round(f.feature_quality_score
                 * least(CAST(1 AS DOUBLE),
                         r.reference_std / greatest(r.reference_std, coalesce(f.points_std_last_10, r.reference_std))),
                 6) AS confidence
    FROM raw_predictions r
    JOIN nba_predictions.ml_feature_store f
      ON f.game_date = r.game_date AND f.player_lookup = r.player_lookup
)
SELECT
    game_date,
    player_lookup,
    system_id,
    game_id,
    team_abbr,
    opponent_team_abbr,
    predicted_points,
    confidence,
    CASE WHEN points_line IS NULL THEN NULL
         WHEN abs(predicted_points - points_line) >= CAST(? AS DOUBLE)
              AND predicted_points <> points_line AND confidence >= CAST(? AS DOUBLE)
              THEN CASE WHEN predicted_points > points_line THEN 'OVER' ELSE 'UNDER' END
         ELSE 'PASS' END                                     AS recommendation,
    points_line,
    round(predicted_points - points_line, 6)                 AS edge,
    feature_quality_score,
    feature_version,
    model_version,
    CAST(? AS VARCHAR)                                       AS run_id,
    current_timestamp                                        AS processed_at
FROM scored
