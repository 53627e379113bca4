"""What only the PostgreSQL state store has: a URL instead of a file, claims that skip locked
rows, LISTEN/NOTIFY wake-ups, a schema per home on one server, copying a home's state there,
the DuckDB warehouse kept to one host, and workers on one server killed mid-message.

Everything else (leases, the bus, exactly-once triggers, resume, the validation tools) runs
on both backends in the modules marked `both_states`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import copy_home, drop_schema, postgres_url
from nbapipe.config import REPO_ROOT
from nbapipe.orchestration.events import PostgresBus, bus_for
from nbapipe.state import ledger, open_state
from nbapipe.state.postgres import split_url
from nbapipe.workspace import Workspace
from orchestration_support import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.postgres_state]


@pytest.fixture
def url(state_backend):
    """This test's schema on the server (NBAPIPE_STATE_URL points at it)."""
    return state_backend


def cli(home, *args, env=None, timeout=300, sqlite=False) -> subprocess.CompletedProcess:
    """`nbapipe --home home ...` in a process of its own; `sqlite`: on the home's file instead."""
    e = dict(os.environ, **(env or {}))
    if sqlite:
        e.pop("NBAPIPE_STATE_URL")
    return subprocess.run([sys.executable, "-m", "nbapipe.cli", "--home", str(home), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=e)


def test_a_url_creates_its_schema_and_no_state_sqlite(url, tmp_path):
    home = tmp_path / "home"
    ws = Workspace.at(home)
    try:
        assert ws.state.kind == "postgresql" and ws.state.schema_version() == 1
        ws.state.scalar("SELECT count(*) FROM run_ledger")
    finally:
        ws.close()
    assert not (home / "state.sqlite").exists()
    info = json.loads(cli(home, "state", "info", "--json").stdout)
    assert info["backend"] == "postgresql" and info["schema_version"] == 1
    assert info["location"].endswith(f"schema={split_url(url)[1]}")
    assert set(info["rows"]) >= {"run_ledger", "bus_messages", "leases", "phase_triggers"}


def test_two_homes_on_one_server_do_not_see_each_other(url, tmp_path):
    other = postgres_url(split_url(url)[1] + "_b")
    try:
        with open_state(url) as a, open_state(other) as b:
            with a.tx() as con:
                con.execute("INSERT INTO runs (run_id, command) VALUES ('only-in-a', 'backfill')")
            assert a.scalar("SELECT count(*) FROM runs") == 1
            assert b.scalar("SELECT count(*) FROM runs") == 0
    finally:
        drop_schema(split_url(other)[1])


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    # Retried for NBAPIPE_STATE_RETRY_SECONDS (default 30 s) before it gives up.
    t0 = time.monotonic()
    r = cli(tmp_path / "home", "--state", "postgresql://postgres@127.0.0.1:1/test", "state", "info",
            env={"NBAPIPE_STATE_RETRY_SECONDS": "2"})
    assert 1.5 <= time.monotonic() - t0 < 20     # about the 2 s it was given
    assert r.returncode == 2
    assert "cannot reach the state store at postgresql://postgres@127.0.0.1:1/test (retried for 2s)" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "home").exists()


def test_a_password_never_reaches_the_output(tmp_path):
    r = cli(tmp_path / "home", "--state", "postgresql://u:s3cret@127.0.0.1:1/test", "state", "info",
            env={"NBAPIPE_STATE_RETRY_SECONDS": "0"})
    assert r.returncode == 2 and "s3cret" not in r.stderr + r.stdout and "u:***@" in r.stderr


def test_state_must_be_a_url(tmp_path):
    r = cli(tmp_path / "home", "--state", "other/state.sqlite", "state", "info")
    assert r.returncode == 2 and "--state takes a postgresql://" in r.stderr


def test_claims_skip_rows_another_consumer_has_locked(url):
    """A consumer in the middle of claiming message 1 (its row locked) does not make another
    consumer wait: the other claims message 2 at once."""
    with open_state(url) as st, open_state(url) as other:
        bus = bus_for(st)
        assert isinstance(bus, PostgresBus)
        first, second = bus.publish("t", {"n": 1}, key="a"), bus.publish("t", {"n": 2}, key="b")
        with other.tx(serialise=False) as con:      # holds row 1's lock until the block ends
            con.execute("SELECT id FROM bus_messages WHERE id = ? FOR UPDATE", [first])
            t0 = time.monotonic()
            [msg] = bus.pull("t", 2)
            took = time.monotonic() - t0
        assert msg.id == second and took < 1.0
        [again] = bus.pull("t", 2)                  # the lock is gone: message 1 is there
        assert again.id == first


