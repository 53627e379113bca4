"""The state store (leases and transactions on SQLite and PostgreSQL), leases across threads and processes, and the warehouse's schema,
slice-replace writes and single-writer lock."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import state_at
from nbapipe.config import REPO_ROOT, SCHEMA_VERSION
from nbapipe.state import connect, leases, open_state
from nbapipe.state.store import STATE_SCHEMA_VERSION
from nbapipe.warehouse import (WarehouseBusy, ensure_schema, open_warehouse, schema_version,
                               table_keys)

SRC = str(REPO_ROOT / "src")


@pytest.fixture
def state_path(tmp_path, state_backend):
    """The home's state.sqlite, or on the postgres backend the test's server URL."""
    return state_at(tmp_path / "home")


@pytest.fixture
def st(state_path):
    with open_state(state_path) as s:
        yield s


def spawn(code: str, *args: str) -> subprocess.Popen:
    """A Python child process running `code` (nbapipe importable), stdout piped, line-buffered."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(proc: subprocess.Popen, expected: str, timeout: float = 10.0) -> str:
    """Read the child's stdout until a line starting with `expected` (fails on exit/timeout)."""
    deadline = time.monotonic() + timeout
    result: list[str] = []

    def read():
        for line in proc.stdout:
            if line.startswith(expected):
                result.append(line.strip())
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(max(0.0, deadline - time.monotonic()))
    if not result:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        pytest.fail(f"child never printed {expected!r} (rc={proc.returncode}): {err}")
    return result[0]


def reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


# --- the store -------------------------------------------------------------------------------

def test_state_store_wal_busy_timeout_and_schema_version(state_path):
    st = connect(state_path)
    try:
        assert state_path.exists()
        assert st.scalar("PRAGMA journal_mode") == "wal"
        assert st.scalar("PRAGMA busy_timeout") >= 1000
        assert st.schema_version() == STATE_SCHEMA_VERSION == 1
        tables = {r["name"] for r in st.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "run_ledger", "runs", "leases", "lease_waiters", "calendar_seasons",
                "calendar_dates"} <= tables
        with st.tx() as con:
            con.execute("INSERT INTO runs (run_id, command) VALUES ('r1', 'backfill')")
    finally:
        st.close()


