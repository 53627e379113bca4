-- prediction_accuracy: every prediction of the date graded against what happened that day
-- (key: game_date, player_lookup, system_id). Grading is after the fact: this is the only Phase 5
-- reader of the date's outcomes (nba_analytics.player_game_summary of the same date).
--   is_dnp: the player was listed but did not play (or has no box-score row): the prediction
--     is voided: no actual points, no error, no pick.
--   absolute_error = |predicted - actual|; signed_error = predicted - actual (> 0: too high);
--   within_3_points / within_5_points: absolute_error <= 3 / <= 5.
--   Picks are graded against the line stored with the prediction: OVER is correct when
--     actual > line, UNDER when actual < line; actual = line is a push (neither); PASS and DNP
--     are voided (void_reason). prediction_correct is NULL for everything that is not a
--     decided OVER/UNDER, so hit rate = correct / (correct + incorrect) over non-NULL rows.
--   line_absolute_error = |line - actual|: how far the book's line itself was off.
--   profit: units won on a one-unit stake at the quoted price of the pick (pick_price, American
--     odds): price / 100 when > 0, 100 / -price otherwise, -1 on a loss, 0 on a push; NULL when
--     there was no decided pick. went_over: actual > line (1/0), NULL without a line, on a push
--     or DNP: what p_over and line_p_over are scored against (Brier score).
WITH preds AS (
    SELECT * FROM nba_predictions.player_prop_predictions
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
outcome AS (
    SELECT p.*, s.points AS box_points, s.minutes_played,
           (s.player_lookup IS NULL OR s.is_dnp OR s.points IS NULL) AS is_dnp,
           s.player_lookup IS NULL AS no_box_score
    FROM preds p
    LEFT JOIN nba_analytics.player_game_summary s
      ON s.game_date = p.game_date AND s.player_lookup = p.player_lookup
),
graded AS (
    SELECT o.*,
           CASE WHEN is_dnp THEN NULL ELSE box_points END AS actual_points,
           recommendation IN ('OVER', 'UNDER') AND NOT is_dnp AND box_points = points_line AS push
    FROM outcome o
)
SELECT
    game_date,
    player_lookup,
    system_id,
    game_id,
    team_abbr,
    model_version,
    predicted_points,
    confidence,
    recommendation,
    points_line,
    edge,
    actual_points,
    minutes_played,
    is_dnp,
    round(abs(predicted_points - actual_points), 6)                AS absolute_error,
    round(predicted_points - actual_points, 6)                     AS signed_error,
    abs(predicted_points - actual_points) <= 3                     AS within_3_points,
    abs(predicted_points - actual_points) <= 5                     AS within_5_points,
    round(abs(points_line - actual_points), 6)                     AS line_absolute_error,
    coalesce(push, false)                                          AS is_push,
    CASE WHEN no_box_score THEN 'no_box_score'
         WHEN is_dnp THEN 'dnp'
         WHEN recommendation = 'PASS' THEN 'pass' END              AS void_reason,
    is_dnp OR coalesce(recommendation = 'PASS', false)             AS is_voided,
    CASE WHEN is_dnp OR recommendation IS NULL OR recommendation NOT IN ('OVER', 'UNDER') OR push
              THEN NULL
         WHEN recommendation = 'OVER' THEN actual_points > points_line
         ELSE actual_points < points_line END                      AS prediction_correct,
    q10,
    q90,
    p_over,
    line_p_over,
    pick_price,
    break_even,
    CASE WHEN is_dnp OR points_line IS NULL OR box_points = points_line THEN NULL
         WHEN box_points > points_line THEN 1 ELSE 0 END           AS went_over,
    CASE WHEN is_dnp OR recommendation IS NULL OR recommendation NOT IN ('OVER', 'UNDER') THEN NULL
         WHEN push THEN CAST(0 AS DOUBLE)
         WHEN (recommendation = 'OVER' AND actual_points > points_line)
              OR (recommendation = 'UNDER' AND actual_points < points_line)
              THEN round(CASE WHEN coalesce(pick_price, -110) > 0 THEN coalesce(pick_price, -110) / 100
                              ELSE 100 / -coalesce(pick_price, -110) END, 6)
         ELSE CAST(-1 AS DOUBLE) END                               AS profit,
    (SELECT run_id FROM run_bounds)                                AS run_id,
    current_timestamp                                              AS processed_at
FROM graded
