-- player_daily_cache: per player with a game on the cache date and at least 3 games played this
-- season (key: cache_date, player_lookup). Windows are his games played (minutes > 0) in the same
-- season strictly before the date; team windows are his team's last 10 games before the date.
-- Averages of stored (rounded) decimals sum integer micro-units: exact in any order, so
-- every run and engine gets the same double (float sums in parallel are not bit-stable).
WITH universe AS (
    SELECT game_date AS cache_date, player_lookup, season_year, team_abbr, opponent_team_abbr,
           games_played_season, games_in_last_7_days, games_in_last_14_days,
           minutes_in_last_7_days, minutes_in_last_14_days
    FROM nba_analytics.upcoming_player_game_context
    WHERE game_date IN (SELECT game_date FROM run_dates) AND games_played_season >= 3
),
played AS (
    SELECT player_lookup, season_year, game_date, game_id, points, minutes_played, usage_rate
    FROM nba_analytics.player_game_summary
    WHERE minutes_played > 0
      AND game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
pairs AS (
    SELECT u.cache_date, u.player_lookup, h.points, h.minutes_played, h.usage_rate,
           row_number() OVER (PARTITION BY u.cache_date, u.player_lookup
                              ORDER BY h.game_date DESC, h.game_id DESC) AS k
    FROM universe u
    JOIN played h ON h.player_lookup = u.player_lookup AND h.season_year = u.season_year
                 AND h.game_date < u.cache_date
),
form AS (
    SELECT cache_date, player_lookup,
           avg(CASE WHEN k <= 5 THEN CAST(points AS DOUBLE) END) AS points_avg_last_5,
           avg(CASE WHEN k <= 10 THEN CAST(points AS DOUBLE) END) AS points_avg_last_10,
           avg(CAST(points AS DOUBLE)) AS points_avg_season,
           stddev_samp(CASE WHEN k <= 10 THEN CAST(points AS DOUBLE) END) AS points_std_last_10,
           avg(CASE WHEN k <= 10 THEN round(minutes_played * 1000000) END) / 1000000 AS minutes_avg_last_10,
           avg(round(minutes_played * 1000000)) / 1000000 AS minutes_avg_season,
           avg(CASE WHEN k <= 10 THEN round(usage_rate * 1000000) END) / 1000000 AS usage_avg_last_10
    FROM pairs GROUP BY cache_date, player_lookup
),
team_games AS (
    SELECT team_abbr, season_year, game_date, game_id, pace, offensive_rating
    FROM nba_analytics.team_offense_game_summary
    WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
team_form AS (
    SELECT cache_date, team_abbr,
           avg(CASE WHEN k <= 10 THEN round(pace * 1000000) END) / 1000000 AS team_pace_last_10,
           avg(CASE WHEN k <= 10 THEN round(offensive_rating * 1000000) END) / 1000000 AS team_off_rating_last_10
    FROM (SELECT t.cache_date, t.team_abbr, g.pace, g.offensive_rating,
                 row_number() OVER (PARTITION BY t.cache_date, t.team_abbr ORDER BY g.game_date DESC, g.game_id DESC) AS k
          FROM (SELECT DISTINCT cache_date, team_abbr, season_year FROM universe) t
          JOIN team_games g ON g.team_abbr = t.team_abbr AND g.season_year = t.season_year
                           AND g.game_date < t.cache_date)
    GROUP BY cache_date, team_abbr
)
SELECT
    u.cache_date,
    u.player_lookup,
    u.season_year,
    u.team_abbr,
    u.opponent_team_abbr,
    u.games_played_season,
    round(f.points_avg_last_5, 6)            AS points_avg_last_5,
    round(f.points_avg_last_10, 6)           AS points_avg_last_10,
    round(f.points_avg_season, 6)            AS points_avg_season,
    round(f.points_std_last_10, 6)           AS points_std_last_10,
    round(f.minutes_avg_last_10, 6)          AS minutes_avg_last_10,
    round(f.minutes_avg_season, 6)           AS minutes_avg_season,
    round(f.usage_avg_last_10, 6)            AS usage_avg_last_10,
    u.games_in_last_7_days,
    u.games_in_last_14_days,
    u.minutes_in_last_7_days,
    u.minutes_in_last_14_days,
    round(tf.team_pace_last_10, 6)           AS team_pace_last_10,
    round(tf.team_off_rating_last_10, 6)     AS team_off_rating_last_10,
    (SELECT run_id FROM run_bounds)          AS run_id,
    current_timestamp                        AS processed_at
FROM universe u
JOIN form f ON f.cache_date = u.cache_date AND f.player_lookup = u.player_lookup
LEFT JOIN team_form tf ON tf.cache_date = u.cache_date AND tf.team_abbr = u.team_abbr
