from nbapipe.processors.base import Input, processor

PROCESSOR = processor(
    __name__,
    name="team_defense_zone_analysis", phase=4,
    table="nba_precompute.team_defense_zone_analysis", key=("analysis_date", "team_abbr"),
    slice_column="analysis_date",
    description="Per team playing that date: zone FG% allowed over its last 15 games vs the league, "
                "defensive rating, opponent points and pace, strongest/weakest zone",
    inputs=(
        Input("nba_reference.schedule"),
        Input("team_defense_game_summary", when="lookback"),
    ),
    lookback="season",
    bootstrap_skip=True,
    source_column=None,
    # Expected: teams playing that date with at least the minimum games for the season's age
    # (counted from Phase 3, independently of the output).
    expected_sql="""
        WITH playing AS (
            SELECT game_date, home_team_abbr AS team_abbr FROM nba_reference.schedule
            WHERE game_date IN (SELECT game_date FROM run_dates)
              AND game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
            UNION
            SELECT game_date, away_team_abbr FROM nba_reference.schedule
            WHERE game_date IN (SELECT game_date FROM run_dates)
              AND game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')),
        hist AS (
            SELECT p.game_date, p.team_abbr, count(x.game_id) AS games,
                   min(least(15, greatest(2, CAST(floor(date_diff('day', sc.season_start, p.game_date) / CAST(3 AS DOUBLE)) AS INTEGER)))) AS min_games
            FROM playing p
            JOIN nba_reference.game_dates gd ON gd.game_date = p.game_date
            JOIN nba_reference.season_calendar sc ON sc.season = gd.season
            LEFT JOIN nba_analytics.team_defense_game_summary x
              ON x.defending_team_abbr = p.team_abbr AND x.season_year = sc.season_year AND x.game_date < p.game_date
            GROUP BY p.game_date, p.team_abbr)
        SELECT h.game_date, sum(CASE WHEN h.games >= h.min_games THEN 1 ELSE 0 END),
               sum(CASE WHEN h.games >= h.min_games AND o.team_abbr IS NOT NULL THEN 1 ELSE 0 END), 'teams'
        FROM hist h LEFT JOIN {out} o ON o.analysis_date = h.game_date AND o.team_abbr = h.team_abbr
        GROUP BY h.game_date""")
