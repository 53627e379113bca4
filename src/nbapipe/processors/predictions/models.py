"""Walk-forward gradient-boosting models: one per month, trained only on what was known before it.

The model for a date D has cutoff = the first day of D's month and is trained on feature-store
rows dated strictly before the cutoff (earlier seasons included), each labelled with the points
that player scored that (earlier) day. So no model ever saw D or anything later, and a month's
dates all use the same model (retrained monthly).

A model file is immutable and named by what made it: `<home>/models/<system>/<cutoff>_<fp>.joblib`
where fp hashes the training rows, the features and their version, the hyperparameters and the
library versions; the JSON sidecar beside it says the same in words (training window, row count,
features, versions, hyperparameters, residual spread). A rerun finds the same file and gives
identical predictions; changed history (a Phase 3/4 rerun of earlier dates) trains a new file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from nbapipe import cancel, config
from nbapipe.processors.precompute.ml_feature_store import FEATURES, FEATURE_VERSION
from nbapipe.warehouse import Warehouse

SYSTEM_ID = "gradient_boosting"
# Bump when the training code changes what a model is (part of every model's fingerprint).
TRAINING_CODE_VERSION = 1
# The line is not a model input: it exists on < 3% of feature rows and on none before most
# cutoffs, so a model cannot learn from it; and the model's own number is what is compared
# with the line to make a pick.
MODEL_FEATURES = tuple(f for f in FEATURES if f not in ("vegas_points_line", "has_vegas_line"))
# Deterministic (no subsampling, no early-stopping split, fixed seed), small and fast: ~0.5 s
# per model on one core. NULL features go to the trees' learned missing-value branch.
HYPERPARAMETERS = {"loss": "squared_error", "learning_rate": 0.1, "max_iter": 100,
                   "max_leaf_nodes": 15, "min_samples_leaf": 50, "max_bins": 63,
                   "l2_regularization": 1.0, "early_stopping": False, "random_state": 0}


def cutoff_of(d: dt.date) -> dt.date:
    """The model a date uses: trained on rows strictly before the first day of its month."""
    return d.replace(day=1)


@dataclass
class Model:
    cutoff: dt.date
    estimator: object
    meta: dict
    path: Path | None

    @property
    def version(self) -> str:
        return f"{SYSTEM_ID}/{self.cutoff.isoformat()}_{self.meta['fingerprint'][:8]}"

    @property
    def residual_std(self) -> float:
        return float(self.meta["training_residual_std"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        with _one_thread():
            return np.maximum(self.estimator.predict(X), 0.0)


def feature_matrix(table: pa.Table) -> np.ndarray:
    """The model's features as a float matrix (NULL -> NaN), columns in MODEL_FEATURES order."""
    return np.column_stack([table.column(f).to_numpy(zero_copy_only=False).astype(np.float64)
                            for f in MODEL_FEATURES])


def feature_select() -> str:
    return ", ".join(f"CAST(f.{c} AS DOUBLE) AS {c}" for c in MODEL_FEATURES)


def training_rows(wh: Warehouse, cutoff: dt.date) -> pa.Table:
    """Labelled feature rows strictly before `cutoff`: the most recent MODEL_MAX_TRAINING_ROWS,
    in key order. The label is the points of that earlier game; DNP rows have none and are left
    out. Nothing dated on or after the cutoff is read."""
    sql = f"""
        SELECT * FROM (
            SELECT f.game_date, f.player_lookup, {feature_select()},
                   CAST(s.points AS DOUBLE) AS actual_points
            FROM nba_predictions.ml_feature_store f
            JOIN nba_analytics.player_game_summary s
              ON s.game_date = f.game_date AND s.player_lookup = f.player_lookup
            WHERE f.game_date < ? AND s.game_date < ?
              AND f.feature_version = ? AND s.points IS NOT NULL AND NOT s.is_dnp
            ORDER BY f.game_date DESC, f.player_lookup DESC
            LIMIT ?) t
        ORDER BY game_date, player_lookup"""
    return wh.con.sql(sql, params=[cutoff, cutoff, FEATURE_VERSION, config.MODEL_MAX_TRAINING_ROWS]).to_arrow_table()


