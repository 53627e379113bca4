-- player_game_summary: one row per player listed in a game's box score, players who played
-- and DNP players (key: game_date, player_lookup). Inactive players are not rows.
-- usage_rate: Basketball-Reference's formula with the team's totals, in percent:
--   100 * (FGA + 0.44 FTA + TOV) * (team minutes / 5) / (MP * (team FGA + 0.44 team FTA + team TOV))
-- points_line: median of the books' latest main lines before tip-off (src_points_lines: odds_api,
-- else bettingpros); over_under_result against it. Zones from the shot chart where it has the game.
WITH p AS (
    SELECT * FROM src_player_boxscores
    WHERE game_date IN (SELECT game_date FROM run_dates) AND player_status <> 'inactive'
),
team AS (
    SELECT game_id, team_abbr, fg_attempts, ft_attempts, turnovers, game_minutes, possessions
    FROM nba_analytics.team_offense_game_summary
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
shot_games AS (
    SELECT DISTINCT game_id FROM nba_raw.nbac_shot_chart
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
shots AS (
    SELECT s.game_id, coalesce(a.player_lookup, s.player_lookup) AS player_lookup,
           sum(CASE WHEN s.shot_zone = 'paint' THEN 1 ELSE 0 END) AS paint_attempts,
           sum(CASE WHEN s.shot_zone = 'paint' AND s.shot_made THEN 1 ELSE 0 END) AS paint_makes,
           sum(CASE WHEN s.shot_zone = 'mid_range' THEN 1 ELSE 0 END) AS mid_range_attempts,
           sum(CASE WHEN s.shot_zone = 'mid_range' AND s.shot_made THEN 1 ELSE 0 END) AS mid_range_makes,
           sum(CASE WHEN s.shot_zone = 'three' THEN 1 ELSE 0 END) AS three_zone_attempts,
           sum(CASE WHEN s.shot_zone = 'three' AND s.shot_made THEN 1 ELSE 0 END) AS three_zone_makes
    FROM nba_raw.nbac_shot_chart s
    LEFT JOIN nba_reference.player_alias a ON a.alias_lookup = s.player_lookup
    WHERE s.game_date IN (SELECT game_date FROM run_dates)
    GROUP BY s.game_id, coalesce(a.player_lookup, s.player_lookup)
)
SELECT
    p.game_date,
    p.game_id,
    sch.nba_game_id,
    p.season_year,
    p.game_type,
    p.player_lookup,
    p.player_name                                                  AS player_full_name,
    p.team_abbr,
    p.opponent_team_abbr,
    p.home_away = 'home'                                           AS home_game,
    p.points,
    p.minutes_played,
    p.fg_makes, p.fg_attempts, p.three_pt_makes, p.three_pt_attempts, p.ft_makes, p.ft_attempts,
    p.offensive_rebounds, p.defensive_rebounds, p.total_rebounds, p.assists, p.steals, p.blocks,
    p.turnovers, p.personal_fouls, p.plus_minus,
    p.starter_flag,
    p.player_status = 'dnp'                                        AS is_dnp,
    p.dnp_reason,
    round(100 * (p.fg_attempts + CAST(0.44 AS DOUBLE) * p.ft_attempts + p.turnovers) * t.game_minutes
          / nullif(p.minutes_played * (t.fg_attempts + CAST(0.44 AS DOUBLE) * t.ft_attempts + t.turnovers), 0), 6) AS usage_rate,
    round(p.points / nullif(2 * (p.fg_attempts + CAST(0.44 AS DOUBLE) * p.ft_attempts), 0), 6) AS ts_pct,
    round((p.fg_makes + CAST(0.5 AS DOUBLE) * p.three_pt_makes) / nullif(CAST(p.fg_attempts AS DOUBLE), 0), 6) AS efg_pct,
    CASE WHEN sg.game_id IS NOT NULL THEN coalesce(sh.paint_attempts, 0) END      AS paint_attempts,
    CASE WHEN sg.game_id IS NOT NULL THEN coalesce(sh.paint_makes, 0) END         AS paint_makes,
    CASE WHEN sg.game_id IS NOT NULL THEN coalesce(sh.mid_range_attempts, 0) END  AS mid_range_attempts,
    CASE WHEN sg.game_id IS NOT NULL THEN coalesce(sh.mid_range_makes, 0) END     AS mid_range_makes,
    CASE WHEN sg.game_id IS NOT NULL THEN coalesce(sh.three_zone_attempts, 0) END AS three_zone_attempts,
    CASE WHEN sg.game_id IS NOT NULL THEN coalesce(sh.three_zone_makes, 0) END    AS three_zone_makes,
    sg.game_id IS NOT NULL                                         AS has_shot_zones,
    l.points_line,
    l.line_books,
    l.line_snapshot_at,
    l.data_source                                                  AS line_source,
    CASE WHEN l.points_line IS NULL OR p.player_status = 'dnp' OR p.points IS NULL THEN NULL
         WHEN p.points > l.points_line THEN 'OVER'
         WHEN p.points < l.points_line THEN 'UNDER'
         ELSE 'PUSH' END                                           AS over_under_result,
    p.data_source,
    p.quality_tier,
    p.quality_score,
    (SELECT run_id FROM run_bounds)                                AS run_id,
    current_timestamp                                              AS processed_at
FROM p
LEFT JOIN team t ON t.game_id = p.game_id AND t.team_abbr = p.team_abbr
LEFT JOIN nba_reference.schedule sch ON sch.game_id = p.game_id
LEFT JOIN shot_games sg ON sg.game_id = p.game_id
LEFT JOIN shots sh ON sh.game_id = p.game_id AND sh.player_lookup = p.player_lookup
LEFT JOIN src_points_lines l ON l.game_id = p.game_id AND l.player_lookup = p.player_lookup
