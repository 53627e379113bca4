"""Walk-forward gradient-boosting models: one per month, trained only on what was known before it.

The model for a date D has cutoff = the first day of D's month and is trained on feature-store
rows dated strictly before the cutoff (earlier seasons included), each labelled with the points
that player scored that (earlier) day. So no model ever saw D or anything later, and a month's
dates all use the same model (retrained monthly).

A model file is immutable and named by what made it: `<home>/models/<system>/<cutoff>_<fp>.pkl`
where fp hashes the training rows, the features and their version, the hyperparameters and the
library versions; the JSON sidecar beside it says the same in words (training window, row count,
features, versions, hyperparameters, residual spread). A rerun finds the same file and gives
identical predictions; changed history (a Phase 3/4 rerun of earlier dates) trains a new file.

What a model predicts (TRAINING_CODE_VERSION 4, feature version v4): a distribution, not a number.
  median  HistGradientBoosting trees with absolute-error loss: the median points (what MAE
          rewards; points are right-skewed, so the median is below the mean). The month's own
          trees are averaged with the trees of the five models before it (ENSEMBLE_WEIGHTS): each
          was trained on fewer rows, but their errors differ from the new trees', and the
          average misses less than any one of them (see ENSEMBLE_WEIGHTS). It costs no training:
          those trees exist already, and the model file carries a copy of them;
  scale   a small second model of the median's absolute error (its typical miss for this row);
  calibration  the empirical distribution of z = (points - median) / scale measured OUT OF
          SAMPLE: the previous month's model on the previous month's rows (all dated before the
          cutoff). P(points > line) = 1 - F((line - median) / scale), with F that distribution,
          so probabilities are calibrated on earlier months only (quantile recalibration); the
          first model, which has no earlier month, uses its own training residuals and says so.
  market  where the market has a view of the player's points (a points line; else the
          points implied by his points + rebounds + assists line), the median is pulled toward
          it: (1 - w) x median + w x market, w per market fitted on earlier months' rows only
          (see _market_weights). Most rows have no line: for them the model stands alone.
  line_shrink  k in 0..1: on a lined row P(over) = the books' P + k (model P - books' P), k
          fitted on earlier lined rows only (see _line_shrink).
The 10% / 50% / 90% quantiles are median + scale x F^-1(0.1 / 0.5 / 0.9).
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

# Read by OpenMP when scikit-learn's compiled modules first load (imported lazily below).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nbapipe import cancel, config
from nbapipe.processors.precompute.ml_feature_store import FEATURES, FEATURE_VERSION
from nbapipe.processors.predictions import trees as flat
from nbapipe.warehouse import Warehouse

SYSTEM_ID = "gradient_boosting"
# Bump when the training code changes what a model is (part of every model's fingerprint).
TRAINING_CODE_VERSION = 4
# Market lines are not tree inputs: they exist on a few % of feature rows and on none before most
# cutoffs, so trees cannot learn from them. They anchor the median instead (ANCHORS).
MARKET_FEATURES = ("vegas_points_line", "has_vegas_line", "pra_line", "pra_implied_points")
# Stored but not read by the trees: v1's composite scores and the recent-game load, and v2's
# absent-teammate sums (v3's teammates_out_* from the inactive list say it better). The
# walk-forward ablation measured no loss without them, and fewer columns train faster.
UNUSED_FEATURES = ("fatigue_score", "shot_zone_mismatch_score", "pace_score", "usage_spike_score",
                   "rest_advantage", "recent_trend", "minutes_change", "games_in_last_7_days",
                   "absent_teammate_points", "absent_teammate_minutes", "absent_teammates",
                   "team_games_missed_last_5")
STORED_FEATURES = tuple(f for f in FEATURES if f not in MARKET_FEATURES + UNUSED_FEATURES)
# The market's view of a player's points, in order of preference: a row blends with the first
# it has (the points line itself; else what his points + rebounds + assists line implies).
ANCHORS = ("vegas_points_line", "pra_implied_points")
# Products the trees approximate poorly with few leaves: expected points = rate x minutes.
DERIVED_FEATURES = {
    "expected_points_recent": ("points_per_minute_last_10", "minutes_avg_last_3"),
    "expected_points_season": ("points_per_minute_season", "minutes_avg_last_5"),
    "usage_minutes": ("usage_rate_last_10", "minutes_avg_last_5"),
}
MODEL_FEATURES = STORED_FEATURES + tuple(DERIVED_FEATURES)
# Deterministic (no row subsampling, no early-stopping split, fixed seed: the features each
# split considers are drawn from random_state). NULL features go to the trees' learned
# missing-value branch. Absolute-error loss: the walk-forward ablation (`nbapipe evaluate
# --ablation`) measured the median better than the mean (squared error) on 2023-24. Trees that
# each consider half the features (max_features) beat v2's 100 trees at the same cost per tree.
# 60 trees of 31 leaves at learning rate 0.15: chosen on the 2022-23 regular season only
# (walk-forward, the three-month ensemble, mean of three seeds): the same MAE as v4's 120 trees
# of 15 leaves at 0.12 (ratio to the last-10 average 0.95010 against 0.95012) for 25-30% less
# fitting (2.1 s against 3.0 s on 60k rows: a fit's cost is mostly per tree, and half as many
# trees of twice the leaves cost less). 60 trees at 0.12 gave 0.95033, 80 of 23 leaves 0.95044,
# 40 at 0.22 averaged over two seeds 0.95034, each seed on half the rows 0.95146.
HYPERPARAMETERS = {"loss": "absolute_error", "learning_rate": 0.15, "max_iter": 60,
                   "max_leaf_nodes": 31, "min_samples_leaf": 50, "max_bins": 63, "max_features": 0.5,
                   "l2_regularization": 1.0, "early_stopping": False, "random_state": 0}
# The median of a month's model: its own trees and those of the models of the five months before
# it (the calibration chain: the month of its last training row, that model's, and so on, across
# the summer too), weighted newest first; the first models, with fewer before them, renormalise
# over what exists. Each model's trees draw their features from their own seed (seed_of: the
# cutoff), so the members also differ where their rows agree. Chosen on the 2022-23 regular
# season only (walk-forward, the mean of three seeds). With v4's 120 trees of 15 leaves: one
# month 0.9520 of the last-10 MAE, two 0.9511, three 0.5/0.3/0.2 0.9501, four 0.9511. With the
# 60 trees of 31 leaves (more variance per set, so averaging gains more): one month 0.95237,
# three 0.5/0.3/0.2 0.95010, four 0.45/0.3/0.15/0.1 0.94992, five 0.94982, six as below 0.94976
# (each seed better by 0.0003-0.0004 than with three). Older months cost no training (their
# trees exist) but a prediction walks every set: a day's model predicts with 6 x 60 trees.
# Averaging two seeds of the same month's rows gained 0.0007 but costs 40% more training
# (78 s for a full-history backfill against the 60 s budget on this slower machine).
ENSEMBLE_WEIGHTS = (0.4, 0.25, 0.15, 0.1, 0.05, 0.05)
# The scale model: few trees, fitted on every second training row (its target, an absolute
# error, is noisy: more trees bought nothing), to keep training within budget.
SCALE_HYPERPARAMETERS = {"loss": "absolute_error", "learning_rate": 0.1, "max_iter": 30,
                         "max_leaf_nodes": 15, "min_samples_leaf": 50, "max_bins": 63,
                         "l2_regularization": 1.0, "early_stopping": False, "random_state": 0}
# Levels of the stored z distribution (F^-1 at 0.5%, 1%, ..., 99.5%).
Z_LEVELS = np.linspace(0.005, 0.995, 199)


def cutoff_of(d: dt.date) -> dt.date:
    """The model a date uses: trained on rows strictly before the first day of its month."""
    return d.replace(day=1)


@dataclass
class Model:
    cutoff: dt.date
    estimator: dict | None      # the scikit-learn estimators; None until needed (loaded from path)
    meta: dict
    path: Path | None
    trees: dict | None = None   # the same trees as flat arrays, to predict a day without scikit-learn

    def fitted(self) -> dict:
        """The estimators, loaded from the model file the first time they are needed."""
        if self.estimator is None:
            import pickle
            with open(self.path, "rb") as f:
                self.estimator = pickle.load(f)
        return self.estimator

    def _flat(self, X: np.ndarray) -> bool:
        # The flat arrays for few rows while the estimators are not loaded (a new process never
        # imports scikit-learn); loaded estimators predict faster (compiled), with the same numbers.
        return self.estimator is None and self.trees is not None and len(X) <= flat.FLAT_MAX_ROWS

    @property
    def weights(self) -> list[float]:
        return [m["weight"] for m in self.meta["ensemble"]]

    @property
    def version(self) -> str:
        return f"{SYSTEM_ID}/{self.cutoff.isoformat()}_{self.meta['fingerprint'][:8]}"

    @property
    def residual_std(self) -> float:
        return float(self.meta["training_residual_std"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The trees' median points (before the market blend): the ensemble's weighted mean."""
        if self._flat(X):       # (the same numbers as the estimators': trees.py)
            return np.maximum(sum(w * m.predict(X) for w, m in zip(self.weights, self.trees["median"])), 0.0)
        with _threads():
            return np.maximum(sum(w * m.predict(X) for w, m in zip(self.weights, self.fitted()["median"])), 0.0)

    def anchored(self, median: np.ndarray, anchors: dict[str, np.ndarray]) -> np.ndarray:
        """The median blended with the market where a row has a view of it (see blend)."""
        return blend(median, anchors, self.meta["calibration"].get("market_weights", {}))

    def scale(self, X: np.ndarray) -> np.ndarray:
        if self._flat(X):
            return np.maximum(self.trees["scale"][0].predict(X), MIN_SCALE)
        with _threads():
            return np.maximum(self.fitted()["scale"].predict(X), MIN_SCALE)

    def p_over(self, median: np.ndarray, scale: np.ndarray, line: np.ndarray) -> np.ndarray:
        """P(points > line) per row (NaN where the line is): points are whole numbers, so
        'more than L' is 'at least floor(L) + 1', read at floor(L) + 0.5."""
        return p_over(median, scale, line, np.asarray(self.meta["calibration"]["z_quantiles"]))

    @property
    def line_shrink(self) -> float:
        return float(self.meta["calibration"]["line_shrink"])

    def quantiles(self, median: np.ndarray, scale: np.ndarray, levels=(0.1, 0.5, 0.9)) -> list[np.ndarray]:
        zq = np.asarray(self.meta["calibration"]["z_quantiles"])
        return [np.maximum(median + scale * np.interp(q, Z_LEVELS, zq), 0.0) for q in levels]