def without_model(wh: Warehouse, cutoffs: list[dt.date]) -> dict[dt.date, dict]:
    """Why each cutoff has no model, in two set-based reads: the labelled rows per month and the
    expected feature-store dates (game dates outside the bootstrap window) that have no rows.
    `warmup` when every earlier expected date has its feature rows (the history is just short:
    the model's bootstrap), else the earlier dates the feature store lacks (a gap)."""
    if not cutoffs:
        return {}
    per_month = wh.con.sql(f"""
        SELECT date_trunc('month', f.game_date) AS m, count(*) FROM nba_predictions.ml_feature_store f
        JOIN nba_analytics.player_game_summary s ON s.game_date = f.game_date AND s.player_lookup = f.player_lookup
        WHERE f.feature_version = ? AND s.points IS NOT NULL AND NOT s.is_dnp GROUP BY 1 ORDER BY 1""",
        params=[FEATURE_VERSION]).fetchall()
    lacking = [r[0] for r in wh.con.sql("""
        SELECT g.game_date FROM nba_reference.game_dates g
        WHERE g.game_date < ? AND NOT g.is_bootstrap
          AND g.game_date NOT IN (SELECT DISTINCT game_date FROM nba_predictions.ml_feature_store)
        ORDER BY 1""", params=[max(cutoffs)]).fetchall()]
    first, total = None, 0
    for m, n in per_month:
        total += n
        if total >= config.MODEL_MIN_TRAINING_ROWS:
            first = (_as_date(m) + dt.timedelta(days=32)).replace(day=1)
            break
    out = {}
    for c in cutoffs:
        rows = sum(n for m, n in per_month if _as_date(m) < c)
        gaps = [d for d in lacking if d < c]
        why = f"{rows:,} labelled feature rows before {c}, a model needs {config.MODEL_MIN_TRAINING_ROWS:,}"
        if gaps:
            out[c] = {"status": "upstream_missing", "gaps": [d.isoformat() for d in gaps], "why": why}
        else:
            later = (f"the first trainable month is {first:%Y-%m}" if first else
                     f"no month is trainable yet ({total:,} labelled rows so far)")
            out[c] = {"status": "warmup", "gaps": [], "why": f"model warm-up: {why}; {later}"}
    return out


def _as_date(v) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def load_or_train(wh: Warehouse, cutoff: dt.date, models_dir: Path | None) -> Model | None:
    """The model for `cutoff`: the stored file when one was made from exactly these rows and
    settings, else a newly trained one (saved). None when there are too few labelled rows."""
    cancel.check()      # a stop request between models: loading and training are Python, not SQL
    table = training_rows(wh, cutoff)
    if table.num_rows < config.MODEL_MIN_TRAINING_ROWS:
        return None
    X, y = feature_matrix(table), table.column("actual_points").to_numpy()
    fp = _fingerprint(X, y)
    path = models_dir / SYSTEM_ID / f"{cutoff.isoformat()}_{fp[:16]}.joblib" if models_dir else None
    if path and path.exists() and path.with_suffix(".json").exists():
        import joblib
        meta = json.loads(path.with_suffix(".json").read_text())
        if meta.get("fingerprint") == fp:
            return Model(cutoff, joblib.load(path), meta, path)
    estimator = _fit(X, y)
    with _one_thread():
        residuals = y - estimator.predict(X)
    dates = table.column("game_date")
    meta = {
        "system_id": SYSTEM_ID, "cutoff": cutoff.isoformat(), "fingerprint": fp,
        "training_window": {"first_date": dates[0].as_py().isoformat(),
                            "last_date": dates[-1].as_py().isoformat(),
                            "rule": "feature rows with game_date < cutoff (most recent rows first, capped)"},
        "training_rows": int(table.num_rows), "max_training_rows": config.MODEL_MAX_TRAINING_ROWS,
        "features": list(MODEL_FEATURES), "feature_version": FEATURE_VERSION,
        "label": "nba_analytics.player_game_summary.points of the same (earlier) game",
        "hyperparameters": HYPERPARAMETERS, "training_code_version": TRAINING_CODE_VERSION,
        "libraries": _library_versions(),
        "training_residual_std": round(float(np.std(residuals)), 6),
        "training_mae": round(float(np.mean(np.abs(residuals))), 6),
    }
    if path:
        _save(estimator, meta, path)
    return Model(cutoff, estimator, meta, path)


def _fit(X: np.ndarray, y: np.ndarray):
    from sklearn.ensemble import HistGradientBoostingRegressor
    est = HistGradientBoostingRegressor(**HYPERPARAMETERS)
    with _one_thread():
        est.fit(X, y)
    return est


def _one_thread():
    # One OpenMP thread: on a busy 2-core machine more threads made training 10-20x slower
    # (spinning workers), and a fixed thread count keeps reruns bit-for-bit identical.
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1)


def _fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"features": MODEL_FEATURES, "feature_version": FEATURE_VERSION,
                         "hyperparameters": HYPERPARAMETERS, "code": TRAINING_CODE_VERSION,
                         "libraries": _library_versions()}, sort_keys=True).encode())
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def _library_versions() -> dict:
    import sklearn
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__}


def _save(estimator, meta: dict, path: Path) -> None:
    """Write the model, then its sidecar, each atomically (a killed run leaves no half file;
    a model without its sidecar is never loaded)."""
    import joblib
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, write in ((path, lambda f: joblib.dump(estimator, f)),
                          (path.with_suffix(".json"),
                           lambda f: f.write(json.dumps(meta, indent=2, sort_keys=True).encode()))):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
