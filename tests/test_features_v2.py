"""Feature versions v2 and v3 on the real data: point-in-time (a changed result on D moves no
feature of D, and moves the later features built from it; of D's own listing only its inactive
list is read), values checked against the box scores, and the sources map covering every feature."""
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


@pytest.mark.realdata
def test_v3_reads_only_the_inactive_list_of_the_night(phase4_home, tmp_path):
    """Of D's raw box score only the inactive list is pre-game information. Change every stat and
    start of D's active rows in the raw table and recompute D's context and features: nothing
    moves. Then take one player off a team's inactive list: he joins that night's universe and
    the team's teammates_out and teammates_out_points drop by him (his points per game with the
    team this season, by hand), and nothing about other teams moves."""
    home = copy_home(phase4_home, tmp_path / "home")
    raw = "nba_raw.nbac_gamebook_player_stats"

    def recompute():
        r = backfill(home, DAY, DAY, phases=(3, 4), skip_downstream_trigger=True, resume=False,
                     processors=["upcoming_player_game_context", "ml_feature_store"])
        done = {x.processor for x in r.results if x.status == "success"}
        assert not r.failed and {"upcoming_player_game_context", "ml_feature_store"} <= done

    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute(f"""UPDATE {raw} SET points = points + 7, minutes_played = minutes_played + 4,
                           starter_flag = NOT starter_flag WHERE game_date = ? AND player_status = 'active'""", [DAY])
    recompute()
    assert table_differences(home, phase4_home, FS, f"game_date = '{DAY}'") == 0
    assert table_differences(home, phase4_home, "nba_analytics.upcoming_player_game_context",
                             f"game_date = '{DAY}'") == 0

    with read_wh(phase4_home) as wh:
        # Of the inactive players who played for their team in the last 10 days (so on its recent
        # roster), the one with the most points per game this season for it.
        team, player, ppg = wh.tuples(f"""
            SELECT i.team_abbr, i.player_lookup, avg(p.points) AS ppg
            FROM {raw} i JOIN nba_analytics.player_game_summary p
              ON p.player_lookup = i.player_lookup AND p.team_abbr = i.team_abbr AND p.season_year = 2022
             AND p.game_date < i.game_date AND p.minutes_played > 0
            WHERE i.game_date = ? AND i.player_status = 'inactive'
            GROUP BY ALL HAVING max(p.game_date) >= CAST(? AS DATE) - 10
            ORDER BY ppg DESC, i.player_lookup LIMIT 1""", [DAY, DAY])[0]
        before = {r[0]: r[1:] for r in wh.tuples(f"SELECT team_abbr, min(teammates_out), min(teammates_out_points), "
                                                 f"count(*) FROM {FS} WHERE game_date = ? GROUP BY 1", [DAY])}
    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute(f"DELETE FROM {raw} WHERE game_date = ? AND player_lookup = ? AND player_status = 'inactive'",
                   [DAY, player])
    recompute()
    with read_wh(home) as wh:
        after = {r[0]: r[1:] for r in wh.tuples(f"SELECT team_abbr, min(teammates_out), min(teammates_out_points), "
                                                f"count(*) FROM {FS} WHERE game_date = ? GROUP BY 1", [DAY])}
        assert wh.scalar(f"SELECT count(*) FROM {FS} WHERE game_date = ? AND player_lookup = ?", [DAY, player]) == 1
    assert ppg > 5
    assert after[team][0] == before[team][0] - 1
    assert after[team][1] == pytest.approx(before[team][1] - ppg, abs=1e-5)
    assert after[team][2] == before[team][2] + 1
    assert {t: v for t, v in after.items() if t != team} == {t: v for t, v in before.items() if t != team}
