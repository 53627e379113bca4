"""player_prop_predictions: every prediction system's points for each player with a game that date.

Two systems, one table (system_id tells them apart):
  moving_average_baseline  weighted last 5 / last 10 / season averages with the composite
                           adjustments (moving_average_baseline.sql, pure SQL);
  gradient_boosting        a walk-forward scikit-learn model per month (models.py).
A prediction for D reads only D's feature-store row, the model for D and the line in that row.
The model for D was trained on rows strictly before the first day of D's month. A date whose
month has no trainable model gets no rows from any system and is `upstream_missing: model`, so
every predicted date carries both systems and they are compared on the same players. That is
`warmup` (expected, not missing) while the feature store holds every earlier date and they are
just too few to train on (a league's first weeks), `upstream_missing` when earlier dates lack
feature rows.
"""
from __future__ import annotations

import datetime as dt
from importlib import resources

import numpy as np
import pyarrow as pa

from nbapipe import config
from nbapipe.calendar import dates_text
from nbapipe.processors.base import Input, NotComputed, processor
from nbapipe.processors.predictions import models
from nbapipe.warehouse import Warehouse

SYSTEMS = ("moving_average_baseline", models.SYSTEM_ID)


def compute(wh: Warehouse, dates: list[dt.date], out_table: str, run_id: str) -> dict:
    """Create temp table `out_table` with the predictions of `dates`; return the dates that have
    no model as {date: NotComputed} (warmup, or upstream_missing naming `model` and the earlier
    feature-store dates lacking)."""
    model_dir = wh.path.parent / "models" if wh.path else None   # in-memory warehouse: not kept
    by_cutoff = _models_for(wh, dates, model_dir)
    why = models.without_model(wh, [c for c, m in by_cutoff.items() if m is None])
    missing = {d: _not_computed(d, why[models.cutoff_of(d)]) for d in dates if models.cutoff_of(d) in why}
    boosted = _predict_boosted(wh, by_cutoff)
    wh.con.register("_boosted_predictions", boosted)
    try:
        wh.execute("CREATE OR REPLACE TEMP TABLE raw_predictions AS "
                   f"SELECT * FROM ({_sql('moving_average_baseline')}) b "
                   "UNION ALL SELECT * FROM _boosted_predictions",
                   [config.BASELINE_REFERENCE_STD])
    finally:
        wh.con.unregister("_boosted_predictions")
    if missing:
        # No rows from any system on a date without a model (see the module docstring).
        wh.execute(f"DELETE FROM raw_predictions WHERE game_date IN ({', '.join('?' * len(missing))})",
                   list(missing))
    wh.execute(f"CREATE OR REPLACE TEMP TABLE {out_table} AS {_sql('player_prop_predictions')}",
               [_break_even(config.PREDICTION_DEFAULT_PRICE), _break_even(config.PREDICTION_DEFAULT_PRICE),
                config.PICK_MIN_PROBABILITY_MARGIN, config.PICK_MIN_PROBABILITY_MARGIN,
                config.PREDICTION_MIN_EDGE, config.PREDICTION_MIN_CONFIDENCE, run_id])
    return missing


def _break_even(american: float) -> float:
    return 100 / (american + 100) if american > 0 else -american / (-american + 100)


def _not_computed(d: dt.date, why: dict) -> NotComputed:
    if why["status"] == "warmup":
        return NotComputed("warmup", why["why"])
    return NotComputed("upstream_missing", f"missing model on {d}: {why['why']}; the feature store lacks "
                                           f"{dates_text(why['gaps'])} before it",
                       {"model": [d.isoformat()], "ml_feature_store": why["gaps"]})


def _models_for(wh: Warehouse, dates: list[dt.date], model_dir) -> dict[dt.date, models.Model | None]:
    """One model per month among `dates` (loaded when stored, trained when not)."""
    return models.models_for(wh, {models.cutoff_of(d) for d in dates}, model_dir)


