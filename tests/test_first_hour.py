"""A new user's first hour (issue 18), on the synthetic league's quickstart home (built once per
module, copied by tests that write): honest exit codes, readable piped output, messages that
point the right way. Each test asserts the exit code and the line a user reads, and what the
ledger or tables hold."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys

import pytest
from typer.testing import CliRunner

from conftest import copy_home
from nbapipe import __version__, quickstart
from nbapipe.calendar import Calendar, date_runs, dates_text
from nbapipe.cli import app
from nbapipe.state import ledger
from nbapipe.state.ledger import UnitResult
from nbapipe.workspace import Workspace

WINDOW = ("2021-10-15", "2021-10-28")
D = dt.date.fromisoformat


def cli(home, *args):
    r = CliRunner().invoke(app, ["--home", str(home), *args])
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """`nbapipe quickstart` without a data folder: the synthetic league over the guide's window."""
    home = tmp_path_factory.mktemp("first-hour") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(quickstart, "resolve_data_dir", lambda data: None)
        r = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert r.exit_code == 0, r.output
    return home


@pytest.fixture
def home(demo_home, tmp_path):
    return copy_home(demo_home, tmp_path / "home")


def _ws(home):
    return Workspace.at(home)


# --- 1. exit 0 for nothing done -------------------------------------------------------------

def test_predict_and_grade_without_features_fail_and_say_what_to_run_first(home):
    code, out, err = cli(home, "predict", "--start-date", "2021-11-15", "--end-date", "2021-11-29")
    assert code == 1, out + err
    assert "nothing was done:" in err and "lack inputs (ml_feature_store)" in err
    assert ("Run the Phase 3 and 4 backfill of 2021-22 first: `nbapipe backfill --phase 3 --start-date 2021-10-19 "
            "--end-date 2021-11-28` then `nbapipe backfill --phase 4") in err
    ws = _ws(home)
    try:
        rows = ledger.latest(ws.state, start=D("2021-11-15"), end=D("2021-11-29"), processors=["player_prop_predictions"])
        assert rows and {r["status"] for r in rows} <= {"upstream_missing", "no_games"}
    finally:
        ws.close()
    code, out, err = cli(home, "grade", "--start-date", "2021-11-15", "--end-date", "2021-11-29")
    assert code == 1
    assert "no graded predictions in this range:" in err and "Run the Phase 3 and 4 backfill of 2021-22 first" in err


# --- 3. status piped --------------------------------------------------------------------------

def test_status_piped_keeps_whole_values_and_json_carries_the_lease(home):
    code, out, _ = cli(home, "status", "--start-date", "2021-10-26", "--end-date", "2021-10-27")
    assert code == 0
    unit_rows = [l for l in out.splitlines() if "2021-10-26" in l]
    assert len(unit_rows) == 12                       # one row per unit, the date whole
    assert any("upcoming_player_game_context" in l and "success" in l for l in unit_rows)
    assert "…" not in out
    code, wide, _ = cli(home, "status", "--wide", "--start-date", "2021-10-26", "--end-date", "2021-10-27")
    assert code == 0 and "│ 2021-10-26 │" in wide and "team_defense_zone_analysis" in wide and "…" not in wide
    ws = _ws(home)
    try:
        with ws.writer("a backfill in another terminal"):
            code, text, _ = cli(home, "status", "--dates", "2021-10-26", "--json")
    finally:
        ws.close()
    body = json.loads(text)
    assert code == 0 and set(body) == {"units", "lease_holders", "lease_waiters"}
    assert [h["purpose"] for h in body["lease_holders"]] == ["a backfill in another terminal"]
    assert body["lease_waiters"] == [] and len(body["units"]) == 12


# --- 4. verify checks every phase --------------------------------------------------------------

def test_verify_checks_every_phase_and_says_so(home):
    code, out, _ = cli(home, "verify", "--start-date", WINDOW[0], "--end-date", WINDOW[1])
    assert out.splitlines()[0] == f"verify: phases 3, 4, 5 over {WINDOW[0]}..{WINDOW[1]}"
    assert "nba_predictions." not in out.split("└")[-1]        # Phase 5's warm-up is no problem
    ws = _ws(home)
    try:
        ledger.record(ws.state, "test-gap", [UnitResult("player_prop_predictions", 5, D("2021-10-28"), "upstream_missing",
                                                        missing_inputs={"ml_feature_store": ["2021-10-28"]})])
    finally:
        ws.close()
    code, out, _ = cli(home, "verify", "--start-date", WINDOW[0], "--end-date", WINDOW[1])
    assert code == 1 and "missing nba_predictions.player_prop_predictions on 2021-10-28" in out
    code, out, _ = cli(home, "verify", "--start-date", WINDOW[0], "--end-date", WINDOW[1], "--phase", "4")
    assert code == 0 and out.splitlines()[0] == f"verify: phases 4 over {WINDOW[0]}..{WINDOW[1]}"


# --- 5. --version ------------------------------------------------------------------------------

def test_version_prints_the_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout == f"nbapipe {__version__}\n"


# --- 6. the demo's model warm-up ---------------------------------------------------------------

