-- upcoming_player_game_context: per player per game date, only from games strictly before the
-- date (key: game_date, player_lookup). The player universe of a date is known before tip-off, the
-- same in a backfill and in the daily run (issue 16): each scheduled team's players listed active
-- in one of its last 5 earlier games (last season's for the opener), less those listed for another
-- team since. A player first listed in that night's box score (a debut, a call-up, a new trade) is not
-- in it: counted by `replay`. Only a team with no earlier game in the warehouse at all (the data's
-- first season opener) takes that game's listing ('box_score').
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
listed_before AS (  -- box-score listings of earlier dates: this season's raw rows (those
                    -- player_game_summary is built from), earlier seasons' summaries (the
                    -- opener reads last season's roster)
    SELECT game_date, team_abbr, player_lookup, player_name AS player_full_name,
           false AS inactive FROM src_player_boxscores
    -- active listings only: the summaries of earlier seasons hold no inactive rows, and a
    -- date's universe must not depend on which range a run was asked for
    WHERE game_date < (SELECT end_date FROM run_bounds) AND player_status <> 'inactive'
    UNION ALL
    SELECT game_date, team_abbr, player_lookup, player_full_name, false FROM nba_analytics.player_game_summary
    WHERE game_date < (SELECT lookback_start FROM run_bounds)
),
team_games_before AS (
    SELECT DISTINCT team_abbr, game_date FROM listed_before
),
recent_games AS (   -- each scheduled team's last 5 games strictly before the date
    SELECT game_date, team_abbr, listed_date
    FROM (SELECT s.game_date, s.team_abbr, t.game_date AS listed_date,
                 row_number() OVER (PARTITION BY s.game_date, s.team_abbr ORDER BY t.game_date DESC) AS k
          FROM (SELECT DISTINCT game_date, team_abbr FROM sched) s
          JOIN team_games_before t ON t.team_abbr = s.team_abbr AND t.game_date < s.game_date) x
    WHERE k <= 5
),
roster AS (         -- the players listed active in one of those games (a player out for the
                    -- last game or two is still on the roster), with his latest listing there
    SELECT s.game_date, s.game_id, s.season_year, s.team_abbr, s.opponent_team_abbr, s.home_away,
           p.player_lookup, arg_max(p.player_full_name, p.game_date) AS player_full_name, false AS inactive,
           max(p.game_date) AS last_date, 'last_roster' AS universe_source
    FROM sched s
    JOIN recent_games rg ON rg.game_date = s.game_date AND rg.team_abbr = s.team_abbr
    JOIN listed_before p ON p.team_abbr = s.team_abbr AND p.game_date = rg.listed_date
    GROUP BY ALL
),
moved AS (          -- ... less those listed for another team since (a trade before the date)
    SELECT DISTINCT r.game_date, r.player_lookup
    FROM roster r JOIN listed_before p
      ON p.player_lookup = r.player_lookup AND p.game_date > r.last_date AND p.game_date < r.game_date
     AND p.team_abbr <> r.team_abbr
),
first_ever AS (     -- a team with no earlier game in the warehouse at all (the data's first
                    -- season): nothing is known before its first game but that game's listing
    SELECT s.game_date, s.game_id, s.season_year, s.team_abbr, s.opponent_team_abbr, s.home_away,
           p.player_lookup, p.player_name AS player_full_name, 'box_score' AS universe_source
    FROM sched s JOIN src_player_boxscores p
      ON p.game_date = s.game_date AND p.team_abbr = s.team_abbr AND p.player_status <> 'inactive'
    WHERE NOT EXISTS (SELECT 1 FROM recent_games rg WHERE rg.game_date = s.game_date AND rg.team_abbr = s.team_abbr)
),
universe AS (       -- a player on two rosters (traded at the deadline, listed by both teams the
                    -- same night): the team of his latest listing, active before inactive
    SELECT game_date, game_id, season_year, team_abbr, opponent_team_abbr, home_away,
           player_lookup, player_full_name, universe_source
    FROM (SELECT r.*, row_number() OVER (PARTITION BY r.game_date, r.player_lookup
                                         ORDER BY r.last_date DESC, r.inactive ASC, r.team_abbr) AS pick
          FROM roster r
          WHERE NOT EXISTS (SELECT 1 FROM moved m WHERE m.game_date = r.game_date AND m.player_lookup = r.player_lookup)) x
    WHERE pick = 1
    UNION ALL
    SELECT * FROM first_ever
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
           -- DECIMAL sums: a double sum depends on the threads' order (see ml_feature_store.sql)
           CAST(sum(CASE WHEN days_ago <= 7 THEN CAST(minutes_played AS DECIMAL(18, 9)) ELSE 0 END) AS DOUBLE) AS minutes_in_last_7_days,
           CAST(sum(CASE WHEN days_ago <= 14 THEN CAST(minutes_played AS DECIMAL(18, 9)) ELSE 0 END) AS DOUBLE) AS minutes_in_last_14_days,
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
