-- team_defense_game_summary: one row per defending team per game
-- (key: game_date, defending_team_abbr). The opponent's offensive line is what the defence
-- allowed; defensive rating = points allowed per 100 opponent possessions. Steals, blocks and
-- defensive rebounds come from the defending team's player rows (team totals when absent).
WITH off AS (
    SELECT * FROM nba_analytics.team_offense_game_summary
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
players AS (
    SELECT game_id, team_abbr, sum(steals) AS steals, sum(blocks) AS blocks,
           sum(defensive_rebounds) AS defensive_rebounds
    FROM src_player_boxscores
    WHERE game_date IN (SELECT game_date FROM run_dates) AND player_status = 'active'
    GROUP BY game_id, team_abbr
)
SELECT
    d.game_date,
    d.game_id,
    d.nba_game_id,
    d.season_year,
    d.game_type,
    d.team_abbr                                                   AS defending_team_abbr,
    d.opponent_team_abbr,
    d.home_game,
    o.points_scored                                               AS points_allowed,
    o.fg_makes                                                    AS opp_fg_makes,
    o.fg_attempts                                                 AS opp_fg_attempts,
    round(o.fg_makes / nullif(CAST(o.fg_attempts AS DOUBLE), 0), 6) AS opp_fg_pct,
    o.three_pt_makes                                              AS opp_three_pt_makes,
    o.three_pt_attempts                                           AS opp_three_pt_attempts,
    o.ft_makes                                                    AS opp_ft_makes,
    o.ft_attempts                                                 AS opp_ft_attempts,
    o.offensive_rebounds                                          AS opp_offensive_rebounds,
    o.total_rebounds                                              AS opp_total_rebounds,
    o.assists                                                     AS opp_assists,
    o.turnovers                                                   AS turnovers_forced,
    o.possessions                                                 AS opp_possessions,
    round(100 * o.points_scored / nullif(o.possessions, 0), 6)    AS defensive_rating,
    o.pace                                                        AS opp_pace,
    o.ts_pct                                                      AS opp_ts_pct,
    o.efg_pct                                                     AS opp_efg_pct,
    coalesce(p.steals, d.steals)                                  AS steals,
    coalesce(p.blocks, d.blocks)                                  AS blocks,
    coalesce(p.defensive_rebounds, d.defensive_rebounds)          AS defensive_rebounds,
    o.paint_attempts                                              AS opp_paint_attempts,
    o.paint_makes                                                 AS opp_paint_makes,
    o.mid_range_attempts                                          AS opp_mid_range_attempts,
    o.mid_range_makes                                             AS opp_mid_range_makes,
    o.three_zone_attempts                                         AS opp_three_zone_attempts,
    o.three_zone_makes                                            AS opp_three_zone_makes,
    o.has_shot_zones,
    d.win_flag,
    d.margin,
    d.overtime_periods,
    o.data_source,
    CASE WHEN p.game_id IS NULL THEN 'team_totals' ELSE 'player_rows' END AS defensive_stats_source,
    least(d.quality_score, o.quality_score)                       AS quality_score,
    CASE WHEN least(d.quality_score, o.quality_score) >= 100 THEN 'gold'
         WHEN least(d.quality_score, o.quality_score) >= 75 THEN 'silver' ELSE 'bronze' END AS quality_tier,
    (SELECT run_id FROM run_bounds)                               AS run_id,
    current_timestamp                                             AS processed_at
FROM off d
JOIN off o ON o.game_id = d.game_id AND o.team_abbr = d.opponent_team_abbr
LEFT JOIN players p ON p.game_id = d.game_id AND p.team_abbr = d.team_abbr