def test_demo_counts_the_model_warm_up_as_expected_not_missing(demo_home):
    ws = _ws(demo_home)
    try:
        rows = ledger.latest(ws.state, start=D(WINDOW[0]), end=D(WINDOW[1]), phase=5)
    finally:
        ws.close()
    after_bootstrap = [r for r in rows if r["game_date"] > "2021-10-25" and r["status"] != "no_games"]
    assert after_bootstrap and {r["status"] for r in after_bootstrap} == {"warmup"}
    detail = next(r["detail"] for r in after_bootstrap if r["processor"] == "player_prop_predictions")
    assert re.match(r"model warm-up: 0 labelled feature rows before 2021-10-01, a model needs 500; "
                    r"(the first trainable month is 2021-11|no month is trainable yet)", detail), detail
    code, out, _ = cli(demo_home, "monitor", "--start-date", WINDOW[0], "--end-date", WINDOW[1], "--json")
    phase5 = [p for p in json.loads(out)["phases"] if p["phase"] == 5][0]
    assert code == 0 and phase5["upstream_missing"] == 0 and phase5["warmup"] == len(after_bootstrap)


# --- 7. messages that point the right way -----------------------------------------------------

def test_date_lists_never_bridge_a_gap():
    assert date_runs(["2021-10-15", "2021-10-16", "2021-10-17", "2021-10-18"]) == "2021-10-15..2021-10-18"
    assert date_runs(["2021-11-25", "2021-12-24", "2022-02-18", "2022-02-19", "2022-02-20", "2024-06-30"]) == \
        "first 2021-11-25, last 2024-06-30, in 4 separate spans"
    assert dates_text(["2021-10-19", "2021-10-25", "2021-10-26", "2021-10-27"]) == "4 dates (2021-10-19, 2021-10-25..2021-10-27)"


def test_a_job_names_upstream_only_when_it_runs_it(home):
    code, out, err = cli(home, "backfill", "--processors", "upcoming_player_game_context",
                         "--start-date", WINDOW[0], "--end-date", WINDOW[1], "--no-resume")
    assert code == 0, out + err
    assert "first running missing required upstream" not in err     # done already: not missing
    ws = _ws(home)
    try:
        with ws.writer("test: delete a slice") as wh:
            wh.execute("DELETE FROM nba_analytics.team_offense_game_summary WHERE game_date = '2021-10-26'")
        ledger.record(ws.state, "test-del", [UnitResult("team_offense_game_summary", 3, D("2021-10-26"), "failed", error="gone")])
    finally:
        ws.close()
    code, out, err = cli(home, "backfill", "--processors", "upcoming_player_game_context",
                         "--start-date", WINDOW[0], "--end-date", WINDOW[1])
    assert code == 0, out + err
    assert "first running missing required upstream: team_offense_game_summary (1 units)" in err


def test_a_failed_processor_counts_its_units(home, monkeypatch):
    from nbapipe.orchestration import runner

    def broken(self, wh, p, dates):
        raise RuntimeError("disk full")
    monkeypatch.setattr(runner.Runner, "_prepare", broken)
    code, out, err = cli(home, "backfill", "--processors", "team_offense_game_summary",
                         "--start-date", "2021-10-26", "--end-date", "2021-10-28", "--no-resume")
    assert code == 1
    assert "phase 3 team_offense_game_summary: failed (2 units) RuntimeError: disk full" in err


def test_verify_on_the_other_engine_says_so(demo_home):
    from nbapipe.processors import get
    from nbapipe.validation import verify as v
    from nbapipe.validation.coverage import processor_coverage
    from nbapipe.warehouse import ensure_schema, open_warehouse
    ws = _ws(demo_home)
    try:
        cal = Calendar.from_state(ws.state)
        with open_warehouse(None) as empty, ws.reader() as duck:      # an engine without these tables
            ensure_schema(empty)
            coverage = processor_coverage(ws.state, cal, D(WINDOW[0]), D(WINDOW[1]), phases=[3], wh=empty)
            assert "deleted since?" in coverage[0]["missing_reasons"]["2021-10-26"]
            v._other_engine_reasons(coverage, duck, D(WINDOW[0]), D(WINDOW[1]))
    finally:
        ws.close()
    assert coverage[0]["missing_reasons"]["2021-10-26"].startswith("built on the other engine")
    assert get(coverage[0]["processor"]).phase == 3


