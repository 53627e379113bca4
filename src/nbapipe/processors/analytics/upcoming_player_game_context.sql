-- upcoming_player_game_context: per player per game date, only from games strictly before the
-- date (key: game_date, player_lookup). The player universe of a date is known before tip-off, the
-- same in a backfill and in the daily run (issue 16): each scheduled team's players listed active
-- in one of its last 5 earlier games (last season's for the opener), less those listed for another
-- team since. A player first listed in that night's box score (a debut, a call-up, a new trade) is not
-- in it: counted by `replay`. Only a team with no earlier game in the warehouse at all (the data's
-- first season opener) takes that game's listing ('box_score'). A player on the date's official
-- inactive list (teams name it before tip-off; cutoffs.py) is out that night: not in the universe.
-- Availability, from the same list (every sum over this season's games for this team, before the date):
--   teammates_out: teammates on the date's inactive list; teammates_out_points / _minutes /
--     _starts: the sum of their points and minutes per game and of their start rates;
--   teammates_newly_out_points: the same for those who played the team's last game;
--   teammates_returning_points: teammates inactive in the team's last game of this season and
--     not tonight (back from an absence); returning_from_inactive: the player himself was;
--   opponents_out_points: the opponent's teammates_out_points.
-- Windows count games played (minutes > 0) in the same season.
-- Points lines from src_points_lines (odds_api, else bettingpros), as in player_game_summary;
-- current_pra_line: the points+rebounds+assists line from src_pra_lines the same way.
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
out_tonight AS (    -- the date's inactive lists
    SELECT DISTINCT game_date, team_abbr, player_lookup FROM src_player_boxscores
    WHERE game_date IN (SELECT game_date FROM run_dates) AND player_status = 'inactive'
),
universe AS (       -- a player on two rosters (traded at the deadline, listed by both teams the
                    -- same night): the team of his latest listing, active before inactive
    SELECT game_date, game_id, season_year, team_abbr, opponent_team_abbr, home_away,
           player_lookup, player_full_name, universe_source
    FROM (SELECT r.*, row_number() OVER (PARTITION BY r.game_date, r.player_lookup
                                         ORDER BY r.last_date DESC, r.inactive ASC, r.team_abbr) AS pick
          FROM roster r
          WHERE NOT EXISTS (SELECT 1 FROM moved m WHERE m.game_date = r.game_date AND m.player_lookup = r.player_lookup)
            AND NOT EXISTS (SELECT 1 FROM out_tonight o WHERE o.game_date = r.game_date AND o.player_lookup = r.player_lookup)) x
    WHERE pick = 1
    UNION ALL
    SELECT * FROM first_ever
),
played AS (
    SELECT player_lookup, season_year, game_date, game_id, team_abbr, points, minutes_played, starter_flag
    FROM summary WHERE minutes_played > 0
),
team_dates AS (
    SELECT DISTINCT game_date, team_abbr, season_year FROM sched
),
last_game AS (      -- each scheduled team's last game this season before the date
    SELECT t.game_date, t.team_abbr, max(p.game_date) AS last_date
    FROM team_dates t
    JOIN played p ON p.team_abbr = t.team_abbr AND p.season_year = t.season_year AND p.game_date < t.game_date
    GROUP BY t.game_date, t.team_abbr
),
out_last AS (       -- the inactive list of that game
    SELECT DISTINCT g.game_date, g.team_abbr, b.player_lookup
    FROM last_game g
    JOIN src_player_boxscores b
      ON b.team_abbr = g.team_abbr AND b.game_date = g.last_date AND b.player_status = 'inactive'
),
mates AS (          -- per team and date: each player's games for it this season before the date
    SELECT t.game_date, t.team_abbr, p.player_lookup,
           -- DECIMAL, so that team_out's sums are exact in any order (a double sum is not, see
           -- ml_feature_store.sql); a quotient is a double, so each is cast back
           CAST(sum(p.points) / count(*) AS DECIMAL(18, 9)) AS points_per_game,
           CAST(sum(CAST(p.minutes_played AS DECIMAL(18, 9))) / count(*) AS DECIMAL(18, 9)) AS minutes_per_game,
           CAST(sum(CASE WHEN p.starter_flag THEN 1 ELSE 0 END) / count(*) AS DECIMAL(18, 9)) AS start_rate,
           max(p.game_date) AS last_played
    FROM team_dates t
    JOIN played p ON p.team_abbr = t.team_abbr AND p.season_year = t.season_year AND p.game_date < t.game_date
    GROUP BY t.game_date, t.team_abbr, p.player_lookup
),
team_out AS (
    SELECT o.game_date, o.team_abbr, count(*) AS teammates_out,
           sum(m.points_per_game) AS out_points, sum(m.minutes_per_game) AS out_minutes,
           sum(m.start_rate) AS out_starts,
           sum(CASE WHEN m.last_played = g.last_date THEN m.points_per_game END) AS newly_out_points
    FROM out_tonight o
    LEFT JOIN mates m ON m.game_date = o.game_date AND m.team_abbr = o.team_abbr AND m.player_lookup = o.player_lookup
    LEFT JOIN last_game g ON g.game_date = o.game_date AND g.team_abbr = o.team_abbr
    GROUP BY o.game_date, o.team_abbr
),
team_back AS (
    SELECT l.game_date, l.team_abbr, sum(m.points_per_game) AS returning_points
    FROM out_last l
    JOIN mates m ON m.game_date = l.game_date AND m.team_abbr = l.team_abbr AND m.player_lookup = l.player_lookup
    WHERE NOT EXISTS (SELECT 1 FROM out_tonight o WHERE o.game_date = l.game_date AND o.player_lookup = l.player_lookup)
    GROUP BY l.game_date, l.team_abbr
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
    coalesce(t_o.teammates_out, 0)                                         AS teammates_out,
    round(coalesce(CAST(t_o.out_points AS DOUBLE), 0), 6)                  AS teammates_out_points,
    round(coalesce(CAST(t_o.out_minutes AS DOUBLE), 0), 6)                 AS teammates_out_minutes,
    round(coalesce(CAST(t_o.out_starts AS DOUBLE), 0), 6)                  AS teammates_out_starts,
    round(coalesce(CAST(t_o.newly_out_points AS DOUBLE), 0), 6)            AS teammates_newly_out_points,
    round(coalesce(CAST(t_b.returning_points AS DOUBLE), 0), 6)            AS teammates_returning_points,
    round(coalesce(CAST(o_o.out_points AS DOUBLE), 0), 6)                  AS opponents_out_points,
    r_l.player_lookup IS NOT NULL                                          AS returning_from_inactive,
    pra.points_line                                                        AS current_pra_line,
    (SELECT run_id FROM run_bounds)                                        AS run_id,
    current_timestamp                                                      AS processed_at
FROM universe u
LEFT JOIN form f ON f.game_date = u.game_date AND f.player_lookup = u.player_lookup
LEFT JOIN opp_pace op ON op.game_date = u.game_date AND op.team_abbr = u.team_abbr
LEFT JOIN src_points_lines l ON l.game_id = u.game_id AND l.player_lookup = u.player_lookup
LEFT JOIN src_pra_lines pra ON pra.game_id = u.game_id AND pra.player_lookup = u.player_lookup
LEFT JOIN team_out t_o ON t_o.game_date = u.game_date AND t_o.team_abbr = u.team_abbr
LEFT JOIN team_out o_o ON o_o.game_date = u.game_date AND o_o.team_abbr = u.opponent_team_abbr
LEFT JOIN team_back t_b ON t_b.game_date = u.game_date AND t_b.team_abbr = u.team_abbr
LEFT JOIN out_last r_l ON r_l.game_date = u.game_date AND r_l.team_abbr = u.team_abbr AND r_l.player_lookup = u.player_lookup
