from nbapipe.processors.base import Input, processor

PROCESSOR = processor(
    __name__,
    name="prediction_accuracy", phase=5,
    table="nba_predictions.prediction_accuracy", key=("game_date", "player_lookup", "system_id"),
    description="Every prediction graded against the day's box score: absolute and signed error, "
                "within 3/5 points, OVER/UNDER correct against the stored line, pushes, PASS and "
                "DNP voided",
    inputs=(
        Input("player_prop_predictions"),
        Input("player_game_summary"),       # the outcomes of the same date (after the fact)
    ),
    bootstrap_skip=True,                    # nothing is predicted there
    source_column=None,
    # Expected: every prediction of the date is graded (a DNP is graded as voided).
    expected_sql="""
        SELECT d.game_date, count(*),
               (SELECT count(*) FROM {out} o WHERE o.game_date = d.game_date), 'predictions'
        FROM run_dates d
        JOIN nba_predictions.player_prop_predictions p ON p.game_date = d.game_date
        GROUP BY d.game_date""",
)
