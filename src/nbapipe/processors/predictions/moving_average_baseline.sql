-- moving_average_baseline: a player's points from his own recent scoring, read from the feature
-- store row of the date only (key: game_date, player_lookup; system_id 'moving_average_baseline').
--   base = 0.5 x points_avg_last_5 + 0.3 x points_avg_last_10 + 0.2 x points_avg_season, the
--          weights renormalised over the averages present (NULL when he has no game this season).
--   composite adjustments (round numbers, each small; a NULL factor adjusts nothing):
--     pace:      base x 0.02 x pace_score (pace_score = half the opponent's pace edge, -3..3)
--     shot zone: 0.04 x shot_zone_mismatch_score (his primary zone vs the opponent's FG% allowed)
--     fatigue:   base x 0.001 x (fatigue_score - 100) (fatigue 100 = rested; 55 = -4.5%)
--   usage_spike_score gets no weight: recent usage spikes revert (its residual slope is ~0).
--   predicted_points = max(0, base + adjustments).
-- reference_std: the typical error spread the confidence compares a player's volatility to.
WITH rows_of_date AS (
    SELECT * FROM nba_predictions.ml_feature_store
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
weighted AS (
    SELECT game_date, player_lookup, pace_score, shot_zone_mismatch_score, fatigue_score,
           (CAST(0.5 AS DOUBLE) * coalesce(points_avg_last_5, 0)
            + CAST(0.3 AS DOUBLE) * coalesce(points_avg_last_10, 0)
            + CAST(0.2 AS DOUBLE) * coalesce(points_avg_season, 0))
           / nullif(CASE WHEN points_avg_last_5 IS NULL THEN 0 ELSE CAST(0.5 AS DOUBLE) END
                    + CASE WHEN points_avg_last_10 IS NULL THEN 0 ELSE CAST(0.3 AS DOUBLE) END
                    + CASE WHEN points_avg_season IS NULL THEN 0 ELSE CAST(0.2 AS DOUBLE) END, 0) AS base
    FROM rows_of_date
)
SELECT
    game_date,
    player_lookup,
    'moving_average_baseline'                                    AS system_id,
    greatest(CAST(0 AS DOUBLE),
             base
             + base * CAST(0.02 AS DOUBLE) * coalesce(pace_score, 0)
             + CAST(0.04 AS DOUBLE) * coalesce(shot_zone_mismatch_score, 0)
             + base * CAST(0.001 AS DOUBLE) * (coalesce(fatigue_score, 100) - 100)) AS predicted_points,
    CAST(? AS DOUBLE)                                            AS reference_std,
    'moving_average_v1'                                          AS model_version,
    CAST(NULL AS DOUBLE) AS q10, CAST(NULL AS DOUBLE) AS q90,   -- no distribution: picks by edge
    CAST(NULL AS DOUBLE) AS p_over, CAST(NULL AS DOUBLE) AS p_under, CAST(NULL AS DOUBLE) AS line_shrink
FROM weighted
WHERE base IS NOT NULL
