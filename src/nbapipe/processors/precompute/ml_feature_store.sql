-- ml_feature_store: per player with a game that date, the feature vector a model reads
-- (key: game_date, player_lookup). Every feature comes from games strictly before the date and
-- records its source in feature_sources: phase4 (a Phase 4 table), phase3 (computed here from
-- Phase 3 rows when the Phase 4 row is absent), calculated (defined here), or missing (NULL,
-- never a fake default). feature_quality_score = mean over features of 100 (phase4, calculated),
-- 75 (phase3) and 0 (missing).
--   rest_advantage: player's days of rest - opponent team's days of rest, clamped to -2..2.
--   recent_trend: mean of the last 2 games - mean of the 3 before (needs 5 games), bucketed
--     >= 5 -> 2, >= 2 -> 1, <= -5 -> -2, <= -2 -> -1, else 0.
--   minutes_change: (minutes avg last 10 - season avg) / season avg, bucketed
--     >= 20% -> 2, >= 10% -> 1, <= -20% -> -2, <= -10% -> -1, else 0.
--   pct_free_throw: free throws made / points over the last 10 games, clamped to 0..0.5.
--   team_win_pct: the team's wins / games this season before the date.
-- Feature version v2_53features: the 25 v1 features unchanged (feature_quality_score is still
-- their mean), then 28 more, every one from games strictly before the date except who is listed
-- for the date's game (its pre-game universe: the team's last roster; no box score of the date is read):
--   form and role: points last 3, minutes last 3/5/10/season, minutes_trend = last 3 - last 10,
--     starts in the last 5, usage rate last 10, FGA/FTA last 5, points per minute last 10/season,
--     games played this season;
--   minutes_share_last_10: his minutes / (5 x game minutes) over the team's last 10 games (a
--     team game he missed counts 0, so absences lower it);
--   availability: absent_teammate_points / _minutes / absent_teammates = the per-game points and
--     minutes (with this team, this season) of players who played in one of the team's last 3
--     games and are not listed for it on the date (inactive, injured, traded); the player's own
--     team_games_missed_last_5 and days_since_last_game;
--   role change: games_since_joining = games with the current team when he played for another
--     team earlier this season (NULL when he did not change teams);
--   schedule: third_in_four_nights (2 games in the 3 days before);
--   opponent: opp_role_points_allowed = points per starter (/5) or per bench player (/8) that the
--     opponent allowed over its last 10 games, by the player's role (starter when >= 3 starts in
--     his last 5); opp_points_allowed = its points allowed per game over those games;
--   game lines: team_spread (the team's spread, < 0 = favourite) and game_total_line, pre-game;
--   prev_season_points_avg / _minutes_avg / _games: his previous season (games with minutes);
--   (no starting-lineup feature: the date's lineup is known here only from its box score, which
--     a daily run does not have before tip-off, so backfill and daily would differ.)
-- Feature version v3_72features: v2's 53, then 19 more (the pre-game universe now leaves out the
-- players on the date's inactive list, which teams publish before tip-off):
--   availability (upcoming_player_game_context): teammates_out, teammates_out_points / _minutes /
--     _starts, teammates_newly_out_points, teammates_returning_points, opponents_out_points,
--     returning_from_inactive;
--   role tonight, among the team's players of the date's universe: minutes_rank_tonight (by
--     minutes last 10), start_rank_tonight (by starts in the last 5, then minutes),
--     available_minutes_tonight (their minutes last 10, summed) and expected_minutes_tonight =
--     his minutes last 10 x 240 / available_minutes_tonight (the team's minutes shared out);
--   form: points_ewm_5 / minutes_ewm_5 (exponentially weighted over his season's games, half
--     weight 5 games back), points_last_game, minutes_last_game, started_last_game;
--   market: pra_line (the points + rebounds + assists line, pre-game) and pra_implied_points =
--     pra_line x his share of points in his points + rebounds + assists over his last 10 games.
--     The previous season is read whole, outside the season lookback, so a rerun of an earlier
--     season's Phase 3 does not mark these rows stale (a finished season does not change).
-- Feature version v4_83features: v3's 72, then 11 from his last 40 games with minutes before the
-- date in ANY season (the season-bound features above start empty every October; the walk-forward
-- ablation measured these as the one new group that helps, most in the first months):
--   points_avg_last_40, minutes_avg_last_40, points_per_minute_last_40, games_last_40 (fewer than 40
--   when his history is shorter), starts_last_40, points / minutes averages of those games he
--   started and of those he came off the bench, and the pair that matches his role tonight
--   (points_avg_role_last_40, minutes_avg_role_last_40: the started averages when his
--   start_rank_tonight is 1-5, else the bench ones; the all-games average when he has none).
--   Running totals per player over one sequence of his games and the universe's dates (a date
--   sorts before that day's game), so the last 40 are two rows' difference, not a 40-row window
--   per date. Read outside the season lookback, like the previous season (see above).
-- Averages of stored (rounded) decimals sum integer micro-units: exact in any order, so
-- every run and engine gets the same double (float sums in parallel are not bit-stable).
WITH universe AS (
    SELECT * FROM nba_analytics.upcoming_player_game_context
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
-- MATERIALIZED (here and at `features`): inlined into each reader, these two made planning the
-- bulk of a one-date run (0.25 s -> 0.11 s); a season-long run costs the same either way.
played AS MATERIALIZED (
    SELECT player_lookup, season_year, game_date, game_id, team_abbr, points, minutes_played, ft_makes,
           fg_attempts, ft_attempts, starter_flag, usage_rate, total_rebounds, assists
    FROM nba_analytics.player_game_summary
    WHERE minutes_played > 0
      AND game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
pairs AS (
    SELECT u.game_date, u.player_lookup, h.points, h.minutes_played, h.ft_makes,
           h.fg_attempts, h.ft_attempts, h.starter_flag, h.usage_rate, h.game_date AS hist_date,
           h.total_rebounds, h.assists,
           h.team_abbr = u.team_abbr AS same_team,
           date_diff('day', h.game_date, u.game_date) AS days_ago,
           row_number() OVER (PARTITION BY u.game_date, u.player_lookup
                              ORDER BY h.game_date DESC, h.game_id DESC) AS k
    FROM universe u
    JOIN played h ON h.player_lookup = u.player_lookup AND h.season_year = u.season_year
                 AND h.game_date < u.game_date
),
hist AS (
    SELECT game_date, player_lookup,
           count(*) AS games,
           avg(CAST(points AS DOUBLE)) AS points_avg_season,
           stddev_samp(CASE WHEN k <= 10 THEN CAST(points AS DOUBLE) END) AS points_std_last_10,
           avg(CASE WHEN k <= 2 THEN CAST(points AS DOUBLE) END) AS points_last_2,
           avg(CASE WHEN k BETWEEN 3 AND 5 THEN CAST(points AS DOUBLE) END) AS points_prev_3,
           avg(CASE WHEN k <= 10 THEN round(minutes_played * 1000000) END) / 1000000 AS minutes_avg_last_10,
           avg(round(minutes_played * 1000000)) / 1000000 AS minutes_avg_season,
           sum(CASE WHEN k <= 10 THEN ft_makes ELSE 0 END) AS ftm_last_10,
           sum(CASE WHEN k <= 10 THEN points ELSE 0 END) AS points_last_10_total,
           -- v2: role and form
           avg(CASE WHEN k <= 3 THEN CAST(points AS DOUBLE) END) AS points_avg_last_3,
           avg(CASE WHEN k <= 3 THEN round(minutes_played * 1000000) END) / 1000000 AS minutes_avg_last_3,
           avg(CASE WHEN k <= 5 THEN round(minutes_played * 1000000) END) / 1000000 AS minutes_avg_last_5,
           sum(CASE WHEN k <= 5 AND starter_flag THEN 1 ELSE 0 END) AS starts_last_5,
           avg(CASE WHEN k <= 10 THEN round(usage_rate * 1000000) END) / 1000000 AS usage_rate_last_10,
           avg(CASE WHEN k <= 5 THEN CAST(fg_attempts AS DOUBLE) END) AS fga_avg_last_5,
           avg(CASE WHEN k <= 5 THEN CAST(ft_attempts AS DOUBLE) END) AS fta_avg_last_5,
           sum(CASE WHEN k <= 10 THEN round(minutes_played * 1000000) ELSE 0 END) AS minutes_micro_last_10,
           sum(round(minutes_played * 1000000)) AS minutes_micro_season,
           sum(points) AS points_season_total,
           sum(CASE WHEN same_team THEN 1 ELSE 0 END) AS games_with_team,
           max(hist_date) AS last_played_date,
           sum(CASE WHEN days_ago <= 3 THEN 1 ELSE 0 END) AS games_in_last_3_days,
           -- v3: weights 0.5^((k-1)/5) as exact decimals (a double sum is not order-free)
           sum(CAST(power(CAST(0.5 AS DOUBLE), (k - 1) / CAST(5 AS DOUBLE)) AS DECIMAL(18, 12)) * points) AS points_ewm_num,
           sum(CAST(power(CAST(0.5 AS DOUBLE), (k - 1) / CAST(5 AS DOUBLE)) AS DECIMAL(18, 12))
               * CAST(minutes_played AS DECIMAL(18, 6))) AS minutes_ewm_num,
           sum(CAST(power(CAST(0.5 AS DOUBLE), (k - 1) / CAST(5 AS DOUBLE)) AS DECIMAL(18, 12))) AS ewm_den,
           max(CASE WHEN k = 1 THEN points END) AS points_last_game,
           max(CASE WHEN k = 1 THEN minutes_played END) AS minutes_last_game,
           max(CASE WHEN k = 1 THEN CASE WHEN starter_flag THEN 1 ELSE 0 END END) AS started_last_game,
           sum(CASE WHEN k <= 10 THEN points + coalesce(total_rebounds, 0) + coalesce(assists, 0) ELSE 0 END) AS pra_last_10_total
    FROM pairs GROUP BY game_date, player_lookup
),
team_games AS (
    SELECT team_abbr, season_year, game_date, game_id, pace, offensive_rating, win_flag
    FROM nba_analytics.team_offense_game_summary
    WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
team_hist AS (     -- the player's team before the date: record, and the last-10 fallback
    SELECT t.game_date, t.team_abbr,
           count(g.game_id) AS team_games,
           sum(CASE WHEN g.win_flag THEN 1 ELSE 0 END) AS team_wins,
           avg(CASE WHEN g.k <= 10 THEN round(g.pace * 1000000) END) / 1000000 AS team_pace_last_10,
           avg(CASE WHEN g.k <= 10 THEN round(g.offensive_rating * 1000000) END) / 1000000 AS team_off_rating_last_10
    FROM (SELECT DISTINCT game_date, team_abbr, season_year FROM universe) t
    LEFT JOIN (SELECT x.*, y.game_date AS as_of, y.team_abbr AS as_of_team,
                      row_number() OVER (PARTITION BY y.game_date, y.team_abbr ORDER BY x.game_date DESC, x.game_id DESC) AS k
               FROM team_games x
               JOIN (SELECT DISTINCT game_date, team_abbr, season_year FROM universe) y
                 ON x.team_abbr = y.team_abbr AND x.season_year = y.season_year AND x.game_date < y.game_date) g
      ON g.as_of = t.game_date AND g.as_of_team = t.team_abbr
    GROUP BY t.game_date, t.team_abbr
),
team_slots AS (     -- each (date, team) of the universe and of its opponents
    SELECT DISTINCT game_date, team_abbr, season_year FROM universe
    UNION
    SELECT DISTINCT game_date, opponent_team_abbr, season_year FROM universe
),
team_prior AS (     -- each (date, team): the team's games this season before the date, k = 1 latest
    SELECT t.game_date, t.team_abbr, g.game_id, g.game_date AS prior_date, g.game_minutes,
           row_number() OVER (PARTITION BY t.game_date, t.team_abbr ORDER BY g.game_date DESC, g.game_id DESC) AS k
    FROM team_slots t
    JOIN (SELECT team_abbr, season_year, game_date, game_id, game_minutes
          FROM nba_analytics.team_offense_game_summary
          WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)) g
      ON g.team_abbr = t.team_abbr AND g.season_year = t.season_year AND g.game_date < t.game_date
),
team_members AS (   -- who played for the team before the date: per game average, and whether recent
    SELECT tp.game_date, tp.team_abbr, p.player_lookup,
           sum(p.points) / CAST(count(*) AS DOUBLE) AS points_per_game,
           sum(round(p.minutes_played * 1000000)) / CAST(count(*) AS DOUBLE) / 1000000 AS minutes_per_game,
           min(tp.k) AS last_k
    FROM team_prior tp
    JOIN played p ON p.game_id = tp.game_id AND p.team_abbr = tp.team_abbr
    GROUP BY tp.game_date, tp.team_abbr, p.player_lookup
),
absent AS (         -- teammates of the team's last 3 games not listed for it on the date
    -- Summed as DECIMAL: a sum of doubles depends on the order the threads add them in, and
    -- that order changes with the run's range (the last digit differed between two runs).
    SELECT m.game_date, m.team_abbr,
           CAST(sum(CAST(m.points_per_game AS DECIMAL(18, 9))) AS DOUBLE) AS absent_points,
           CAST(sum(CAST(m.minutes_per_game AS DECIMAL(18, 9))) AS DOUBLE) AS absent_minutes,
           count(*) AS absent_players
    FROM team_members m
    WHERE m.last_k <= 3
      AND NOT EXISTS (SELECT 1 FROM universe u WHERE u.game_date = m.game_date AND u.team_abbr = m.team_abbr
                                                 AND u.player_lookup = m.player_lookup)
    GROUP BY m.game_date, m.team_abbr
),
share AS (          -- the player's minutes over the team's last 10 games (a game he missed counts 0)
    SELECT u.game_date, u.player_lookup,
           sum(round(coalesce(p.minutes_played, 0) * 1000000)) / nullif(sum(tp.game_minutes * 5000000), 0) AS minutes_share_last_10,
           sum(CASE WHEN p.player_lookup IS NULL AND tp.k <= 5 THEN 1 ELSE 0 END) AS team_games_missed_last_5
    FROM universe u
    JOIN team_prior tp ON tp.game_date = u.game_date AND tp.team_abbr = u.team_abbr AND tp.k <= 10
    LEFT JOIN played p ON p.game_id = tp.game_id AND p.team_abbr = tp.team_abbr AND p.player_lookup = u.player_lookup
    GROUP BY u.game_date, u.player_lookup
),
allowed_by_game AS (  -- points a defense allowed per game to the opposing starters and bench
    SELECT s.game_id, s.opponent_team_abbr AS defending_team_abbr,
           sum(CASE WHEN s.starter_flag THEN s.points ELSE 0 END) AS starter_points,
           sum(CASE WHEN s.starter_flag THEN 0 ELSE s.points END) AS bench_points
    FROM nba_analytics.player_game_summary s
    WHERE s.game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
      AND s.points IS NOT NULL
    GROUP BY s.game_id, s.opponent_team_abbr
),
opp_allowed AS (    -- the opponent's last 10 games before the date
    SELECT tp.game_date, tp.team_abbr,
           avg(a.starter_points) AS starter_points_allowed,
           avg(a.bench_points) AS bench_points_allowed
    FROM team_prior tp
    JOIN allowed_by_game a ON a.game_id = tp.game_id AND a.defending_team_abbr = tp.team_abbr
    WHERE tp.k <= 10
    GROUP BY tp.game_date, tp.team_abbr
),
prev_season AS (   -- the player's whole previous season (read outside the season lookback: see header)
    SELECT p.player_lookup, p.season_year + 1 AS season_year,
           sum(p.points) / CAST(count(*) AS DOUBLE) AS prev_points_avg,
           sum(round(p.minutes_played * 1000000)) / CAST(count(*) AS DOUBLE) / 1000000 AS prev_minutes_avg,
           count(*) AS prev_games
    FROM nba_analytics.player_game_summary p
    WHERE p.minutes_played > 0 AND p.points IS NOT NULL
      AND p.season_year IN (SELECT DISTINCT season_year - 1 FROM universe)
    GROUP BY p.player_lookup, p.season_year
),
career AS (        -- v4: his games with minutes in any season, and the universe's dates, per player
    SELECT p.player_lookup, p.game_date, p.game_id, 0 AS is_date, p.points,
           round(p.minutes_played * 1000000) AS minutes_micro,
           CASE WHEN p.starter_flag THEN 1 ELSE 0 END AS started
    FROM nba_analytics.player_game_summary p
    WHERE p.minutes_played > 0 AND p.points IS NOT NULL
      AND p.game_date < (SELECT end_date FROM run_bounds)
      AND p.player_lookup IN (SELECT player_lookup FROM universe)
    UNION ALL
    SELECT player_lookup, game_date, '', 1, NULL, NULL, NULL FROM universe
),
running AS (       -- running totals of his games up to each row; a date's row counts no game of that day
    -- (newest first, a day's game before its date row, the frame reaching back: every ORDER BY
    -- here is DESC, which all target dialects sort the same way)
    SELECT player_lookup, game_date, is_date,
           count(points) OVER (PARTITION BY player_lookup ORDER BY game_date DESC, 1 - is_date DESC, game_id DESC
                               ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS n,
           sum(points) OVER (PARTITION BY player_lookup ORDER BY game_date DESC, 1 - is_date DESC, game_id DESC
                             ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS cum_points,
           sum(minutes_micro) OVER (PARTITION BY player_lookup ORDER BY game_date DESC, 1 - is_date DESC, game_id DESC
                                    ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS cum_minutes,
           sum(started) OVER (PARTITION BY player_lookup ORDER BY game_date DESC, 1 - is_date DESC, game_id DESC
                              ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS cum_starts,
           sum(started * points) OVER (PARTITION BY player_lookup ORDER BY game_date DESC, 1 - is_date DESC, game_id DESC
                                       ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS cum_started_points,
           sum(started * minutes_micro) OVER (PARTITION BY player_lookup ORDER BY game_date DESC, 1 - is_date DESC,
                                              game_id DESC ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS cum_started_minutes
    FROM career
),
long_hist AS (     -- his last 40 games: the date's running totals less those of his game 40 earlier
    SELECT d.game_date, d.player_lookup,
           d.n - coalesce(g.n, 0) AS games_40,
           d.cum_points - coalesce(g.cum_points, 0) AS points_40,
           d.cum_minutes - coalesce(g.cum_minutes, 0) AS minutes_micro_40,
           d.cum_starts - coalesce(g.cum_starts, 0) AS starts_40,
           d.cum_started_points - coalesce(g.cum_started_points, 0) AS started_points_40,
           d.cum_started_minutes - coalesce(g.cum_started_minutes, 0) AS started_minutes_micro_40
    FROM running d
    LEFT JOIN running g ON g.player_lookup = d.player_lookup AND g.is_date = 0 AND g.n = d.n - 40
    WHERE d.is_date = 1 AND d.n > 0
),
opp_def AS (       -- fallback opponent defensive rating: its season so far (Phase 3)
    SELECT o.game_date, o.team_abbr,
           100 * sum(d.points_allowed) / nullif(CAST(sum(CAST(d.opp_possessions AS DECIMAL(18, 9))) AS DOUBLE), 0) AS def_rating_season
    FROM (SELECT DISTINCT game_date, opponent_team_abbr AS team_abbr, season_year FROM universe) o
    JOIN nba_analytics.team_defense_game_summary d
      ON d.defending_team_abbr = o.team_abbr AND d.season_year = o.season_year AND d.game_date < o.game_date
    GROUP BY o.game_date, o.team_abbr
),
joined AS (
    SELECT u.game_date, u.game_id, u.season_year, u.player_lookup, u.team_abbr, u.opponent_team_abbr,
           u.home_game, u.back_to_back, u.days_rest, u.points_avg_last_5 AS ctx_points_avg_last_5,
           u.points_avg_last_10 AS ctx_points_avg_last_10, u.games_in_last_7_days AS ctx_games_in_last_7_days,
           u.opponent_pace_last_10 AS ctx_opponent_pace, u.current_points_line,
           c.points_avg_last_5 AS c_points_avg_last_5, c.points_avg_last_10 AS c_points_avg_last_10,
           c.points_avg_season AS c_points_avg_season, c.points_std_last_10 AS c_points_std_last_10,
           c.games_in_last_7_days AS c_games_in_last_7_days, c.team_pace_last_10 AS c_team_pace,
           c.team_off_rating_last_10 AS c_team_off_rating,
           f.fatigue_score, f.shot_zone_mismatch_score, f.pace_score, f.usage_spike_score,
           f.opponent_pace_last_10 AS f_opponent_pace,
           z.paint_rate_last_10, z.mid_range_rate_last_10, z.three_pt_rate_last_10,
           tz.defensive_rating AS tz_def_rating,
           od.def_rating_season AS od_def_rating,
           ot.days_rest AS opp_days_rest,
           h.games, h.points_avg_season AS h_points_avg_season, h.points_std_last_10 AS h_points_std_last_10,
           h.points_last_2, h.points_prev_3, h.minutes_avg_last_10, h.minutes_avg_season,
           h.ftm_last_10, h.points_last_10_total,
           th.team_games, th.team_wins, th.team_pace_last_10 AS th_team_pace,
           th.team_off_rating_last_10 AS th_team_off_rating,
           h.points_avg_last_3, h.minutes_avg_last_3, h.minutes_avg_last_5, h.starts_last_5,
           h.usage_rate_last_10, h.fga_avg_last_5, h.fta_avg_last_5, h.minutes_micro_last_10,
           h.minutes_micro_season, h.points_season_total, h.games_with_team, h.last_played_date,
           h.games_in_last_3_days,
           sh.minutes_share_last_10, sh.team_games_missed_last_5,
           coalesce(ab.absent_points, 0) AS absent_points, coalesce(ab.absent_minutes, 0) AS absent_minutes,
           coalesce(ab.absent_players, 0) AS absent_players,
           oa.starter_points_allowed, oa.bench_points_allowed,
           tt.spread AS team_spread, tt.game_total AS game_total_line,
           ps.prev_points_avg, ps.prev_minutes_avg, ps.prev_games,
           u.teammates_out, u.teammates_out_points, u.teammates_out_minutes, u.teammates_out_starts,
           u.teammates_newly_out_points, u.teammates_returning_points, u.opponents_out_points,
           CASE WHEN u.returning_from_inactive THEN 1 ELSE 0 END AS returning_from_inactive,
           h.points_ewm_num, h.minutes_ewm_num, h.ewm_den, h.points_last_game, h.minutes_last_game,
           h.started_last_game, h.pra_last_10_total, u.current_pra_line,
           lh.games_40, lh.points_40, lh.minutes_micro_40, lh.starts_40, lh.started_points_40,
           lh.started_minutes_micro_40
    FROM universe u
    LEFT JOIN nba_precompute.player_daily_cache c ON c.cache_date = u.game_date AND c.player_lookup = u.player_lookup
    LEFT JOIN nba_precompute.player_composite_factors f ON f.game_date = u.game_date AND f.player_lookup = u.player_lookup
    LEFT JOIN nba_precompute.player_shot_zone_analysis z ON z.analysis_date = u.game_date AND z.player_lookup = u.player_lookup
    LEFT JOIN nba_precompute.team_defense_zone_analysis tz ON tz.analysis_date = u.game_date AND tz.team_abbr = u.opponent_team_abbr
    LEFT JOIN opp_def od ON od.game_date = u.game_date AND od.team_abbr = u.opponent_team_abbr
    LEFT JOIN nba_analytics.upcoming_team_game_context ot ON ot.game_date = u.game_date AND ot.team_abbr = u.opponent_team_abbr
    LEFT JOIN hist h ON h.game_date = u.game_date AND h.player_lookup = u.player_lookup
    LEFT JOIN team_hist th ON th.game_date = u.game_date AND th.team_abbr = u.team_abbr
    LEFT JOIN share sh ON sh.game_date = u.game_date AND sh.player_lookup = u.player_lookup
    LEFT JOIN absent ab ON ab.game_date = u.game_date AND ab.team_abbr = u.team_abbr
    LEFT JOIN opp_allowed oa ON oa.game_date = u.game_date AND oa.team_abbr = u.opponent_team_abbr
    LEFT JOIN nba_analytics.upcoming_team_game_context tt ON tt.game_date = u.game_date AND tt.team_abbr = u.team_abbr
    LEFT JOIN prev_season ps ON ps.player_lookup = u.player_lookup AND ps.season_year = u.season_year
    LEFT JOIN long_hist lh ON lh.game_date = u.game_date AND lh.player_lookup = u.player_lookup
),
features AS MATERIALIZED (
    SELECT j.*,
           coalesce(c_points_avg_last_5, ctx_points_avg_last_5)            AS points_avg_last_5,
           coalesce(c_points_avg_last_10, ctx_points_avg_last_10)          AS points_avg_last_10,
           coalesce(c_points_avg_season, h_points_avg_season)              AS points_avg_season,
           coalesce(c_points_std_last_10, h_points_std_last_10)            AS points_std_last_10,
           coalesce(c_games_in_last_7_days, ctx_games_in_last_7_days)      AS games_in_last_7_days,
           CASE WHEN days_rest IS NULL OR opp_days_rest IS NULL THEN NULL
                WHEN days_rest - opp_days_rest > 2 THEN 2
                WHEN days_rest - opp_days_rest < -2 THEN -2
                ELSE days_rest - opp_days_rest END                        AS rest_advantage,
           CASE WHEN games < 5 OR games IS NULL THEN NULL
                WHEN points_last_2 - points_prev_3 >= 5 THEN 2
                WHEN points_last_2 - points_prev_3 >= 2 THEN 1
                WHEN points_last_2 - points_prev_3 <= -5 THEN -2
                WHEN points_last_2 - points_prev_3 <= -2 THEN -1 ELSE 0 END AS recent_trend,
           CASE WHEN minutes_avg_season IS NULL OR minutes_avg_season = 0 THEN NULL
                WHEN (minutes_avg_last_10 - minutes_avg_season) / minutes_avg_season >= 0.2 THEN 2
                WHEN (minutes_avg_last_10 - minutes_avg_season) / minutes_avg_season >= 0.1 THEN 1
                WHEN (minutes_avg_last_10 - minutes_avg_season) / minutes_avg_season <= -0.2 THEN -2
                WHEN (minutes_avg_last_10 - minutes_avg_season) / minutes_avg_season <= -0.1 THEN -1
                ELSE 0 END                                                 AS minutes_change,
           coalesce(tz_def_rating, od_def_rating)                          AS opponent_def_rating,
           coalesce(f_opponent_pace, ctx_opponent_pace)                    AS opponent_pace,
           CASE WHEN home_game THEN 1 ELSE 0 END                           AS home_away,
           CASE WHEN back_to_back THEN 1 ELSE 0 END                        AS back_to_back_flag,
           CASE WHEN points_last_10_total IS NULL OR points_last_10_total = 0 THEN NULL
                WHEN ftm_last_10 / CAST(points_last_10_total AS DOUBLE) > 0.5 THEN 0.5
                ELSE ftm_last_10 / CAST(points_last_10_total AS DOUBLE) END AS pct_free_throw,
           coalesce(c_team_pace, th_team_pace)                             AS team_pace,
           coalesce(c_team_off_rating, th_team_off_rating)                 AS team_off_rating,
           team_wins / CAST(nullif(team_games, 0) AS DOUBLE)               AS team_win_pct,
           CASE WHEN current_points_line IS NULL THEN 0 ELSE 1 END         AS has_vegas_line,
           -- v2 features (see the header)
           minutes_avg_last_3 - minutes_avg_last_10                        AS minutes_trend,
           minutes_micro_last_10 / CAST(1000000 AS DOUBLE) / nullif(least(games, 10), 0) AS minutes_avg_last_10_v2,
           minutes_micro_season / CAST(1000000 AS DOUBLE) / nullif(games, 0)             AS minutes_avg_season_v2,
           points_season_total / nullif(minutes_micro_season / CAST(1000000 AS DOUBLE), 0) AS points_per_minute_season,
           points_last_10_total / nullif(minutes_micro_last_10 / CAST(1000000 AS DOUBLE), 0) AS points_per_minute_last_10,
           CASE WHEN starts_last_5 >= 3 THEN starter_points_allowed / CAST(5 AS DOUBLE)
                ELSE bench_points_allowed / CAST(8 AS DOUBLE) END                        AS opp_role_points_allowed,
           CASE WHEN games IS NULL THEN NULL
                WHEN games_with_team < games THEN games_with_team END      AS games_since_joining,
           date_diff('day', last_played_date, game_date)                   AS days_since_last_game,
           CASE WHEN games_in_last_3_days >= 2 THEN 1 ELSE 0 END           AS third_in_four_nights,
           -- v3 features (see the header)
           CAST(points_ewm_num AS DOUBLE) / CAST(nullif(ewm_den, 0) AS DOUBLE)   AS points_ewm_5,
           CAST(minutes_ewm_num AS DOUBLE) / CAST(nullif(ewm_den, 0) AS DOUBLE)  AS minutes_ewm_5,
           current_pra_line * points_last_10_total / CAST(nullif(pra_last_10_total, 0) AS DOUBLE) AS pra_implied_points,
           -- v4 features (see the header)
           points_40 / CAST(nullif(games_40, 0) AS DOUBLE)                                 AS points_avg_last_40,
           minutes_micro_40 / CAST(1000000 AS DOUBLE) / nullif(games_40, 0)               AS minutes_avg_last_40,
           points_40 / nullif(minutes_micro_40 / CAST(1000000 AS DOUBLE), 0)              AS points_per_minute_last_40,
           started_points_40 / CAST(nullif(starts_40, 0) AS DOUBLE)                       AS points_avg_started_last_40,
           (points_40 - started_points_40) / CAST(nullif(games_40 - starts_40, 0) AS DOUBLE) AS points_avg_bench_last_40,
           started_minutes_micro_40 / CAST(1000000 AS DOUBLE) / nullif(starts_40, 0)      AS minutes_avg_started_last_40,
           (minutes_micro_40 - started_minutes_micro_40) / CAST(1000000 AS DOUBLE)
               / nullif(games_40 - starts_40, 0)                                           AS minutes_avg_bench_last_40
    FROM joined j
),
tonight AS (        -- his role among the team's players of the date's universe
    SELECT f.*,
           rank() OVER (PARTITION BY game_date, team_abbr ORDER BY minutes_avg_last_10_v2 DESC NULLS LAST) AS minutes_rank_tonight,
           rank() OVER (PARTITION BY game_date, team_abbr
                        ORDER BY starts_last_5 DESC NULLS LAST, minutes_avg_last_10_v2 DESC NULLS LAST) AS start_rank_tonight,
           -- DECIMAL: exact in any order (a window's double sum is not)
           CAST(sum(CAST(minutes_avg_last_10_v2 AS DECIMAL(18, 6))) OVER (PARTITION BY game_date, team_abbr)
                AS DOUBLE) AS available_minutes_tonight
    FROM features f
),
sourced AS (
    SELECT x.*,
           CASE WHEN c_points_avg_last_5 IS NOT NULL THEN 'phase4' WHEN points_avg_last_5 IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_points_avg_last_5,
           CASE WHEN c_points_avg_last_10 IS NOT NULL THEN 'phase4' WHEN points_avg_last_10 IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_points_avg_last_10,
           CASE WHEN c_points_avg_season IS NOT NULL THEN 'phase4' WHEN points_avg_season IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_points_avg_season,
           CASE WHEN c_points_std_last_10 IS NOT NULL THEN 'phase4' WHEN points_std_last_10 IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_points_std_last_10,
           CASE WHEN c_games_in_last_7_days IS NOT NULL THEN 'phase4' WHEN games_in_last_7_days IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_games_in_last_7_days,
           CASE WHEN fatigue_score IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_fatigue_score,
           CASE WHEN shot_zone_mismatch_score IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_shot_zone_mismatch_score,
           CASE WHEN pace_score IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_pace_score,
           CASE WHEN usage_spike_score IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_usage_spike_score,
           CASE WHEN rest_advantage IS NOT NULL THEN 'calculated' ELSE 'missing' END AS src_rest_advantage,
           CASE WHEN recent_trend IS NOT NULL THEN 'calculated' ELSE 'missing' END AS src_recent_trend,
           CASE WHEN minutes_change IS NOT NULL THEN 'calculated' ELSE 'missing' END AS src_minutes_change,
           CASE WHEN tz_def_rating IS NOT NULL THEN 'phase4' WHEN opponent_def_rating IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_opponent_def_rating,
           CASE WHEN f_opponent_pace IS NOT NULL THEN 'phase4' WHEN opponent_pace IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_opponent_pace,
           'phase3' AS src_home_away,
           'phase3' AS src_back_to_back,
           CASE WHEN paint_rate_last_10 IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_pct_paint,
           CASE WHEN mid_range_rate_last_10 IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_pct_mid_range,
           CASE WHEN three_pt_rate_last_10 IS NOT NULL THEN 'phase4' ELSE 'missing' END AS src_pct_three,
           CASE WHEN pct_free_throw IS NOT NULL THEN 'calculated' ELSE 'missing' END AS src_pct_free_throw,
           CASE WHEN c_team_pace IS NOT NULL THEN 'phase4' WHEN team_pace IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_team_pace,
           CASE WHEN c_team_off_rating IS NOT NULL THEN 'phase4' WHEN team_off_rating IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_team_off_rating,
           CASE WHEN team_win_pct IS NOT NULL THEN 'calculated' ELSE 'missing' END AS src_team_win_pct,
           CASE WHEN current_points_line IS NOT NULL THEN 'phase3' ELSE 'missing' END AS src_vegas_points_line,
           'phase3' AS src_has_vegas_line
    FROM tonight x
)
SELECT
    game_date,
    player_lookup,
    game_id,
    season_year,
    team_abbr,
    opponent_team_abbr,
    round(points_avg_last_5, 6)          AS points_avg_last_5,
    round(points_avg_last_10, 6)         AS points_avg_last_10,
    round(points_avg_season, 6)          AS points_avg_season,
    round(points_std_last_10, 6)         AS points_std_last_10,
    games_in_last_7_days,
    fatigue_score,
    shot_zone_mismatch_score,
    pace_score,
    usage_spike_score,
    rest_advantage,
    recent_trend,
    minutes_change,
    round(opponent_def_rating, 6)        AS opponent_def_rating,
    round(opponent_pace, 6)              AS opponent_pace,
    home_away,
    back_to_back_flag                    AS back_to_back,
    paint_rate_last_10                   AS pct_paint,
    mid_range_rate_last_10               AS pct_mid_range,
    three_pt_rate_last_10                AS pct_three,
    round(pct_free_throw, 6)             AS pct_free_throw,
    round(team_pace, 6)                  AS team_pace,
    round(team_off_rating, 6)            AS team_off_rating,
    round(team_win_pct, 6)               AS team_win_pct,
    current_points_line                  AS vegas_points_line,
    has_vegas_line,
    round(points_avg_last_3, 6)          AS points_avg_last_3,
    round(minutes_avg_last_3, 6)         AS minutes_avg_last_3,
    round(minutes_avg_last_5, 6)         AS minutes_avg_last_5,
    round(minutes_avg_last_10_v2, 6)     AS minutes_avg_last_10,
    round(minutes_avg_season_v2, 6)      AS minutes_avg_season,
    round(minutes_trend, 6)              AS minutes_trend,
    starts_last_5,
    round(minutes_share_last_10, 6)      AS minutes_share_last_10,
    round(usage_rate_last_10, 6)         AS usage_rate_last_10,
    round(fga_avg_last_5, 6)             AS fga_avg_last_5,
    round(fta_avg_last_5, 6)             AS fta_avg_last_5,
    round(points_per_minute_last_10, 6)  AS points_per_minute_last_10,
    round(points_per_minute_season, 6)   AS points_per_minute_season,
    games                                AS games_played_season,
    days_since_last_game,
    third_in_four_nights,
    team_games_missed_last_5,
    games_since_joining,
    round(absent_points, 6)              AS absent_teammate_points,
    round(absent_minutes, 6)             AS absent_teammate_minutes,
    absent_players                       AS absent_teammates,
    round(opp_role_points_allowed, 6)    AS opp_role_points_allowed,
    round(starter_points_allowed + bench_points_allowed, 6) AS opp_points_allowed,
    team_spread,
    game_total_line,
    round(prev_points_avg, 6)            AS prev_season_points_avg,
    round(prev_minutes_avg, 6)           AS prev_season_minutes_avg,
    prev_games                           AS prev_season_games,
    teammates_out,
    teammates_out_points,
    teammates_out_minutes,
    teammates_out_starts,
    teammates_newly_out_points,
    teammates_returning_points,
    opponents_out_points,
    returning_from_inactive,
    minutes_rank_tonight,
    start_rank_tonight,
    round(available_minutes_tonight, 6)  AS available_minutes_tonight,
    round(minutes_avg_last_10_v2 * 240 / nullif(available_minutes_tonight, 0), 6) AS expected_minutes_tonight,
    round(points_ewm_5, 6)               AS points_ewm_5,
    round(minutes_ewm_5, 6)              AS minutes_ewm_5,
    points_last_game,
    round(minutes_last_game, 6)          AS minutes_last_game,
    started_last_game,
    current_pra_line                     AS pra_line,
    round(pra_implied_points, 6)         AS pra_implied_points,
    round(points_avg_last_40, 6)         AS points_avg_last_40,
    round(minutes_avg_last_40, 6)        AS minutes_avg_last_40,
    round(points_per_minute_last_40, 6)  AS points_per_minute_last_40,
    games_40                             AS games_last_40,
    starts_40                            AS starts_last_40,
    round(points_avg_started_last_40, 6) AS points_avg_started_last_40,
    round(points_avg_bench_last_40, 6)   AS points_avg_bench_last_40,
    round(minutes_avg_started_last_40, 6) AS minutes_avg_started_last_40,
    round(minutes_avg_bench_last_40, 6)  AS minutes_avg_bench_last_40,
    round(coalesce(CASE WHEN start_rank_tonight <= 5 THEN points_avg_started_last_40 ELSE points_avg_bench_last_40 END,
                   points_avg_last_40), 6) AS points_avg_role_last_40,
    round(coalesce(CASE WHEN start_rank_tonight <= 5 THEN minutes_avg_started_last_40 ELSE minutes_avg_bench_last_40 END,
                   minutes_avg_last_40), 6) AS minutes_avg_role_last_40,
    'v4_83features'                      AS feature_version,
    -- One flat concat, not a chain of ||: binding and optimising the nested chain cost
    -- ~0.17 s a statement (half of a one-date run). The same string: no part is ever NULL.
    concat('{',
        '"points_avg_last_5":"', src_points_avg_last_5, '",',
        '"points_avg_last_10":"', src_points_avg_last_10, '",',
        '"points_avg_season":"', src_points_avg_season, '",',
        '"points_std_last_10":"', src_points_std_last_10, '",',
        '"games_in_last_7_days":"', src_games_in_last_7_days, '",',
        '"fatigue_score":"', src_fatigue_score, '",',
        '"shot_zone_mismatch_score":"', src_shot_zone_mismatch_score, '",',
        '"pace_score":"', src_pace_score, '",',
        '"usage_spike_score":"', src_usage_spike_score, '",',
        '"rest_advantage":"', src_rest_advantage, '",',
        '"recent_trend":"', src_recent_trend, '",',
        '"minutes_change":"', src_minutes_change, '",',
        '"opponent_def_rating":"', src_opponent_def_rating, '",',
        '"opponent_pace":"', src_opponent_pace, '",',
        '"home_away":"', src_home_away, '",',
        '"back_to_back":"', src_back_to_back, '",',
        '"pct_paint":"', src_pct_paint, '",',
        '"pct_mid_range":"', src_pct_mid_range, '",',
        '"pct_three":"', src_pct_three, '",',
        '"pct_free_throw":"', src_pct_free_throw, '",',
        '"team_pace":"', src_team_pace, '",',
        '"team_off_rating":"', src_team_off_rating, '",',
        '"team_win_pct":"', src_team_win_pct, '",',
        '"vegas_points_line":"', src_vegas_points_line, '",',
        '"has_vegas_line":"', src_has_vegas_line, '",',
        '"points_avg_last_3":"', CASE WHEN points_avg_last_3 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_last_3":"', CASE WHEN minutes_avg_last_3 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_last_5":"', CASE WHEN minutes_avg_last_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_last_10":"', CASE WHEN minutes_avg_last_10_v2 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_season":"', CASE WHEN minutes_avg_season_v2 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_trend":"', CASE WHEN minutes_trend IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"starts_last_5":"', CASE WHEN starts_last_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_share_last_10":"', CASE WHEN minutes_share_last_10 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"usage_rate_last_10":"', CASE WHEN usage_rate_last_10 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"fga_avg_last_5":"', CASE WHEN fga_avg_last_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"fta_avg_last_5":"', CASE WHEN fta_avg_last_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_per_minute_last_10":"', CASE WHEN points_per_minute_last_10 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_per_minute_season":"', CASE WHEN points_per_minute_season IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"games_played_season":"', CASE WHEN games IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"days_since_last_game":"', CASE WHEN days_since_last_game IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"third_in_four_nights":"', CASE WHEN third_in_four_nights IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"team_games_missed_last_5":"', CASE WHEN team_games_missed_last_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"games_since_joining":"', CASE WHEN games_since_joining IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"absent_teammate_points":"', CASE WHEN absent_points IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"absent_teammate_minutes":"', CASE WHEN absent_minutes IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"absent_teammates":"', CASE WHEN absent_players IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"opp_role_points_allowed":"', CASE WHEN opp_role_points_allowed IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"opp_points_allowed":"', CASE WHEN starter_points_allowed IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"team_spread":"', CASE WHEN team_spread IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"game_total_line":"', CASE WHEN game_total_line IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"prev_season_points_avg":"', CASE WHEN prev_points_avg IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"prev_season_minutes_avg":"', CASE WHEN prev_minutes_avg IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"prev_season_games":"', CASE WHEN prev_games IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"teammates_out":"', CASE WHEN teammates_out IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"teammates_out_points":"', CASE WHEN teammates_out_points IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"teammates_out_minutes":"', CASE WHEN teammates_out_minutes IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"teammates_out_starts":"', CASE WHEN teammates_out_starts IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"teammates_newly_out_points":"', CASE WHEN teammates_newly_out_points IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"teammates_returning_points":"', CASE WHEN teammates_returning_points IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"opponents_out_points":"', CASE WHEN opponents_out_points IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"returning_from_inactive":"', CASE WHEN returning_from_inactive IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"minutes_rank_tonight":"', CASE WHEN minutes_avg_last_10_v2 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"start_rank_tonight":"', CASE WHEN starts_last_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"available_minutes_tonight":"', CASE WHEN available_minutes_tonight IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"expected_minutes_tonight":"', CASE WHEN nullif(available_minutes_tonight, 0) + minutes_avg_last_10_v2 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_ewm_5":"', CASE WHEN points_ewm_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_ewm_5":"', CASE WHEN minutes_ewm_5 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_last_game":"', CASE WHEN points_last_game IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_last_game":"', CASE WHEN minutes_last_game IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"started_last_game":"', CASE WHEN started_last_game IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"pra_line":"', CASE WHEN current_pra_line IS NULL THEN 'missing' ELSE 'phase3' END, '",',
        '"pra_implied_points":"', CASE WHEN pra_implied_points IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_avg_last_40":"', CASE WHEN points_avg_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_last_40":"', CASE WHEN minutes_avg_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_per_minute_last_40":"', CASE WHEN points_per_minute_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"games_last_40":"', CASE WHEN games_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"starts_last_40":"', CASE WHEN starts_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_avg_started_last_40":"', CASE WHEN points_avg_started_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_avg_bench_last_40":"', CASE WHEN points_avg_bench_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_started_last_40":"', CASE WHEN minutes_avg_started_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_bench_last_40":"', CASE WHEN minutes_avg_bench_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"points_avg_role_last_40":"', CASE WHEN points_avg_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '",',
        '"minutes_avg_role_last_40":"', CASE WHEN minutes_avg_last_40 IS NULL THEN 'missing' ELSE 'calculated' END, '"}') AS feature_sources,
    round((CASE src_points_avg_last_5 WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_points_avg_last_10 WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_points_avg_season WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_points_std_last_10 WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_games_in_last_7_days WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_fatigue_score WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_shot_zone_mismatch_score WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_pace_score WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_usage_spike_score WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_rest_advantage WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_recent_trend WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_minutes_change WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_opponent_def_rating WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_opponent_pace WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_home_away WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_back_to_back WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_pct_paint WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_pct_mid_range WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_pct_three WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_pct_free_throw WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_team_pace WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_team_off_rating WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_team_win_pct WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_vegas_points_line WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END +
         CASE src_has_vegas_line WHEN 'missing' THEN 0 WHEN 'phase3' THEN 75 ELSE 100 END) / CAST(25 AS DOUBLE), 6) AS feature_quality_score,
    (SELECT run_id FROM run_bounds)      AS run_id,
    current_timestamp                    AS processed_at
FROM sourced
