"""Phase 5: prediction systems, walk-forward models, grading and the evaluation report.

On the real data (Phase 3 + 4 over three seasons): no look-ahead (model windows end before the
cutoff; deleting every Phase 3 outcome dated D or later leaves D's predictions unchanged),
identical reruns, voided picks, grading checked by hand against the raw box scores and the
books' lines, and the March 2024 evaluation against real lines."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import backfill, backfilled_home, copy_home, read_wh, state_at, table_differences
from nbapipe import config
from nbapipe.processors.precompute.ml_feature_store import FEATURE_VERSION
from nbapipe.processors.predictions import models
from nbapipe.processors.predictions.evaluation import grade_report, wilson_interval
from nbapipe.state import ledger, open_state
from nbapipe.warehouse import open_warehouse

PREDICTIONS = "nba_predictions.player_prop_predictions"
ACCURACY = "nba_predictions.prediction_accuracy"
MARCH_2024 = [dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(31)]
PHASE3 = ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary",
          "upcoming_player_game_context", "upcoming_team_game_context")


@pytest.fixture(scope="module")
def phase5_home(tmp_path_factory, phase4_home):
    """The Phase 3 + 4 home with Phase 5 (predictions and grading) over the three seasons."""
    return backfilled_home(tmp_path_factory, phase4_home, 5)


@pytest.fixture
def phase5_wh(phase5_home):
    with read_wh(phase5_home) as w:
        yield w


# --- grading arithmetic ------------------------------------------------------------------

def _grade_in_memory(wh, preds: list[tuple], outcomes: list[tuple]) -> dict:
    """Run the grading SQL over hand-made predictions and box-score rows for 2024-03-12."""
    from nbapipe.processors import get
    wh.execute("CREATE SCHEMA IF NOT EXISTS nba_analytics")
    wh.execute("CREATE SCHEMA IF NOT EXISTS nba_predictions")
    wh.execute("CREATE TABLE nba_analytics.player_game_summary (game_date DATE, player_lookup VARCHAR, "
               "points INTEGER, minutes_played DOUBLE, is_dnp BOOLEAN)")
    wh.execute(f"CREATE TABLE {PREDICTIONS} (game_date DATE, player_lookup VARCHAR, system_id VARCHAR, "
               "game_id VARCHAR, team_abbr VARCHAR, model_version VARCHAR, predicted_points DOUBLE, "
               "confidence DOUBLE, recommendation VARCHAR, points_line DOUBLE, edge DOUBLE)")
    for p, pred, line, rec in preds:
        wh.execute(f"INSERT INTO {PREDICTIONS} VALUES ('2024-03-12', ?, 's', 'g', 'T', 'v', ?, 90, ?, ?, ?)",
                   [p, pred, rec, line, None if line is None else round(pred - line, 6)])
    for p, pts, dnp in outcomes:
        wh.execute("INSERT INTO nba_analytics.player_game_summary VALUES ('2024-03-12', ?, ?, ?, ?)",
                   [p, pts, None if dnp else 30.0, dnp])
    # Prices: +150 on the over_win pick, none (the -110 default) elsewhere.
    for c in ("q10", "q90", "p_over", "line_p_over", "pick_price", "break_even"):
        wh.execute(f"ALTER TABLE {PREDICTIONS} ADD COLUMN {c} DOUBLE")
    wh.execute(f"UPDATE {PREDICTIONS} SET pick_price = 150 WHERE player_lookup = 'over_win'")
    wh.execute("CREATE TEMP TABLE run_dates AS SELECT DATE '2024-03-12' AS game_date")
    wh.execute("CREATE TEMP TABLE run_bounds AS SELECT 'r1' AS run_id")
    return {r["player_lookup"]: r for r in wh.rows(get("prediction_accuracy").sql)}


def test_grading_arithmetic_by_hand(wh):
    g = _grade_in_memory(wh, [
        ("over_win", 24.0, 20.5, "OVER"),     # scored 25: correct, error -1
        ("over_loss", 22.5, 19.5, "OVER"),    # scored 12: incorrect, error 10.5
        ("under_win", 10.0, 14.5, "UNDER"),   # scored 9: correct, error 1
        ("push", 23.0, 20.0, "OVER"),         # scored 20 on a whole-number line: push
        ("pass", 15.2, 15.5, "PASS"),         # scored 19: voided pick, error still counts
        ("dnp", 18.0, 17.5, "OVER"),          # did not play: voided, no error
        ("no_line", 7.25, None, None),        # scored 3: error only
    ], [("over_win", 25, False), ("over_loss", 12, False), ("under_win", 9, False), ("push", 20, False),
        ("pass", 19, False), ("dnp", None, True), ("no_line", 3, False)])
    expect = {  # correct, push, voided, void_reason, abs error, signed error, within 3, within 5
        "over_win": (True, False, False, None, 1.0, -1.0, True, True),
        "over_loss": (False, False, False, None, 10.5, 10.5, False, False),
        "under_win": (True, False, False, None, 1.0, 1.0, True, True),
        "push": (None, True, False, None, 3.0, 3.0, True, True),
        "pass": (None, False, True, "pass", 3.8, -3.8, False, True),
        "dnp": (None, False, True, "dnp", None, None, None, None),
        "no_line": (None, False, False, None, 4.25, 4.25, False, True),
    }
    for p, (correct, push, voided, why, abs_err, signed, w3, w5) in expect.items():
        r = g[p]
        assert (r["prediction_correct"], r["is_push"], r["is_voided"], r["void_reason"]) == (correct, push, voided, why), p
        assert (r["absolute_error"], r["signed_error"], r["within_3_points"], r["within_5_points"]) == (abs_err, signed, w3, w5), p
    # Profit on one unit at the pick's price: a +150 win pays 1.5, a -110 win 100/110, a loss -1,
    # a push 0; no decided pick, none. went_over: against the line, NULL on a push, DNP or no line.
    assert {p: g[p]["profit"] for p in g} == {"over_win": 1.5, "over_loss": -1.0, "under_win": round(100 / 110, 6),
                                              "push": 0.0, "pass": None, "dnp": None, "no_line": None}
    assert {p: g[p]["went_over"] for p in g} == {"over_win": 1, "over_loss": 0, "under_win": 0, "push": None,
                                                 "pass": 1, "dnp": None, "no_line": None}
    assert g["dnp"]["actual_points"] is None and g["dnp"]["is_dnp"]
    assert g["over_loss"]["line_absolute_error"] == 7.5 and g["no_line"]["line_absolute_error"] is None


def test_wilson_interval():
    # 77 of 137, worked by hand: centre 0.5603, half-width 0.0820.
    assert wilson_interval(77, 137) == (0.4784, 0.6423)
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(0, 5)
    assert lo == 0.0 and 0.4 < hi < 0.45         # never a negative bound, unlike the normal approximation


@pytest.mark.realdata
def test_real_rows_graded_against_box_scores_and_lines(phase5_wh):
    """Checked by hand in ../shared/nba-data: Jayson Tatum scored 38 at UTA on 2024-03-12 (books'
    main lines 27.5, 28.5, 27.5, 28.5, 28.5: median 28.5); Giannis Antetokounmpo scored 30 at SAC
    (line 32.5); Tyler Herro did not dress on 2024-03-02 (line 18.5)."""
    rows = {(r["player_lookup"], r["system_id"]): r for r in phase5_wh.rows(
        f"SELECT * FROM {ACCURACY} WHERE (game_date = '2024-03-12' AND player_lookup IN ('jaysontatum', "
        "'giannisantetokounmpo')) OR (game_date = '2024-03-02' AND player_lookup = 'tylerherro')")}
    assert len(rows) == 6
    for (player, system), r in rows.items():
        if player == "tylerherro":
            assert r["is_dnp"] and r["points_line"] == 18.5 and r["actual_points"] is None
            assert r["void_reason"] == "dnp" and r["is_voided"] and r["prediction_correct"] is None
            assert r["absolute_error"] is None
            continue
        actual, line = {"jaysontatum": (38, 28.5), "giannisantetokounmpo": (30, 32.5)}[player]
        pred = r["predicted_points"]
        assert (r["actual_points"], r["points_line"]) == (actual, line), (player, system)
        assert r["absolute_error"] == round(abs(pred - actual), 6)
        assert r["signed_error"] == round(pred - actual, 6)
        assert r["within_3_points"] == (abs(pred - actual) <= 3)
        assert r["edge"] == round(pred - line, 6)
        rec = r["recommendation"]
        if rec == "PASS":
            assert r["void_reason"] == "pass" and r["prediction_correct"] is None
        else:
            if system == "moving_average_baseline":
                assert rec == ("OVER" if pred > line else "UNDER")
            else:       # by probability: P(side) above the books' break-even by the margin
                p_side = r["p_over"] if rec == "OVER" else 1 - r["p_over"]
                assert p_side - r["break_even"] >= config.PICK_MIN_PROBABILITY_MARGIN - 1e-5
            assert r["prediction_correct"] == ((actual > line) if rec == "OVER" else (actual < line))
            won = (100 / -r["pick_price"] if r["pick_price"] < 0 else r["pick_price"] / 100)
            assert r["profit"] == (round(won, 6) if r["prediction_correct"] else -1.0)
        assert r["went_over"] == (1 if actual > line else 0)
    # Both systems saw Tatum well under his 38.
    assert rows[("jaysontatum", "gradient_boosting")]["signed_error"] < -5


@pytest.mark.parametrize("name", ["moving_average_baseline", "player_prop_predictions", "prediction_accuracy"])
def test_phase5_sql_is_portable(name):
    """The compute processor's SQL files are outside test_transpile's reach (it reads only
    SELECT processors): they keep to the portable subset too (DESIGN section 10)."""
    from importlib import resources
    from nbapipe.engines.transpile import TARGETS, transpile
    sql = resources.files("nbapipe.processors.predictions").joinpath(f"{name}.sql").read_text(encoding="utf-8")
    for target in TARGETS:
        assert transpile(sql, target)


# --- walk-forward models and no look-ahead ------------------------------------------------

@pytest.mark.realdata
def test_first_month_has_no_model_and_is_its_warm_up(phase5_home, phase5_wh):
    with open_state(state_at(phase5_home)) as st:
        rows = ledger.latest(st, start=dt.date(2021, 10, 19), end=dt.date(2021, 11, 3),
                             processors=["player_prop_predictions"])
    status = {r["game_date"]: r for r in rows}
    for d in ("2021-10-26", "2021-10-31"):           # after the bootstrap window, before any model
        # Every earlier feature date is there, they are just too few: the model's warm-up
        # (expected, never missing), not a gap.
        assert status[d]["status"] == "warmup" and status[d]["missing_inputs"] is None
        assert status[d]["detail"] == ("model warm-up: 0 labelled feature rows before 2021-10-01, a model needs 500; "
                                       "the first trainable month is 2021-11")
    assert status["2021-10-20"]["status"] == "bootstrap_skip"
    assert status["2021-11-02"]["status"] == "success"
    assert phase5_wh.scalar(f"SELECT count(*) FROM {PREDICTIONS} WHERE game_date < '2021-11-01'") == 0
    systems = phase5_wh.tuples(f"SELECT system_id, count(*) FROM {PREDICTIONS} WHERE game_date = '2021-11-02' GROUP BY 1")
    assert {s for s, n in systems} == {"moving_average_baseline", "gradient_boosting"}


@pytest.mark.realdata
def test_every_model_trained_only_before_its_cutoff(phase5_home, phase5_wh):
    used = phase5_wh.tuples(f"SELECT DISTINCT game_date, model_version FROM {PREDICTIONS} "
                            "WHERE system_id = 'gradient_boosting'")
    sidecars = {}
    for path in (phase5_home / "models" / models.SYSTEM_ID).glob("*.json"):
        meta = json.loads(path.read_text())
        sidecars[f"{models.SYSTEM_ID}/{path.stem[:10]}_{meta['fingerprint'][:8]}"] = meta
    assert len(sidecars) >= 24                        # monthly: Nov..Jun of three seasons
    for day, version in used:
        meta = sidecars[version]
        cutoff = dt.date.fromisoformat(meta["cutoff"])
        window = meta["training_window"]
        assert cutoff == day.replace(day=1) and cutoff <= day
        assert dt.date.fromisoformat(window["last_date"]) < cutoff, (day, window)
        assert meta["features"] == list(models.MODEL_FEATURES) and meta["feature_version"] == FEATURE_VERSION
        # Calibrated out of sample by an earlier model: on the rows of the last month before
        # the cutoff, or passed on by that model when the month is small (the finals, the
        # bootstrap week). Only the first model of the history has none and says so.
        cal = meta["calibration"]
        if cal["source"].startswith("in sample"):
            assert cutoff == dt.date(2021, 11, 1)
            continue
        prev = dt.date.fromisoformat(re.search(rf"{models.SYSTEM_ID}/(\d{{4}}-\d\d-\d\d)_", cal["source"])[1])
        assert prev < cutoff
        if cal["source"].startswith("out of sample"):
            assert cal["source"].endswith(f"dated {prev}..{cutoff - dt.timedelta(days=1)}")
        else:
            assert cal["source"].startswith("passed on by")
        assert len(cal["z_quantiles"]) == len(models.Z_LEVELS) and cal["z_quantiles"] == sorted(cal["z_quantiles"])
    march = sidecars[next(v for d, v in used if d == dt.date(2024, 3, 15))]
    assert march["training_window"]["last_date"] == "2024-02-29"   # the day before the cutoff
    assert march["training_window"]["first_date"] < "2023-10-24"   # earlier seasons included
    # The stored training window is what the training query returns: nothing on or after the cutoff.
    rows = models.training_rows(phase5_wh, dt.date(2024, 3, 1))
    assert rows.num_rows == march["training_rows"]
    assert max(rows.column("game_date").to_pylist()) < dt.date(2024, 3, 1)
    # Its median is the ensemble of its own trees and the five models' before it (the calibration
    # chain: February's, January's, ... back to October's), each trained before its own cutoff,
    # weights as declared.
    ens = march["ensemble"]
    assert [m["cutoff"] for m in ens] == ["2024-03-01", "2024-02-01", "2024-01-01", "2023-12-01", "2023-11-01",
                                          "2023-10-01"][:len(models.ENSEMBLE_WEIGHTS)]
    assert [m["weight"] for m in ens] == list(models.ENSEMBLE_WEIGHTS)
    assert ens[1]["model"] in sidecars and sidecars[ens[1]["model"]]["training_window"]["last_date"] < "2024-02-01"
    assert march["hyperparameters"]["random_state"] == models.seed_of(dt.date(2024, 3, 1))
    import pickle
    folder = phase5_home / "models" / models.SYSTEM_ID
    est = pickle.loads(next(folder.glob(f"2024-03-01_{march['fingerprint'][:16]}.pkl")).read_bytes())
    feb = pickle.loads(next(folder.glob(f"2024-02-01_{ens[1]['model'][-8:]}*.pkl")).read_bytes())
    X = models.feature_matrix(rows)[-1000:]
    assert np.array_equal(est["median"][1].predict(X), feb["median"][0].predict(X))      # February's own trees
    model = models.Model(dt.date(2024, 3, 1), est, march, None)
    expected = sum(w * m.predict(X) for w, m in zip(models.ENSEMBLE_WEIGHTS, est["median"]))
    assert np.allclose(model.predict(X), np.maximum(expected, 0.0))
    assert not np.allclose(model.predict(X), np.maximum(est["median"][0].predict(X), 0.0))
    # The flat trees saved beside the file (a day's prediction without scikit-learn) give the
    # estimators' numbers bit for bit, NULL features included; above FLAT_MAX_ROWS the estimators predict.
    from nbapipe.processors.predictions import trees
    path = next((phase5_home / "models" / models.SYSTEM_ID).glob(f"2024-03-01_{march['fingerprint'][:16]}.trees.npz"))
    flat = models.Model(dt.date(2024, 3, 1), None, march, path.with_name(path.name.replace(".trees.npz", ".pkl")),
                        trees.load(path))
    assert np.isnan(X).any() and len(X) <= trees.FLAT_MAX_ROWS
    assert np.array_equal(flat.predict(X), model.predict(X)) and np.array_equal(flat.scale(X), model.scale(X))
    assert flat.estimator is None                       # scikit-learn was not needed
    many = models.feature_matrix(rows)[-(trees.FLAT_MAX_ROWS + 1):]
    assert np.array_equal(flat.predict(many), model.predict(many)) and flat.estimator is not None


@pytest.mark.realdata
def test_deleting_phase3_rows_from_d_on_leaves_d_predictions_unchanged(phase5_home, tmp_path):
    """Delete every Phase 3 row dated after D and every box-score outcome of D itself (D's
    pre-game context rows stay: schedule, rest and the line are what is known before tip-off;
    so does who is listed and who starts, announced before tip-off: every other column of D's
    player rows is emptied), delete the stored models, recompute Phase 4 and 5 for D: D's
    predictions are identical. Then the control: changing outcomes BEFORE D does move them."""
    day = "2024-03-12"
    home = copy_home(phase5_home, tmp_path / "home")
    with open_warehouse(home / "warehouse.duckdb") as wh:
        for t in PHASE3:
            wh.execute(f"DELETE FROM nba_analytics.{t} WHERE game_date > ?", [day])
        for t in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary"):
            assert wh.scalar(f"SELECT count(*) FROM nba_analytics.{t} WHERE game_date = ?", [day]) > 0
            if t != "player_game_summary":
                wh.execute(f"DELETE FROM nba_analytics.{t} WHERE game_date = ?", [day])
        lineup = {"game_date", "game_id", "player_lookup", "team_abbr", "opponent_team_abbr", "season_year",
                  "starter_flag", "run_id", "processed_at"}
        outcome = [c for c in wh.columns("nba_analytics.player_game_summary") if c not in lineup]
        wh.execute("UPDATE nba_analytics.player_game_summary SET "
                   + ", ".join(f'"{c}" = NULL' for c in outcome) + " WHERE game_date = ?", [day])
    shutil.rmtree(home / "models")
    _rerun_phase4_and_predictions(home, day)
    assert table_differences(home, phase5_home, "nba_predictions.ml_feature_store", f"game_date = '{day}'") == 0
    assert table_differences(home, phase5_home, PREDICTIONS, f"game_date = '{day}'") == 0
    assert (home / "models" / models.SYSTEM_ID).is_dir()     # the March model was trained again

    # Control: outcomes before D (one in February, before the model's cutoff; one in March,
    # inside D's season features) move D's predictions and give a new model.
    ctrl = copy_home(phase5_home, tmp_path / "ctrl")
    with open_warehouse(ctrl / "warehouse.duckdb") as wh:
        wh.execute("UPDATE nba_analytics.player_game_summary SET points = points + 9 "
                   "WHERE game_date IN ('2024-02-08', '2024-03-11') AND NOT is_dnp")
    _rerun_phase4_and_predictions(ctrl, day)
    assert table_differences(ctrl, phase5_home, PREDICTIONS, f"game_date = '{day}'") > 100
    with open_warehouse(ctrl / "warehouse.duckdb", read_only=True) as a, \
            open_warehouse(phase5_home / "warehouse.duckdb", read_only=True) as b:
        q = f"SELECT DISTINCT model_version FROM {PREDICTIONS} WHERE game_date = ? AND system_id = 'gradient_boosting'"
        assert a.tuples(q, [day]) != b.tuples(q, [day])


def _rerun_phase4_and_predictions(home, day: str) -> None:
    r4 = backfill(home, day, day, phases=(4,), skip_downstream_trigger=True, resume=False)
    r5 = backfill(home, day, day, phases=(5,), processors=["player_prop_predictions"],
                  skip_downstream_trigger=True, resume=False)
    assert [r.status for r in r4.results] == ["success"] * 5
    assert [r.status for r in r5.results] == ["success"]


def test_model_index_names_a_file_only_for_the_same_rows_and_settings(tmp_path, monkeypatch):
    """The on-disk index (a new process's way to its model without reading the rows) answers
    only for the signature and settings it was written with, and only while the files are whole."""
    cutoff, folder = dt.date(2024, 3, 1), tmp_path / models.SYSTEM_ID
    folder.mkdir()
    model = folder / "2024-03-01_abc.pkl"
    model.write_bytes(b"estimators")
    model.with_suffix(".json").write_text(json.dumps({"fingerprint": "abc", "cutoff": "2024-03-01"}))
    models._index(tmp_path, cutoff, "rows-1", model)
    found = models._indexed(tmp_path, cutoff, "rows-1")
    assert found is not None and found.path == model and found.meta["fingerprint"] == "abc" and found.trees is None
    assert models._indexed(tmp_path, cutoff, "rows-2") is None                  # other rows
    assert models._indexed(tmp_path, dt.date(2024, 4, 1), "rows-1") is None     # other month
    monkeypatch.setitem(models.HYPERPARAMETERS, "max_iter", models.HYPERPARAMETERS["max_iter"] + 1)
    assert models._indexed(tmp_path, cutoff, "rows-1") is None                  # other settings
    monkeypatch.undo()
    model.with_suffix(".json").unlink()                                          # a file never finished
    assert models._indexed(tmp_path, cutoff, "rows-1") is None
    entry = tmp_path / "signed" / models.SYSTEM_ID / "2024-03-01.json"
    entry.write_text("{not json")
    assert models._indexed(tmp_path, cutoff, "rows-1") is None
    assert sorted(p.name for p in entry.parent.iterdir()) == ["2024-03-01.json"]   # no temp files left


@pytest.mark.realdata
def test_reruns_identical_with_stored_and_with_retrained_models(phase5_home, tmp_path, monkeypatch):
    home = copy_home(phase5_home, tmp_path / "home")
    read_rows = models.training_rows
    r = backfill(home, "2024-03-01", "2024-03-31", phases=(5,), skip_downstream_trigger=True, resume=False)
    assert not r.failed and r.counts()["success"] > 40
    for table in (PREDICTIONS, ACCURACY):
        assert table_differences(home, phase5_home, table) == 0, table
    # Retrained from scratch (deterministic training): the same model file and the same rows.
    before = sorted(p.name for p in (home / "models" / models.SYSTEM_ID).glob("2024-03-01_*"))
    shutil.rmtree(home / "models")
    r = backfill(home, "2024-03-01", "2024-03-31", phases=(5,), skip_downstream_trigger=True, resume=False)
    assert not r.failed
    # The March file again (same name: same rows, settings and calibration); its calibration
    # needed the earlier models, so they were trained again too, and nothing later.
    after = sorted(p.name for p in (home / "models" / models.SYSTEM_ID).glob("*"))
    assert sorted(p for p in after if p.startswith("2024-03-01_")) == before
    assert max(p[:10] for p in after) == "2024-03-01" and len(after) > 2 * 20
    assert table_differences(home, phase5_home, PREDICTIONS) == 0
    # Resume: nothing left to do.
    r = backfill(home, "2024-03-01", "2024-03-31", phases=(5,), skip_downstream_trigger=True)
    assert all(x.status == "no_games" for x in r.results) and r.counts()["already_done"] > 40
    # A long-lived process (serve, replay) keeps what it loaded or trained: the next run reuses
    # the March model object instead of unpickling its file again, with the same rows.
    march = next(p for p in models._LOADED if p.parent.parent == home / "models" and p.name.startswith("2024-03-01_"))
    kept = models._LOADED[march]
    r = backfill(home, "2024-03-12", "2024-03-12", phases=(5,), processors=["player_prop_predictions"],
                 skip_downstream_trigger=True, resume=False)
    assert [x.status for x in r.results] == ["success"] and models._LOADED[march] is kept
    assert table_differences(home, phase5_home, PREDICTIONS) == 0
    # ... and finds it from the training rows' signature, without reading the 60k rows, until
    # an earlier slice is rewritten: then it reads and hashes them again (same rows: same file).
    reads = []
    monkeypatch.setattr(models, "training_rows", lambda *a, **k: reads.append(a[1]) or read_rows(*a, **k))
    predict_march_12 = lambda: backfill(home, "2024-03-12", "2024-03-12", phases=(5,),  # noqa: E731
                                        processors=["player_prop_predictions"], skip_downstream_trigger=True,
                                        resume=False)
    assert [x.status for x in predict_march_12().results] == ["success"] and reads == []
    # A new process knows nothing in memory: the index beside the models names the file.
    models._SIGNED.clear()
    models._LOADED.clear()
    assert [x.status for x in predict_march_12().results] == ["success"] and reads == []
    assert (home / "models" / "signed" / models.SYSTEM_ID / "2024-03-01.json").exists()
    assert table_differences(home, phase5_home, PREDICTIONS) == 0
    kept = next(m for p, m in models._LOADED.items() if p.name.startswith("2024-03-01_"))
    r3 = backfill(home, "2024-02-08", "2024-02-08", phases=(3,), processors=["player_game_summary"],
                  skip_downstream_trigger=True, resume=False)
    assert [x.status for x in r3.results] == ["success"]
    assert [x.status for x in predict_march_12().results] == ["success"]
    assert reads == [dt.date(2024, 3, 1)] and models._LOADED[march] is kept
    assert table_differences(home, phase5_home, PREDICTIONS) == 0


# --- predictions table and evaluation -----------------------------------------------------

# The break-even probability of American odds, in SQL.
_BE_OVER = "(CASE WHEN over_price > 0 THEN 100 / (over_price + 100) ELSE -over_price / (-over_price + 100) END)"
_BE_UNDER = "(CASE WHEN under_price > 0 THEN 100 / (under_price + 100) ELSE -under_price / (-under_price + 100) END)"

@pytest.mark.realdata
def test_predictions_shape(phase5_wh):
    edge, conf = config.PREDICTION_MIN_EDGE, config.PREDICTION_MIN_CONFIDENCE
    margin = config.PICK_MIN_PROBABILITY_MARGIN
    assert phase5_wh.scalar(f"SELECT count(*) FROM (SELECT game_date, player_lookup, system_id FROM {PREDICTIONS} "
                            "GROUP BY ALL HAVING count(*) > 1)") == 0
    base = f"{PREDICTIONS} WHERE system_id = 'moving_average_baseline' AND"
    bad = phase5_wh.scalar(f"""SELECT count(*) FROM {base} (
        predicted_points < 0 OR confidence < 0 OR confidence > 100
        OR (points_line IS NULL) <> (recommendation IS NULL)
        OR (recommendation IN ('OVER', 'UNDER') AND (abs(edge) < ? OR confidence < ?))
        OR (recommendation = 'PASS' AND abs(edge) >= ? AND confidence >= ? AND edge <> 0)
        OR (recommendation = 'OVER' AND edge <= 0) OR (recommendation = 'UNDER' AND edge >= 0))""",
                            [edge, conf, edge, conf])
    assert bad == 0
    # The model: a distribution (q10 <= median <= q90), P(over) and P(under) on lined rows, and
    # picks only where the probability clears the books' break-even price by the margin.
    gb = f"{PREDICTIONS} WHERE system_id = 'gradient_boosting' AND"
    assert phase5_wh.scalar(f"""SELECT count(*) FROM {gb} (
        NOT (q10 <= predicted_points AND predicted_points <= q90) OR q10 < 0
        OR (points_line IS NULL) <> (p_over IS NULL) OR (points_line IS NULL) <> (recommendation IS NULL)
        OR p_over < 0 OR p_over > 1 OR p_over + p_under > 1.000001
        OR line_p_over NOT BETWEEN 0.01 AND 0.99
        OR (recommendation = 'OVER' AND p_over - break_even < ? - 1e-5)
        OR (recommendation = 'UNDER' AND p_under - break_even < ? - 1e-5)
        OR (recommendation = 'PASS' AND (p_over - ? >= {_BE_OVER} + 1e-4 OR p_under - ? >= {_BE_UNDER} + 1e-4)))""",
                            [margin, margin, margin, margin]) == 0
    # Picks exist where the model is trusted against the books (Nov 2021: no earlier lined rows,
    # so P(over) as is); in March 2024 the factor fitted on earlier lines leaves none.
    picks = phase5_wh.scalar(f"SELECT count(*) FROM {gb} recommendation IN ('OVER', 'UNDER')")
    assert picks > 20
    # Every prediction is graded, and the lines are the feature store's (the Phase 3 median).
    assert phase5_wh.scalar(f"SELECT count(*) FROM {PREDICTIONS}") == phase5_wh.scalar(f"SELECT count(*) FROM {ACCURACY}")
    assert phase5_wh.scalar(f"""SELECT count(*) FROM {PREDICTIONS} p JOIN nba_predictions.ml_feature_store f
        USING (game_date, player_lookup) WHERE p.points_line IS DISTINCT FROM f.vegas_points_line""") == 0


@pytest.mark.realdata
def test_pass_dnp_and_pushes_are_out_of_the_hit_rate(phase5_wh):
    march = "game_date BETWEEN '2024-03-01' AND '2024-03-31'"
    report = grade_report(phase5_wh, MARCH_2024, [0.0, 3.0])
    for s in report["systems"]:
        system = s["system_id"]
        # Both kinds of voided rows occur among the lined predictions of March 2024 ...
        dnp_picks = phase5_wh.scalar(f"SELECT count(*) FROM {ACCURACY} WHERE system_id = ? AND {march} "
                                     "AND recommendation IN ('OVER', 'UNDER') AND is_dnp", [system])
        passes = phase5_wh.scalar(f"SELECT count(*) FROM {ACCURACY} WHERE system_id = ? AND {march} "
                                  "AND recommendation = 'PASS' AND NOT is_dnp", [system])
        assert passes > 100
        assert dnp_picks > 0 or system == "gradient_boosting"       # the model makes no March picks
        assert passes == s["overall"]["passes"]
        # ... and the hit rate counts only OVER/UNDER picks of players who played, off the line.
        decided = phase5_wh.rows(f"""SELECT coalesce(sum(CASE WHEN actual_points > points_line AND recommendation = 'OVER'
                   OR actual_points < points_line AND recommendation = 'UNDER' THEN 1 ELSE 0 END), 0) AS hits,
                   count(*) AS n FROM {ACCURACY}
            WHERE system_id = ? AND {march} AND recommendation IN ('OVER', 'UNDER')
              AND NOT is_dnp AND actual_points <> points_line""", [system])[0]
        at0 = s["overall"]["picks"][0]
        assert (at0["hits"], at0["picks"]) == (decided["hits"], decided["n"])
        assert phase5_wh.scalar(f"SELECT count(*) FROM {ACCURACY} WHERE (is_voided OR is_push) "
                                "AND prediction_correct IS NOT NULL") == 0


@pytest.mark.realdata
def test_march_2024_against_real_lines(phase5_wh):
    """The evaluation the issue asks for. Small samples: a few hundred picks at most, so the
    95% intervals span roughly +-8 points of hit rate at edge >= 3."""
    report = grade_report(phase5_wh, MARCH_2024, [0.0, 1.0, 2.0, 3.0, 5.0])
    assert {s["system_id"] for s in report["systems"]} == {"moving_average_baseline", "gradient_boosting"}
    for s in report["systems"]:
        o = s["overall"]
        assert 3 < o["mae"] < 8 and abs(o["bias"]) < 1.5, s["system_id"]
        assert 0.3 < o["within_3_rate"] < o["within_5_rate"] < 0.85
        assert o["with_line"] > 1500 and 3 < o["line_mae"] < 8 and 3 < o["mae_with_line"] < 8
        counts = [p["picks"] for p in o["picks"]]
        assert counts == sorted(counts, reverse=True)            # higher edge, fewer picks
        if s["system_id"] == "gradient_boosting":
            # Its P(over), trusted against the books' by the factor fitted on the earlier lines,
            # rarely clears a break-even price by the margin: nearly every lined row is PASS,
            # and each pick it does make clears its own price's break-even by the margin.
            assert counts[0] <= 0.01 * o["with_line"] and o["passes"] > 1500, counts
            short = phase5_wh.scalar(f"""SELECT count(*) FROM {PREDICTIONS}
                WHERE system_id = 'gradient_boosting' AND game_date BETWEEN '2024-03-01' AND '2024-03-31'
                  AND recommendation IN ('OVER', 'UNDER')
                  AND CASE recommendation WHEN 'OVER' THEN p_over ELSE p_under END - break_even
                      < {config.PICK_MIN_PROBABILITY_MARGIN} - 1e-6""")
            assert short == 0
            continue
        at3 = next(p for p in o["picks"] if p["edge_min"] == 3.0)
        assert at3["picks"] > 0
        lo, hi = at3["ci95"]
        assert lo < at3["hit_rate"] < hi and hi - lo > 0.1      # small sample: a wide interval


# --- command line -------------------------------------------------------------------------

@pytest.mark.realdata
def test_cli_predict_and_grade(phase5_home, tmp_path):
    from nbapipe.cli import app
    home = copy_home(phase5_home, tmp_path / "home")
    run = CliRunner()
    r = run.invoke(app, ["--home", str(home), "predict", "--dates", "2024-03-12", "--no-resume", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["counts"]["success"] == 1
    assert table_differences(home, phase5_home, PREDICTIONS) == 0
    r = run.invoke(app, ["--home", str(home), "grade", "--start-date", "2024-03-01", "--end-date", "2024-03-31", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["graded_dates"] == 31 and len(report["systems"]) == 2
    assert report["units"].get("already_done", 0) > 0 and report["failed"] == []
    r = run.invoke(app, ["--home", str(home), "grade", "--season", "2023-24"])
    assert r.exit_code == 0 and "edge >= 3" in r.stdout and "2024-03" in r.stdout
    assert run.invoke(app, ["--home", str(home), "grade", "--season", "1999-00"]).exit_code == 2
    assert run.invoke(app, ["--home", str(home), "grade", "--dates", "2024-03-12", "--edges", "x"]).exit_code == 2
    assert run.invoke(app, ["--home", str(home), "grade", "--start-date", "2021-07-01", "--end-date", "2021-07-02"]).exit_code == 1
    r = run.invoke(app, ["--home", str(home), "backfill", "--phase", "5", "--dates", "2021-10-27,2024-03-12", "--dry-run"])
    assert r.exit_code == 0 and "player_prop_predictions" in r.stdout


@pytest.mark.realdata
def test_cli_evaluate_march_2024(phase5_home, tmp_path):
    """`evaluate` on the real March 2024: its row count and MAE are recomputed here from the
    graded rows and the box scores, both baselines sit beside each system on the same rows,
    the lined figures are the books', and the PNGs are real images."""
    from PIL import Image
    from nbapipe.cli import app
    home = copy_home(phase5_home, tmp_path / "home")
    run = CliRunner()
    r = run.invoke(app, ["--home", str(home), "evaluate", "--start-date", "2024-03-01", "--end-date", "2024-03-31",
                         "--json", "--png", str(tmp_path / "png")])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    by = {s["system_id"]: s for s in report["systems"]}
    with read_wh(home) as wh:
        expect = wh.rows(f"""
            WITH played AS (SELECT game_date, player_lookup, season_year FROM nba_analytics.player_game_summary
                            WHERE minutes_played > 0 AND points IS NOT NULL)
            SELECT a.system_id, count(*) AS n, avg(a.absolute_error) AS mae,
                   avg(CASE WHEN a.points_line IS NOT NULL THEN a.line_absolute_error END) AS line_mae
            FROM {ACCURACY} a JOIN played p USING (game_date, player_lookup)
            WHERE a.game_date BETWEEN '2024-03-01' AND '2024-03-31'
              AND EXISTS (SELECT 1 FROM played e WHERE e.player_lookup = p.player_lookup
                          AND e.season_year = p.season_year AND e.game_date < p.game_date)
            GROUP BY 1""")
    for e in expect:
        o = by[e["system_id"]]["overall"]
        assert o["rows"] == e["n"] > 4000
        assert o["mae"] == pytest.approx(e["mae"], abs=1e-4)
        assert o["lined"]["line_mae"] == pytest.approx(e["line_mae"], abs=1e-4)
    a, b = by["gradient_boosting"]["overall"], by["moving_average_baseline"]["overall"]
    assert a["last_10"] == b["last_10"] and a["blend"] == b["blend"]        # same rows, same baselines
    assert a["calibration"]["rows"] > 1500 and 0.2 < a["calibration"]["brier"] < 0.3
    assert sum(x["rows"] for x in by["gradient_boosting"]["reliability"]) == a["calibration"]["rows"]
    for p in report["png"]:
        with Image.open(p) as img:
            assert img.format == "PNG" and img.size == (720, 520)
    assert run.invoke(app, ["--home", str(home), "evaluate", "--start-date", "2021-07-01",
                            "--end-date", "2021-07-02"]).exit_code == 1
