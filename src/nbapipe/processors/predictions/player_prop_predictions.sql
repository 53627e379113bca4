-- player_prop_predictions: each system's points prediction per player with a game that date,
-- its confidence and, where the feature row carries a line, a pick
-- (key: game_date, player_lookup, system_id).
-- Reads the systems' raw predictions (temp table raw_predictions: game_date, player_lookup,
-- system_id, predicted_points, reference_std, model_version, q10, q90, p_over, p_under), the
-- date's feature-store row (line, feature quality, scoring volatility) and the books' prices
-- for that line (nba_raw props: each book's latest main line before tip-off): nothing later.
--   confidence (0-100) = feature_quality_score x min(1, reference_std / points_std_last_10):
--     lower when features are missing, or when the player's last-10 scoring spread is wider
--     than the system's typical error (reference_std); no spread known -> quality alone.
--   edge = predicted_points - points_line (NULL without a line).
--   break_even of American odds = 100 / (price + 100) for price > 0, -price / (-price + 100)
--     otherwise; be_over / be_under = the median break-even over the books whose latest line is
--     the consensus line (that of the default price, -110, when no book quotes one), and
--     over_price / under_price the American odds of those medians;
--     line_p_over = the books' vig-free P(over) = be_over / (be_over + be_under).
--   p_over / p_under = line P + line_shrink x (the model's P - line P): the model's distribution
--     trusted against the books' by a factor fitted on earlier lined rows (models.py).
--   recommendation: NULL without a line. A system with probabilities (p_over, p_under):
--     OVER when p_over >= be_over + margin, UNDER when p_under >= be_under + margin (the larger
--     excess when both), else PASS. A system without (the baseline): OVER / UNDER when
--     |edge| >= the minimum edge and confidence >= the minimum confidence, else PASS (a
--     prediction exactly on the line is always PASS). Margin, edge, confidence: settings.
WITH book_lines AS (
    SELECT l.game_id, coalesce(a.player_lookup, l.player_lookup) AS player_lookup, l.bookmaker,
           l.points_line, l.over_price, l.under_price,
           row_number() OVER (PARTITION BY l.game_id, coalesce(a.player_lookup, l.player_lookup), l.bookmaker
                              ORDER BY l.snapshot_at DESC, l.points_line) AS latest
    FROM (SELECT game_id, game_date, player_lookup, bookmaker, snapshot_at, commence_time, points_line,
                 over_price, under_price, is_main_line FROM nba_raw.odds_api_player_points_props
          UNION ALL
          SELECT game_id, game_date, player_lookup, bookmaker, snapshot_at, commence_time, points_line,
                 over_price, under_price, is_main_line FROM nba_raw.bettingpros_player_points_props) l
    LEFT JOIN nba_reference.player_alias a ON a.alias_lookup = l.player_lookup
    WHERE l.game_date IN (SELECT game_date FROM run_dates) AND coalesce(l.is_main_line, true)
      AND l.snapshot_at <= coalesce(l.commence_time, l.snapshot_at)
),
scored AS (
    SELECT r.game_date, r.player_lookup, r.system_id, r.model_version, r.q10, r.q90,
           r.p_over AS model_p_over, r.p_under AS model_p_under, r.line_shrink,
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
),
book_prices AS (   -- each book's price as its break-even probability (American odds do not average)
    SELECT b.*,
           CASE WHEN b.over_price > 0 THEN 100 / (b.over_price + 100) ELSE -b.over_price / (-b.over_price + 100) END AS be_over,
           CASE WHEN b.under_price > 0 THEN 100 / (b.under_price + 100) ELSE -b.under_price / (-b.under_price + 100) END AS be_under
    FROM book_lines b WHERE b.latest = 1 AND b.over_price IS NOT NULL AND b.under_price IS NOT NULL
),
prices AS (
    SELECT s.game_date, s.player_lookup, s.system_id,
           coalesce(median(b.be_over), CAST(? AS DOUBLE)) AS be_over,
           coalesce(median(b.be_under), CAST(? AS DOUBLE)) AS be_under
    FROM scored s
    LEFT JOIN book_prices b ON b.game_id = s.game_id AND b.player_lookup = s.player_lookup
                           AND b.points_line = s.points_line
    WHERE s.points_line IS NOT NULL
    GROUP BY s.game_date, s.player_lookup, s.system_id
),
priced AS (
    SELECT s.*, p.be_over, p.be_under,
           -- the model's P against the books' vig-free P, trusted by line_shrink (models.py)
           p.be_over / (p.be_over + p.be_under) + s.line_shrink * (s.model_p_over - p.be_over / (p.be_over + p.be_under)) AS p_over,
           p.be_under / (p.be_over + p.be_under) + s.line_shrink * (s.model_p_under - p.be_under / (p.be_over + p.be_under)) AS p_under,
           round(CASE WHEN p.be_over >= 0.5 THEN -100 * p.be_over / (1 - p.be_over) ELSE 100 * (1 - p.be_over) / p.be_over END, 2) AS over_price,
           round(CASE WHEN p.be_under >= 0.5 THEN -100 * p.be_under / (1 - p.be_under) ELSE 100 * (1 - p.be_under) / p.be_under END, 2) AS under_price
    FROM scored s
    LEFT JOIN prices p ON p.game_date = s.game_date AND p.player_lookup = s.player_lookup AND p.system_id = s.system_id
),
picked AS (
    SELECT x.*,
           CASE WHEN points_line IS NULL THEN NULL
                WHEN p_over IS NOT NULL THEN
                    CASE WHEN p_over - be_over >= CAST(? AS DOUBLE) AND p_over - be_over >= p_under - be_under THEN 'OVER'
                         WHEN p_under - be_under >= CAST(? AS DOUBLE) THEN 'UNDER'
                         ELSE 'PASS' END
                WHEN abs(predicted_points - points_line) >= CAST(? AS DOUBLE)
                     AND predicted_points <> points_line AND confidence >= CAST(? AS DOUBLE)
                     THEN CASE WHEN predicted_points > points_line THEN 'OVER' ELSE 'UNDER' END
                ELSE 'PASS' END                                  AS recommendation
    FROM priced x
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
    recommendation,
    points_line,
    round(predicted_points - points_line, 6)                 AS edge,
    feature_quality_score,
    feature_version,
    model_version,
    round(q10, 6)                                            AS q10,
    round(q90, 6)                                            AS q90,
    round(model_p_over, 6)                                   AS model_p_over,
    line_shrink,
    round(p_over, 6)                                         AS p_over,
    round(p_under, 6)                                        AS p_under,
    over_price,
    under_price,
    round(be_over / (be_over + be_under), 6)                 AS line_p_over,
    round(CASE recommendation WHEN 'OVER' THEN be_over WHEN 'UNDER' THEN be_under END, 6) AS break_even,
    CASE recommendation WHEN 'OVER' THEN over_price WHEN 'UNDER' THEN under_price END AS pick_price,
    CAST(? AS VARCHAR)                                       AS run_id,
    current_timestamp                                        AS processed_at
FROM picked
