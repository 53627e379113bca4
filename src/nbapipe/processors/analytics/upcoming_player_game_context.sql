-- upcoming_player_game_context: per player per game date, only from games strictly before the
-- date (key: game_date, player_lookup). The player universe of a date is the players listed in
-- its box scores (backfill mode); for a scheduled team without box scores yet (the daily run
-- before tip-off) it is the players listed in that team's most recent game.
-- Windows count games played (minutes > 0) in the same season.
-- Points lines from src_points_lines (odds_api, else bettingpros), as in player_game_summary.
-- Averages of stored (rounded) decimals sum integer micro-units: exact in any order, so
-- every run and engine gets the same double (float sums in parallel are not bit-stable).
WITH sched AS (     -- both sides of every game on the requested dates
    SELECT game_id, game_date, season_year, home_team_abbr AS team_abbr, away_team_abbr AS opponent_team_abbr,
           'home' AS home_away
    FROM nba_reference.schedule
    WHERE game_date IN (SELECT game_date FROM run_dates)
      AND game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
    UNION ALL
    SELECT game_id, game_date, season_year, away_team_abbr, home_team_abbr, 'away'
    FROM nba_reference.schedule
    WHERE game_date IN (SELECT game_date FROM run_dates)
      AND game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
),
summary AS (
    SELECT * FROM nba_analytics.player_game_summary
    WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
listed AS (         -- players in the date's own box scores
    SELECT s.game_date, s.game_id, s.season_year, s.team_abbr, s.opponent_team_abbr, s.home_away,
           p.player_lookup, p.player_full_name, 'box_score' AS universe_source
    FROM sched s JOIN summary p
      ON p.game_date = s.game_date AND p.team_abbr = s.team_abbr
),
waiting AS (        -- scheduled teams without box scores yet
    SELECT s.* FROM sched s
    WHERE NOT EXISTS (SELECT 1 FROM listed l WHERE l.game_date = s.game_date AND l.team_abbr = s.team_abbr)
),
last_game AS (
    SELECT w.game_date, w.team_abbr, max(p.game_date) AS last_date
    FROM waiting w JOIN summary p ON p.team_abbr = w.team_abbr AND p.game_date < w.game_date
    GROUP BY w.game_date, w.team_abbr
),
roster AS (
    SELECT w.game_date, w.game_id, w.season_year, w.team_abbr, w.opponent_team_abbr, w.home_away,
           p.player_lookup, p.player_full_name, 'last_roster' AS universe_source
    FROM waiting w
    JOIN last_game lg ON lg.game_date = w.game_date AND lg.team_abbr = w.team_abbr
    JOIN summary p ON p.team_abbr = w.team_abbr AND p.game_date = lg.last_date
),
universe AS (
    SELECT * FROM listed UNION ALL SELECT * FROM roster
),
played AS (
    SELECT player_lookup, season_year, game_date, game_id, points, minutes_played
    FROM summary WHERE minutes_played > 0
),
pairs AS (          -- each (date, player) with every earlier game he played this season
    SELECT u.game_date, u.player_lookup, h.game_date AS hist_date, h.points, h.minutes_played,
           date_diff('day', h.game_date, u.game_date) AS days_ago,
           row_number() OVER (PARTITION BY u.game_date, u.player_lookup
                              ORDER BY h.game_date DESC, h.game_id DESC) AS k
    FROM universe u
    JOIN played h ON h.player_lookup = u.player_lookup AND h.season_year = u.season_year
                 AND h.game_date < u.game_date
),
form AS (
    SELECT game_date, player_lookup,
           max(hist_date) AS last_played_date,
           count(*) AS games_played_season,
           sum(CASE WHEN days_ago <= 7 THEN 1 ELSE 0 END) AS games_in_last_7_days,
           sum(CASE WHEN days_ago <= 14 THEN 1 ELSE 0 END) AS games_in_last_14_days,
           sum(CASE WHEN days_ago <= 7 THEN minutes_played ELSE 0 END) AS minutes_in_last_7_days,
           sum(CASE WHEN days_ago <= 14 THEN minutes_played ELSE 0 END) AS minutes_in_last_14_days,
           avg(CASE WHEN k <= 5 THEN CAST(points AS DOUBLE) END) AS points_avg_last_5,
           avg(CASE WHEN k <= 10 THEN CAST(points AS DOUBLE) END) AS points_avg_last_10
    FROM pairs GROUP BY game_date, player_lookup
),
team_games AS (
    SELECT team_abbr, season_year, game_date, game_id, pace
    FROM nba_analytics.team_offense_game_summary
    WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
opp_pace AS (
    SELECT game_date, team_abbr, avg(CASE WHEN k <= 10 THEN round(pace * 1000000) END) / 1000000 AS opponent_pace_last_10
    FROM (SELECT s.game_date, s.team_abbr, t.pace,
                 row_number() OVER (PARTITION BY s.game_date, s.team_abbr
                                    ORDER BY t.game_date DESC, t.game_id DESC) AS k
          FROM sched s JOIN team_games t
            ON t.team_abbr = s.opponent_team_abbr AND t.season_year = s.season_year AND t.game_date < s.game_date)
    GROUP BY game_date, team_abbr
)
SELECT
    u.game_date,
    u.game_id,
    u.season_year,
    u.player_lookup,
    u.player_full_name,
    u.team_abbr,
    u.opponent_team_abbr,
    u.home_away,
    u.home_away = 'home'                                                   AS home_game,
    date_diff('day', f.last_played_date, u.game_date) - 1                  AS days_rest,
    coalesce(date_diff('day', f.last_played_date, u.game_date) = 1, false) AS back_to_back,
    coalesce(f.games_played_season, 0)                                     AS games_played_season,
    coalesce(f.games_in_last_7_days, 0)                                    AS games_in_last_7_days,
    coalesce(f.games_in_last_14_days, 0)                                   AS games_in_last_14_days,
    round(coalesce(f.minutes_in_last_7_days, 0), 6)                        AS minutes_in_last_7_days,
    round(coalesce(f.minutes_in_last_14_days, 0), 6)                       AS minutes_in_last_14_days,
    round(f.points_avg_last_5, 6)                                          AS points_avg_last_5,
    round(f.points_avg_last_10, 6)                                         AS points_avg_last_10,
    round(op.opponent_pace_last_10, 6)                                     AS opponent_pace_last_10,
    l.points_line                                                          AS current_points_line,
    l.opening_points_line,
    l.line_books,
    l.data_source                                                          AS line_source,
    l.points_line IS NOT NULL                                              AS has_points_line,
    u.universe_source,
    (SELECT run_id FROM run_bounds)                                        AS run_id,
    current_timestamp                                                      AS processed_at
FROM universe u
LEFT JOIN form f ON f.game_date = u.game_date AND f.player_lookup = u.player_lookup
LEFT JOIN opp_pace op ON op.game_date = u.game_date AND op.team_abbr = u.team_abbr
LEFT JOIN src_points_lines l ON l.game_id = u.game_id AND l.player_lookup = u.player_lookup