def test_monitor_eta_uses_each_phases_own_rate(home):
    from nbapipe.validation.monitor import snapshot
    ws = _ws(home)
    try:
        st = ws.state
        # An earlier run computed Phase 5 at 1 unit/s; the run in progress does Phase 3 fast.
        ledger.record(st, "old-p5", [UnitResult("player_prop_predictions", 5, D("2021-10-26"), "warmup",
                                                started_at="2021-10-30T00:00:00.000+00:00")])
        with st.tx() as con:
            con.execute("UPDATE run_ledger SET finished_at = '2021-10-30T00:00:01.000+00:00' WHERE run_id = 'old-p5'")
        ledger.start_run(st, "now-run", "backfill", "3,5", D(WINDOW[0]), D(WINDOW[1]), 0)
        ledger.record(st, "now-run", [UnitResult("team_offense_game_summary", 3, D("2021-10-26"), "success", rows=10,
                                                 started_at=ledger.now_iso())])
        with st.tx() as con:
            con.execute("DELETE FROM run_ledger WHERE processor = 'player_prop_predictions' AND game_date = '2021-10-28' "
                        "AND run_id <> 'old-p5'")
            con.execute("UPDATE run_ledger SET status = 'upstream_missing' WHERE processor = 'prediction_accuracy'")
        snap = snapshot(st, Calendar.from_state(st), D(WINDOW[0]), D(WINDOW[1]))
    finally:
        ws.close()
    p5 = [p for p in snap["phases"] if p["phase"] == 5][0]
    assert p5["remaining"] > 0 and p5["rate_per_s"] == 1.0 and p5["eta_s"] == p5["remaining"]
    assert snap["eta_s"] >= p5["remaining"]


# --- 8. the dashboard's first view ------------------------------------------------------------

def test_dashboard_opens_on_recent_activity_and_draws_a_no_resume_run(home):
    from nbapipe.ui import api
    ws = _ws(home)
    try:
        st = ws.state
        cal = Calendar.from_state(st)
        assert api.summary(st, cal, D(WINDOW[0]), D(WINDOW[1]))["latest_activity_season"] == "2021-22"
        # A --no-resume run in progress (this process) that has recomputed one done unit so far.
        ledger.start_run(st, "again", "backfill", "3", D(WINDOW[0]), D(WINDOW[1]), 0)
        ten_s_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=10)).isoformat(timespec="milliseconds")
        ledger.record(st, "again", [UnitResult("team_offense_game_summary", 3, D("2021-10-26"), "success", rows=10,
                                               started_at=ten_s_ago)])
        units = {(u["processor"], u["date"]): u for u in api.units(st, cal, D(WINDOW[0]), D(WINDOW[1]), 3)["units"]}
        snap = api.summary(st, cal, D(WINDOW[0]), D(WINDOW[1]))
    finally:
        ws.close()
    assert units[("player_game_summary", "2021-10-28")]["status"] == "running"
    assert units[("player_game_summary", "2021-10-28")]["ledger_status"] == "success"
    assert units[("team_offense_game_summary", "2021-10-26")]["status"] == "success"      # recorded by the run
    p3 = [p for p in snap["phases"] if p["phase"] == 3][0]
    assert p3["done"] == p3["expected"] and p3["remaining"] == p3["expected"] - 1      # all done once, 1 redone
    assert snap["eta_s"] is not None and snap["eta_s"] >= 100


def test_dashboard_logs_a_disconnect_in_one_line(demo_home, capsys):
    from nbapipe.ui.server import Dashboard
    server = Dashboard(demo_home / "state.sqlite", "nbac_gamebook_player_stats", "127.0.0.1", 0)
    try:
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            server.handle_error(None, ("127.0.0.1", 5555))
    finally:
        server.server_close()
    err = capsys.readouterr().err
    assert err == "dashboard: 127.0.0.1 disconnected before the answer was sent\n"


def test_report_axis_names_the_year_and_numbers_have_separators(home):
    from nbapipe.validation import report
    texts = []

    class Draw:
        def text(self, xy, s, **kw):
            texts.append(s)

        def line(self, *a, **kw):
            pass
    report._x_axis(Draw(), [D("2021-10-30") + dt.timedelta(days=i) for i in range(200)], 2, 0, None)
    assert "Oct 2021" in texts and "Jan 2022" in texts and not any(re.fullmatch(r"[A-Z][a-z]{2} \d\d", t) for t in texts)
    code, out, _ = cli(home, "report", "--start-date", WINDOW[0], "--end-date", WINDOW[1], "--json")
    assert code == 0
    page = open(json.loads(out)["html"], encoding="utf-8").read()
    ws = _ws(home)
    try:
        phase3 = ledger.latest(ws.state, start=D(WINDOW[0]), end=D(WINDOW[1]), phase=3)
    finally:
        ws.close()
    total = sum(r["rows"] for r in phase3)
    assert total >= 1000 and f"<td>{total:,}</td>" in page


# --- 9. small CLI points -----------------------------------------------------------------------

def test_global_options_after_the_command_and_plain_help(demo_home):
    r = CliRunner().invoke(app, ["status", "--home", str(demo_home), "--dates", "2021-10-26"])
    assert r.exit_code == 0 and "upcoming_player_game_context" in r.stdout
    r = CliRunner().invoke(app, ["status", f"--home={demo_home}", "--dates", "2021-10-26", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["units"]) == 12
    r = CliRunner().invoke(app, ["backfill", "--help"])
    assert r.exit_code == 0 and "<bool>" not in r.stdout
    assert re.search(r"^  --dry-run +Print the plan", r.stdout, flags=re.M)
    r = CliRunner().invoke(app, ["--help"])
    assert "[default ./.nbapipe]" in " ".join(r.stdout.split())          # brackets printed as written, not eaten as markup