def _predict_boosted(wh: Warehouse, by_cutoff: dict) -> pa.Table:
    """The gradient-boosting predictions of the run's dates: one vectorised pass per model over
    the feature rows of its month's dates."""
    rows = wh.con.sql(
        f"SELECT f.game_date, date_trunc('month', f.game_date) AS cutoff, f.player_lookup, "
        f"{models.feature_select()} FROM nba_predictions.ml_feature_store f "
        f"WHERE f.game_date IN (SELECT game_date FROM run_dates) "
        f"ORDER BY f.game_date, f.player_lookup").to_arrow_table()
    cutoffs = rows.column("cutoff").to_numpy(zero_copy_only=False)
    parts = []
    for cutoff, model in by_cutoff.items():
        if model is None:
            continue
        mask = cutoffs == np.datetime64(cutoff, "D")
        if not mask.any():
            continue
        sub = rows.filter(pa.array(mask))
        n = sub.num_rows
        X = models.feature_matrix(sub)
        median, scale = model.anchored(model.predict(X), models.anchors_of(sub)), model.scale(X)
        line = sub.column("vegas_points_line").to_numpy(zero_copy_only=False).astype(np.float64)
        q10, _, q90 = model.quantiles(median, scale)
        p_over = model.p_over(median, scale, line)
        # P(under) = P(points < L) = 1 - P(points > ceil(L) - 1): a whole-number line can push.
        p_under = 1.0 - model.p_over(median, scale, np.ceil(line) - 1.0)
        parts.append(pa.table({
            "game_date": sub.column("game_date"),
            "player_lookup": sub.column("player_lookup"),
            "system_id": pa.array(np.full(n, models.SYSTEM_ID), pa.string()),
            "predicted_points": pa.array(median, pa.float64()),
            "reference_std": pa.array(np.full(n, model.residual_std), pa.float64()),
            "model_version": pa.array(np.full(n, model.version), pa.string()),
            "q10": pa.array(q10, pa.float64()), "q90": pa.array(q90, pa.float64()),
            "p_over": pa.array(p_over, pa.float64(), from_pandas=True),
            "p_under": pa.array(p_under, pa.float64(), from_pandas=True),
            "line_shrink": pa.array(np.full(n, model.line_shrink), pa.float64()),
        }))
    if parts:
        return pa.concat_tables(parts)
    return pa.table({"game_date": pa.array([], pa.date32()), "player_lookup": pa.array([], pa.string()),
                     "system_id": pa.array([], pa.string()), "predicted_points": pa.array([], pa.float64()),
                     "reference_std": pa.array([], pa.float64()), "model_version": pa.array([], pa.string()),
                     **{c: pa.array([], pa.float64()) for c in ("q10", "q90", "p_over", "p_under", "line_shrink")}})


def _sql(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


PROCESSOR = processor(
    __name__,
    name="player_prop_predictions", phase=5,
    table="nba_predictions.player_prop_predictions", key=("game_date", "player_lookup", "system_id"),
    description="Per player with a game that date and per system (moving-average baseline, "
                "walk-forward gradient boosting): predicted points, confidence, and OVER/UNDER/PASS "
                "against the line where one exists",
    inputs=(
        Input("ml_feature_store"),
        # Training labels: points of games before each model's cutoff (never of the date).
        Input("player_game_summary", required=False, when="lookback"),
    ),
    # The season lookback puts the season's feature rows and labels before a date into its
    # input fingerprint, so rerunning earlier Phase 3/4 dates makes predictions stale.
    lookback="season",
    bootstrap_skip=True,            # the feature store writes nothing there
    source_column="system_id",
    compute=compute,
    code_files=("models.py", "moving_average_baseline.sql"),
    # Expected: the gradient-boosting system predicts every feature row; the baseline every
    # feature row with at least one scoring average (a player's first game has none).
    expected_sql="""
        SELECT d.game_date,
               sum(CASE WHEN f.points_avg_last_5 IS NOT NULL OR f.points_avg_last_10 IS NOT NULL
                             OR f.points_avg_season IS NOT NULL THEN 2 ELSE 1 END),
               (SELECT count(*) FROM {out} o WHERE o.game_date = d.game_date), 'predictions'
        FROM run_dates d
        JOIN nba_predictions.ml_feature_store f ON f.game_date = d.game_date
        GROUP BY d.game_date""",
)
