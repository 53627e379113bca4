from nbapipe.processors.base import Input, processor

PROCESSOR = processor(
    __name__,
    name="upcoming_player_game_context", phase=3,
    table="nba_analytics.upcoming_player_game_context", key=("game_date", "player_lookup"),
    description="Per player and game date, from games strictly before it: rest, recent load, "
                "recent scoring, opponent pace, teammates out (the inactive list), and the points and "
                "points+rebounds+assists lines",
    inputs=(
        Input("nba_reference.schedule"),
        Input("player_game_summary", when="lookback"),        # every earlier date of the season
        Input("team_offense_game_summary", when="lookback"),  # opponent pace
        Input("chain:points_lines", required=False),          # odds_api -> bettingpros
        Input("chain:pra_lines", required=False),             # points + rebounds + assists
        Input("chain:player_boxscores", required=False, when="lookback"),  # the roster of earlier games
    ),
    lookback="season",
    source_column="universe_source",
    # Every team playing that date is expected to have its players.
    expected_sql="""
        WITH want AS (
            SELECT d.game_date, 2 * count(DISTINCT s.game_id) AS expected
            FROM run_dates d JOIN nba_reference.schedule s ON s.game_date = d.game_date
            WHERE s.game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
            GROUP BY d.game_date),
        got AS (SELECT game_date, count(DISTINCT team_abbr) AS covered FROM {out} GROUP BY game_date)
        SELECT w.game_date, w.expected, coalesce(g.covered, 0), 'teams'
        FROM want w LEFT JOIN got g ON g.game_date = w.game_date""",
)