def test_state_store_reopen_is_idempotent(state_path):
    with open_state(state_path) as st:
        with st.tx() as con:
            con.execute("INSERT INTO runs (run_id, command) VALUES ('r1', 'backfill')")
        schema1 = st.rows("SELECT type, name, sql FROM sqlite_master ORDER BY name")
    for _ in range(2):
        with open_state(state_path) as st:
            assert st.rows("SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema1
            assert st.scalar("PRAGMA journal_mode") == "wal"
            assert st.schema_version() == STATE_SCHEMA_VERSION
            assert st.scalar("SELECT count(*) FROM meta WHERE key = 'schema_version'") == 1
            assert st.rows("SELECT run_id, command FROM runs") == [{"run_id": "r1", "command": "backfill"}]


@pytest.mark.both_states
def test_tx_rolls_back_on_error(st):
    with pytest.raises(RuntimeError):
        with st.tx() as con:
            con.execute("INSERT INTO runs (run_id) VALUES ('gone')")
            raise RuntimeError("boom")
    assert st.scalar("SELECT count(*) FROM runs") == 0
    with st.tx() as con:   # the connection is usable again
        con.execute("INSERT INTO runs (run_id) VALUES ('kept')")
    assert st.scalar("SELECT count(*) FROM runs") == 1


@pytest.mark.both_states
def test_concurrent_writers_in_threads_do_not_fail(state_path):
    """BEGIN IMMEDIATE + busy timeout: writers from several connections take turns."""
    connect(state_path).close()
    errors: list[BaseException] = []

    def writer(k: int):
        try:
            with open_state(state_path) as s:
                for i in range(25):
                    with s.tx() as con:
                        n = con.execute("SELECT count(*) FROM runs").fetchone()[0]
                        con.execute("INSERT INTO runs (run_id, done) VALUES (?, ?)", [f"{k}-{i}", n])
        except BaseException as e:   # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    with open_state(state_path) as s:
        assert s.scalar("SELECT count(*) FROM runs") == 100
        # each transaction saw all earlier ones: the counts are 0..99, no lost update
        assert sorted(r["done"] for r in s.rows("SELECT done FROM runs")) == list(range(100))


# --- leases ----------------------------------------------------------------------------------

@pytest.mark.both_states
def test_try_acquire_release_and_reacquire(st):
    a, b = leases.Holder.me("backfill a"), leases.Holder.me("worker b")
    assert a.id != b.id and a.pid == os.getpid()

    assert leases.try_acquire(st, "warehouse", a, ttl=30) is None
    other = leases.try_acquire(st, "warehouse", b, ttl=30)
    assert other is not None
    assert other["holder"] == a.id
    assert other["host"] == a.host
    assert other["pid"] == os.getpid()
    assert other["purpose"] == "backfill a"
    assert other["expires_at"] > time.time()
    # the holder may take it again (and extends it)
    assert leases.try_acquire(st, "warehouse", a, ttl=30) is None
    # another name is independent
    assert leases.try_acquire(st, "table:x", b, ttl=30) is None
    held = {(r["name"], r["holder"]) for r in leases.current(st) if r["state"] == "held"}
    assert held == {("warehouse", a.id), ("table:x", b.id)}

    # releasing by someone else does nothing; by the holder frees it
    leases.release(st, "warehouse", b)
    assert leases.try_acquire(st, "warehouse", b, ttl=30)["holder"] == a.id
    leases.release(st, "warehouse", a)
    assert leases.try_acquire(st, "warehouse", b, ttl=30) is None
    assert leases.try_acquire(st, "warehouse", a, ttl=30)["holder"] == b.id


@pytest.mark.both_states
def test_expired_lease_can_be_taken(st):
    a, b = leases.Holder.me("a"), leases.Holder.me("b")
    assert leases.try_acquire(st, "warehouse", a, ttl=0.2) is None
    assert leases.try_acquire(st, "warehouse", b, ttl=0.2)["holder"] == a.id
    time.sleep(0.3)
    assert leases.current(st) == []           # lapsed leases are not shown as held
    assert leases.try_acquire(st, "warehouse", b, ttl=5) is None
    assert leases.try_acquire(st, "warehouse", a, ttl=5)["holder"] == b.id
    # the lapsed holder cannot renew what it lost
    assert leases.renew(st, "warehouse", a, ttl=5) is False
    assert leases.renew(st, "warehouse", b, ttl=5) is True


HOLD_IN_CHILD = """
    import sys, time
    from nbapipe.state.store import connect
    from nbapipe.state import leases
    st = connect(sys.argv[1])
    with leases.hold(st, "warehouse", "child backfill", ttl=float(sys.argv[2])) as h:
        print("held", h.pid, flush=True)
        time.sleep(float(sys.argv[3]))
    print("released", flush=True)
    st.close()
"""


@pytest.mark.both_states
def test_hold_waits_for_another_process(st, state_path):
    proc = spawn(HOLD_IN_CHILD, str(state_path), "5", "2")
    try:
        line = wait_for_line(proc, "held")
        assert int(line.split()[1]) == proc.pid
        seen: list[dict] = []
        views: list[list[dict]] = []

        def on_wait(row):
            seen.append(row)
            views.append(leases.current(st))

        t0 = time.monotonic()
        with leases.hold(st, "warehouse", "parent", wait=10, poll=0.1, on_wait=on_wait) as me:
            waited = time.monotonic() - t0
            assert proc.wait(timeout=5) == 0          # the child had released and exited
            row = st.rows("SELECT * FROM leases WHERE name = 'warehouse'")[0]
            assert row["holder"] == me.id and row["pid"] == os.getpid()
            assert st.scalar("SELECT count(*) FROM lease_waiters") == 0
        assert len(seen) == 1, seen                   # told once per holder
        assert seen[0]["pid"] == proc.pid
        assert seen[0]["purpose"] == "child backfill"
        assert seen[0]["host"] == me.host
        assert waited > 0.5
        # while waiting, status saw the child holding and us waiting
        states = {(r["state"], r["pid"]) for r in views[0]}
        assert ("held", proc.pid) in states and ("waiting", os.getpid()) in states
        # released at the end of the block
        assert st.scalar("SELECT count(*) FROM leases") == 0
    finally:
        reap(proc)


@pytest.mark.both_states
def test_hold_timeout_names_the_holder(st):
    other = leases.Holder("otherhost:4242:abc", "otherhost", 4242, "ingest 2021-22")
    assert leases.try_acquire(st, "warehouse", other, ttl=30) is None
    t0 = time.monotonic()
    with pytest.raises(leases.LeaseTimeout) as exc:
        with leases.hold(st, "warehouse", "me", wait=0.5, poll=0.1):
            pytest.fail("must not get the lease")
    assert 0.4 < time.monotonic() - t0 < 3
    msg = str(exc.value)
    assert "warehouse" in msg and "ingest 2021-22" in msg and "otherhost" in msg and "4242" in msg
    # the timed-out waiter does not linger in status; the holder keeps its lease
    assert st.scalar("SELECT count(*) FROM lease_waiters") == 0
    assert st.rows("SELECT holder FROM leases") == [{"holder": other.id}]


@pytest.mark.both_states
def test_killed_holder_lease_lapses(st, state_path):
    proc = spawn(HOLD_IN_CHILD, str(state_path), "1", "60")
    try:
        wait_for_line(proc, "held")
        me = leases.Holder.me("probe")
        time.sleep(1.2)                                 # past the ttl: heartbeat keeps it
        assert leases.try_acquire(st, "warehouse", me, ttl=1)["pid"] == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=5) == -signal.SIGKILL
        t0 = time.monotonic()
        with leases.hold(st, "warehouse", "next", wait=4, poll=0.1):
            took = time.monotonic() - t0
        assert took < 2.0, took                         # lapsed within about one ttl
    finally:
        reap(proc)


