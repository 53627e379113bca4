"""Feature version v2 on the real data: point-in-time (a changed result on D moves no feature of
D, and moves the later features built from it), values checked against the box scores, and the
sources map covering every feature."""
from __future__ import annotations

import json

import pytest

from conftest import backfill, copy_home, read_wh, table_differences
from nbapipe.processors.precompute.ml_feature_store import FEATURES, FEATURES_V2_ADDED, FEATURE_VERSION
from nbapipe.warehouse import open_warehouse

FS = "nba_predictions.ml_feature_store"
DAY, LATER = "2023-01-10", "2023-01-12"


@pytest.mark.realdata
def test_v2_features_are_point_in_time(phase4_home, tmp_path):
    """Change every result of D in Phase 3 (points, minutes, attempts, usage, team points), then
    recompute the feature store for D and two days later: D is unchanged, and the later
    features of players and opponents of D moved (so the check can fail)."""
    home = copy_home(phase4_home, tmp_path / "home")
    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute("""UPDATE nba_analytics.player_game_summary
                      SET points = points + 7, minutes_played = minutes_played + 4, fg_attempts = fg_attempts + 3,
                          ft_attempts = ft_attempts + 2, usage_rate = usage_rate + 5
                      WHERE game_date = ? AND minutes_played > 0""", [DAY])
        played = {r[0] for r in wh.tuples("SELECT player_lookup FROM nba_analytics.player_game_summary "
                                          "WHERE game_date = ? AND minutes_played > 0", [DAY])}
    r = backfill(home, DAY, LATER, phases=(4,), processors=["ml_feature_store"],
                 skip_downstream_trigger=True, resume=False)
    assert not r.failed and r.counts()["success"] == 3
    assert table_differences(home, phase4_home, FS, f"game_date = '{DAY}'") == 0
    cols = ", ".join(["player_lookup", *FEATURES_V2_ADDED])
    q = f"SELECT {cols} FROM {FS} WHERE game_date = '{LATER}'"
    with read_wh(home) as a, read_wh(phase4_home) as b:
        new = {t[0]: t[1:] for t in a.tuples(q)}
        old = {t[0]: t[1:] for t in b.tuples(q)}
    moved = {p for p in new if new[p] != old[p]}
    assert len(moved & played) > 20
    by_name = {f: i for i, f in enumerate(FEATURES_V2_ADDED)}
    for f in ("points_avg_last_3", "minutes_avg_last_3", "usage_rate_last_10", "fga_avg_last_5",
              "opp_role_points_allowed"):
        assert any(new[p][by_name[f]] != old[p][by_name[f]] for p in new), f


@pytest.mark.realdata
def test_v2_feature_values_against_the_box_scores(phase4_wh):
    """Recomputed here from player_game_summary for 2023-01-12: minutes and points windows,
    starts in the last 5, and the absent teammates (played in one of the team's last 3 games,
    not listed that night)."""
    day = "2023-01-12"
    rows = phase4_wh.rows(f"SELECT * FROM {FS} WHERE game_date = ?", [day])
    assert rows and all(r["feature_version"] == FEATURE_VERSION for r in rows)
    hand = {r["player_lookup"]: r for r in phase4_wh.rows("""
        WITH h AS (SELECT p.player_lookup, p.points, p.minutes_played, p.starter_flag,
                          row_number() OVER (PARTITION BY p.player_lookup ORDER BY p.game_date DESC) AS k
                   FROM nba_analytics.player_game_summary p
                   WHERE p.season_year = 2022 AND p.game_date < ? AND p.minutes_played > 0)
        SELECT player_lookup, avg(CASE WHEN k <= 3 THEN points END) AS p3,
               avg(CASE WHEN k <= 5 THEN minutes_played END) AS m5,
               sum(CASE WHEN k <= 5 AND starter_flag THEN 1 ELSE 0 END) AS s5
        FROM h GROUP BY player_lookup""", [day])}
    checked = 0
    for r in rows:
        h = hand.get(r["player_lookup"])
        if h is None:
            assert r["points_avg_last_3"] is None
            continue
        assert r["points_avg_last_3"] == pytest.approx(h["p3"], abs=1e-6)
        assert r["minutes_avg_last_5"] == pytest.approx(h["m5"], abs=1e-5)
        assert r["starts_last_5"] == h["s5"]
        src = json.loads(r["feature_sources"])
        assert set(src) == set(FEATURES)
        checked += 1
    assert checked > 100
    # Absent teammates of one team that night, by hand.
    team = rows[0]["team_abbr"]
    absent = phase4_wh.rows("""
        WITH last3 AS (SELECT game_id FROM nba_analytics.team_offense_game_summary
                       WHERE team_abbr = ? AND season_year = 2022 AND game_date < ?
                       ORDER BY game_date DESC LIMIT 3),
             recent AS (SELECT DISTINCT player_lookup FROM nba_analytics.player_game_summary
                        WHERE game_id IN (SELECT game_id FROM last3) AND team_abbr = ? AND minutes_played > 0),
             tonight AS (SELECT player_lookup FROM nba_analytics.upcoming_player_game_context
                         WHERE game_date = ? AND team_abbr = ?)
        SELECT count(*) AS n FROM recent WHERE player_lookup NOT IN (SELECT player_lookup FROM tonight)""",
                            [team, day, team, day, team])[0]["n"]
    assert {r["absent_teammates"] for r in rows if r["team_abbr"] == team} == {absent}
