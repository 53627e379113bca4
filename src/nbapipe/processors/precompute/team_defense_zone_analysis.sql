-- team_defense_zone_analysis: per team playing on the analysis date, its defence over its last
-- 15 games of the season strictly before the date (key: analysis_date, team_abbr).
-- Zone FG% allowed (paint = restricted area + non-RA paint, mid-range, threes) as fractions, and
-- the same minus the league's over the pooled windows of every team, in percentage points
-- (positive = the defence allows more than the league). Early in the season the minimum games
-- grows with the days since the season start: least(15, greatest(2, floor(days / 3))).
-- Averages of stored (rounded) decimals sum integer micro-units: exact in any order, so
-- every run and engine gets the same double (float sums in parallel are not bit-stable).
WITH days AS (
    SELECT d.game_date AS analysis_date, sc.season_year, sc.season_start,
           date_diff('day', sc.season_start, d.game_date) AS days_into_season
    FROM run_dates d
    JOIN nba_reference.game_dates gd ON gd.game_date = d.game_date
    JOIN nba_reference.season_calendar sc ON sc.season = gd.season
),
defense AS (
    SELECT * FROM nba_analytics.team_defense_game_summary
    WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
window_games AS (  -- every team's games before each analysis date, latest first
    SELECT y.analysis_date, y.days_into_season, g.*,
           row_number() OVER (PARTITION BY y.analysis_date, g.defending_team_abbr
                              ORDER BY g.game_date DESC, g.game_id DESC) AS k
    FROM days y JOIN defense g ON g.season_year = y.season_year AND g.game_date < y.analysis_date
),
last15 AS (
    SELECT * FROM window_games WHERE k <= 15
),
team AS (
    SELECT analysis_date, defending_team_abbr AS team_abbr, min(season_year) AS season_year,
           min(days_into_season) AS days_into_season,
           count(*) AS games_in_window,
           sum(CASE WHEN has_shot_zones THEN 1 ELSE 0 END) AS games_with_shot_data,
           sum(CASE WHEN has_shot_zones THEN opp_paint_makes END) AS paint_makes,
           sum(CASE WHEN has_shot_zones THEN opp_paint_attempts END) AS paint_attempts,
           sum(CASE WHEN has_shot_zones THEN opp_mid_range_makes END) AS mid_makes,
           sum(CASE WHEN has_shot_zones THEN opp_mid_range_attempts END) AS mid_attempts,
           sum(CASE WHEN has_shot_zones THEN opp_three_zone_makes END) AS three_makes,
           sum(CASE WHEN has_shot_zones THEN opp_three_zone_attempts END) AS three_attempts,
           -- DECIMAL sum: a double sum depends on the threads' order (see ml_feature_store.sql)
           sum(points_allowed) AS points_allowed, CAST(sum(CAST(opp_possessions AS DECIMAL(18, 9))) AS DOUBLE) AS opp_possessions,
           avg(CAST(points_allowed AS DOUBLE)) AS opp_points_per_game,
           avg(round(opp_pace * 1000000)) / 1000000 AS pace_per_game
    FROM last15 GROUP BY analysis_date, defending_team_abbr
),
league AS (        -- pooled over every team's window on that date
    SELECT analysis_date,
           sum(paint_makes) / nullif(CAST(sum(paint_attempts) AS DOUBLE), 0) AS league_paint_fg_pct,
           sum(mid_makes) / nullif(CAST(sum(mid_attempts) AS DOUBLE), 0) AS league_mid_range_fg_pct,
           sum(three_makes) / nullif(CAST(sum(three_attempts) AS DOUBLE), 0) AS league_three_fg_pct
    FROM team GROUP BY analysis_date
),
playing AS (
    SELECT game_date AS analysis_date, home_team_abbr AS team_abbr FROM nba_reference.schedule
    WHERE game_date IN (SELECT game_date FROM run_dates)
      AND game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
    UNION
    SELECT game_date, away_team_abbr FROM nba_reference.schedule
    WHERE game_date IN (SELECT game_date FROM run_dates)
      AND game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
),
zones AS (
    SELECT t.*, l.league_paint_fg_pct, l.league_mid_range_fg_pct, l.league_three_fg_pct,
           t.paint_makes / nullif(CAST(t.paint_attempts AS DOUBLE), 0) AS paint_fg_pct,
           t.mid_makes / nullif(CAST(t.mid_attempts AS DOUBLE), 0) AS mid_range_fg_pct,
           t.three_makes / nullif(CAST(t.three_attempts AS DOUBLE), 0) AS three_fg_pct,
           least(15, greatest(2, CAST(floor(t.days_into_season / CAST(3 AS DOUBLE)) AS INTEGER))) AS min_games_required
    FROM team t
    JOIN playing p ON p.analysis_date = t.analysis_date AND p.team_abbr = t.team_abbr
    JOIN league l ON l.analysis_date = t.analysis_date
),
scored AS (
    SELECT z.*,
           100 * (z.paint_fg_pct - z.league_paint_fg_pct) AS paint_vs_league,
           100 * (z.mid_range_fg_pct - z.league_mid_range_fg_pct) AS mid_range_vs_league,
           100 * (z.three_fg_pct - z.league_three_fg_pct) AS three_vs_league
    FROM zones z
)
SELECT
    analysis_date,
    team_abbr,
    season_year,
    days_into_season,
    games_in_window,
    games_with_shot_data,
    min_games_required,
    games_in_window >= min_games_required                                AS is_sufficient,
    CASE WHEN games_in_window >= 15 THEN 'high'
         WHEN games_in_window >= min_games_required THEN 'medium' ELSE 'low' END AS data_tier,
    round(paint_fg_pct, 6)                                               AS paint_fg_pct_allowed,
    round(mid_range_fg_pct, 6)                                           AS mid_range_fg_pct_allowed,
    round(three_fg_pct, 6)                                               AS three_pt_fg_pct_allowed,
    round(paint_vs_league, 6)                                            AS paint_pct_vs_league,
    round(mid_range_vs_league, 6)                                        AS mid_range_pct_vs_league,
    round(three_vs_league, 6)                                            AS three_pt_pct_vs_league,
    round(league_paint_fg_pct, 6)                                        AS league_paint_fg_pct,
    round(league_mid_range_fg_pct, 6)                                    AS league_mid_range_fg_pct,
    round(league_three_fg_pct, 6)                                        AS league_three_pt_fg_pct,
    round(paint_attempts / CAST(nullif(games_with_shot_data, 0) AS DOUBLE), 6)  AS paint_attempts_allowed_per_game,
    round(mid_attempts / CAST(nullif(games_with_shot_data, 0) AS DOUBLE), 6)    AS mid_range_attempts_allowed_per_game,
    round(three_attempts / CAST(nullif(games_with_shot_data, 0) AS DOUBLE), 6)  AS three_pt_attempts_allowed_per_game,
    round(100 * points_allowed / nullif(opp_possessions, 0), 6)          AS defensive_rating,
    round(opp_points_per_game, 6)                                        AS opp_points_per_game,
    round(pace_per_game, 6)                                              AS pace_per_game,
    -- Strongest zone = allows least vs the league; ties go paint, mid-range, three.
    CASE WHEN paint_vs_league IS NULL OR mid_range_vs_league IS NULL OR three_vs_league IS NULL THEN NULL
         WHEN paint_vs_league <= mid_range_vs_league AND paint_vs_league <= three_vs_league THEN 'paint'
         WHEN mid_range_vs_league <= three_vs_league THEN 'mid_range' ELSE 'three' END AS strongest_zone,
    CASE WHEN paint_vs_league IS NULL OR mid_range_vs_league IS NULL OR three_vs_league IS NULL THEN NULL
         WHEN paint_vs_league >= mid_range_vs_league AND paint_vs_league >= three_vs_league THEN 'paint'
         WHEN mid_range_vs_league >= three_vs_league THEN 'mid_range' ELSE 'three' END AS weakest_zone,
    games_with_shot_data > 0                                             AS has_shot_zone_data,
    (SELECT run_id FROM run_bounds)                                      AS run_id,
    current_timestamp                                                    AS processed_at
FROM scored
