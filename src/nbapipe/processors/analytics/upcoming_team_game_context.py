from nbapipe.processors.base import Input, processor

PROCESSOR = processor(
    __name__,
    name="upcoming_team_game_context", phase=3,
    table="nba_analytics.upcoming_team_game_context", key=("game_date", "team_abbr"),
    description="Per team and game date: rest, back-to-back, schedule density, streak, lines",
    inputs=(
        Input("nba_reference.schedule"),                        # the game and every earlier result
        Input("nba_raw.odds_api_game_lines", required=False),   # spread/total where lines exist
    ),
    lookback="season",
    source_column=None,
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
