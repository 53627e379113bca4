"""Phase 3 on the real data: grains, hand-checked values, Basketball-Reference agreement,
statuses, fallbacks, resume and identical reruns."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import PHASE3_TABLES, backfill, copy_home, state_at, table_differences
from nbapipe.state import ledger, open_state
from nbapipe.warehouse import open_warehouse

pytestmark = pytest.mark.realdata

KEYS = {"nba_analytics.team_offense_game_summary": "game_date, team_abbr",
        "nba_analytics.team_defense_game_summary": "game_date, defending_team_abbr",
        "nba_analytics.upcoming_team_game_context": "game_date, team_abbr",
        "nba_analytics.player_game_summary": "game_date, player_lookup",
        "nba_analytics.upcoming_player_game_context": "game_date, player_lookup"}


def test_no_duplicate_keys_in_any_table(phase3_wh):
    for table, key in KEYS.items():
        assert phase3_wh.scalar(f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1)") == 0, table


def test_one_row_per_listed_player(phase3_wh):
    listed = phase3_wh.scalar("SELECT count(*) FROM nba_raw.nbac_gamebook_player_stats "
                              "WHERE data_source = 'bbref' AND player_status <> 'inactive'")
    assert listed == 102635
    assert phase3_wh.scalar("SELECT count(*) FROM nba_analytics.player_game_summary") == listed
    # The same (game, player) pairs, not only the same count; inactive players are not rows.
    missing = phase3_wh.scalar("""
        SELECT count(*) FROM nba_raw.nbac_gamebook_player_stats g
        JOIN nba_reference.player_alias a ON a.alias_lookup = g.player_lookup
        WHERE g.data_source = 'bbref' AND g.player_status <> 'inactive' AND NOT EXISTS (
            SELECT 1 FROM nba_analytics.player_game_summary s
            WHERE s.game_id = g.game_id AND s.player_lookup = a.player_lookup)""")
    assert missing == 0
    assert phase3_wh.scalar("SELECT count(*) FROM nba_analytics.player_game_summary WHERE is_dnp") == 18616


def test_player_points_sum_to_team_points(phase3_wh):
    bad = phase3_wh.scalar("""
        SELECT count(*) FROM (SELECT game_id, team_abbr, sum(points) AS pts
                              FROM nba_analytics.player_game_summary GROUP BY 1, 2) p
        JOIN nba_analytics.team_offense_game_summary t USING (game_id, team_abbr)
        WHERE p.pts <> t.points_scored""")
    assert bad == 0
    assert phase3_wh.scalar("SELECT count(*) FROM nba_analytics.team_offense_game_summary") == 2 * 3962


def test_usage_rate_agrees_with_basketball_reference(phase3_wh):
    within, n = phase3_wh.tuples("""
        SELECT avg(CASE WHEN abs(s.usage_rate - g.bbref_usage_rate) <= 1.0 THEN 1.0 ELSE 0.0 END), count(*)
        FROM nba_analytics.player_game_summary s
        JOIN nba_raw.nbac_gamebook_player_stats g
          ON g.game_id = s.game_id AND g.data_source = 'bbref'
        JOIN nba_reference.player_alias a ON a.alias_lookup = g.player_lookup AND a.player_lookup = s.player_lookup
        WHERE s.minutes_played >= 10""")[0]
    assert n > 70000
    assert within >= 0.95, f"only {within:.2%} of {n} player-games within 1.0 pp"


def test_possessions_and_pace_plausible_for_every_game(phase3_wh):
    out = phase3_wh.rows("""
        SELECT count(*) AS n, min(pace) AS min_pace, max(pace) AS max_pace,
               min(possessions / (game_minutes / 48.0)) AS min_poss48, max(possessions / (game_minutes / 48.0)) AS max_poss48,
               count(*) FILTER (WHERE pace IS NULL OR possessions IS NULL) AS nulls
        FROM nba_analytics.team_offense_game_summary""")[0]
    assert out["nulls"] == 0
    assert 80 <= out["min_pace"] and out["max_pace"] <= 125
    assert 80 <= out["min_poss48"] and out["max_poss48"] <= 125


def test_hand_checked_values(phase3_wh):
    gsw = phase3_wh.rows("SELECT * FROM nba_analytics.team_offense_game_summary "
                         "WHERE game_date = '2021-10-19' AND team_abbr = 'GSW'")[0]
    # 93 FGA + 0.44 * 30 FTA + 17 TOV - 9 OREB
    assert gsw["possessions"] == pytest.approx(114.2)
    assert gsw["offensive_rating"] == pytest.approx(100 * 121 / 114.2, abs=1e-5)
    assert (gsw["points_scored"], gsw["opponent_points"], gsw["win_flag"], gsw["overtime_periods"]) == (121, 114, True, 0)
    assert gsw["data_source"] == "nbac_team_boxscore" and gsw["quality_tier"] == "gold"
    assert gsw["has_shot_zones"] and gsw["paint_attempts"] + gsw["mid_range_attempts"] + gsw["three_zone_attempts"] == 93
    d = phase3_wh.rows("SELECT * FROM nba_analytics.team_defense_game_summary "
                       "WHERE game_date = '2021-10-19' AND defending_team_abbr = 'LAL'")[0]
    assert d["points_allowed"] == 121 and d["defensive_rating"] == pytest.approx(gsw["offensive_rating"], abs=1e-5)
    assert d["opp_paint_attempts"] == gsw["paint_attempts"]
    curry = phase3_wh.rows("SELECT * FROM nba_analytics.player_game_summary "
                           "WHERE game_date = '2021-10-19' AND player_lookup = 'stephencurry'")[0]
    assert (curry["points"], curry["team_abbr"], curry["opponent_team_abbr"], curry["starter_flag"]) == (21, "GSW", "LAL", True)
    assert curry["usage_rate"] == pytest.approx(31.2, abs=0.5)
    assert curry["ts_pct"] == pytest.approx(21 / (2 * (21 + 0.44 * 9)), abs=1e-6)
    assert curry["has_shot_zones"] and curry["paint_attempts"] + curry["mid_range_attempts"] + curry["three_zone_attempts"] == 21


def test_upcoming_contexts_use_only_earlier_games(phase3_wh):
    ctx = {r["game_date"].isoformat(): r for r in phase3_wh.rows(
        "SELECT * FROM nba_analytics.upcoming_player_game_context WHERE player_lookup = 'stephencurry' "
        "AND game_date BETWEEN '2021-10-19' AND '2021-10-30' ORDER BY game_date")}
    assert ctx["2021-10-19"]["games_played_season"] == 0 and ctx["2021-10-19"]["points_avg_last_5"] is None
    assert ctx["2021-10-21"]["points_avg_last_5"] == 21.0             # only the 10-19 game
    assert ctx["2021-10-24"]["points_avg_last_5"] == pytest.approx((21 + 45) / 2)
    assert ctx["2021-10-30"]["points_avg_last_5"] == pytest.approx((21 + 45 + 27 + 23 + 36) / 5)
    assert ctx["2021-10-24"]["days_rest"] == 2 and not ctx["2021-10-24"]["back_to_back"]
    team = {r["game_date"].isoformat(): r for r in phase3_wh.rows(
        "SELECT * FROM nba_analytics.upcoming_team_game_context WHERE team_abbr = 'GSW' "
        "AND game_date BETWEEN '2021-10-19' AND '2021-10-24' ORDER BY game_date")}
    assert [r["game_number_in_season"] for r in team.values()] == [1, 2, 3]
    assert team["2021-10-21"]["win_streak_entering"] == 1 and team["2021-10-21"]["last_game_margin"] == 7
    assert team["2021-10-19"]["days_since_last_game"] is None


def test_every_date_has_a_status(phase3_home):
    with open_state(state_at(phase3_home)) as st:
        rows = ledger.latest(st, start=dt.date(2021, 10, 1), end=dt.date(2024, 6, 30), phase=3)
        game_dates = {r["game_date"] for r in st.rows("SELECT game_date FROM calendar_dates "
                                                      "WHERE season IN ('2021-22', '2022-23', '2023-24')")}
    by = {}
    for r in rows:
        by.setdefault(r["status"], set()).add((r["processor"], r["game_date"]))
    assert set(by) == {"success", "no_games"}
    assert {d for _, d in by["success"]} == game_dates
    assert len(by["success"]) == 5 * len(game_dates) == 5 * 633
    assert all(r["rows"] > 0 for r in rows if r["status"] == "success")
    assert all(r["rows"] == 0 for r in rows if r["status"] == "no_games")


def test_resume_does_no_work_and_no_resume_is_identical(phase3_home, tmp_path):
    home = copy_home(phase3_home, tmp_path / "home")
    again = backfill(home, "2022-01-01", "2022-01-31", skip_downstream_trigger=True)
    assert again.counts().get("success", 0) == 0 and again.counts()["already_done"] == 5 * 31 - 5 * sum(
        1 for u in again.plan if u.action == "no_games") // 5
    redo = backfill(home, "2022-01-01", "2022-01-31", skip_downstream_trigger=True, resume=False)
    assert redo.counts()["success"] > 0 and not redo.failed
    for table in PHASE3_TABLES:
        assert table_differences(home, phase3_home, table) == 0, table
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as wh:
        runs = wh.tuples("SELECT DISTINCT run_id FROM nba_analytics.player_game_summary "
                         "WHERE game_date BETWEEN '2022-01-01' AND '2022-01-31'")
    assert runs == [(redo.run_id,)]


def test_fallback_source_per_game_and_upstream_missing(phase3_home, tmp_path):
    """Remove the primary player source for a date: the fallback is used and recorded; remove
    every player source: the date is stale (its rows kept) naming the input, and later dates
    are degraded by the gap in their lookback."""
    home = copy_home(phase3_home, tmp_path / "home")
    day = "2022-01-05"
    with open_warehouse(home / "warehouse.duckdb") as wh:
        cols = [c for c in wh.columns("nba_raw.nbac_player_boxscores") if c in wh.columns("nba_raw.nbac_gamebook_player_stats")]
        wh.execute(f"""INSERT INTO nba_raw.nbac_player_boxscores ({', '.join(cols)})
                       SELECT {', '.join(c if c != 'data_source' else "'nba_api'" for c in cols)}
                       FROM nba_raw.nbac_gamebook_player_stats
                       WHERE game_date = '{day}' AND player_status = 'active'""")
        wh.execute(f"DELETE FROM nba_raw.nbac_gamebook_player_stats WHERE game_date = '{day}'")
    r = backfill(home, day, day, skip_downstream_trigger=True)
    pgs = [x for x in r.results if x.processor == "player_game_summary"][0]
    assert pgs.status == "success" and pgs.source_used == "nbac_player_boxscores"
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as wh:
        tiers = wh.tuples(f"SELECT DISTINCT data_source, quality_tier FROM nba_analytics.player_game_summary WHERE game_date = '{day}'")
        assert tiers == [("nbac_player_boxscores", "silver")]
    # Same points per player as the primary gave (the fallback has the same box scores here).
    assert table_differences(home, phase3_home, "nba_analytics.player_game_summary",
                             f"game_date = '{day}' AND NOT is_dnp") > 0   # source/tier columns differ
    with open_warehouse(home / "warehouse.duckdb") as wh:
        kept = wh.scalar(f"SELECT count(*) FROM nba_analytics.player_game_summary WHERE game_date = '{day}'")
        wh.execute(f"DELETE FROM nba_raw.nbac_player_boxscores WHERE game_date = '{day}'")
    r = backfill(home, day, "2022-01-07", skip_downstream_trigger=True)
    by = {(x.processor, x.game_date.isoformat()): x for x in r.results}
    gap = by[("player_game_summary", day)]
    # It cannot run: the rows of the fallback run are kept, and the ledger says they are stale.
    assert gap.status == "stale" and gap.detail.startswith(f"kept {kept} rows of run ")
    assert list(gap.missing_inputs) == ["chain:player_boxscores"] and gap.missing_inputs["chain:player_boxscores"] == [day]
    assert "nbac_gamebook_player_stats" in gap.detail
    # A later date whose lookback lacks it is computed from what exists, and flagged.
    later = by[("upcoming_player_game_context", "2022-01-07")]
    assert later.status == "degraded" and later.missing_inputs == {"player_game_summary": [day]}
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as wh:
        assert wh.scalar(f"SELECT count(*) FROM nba_analytics.player_game_summary WHERE game_date = '{day}'") == kept
    # The team tables still come from the team box score: not blocked by the player gap.
    plan = {(u.processor, u.game_date.isoformat()): u.action for u in r.plan}
    assert plan[("team_offense_game_summary", day)] == "already_done"


def test_no_games_days_are_never_success(phase3_home, tmp_path):
    home = copy_home(phase3_home, tmp_path / "home")
    r = backfill(home, "2021-10-15", "2021-10-18", skip_downstream_trigger=True)
    assert {u.action for u in r.plan} == {"no_games"} and len(r.plan) == 5 * 4
    with open_state(state_at(home)) as st:
        rows = ledger.latest(st, start=dt.date(2021, 10, 15), end=dt.date(2021, 10, 18))
    assert {(r["status"], r["rows"]) for r in rows} == {("no_games", 0)} and len(rows) == 20


def test_shot_zones_link_to_box_score_players(phase3_wh):
    """Shot-chart rows reach the box-score player even where the feeds spell him differently
    ("GG Jackson" / "GG Jackson II", "Xavier Tillman" / "Xavier Tillman Sr."): a player's zone
    attempts equal his field-goal attempts wherever the game has shot data."""
    n, off = phase3_wh.tuples("""
        SELECT count(*), count(*) FILTER (WHERE paint_attempts + mid_range_attempts + three_zone_attempts <> fg_attempts)
        FROM nba_analytics.player_game_summary WHERE has_shot_zones AND NOT is_dnp""")[0]
    assert n > 75000 and off / n < 0.002, (off, n)
    gg = phase3_wh.rows("""SELECT fg_attempts, paint_attempts + mid_range_attempts + three_zone_attempts AS zone_attempts
                           FROM nba_analytics.player_game_summary
                           WHERE player_lookup = 'ggjacksonii' AND has_shot_zones AND fg_attempts > 0""")
    assert len(gg) > 20 and all(r["fg_attempts"] == r["zone_attempts"] for r in gg)
