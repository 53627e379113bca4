from nbapipe.processors.base import Input, processor

PROCESSOR = processor(
    __name__,
    name="player_game_summary", phase=3,
    table="nba_analytics.player_game_summary", key=("game_date", "player_lookup"),
    description="One row per player listed in a box score (played or DNP): box score, usage, "
                "shooting efficiency, shot zones, points line and over/under result",
    inputs=(
        Input("chain:player_boxscores"),                           # gamebook -> nbac -> bdl
        Input("team_offense_game_summary"),                        # team totals for usage rate
        Input("nba_raw.nbac_shot_chart", required=False),
        Input("chain:points_lines", required=False),               # odds_api -> bettingpros
    ),
    # Expected: every scheduled game of the date has its players (a game no source has is
    # the gap partial reports).
    expected_sql="""
        WITH want AS (
            SELECT d.game_date, count(DISTINCT s.game_id) AS expected
            FROM run_dates d JOIN nba_reference.schedule s ON s.game_date = d.game_date
            WHERE s.game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
            GROUP BY d.game_date),
        got AS (SELECT game_date, count(DISTINCT game_id) AS covered FROM {out} GROUP BY game_date)
        SELECT w.game_date, w.expected, coalesce(g.covered, 0), 'games'
        FROM want w LEFT JOIN got g ON g.game_date = w.game_date""",
)
