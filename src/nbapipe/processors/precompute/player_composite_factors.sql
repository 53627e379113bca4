-- player_composite_factors: per player with a game that date (key: game_date, player_lookup),
-- four factors from games strictly before the date, each with the inputs it used:
--   fatigue_score 0-100: 100; back-to-back -15, else 3+ days rest +5; 4+ games in the last 7
--     days -10; more than 240 minutes in the last 7 days -10; more than 35 minutes per game over
--     the last 7 days -8; back-to-backs in the last 14 days: 2+ -12, one -5; clamped to 0-100.
--   shot_zone_mismatch_score: the opponent's FG% allowed vs the league (percentage points) in the
--     player's primary zone x min(his share of attempts there / 50%, 1), x 1.2 when its absolute
--     value exceeds 5; clamped to -10..10.
--   pace_score: (opponent's pace over its last 10 games - league pace over the same dates) / 2,
--     clamped to -3..3.
--   usage_spike_score: (usage over the last 3 games - over the last 10) x 0.3, clamped to -3..3.
-- A factor whose inputs are missing is NULL, and missing_inputs says which.
-- Averages of stored (rounded) decimals sum integer micro-units: exact in any order, so
-- every run and engine gets the same double (float sums in parallel are not bit-stable).
WITH universe AS (
    SELECT game_date, player_lookup, season_year, team_abbr, opponent_team_abbr, days_rest,
           back_to_back, games_played_season, games_in_last_7_days, minutes_in_last_7_days
    FROM nba_analytics.upcoming_player_game_context
    WHERE game_date IN (SELECT game_date FROM run_dates)
),
played AS (
    SELECT player_lookup, season_year, game_date, game_id, usage_rate,
           date_diff('day', lag(game_date) OVER (PARTITION BY player_lookup, season_year
                                                 ORDER BY game_date, game_id), game_date) = 1 AS second_of_b2b
    FROM nba_analytics.player_game_summary
    WHERE minutes_played > 0
      AND game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
pairs AS (
    SELECT u.game_date, u.player_lookup, h.usage_rate, h.second_of_b2b,
           date_diff('day', h.game_date, u.game_date) AS days_ago,
           row_number() OVER (PARTITION BY u.game_date, u.player_lookup
                              ORDER BY h.game_date DESC, h.game_id DESC) AS k
    FROM universe u
    JOIN played h ON h.player_lookup = u.player_lookup AND h.season_year = u.season_year
                 AND h.game_date < u.game_date
),
load AS (
    SELECT game_date, player_lookup,
           sum(CASE WHEN days_ago <= 14 AND second_of_b2b THEN 1 ELSE 0 END) AS back_to_backs_last_14_days,
           count(*) AS games,
           avg(CASE WHEN k <= 3 THEN round(usage_rate * 1000000) END) / 1000000 AS usage_last_3,
           avg(CASE WHEN k <= 10 THEN round(usage_rate * 1000000) END) / 1000000 AS usage_last_10
    FROM pairs GROUP BY game_date, player_lookup
),
zone AS (
    SELECT z.analysis_date AS game_date, z.player_lookup, z.primary_scoring_zone,
           CASE z.primary_scoring_zone WHEN 'paint' THEN z.paint_rate_last_20
                                       WHEN 'mid_range' THEN z.mid_range_rate_last_20
                                       WHEN 'three' THEN z.three_pt_rate_last_20 END AS primary_zone_share
    FROM nba_precompute.player_shot_zone_analysis z
    WHERE z.analysis_date IN (SELECT game_date FROM run_dates)
),
opp_zone AS (
    SELECT analysis_date AS game_date, team_abbr, paint_pct_vs_league, mid_range_pct_vs_league,
           three_pt_pct_vs_league
    FROM nba_precompute.team_defense_zone_analysis
    WHERE analysis_date IN (SELECT game_date FROM run_dates)
),
team_games AS (
    SELECT team_abbr, season_year, game_date, game_id, pace
    FROM nba_analytics.team_offense_game_summary
    WHERE game_date BETWEEN (SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds)
),
opp_window AS (   -- the opponent's last 10 games before the date
    SELECT o.game_date, o.team_abbr, g.game_date AS window_date, g.pace,
           row_number() OVER (PARTITION BY o.game_date, o.team_abbr ORDER BY g.game_date DESC, g.game_id DESC) AS k
    FROM (SELECT DISTINCT game_date, opponent_team_abbr AS team_abbr, season_year FROM universe) o
    JOIN team_games g ON g.team_abbr = o.team_abbr AND g.season_year = o.season_year AND g.game_date < o.game_date
),
opp_pace AS (
    SELECT game_date, team_abbr, avg(round(pace * 1000000)) / 1000000 AS opponent_pace_last_10, min(window_date) AS window_start
    FROM opp_window WHERE k <= 10 GROUP BY game_date, team_abbr
),
league_pace AS (  -- every team-game inside the opponent's window dates
    SELECT p.game_date, p.team_abbr, avg(round(g.pace * 1000000)) / 1000000 AS league_pace_same_window
    FROM opp_pace p JOIN team_games g ON g.game_date >= p.window_start AND g.game_date < p.game_date
    GROUP BY p.game_date, p.team_abbr
),
inputs AS (
    SELECT u.*,
           coalesce(l.back_to_backs_last_14_days, 0) AS back_to_backs_last_14_days,
           coalesce(l.games, 0) AS games,
           l.usage_last_3, l.usage_last_10,
           z.primary_scoring_zone, z.primary_zone_share,
           CASE z.primary_scoring_zone WHEN 'paint' THEN oz.paint_pct_vs_league
                                       WHEN 'mid_range' THEN oz.mid_range_pct_vs_league
                                       WHEN 'three' THEN oz.three_pt_pct_vs_league END AS opponent_zone_vs_league,
           op.opponent_pace_last_10, lp.league_pace_same_window
    FROM universe u
    LEFT JOIN load l ON l.game_date = u.game_date AND l.player_lookup = u.player_lookup
    LEFT JOIN zone z ON z.game_date = u.game_date AND z.player_lookup = u.player_lookup
    LEFT JOIN opp_zone oz ON oz.game_date = u.game_date AND oz.team_abbr = u.opponent_team_abbr
    LEFT JOIN opp_pace op ON op.game_date = u.game_date AND op.team_abbr = u.opponent_team_abbr
    LEFT JOIN league_pace lp ON lp.game_date = u.game_date AND lp.team_abbr = u.opponent_team_abbr
),
raw_factors AS (
    SELECT i.*,
           CASE WHEN i.games = 0 THEN NULL ELSE
               100
               + CASE WHEN i.back_to_back THEN -15 WHEN i.days_rest >= 3 THEN 5 ELSE 0 END
               + CASE WHEN i.games_in_last_7_days >= 4 THEN -10 ELSE 0 END
               + CASE WHEN i.minutes_in_last_7_days > 240 THEN -10 ELSE 0 END
               + CASE WHEN i.games_in_last_7_days > 0
                           AND i.minutes_in_last_7_days / i.games_in_last_7_days > 35 THEN -8 ELSE 0 END
               + CASE WHEN i.back_to_backs_last_14_days >= 2 THEN -12
                      WHEN i.back_to_backs_last_14_days = 1 THEN -5 ELSE 0 END
           END AS fatigue_raw,
           i.opponent_zone_vs_league * CASE WHEN i.primary_zone_share >= 0.5 THEN CAST(1 AS DOUBLE)
                                            ELSE i.primary_zone_share / CAST(0.5 AS DOUBLE) END AS mismatch_base,
           (i.opponent_pace_last_10 - i.league_pace_same_window) / 2 AS pace_raw,
           CASE WHEN i.games >= 3 THEN (i.usage_last_3 - i.usage_last_10) * CAST(0.3 AS DOUBLE) END AS usage_raw
    FROM inputs i
)
SELECT
    game_date,
    player_lookup,
    season_year,
    team_abbr,
    opponent_team_abbr,
    -- Clamps spelled out: least/greatest skip NULLs in some engines, and NULL must stay NULL.
    CASE WHEN fatigue_raw IS NULL THEN NULL WHEN fatigue_raw > 100 THEN 100
         WHEN fatigue_raw < 0 THEN 0 ELSE fatigue_raw END                        AS fatigue_score,
    round(CASE WHEN mismatch_base IS NULL THEN NULL
               WHEN abs(mismatch_base) > 5 AND mismatch_base * CAST(1.2 AS DOUBLE) > 10 THEN 10
               WHEN abs(mismatch_base) > 5 AND mismatch_base * CAST(1.2 AS DOUBLE) < -10 THEN -10
               WHEN abs(mismatch_base) > 5 THEN mismatch_base * CAST(1.2 AS DOUBLE)
               ELSE mismatch_base END, 6)                                       AS shot_zone_mismatch_score,
    round(CASE WHEN pace_raw IS NULL THEN NULL WHEN pace_raw > 3 THEN 3
               WHEN pace_raw < -3 THEN -3 ELSE pace_raw END, 6)                 AS pace_score,
    round(CASE WHEN usage_raw IS NULL THEN NULL WHEN usage_raw > 3 THEN 3
               WHEN usage_raw < -3 THEN -3 ELSE usage_raw END, 6)               AS usage_spike_score,
    -- inputs of each factor
    days_rest,
    back_to_back,
    games_in_last_7_days,
    minutes_in_last_7_days,
    back_to_backs_last_14_days,
    primary_scoring_zone,
    round(primary_zone_share, 6)                                                AS primary_zone_share,
    round(opponent_zone_vs_league, 6)                                           AS opponent_zone_vs_league,
    round(opponent_pace_last_10, 6)                                             AS opponent_pace_last_10,
    round(league_pace_same_window, 6)                                           AS league_pace_same_window,
    round(usage_last_3, 6)                                                      AS usage_last_3,
    round(usage_last_10, 6)                                                     AS usage_last_10,
    games                                                                       AS games_played_season,
    -- which factors lack an input, and why
    nullif(concat_ws(', ',
        CASE WHEN fatigue_raw IS NULL THEN 'fatigue: no game played this season' END,
        CASE WHEN mismatch_base IS NULL THEN
             'shot_zone_mismatch: ' || CASE WHEN primary_scoring_zone IS NULL THEN 'no player shot zones'
                                            ELSE 'no opponent zone defense' END END,
        CASE WHEN pace_raw IS NULL THEN 'pace: no opponent games this season' END,
        CASE WHEN usage_raw IS NULL THEN 'usage_spike: fewer than 3 games played' END), '') AS missing_inputs,
    (SELECT run_id FROM run_bounds)                                             AS run_id,
    current_timestamp                                                           AS processed_at
FROM raw_factors
