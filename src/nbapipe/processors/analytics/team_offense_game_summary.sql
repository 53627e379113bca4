-- team_offense_game_summary: one row per team per game (key: game_date, team_abbr).
-- Possessions = FGA + 0.44 FTA + TOV - OREB; offensive rating = points per 100 possessions;
-- pace = possessions x 48 / game minutes (48 + 5 per overtime); TS% and eFG% as fractions
-- (Basketball-Reference style). Zone attempts/makes come from the shot chart where it has the
-- game; otherwise NULL with has_shot_zones = false.
WITH box AS (
    SELECT * FROM src_team_boxscores
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
shots AS (
    SELECT game_id, team_abbr,
           sum(CASE WHEN shot_zone = 'paint' THEN 1 ELSE 0 END) AS paint_attempts,
           sum(CASE WHEN shot_zone = 'paint' AND shot_made THEN 1 ELSE 0 END) AS paint_makes,
           sum(CASE WHEN shot_zone = 'mid_range' THEN 1 ELSE 0 END) AS mid_range_attempts,
           sum(CASE WHEN shot_zone = 'mid_range' AND shot_made THEN 1 ELSE 0 END) AS mid_range_makes,
           sum(CASE WHEN shot_zone = 'three' THEN 1 ELSE 0 END) AS three_zone_attempts,
           sum(CASE WHEN shot_zone = 'three' AND shot_made THEN 1 ELSE 0 END) AS three_zone_makes
    FROM nba_raw.nbac_shot_chart
    WHERE game_date IN (SELECT game_date FROM run_dates)
    GROUP BY game_id, team_abbr
),
t AS (
    SELECT b.*,
           o.points AS opponent_points,
           CAST(b.fg_attempts AS DOUBLE) + CAST(0.44 AS DOUBLE) * b.ft_attempts + b.turnovers - b.offensive_rebounds AS poss,
           coalesce(b.overtime_periods, s.overtime_periods,
                    CAST(round((b.minutes - 240) / CAST(25 AS DOUBLE)) AS INTEGER), 0) AS ot,
           s.nba_game_id
    FROM box b
    LEFT JOIN box o ON o.game_id = b.game_id AND o.team_abbr = b.opponent_team_abbr
    LEFT JOIN nba_reference.schedule s ON s.game_id = b.game_id
)
SELECT
    t.game_date,
    t.game_id,
    t.nba_game_id,
    t.season_year,
    t.game_type,
    t.team_abbr,
    t.opponent_team_abbr,
    t.home_away = 'home'                                        AS home_game,
    t.points                                                     AS points_scored,
    t.opponent_points,
    t.points - t.opponent_points                                 AS margin,
    coalesce(t.win_flag, t.points > t.opponent_points)           AS win_flag,
    t.fg_makes, t.fg_attempts, t.three_pt_makes, t.three_pt_attempts, t.ft_makes, t.ft_attempts,
    t.offensive_rebounds, t.defensive_rebounds, t.total_rebounds, t.assists, t.steals, t.blocks,
    t.turnovers, t.personal_fouls,
    t.ot                                                         AS overtime_periods,
    48 + 5 * t.ot                                                AS game_minutes,
    round(t.poss, 6)                                             AS possessions,
    round(100 * t.points / nullif(t.poss, 0), 6)                 AS offensive_rating,
    round(t.poss * 48 / (48 + 5 * t.ot), 6)                      AS pace,
    round(t.points / nullif(2 * (t.fg_attempts + CAST(0.44 AS DOUBLE) * t.ft_attempts), 0), 6) AS ts_pct,
    round((t.fg_makes + CAST(0.5 AS DOUBLE) * t.three_pt_makes) / nullif(CAST(t.fg_attempts AS DOUBLE), 0), 6) AS efg_pct,
    sh.paint_attempts, sh.paint_makes, sh.mid_range_attempts, sh.mid_range_makes,
    sh.three_zone_attempts, sh.three_zone_makes,
    sh.game_id IS NOT NULL                                       AS has_shot_zones,
    t.data_source,
    t.quality_tier,
    t.quality_score,
    (SELECT run_id FROM run_bounds)                              AS run_id,
    current_timestamp                                            AS processed_at
FROM t
LEFT JOIN shots sh ON sh.game_id = t.game_id AND sh.team_abbr = t.team_abbr
