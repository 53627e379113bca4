from nbapipe.processors.base import Input, processor

PROCESSOR = processor(
    __name__,
    name="team_offense_game_summary", phase=3,
    table="nba_analytics.team_offense_game_summary", key=("game_date", "team_abbr"),
    description="Team box score per game with possessions, offensive rating, pace, TS%, zones",
    inputs=(
        Input("chain:team_boxscores"),                      # team box -> game logs -> from players
        Input("nba_reference.schedule"),
        Input("nba_raw.nbac_shot_chart", required=False),   # zones where shot data exist
    ),
    # Both teams of every scheduled game are expected.
    expected_sql="""
        WITH want AS (
            SELECT d.game_date, 2 * count(DISTINCT s.game_id) AS expected
            FROM run_dates d JOIN nba_reference.schedule s ON s.game_date = d.game_date
            WHERE s.game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
            GROUP BY d.game_date),
        got AS (SELECT game_date, count(*) AS covered FROM {out} GROUP BY game_date)
        SELECT w.game_date, w.expected, coalesce(g.covered, 0), 'team-games'
        FROM want w LEFT JOIN got g ON g.game_date = w.game_date""",
)
