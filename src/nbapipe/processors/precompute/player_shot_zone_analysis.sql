-- player_shot_zone_analysis: per player with a game on the analysis date and at least one game
-- played this season, his shot profile over his last 10 and 20 games played (minutes > 0,
-- same season, strictly before the date) (key: analysis_date, player_lookup).
-- Shares and FG% are fractions over the games that have shot-chart data (the shot files have
-- no play-in games); with none, the zone columns are NULL and has_shot_zone_data is false.
WITH universe AS (
    SELECT game_date AS analysis_date, player_lookup, season_year
    FROM nba_analytics.upcoming_player_game_context
    WHERE game_date IN (SELECT game_date FROM run_dates) AND games_played_season >= 1
),
played AS (
    SELECT player_lookup, season_year, game_date, game_id, fg_attempts, has_shot_zones,
           paint_attempts, paint_makes, mid_range_attempts, mid_range_makes,
           three_zone_attempts, three_zone_makes
    FROM nba_analytics.player_game_summary
    WHERE minutes_played > 0
      AND game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
pairs AS (
    SELECT u.analysis_date, u.player_lookup, u.season_year, h.game_date, h.fg_attempts, h.has_shot_zones,
           h.paint_attempts, h.paint_makes, h.mid_range_attempts, h.mid_range_makes,
           h.three_zone_attempts, h.three_zone_makes,
           row_number() OVER (PARTITION BY u.analysis_date, u.player_lookup
                              ORDER BY h.game_date DESC, h.game_id DESC) AS k
    FROM universe u
    JOIN played h ON h.player_lookup = u.player_lookup AND h.season_year = u.season_year
                 AND h.game_date < u.analysis_date
),
agg AS (
    SELECT analysis_date, player_lookup, min(season_year) AS season_year,
           count(*) AS games_played_season,
           sum(CASE WHEN k <= 10 THEN 1 ELSE 0 END) AS games_last_10,
           sum(CASE WHEN k <= 20 THEN 1 ELSE 0 END) AS games_last_20,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN 1 ELSE 0 END) AS shot_games_last_10,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN 1 ELSE 0 END) AS shot_games_last_20,
           avg(CASE WHEN k <= 10 THEN CAST(fg_attempts AS DOUBLE) END) AS attempts_per_game_last_10,
           avg(CASE WHEN k <= 20 THEN CAST(fg_attempts AS DOUBLE) END) AS attempts_per_game_last_20,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN paint_attempts END) AS pa10,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN paint_makes END) AS pm10,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN mid_range_attempts END) AS ma10,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN mid_range_makes END) AS mm10,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN three_zone_attempts END) AS ta10,
           sum(CASE WHEN k <= 10 AND has_shot_zones THEN three_zone_makes END) AS tm10,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN paint_attempts END) AS pa20,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN paint_makes END) AS pm20,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN mid_range_attempts END) AS ma20,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN mid_range_makes END) AS mm20,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN three_zone_attempts END) AS ta20,
           sum(CASE WHEN k <= 20 AND has_shot_zones THEN three_zone_makes END) AS tm20
    FROM pairs GROUP BY analysis_date, player_lookup
),
rates AS (
    SELECT a.*,
           CAST(pa10 + ma10 + ta10 AS DOUBLE) AS zone_attempts_10,
           CAST(pa20 + ma20 + ta20 AS DOUBLE) AS zone_attempts_20
    FROM agg a
)
SELECT
    analysis_date,
    player_lookup,
    season_year,
    games_played_season,
    games_last_10,
    games_last_20,
    shot_games_last_10,
    shot_games_last_20,
    shot_games_last_20 > 0                                          AS has_shot_zone_data,
    round(pa10 / nullif(zone_attempts_10, 0), 6)                    AS paint_rate_last_10,
    round(ma10 / nullif(zone_attempts_10, 0), 6)                    AS mid_range_rate_last_10,
    round(ta10 / nullif(zone_attempts_10, 0), 6)                    AS three_pt_rate_last_10,
    round(pm10 / nullif(CAST(pa10 AS DOUBLE), 0), 6)                AS paint_fg_pct_last_10,
    round(mm10 / nullif(CAST(ma10 AS DOUBLE), 0), 6)                AS mid_range_fg_pct_last_10,
    round(tm10 / nullif(CAST(ta10 AS DOUBLE), 0), 6)                AS three_pt_fg_pct_last_10,
    round(pa20 / nullif(zone_attempts_20, 0), 6)                    AS paint_rate_last_20,
    round(ma20 / nullif(zone_attempts_20, 0), 6)                    AS mid_range_rate_last_20,
    round(ta20 / nullif(zone_attempts_20, 0), 6)                    AS three_pt_rate_last_20,
    round(pm20 / nullif(CAST(pa20 AS DOUBLE), 0), 6)                AS paint_fg_pct_last_20,
    round(mm20 / nullif(CAST(ma20 AS DOUBLE), 0), 6)                AS mid_range_fg_pct_last_20,
    round(tm20 / nullif(CAST(ta20 AS DOUBLE), 0), 6)                AS three_pt_fg_pct_last_20,
    round(attempts_per_game_last_10, 6)                             AS attempts_per_game_last_10,
    round(attempts_per_game_last_20, 6)                             AS attempts_per_game_last_20,
    -- The zone of most attempts over the last 20 games; ties go paint, mid-range, three.
    CASE WHEN zone_attempts_20 IS NULL OR zone_attempts_20 = 0 THEN NULL
         WHEN pa20 >= ma20 AND pa20 >= ta20 THEN 'paint'
         WHEN ma20 >= ta20 THEN 'mid_range' ELSE 'three' END      AS primary_scoring_zone,
    (SELECT run_id FROM run_bounds)                                 AS run_id,
    current_timestamp                                               AS processed_at
FROM rates