def test_a_waiting_consumer_wakes_on_notify_not_on_its_timeout(url):
    with open_state(url) as st, open_state(url) as publisher:
        bus = bus_for(st)
        woke: list[float] = []

        def consumer():
            t0 = time.monotonic()
            bus.wait(["nba-phase4-trigger"], timeout=20)
            woke.append(time.monotonic() - t0)

        t = threading.Thread(target=consumer)
        t.start()
        time.sleep(0.5)                                           # listening by now
        bus_for(publisher).publish("nba-phase3-trigger", {"n": 0})  # another topic: sleeps on
        time.sleep(0.5)
        assert t.is_alive()
        bus_for(publisher).publish("nba-phase4-trigger", {"n": 1})
        t.join(timeout=10)
        assert woke and 0.9 < woke[0] < 3.0, woke                 # not the 20 s timeout
        bus.close()


def test_an_older_store_is_migrated_by_adding_missing_columns(url):
    """A store made by an older nbapipe (runs without finished_at) gains the column."""
    schema = split_url(url)[1]
    import psycopg
    with psycopg.connect(split_url(url)[0], autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"CREATE TABLE {schema}.runs (run_id TEXT PRIMARY KEY, command TEXT)")
        con.execute(f"INSERT INTO {schema}.runs VALUES ('old', 'backfill')")
    with open_state(url) as st:
        assert st.rows("SELECT run_id, finished_at, updated_at FROM runs") == [
            {"run_id": "old", "finished_at": None, "updated_at": None}]
        ledger.start_run(st, "new", "backfill", "3", None, None, 5)
        assert st.scalar("SELECT count(*) FROM runs") == 2


@pytest.mark.realdata
def test_state_copy_moves_a_home_and_every_tool_reads_the_same(url, real_home, tmp_path):
    """`nbapipe state copy --to URL`: a one-machine home moves to the server, and the tools
    answer from there as they did from the file."""
    import shutil
    home = tmp_path / "home"
    shutil.copytree(real_home, home)                  # still on its state.sqlite
    assert cli(home, "backfill", "--phase", "3", "--start-date", "2021-10-19", "--end-date", "2021-10-24",
               "--skip-downstream-trigger", sqlite=True).returncode == 0
    before = json.loads(cli(home, "monitor", "--season", "2021-22", "--json", sqlite=True).stdout)
    r = cli(home, "state", "copy", "--to", url, "--json", sqlite=True)
    assert r.returncode == 0, r.stderr
    copied = json.loads(r.stdout)["rows"]
    assert copied["calendar_seasons"] == 3 and copied["run_ledger"] == 5 * 6
    after = json.loads(cli(home, "monitor", "--season", "2021-22", "--json").stdout)
    assert [p for p in after["phases"]] == [p for p in before["phases"]]
    assert {p["phase"]: p["done"] for p in after["phases"]}[3] >= 5 * 5      # not an empty answer
    with open_state(url) as st:
        # New rows continue after the copied ids (no key collision with the copied history).
        ledger.record(st, "after-copy", [ledger.UnitResult("player_game_summary", 3,
                                                           __import__("datetime").date(2021, 10, 25), "success")])
        assert st.scalar("SELECT max(id) FROM run_ledger") == copied["run_ledger"] + 1


# --- the DuckDB warehouse stays on one host -------------------------------------------------

