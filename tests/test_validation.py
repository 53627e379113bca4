"""Validation and monitoring on the real data: preflight, verify, checks, monitor, report and
the guide's entry scripts. Every tool must tell no games, bootstrap skip, gap (which input),
failed (why) and complete apart, and never count the first two as missing."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from conftest import backfill, copy_home, state_at
from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.cli import app
from nbapipe.config import REPO_ROOT
from nbapipe.state import ledger, open_state
from nbapipe.state.ledger import UnitResult
from nbapipe.validation.checks import run_checks
from nbapipe.validation.coverage import days_between
from nbapipe.warehouse import open_warehouse
from nbapipe.workspace import Workspace

GUIDE = ("2021-10-15", "2021-10-28")
D = dt.date.fromisoformat


def cli(home, *args):
    r = CliRunner().invoke(app, ["--home", str(home), *args])
    return r.exit_code, r.output


def cli_json(home, *args):
    code, text = cli(home, *args, "--json")
    return code, json.loads(text)


@pytest.fixture
def guide_home(phase3_home, tmp_path):
    """Phase 3 everywhere, then Phase 4 and 5 over the guide's window (a private copy; Phase 5
    is its model warm-up there, so `verify`, which checks every phase, finds it complete)."""
    home = copy_home(phase3_home, tmp_path / "home")
    report = backfill(home, *GUIDE, phases=[4, 5], skip_downstream_trigger=True)
    assert not report.failed
    return home


# --- preflight ---------------------------------------------------------------------------

@pytest.mark.realdata
def test_preflight_guide_window_on_a_fresh_ingest(real_home):
    code, r = cli_json(real_home, "preflight", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert code == 0
    assert r["days"] == 14 and (r["start_date"], r["end_date"]) == GUIDE
    assert r["no_game_dates"] == ["2021-10-15", "2021-10-16", "2021-10-17", "2021-10-18"]
    assert r["game_dates"] == [f"2021-10-{d}" for d in range(19, 29)]
    assert r["bootstrap_dates"] == [f"2021-10-{d}" for d in range(19, 26)]
    # Per phase, what the backfill will do: computed from the calendar for every phase, so a
    # phase whose processors skip the bootstrap window expects only Oct 26-28.
    cal = Calendar.from_state(Workspace.at(real_home).state)
    game = cal.game_dates(D(GUIDE[0]), D(GUIDE[1]))
    past_bootstrap = [d.isoformat() for d in game if not cal.is_bootstrap(d)]
    assert past_bootstrap == ["2021-10-26", "2021-10-27", "2021-10-28"]
    procs = registry.all_processors().values()
    for plan in [p for p in r["plan"] if p["phase"] in (3, 4)]:        # the guide's phases
        skips = all(p.bootstrap_skip for p in procs if p.phase == plan["phase"])
        assert plan["dates"]["no_games"] == r["no_game_dates"]
        assert plan["dates"]["run"] == (past_bootstrap if skips else r["game_dates"]), plan["phase"]
        assert plan["dates"]["bootstrap_skip"] == (r["bootstrap_dates"] if skips else [])
        assert plan["counts"]["upstream_missing"] == 0
    assert {p["phase"]: p["counts"]["run"] for p in r["plan"]}[3] == 10
    if 4 in registry.phases():
        assert {p["phase"]: (p["counts"]["run"], p["counts"]["bootstrap_skip"]) for p in r["plan"]}[4] == (3, 7)
    tables = {t["table"]: t for t in r["tables"]}
    pgs = tables["nba_analytics.player_game_summary"]
    assert (pgs["expected"], pgs["present"], pgs["rows"]) == (10, 0, 0)
    assert set(pgs["missing"]) == set(r["game_dates"])
    assert pgs["missing_reasons"]["2021-10-19"] == "not run yet; will run"
    for t in r["tables"]:
        if t["phase"] >= 3:
            p = registry.get(t["processor"])
            assert t["expected"] == (3 if p.bootstrap_skip else 10), t["table"]
    gamebook = tables["nba_raw.nbac_gamebook_player_stats"]
    assert (gamebook["expected"], gamebook["present"], gamebook["rows"]) == (10, 10, 2350)


@pytest.mark.realdata
def test_preflight_text_verbose_and_single_date(real_home):
    code, text = cli(real_home, "preflight", "--date", "2021-10-17", "--phase", "3", "-v")
    assert code == 0
    assert "window 2021-10-17..2021-10-17: 1 days, 0 game dates, 1 without games (2021-10-17)" in text
    assert "nba_raw" not in text              # --phase 3: only its tables
    code, text = cli(real_home, "preflight", "--start-date", "2021-10-19", "--end-date", "2021-10-20", "-v")
    assert code == 0
    assert "2021-10-20 nba_analytics.player_game_summary: not run yet; will run" in text
    assert "phase 3: will process 2, already done 0, bootstrap skip 0, lack inputs 0, no games 0" in text
    # Later in the week, the season-long lookback of the context processors is not there yet:
    # they will run from what exists, degraded, naming the dates they do without.
    code, r = cli_json(real_home, "preflight", "--start-date", "2021-10-25", "--end-date", "2021-10-26")
    phase3 = {p["phase"]: p for p in r["plan"]}[3]
    assert (phase3["counts"]["degraded"], phase3["counts"]["upstream_missing"]) == (2, 0)
    assert phase3["missing_inputs"]["player_game_summary"] == [f"2021-10-{d}" for d in range(19, 25)]
    upc = {t["table"]: t for t in r["tables"]}["nba_analytics.upcoming_player_game_context"]
    assert upc["missing_reasons"]["2021-10-25"].startswith(
        "not run yet; will run; degraded: its lookback lacks player_game_summary on 6 dates (2021-10-19..2021-10-24)")
    code, text = cli(real_home, "preflight", "--date", "2021-10-17", "--start-date", "2021-10-17")
    assert code == 2 and "not both" in text


@pytest.mark.both_states
@pytest.mark.realdata
def test_preflight_phase2_names_the_fallback_and_phase3_the_missing_input(phase3_home, tmp_path):
    """Move one date's player box scores to the fallback source, remove another's entirely."""
    home = copy_home(phase3_home, tmp_path / "home")
    moved, gone = "2022-01-05", "2022-01-06"
    with open_warehouse(home / "warehouse.duckdb") as wh:
        cols = [c for c in wh.columns("nba_raw.nbac_player_boxscores") if c in wh.columns("nba_raw.nbac_gamebook_player_stats")]
        wh.execute(f"INSERT INTO nba_raw.nbac_player_boxscores ({', '.join(cols)}) SELECT {', '.join(cols)} "
                   f"FROM nba_raw.nbac_gamebook_player_stats WHERE game_date = '{moved}' AND player_status = 'active'")
        wh.execute(f"DELETE FROM nba_raw.nbac_gamebook_player_stats WHERE game_date IN ('{moved}', '{gone}')")
    code, r = cli_json(home, "preflight", "--start-date", "2022-01-04", "--end-date", "2022-01-07", "--phase", "2")
    assert code == 0 and {t["phase"] for t in r["tables"]} == {2}
    primary = {t["table"]: t for t in r["tables"]}["nba_raw.nbac_gamebook_player_stats"]
    assert primary["missing"] == [moved, gone] and primary["fallback_covers"] == [moved]
    assert "fallback available: nba_raw.nbac_player_boxscores" in primary["missing_reasons"][moved]
    assert primary["missing_reasons"][gone] == "no rows in this source"
    # Rerun Phase 3 there: the gap is recorded with its input, and preflight explains it.
    backfill(home, "2022-01-05", "2022-01-06", phases=[3], skip_downstream_trigger=True)
    code, r = cli_json(home, "preflight", "--start-date", "2022-01-04", "--end-date", "2022-01-07", "--phase", "3")
    pgs = {t["table"]: t for t in r["tables"]}["nba_analytics.player_game_summary"]
    assert pgs["missing"] == [gone]
    # Its rows of the earlier run are kept, and are not fresh: missing, and said why.
    assert pgs["missing_reasons"][gone].startswith("stale (rows of an earlier run kept): kept ")
    assert pgs["missing_reasons"][gone].endswith("; missing player_boxscores (no rows in any of nba_raw.bdl_player_boxscores, "
                                                 "nba_raw.nbac_gamebook_player_stats, nba_raw.nbac_player_boxscores) on 2022-01-06")
    phase3 = {p["phase"]: p for p in r["plan"]}[3]
    # The next day's player context reads every earlier game date of the season: it runs
    # without the gap (degraded), naming it.
    assert phase3["dates"]["upstream_missing"] == [gone]
    assert phase3["missing_inputs"] == {"chain:player_boxscores": [gone], "player_game_summary": [gone]}


# --- verify ------------------------------------------------------------------------------

@pytest.mark.both_states
@pytest.mark.realdata
def test_verify_complete_then_names_a_deleted_slice(guide_home):
    code, text = cli(guide_home, "verify", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert code == 0, text
    assert "is complete" in text
    with open_warehouse(guide_home / "warehouse.duckdb") as wh:
        wh.execute("DELETE FROM nba_analytics.player_game_summary WHERE game_date = '2021-10-27'")
    code, text = cli(guide_home, "verify", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert code == 1
    assert "missing nba_analytics.player_game_summary on 2021-10-27" in text
    code, r = cli_json(guide_home, "verify", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert code == 1 and not r["ok"]
    assert [(p["kind"], p["table"], p["dates"]) for p in r["problems"]] == [
        ("missing", "nba_analytics.player_game_summary", ["2021-10-27"])]
    assert "ledger recorded success" in r["problems"][0]["detail"]


@pytest.mark.both_states
@pytest.mark.realdata
def test_verify_names_every_kind_of_problem(guide_home):
    """Bootstrap rows, duplicate keys, a failure, cascade NULLs and an implausible value, each
    named with its table and date."""
    if 4 in registry.phases():
        backfill(guide_home, "2021-10-25", "2021-10-25", phases=[4], include_bootstrap=True,
                 skip_downstream_trigger=True)
    with open_warehouse(guide_home / "warehouse.duckdb") as wh:
        wh.execute("INSERT INTO nba_analytics.team_offense_game_summary SELECT * FROM "
                   "nba_analytics.team_offense_game_summary WHERE game_date = '2021-10-20' AND team_abbr = 'BOS'")
        wh.execute("UPDATE nba_analytics.player_game_summary SET usage_rate = NULL WHERE game_date = '2021-10-21'")
        wh.execute("UPDATE nba_analytics.player_game_summary SET points = 150 "
                   "WHERE game_date = '2021-10-22' AND player_lookup = 'lebronjames'")
    with open_state(state_at(guide_home)) as st:
        ledger.record(st, "test-run", [UnitResult("upcoming_team_game_context", 3, D("2021-10-23"), "failed",
                                                  error="RuntimeError: disk full")])
    code, r = cli_json(guide_home, "verify", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert code == 1
    found = {(p["kind"], p["table"], tuple(p["dates"])) for p in r["problems"]}
    assert ("duplicate_keys", "nba_analytics.team_offense_game_summary", ("2021-10-20",)) in found
    assert ("row_mismatch", "nba_analytics.team_offense_game_summary", ("2021-10-20",)) in found
    assert ("critical", "nba_analytics.player_game_summary", ("2021-10-21",)) in found
    assert ("implausible", "nba_analytics.player_game_summary", ("2021-10-22",)) in found
    assert ("failed", "nba_analytics.upcoming_team_game_context", ("2021-10-23",)) in found
    failed = [p for p in r["problems"] if p["kind"] == "failed"][0]
    assert "disk full" in failed["detail"]
    # The failed unit's rows are still there: it is reported once, as a failure, not also as missing.
    assert not any(p["kind"] == "missing" for p in r["problems"])
    if 4 in registry.phases():
        boot = {p["table"] for p in r["problems"] if p["kind"] == "bootstrap_rows"}
        assert boot == {p.table for p in registry.all_processors().values() if p.bootstrap_skip and p.phase == 4}
        assert all(p["dates"] == ["2021-10-25"] for p in r["problems"] if p["kind"] == "bootstrap_rows")
    cascade = [p for p in r["problems"] if p["kind"] == "critical"][0]
    assert cascade["detail"].startswith("usage_rate NULL or zero")


@pytest.mark.both_states
@pytest.mark.realdata
def test_verify_and_preflight_say_when_the_warehouse_is_busy(phase3_home, tmp_path):
    home = copy_home(phase3_home, tmp_path / "home")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, time; con = duckdb.connect(%r); print('open', flush=True); time.sleep(30)"
        % str(home / "warehouse.duckdb"))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        for cmd in (["verify", "--start-date", GUIDE[0], "--end-date", GUIDE[1]],
                    ["preflight", "--start-date", GUIDE[0], "--end-date", GUIDE[1]]):
            code, text = cli(home, *cmd)
            assert code == 2 and "the warehouse is busy" in text, text
        # The monitor reads only the state store: it works meanwhile.
        code, snap = cli_json(home, "monitor", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
        assert code == 0 and snap["phases"][0]["done"] == 50
    finally:
        holder.kill()
        holder.wait()


# --- monitor -----------------------------------------------------------------------------

@pytest.mark.both_states
@pytest.mark.realdata
def test_monitor_counts_bootstrap_and_no_games_apart(guide_home):
    code, s = cli_json(guide_home, "monitor", "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert code == 0
    assert (s["days"], s["game_dates"], s["no_game_dates"], s["bootstrap_dates"]) == (14, 10, 4, 7)
    by = {p["phase"]: p for p in s["phases"]}
    assert (by[3]["done"], by[3]["expected"], by[3]["bootstrap"], by[3]["pct"]) == (50, 50, 0, 100.0)
    for phase, p in [(k, v) for k, v in by.items() if k in (3, 4)]:
        n = sum(1 for x in registry.all_processors().values() if x.phase == phase)
        skips = sum(1 for x in registry.all_processors().values() if x.phase == phase and x.bootstrap_skip)
        assert p["expected"] == 10 * n - 7 * skips and p["bootstrap"] == 7 * skips
        assert p["done"] == p["expected"] and p["not_run"] == 0
    assert [x["season"] for x in s["seasons"]] == ["2021-22"]
    assert s["failures"] == [] and s["runs"] == [] and s["last_run"]["status"] == "success"
    # A failure shows with its error, and in --failures-only.
    with open_state(state_at(guide_home)) as st:
        ledger.record(st, "test-run", [UnitResult("player_game_summary", 3, D("2021-10-20"), "failed",
                                                  error="ValueError: bad box score")])
    code, s = cli_json(guide_home, "monitor", "--start-date", GUIDE[0], "--end-date", GUIDE[1], "--failures-only")
    assert code == 0 and set(s) == {"generated_at", "start_date", "end_date", "failures"}
    assert [(f["date"], f["processor"], f["error"]) for f in s["failures"]] == [
        ("2021-10-20", "player_game_summary", "ValueError: bad box score")]
    code, text = cli(guide_home, "monitor", "--season", "2021-22", "--detailed")
    assert code == 0
    assert "213 game dates, 28 without games" in text and "7 bootstrap dates" in text
    assert "failed 2021-10-20 player_game_summary: ValueError: bad box score" in text
    assert "nba_analytics.upcoming_player_game_context" in text       # --detailed: per table
    code, text = cli(guide_home, "monitor", "--season", "1999-00")
    assert code == 2 and "1999-00" in text


@pytest.mark.realdata
def test_monitor_continuous_json_lines(phase3_home):
    code, text = cli(phase3_home, "monitor", "--continuous", "--interval", "0.1", "--count", "3", "--json")
    lines = [json.loads(x) for x in text.splitlines()]
    assert code == 0 and len(lines) == 3
    assert [s["phases"][0]["done"] for s in lines] == [3165] * 3


# --- report ------------------------------------------------------------------------------

@pytest.mark.both_states
@pytest.mark.realdata
def test_report_heatmap_and_self_contained_html(guide_home, tmp_path):
    from PIL import Image
    from nbapipe.validation.report import COLOURS, LABEL_W, ROW_H, TOP
    code, r = cli_json(guide_home, "report", "--start-date", GUIDE[0], "--end-date", GUIDE[1], "--out", str(tmp_path / "rep"))
    assert code == 0
    img = Image.open(r["png"]).convert("RGB")
    names = list(registry.all_processors())
    cw = min(40, 1100 // 14)

    def cell(name: str, day: int):
        return img.getpixel((LABEL_W + (day - 15) * cw + cw // 2, TOP + names.index(name) * ROW_H + ROW_H // 2))

    assert cell("player_game_summary", 16) == COLOURS["no_games"]
    assert cell("player_game_summary", 20) == COLOURS["success"]
    for name, p in registry.all_processors().items():
        if p.bootstrap_skip and p.phase == 4:
            assert cell(name, 20) == COLOURS["bootstrap_skip"] and cell(name, 27) == COLOURS["success"]
    page = open(r["html"], encoding="utf-8").read()
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    assert "<h2>Per phase</h2>" in page and "Gaps (0)" in page and "Failures (0)" in page


@pytest.mark.both_states
def test_monitor_and_report_refuse_a_home_without_a_state_store(tmp_path):
    for command in ("monitor", "report"):
        code, text = cli(tmp_path / "nothing", command)
        assert code == 2 and "run `nbapipe ingest`" in text
    assert not (tmp_path / "nothing").exists()


# --- checks ------------------------------------------------------------------------------

@pytest.mark.both_states
def test_checks_fail_clearly_on_an_empty_home(tmp_path):
    home = tmp_path / "empty"
    r = run_checks(Workspace.at(home))
    assert r["exit_code"] == 1 and len(r["checks"]) == 15
    by = {c["name"]: c for c in r["checks"]}
    assert by["state store"]["status"] == "fail" and "run `nbapipe ingest` first" in by["state store"]["summary"]
    assert by["warehouse"]["status"] == "fail" and "run `nbapipe ingest` first" in by["warehouse"]["summary"]
    assert by["phase 3 state"]["status"] == "skip" and "needs the state store" in by["phase 3 state"]["summary"]
    assert by["environment"]["status"] == "pass" and by["entry points"]["status"] == "pass"
    assert not home.exists()                   # checking created nothing
    code, text = cli(home, "checks", "--quick")
    assert code == 1 and "FAIL state store" in text and "-> exit 1" in text


@pytest.mark.realdata
def test_checks_warn_before_the_backfill(real_home):
    """Ingested, nothing processed yet: warnings only (exit 2), nothing failed."""
    r = run_checks(Workspace.at(real_home), quick=True)
    by = {c["name"]: c for c in r["checks"]}
    assert r["exit_code"] == 2, [c for c in r["checks"] if c["status"] == "fail"]
    assert by["phase 3 state"]["status"] == "warn" and by["phase 3 state"]["summary"].startswith("0/3165 units complete")
    assert by["raw completeness"]["status"] == "pass" and "633 game dates" in by["raw completeness"]["summary"]
    assert by["calendar"]["summary"].startswith("scope 2021-10-19..2024-06-17: seasons 2021-22, 2022-23, 2023-24")
    assert {by[n]["status"] for n in ("phase 3 dry run", "phase 4 dry run", "monitor")} <= {"skip", "warn"}


@pytest.mark.both_states
@pytest.mark.realdata
def test_raw_completeness_fails_on_a_date_without_any_player_source(real_home, tmp_path):
    home = copy_home(real_home, tmp_path / "home")
    with open_warehouse(home / "warehouse.duckdb") as wh:
        wh.execute("DELETE FROM nba_raw.nbac_gamebook_player_stats WHERE game_date = '2022-01-05'")
    r = run_checks(Workspace.at(home), season="2021-22", quick=True)
    raw = {c["name"]: c for c in r["checks"]}["raw completeness"]
    assert r["exit_code"] == 1 and raw["status"] == "fail"
    assert "nba_raw.nbac_gamebook_player_stats (player box scores (primary)): 1 dates with no source (2022-01-05)" in raw["details"]


# --- entry points and help ---------------------------------------------------------------

SCRIPTS = ["bin/backfill/preflight_check.py", "bin/backfill/verify_backfill_range.py",
           "bin/infrastructure/monitoring/backfill_progress_monitor.py"]


@pytest.mark.parametrize("command", ["preflight", "verify", "checks", "monitor", "report"])
def test_help_everywhere(command):
    code, text = cli("/nonexistent", command, "--help")
    assert code == 0 and "--json" in text


@pytest.mark.both_states
@pytest.mark.realdata
def test_guide_scripts_run_verbatim_with_system_python(guide_home):
    env = dict(os.environ, NBAPIPE_HOME=str(guide_home), PYTHONPATH=str(REPO_ROOT))
    env.pop("NBAPIPE_REEXEC", None)

    def run(*cmd):
        return subprocess.run(list(cmd), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)

    for s in SCRIPTS:
        r = run("python3", s, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout, r.stderr
    r = run("python3", SCRIPTS[0], "--start-date", GUIDE[0], "--end-date", GUIDE[1], "--verbose", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["days"] == 14
    r = run("python3", SCRIPTS[1], "--start-date", GUIDE[0], "--end-date", GUIDE[1])
    assert r.returncode == 0 and "is complete" in r.stdout, r.stdout + r.stderr
    r = run("python3", SCRIPTS[2], "--season", "2021-22", "--detailed", "--continuous", "--interval", "0.2", "--count", "2")
    assert r.returncode == 0 and r.stdout.count("backfill progress 2021-22") == 2
    r = run("./bin/backfill/preflight_verification.sh", "--quick", "--start-date", GUIDE[0], "--end-date", GUIDE[1], "--json")
    checks = json.loads(r.stdout)
    assert r.returncode == checks["exit_code"] and checks["counts"]["fail"] == 0
    assert {c["name"] for c in checks["checks"] if c["status"] == "skip"} == {"phase 3 dry run", "phase 4 dry run", "monitor"}
    assert all("not built yet" in c["summary"] for c in checks["checks"] if c["status"] == "warn")


# --- while a backfill runs (separate processes) ----------------------------------------------

@pytest.fixture(scope="module")
def monitored_backfill(real_home, tmp_path_factory):
    """A full three-season backfill of every phase in one process, `monitor --continuous
    --interval 1 --json` in another; returns the home, the monitor's lines and its stderr."""
    home = copy_home(real_home, tmp_path_factory.mktemp("monitored") / "home")
    base = [sys.executable, "-m", "nbapipe.cli", "--home", str(home)]
    log = home.parent / "monitor.jsonl"
    with open(log, "w") as sink:             # a file, not a pipe: the monitor never blocks on us
        mon = subprocess.Popen(base + ["monitor", "--continuous", "--interval", "1", "--json"],
                               stdout=sink, stderr=subprocess.PIPE, text=True)
        while not log.read_text():           # the monitor is up before the backfill starts
            time.sleep(0.05)
        t0 = time.time()
        bf = subprocess.run(["bash", "-c", " && ".join(            # the guide's backfill: Phase 3, then Phase 4
            " ".join(base + ["backfill", "--phase", str(p), "--start-date", "2021-10-01", "--end-date", "2024-06-30",
                             "--skip-downstream-trigger"]) for p in (3, 4))], capture_output=True, text=True, timeout=300)
        seconds = time.time() - t0
        # Two more readings: the second one started after the backfill ended (however slow the machine).
        after = len(log.read_text().splitlines()) + 2
        deadline = time.time() + 60
        while len(log.read_text().splitlines()) < after and time.time() < deadline:
            time.sleep(0.1)
        mon.send_signal(signal.SIGINT)       # Ctrl-C: the monitor ends normally (after its reading: a
        err = mon.communicate(timeout=120)[1]  # loaded 2-core machine took more than 30 s)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    return {"home": home, "lines": lines, "stderr": err, "backfill": bf, "seconds": seconds,
            "exit": mon.returncode}


