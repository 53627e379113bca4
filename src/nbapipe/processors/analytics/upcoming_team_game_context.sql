-- upcoming_team_game_context: per team per game date, what is known before tip-off
-- (key: game_date, team_abbr). Every window reads only games strictly before the date within
-- the same season; it works for scheduled games without a result yet (tonight's games).
WITH games AS (
    SELECT game_id, game_date, season_year, game_type, home_team_abbr AS team_abbr,
           away_team_abbr AS opponent_team_abbr, 'home' AS home_away,
           home_team_score AS pts, away_team_score AS opp_pts
    FROM nba_reference.schedule
    WHERE game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
      AND game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
    UNION ALL
    SELECT game_id, game_date, season_year, game_type, away_team_abbr, home_team_abbr, 'away',
           away_team_score, home_team_score
    FROM nba_reference.schedule
    WHERE game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
      AND game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
seq AS (
    SELECT g.*,
           date_diff('day', DATE '1970-01-01', g.game_date) AS day_num,
           CASE WHEN g.pts > g.opp_pts THEN 1 WHEN g.pts < g.opp_pts THEN -1 END AS result,
           row_number() OVER (PARTITION BY g.season_year, g.team_abbr ORDER BY g.game_date, g.game_id) AS game_number
    FROM games g
),
prev AS (
    SELECT s.*,
           lag(s.game_date) OVER (PARTITION BY s.season_year, s.team_abbr ORDER BY s.game_number) AS prev_game_date,
           lag(s.pts - s.opp_pts) OVER (PARTITION BY s.season_year, s.team_abbr ORDER BY s.game_number) AS last_game_margin,
           lag(s.result) OVER (PARTITION BY s.season_year, s.team_abbr ORDER BY s.game_number) AS prev_result,
           -- NULLS FIRST on these never-NULL keys: the default order of every engine but
           -- DuckDB, and BigQuery accepts no NULLS clause in a window with a frame.
           count(*) OVER (PARTITION BY s.season_year, s.team_abbr ORDER BY s.day_num NULLS FIRST
                          RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING) AS games_in_last_7_days,
           count(*) OVER (PARTITION BY s.season_year, s.team_abbr ORDER BY s.day_num NULLS FIRST
                          RANGE BETWEEN 14 PRECEDING AND 1 PRECEDING) AS games_in_last_14_days
    FROM seq s
),
islands AS (   -- runs of equal results; a streak is the length of the run ending at a game
    SELECT p.*,
           sum(CASE WHEN p.result = p.prev_result THEN 0 ELSE 1 END)
               OVER (PARTITION BY p.season_year, p.team_abbr ORDER BY p.game_number NULLS FIRST
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island
    FROM prev p
),
streaks AS (
    SELECT i.*,
           i.result * row_number() OVER (PARTITION BY i.season_year, i.team_abbr, i.island
                                         ORDER BY i.game_number) AS streak_after
    FROM islands i
),
entering AS (
    SELECT s.*,
           lag(s.streak_after) OVER (PARTITION BY s.season_year, s.team_abbr ORDER BY s.game_number) AS streak_entering
    FROM streaks s
),
lines AS (     -- per game: median over books of each book's latest line
    SELECT l.game_id,
           median(l.home_spread) AS home_spread,
           median(l.total) AS total,
           count(DISTINCT l.bookmaker) AS line_books
    FROM nba_raw.odds_api_game_lines l
    JOIN (SELECT game_id, bookmaker, max(coalesce(snapshot_at, TIMESTAMP '1900-01-01')) AS snap
          FROM nba_raw.odds_api_game_lines
          WHERE game_date IN (SELECT game_date FROM run_dates)
          GROUP BY game_id, bookmaker) latest
      ON latest.game_id = l.game_id AND latest.bookmaker = l.bookmaker
     AND latest.snap = coalesce(l.snapshot_at, TIMESTAMP '1900-01-01')
    WHERE l.game_date IN (SELECT game_date FROM run_dates)
    GROUP BY l.game_id
)
SELECT
    e.game_date,
    e.game_id,
    e.season_year,
    e.game_type,
    e.team_abbr,
    e.opponent_team_abbr,
    e.home_away,
    e.home_away = 'home'                                              AS home_game,
    e.game_number                                                     AS game_number_in_season,
    date_diff('day', e.prev_game_date, e.game_date)                   AS days_since_last_game,
    date_diff('day', e.prev_game_date, e.game_date) - 1               AS days_rest,
    coalesce(date_diff('day', e.prev_game_date, e.game_date) = 1, false) AS back_to_back,
    e.games_in_last_7_days,
    e.games_in_last_14_days,
    coalesce(e.streak_entering, 0)                                    AS win_streak_entering,
    e.last_game_margin,
    CASE WHEN e.home_away = 'home' THEN l.home_spread ELSE -l.home_spread END AS spread,
    l.total                                                           AS game_total,
    l.line_books,
    l.game_id IS NOT NULL                                             AS has_game_line,
    (SELECT run_id FROM run_bounds)                                   AS run_id,
    current_timestamp                                                 AS processed_at
FROM entering e
LEFT JOIN lines l ON l.game_id = e.game_id
WHERE e.game_date IN (SELECT game_date FROM run_dates)
