"""Backfills as separate processes: the guide's per-processor jobs in order and all at once
(its "Option A"), a run killed with SIGKILL and rerun, and a backfill waiting for the
warehouse. Each ends with the same tables as one uninterrupted in-process run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import PHASE3_TABLES, backfill, copy_home, state_at, table_differences
from nbapipe.state import exists as state_exists
from nbapipe.config import REPO_ROOT
from nbapipe.state import ledger, open_state

pytestmark = [pytest.mark.realdata, pytest.mark.slow, pytest.mark.both_states]

GUIDE_ORDER = ["team_offense_game_summary", "team_defense_game_summary", "upcoming_team_game_context",
               "player_game_summary", "upcoming_player_game_context"]
START, END = "2021-10-19", "2021-11-20"
RANGE = f"game_date BETWEEN '{START}' AND '{END}'"


@pytest.fixture
def fresh_home(real_home, tmp_path):
    """All raw data ingested, nothing processed yet."""
    return copy_home(real_home, tmp_path / "home")


def script(name: str) -> str:
    return str(REPO_ROOT / "backfill_jobs" / "analytics" / name / f"{name}_analytics_backfill.py")


def env_for(home) -> dict:
    env = dict(os.environ, NBAPIPE_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    env.pop("NBAPIPE_REEXEC", None)
    return env


def assert_same_as_reference(home, reference):
    for table in PHASE3_TABLES:
        assert table_differences(home, reference, table, RANGE) == 0, table


def test_guide_loop_in_order_with_system_python(fresh_home, phase3_home):
    """The guide's loop over the five jobs, each run as `python3 <script>` from the repo root."""
    for name in GUIDE_ORDER:
        r = subprocess.run(["python3", script(name), "--start-date", START, "--end-date", END,
                            "--skip-downstream-trigger"], cwd=REPO_ROOT, env=env_for(fresh_home),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr + r.stdout
    assert_same_as_reference(fresh_home, phase3_home)


def test_option_a_five_jobs_at_once(fresh_home, phase3_home):
    """Five terminals started together, in reverse order: each waits for the warehouse, runs
    its missing upstream first, and the end state is complete and correct."""
    procs = [subprocess.Popen([sys.executable, script(name), "--start-date", START, "--end-date", END,
                               "--skip-downstream-trigger"], cwd=REPO_ROOT, env=env_for(fresh_home),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in reversed(GUIDE_ORDER)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [o[1][-2000:] for o in outs]
    assert any("waiting for the warehouse" in err for _, err in outs)
    assert_same_as_reference(fresh_home, phase3_home)
    with open_state(state_at(fresh_home)) as st:
        rows = ledger.latest(st, phase=3)
    # Every unit ran exactly once overall: the later jobs found their units already done.
    with open_state(state_at(fresh_home)) as st:
        per_unit = st.rows("SELECT processor, game_date, count(*) AS n FROM run_ledger "
                           "WHERE status = 'success' GROUP BY 1, 2 HAVING count(*) > 1")
    assert per_unit == []
    assert {r["status"] for r in rows} == {"success"}       # every date of the range had games


def test_sigkill_midway_then_rerun_gives_the_same_tables(fresh_home, phase3_home):
    cmd = [sys.executable, "-m", "nbapipe.cli", "--home", str(fresh_home), "backfill", "--phase", "3",
           "--start-date", START, "--end-date", "2022-06-30", "--skip-downstream-trigger"]
    p = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_mid_run = False
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if state_exists(state_at(fresh_home)):
            with open_state(state_at(fresh_home)) as st:
                done = st.scalar("SELECT count(*) FROM run_ledger WHERE status = 'success'")
            if done:
                p.send_signal(signal.SIGKILL)
                killed_mid_run = True
                break
        time.sleep(0.02)
    p.wait(timeout=30)
    assert killed_mid_run and p.returncode == -signal.SIGKILL
    with open_state(state_at(fresh_home)) as st:
        partial = st.scalar("SELECT count(*) FROM run_ledger WHERE status = 'success'")
    assert 0 < partial < 5 * 200          # it did stop midway
    t0 = time.time()
    report = backfill(fresh_home, START, "2022-06-30", skip_downstream_trigger=True)
    assert time.time() - t0 < 60          # the dead holder's lease lapsed at once (same host)
    assert not report.failed
    assert report.counts().get("already_done", 0) > 0
    for table in PHASE3_TABLES:
        assert table_differences(fresh_home, phase3_home, table, f"game_date BETWEEN '{START}' AND '2022-06-30'") == 0, table


def test_backfill_waits_for_the_warehouse_and_says_who_holds_it(fresh_home):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time, sys; from nbapipe.state import connect; from nbapipe.state import leases;"
        f"st = connect({str(state_at(fresh_home))!r});"
        "ctx = leases.hold(st, 'warehouse', 'a manual job in another terminal'); ctx.__enter__();"
        "print('held', flush=True); time.sleep(3); ctx.__exit__(None, None, None)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "nbapipe.cli", "--home", str(fresh_home), "backfill", "--phase", "3",
                        "--dates", "2021-10-19", "--skip-downstream-trigger"], capture_output=True, text=True, timeout=120)
    holder.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert time.time() - t0 >= 1.5
    assert "waiting for the warehouse" in r.stderr and "a manual job in another terminal" in r.stderr
    assert f"pid {holder.pid}" in r.stderr