@pytest.mark.realdata
@pytest.mark.slow
def test_monitor_shows_advancing_numbers_while_a_backfill_runs(monitored_backfill):
    m = monitored_backfill
    assert m["exit"] == 0, m["stderr"]
    assert m["backfill"].returncode == 0, m["backfill"].stderr[-2000:]
    assert "Traceback" not in m["stderr"] and "locked" not in m["stderr"].lower(), m["stderr"]
    done = [sum(p["done"] for p in s["phases"] if p["phase"] in (3, 4)) for s in m["lines"]]
    expected = sum(p["expected"] for p in m["lines"][-1]["phases"] if p["phase"] in (3, 4))
    assert done == sorted(done), done                        # never goes back
    assert done[0] == 0 and done[-1] == expected             # from nothing to everything
    assert len(set(done)) >= 3, (done, m["seconds"])         # readings in between
    assert any(s["runs"] and s["runs"][0]["rate_per_s"] > 0 for s in m["lines"])
    assert any(s["eta_s"] is not None for s in m["lines"])
    assert all(s["failures"] == [] for s in m["lines"])


@pytest.mark.realdata
@pytest.mark.slow
def test_checks_pass_on_a_fresh_home_after_ingest_and_backfill(monitored_backfill):
    r = run_checks(Workspace.at(monitored_backfill["home"]))
    bad = [c for c in r["checks"] if c["status"] in ("fail", "skip")]
    assert not bad, bad
    warns = [c for c in r["checks"] if c["status"] == "warn"]
    # Only a part of the system that does not exist yet may warn.
    assert all("not built yet" in c["summary"] for c in warns), warns
    assert r["exit_code"] == (2 if warns else 0)
    by = {c["name"]: c for c in r["checks"]}
    assert by["phase 3 state"]["summary"].startswith("3165/3165 units complete")
    if 4 in registry.phases():
        assert by["phase 4 state"]["summary"].startswith("3060/3060 units complete (5 processors), 105 bootstrap")
