"""Failure containment on the real data (issue 14): one bad date of a ~200-date Phase 3+4 run
fails that date only, keeps every earlier row, degrades the later dates whose lookback holds
it, and comes back complete once the row is fixed."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import PHASE3_TABLES, PHASE4_TABLES, copy_home, state_at, table_differences
from nbapipe.calendar import Calendar
from nbapipe.orchestration.backfill import run_backfill
from nbapipe.orchestration.runner import Request
from nbapipe.state import ledger, open_state
from nbapipe.ui.api import legend
from nbapipe.validation.monitor import snapshot
from nbapipe.validation.verify import verify
from nbapipe.warehouse import open_warehouse
from nbapipe.workspace import Workspace

pytestmark = pytest.mark.realdata

TABLES = PHASE3_TABLES + list(PHASE4_TABLES)
TOGS = "team_offense_game_summary"
# Units that read TOGS on the date itself, and those whose season lookback holds it.
ON_DATE = {"team_defense_game_summary", "player_game_summary"}
LOOKBACK = {"upcoming_player_game_context", "team_defense_zone_analysis", "player_shot_zone_analysis",
            "player_composite_factors", "player_daily_cache", "ml_feature_store"}


def _range(home) -> tuple[list[dt.date], dt.date, set[dt.date]]:
    """The first 200 game dates of 2022-23 onwards, a mid-season date, and the later dates
    of its season (whose season lookback holds it)."""
    with open_state(state_at(home)) as st:
        cal = Calendar.from_state(st)
    dates = [d for d in sorted(cal.dates) if d >= dt.date(2022, 10, 18) and cal.is_game_date(d)][:200]
    bad = dates[100]
    later = {d for d in dates if d > bad and cal.season_of(d) == cal.season_of(bad)}
    assert len(dates) == 200 and len(later) > 50
    return dates, bad, later


def _run(home, dates, **kw):
    events = []
    ws = Workspace.at(home)
    try:
        report = run_backfill(ws, Request(dates=dates, phases=[3, 4], skip_downstream_trigger=True, **kw),
                              on_event=lambda kind, info: events.append((kind, info)))
    finally:
        ws.close()
    return report, [info for kind, info in events if kind == "processor_bisect"]


def _latest(home, dates):
    with open_state(state_at(home)) as st:
        return ledger.latest_map(st, start=dates[0], end=dates[-1], processors=[*ON_DATE, *LOOKBACK, TOGS,
                                 "upcoming_team_game_context"])


def _problems(home, dates) -> dict[str, set]:
    ws = Workspace.at(home)
    try:
        r = verify(ws, dates[0], dates[-1])
    finally:
        ws.close()
    out: dict[str, set] = {}
    for p in r["problems"]:
        out.setdefault(p["kind"], set()).update((p["table"], d) for d in p["dates"])
    return out


def _check_contained(home, prepared, dates, bad, later, report, error_words):
    """The run after the fault: only `bad` fails, nothing is deleted, later dates are degraded."""
    before = _latest(prepared, dates)
    after = {(r.processor, r.game_date): r for r in report.results}
    iso = bad.isoformat()
    # One failed unit: the team offence of that date, naming what went wrong.
    assert [(r.processor, r.game_date) for r in report.failed] == [(TOGS, bad)]
    failed = after[(TOGS, bad)]
    for w in error_words:
        assert w in failed.error, failed.error
    prior_run = before[(TOGS, bad)]["run_id"]
    assert failed.detail.startswith(f"kept {before[(TOGS, bad)]['rows']} rows of run {prior_run}; this unit failed:")
    # 199 dates of the same statement succeed (as they did in the prepared home).
    togs = [after[(TOGS, d)] for d in dates if d != bad]
    assert len(togs) == 199 and all(r.status == before[(TOGS, r.game_date)]["status"] for r in togs)
    assert {r.status for r in togs} <= {"success", "partial"}
    for (name, d), r in after.items():
        was = before[(name, d)]["status"]
        if (name, d) == (TOGS, bad):
            continue
        if name in ON_DATE and d == bad:
            # Could not run: its rows of the earlier run are kept, and said to be.
            assert r.status == "stale", (name, d, r.status)
            assert r.detail == (f"kept {before[(name, d)]['rows']} rows of run {before[(name, d)]['run_id']}; "
                                f"upstream {TOGS} failed on this date")
        elif name in LOOKBACK and d in later and was in ("success", "partial"):
            # Computed from what exists, naming the gap of its lookback.
            assert r.status == "degraded", (name, d, r.status)
            assert iso in sum(r.missing_inputs.values(), []), (name, d, r.missing_inputs)
            assert r.rows == before[(name, d)]["rows"]
        else:
            assert r.status == was, (name, d, r.status, was)
    # Nothing good was deleted or changed: every table identical to the prepared home, except
    # upcoming_player_game_context on its degraded dates: its pre-game universe is each team's
    # last roster, read from the raw box scores the fault itself sits in (computed from what
    # exists, as `degraded` says; the resume below restores those rows too).
    upc_degraded = sorted({d for (name, d), r in after.items()
                           if name == "upcoming_player_game_context" and r.status == "degraded"})
    for table in TABLES:
        where = "true"
        if table == "nba_analytics.upcoming_player_game_context" and upc_degraded:
            where = "game_date NOT IN (" + ", ".join(f"DATE '{d}'" for d in upc_degraded) + ")"
        assert table_differences(home, prepared, table, where) == 0, table
    # The monitor (and the dashboard, which serves its snapshot) count stale and degraded apart.
    with open_state(state_at(home)) as st:
        snap = snapshot(st, Calendar.from_state(st), dates[0], dates[-1])
    phases = {p["phase"]: p for p in snap["phases"]}
    degraded = [r for r in report.results if r.status == "degraded"]
    assert (phases[3]["failed"], phases[3]["stale"]) == (1, 2)
    assert phases[3]["degraded"] + phases[4]["degraded"] == len(degraded)
    assert {"stale", "degraded"} <= {x["status"] for x in legend()}
    # verify fails on the failure, the kept-stale rows and the degraded dates.
    problems = _problems(home, dates)
    assert ("nba_analytics.team_offense_game_summary", iso) in problems["failed"]
    assert problems["stale"] == {("nba_analytics.team_defense_game_summary", iso),
                                 ("nba_analytics.player_game_summary", iso)}
    assert ("nba_analytics.upcoming_player_game_context", dates[101].isoformat()) in problems["degraded"]


def _check_recovered(home, prepared, dates, bad, first, report):
    """Resume after the fix: the bad date and its stale units succeed, the degraded dates are
    recomputed (their fingerprints hold the new run id), the rest stays already done."""
    degraded = {(r.processor, r.game_date) for r in first.results if r.status == "degraded"}
    plan = {(u.processor, u.game_date): u.action for u in report.plan}
    after = {(r.processor, r.game_date): r.status for r in report.results}
    assert not report.failed
    assert after[(TOGS, bad)] in ("success", "partial")
    for name in ON_DATE:
        assert after[(name, bad)] in ("success", "partial")
    assert degraded and all(plan[k] == "run" and after[k] in ("success", "partial") for k in degraded)
    # Recomputed: what was degraded, and the units of the bad date (whose fingerprint holds the
    # date's own upstream run ids); every other unit is already done.
    redone = {k for k, a in plan.items() if a == "run"}
    assert {(TOGS, bad)} | {(n, bad) for n in ON_DATE} <= redone
    assert all(k in degraded or k[1] == bad for k in redone), sorted(redone - degraded)[:5]
    assert {a for k, a in plan.items() if k not in redone} <= {"already_done", "no_games", "bootstrap_skip"}
    for table in TABLES:
        assert table_differences(home, prepared, table) == 0, table
    problems = _problems(home, dates)
    assert not {"failed", "stale", "degraded"} & set(problems), problems


def test_a_duplicated_key_fails_only_its_date(phase4_home, tmp_path):
    home = copy_home(phase4_home, tmp_path / "home")
    dates, bad, later = _range(home)
    with open_warehouse(home / "warehouse.duckdb") as wh:
        team = wh.scalar("SELECT min(team_abbr) FROM nba_raw.nbac_team_boxscore WHERE game_date = ?", [bad])
        # The same team game again under a malformed game id: two rows for (game_date, team_abbr).
        wh.execute("INSERT INTO nba_raw.nbac_team_boxscore SELECT * REPLACE (game_id || 'X' AS game_id) "
                   "FROM nba_raw.nbac_team_boxscore WHERE game_date = ? AND team_abbr = ?", [bad, team])
    report, bisects = _run(home, dates, resume=False)
    assert bisects == []                  # a failed check costs no extra statement
    _check_contained(home, phase4_home, dates, bad, later, report,
                     ["DuplicateKeys", TOGS, bad.isoformat(), f"({bad}, {team})", "1 duplicate key"])
    # --strict-lookback keeps the refusal: the later dates lack their lookback, so they do not
    # run; they keep their rows (stale), and so do the Phase 4 units that read them.
    strict, _ = _run(home, dates, strict_lookback=True)
    by = {(r.processor, r.game_date): r for r in strict.results}
    nxt = by[("upcoming_player_game_context", dates[101])]
    assert nxt.status == "stale" and nxt.missing_inputs["player_game_summary"] == [bad.isoformat()]
    assert nxt.detail.startswith("kept ") and f"upstream player_game_summary is stale on {bad}" in nxt.detail
    assert by[("player_composite_factors", dates[101])].status == "stale"
    assert [(r.processor, r.game_date) for r in strict.failed] == [(TOGS, bad)]
    for table in TABLES:
        assert table_differences(home, phase4_home, table) == 0, table

    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute("DELETE FROM nba_raw.nbac_team_boxscore WHERE game_date = ? AND game_id LIKE '%X'", [bad])
    again, _ = _run(home, dates)
    _check_recovered(home, phase4_home, dates, bad, report, again)


def test_a_value_that_makes_the_sql_raise_is_bisected_to_its_date(phase4_home, tmp_path):
    home = copy_home(phase4_home, tmp_path / "home")
    dates, bad, later = _range(home)
    with open_warehouse(home / "warehouse.duckdb") as wh:
        team, ot = wh.tuples("SELECT team_abbr, overtime_periods FROM nba_raw.nbac_team_boxscore "
                             "WHERE game_date = ? ORDER BY team_abbr LIMIT 1", [bad])[0]
        # game_minutes = 48 + 5 * overtime_periods overflows INT32: the statement raises.
        wh.execute("UPDATE nba_raw.nbac_team_boxscore SET overtime_periods = 2147483647 "
                   "WHERE game_date = ? AND team_abbr = ?", [bad, team])
    report, bisects = _run(home, dates, resume=False)
    # Only the team offence bisected, halving 200 dates down to one: one bisection per level
    # (8 or 9 levels, each rerunning two halves), the good halves written on the way.
    assert {b["processor"] for b in bisects} == {TOGS} and 7 <= len(bisects) <= 9
    _check_contained(home, phase4_home, dates, bad, later, report, ["OutOfRangeException", "Overflow"])

    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute("UPDATE nba_raw.nbac_team_boxscore SET overtime_periods = ? "
                   "WHERE game_date = ? AND team_abbr = ?", [ot, bad, team])
    again, _ = _run(home, dates)
    _check_recovered(home, phase4_home, dates, bad, report, again)


def test_a_stop_request_is_not_a_failure_and_is_not_bisected(phase3_home, tmp_path):
    """The statement raises while a stop is requested (as an interrupted statement does): the
    run stops with Cancelled, records no unit failed, and writes nothing more."""
    from nbapipe import cancel
    home = copy_home(phase3_home, tmp_path / "home")
    dates, bad, _ = _range(home)
    dates = dates[90:110]
    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute("UPDATE nba_raw.nbac_team_boxscore SET overtime_periods = 2147483647 WHERE game_date = ?", [bad])
    with open_state(state_at(home)) as st:
        before = ledger.latest_map(st, start=dates[0], end=dates[-1])
    events = []

    def stop_at_team_offence(kind, info):
        events.append(kind)
        if kind == "processor_start" and info["processor"] == TOGS:
            cancel.request("test stop", 130)

    ws = Workspace.at(home)
    try:
        with pytest.raises(cancel.Cancelled):
            run_backfill(ws, Request(dates=dates, phases=[3], resume=False, skip_downstream_trigger=True),
                         on_event=stop_at_team_offence)
    finally:
        cancel.reset()
        ws.close()
    assert "processor_bisect" not in events and "processor_failed" not in events
    with open_state(state_at(home)) as st:
        after = ledger.latest_map(st, start=dates[0], end=dates[-1])
    assert after == before
    for table in PHASE3_TABLES:
        assert table_differences(home, phase3_home, table) == 0, table