@pytest.mark.both_states
def test_heartbeat_keeps_lease_alive_past_ttl(state_path):
    path = state_path
    with open_state(path) as st, open_state(path) as st2:
        other = leases.Holder.me("other")
        refused = 0
        with leases.hold(st, "warehouse", "long job", ttl=0.6) as me:
            t_end = time.monotonic() + 2.0
            while time.monotonic() < t_end:
                row = leases.try_acquire(st2, "warehouse", other, ttl=0.6)
                assert row is not None and row["holder"] == me.id
                refused += 1
                time.sleep(0.1)
        assert refused >= 10
        # released on exit: the other takes it at once
        assert leases.try_acquire(st2, "warehouse", other, ttl=0.6) is None


@pytest.mark.both_states
def test_hold_serves_waiters_first_come_first_served(st, state_path):
    """A writer that comes back the moment the lease is free (a worker with a queue of
    triggers) does not overtake one that was already waiting (a manual backfill)."""
    a = leases.Holder.me("worker, first unit")
    assert leases.try_acquire(st, "warehouse", a, ttl=30) is None
    order: list[str] = []

    def backfill():
        with open_state(state_path) as mine:
            with leases.hold(mine, "warehouse", "manual backfill", poll=0.5):
                order.append("manual backfill")
                time.sleep(0.3)

    t = threading.Thread(target=backfill)
    t.start()
    deadline = time.monotonic() + 30     # a loaded machine: the thread may be slow to start
    while not st.scalar("SELECT count(*) FROM lease_waiters") and time.monotonic() < deadline:
        time.sleep(0.02)
    # the backfill must be in line before the worker comes back, or the test proves nothing
    assert st.scalar("SELECT count(*) FROM lease_waiters") == 1
    told: list[dict] = []
    leases.release(st, "warehouse", a)
    # (a generous wait: on a loaded machine the backfill's thread can take seconds to be scheduled)
    with leases.hold(st, "warehouse", "worker, next unit", wait=30, poll=0.05, on_wait=told.append):
        order.append("worker, next unit")
    t.join(timeout=30)
    assert order == ["manual backfill", "worker, next unit"]
    assert told[0]["purpose"] == "manual backfill (waiting before us)"
    assert st.scalar("SELECT count(*) FROM lease_waiters") == 0