# A scale below half a point would make one point of difference look like certainty.
MIN_SCALE = 0.5


def p_over(median: np.ndarray, scale: np.ndarray, line: np.ndarray, z_quantiles: np.ndarray) -> np.ndarray:
    t = np.floor(line) + 0.5
    z = (t - median) / scale
    # F between the stored levels by linear interpolation, flat beyond them (0.5% tails).
    cdf = np.interp(z, z_quantiles, Z_LEVELS, left=0.0025, right=0.9975)
    return np.where(np.isnan(line), np.nan, 1.0 - cdf)


def blend(median: np.ndarray, anchors: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """(1 - w) x median + w x anchor with each row's first anchor (ANCHORS order) and its weight;
    rows without one keep the median."""
    out, taken = median.copy(), np.zeros(len(median), dtype=bool)
    for a in ANCHORS:
        use = ~taken & ~np.isnan(anchors[a])
        w = float(weights.get(a, 0.0))
        out[use] = (1.0 - w) * median[use] + w * anchors[a][use]
        taken |= use
    return out


def anchors_of(table: pa.Table) -> dict[str, np.ndarray]:
    """The market columns of a feature table (NULL -> NaN)."""
    return {a: table.column(a).to_numpy(zero_copy_only=False).astype(np.float64) for a in ANCHORS}


def feature_matrix(table: pa.Table, features: tuple[str, ...] = MODEL_FEATURES) -> np.ndarray:
    """Features as a float matrix (NULL -> NaN), columns in `features` order (the model's by
    default; a derived one is the product of its two stored columns)."""
    def column(f: str) -> np.ndarray:
        if f in DERIVED_FEATURES:
            a, b = DERIVED_FEATURES[f]
            return column(a) * column(b)
        return table.column(f).to_numpy(zero_copy_only=False).astype(np.float64)
    return np.column_stack([column(f) for f in features])


def feature_select(stored: tuple[str, ...] = STORED_FEATURES) -> str:
    """The stored features (the model's by default) and the market anchors of feature-store rows `f`."""
    return ", ".join(f"CAST(f.{c} AS DOUBLE) AS {c}" for c in stored + ANCHORS)


# Labelled feature rows: each feature row with the points the player scored that day (DNP rows
# have none and are left out), dated strictly before the parameter given twice.
_LABELLED = """
    FROM nba_predictions.ml_feature_store f
    JOIN nba_analytics.player_game_summary s
      ON s.game_date = f.game_date AND s.player_lookup = f.player_lookup
    WHERE f.game_date < ? AND s.game_date < ?
      AND f.feature_version = ? AND s.points IS NOT NULL AND NOT s.is_dnp"""


def training_rows(wh: Warehouse, cutoff: dt.date, stored: tuple[str, ...] = STORED_FEATURES,
                  limit: int | None = None) -> pa.Table:
    """Labelled feature rows strictly before `cutoff`: the most recent `limit` (default
    MODEL_MAX_TRAINING_ROWS), in key order. The label is the points of that earlier game.
    Nothing dated on or after the cutoff is read."""
    sql = f"""
        SELECT * FROM (
            SELECT f.game_date, f.player_lookup, {feature_select(stored)},
                   CAST(s.points AS DOUBLE) AS actual_points
            {_LABELLED}
            ORDER BY f.game_date DESC, f.player_lookup DESC
            LIMIT ?) t
        ORDER BY game_date, player_lookup"""
    limit = config.MODEL_MAX_TRAINING_ROWS if limit is None else limit
    return wh.con.sql(sql, params=[cutoff, cutoff, FEATURE_VERSION, limit]).to_arrow_table()


class _Rows:
    """The training rows of every cutoff of a run spanning months, read once: those before the
    last cutoff, back to MODEL_MAX_TRAINING_ROWS before the first. A cutoff's training rows are
    then a slice (its last MODEL_MAX_TRAINING_ROWS), the same rows in the same order as
    training_rows reads. One read instead of one a month: a full-history backfill read and
    converted 27 x 60k rows (8 s before its first fit could start)."""

    def __init__(self, wh: Warehouse, first: dt.date, last: dt.date):
        between = wh.tuples(f"SELECT count(*) {_LABELLED} AND f.game_date >= ?",
                            [last, last, FEATURE_VERSION, first])[0][0]
        self.limit = config.MODEL_MAX_TRAINING_ROWS + between
        self.table = training_rows(wh, last, limit=self.limit)
        self.X, self.y = feature_matrix(self.table), self.table.column("actual_points").to_numpy()
        self.dates = self.table.column("game_date").to_numpy(zero_copy_only=False).astype("datetime64[D]")

    def before(self, cutoff: dt.date) -> tuple[pa.Table, np.ndarray, np.ndarray] | None:
        """The cutoff's training rows (table, features, labels); None when some of them are older
        than what was read (a cutoff before the first: the calibration chain's)."""
        end = int(np.searchsorted(self.dates, np.datetime64(cutoff, "D"), side="left"))
        start = end - config.MODEL_MAX_TRAINING_ROWS
        if start < 0 and self.table.num_rows >= self.limit:
            return None
        start = max(start, 0)
        return self.table.slice(start, end - start), self.X[start:end], self.y[start:end]


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


@dataclass
class _Training:
    """A cutoff's labelled rows as the model sees them, and the file they fingerprint to."""
    table: pa.Table
    X: np.ndarray
    y: np.ndarray
    fp: str
    path: Path | None

    @property
    def prev_cutoff(self) -> dt.date:
        """The cutoff of the month of the last training row: the model this one is calibrated on."""
        return cutoff_of(self.table.column("game_date")[-1].as_py())


def models_for(wh: Warehouse, cutoffs, models_dir: Path | None) -> dict[dt.date, Model | None]:
    """The model of each cutoff (None: too few labelled rows): the stored file when one was made
    from exactly these rows and settings, else a newly trained one (saved), calibrated on the
    previous month's model. The fits a run needs are planned first and, when there are two or
    more, run side by side in MODEL_PROCESSES processes, each from when its rows are read;
    calibration then goes month by month."""
    run = _ModelRun(wh, models_dir, cutoffs)
    try:
        for c in sorted(cutoffs):
            run.plan(c)
        return {c: run.model(c) for c in sorted(cutoffs)}
    finally:
        run.close()


class _ModelRun:
    """One run's models, by cutoff (a processor run: every month it predicts, and the earlier
    months their calibration needs when those have no stored file)."""

    def __init__(self, wh: Warehouse, models_dir: Path | None, cutoffs):
        self.wh, self.models_dir = wh, models_dir
        self.span = (min(cutoffs), max(cutoffs)) if cutoffs else None
        self.months = len(set(cutoffs))
        self.rows: _Rows | None = None      # read at the first model that needs its rows
        self.trainings: dict[dt.date, _Training | None] = {}
        self.signatures: dict[dt.date, str | None] = {}
        self.models: dict[dt.date, Model | None] = {}
        self.to_fit: list[dt.date] = []
        self.fits: dict = {}        # the fits submitted to the pool and not yet taken
        self.fitted: set[dt.date] = set()
        self.pool = None

    def plan(self, cutoff: dt.date) -> None:
        """Read the cutoff's training rows; a model without a stored file is to be fitted, and so
        is, the same way, the earlier model its calibration needs."""
        cancel.check()      # between models: reading rows is SQL, the rest Python
        if cutoff in self.trainings or cutoff in self.models:
            return
        sig = self.signatures[cutoff] = _rows_signature(self.wh, cutoff)
        kept = _SIGNED.get((self.wh.path, cutoff))
        if sig and kept and kept[0] == sig and kept[1] in _LOADED and kept[1].exists():
            self.models[cutoff] = _remember(_LOADED[kept[1]])
            return
        indexed = _indexed(self.models_dir, cutoff, sig)
        if indexed is not None:
            self.models[cutoff] = self._signed(cutoff, _remember(indexed))
            return
        t = self.trainings[cutoff] = _training(cutoff, self._rows(cutoff), self.models_dir)
        if t is None:
            return
        stored = _stored(cutoff, t)
        if stored is not None:
            self.models[cutoff] = self._signed(cutoff, stored)
            return
        self.to_fit.append(cutoff)
        self._start_fits()
        self.plan(t.prev_cutoff)

    def _rows(self, cutoff: dt.date) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        """The cutoff's training rows: a slice of the span's when the run spans months (_Rows),
        else (one month, or a cutoff before the span) read for it alone."""
        if self.rows is None and self.span and self.span[0] < self.span[1]:
            self.rows = _Rows(self.wh, *self.span)
        rows = self.rows.before(cutoff) if self.rows is not None else None
        if rows is None:
            table = training_rows(self.wh, cutoff)
            rows = (table, feature_matrix(table), table.column("actual_points").to_numpy())
        return rows

    def _signed(self, cutoff: dt.date, model: Model) -> Model:
        if self.signatures.get(cutoff) and model.path:
            _SIGNED[(self.wh.path, cutoff)] = (self.signatures[cutoff], model.path)
            _index(self.models_dir, cutoff, self.signatures[cutoff], model.path)
        return model

    def _start_fits(self) -> None:
        """From the second fit on, each goes to a process of the pool as soon as its rows are
        read (the first with the second), so the fits run while later months are still read
        (a full-history backfill's first 2 s). A run with one fit fits it here in its turn."""
        if len(self.to_fit) < 2 or config.MODEL_PROCESSES < 2:
            return
        if self.pool is None:
            # joblib's loky processes (joblib comes with scikit-learn): started fresh (exec), not
            # forked, so no DuckDB or OpenMP thread state is inherited; unlike multiprocessing's
            # spawn they do not rerun the caller's __main__ script (a script without a main guard
            # works). The workers ignore SIGINT: a Ctrl-C reaches the whole process group, and
            # the parent stops them.
            from joblib.externals.loky.process_executor import ProcessPoolExecutor
            self.pool = ProcessPoolExecutor(min(config.MODEL_PROCESSES, self.months + 2),
                                            initializer=_ignore_sigint)
        for c in self.to_fit:
            if c not in self.fits and c not in self.fitted:
                t = self.trainings[c]
                self.fits[c] = self.pool.submit(_fit, t.X, t.y, seed_of(c))

    def model(self, cutoff: dt.date) -> Model | None:
        cancel.check()
        if cutoff in self.models:
            return self.models[cutoff]
        self.plan(cutoff)
        if cutoff in self.models:
            return self.models[cutoff]
        t = self.trainings[cutoff]
        if t is None:
            self.models[cutoff] = None
            return None
        estimator, residuals = self._fitted(cutoff, t)
        prev = self.model(t.prev_cutoff)
        ensemble = _ensemble(cutoff, prev, estimator)
        calibration = _calibration(cutoff, prev, t, estimator)
        meta = _meta(cutoff, t, residuals, calibration, ensemble)
        trees = {"median": [flat.Trees.of(m) for m in estimator["median"]], "scale": [flat.Trees.of(estimator["scale"])]}
        if t.path:
            _save(estimator, trees, meta, t.path)
        self.models[cutoff] = self._signed(cutoff, _remember(Model(cutoff, estimator, meta, t.path, trees)))
        return self.models[cutoff]

    def _fitted(self, cutoff: dt.date, t: _Training):
        self.fitted.add(cutoff)
        future = self.fits.pop(cutoff, None)
        if future is None:
            return _fit(t.X, t.y, seed_of(cutoff))
        from concurrent.futures import TimeoutError as Pending      # (loky's futures are these)
        while True:         # a stop request is obeyed within a fraction of a second
            cancel.check()
            try:
                return future.result(timeout=0.2)
            except Pending:
                continue

    def close(self) -> None:
        """Stop the pool. After an error or a stop request the fits still running are not
        waited for: their processes are killed."""
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.shutdown(wait=True, kill_workers=bool(self.fits))


def _ignore_sigint() -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# What a process knows of the rows behind each model it loaded or trained, by (warehouse file,
# cutoff): the rows' signature and the model's file. A long-lived process (`serve`, `replay`)
# then finds each morning's model from the signature (~15 ms) instead of reading its 60k training
# rows and hashing them (~0.1 s a morning).
_SIGNED: dict[tuple[Path, dt.date], tuple[str, Path]] = {}


# The same across processes, on disk: `<models>/signed/<system>/<cutoff>.json` names the model
# file last made or found for the cutoff, with a hash of the rows' signature, the settings and
# the row cap. A new process (`nbapipe predict --dates D`) then finds the day's model without
# reading and hashing its 60k training rows (0.45 s of a 1.5 s day on a slow machine).
def _index_key(signature: str) -> str:
    return hashlib.sha256(f"{signature}|{config.MODEL_MAX_TRAINING_ROWS}|{_settings()}".encode()).hexdigest()


def _index(models_dir: Path | None, cutoff: dt.date, signature: str, path: Path) -> None:
    if models_dir is None:
        return
    entry = json.dumps({"key": _index_key(signature), "model": path.name})
    target = models_dir / "signed" / SYSTEM_ID / f"{cutoff.isoformat()}.json"
    try:
        if target.exists() and target.read_text() == entry:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(entry)
            os.replace(tmp, target)     # (atomic: a reader sees the old entry or the new one)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:     # (an index not written costs the next process a read of the rows, nothing more)
        pass


def _indexed(models_dir: Path | None, cutoff: dt.date, signature: str | None) -> Model | None:
    """The model the on-disk index names for these rows and settings, if its files are whole."""
    if models_dir is None or not signature:
        return None
    entry = models_dir / "signed" / SYSTEM_ID / f"{cutoff.isoformat()}.json"
    try:
        said = json.loads(entry.read_text())
    except (OSError, ValueError):
        return None
    if said.get("key") != _index_key(signature):
        return None
    return _load(cutoff, models_dir / SYSTEM_ID / said.get("model", ""))


def _rows_signature(wh: Warehouse, cutoff: dt.date) -> str | None:
    """What changes whenever a training row of `cutoff` can: every row of the two tables the
    rows come from dated before it, by key and by the run that wrote it (a slice is only ever
    rewritten whole, by a run with a new id). Rows of other versions or outside the row cap
    count too: a change there costs a rehash, never a stale model. None: not kept (a
    warehouse without a file, or tables without run ids)."""
    tables = ("nba_predictions.ml_feature_store", "nba_analytics.player_game_summary")
    if wh.path is None or not all("run_id" in wh.columns(t) for t in tables):
        return None
    # One hash per row of its whole text, summed: DuckDB's hash of several values combines
    # their hashes, so a bit_xor over rows cancelled a run id shared by an even number of rows.
    # The label (points) is in it too: the index on disk outlives a process, and a label edited
    # in place (by hand, with the run id kept) must not find the model trained on the old one.
    row = "sum(hash(concat_ws('|', game_date, player_lookup, run_id{}))::HUGEINT)"
    parts = wh.tuples(f"""
            SELECT (SELECT count(*) || ':' || {row.format('')} FROM nba_predictions.ml_feature_store WHERE game_date < ?),
                   (SELECT count(*) || ':' || {row.format(', points')} FROM nba_analytics.player_game_summary
                    WHERE game_date < ?)""", [cutoff, cutoff])[0]
    return "/".join(map(str, parts))


def _training(cutoff: dt.date, rows: tuple[pa.Table, np.ndarray, np.ndarray],
              models_dir: Path | None) -> _Training | None:
    """The cutoff's training rows, features and fingerprint; None below the minimum row count."""
    table, X, y = rows
    if table.num_rows < config.MODEL_MIN_TRAINING_ROWS:
        return None
    # Only what calibration and the sidecar read is kept of the table (X holds the features).
    table = table.select(["game_date", "player_lookup", *ANCHORS, "actual_points"])
    fp = _fingerprint(X, y, anchors_of(table))
    path = models_dir / SYSTEM_ID / f"{cutoff.isoformat()}_{fp[:16]}.pkl" if models_dir else None
    return _Training(table, X, y, fp, path)


def _stored(cutoff: dt.date, t: _Training) -> Model | None:
    """The model already made from these rows and settings: kept by this process, or on disk
    with its sidecar (a file without one was never finished)."""
    model = _load(cutoff, t.path, t.fp) if t.path is not None else None
    return _remember(model) if model is not None else None


def _load(cutoff: dt.date, path: Path, fingerprint: str | None = None) -> Model | None:
    """The model in the file `path`: the one this process keeps, else read from its sidecar (the
    estimators are loaded when needed). None without the file or its sidecar (a file without
    one was never finished), or when its fingerprint is not `fingerprint` (if given)."""
    if not (path.is_file() and path.with_suffix(".json").exists()):
        return None
    model = _LOADED.get(path)
    if model is None:
        meta = json.loads(path.with_suffix(".json").read_text())
        model = Model(cutoff, None, meta, path, flat.load(path.with_suffix(".trees.npz")))
    return model if fingerprint is None or model.meta.get("fingerprint") == fingerprint else None


def _meta(cutoff: dt.date, t: _Training, residuals: np.ndarray, calibration: dict, ensemble: list) -> dict:
    """The sidecar: what made the model, in words."""
    dates = t.table.column("game_date")
    return {
        "system_id": SYSTEM_ID, "cutoff": cutoff.isoformat(), "fingerprint": t.fp,
        "training_window": {"first_date": dates[0].as_py().isoformat(),
                            "last_date": dates[-1].as_py().isoformat(),
                            "rule": "feature rows with game_date < cutoff (most recent rows first, capped)"},
        "training_rows": int(t.table.num_rows), "max_training_rows": config.MODEL_MAX_TRAINING_ROWS,
        "features": list(MODEL_FEATURES), "feature_version": FEATURE_VERSION, "anchors": list(ANCHORS),
        "label": "nba_analytics.player_game_summary.points of the same (earlier) game",
        "stored_features": list(STORED_FEATURES), "derived_features": DERIVED_FEATURES,
        "hyperparameters": {**HYPERPARAMETERS, "random_state": seed_of(cutoff)},
        "scale_hyperparameters": SCALE_HYPERPARAMETERS, "ensemble": ensemble,
        "training_code_version": TRAINING_CODE_VERSION,
        "libraries": _library_versions(),
        "training_residual_std": round(float(np.std(residuals)), 6),     # on every second row
        "training_mae": round(float(np.mean(np.abs(residuals))), 6),
        "calibration": calibration,
    }


# Models this process loaded or trained, by file: a model file is immutable (its name carries the
# fingerprint of its rows and settings), so a long-lived process (`serve`, `replay`) unpickles
# each once instead of every morning (0.1 s a morning). The few most recent are kept.
_LOADED: dict[Path, Model] = {}
_LOADED_MAX = 4


def _remember(model: Model) -> Model:
    """Keep `model` as the most recently used (a model without a file is not kept)."""
    if model.path is None:
        return model
    _LOADED.pop(model.path, None)
    _LOADED[model.path] = model
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.pop(next(iter(_LOADED)))
    return model


def seed_of(cutoff: dt.date) -> int:
    """The random_state of a month's median trees (which features each split considers)."""
    return cutoff.toordinal() % 1000


def ensemble_weights(members: int) -> list[float]:
    """The weights of an ensemble of `members` tree sets, newest first (ENSEMBLE_WEIGHTS, cut to
    what exists and renormalised)."""
    n = min(members, len(ENSEMBLE_WEIGHTS))
    total = sum(ENSEMBLE_WEIGHTS[:n])
    return [round(w / total, 6) for w in ENSEMBLE_WEIGHTS[:n]]


def _ensemble(cutoff: dt.date, prev: Model | None, estimator: dict) -> list[dict]:
    """Make `estimator` the ensemble of its own median trees and the newest members of the
    previous model's (see ENSEMBLE_WEIGHTS); what the sidecar says of each member. The
    fingerprint does not hash the members: their training rows are this model's rows before
    their cutoffs (all but rows beyond the row cap, as for the calibration, which reads them too)."""
    own = {"cutoff": cutoff.isoformat(), "model": "this model's own trees"}
    members, said = [estimator["median"]], [own]
    if prev is not None:
        members += prev.fitted()["median"]
        said += [{**m, "model": m["model"] if i else prev.version} for i, m in enumerate(prev.meta["ensemble"])]
    weights = ensemble_weights(len(members))
    n = len(weights)
    estimator["median"] = members[:n]
    return [{**m, "weight": w} for m, w in zip(said[:n], weights)]


def _fit(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[dict, np.ndarray]:
    """The month's own median trees (seeded by its cutoff), then the scale model fitted to their
    absolute errors on every second training row; and those rows' residuals (the training
    residual spread is measured on them too: predicting every training row cost as much as the
    scale model). The ensemble is made afterwards (_ensemble), from the models before it."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    # A feature with no value at all before the cutoff (the previous season's averages in the
    # first season) cannot be binned: a constant column instead, which no tree ever splits on.
    empty = np.isnan(X).all(axis=0)
    if empty.any():
        X = X.copy()
        X[:, empty] = 0.0
    with _threads():
        median = HistGradientBoostingRegressor(**{**HYPERPARAMETERS, "random_state": seed}).fit(X, y)
        residuals = y[::2] - median.predict(X[::2])
        scale = HistGradientBoostingRegressor(**SCALE_HYPERPARAMETERS).fit(X[::2], np.abs(residuals))
    return {"median": median, "scale": scale}, residuals


def _calibration(cutoff: dt.date, prev: Model | None, t: _Training, estimator: dict) -> dict:
    """The out-of-sample z distribution: the model of the last month with games before the
    cutoff (the previous month in season; the last month of the previous season after the
    summer) on the training rows of that month. A month with too few rows (the finals, a
    season's first week inside the bootstrap window) passes on that model's own distribution;
    with no earlier model at all (the first one), this model's training rows, and it says so."""
    table, X, y = t.table, t.X, t.y
    prev_cut = t.prev_cutoff
    month = table.column("game_date").to_numpy(zero_copy_only=False) >= np.datetime64(prev_cut, "D")
    # The previous model's median and scale of the month's rows, predicted once for the z
    # distribution, the market weights and the line shrink (a third of a backfill's predicting).
    med, sc = (prev.predict(X[month]), prev.scale(X[month])) if prev is not None and month.any() else (None, None)
    if prev is not None and month.sum() >= MIN_CALIBRATION_ROWS:
        z = (y[month] - med) / sc
        source = f"out of sample: {prev.version} on {int(month.sum())} rows dated {prev_cut}..{cutoff - dt.timedelta(days=1)}"
        zq = [round(float(v), 6) for v in np.quantile(z, Z_LEVELS)]
    elif prev is not None:
        cal = prev.meta["calibration"]
        z, zq = np.empty(cal["rows"]), cal["z_quantiles"]      # (its row count only)
        source = f"passed on by {prev.version} ({int(month.sum())} rows since its cutoff): {cal['source']}"
    else:       # (the first model: the ensemble is its own trees alone)
        with _threads():
            med = np.maximum(estimator["median"][0].predict(X), 0.0)
            sc = np.maximum(estimator["scale"].predict(X), MIN_SCALE)
        z = (y - med) / sc
        zq = [round(float(v), 6) for v in np.quantile(z, Z_LEVELS)]
        source = f"in sample: no earlier model ({int(len(y))} training rows)"
    market = _market_weights(prev, table, month, med, y)
    return {"source": source, "rows": int(len(z)), "z_quantiles": zq, **market,
            **_line_shrink(prev, table, month, med, sc, y)}


# A month with fewer rows than this does not make its own z distribution (see _calibration).
MIN_CALIBRATION_ROWS = 1000
# Fewer earlier lined player-games than this: no evidence, the model's P(over) is used as is.
MIN_LINED_PAIRS = 30


# The blend weights tried: 0 (the model alone) to 1 (the market alone) in steps of 0.05.
MARKET_WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def _market_weights(prev, table, month, median, y) -> dict:
    """How far to pull the median toward each market anchor, from earlier months only. Each
    model keeps the (trees' median, anchor, points) triples of every earlier month's rows with
    that anchor, each predicted out of sample by its own month's model: the previous model's
    triples plus the previous month's rows predicted by the previous model. w is the grid value
    with the least mean absolute error of (1 - w) x median + w x anchor on them (the smallest on
    a tie); with fewer than MIN_LINED_PAIRS triples, 0: the model alone. `median`: the previous
    model's trees' median of the month's rows."""
    earlier = prev.meta["calibration"].get("market_pairs", {}) if prev is not None else {}
    pairs = {a: list(earlier.get(a, [])) for a in ANCHORS}
    if prev is not None and month.any():
        anchors = {a: v[month] for a, v in anchors_of(table).items()}
        points = y[month]
        taken = np.zeros(int(month.sum()), dtype=bool)
        for a in ANCHORS:
            use = ~taken & ~np.isnan(anchors[a])
            pairs[a] += [[round(float(m), 6), round(float(v), 6), float(p)]
                         for m, v, p in zip(median[use], anchors[a][use], points[use])]
            taken |= use
    weights = {}
    for a, triples in pairs.items():
        if len(triples) < MIN_LINED_PAIRS:
            weights[a] = 0.0
            continue
        m, v, p = np.array(triples, dtype=np.float64).T
        errors = [float(np.mean(np.abs((1.0 - w) * m + w * v - p))) for w in MARKET_WEIGHT_GRID]
        weights[a] = float(MARKET_WEIGHT_GRID[int(np.argmin(errors))])
    return {"market_pairs": pairs, "market_weights": weights,
            "market_rule": {a: (f"mean absolute error on {len(t)} earlier rows" if len(t) >= MIN_LINED_PAIRS
                                else f"fewer than {MIN_LINED_PAIRS} earlier rows: the model alone")
                            for a, t in pairs.items()}}


def _line_shrink(prev, table, month, median, scale, y) -> dict:
    """How far to trust P(over) against the books' on lined rows, from earlier lined rows only.
    Each model keeps the (P(over), went over) pairs of every earlier month's lined rows, each
    predicted out of sample by its own month's model: the previous model's pairs plus the
    previous month's lined rows predicted by the previous model. k minimises the Brier score of
    0.5 + k (P - 0.5) on them (least squares, clipped to 0..1): the model's P(over) on a line is
    used as line_P + k (P - line_P). Lines are on few dates (a handful before March 2024).
    `median`, `scale`: the previous model's of the month's rows."""
    pairs = list(prev.meta["calibration"].get("lined_pairs", [])) if prev is not None else []
    if prev is not None:
        anchors = anchors_of(table)
        line = anchors["vegas_points_line"]
        sel = month & ~np.isnan(line) & (y != line)
        if sel.any():
            in_month = sel[month]       # (the lined rows among the month's)
            anchored = prev.anchored(median[in_month], {a: v[sel] for a, v in anchors.items()})
            p = prev.p_over(anchored, scale[in_month], line[sel])
            pairs += [[round(float(a), 6), int(b)] for a, b in zip(p, y[sel] > line[sel])]
    if len(pairs) < MIN_LINED_PAIRS:
        return {"lined_pairs": pairs, "line_shrink": 1.0,
                "line_shrink_rule": f"fewer than {MIN_LINED_PAIRS} earlier lined rows: P(over) as is"}
    pa_, ya = np.array(pairs, dtype=np.float64).T
    d = pa_ - 0.5
    k = float(np.clip(np.sum(d * (ya - 0.5)) / max(np.sum(d * d), 1e-9), 0.0, 1.0))
    return {"lined_pairs": pairs, "line_shrink": round(k, 6),
            "line_shrink_rule": f"least squares on {len(pairs)} earlier lined rows"}


def _threads():
    # MODEL_THREADS OpenMP threads (the trees come out the same for any count: measured
    # bit-identical with 1 and 2). Idle threads sleep (OMP_WAIT_POLICY=PASSIVE, set at import
    # above): spinning ones made training 10-20x slower on a busy 2-core machine. The libraries
    # are looked up once per process (~4 ms a lookup, twice a daily morning).
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=config.MODEL_THREADS)


_CONTROLLER = None


def _settings() -> str:
    """Everything but the rows that makes a model what it is (part of its fingerprint)."""
    return json.dumps({"features": MODEL_FEATURES, "feature_version": FEATURE_VERSION,
                       "derived": DERIVED_FEATURES, "hyperparameters": HYPERPARAMETERS,
                       "ensemble": ENSEMBLE_WEIGHTS, "seed": "cutoff ordinal % 1000",
                       "scale": SCALE_HYPERPARAMETERS, "code": TRAINING_CODE_VERSION,
                       "anchors": ANCHORS, "libraries": _library_versions()}, sort_keys=True)


def _fingerprint(X: np.ndarray, y: np.ndarray, anchors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    h.update(_settings().encode())
    for a in (X, y, *(anchors[a] for a in ANCHORS)):     # the market blend is fitted on the anchors
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _library_versions() -> dict:
    # From the installed package's metadata: importing scikit-learn costs ~1.2 s, and a day with
    # stored models needs nothing else of it (trees.py).
    from importlib.metadata import version
    return {"scikit-learn": version("scikit-learn"), "numpy": np.__version__}


def _save(estimator, trees: dict, meta: dict, path: Path) -> None:
    """Write the model, its flat trees, then its sidecar, each atomically (a killed run leaves
    no half file; a model without its sidecar is never loaded)."""
    import pickle       # (the C pickler: joblib's pure-Python one took 0.25 s a model, 6.8 s a backfill)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, write in ((path, lambda f: pickle.dump(estimator, f, protocol=5)),
                          (path.with_suffix(".trees.npz"), lambda f: f.write(flat.dumps(trees))),
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
