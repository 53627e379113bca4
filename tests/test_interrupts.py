"""Interrupts stop a run cleanly (issue 14, item 4), with real processes and real signals.

A real `backfill --phase all --no-resume` over the three seasons of a complete home gets SIGINT
or SIGTERM at seven moments, each keyed off the run's own progress so that each lands in a
different phase and level. After each: exit 130/143 with one line and no traceback, every
output table unchanged (an interrupted write rolled back, a unit that could not run was not
emptied), no `failed` ledger row, the run closed `interrupted`, no lease or waiter left. One
resume then gives the tables of an uninterrupted run. A worker interrupted while waiting for
the warehouse and while running gives its trigger back, and a later worker completes it once.
A backfill killed with SIGKILL is shown `crashed` by monitor (read-only) and closed so by the
next writer."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import PHASE3_TABLES, PHASE4_TABLES, backfill, copy_home, read_wh, table_differences
from nbapipe import cancel
from nbapipe.config import REPO_ROOT, host_name
from nbapipe.orchestration.events import TRIGGER_TOPICS, Envelope, bus_for
from nbapipe.state import leases, ledger, open_state
from nbapipe.state.store import SqliteStateStore
from nbapipe.warehouse import open_warehouse
from orchestration_support import wait_until

START, END = "2021-10-19", "2024-06-30"
PHASE5_TABLES = ["nba_predictions.player_prop_predictions", "nba_predictions.prediction_accuracy"]
TABLES = PHASE3_TABLES + list(PHASE4_TABLES) + PHASE5_TABLES
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def nbapipe(home, *args) -> list[str]:
    return [sys.executable, "-m", "nbapipe.cli", "--home", str(home), *args]


def state(home):
    return open_state(home / "state.sqlite")


def latest_run(home) -> dict:
    with state(home) as st:
        rows = st.rows("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")
    return rows[0] if rows else {}


def runs_count(home) -> int:
    with state(home) as st:
        return st.scalar("SELECT count(*) FROM runs")


def changed_tables(home, reference) -> dict[str, int]:
    """Rows that differ per output table (run ids and timestamps aside)."""
    return {t: n for t in TABLES if (n := table_differences(home, reference, t))}


def table_hashes(home) -> dict[str, tuple]:
    """Per output table: rows and an order-free hash of their content (run ids and timestamps
    aside, as table_differences does): one scan, ~100x cheaper than comparing two homes."""
    with read_wh(home) as w:
        return {t: w.tuples(f"SELECT count(*), CAST(sum(hash(x)) AS VARCHAR) FROM "
                            f"(SELECT * EXCLUDE (run_id, processed_at) FROM {t}) x")[0] for t in TABLES}


@pytest.fixture(scope="module")
def homes(phase4_home, tmp_path_factory):
    """(reference, home): a complete home (phases 3-5 over the three seasons, one uninterrupted
    run), and a copy of it that the interrupted runs work on."""
    base = tmp_path_factory.mktemp("interrupts")
    reference = copy_home(phase4_home, base / "reference")
    report = backfill(reference, START, END, phases=(3, 4, 5), skip_downstream_trigger=True)
    assert not report.failed, [r.as_dict() for r in report.failed][:3]
    return reference, copy_home(reference, base / "home")


# --- a backfill interrupted at seven moments, then resumed ------------------------------------

def _after_line(text: str):
    """Once the runner has reported `<processor>: done` on stderr (then the next one runs)."""
    return lambda line, home, runs_before: f" {text}: done" in line


def _run_started(line, home, runs_before) -> bool:
    """Once the run has its runs row (it holds the lease and plans its first level)."""
    return runs_count(home) > runs_before


# (signal, when, extra delay in s, what runs then)
MOMENTS = [
    (signal.SIGINT, _run_started, 0.0, "planning and computing the first Phase 3 level"),
    (signal.SIGTERM, _after_line("team_offense_game_summary"), 0.0, "a level half written (Phase 3)"),
    (signal.SIGINT, _after_line("player_game_summary"), 0.0, "upcoming_player_game_context (season lookback)"),
    (signal.SIGINT, _after_line("player_shot_zone_analysis"), 0.0, "player_daily_cache (Phase 4)"),
    (signal.SIGTERM, _after_line("player_composite_factors"), 0.0, "ml_feature_store (Phase 4)"),
    (signal.SIGINT, _after_line("ml_feature_store"), 1.0, "predictions: models and their SQL (Phase 5)"),
    # Keyed off the last processor's start, not a delay: a delay into the predictions ran past
    # the end of the run on a quiet machine.
    (signal.SIGINT, _after_line("player_prop_predictions"), 0.0, "grading, the last processor (Phase 5)"),
]


def interrupt_backfill(home, sig, when, delay: float) -> tuple[subprocess.CompletedProcess, float]:
    """Start the backfill, send `sig` at the moment `when` says, return its outcome and the
    seconds from the signal to its exit."""
    runs_before = runs_count(home)
    cmd = nbapipe(home, "backfill", "--phase", "all", "--start-date", START, "--end-date", END,
                  "--no-resume", "--skip-downstream-trigger")
    p = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    # stdout is read beside stderr, so that neither pipe fills up.
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()), daemon=True)
    reader.start()
    try:
        while True:
            line = p.stderr.readline()
            if not line:
                pytest.fail(f"the backfill ended before the moment came: rc={p.wait()} {''.join(lines)[-2000:]}")
            lines.append(line)
            if when(line, home, runs_before):
                break
        time.sleep(delay)
        p.send_signal(sig)
        sent = time.monotonic()
        rest = p.stderr.read()
        p.wait(timeout=120)
        took = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    reader.join(timeout=10)
    return subprocess.CompletedProcess(cmd, p.returncode, "".join(out), "".join(lines) + rest), took


@pytest.mark.realdata
@pytest.mark.slow
def test_a_backfill_interrupted_at_seven_moments_changes_nothing_and_resumes(homes):
    reference, home = homes
    expected = table_hashes(reference)
    with state(home) as st:
        failed_before = st.scalar("SELECT count(*) FROM run_ledger WHERE status = 'failed'")
    seen = []
    for sig, when, delay, what in MOMENTS:
        r, took = interrupt_backfill(home, sig, when, delay)
        name = signal.Signals(sig).name
        assert r.returncode == CODES[sig], f"{what}: {r.stderr[-3000:]}"
        last = r.stderr.strip().splitlines()[-1]
        assert re.fullmatch(rf"interrupted by {name}: \d+ units done, \d+ left; "
                            r"rerun it without --no-resume to resume", last), (what, last)
        assert "Traceback" not in r.stderr, r.stderr[-3000:]
        run = latest_run(home)
        assert run["status"] == "interrupted" and run["finished_at"], (what, run)
        with state(home) as st:
            assert st.scalar("SELECT count(*) FROM run_ledger WHERE status = 'failed'") == failed_before, what
            assert st.scalar("SELECT count(*) FROM leases") == 0, what
            assert st.scalar("SELECT count(*) FROM lease_waiters") == 0, what
            recorded = st.scalar("SELECT count(*) FROM run_ledger WHERE run_id = ?", [run["run_id"]])
        if table_hashes(home) != expected:
            pytest.fail(f"{what}: tables changed {changed_tables(home, reference)}")
        seen.append((name, what, recorded, round(took, 2)))
    print("\nmoments (signal, what ran, ledger rows recorded, seconds from signal to exit):")
    for s in seen:
        print("  ", s)
    # Each moment landed somewhere else: the runs recorded different amounts of work.
    assert len({s[2] for s in seen}) >= 5, seen
    assert max(s[3] for s in seen) < 10, seen      # measured 0.4-3 s on a loaded machine

    r = subprocess.run(nbapipe(home, "backfill", "--phase", "all", "--start-date", START, "--end-date", END,
                               "--skip-downstream-trigger"), cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert latest_run(home)["status"] == "success"
    assert changed_tables(home, reference) == {}
    with state(home) as st:
        statuses = {r["status"] for r in ledger.latest(st, start=dt.date.fromisoformat(START),
                                                        end=dt.date.fromisoformat(END))}
    assert "failed" not in statuses


# --- workers ---------------------------------------------------------------------------------

WORKER_DATE = "2023-03-15"


def publish_trigger(home, phase: int, date: str) -> int:
    with state(home) as st:
        env = Envelope(processor="test", phase=phase, game_date=date, status="triggered", record_count=0,
                       run_id=f"trigger-test-{date}", correlation_id="interrupt-test", timestamp=ledger.now_iso())
        return bus_for(st).publish(TRIGGER_TOPICS[phase], env.as_dict(), key=date)


def message(home, mid: int) -> dict:
    with state(home) as st:
        return st.rows("SELECT * FROM bus_messages WHERE id = ?", [mid])[0]


def assert_back_in_queue(home, mid: int) -> None:
    m = message(home, mid)
    assert m["acked_at"] is None and m["dead_at"] is None and m["claim_token"] is None, m
    assert m["failures"] == 0 and m["visible_at"] <= time.time(), m
    with state(home) as st:
        assert st.scalar("SELECT count(*) FROM workers") == 0
        assert st.scalar("SELECT count(*) FROM leases") == 0
        assert st.scalar("SELECT count(*) FROM lease_waiters") == 0


@pytest.mark.realdata
@pytest.mark.slow
def test_a_worker_interrupted_mid_trigger_gives_it_back_and_the_next_completes_it_once(homes, tmp_path):
    reference = homes[0]
    home = copy_home(reference, tmp_path / "home")
    with state(home) as st:                  # the date's Phase 5 is to be done again
        with st.tx() as con:
            con.execute("DELETE FROM run_ledger WHERE phase = 5 AND game_date = ?", [WORKER_DATE])
    mid = publish_trigger(home, 5, WORKER_DATE)
    cmd = nbapipe(home, "worker", "--phase", "5", "--poll", "0.2", "--skip-downstream-trigger")

    # 1. Waiting for the warehouse (a manual job holds it): SIGTERM.
    with state(home) as st:
        manual = leases.Holder.me("manual job")
        assert leases.try_acquire(st, leases.WAREHOUSE, manual, ttl=120) is None
        p = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: st.rows("SELECT * FROM workers WHERE state = 'waiting for the warehouse'"),
                       60, "the worker waiting for the warehouse", interval=0.1)
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
        leases.release(st, leases.WAREHOUSE, manual)
    assert p.returncode == 143, err
    assert re.search(r"interrupted by SIGTERM: 0 trigger\(s\) done.*went back to the queue", err), err
    assert "Traceback" not in err
    assert_back_in_queue(home, mid)

    # 2. Running the trigger's backfill (its runs row exists): SIGINT.
    runs_before = runs_count(home)
    p = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: runs_count(home) > runs_before, 60, "the worker's run", interval=0.05)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err
    run = latest_run(home)
    assert run["command"] == "worker" and run["status"] == "interrupted", run
    assert_back_in_queue(home, mid)

    # 3. The next worker completes it, once.
    r = subprocess.run(cmd + ["--once"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    m = message(home, mid)
    assert m["acked_at"] is not None and m["attempts"] == 3 and m["failures"] == 0, m
    with state(home) as st:
        per_unit = st.rows("SELECT processor, status, count(*) AS n FROM run_ledger WHERE game_date = ? "
                           "AND phase = 5 GROUP BY 1, 2 ORDER BY 1", [WORKER_DATE])
    assert [(u["status"], u["n"]) for u in per_unit] == [("success", 1)] * 2, per_unit
    for t in PHASE5_TABLES:
        assert table_differences(home, reference, t, f"game_date = '{WORKER_DATE}'") == 0, t


# --- SIGKILL: the next reader closes the run ---------------------------------------------------

@pytest.mark.realdata
@pytest.mark.slow
def test_a_backfill_killed_with_sigkill_is_closed_by_the_next_status_and_monitor(homes, tmp_path):
    home = copy_home(homes[0], tmp_path / "home")
    p = subprocess.Popen(nbapipe(home, "backfill", "--phase", "3", "--start-date", START, "--end-date", END,
                                 "--no-resume", "--skip-downstream-trigger"),
                         cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: latest_run(home).get("status") == "running", 60, "the run", interval=0.05)
        time.sleep(0.5)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    run = latest_run(home)
    assert run["status"] == "running" and run["pid"] == p.pid      # nobody closed it

    r = subprocess.run(nbapipe(home, "monitor", "--json"), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    snap = json.loads(r.stdout)
    assert snap["runs"] == [] and snap["last_run"]["run_id"] == run["run_id"]
    assert snap["last_run"]["status"] == "crashed"
    # monitor and status read the state read-only: they show the run crashed, they do not write.
    r = subprocess.run(nbapipe(home, "status", "--json", "--dates", "2022-01-03"), cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    # The next writer closes it.
    r = subprocess.run(nbapipe(home, "backfill", "--phase", "3", "--dates", "2022-01-03",
                               "--skip-downstream-trigger"), cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    with state(home) as st:
        closed = st.rows("SELECT * FROM runs WHERE run_id = ?", [run["run_id"]])[0]
    assert closed["status"] == "crashed" and closed["finished_at"], closed


# --- without real data: the pieces ----------------------------------------------------------------

def test_an_interrupted_write_rolls_back_completely():
    """A stop request in the middle of a slice replacement (the DELETE done, the INSERT in
    flight) leaves the table as it was, and the statement raises Cancelled, not an error."""
    with open_warehouse(None) as wh:
        wh.execute("CREATE TABLE t AS SELECT range AS id, range % 7 AS d FROM range(1000)")
        before = wh.scalar("SELECT sum(id * d) FROM t")
        timer = threading.Timer(0.5, cancel.request, ["interrupted by SIGINT", 130])
        timer.start()
        try:
            with pytest.raises(cancel.Cancelled) as e:
                with wh.transaction():
                    wh.execute("DELETE FROM t WHERE d IN (1, 2, 3)")
                    wh.execute("INSERT INTO t SELECT count(*), 1 FROM range(100000000000)")
            assert e.value.exit_code == 130
        finally:
            timer.cancel()
            cancel.reset()
        assert wh.scalar("SELECT count(*) FROM t") == 1000
        assert wh.scalar("SELECT sum(id * d) FROM t") == before


def test_a_stop_requested_between_statements_starts_no_new_one():
    with open_warehouse(None) as wh:
        wh.execute("CREATE TABLE t (a INT)")
        cancel.request("interrupted by SIGTERM", 143)
        try:
            with pytest.raises(cancel.Cancelled):
                wh.execute("INSERT INTO t VALUES (1)")
        finally:
            cancel.reset()
        assert wh.scalar("SELECT count(*) FROM t") == 0


def test_dead_runs_are_closed_and_live_ones_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=ledger.RUN_LAPSE_SECONDS + 60)).isoformat()
    new = ledger.now_iso()
    rows = [("here-alive", host_name(), os.getpid(), old), ("here-dead", host_name(), gone.pid, new),
            ("there-lapsed", "another-host", 1, old), ("there-beating", "another-host", 1, new)]
    st = SqliteStateStore(tmp_path / "state.sqlite")
    with st.tx() as con:
        con.executemany("INSERT INTO runs (run_id, status, host, pid, started_at, updated_at) "
                        "VALUES (?, 'running', ?, ?, ?, ?)", [[r, h, p, u, u] for r, h, p, u in rows])
    ro = SqliteStateStore.read_only(tmp_path / "state.sqlite")
    assert sorted(r["run_id"] for r in ledger.close_dead_runs(ro)) == ["here-dead", "there-lapsed"]
    assert st.scalar("SELECT count(*) FROM runs WHERE status = 'running'") == 4    # read-only: unchanged
    assert sorted(r["run_id"] for r in ledger.close_dead_runs(st)) == ["here-dead", "there-lapsed"]
    status = {r["run_id"]: r["status"] for r in st.rows("SELECT * FROM runs")}
    assert status == {"here-alive": "running", "here-dead": "crashed", "there-lapsed": "crashed",
                      "there-beating": "running"}
    assert ledger.close_dead_runs(st) == []


def test_a_run_heartbeat_renews_updated_at(tmp_path):
    st = SqliteStateStore(tmp_path / "state.sqlite")
    ledger.start_run(st, "r1", "backfill", "3", None, None, 0)
    with st.tx() as con:
        con.execute("UPDATE runs SET updated_at = '2000-01-01T00:00:00+00:00'")
    beat = ledger.RunHeartbeat(st, "r1", every=0.1)
    beat.start()
    try:
        wait_until(lambda: st.scalar("SELECT updated_at FROM runs") > "2001", 10, "a heartbeat", interval=0.05)
    finally:
        beat.stop()
    assert not beat.is_alive()


# --- ingest -------------------------------------------------------------------------------------

def raw_tables(home) -> dict[str, tuple]:
    """Rows and content hash of every raw table (the bookkeeping of loaded files aside)."""
    with read_wh(home) as w:
        names = [r[0] for r in w.tuples("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'nba_raw' AND table_name <> 'ingested_files'")]
        return {t: w.tuples(f"SELECT count(*), CAST(sum(hash(x)) AS VARCHAR) FROM {t} x")[0] for t in names}


@pytest.mark.realdata
@pytest.mark.slow
def test_an_ingest_interrupted_keeps_what_it_loaded_and_changes_no_row(real_home, data_dir, tmp_path):
    home = copy_home(real_home, tmp_path / "home")
    before = raw_tables(home)
    cmd = nbapipe(home, "ingest", "--data", str(data_dir), "--force", "--skip-downstream-trigger", "-v")
    p = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        while sum(line.startswith("loaded") for line in lines) < 3:    # reloading, file by file
            line = p.stderr.readline()
            assert line, "".join(lines)[-2000:]
            lines.append(line)
        p.send_signal(signal.SIGINT)
        rest = p.stderr.read()
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, rest[-3000:]
    assert rest.strip().splitlines()[-1] == "interrupted by SIGINT; rerun the same command to resume"
    assert "Traceback" not in rest
    assert raw_tables(home) == before
    with state(home) as st:
        assert st.scalar("SELECT count(*) FROM leases") == 0
