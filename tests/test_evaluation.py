"""`nbapipe evaluate`'s numbers on a case small enough to compute by hand: the last-10 average
and the blend (games with minutes only, same season), the scored rows (minutes > 0 and an
earlier game), MAE / bias / within 3-5 on the same rows, lined MAE, Brier scores, hit rate with
its Wilson interval and ROI at the quoted price."""
from __future__ import annotations

import datetime as dt

import pytest

from nbapipe.processors.predictions.evaluation import evaluate_report, wilson_interval

D = dt.date(2024, 1, 1)


def _day(i: int) -> dt.date:
    return D + dt.timedelta(days=i)


@pytest.fixture
def small(wh):
    """Player a: 12 games in 2023-24 with points 10, 12, ..., 32 (game i on day i), plus a DNP
    (0 minutes) on day 20 and one game of the previous season; player b: one game only."""
    wh.execute("CREATE SCHEMA IF NOT EXISTS nba_analytics")
    wh.execute("CREATE SCHEMA IF NOT EXISTS nba_predictions")
    wh.execute("CREATE TABLE nba_analytics.player_game_summary (game_date DATE, game_id VARCHAR, "
               "player_lookup VARCHAR, season_year INTEGER, points INTEGER, minutes_played DOUBLE)")
    rows = [(_day(i), f"g{i}", "a", 2023, 10 + 2 * i, 30.0) for i in range(12)]
    rows += [(_day(20), "g20", "a", 2023, 0, 0.0), (dt.date(2023, 4, 1), "old", "a", 2022, 99, 30.0),
             (_day(11), "g11", "b", 2023, 8, 20.0)]
    wh.con.executemany("INSERT INTO nba_analytics.player_game_summary VALUES (?, ?, ?, ?, ?, ?)", rows)
    wh.execute("""CREATE TABLE nba_predictions.prediction_accuracy (game_date DATE, player_lookup VARCHAR,
        system_id VARCHAR, predicted_points DOUBLE, points_line DOUBLE, p_over DOUBLE, line_p_over DOUBLE,
        went_over INTEGER, recommendation VARCHAR, prediction_correct BOOLEAN, is_push BOOLEAN, profit DOUBLE)""")
    # Day 10 (a scored 30, line 27.5, OVER at +120 won); day 11 (a scored 32, line 32.0: a push on
    # an UNDER pick); b on day 11 has no earlier game: not scored; day 20 is a DNP: not scored.
    wh.con.executemany("INSERT INTO nba_predictions.prediction_accuracy VALUES (?, ?, 's', ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (_day(10), "a", 26.0, 27.5, 0.6, 0.5, 1, "OVER", True, False, 1.2),
        (_day(11), "a", 35.0, 32.0, 0.3, 0.45, None, "UNDER", None, True, 0.0),
        (_day(11), "b", 9.0, None, None, None, None, None, None, False, None),
        (_day(20), "a", 20.0, None, None, None, None, None, None, False, None),
    ])
    return wh


def test_baselines_and_errors_by_hand(small):
    report = evaluate_report(small, [_day(i) for i in range(25)])
    (s,) = report["systems"]
    o = s["overall"]
    # Day 10: previous 10 games are days 0..9 -> points 10..28, mean 19; last 5: 20..28 -> 24;
    # season (days 0..9, the 2022-23 game is another season) 19. Blend = .5*24 + .3*19 + .2*19 = 21.5.
    # Day 11: previous 10 = days 1..10 -> 12..30 -> 21; last 5: 22..30 -> 26; season 0..10 -> 20.
    #   blend = 13 + 6.3 + 4 = 23.3.
    assert o["rows"] == 2
    assert o["mae"] == pytest.approx((4 + 3) / 2)                  # |26-30|, |35-32|
    assert o["bias"] == pytest.approx((-4 + 3) / 2)
    assert o["within_3"] == 0.5 and o["within_5"] == 1.0
    assert o["last_10"]["mae"] == pytest.approx((11 + 11) / 2)    # |19-30|, |21-32|
    assert o["blend"]["mae"] == pytest.approx(round((8.5 + 8.7) / 2, 4))
    assert o["mae_vs_last_10"] == pytest.approx(round(3.5 / 11, 4))
    # Lined rows: both; the line's MAE |27.5-30|, |32-32|.
    assert o["lined"] == {"rows": 2, "mae": 3.5, "line_mae": 1.25, "mae_vs_line": 2.8}
    # Brier over rows with a decided over/under (the push has none): (0.6-1)^2 vs (0.5-1)^2.
    assert o["calibration"] == {"rows": 1, "brier": 0.16, "line_brier": 0.25}
    # One win, one push: hit rate 1/1 with its Wilson interval; ROI = (1.2 + 0) / 2 stakes.
    p = o["picks"]
    assert (p["picks"], p["hits"], p["pushes"], p["hit_rate"]) == (1, 1, 1, 1.0)
    assert p["ci95"] == wilson_interval(1, 1) and p["roi"] == 0.6
    assert [m["month"] for m in s["months"]] == ["2024-01"]
    assert s["reliability"] == [{"bin": "0.6-0.7", "rows": 1, "mean_p_over": 0.6, "observed_over": 1.0,
                                 "mean_line_p_over": 0.5}]