@pytest.mark.realdata
def test_duckdb_writers_on_another_host_are_refused(url, real_home, tmp_path):
    home = copy_home(real_home, tmp_path / "home")
    one_date = ["backfill", "--phase", "3", "--dates", "2021-10-19", "--skip-downstream-trigger"]
    assert cli(home, *one_date).returncode == 0              # this host writes it first: it owns it
    elsewhere = {"NBAPIPE_HOST_NAME": "worker-host-2"}
    for args in (one_date, ["worker", "--phase", "3", "--once"], ["ingest", str(tmp_path / "nothing-new.csv")]):
        (tmp_path / "nothing-new.csv").write_text("a,b\n1,2\n")
        r = cli(home, *args, env=elsewhere, timeout=60)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "written on host" in r.stderr and "worker-host-2" in r.stderr and "--engine spark" in r.stderr
        assert "Traceback" not in r.stderr
    with open_state(url) as st:
        assert st.get_meta("duckdb_host") not in (None, "worker-host-2")
        assert st.scalar("SELECT count(*) FROM leases") == 0       # nothing waits, nothing is held
    # The warehouse moved to the other host for good: it claims it, and this host is refused.
    assert cli(home, "state", "claim-warehouse", env=elsewhere).returncode == 0
    assert cli(home, *one_date, env=elsewhere).returncode == 0
    r = cli(home, *one_date)
    assert r.returncode == 2 and "written on host worker-host-2" in r.stderr


# --- workers on one server: a worker killed mid-message ---------------------------------------

@pytest.mark.realdata
@pytest.mark.slow
def test_a_worker_killed_mid_message_is_redelivered_to_the_other(url, phase3_home, tmp_path):
    from test_orchestration_processes import WEEK, game_dates, run, services, trigger_counts, trigger_messages, units
    from nbapipe import processors as registry
    home = copy_home(phase3_home, tmp_path / "home")
    killed: set[int] = set()
    p4 = [n for n, p in registry.all_processors().items() if p.phase == 4]
    with open_state(url) as st:
        with services(home, tmp_path / "logs", phase=4, worker_args=("--visibility-timeout", "3"), killed=killed):
            run(home, "backfill", "--phase", "3", "--start-date", WEEK[0], "--end-date", WEEK[1], "--no-resume")
            victim = wait_until(lambda: st.rows("SELECT * FROM workers WHERE state = 'running' AND message_id "
                                                "IS NOT NULL"), 60, "a worker running a trigger", interval=0.05)[0]
            os.kill(victim["pid"], signal.SIGKILL)
            killed.add(victim["pid"])
            week = game_dates(st, WEEK)
            wait_until(lambda: len(units(st, 4, WEEK)) == len(week) * len(p4)
                       and st.scalar("SELECT count(*) FROM bus_messages WHERE topic = 'nba-phase4-trigger' "
                                     "AND acked_at IS NULL") == 0, 120, "Phase 4 of the week")
        msg = st.rows("SELECT * FROM bus_messages WHERE id = ?", [victim["message_id"]])[0]
        # Redelivered after the dead worker's claim lapsed, and done by the other worker.
        assert msg["acked_at"] is not None and msg["attempts"] >= 2 and msg["dead_at"] is None
        assert msg["claimed_by"] != victim["worker_id"] and f":{victim['pid']}:" not in msg["claimed_by"]
        assert trigger_counts(st, 4) == trigger_messages(st, 4) == {d: 1 for d in week}
        rows = units(st, 4, WEEK)
        assert {(r["status"], r["command"]) for r in rows} == {("success", "worker")}
        # One result per (processor, date): the ledger's latest rows and the tables agree.
        assert sorted({r["game_date"] for r in rows}) == week
    from nbapipe.warehouse import open_warehouse
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as wh:
        n, distinct = wh.tuples("SELECT count(*), count(DISTINCT (player_lookup, game_date)) FROM "
                                "nba_precompute.player_composite_factors WHERE game_date BETWEEN ? AND ?", list(WEEK))[0]
        assert n == distinct > 0


# --- Spark: workers on several hosts write at once, one writer per table ----------------------

