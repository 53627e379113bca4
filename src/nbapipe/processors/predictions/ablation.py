"""The walk-forward ablation behind the model's choices (`nbapipe evaluate --ablation`).

Each variant (a learner and a feature set) is trained the way `nbapipe predict` trains: one
model per month of the range, on the most recent MODEL_MAX_TRAINING_ROWS labelled feature rows
dated before the month's first day, and scored on that month's rows only. The rows scored are
the evaluation's (minutes > 0, at least one earlier game that season, a gradient_boosting
prediction), so every variant is compared with the last-10 average on the same player-games.
The model's variants are ensembles as the model is (its month's trees with the five months'
before it, models.ENSEMBLE_WEIGHTS), so the months before the range are trained too; the
earlier models' variants are one month's trees, as they were. Models are trained in memory
and not kept.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from nbapipe import config
from nbapipe.processors.precompute.ml_feature_store import (FEATURES_V1, FEATURES_V2_ADDED, FEATURES_V3_ADDED,
                                                            FEATURES_V4_ADDED)
from nbapipe.processors.predictions import models
from nbapipe.warehouse import Warehouse

V1 = tuple(f for f in FEATURES_V1 if f not in models.MARKET_FEATURES)
# v2's model: every v1 and v2 feature but the lines, and its three products.
V2 = V1 + tuple(FEATURES_V2_ADDED) + tuple(models.DERIVED_FEATURES)
GROUPS = {
    "minutes": ("minutes_avg_last_3", "minutes_avg_last_5", "minutes_avg_last_10", "minutes_avg_season",
                "minutes_trend", "starts_last_5", "minutes_share_last_10"),
    "scoring": ("points_avg_last_3", "usage_rate_last_10", "fga_avg_last_5", "fta_avg_last_5",
                "points_per_minute_last_10", "points_per_minute_season", "games_played_season"),
    "availability (inactive list)": ("teammates_out", "teammates_out_points", "teammates_out_minutes",
                                     "teammates_out_starts", "teammates_newly_out_points",
                                     "teammates_returning_points", "opponents_out_points",
                                     "returning_from_inactive", "days_since_last_game", "games_since_joining"),
    "role tonight": ("minutes_rank_tonight", "start_rank_tonight", "available_minutes_tonight",
                     "expected_minutes_tonight"),
    "recency": ("points_ewm_5", "minutes_ewm_5", "points_last_game", "minutes_last_game", "started_last_game"),
    "opponent_schedule": ("third_in_four_nights", "opp_role_points_allowed", "opp_points_allowed"),
    "game_lines": ("team_spread", "game_total_line"),
    "previous_season": ("prev_season_points_avg", "prev_season_minutes_avg", "prev_season_games"),
    "derived": tuple(models.DERIVED_FEATURES),
    "last 40 games, any season": FEATURES_V4_ADDED,
}
# Every v2/v3 feature the model reads is in one group (the rest are v1's, the lines, or unused).
assert set(sum(GROUPS.values(), ())) == (set(FEATURES_V2_ADDED + FEATURES_V3_ADDED + FEATURES_V4_ADDED
                                              + tuple(models.DERIVED_FEATURES))
                                          - set(models.MARKET_FEATURES + models.UNUSED_FEATURES))
ALL = models.MODEL_FEATURES
# What the variants read: every stored feature but the lines, and the products.
STORED = tuple(f for f in FEATURES_V1 + FEATURES_V2_ADDED + FEATURES_V3_ADDED + FEATURES_V4_ADDED
               if f not in models.MARKET_FEATURES)
COLUMNS = STORED + tuple(models.DERIVED_FEATURES)
MEAN = {**models.HYPERPARAMETERS, "loss": "squared_error"}
V2_HYPERPARAMETERS = {"loss": "absolute_error", "learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 15,
                      "min_samples_leaf": 50, "max_bins": 63, "l2_regularization": 1.0,
                      "early_stopping": False, "random_state": 0}


def variants() -> list[tuple[str, dict, tuple[str, ...], bool]]:
    """(name, hyperparameters, features, ensemble): the v1 model as it was, v1 with the median
    loss, the v2 model, the chosen model's features with v2's learner and with the squared
    error, one month's trees (the model before the ensemble), the chosen model, and the chosen
    model without each feature group. The market blend comes on top of the chosen model (the
    evaluation's gradient_boosting rows)."""
    out = [("v1 features, squared error (the Phase 5 model before v2)", {**V2_HYPERPARAMETERS, "loss": "squared_error"}, V1, False),
           ("v1 features, absolute error (median)", V2_HYPERPARAMETERS, V1, False),
           ("v2 features and learner", V2_HYPERPARAMETERS, V2, False),
           ("v4 features, v2 learner (100 trees, every feature)", V2_HYPERPARAMETERS, ALL, False),
           ("v4 features, squared error", MEAN, ALL, False),
           ("v4, one month's trees (the model before the ensemble)", models.HYPERPARAMETERS, ALL, False),
           (f"v4, {len(models.ENSEMBLE_WEIGHTS)} months' trees = the model (before the market blend)", models.HYPERPARAMETERS, ALL, True)]
    for g, cols in GROUPS.items():
        out.append((f"  without {g}", models.HYPERPARAMETERS, tuple(f for f in ALL if f not in cols), True))
    return out


def load_ablation(wh: Warehouse) -> dict | None:
    """Everything the ablation reads, so the warehouse is released before the training: the
    scored rows of the staged evaluation (_eval_rows) and each month's training rows."""
    scored = wh.con.sql(f"""
        SELECT f.game_date, f.player_lookup, {models.feature_select(STORED)}, e.actual, e.last_10
        FROM _eval_rows e JOIN nba_predictions.ml_feature_store f
          ON f.game_date = e.game_date AND f.player_lookup = e.player_lookup
        WHERE e.system_id = '{models.SYSTEM_ID}' ORDER BY f.game_date, f.player_lookup""").to_arrow_table()
    if scored.num_rows == 0:
        return None
    dates = scored.column("game_date").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    cutoffs = sorted({models.cutoff_of(d.astype(dt.date)) for d in dates})
    train, chains = {}, {}
    for c in cutoffs:       # each month's ensemble: its cutoff, then the calibration chain's
        chain = chains[c] = []
        while c is not None and len(chain) < len(models.ENSEMBLE_WEIGHTS):
            if c not in train:
                train[c] = models.training_rows(wh, c, STORED)
            if train[c].num_rows < config.MODEL_MIN_TRAINING_ROWS:
                break
            chain.append(c)
            c = models.cutoff_of(train[c].column("game_date")[-1].as_py())
    return {"scored": scored, "dates": dates, "cutoffs": cutoffs, "train": train, "chains": chains}


def run_ablation(data: dict | None) -> list[dict]:
    """The ablation table: every variant trained per month and scored on the same rows."""
    if data is None:
        return []
    scored, dates, cutoffs, train, chains = (data[k] for k in ("scored", "dates", "cutoffs", "train", "chains"))
    cols = list(COLUMNS)
    Xs, ys = models.feature_matrix(scored, COLUMNS), scored.column("actual").to_numpy()
    last_10 = scored.column("last_10").to_numpy()
    results = []
    for name, hp, feats, ensemble in variants():
        idx = [cols.index(f) for f in feats]
        pred = np.full(len(ys), np.nan)
        fitted = {}
        for c in cutoffs:
            members = chains[c] if ensemble else chains[c][:1]
            if not members:
                continue
            for m in members:
                if m not in fitted:
                    t = train[m]
                    seed = {"random_state": models.seed_of(m)} if ensemble else {}
                    fitted[m] = _fit(models.feature_matrix(t, COLUMNS)[:, idx],
                                     t.column("actual_points").to_numpy(), {**hp, **seed})
            weights = models.ensemble_weights(len(members))
            month = (dates >= np.datetime64(c, "D")) & (dates < np.datetime64(_next_month(c), "D"))
            with models._threads():
                pred[month] = np.maximum(sum(w * fitted[m].predict(Xs[month][:, idx])
                                             for w, m in zip(weights, members)), 0.0)
        ok = ~np.isnan(pred)
        mae = float(np.mean(np.abs(pred[ok] - ys[ok])))
        l10 = float(np.mean(np.abs(last_10[ok] - ys[ok])))
        results.append({"variant": name, "loss": hp["loss"], "features": len(feats), "rows": int(ok.sum()),
                        "mae": round(mae, 4), "last_10_mae": round(l10, 4), "mae_vs_last_10": round(mae / l10, 4)})
    return results


def _fit(X, y, hp):
    from sklearn.ensemble import HistGradientBoostingRegressor
    empty = np.isnan(X).all(axis=0)
    if empty.any():
        X = X.copy()
        X[:, empty] = 0.0
    with models._threads():
        return HistGradientBoostingRegressor(**hp).fit(X, y)


def _next_month(d: dt.date) -> dt.date:
    return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