@pytest.mark.both_states
def test_an_interrupted_waiter_stops_waiting_at_once(st):
    other = leases.Holder.me("a long backfill")
    assert leases.try_acquire(st, "warehouse", other, ttl=30) is None

    def interrupt(row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with leases.hold(st, "warehouse", "ctrl-c while waiting", on_wait=interrupt):
            pytest.fail("must not get the lease")
    assert st.scalar("SELECT count(*) FROM lease_waiters") == 0


@pytest.mark.both_states
def test_hold_releases_on_exception(st):
    with pytest.raises(KeyError):
        with leases.hold(st, "warehouse", "failing job", ttl=5):
            raise KeyError("boom")
    assert st.scalar("SELECT count(*) FROM leases") == 0


# --- warehouse -------------------------------------------------------------------------------

def _tables(wh) -> list[tuple]:
    return wh.tuples("SELECT table_schema, table_name FROM information_schema.tables "
                     "ORDER BY 1, 2")


def test_ensure_schema_is_idempotent(wh):
    before = _tables(wh)
    ensure_schema(wh)
    ensure_schema(wh)
    assert _tables(wh) == before
    assert schema_version(wh) == SCHEMA_VERSION == 1
    assert wh.scalar("SELECT count(*) FROM nba_reference.schema_version") == 1
    assert {s for s, _ in before} >= {"nba_raw", "nba_reference"}


def test_ensure_schema_on_file_survives_reopen(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path) as w:
        ensure_schema(w)
        first = _tables(w)
    with open_warehouse(path) as w:
        ensure_schema(w)
        assert _tables(w) == first
        assert w.scalar("SELECT count(*) FROM nba_reference.schema_version") == 1
    with open_warehouse(path, read_only=True) as w:
        assert schema_version(w) == 1


def test_table_keys_cover_every_raw_table(wh):
    ddl = (REPO_ROOT / "src" / "nbapipe" / "warehouse" / "schema.sql").read_text(encoding="utf-8")
    declared = re.findall(r"CREATE TABLE IF NOT EXISTS (\S+)", ddl)
    raw = [t for t in declared if t.startswith("nba_raw.")]
    assert len(raw) >= 10
    keys = table_keys()
    missing = [t for t in raw if t not in keys]
    assert not missing, f"no `-- key:` line for {missing}"
    assert set(declared) <= set(keys)
    for table, key in keys.items():
        assert wh.table_exists(table), table
        cols = set(wh.columns(table))
        assert key and set(key) <= cols, (table, key, sorted(cols))
    assert keys["nba_raw.nbac_schedule"] == ("nba_game_id", "data_source")
    assert keys["nba_raw.nbac_gamebook_player_stats"] == ("game_id", "player_lookup", "data_source")


D1, D2, D3 = dt.date(2021, 10, 19), dt.date(2021, 10, 20), dt.date(2021, 10, 21)


def _slice_rows(wh, table="nba_analytics.slice_demo"):
    return wh.tuples(f"SELECT game_date, player_lookup, points FROM {table} ORDER BY ALL")


def test_replace_slices_replaces_exactly_the_given_dates(wh):
    table = "nba_analytics.slice_demo"
    seed = """SELECT * FROM (VALUES
        (DATE '2021-10-19', 'a', 10), (DATE '2021-10-19', 'b', 11),
        (DATE '2021-10-20', 'a', 20), (DATE '2021-10-20', 'b', 21), (DATE '2021-10-20', 'c', 22),
        (DATE '2021-10-21', 'a', 30)) t(game_date, player_lookup, points)"""
    # first write creates the table
    wh.replace_slices(table, "game_date", [D1, D2, D3], seed)
    assert len(_slice_rows(wh)) == 6

    # recompute D2 from a SELECT that also yields D1 and D3 rows: only D2 changes,
    # 'c' disappears from D2, 'd' appears
    new = """SELECT * FROM (VALUES
        (DATE '2021-10-19', 'a', 99), (DATE '2021-10-19', 'z', 99),
        (DATE '2021-10-20', 'a', 200), (DATE '2021-10-20', 'b', 210), (DATE '2021-10-20', 'd', ?),
        (DATE '2021-10-21', 'a', 99)) t(game_date, player_lookup, points)"""
    expected = [(D1, "a", 10), (D1, "b", 11),
                (D2, "a", 200), (D2, "b", 210), (D2, "d", 230),
                (D3, "a", 30)]
    with wh.transaction():
        wh.replace_slices(table, "game_date", [D2], new, [230])
    assert _slice_rows(wh) == expected
    # rerun: identical, no duplicates
    wh.replace_slices(table, "game_date", [D2], new, [230])
    assert _slice_rows(wh) == expected
    # a requested date the SELECT has no rows for is emptied
    wh.replace_slices(table, "game_date", [D3], new.replace("2021-10-21", "2021-10-22"), [230])
    assert _slice_rows(wh) == expected[:-1]
    # no dates: nothing changes
    wh.replace_slices(table, "game_date", [], new, [230])
    assert _slice_rows(wh) == expected[:-1]


def test_replace_slices_rolls_back_with_its_transaction(wh):
    table = "nba_analytics.slice_demo"
    wh.execute(f"CREATE TABLE {table} (game_date DATE, player_lookup VARCHAR, points INTEGER)")
    wh.execute(f"INSERT INTO {table} VALUES ('2021-10-19', 'a', 1), ('2021-10-20', 'a', 2)")
    before = _slice_rows(wh)
    with pytest.raises(RuntimeError):
        with wh.transaction():
            wh.replace_slices(table, "game_date", [D1, D2],
                              "SELECT DATE '2021-10-19' AS game_date, 'x' AS player_lookup, 5 AS points")
            assert len(_slice_rows(wh)) == 1
            raise RuntimeError("ledger write failed")
    assert _slice_rows(wh) == before


def test_catalog_reads_follow_ddl_commits_and_rollbacks_of_every_connection(tmp_path):
    """table_exists and columns read a snapshot of the catalog: it must never be stale, whichever
    connection changed the catalog, in or out of a transaction, committed or rolled back."""
    from nbapipe.engines.duckdb import DuckDBEngine
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        eng = DuckDBEngine.wrap(wh)
        wh.execute("CREATE SCHEMA nba_raw")
        other = eng.cursor()                   # another connection to the same database
        try:
            assert not wh.table_exists("nba_raw.demo") and not other.table_exists("nba_raw.demo")
            other.execute("CREATE TABLE nba_raw.demo (a INTEGER)")          # autocommit DDL
            assert wh.table_exists("nba_raw.demo") and wh.columns("nba_raw.demo") == ["a"]
            # A change inside another connection's transaction: invisible here until it commits.
            with other.transaction():
                other.execute("ALTER TABLE nba_raw.demo ADD COLUMN b VARCHAR")
                other.execute("CREATE TABLE nba_raw.demo2 AS SELECT 1 AS x")
                assert other.columns("nba_raw.demo") == ["a", "b"] and other.table_exists("nba_raw.demo2")
                assert wh.columns("nba_raw.demo") == ["a"] and not wh.table_exists("nba_raw.demo2")
            assert wh.columns("nba_raw.demo") == ["a", "b"] and wh.table_exists("nba_raw.demo2")
            # Rolled back: gone again for both.
            with pytest.raises(RuntimeError):
                with other.transaction():
                    other.execute("CREATE TABLE nba_raw.demo3 (y INTEGER)")
                    assert other.table_exists("nba_raw.demo3")
                    raise RuntimeError("the unit failed")
            assert not other.table_exists("nba_raw.demo3") and not wh.table_exists("nba_raw.demo3")
            # Temp objects are not the database's tables; a view is.
            wh.execute("CREATE OR REPLACE TEMP TABLE demo4 AS SELECT 1 AS z")
            wh.execute("CREATE VIEW nba_raw.demo_view AS SELECT a FROM nba_raw.demo")
            assert not wh.table_exists("main.demo4") and other.columns("nba_raw.demo_view") == ["a"]
            other.execute("DROP VIEW nba_raw.demo_view")
            assert not wh.table_exists("nba_raw.demo_view")
        finally:
            other.close()


def test_threads_blocks_nest_restore_and_set_nothing_when_already_set(tmp_path):
    """Warehouse.threads: a daily cycle sets one thread once and its runs nest the same block
    (no SET); a long catch-up inside asks for the default back; each block restores on exit."""
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        def now() -> int:
            return int(wh.scalar("SELECT current_setting('threads')"))
        default = now()
        sets: list[str] = []
        run = wh._run
        wh._run = lambda sql, params: (sets.append(sql) if sql.startswith("SET") else None, run(sql, params))[1]
        with wh.threads(1):
            assert now() == 1 and len(sets) == 1
            with wh.threads(1):
                assert now() == 1 and len(sets) == 1          # already one: nothing set
            with wh.threads(None):
                assert now() == default
            assert now() == 1
        assert now() == default
        with pytest.raises(RuntimeError):
            with wh.threads(1):
                raise RuntimeError("a failed run")
        assert now() == default


OPEN_IN_CHILD = """
    import sys
    from pathlib import Path
    from nbapipe.warehouse import WarehouseBusy, open_warehouse
    for read_only in (False, True):
        try:
            with open_warehouse(Path(sys.argv[1]), read_only=read_only) as w:
                print("opened", read_only, w.scalar("SELECT count(*) FROM t"), flush=True)
        except WarehouseBusy as e:
            print("busy", read_only, str(e).replace(chr(10), " "), flush=True)
"""


def test_second_process_gets_warehouse_busy(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path) as w:
        w.execute("CREATE TABLE t AS SELECT 1 AS x")
        proc = spawn(OPEN_IN_CHILD, str(path))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) == 2, (out, err)
        for line, ro in zip(lines, ("False", "True")):
            assert line.startswith(f"busy {ro} "), line
            assert "in use by another process" in line and str(path) in line
    # once the first process closed it, the second can open it
    proc = spawn(OPEN_IN_CHILD, str(path))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["opened False 1", "opened True 1"]