@pytest.mark.realdata
@pytest.mark.spark
@pytest.mark.slow
def test_spark_runs_on_another_host_take_turns_per_table_not_for_the_warehouse(url, real_home, data_dir, tmp_path):
    """An ingest on this host (the DuckDB host) with the Spark engine refreshes the raw tables in
    the Spark warehouse. Then host b (NBAPIPE_HOST_NAME) runs Phase 3 on Spark while this host
    holds the DuckDB warehouse and the player_game_summary table: tables before it are written
    meanwhile, and player_game_summary waits for its table lease, then completes."""
    pytest.importorskip("pyspark")
    import datetime as dt
    from nbapipe.state import leases
    from orchestration_support import write_slice
    home = copy_home(real_home, tmp_path / "home")
    new = write_slice(data_dir / "bbref" / "player_box.csv.gz", tmp_path / "new" / "player_box.csv", "2022-11-02", "2022-11-02")
    r = cli(home, "ingest", str(new), "--skip-downstream-trigger", env={"NBAPIPE_ENGINE": "spark"})
    assert r.returncode == 0, r.stderr[-3000:]
    manifest = json.loads((home / "spark-warehouse" / "_mirror.json").read_text())
    assert {"nba_raw.nbac_gamebook_player_stats", "nba_raw.nbac_schedule", "nba_reference.game_dates"} <= set(manifest)
    spark = ["backfill", "--engine", "spark", "--phase", "3", "--skip-downstream-trigger", "--dates"]
    plan = cli(home, *spark, "2022-11-02", "--dry-run", "--json", env={"NBAPIPE_HOST_NAME": "host-b"})
    assert plan.returncode == 0, plan.stderr[-3000:]        # planned on the mirror, DuckDB untouched
    assert {u["processor"] for u in json.loads(plan.stdout)["plan"] if u["action"] == "run"} >= {"team_offense_game_summary"}, plan.stdout[:3000]
    table = "table:nba_analytics.player_game_summary"
    with open_state(url) as st:
        me = leases.Holder.me("the test, like an ingest")
        assert leases.try_acquire(st, leases.WAREHOUSE, me, ttl=600) is None
        assert leases.try_acquire(st, table, me, ttl=600) is None
        host_b = subprocess.Popen([sys.executable, "-m", "nbapipe.cli", "--home", str(home), *spark, "2022-11-02"],
                                  cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, NBAPIPE_HOST_NAME="host-b"))
        try:
            waiter = wait_until(lambda: st.rows("SELECT * FROM lease_waiters WHERE name = ?", [table]), 240,
                                "host b to wait for the player_game_summary lease", interval=0.5)[0]
            assert waiter["host"] == "host-b"
            done = {r["processor"] for r in ledger.latest(st, dates=[dt.date(2022, 11, 2)])
                    if r["status"] == "success"}
            assert "team_offense_game_summary" in done         # written while the warehouse is held
            assert "player_game_summary" not in done
            assert st.scalar("SELECT holder FROM leases WHERE name = ?", [leases.WAREHOUSE]) == me.id
        finally:
            leases.release(st, table, me)
            leases.release(st, leases.WAREHOUSE, me)
        _, err = host_b.communicate(timeout=300)
        assert host_b.returncode == 0, err[-3000:]
        rows = ledger.latest(st, dates=[dt.date(2022, 11, 2)], phase=3)
        status = {r["processor"]: r["status"] for r in rows}
        # upcoming_player_game_context reads earlier dates (not run here): computed from what
        # exists and flagged degraded (a lookback gap degrades, it does not block), not a failure.
        assert status == {"team_offense_game_summary": "success", "team_defense_game_summary": "success",
                          "upcoming_team_game_context": "success", "player_game_summary": "success",
                          "upcoming_player_game_context": "degraded"}
        assert st.scalar("SELECT count(*) FROM leases") == 0
        assert st.get_meta("duckdb_host") != "host-b"
    assert (home / "spark-warehouse" / "nba_analytics" / "player_game_summary" / "game_date=2022-11-02").is_dir()


def test_a_dropped_connection_is_replaced_on_the_next_call(url):
    """A server restart or failover drops connections: a long-running worker's store and bus
    reconnect on their next call instead of failing from then on."""
    import psycopg
    with open_state(url) as st:
        bus = bus_for(st)
        bus.publish("t", {"n": 1})
        bus.wait(["t"], 0.1)                      # its LISTEN connection exists now
        pids = [st.con.info.backend_pid, bus._listener.info.backend_pid]
        with psycopg.connect(split_url(url)[0], autocommit=True) as admin:
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert st.scalar("SELECT count(*) FROM bus_messages") == 1     # a read: reconnected
        assert st.con.info.backend_pid not in pids
        [msg] = bus.pull("t")                                           # transactions work again
        assert bus.ack(msg)
        bus.wait(["t"], 0.1)                      # the dead listener is dropped, not raised
        bus.wait(["t"], 0.1)                      # and a new one made
        assert bus._listener is not None and bus._listener.info.backend_pid not in pids
        bus.close()
