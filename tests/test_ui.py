"""The dashboard's JSON API and server (`nbapipe serve --ui`), without a browser: shapes and
values against a state store whose contents the test wrote itself, the token, the refusals
(400, 401, 404, 405) and that serving never writes the store. Fast: no warehouse, no data."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import state_at
from typer.testing import CliRunner

from nbapipe import processors as registry
from nbapipe.cli import app
from nbapipe.config import DEFAULT_PHASE2_REQUIRED
from nbapipe.orchestration.worker import WAITING_WAREHOUSE
from nbapipe.state import connect, ledger
from nbapipe.state.ledger import UnitResult
from nbapipe.ui.server import Dashboard, start_in_thread
from nbapipe.validation.report import COLOURS

GAME_DATES = ["2021-10-19", "2021-10-20", "2021-10-21", "2021-10-23", "2021-10-24", "2021-10-25"]
BOOTSTRAP = GAME_DATES[:3]
DAYS = [f"2021-10-{d}" for d in range(19, 26)]          # 2021-10-22: no game
P3 = [n for n, p in registry.all_processors().items() if p.phase == 3]
P4 = [n for n, p in registry.all_processors().items() if p.phase == 4]
D = dt.date.fromisoformat


def _unit(name: str, day: str, status: str, **kw) -> UnitResult:
    return UnitResult(name, registry.get(name).phase, D(day), status, **kw)


@pytest.fixture
def ui_home(tmp_path) -> Path:
    """A state store with a finished Phase 3 run (a partial, a failure and a gap among its
    units), a Phase 4 run in progress (this process, alive), a worker waiting for the
    warehouse, a lease holder and waiter, and one Phase 4 trigger."""
    st = connect(state_at(tmp_path))
    with st.tx() as con:
        con.execute("INSERT INTO calendar_seasons VALUES ('2021-22', 2021, '2021-10-19', '2022-04-10', "
                    "'2021-10-21', 3, '2021-10-19', '2021-10-25', 6, 0)")
        con.executemany("INSERT INTO calendar_dates VALUES (?, '2021-22', 5, 'regular', ?)",
                        [[d, int(d in BOOTSTRAP)] for d in GAME_DATES])
    done = []
    for name in P3:
        for day in DAYS:
            done.append(_unit(name, day, "success" if day in GAME_DATES else "no_games", rows=10, expected=10,
                              source_used="bbref", duration_s=0.25))
    special = {("team_offense_game_summary", "2021-10-23"): dict(status="partial", detail="2 of 30 teams missing"),
               ("player_game_summary", "2021-10-24"): dict(status="failed", error="boom: division by zero"),
               ("upcoming_player_game_context", "2021-10-25"):
                   dict(status="upstream_missing", missing_inputs={"player_game_summary": ["2021-10-24"]})}
    done = [_unit(u.processor, u.game_date.isoformat(), **special[(u.processor, u.game_date.isoformat())])
            if (u.processor, u.game_date.isoformat()) in special else u for u in done]
    done += [_unit(P4[0], d, "bootstrap_skip") for d in BOOTSTRAP] + [_unit(P4[0], "2021-10-23", "success", rows=4)]
    ledger.start_run(st, "run-a", "backfill", "3", D(DAYS[0]), D(DAYS[-1]), len(done))
    ledger.record(st, "run-a", done)
    ledger.finish_run(st, "run-a", "failed")
    ledger.start_run(st, "run-b", "backfill", "4", D(DAYS[0]), D(DAYS[-1]), 0)      # running: our pid
    ledger.record(st, "run-b", [_unit(P4[0], "2021-10-24", "success", rows=5)])
    host, pid, far = socket.gethostname(), os.getpid(), time.time() + 3600
    with st.tx() as con:
        con.execute("INSERT INTO workers (worker_id, host, pid, phases, state, phase, game_date, since, heartbeat_at) "
                    "VALUES ('w1', ?, ?, '3', ?, 3, '2021-10-25', '2021-10-26T00:00:00', ?)",
                    [host, pid, WAITING_WAREHOUSE, time.time()])
        con.execute("INSERT INTO leases VALUES ('warehouse', 'h1', ?, ?, 'backfill phase 4', '2021-10-26T00:00:00', ?)",
                    [host, pid, far])
        con.execute("INSERT INTO lease_waiters VALUES ('h2', 'warehouse', ?, ?, 'w1 phase 3 2021-10-25', "
                    "'2021-10-26T00:00:01', ?)", [host, pid, far])
        con.execute("INSERT INTO phase_triggers (target_phase, game_date, generation, upstream_runs, triggered_at) "
                    "VALUES (4, '2021-10-23', 'g1', '{}', '2021-10-26T00:00:00')")
    st.close()
    return tmp_path


def _serve(home: Path, token: str | None = None, host: str = "127.0.0.1") -> Dashboard:
    server = Dashboard(state_at(home), DEFAULT_PHASE2_REQUIRED, host, 0, token)
    start_in_thread(server)
    return server


@pytest.fixture
def server(ui_home):
    s = _serve(ui_home)
    yield s
    s.shutdown()
    s.server_close()


def get(server_or_url, path: str, headers: dict | None = None, method: str = "GET") -> tuple[int, dict | str]:
    base = server_or_url if isinstance(server_or_url, str) else f"http://127.0.0.1:{server_or_url.server_address[1]}"
    req = urllib.request.Request(base.rstrip("/") + path, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    return status, json.loads(body) if ctype.startswith("application/json") else body.decode()


# --- values -------------------------------------------------------------------------------

@pytest.mark.both_states
def test_units_carry_ledger_statuses_and_live_states(server):
    status, body = get(server, "/api/units?start=2021-10-19&end=2021-10-25")
    assert status == 200
    units = {(u["processor"], u["date"]): u for u in body["units"]}
    assert len(units) == len(registry.all_processors()) * 7
    assert [p["processor"] for p in body["processors"]] == list(registry.all_processors())
    # The finished run: the ledger's latest status, with its entry.
    ok = units[("player_game_summary", "2021-10-23")]
    assert ok["status"] == "success" and ok["ledger"]["rows"] == 10 and ok["ledger"]["source_used"] == "bbref"
    assert ok["ledger"]["duration_s"] == 0.25 and ok["ledger"]["run_id"] == "run-a"
    assert units[("team_offense_game_summary", "2021-10-23")]["ledger"]["detail"] == "2 of 30 teams missing"
    assert units[("team_offense_game_summary", "2021-10-23")]["status"] == "partial"
    failed = units[("player_game_summary", "2021-10-24")]
    assert failed["status"] == "failed" and failed["ledger"]["error"] == "boom: division by zero"
    assert units[("team_offense_game_summary", "2021-10-22")]["status"] == "no_games"
    # Phase 4: bootstrap recorded or derived, the running run's pending units, its recorded one.
    assert units[(P4[0], "2021-10-19")]["status"] == "bootstrap_skip"
    assert units[(P4[1], "2021-10-20")]["status"] == "bootstrap_skip" and "ledger" not in units[(P4[1], "2021-10-20")]
    assert units[(P4[0], "2021-10-23")]["status"] == "success"            # kept: resume does not redo it
    assert units[(P4[0], "2021-10-24")]["status"] == "success"
    assert units[(P4[0], "2021-10-24")]["ledger"]["run_id"] == "run-b"
    for name in P4[1:]:
        for day in ("2021-10-23", "2021-10-24", "2021-10-25"):
            assert units[(name, day)]["status"] == "running"
            assert units[(name, day)]["live"]["run_id"] == "run-b"
    assert units[(P4[1], "2021-10-22")]["status"] == "no_games"
    # The waiting worker (phase 3, 2021-10-25): its unit still to do is waiting, done ones stay.
    gap = units[("upcoming_player_game_context", "2021-10-25")]
    assert gap["status"] == "waiting" and gap["ledger_status"] == "upstream_missing"
    assert gap["ledger"]["missing_inputs"] == {"player_game_summary": ["2021-10-24"]}
    assert units[("player_game_summary", "2021-10-25")]["status"] == "success"


@pytest.mark.both_states
def test_units_phase_filter(server):
    status, body = get(server, "/api/units?start=2021-10-23&end=2021-10-23&phase=4")
    assert status == 200
    assert {u["processor"] for u in body["units"]} == set(P4) and len(body["units"]) == len(P4)


@pytest.mark.both_states
def test_summary_progress_runs_leases_and_legend(server):
    status, s = get(server, "/api/summary?start=2021-10-19&end=2021-10-25")
    assert status == 200
    p3 = next(p for p in s["phases"] if p["phase"] == 3)
    # 5 processors x 6 game dates expected; a partial, a failure and a gap are not done.
    assert (p3["expected"], p3["done"], p3["partial"], p3["failed"], p3["upstream_missing"]) == (30, 27, 1, 1, 1)
    p4 = next(p for p in s["phases"] if p["phase"] == 4)
    assert (p4["expected"], p4["done"], p4["bootstrap"]) == (3 * len(P4), 2, 3 * len(P4))
    assert [r["run_id"] for r in s["runs"]] == ["run-b"] and s["runs"][0]["units"] == 1
    assert s["rate_per_s"] > 0 and s["eta_s"] is not None
    assert s["last_run"]["run_id"] == "run-a" and s["last_run"]["status"] == "failed"
    assert [l["holder"] for l in s["lease_holders"]] == ["h1"]
    assert [l["holder"] for l in s["lease_waiters"]] == ["h2"]
    assert [w["worker_id"] for w in s["workers"]] == ["w1"]
    assert s["calendar"][0]["season"] == "2021-22"
    legend = {l["status"]: l["colour"] for l in s["legend"]}
    assert legend["success"] == "rgb({}, {}, {})".format(*COLOURS["success"])
    assert {"running", "waiting", *COLOURS} == set(legend)
    # Without a range: every season in the calendar.
    assert get(server, "/api/summary")[1]["start_date"] == "2021-10-19"


@pytest.mark.both_states
def test_failures_and_orchestrator(server):
    status, f = get(server, "/api/failures?start=2021-10-19&end=2021-10-25&limit=5")
    assert status == 200
    assert [(x["processor"], x["date"], x["error"]) for x in f["failures"]] == \
        [("player_game_summary", "2021-10-24", "boom: division by zero")]
    status, o = get(server, "/api/orchestrator?start=2021-10-23&end=2021-10-23")
    assert status == 200
    row = next(r for r in o["dates"] if r["phase"] == 4)
    assert row["triggered"] is True and row["trigger_count"] == 1
    assert row["trigger_state"] == "decided, not yet published"
    assert {"reported", "awaited", "blocked", "state", "triggered_at"} <= set(row)


def test_page_and_script_are_served_with_no_outside_sources(server):
    status, page = get(server, "/")
    assert status == 200 and '<script src="/static/app.js">' in page
    status, js = get(server, "/static/app.js")
    assert status == 200 and "/api/units" in js
    for text in (page, js):                       # nothing the page needs comes from the network
        assert "http://" not in text and "https://" not in text


# --- refusals -----------------------------------------------------------------------------

@pytest.mark.parametrize("path, message", [
    ("/api/units?start=2021-13-01&end=2021-10-25", "start must be a date like"),
    ("/api/units?start=2021-10-25&end=2021-10-19", "before start"),
    ("/api/units?start=2021-10-19", "give both start and end"),
    ("/api/units?start=2021-10-19&end=2021-10-25&phase=9", "phase must be one of"),
    ("/api/units?start=2021-10-19&end=2021-10-25&phase=x", "phase must be one of"),
    ("/api/units?start=2015-01-01&end=2021-10-25", "at most"),
    ("/api/summary?sql=SELECT%201", "unknown parameter 'sql'"),
    ("/api/failures?limit=0", "limit must be between"),
    ("/api/failures?start=2021-10-19&start=2021-10-20&end=2021-10-25", "given twice"),
])
def test_malformed_parameters_get_400(server, path, message):
    status, body = get(server, path)
    assert status == 400 and message in body["error"], body


def test_unknown_paths_404_and_writes_405(server):
    assert get(server, "/api/sql")[0] == 404
    assert get(server, "/../state.sqlite")[0] == 404
    for method in ("POST", "PUT", "DELETE"):
        status, body = get(server, "/api/summary", method=method)
        assert status == 405 and "read-only" in body["error"]


def test_token_required_on_every_request(ui_home):
    s = _serve(ui_home, token="s3cret")
    try:
        for path in ("/", "/static/app.js", "/api/summary", "/api/units?start=2021-10-19&end=2021-10-19"):
            assert get(s, path)[0] == 401
            assert get(s, path, {"Authorization": "Bearer wrong"})[0] == 401
            assert get(s, path, {"Authorization": "Bearer s3cret"})[0] == 200
        basic = base64.b64encode(b"anyone:s3cret").decode()      # what a browser sends after asking
        assert get(s, "/", {"Authorization": f"Basic {basic}"})[0] == 200
        assert get(s, "/api/summary", method="POST")[0] == 401   # refused before anything else
    finally:
        s.shutdown()
        s.server_close()


def test_non_loopback_bind_needs_a_token_and_then_refuses_requests_without_it(ui_home):
    with pytest.raises(ValueError, match="requires a token"):
        Dashboard(ui_home / "state.sqlite", DEFAULT_PHASE2_REQUIRED, "0.0.0.0", 0, None)
    s = _serve(ui_home, token="s3cret", host="0.0.0.0")
    try:
        status, body = get(s, "/api/summary")
        assert status == 401 and "token" in body["error"]
        assert get(s, "/api/summary", {"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        s.shutdown()
        s.server_close()
    r = CliRunner().invoke(app, ["--home", str(ui_home), "serve", "--ui", "--host", "0.0.0.0", "--port", "0"],
                           env={"NBAPIPE_UI_TOKEN": ""})
    assert r.exit_code == 2 and "requires a token" in r.output


def _fingerprint(home: Path) -> tuple[str, int]:
    """The database file's hash and the WAL's size. A WAL reader creates the -shm index (and
    an empty -wal) to read; a write would change the file or add frames to the WAL."""
    wal = home / "state.sqlite-wal"
    return (hashlib.sha256((home / "state.sqlite").read_bytes()).hexdigest(),
            wal.stat().st_size if wal.exists() else 0)


def test_serving_writes_nothing(server, ui_home):
    before = _fingerprint(ui_home)
    for path in ("/", "/api/summary", "/api/units", "/api/orchestrator", "/api/failures",
                 "/api/units?start=2021-10-19&end=2021-10-25&phase=3"):
        assert get(server, path)[0] == 200
    assert _fingerprint(ui_home) == before and before[1] == 0
    ro = connect(ui_home / "state.sqlite", read_only=True)
    try:
        with pytest.raises(sqlite3.OperationalError):
            ro.con.execute("DELETE FROM run_ledger")
    finally:
        ro.close()


@pytest.mark.parametrize("flag", ["--ui-only", "--ui"])
def test_cli_serves_the_dashboard_until_sigterm(ui_home, flag):
    """`nbapipe serve --ui-only` (alone) and `--ui` (beside the orchestrators and a worker) as
    users run them: print the address, answer, stop on SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "nbapipe.cli", "--home", str(ui_home), "serve", flag,
                             "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "dashboard: http://127.0.0.1:" in line, line
        url = line.split()[1]
        status, s = get(url, "/api/summary")
        assert status == 200 and s["runs"][0]["run_id"] == "run-b"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
