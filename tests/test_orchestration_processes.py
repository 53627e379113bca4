"""Event-driven orchestration with real processes: an orchestrator and two workers (of the
phase under test) started as separate `nbapipe` processes, fed by ingests and backfills run
from the command line.

Phase 2 -> 3: new box scores for a week arrive (ingest without the skip flag) and the workers
run Phase 3 for exactly those dates. Phase 3 -> 4: a Phase 3 backfill of a week without the
flag leads to Phase 4 for every game date of it and exactly one trigger each, while the same
backfill with the flag (another week) publishes nothing; meanwhile the test holds the
warehouse like a manual job, the workers and a manual backfill wait for it, and status and
orchestrator status keep answering from the state store."""
from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack, contextmanager

import pytest

from conftest import copy_home, state_at
from nbapipe import processors as registry
from nbapipe.config import REPO_ROOT
from nbapipe.state import leases, ledger, open_state
from nbapipe.workspace import Workspace
from orchestration_support import wait_until, write_slice

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

NEW_WEEK = ("2021-10-19", "2021-10-25")        # Phase 2 -> 3: the season's first week
WEEK = ("2021-11-01", "2021-11-07")            # Phase 3 -> 4, published
SKIPPED_WEEK = ("2021-11-08", "2021-11-14")    # Phase 3 -> 4, --skip-downstream-trigger
TIMEOUT = 60


def nbapipe(home, *args) -> list[str]:
    return [sys.executable, "-m", "nbapipe.cli", "--home", str(home), *args]


def run(home, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    r = subprocess.run(nbapipe(home, *args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{args}: {r.stderr[-3000:]}"
    return r


@contextmanager
def services(home, logs, phase: int, worker_args: tuple[str, ...] = (), killed: set[int] = frozenset()):
    """`orchestrator run` and two `worker --phase N`, always terminated (then killed) on the
    way out. Workers of one phase keep the test to the transition it is about: triggers of
    later phases are published but left queued. Every process must still run at the end but
    those whose pid the test put in `killed`."""
    logs.mkdir(exist_ok=True)
    names = ["orchestrator", "worker-1", "worker-2"]
    cmds = [nbapipe(home, "orchestrator", "run", "--poll", "0.2")] + \
        [nbapipe(home, "worker", "--phase", str(phase), "--poll", "0.2", *worker_args)] * 2
    files = [open(logs / f"{n}.log", "w") for n in names]
    procs = [subprocess.Popen(c, cwd=REPO_ROOT, stdout=f, stderr=subprocess.STDOUT) for c, f in zip(cmds, files)]
    try:
        yield procs
        for n, p in zip(names, procs):
            assert p.poll() is None or p.pid in killed, f"{n} exited: {(logs / f'{n}.log').read_text()[-3000:]}"
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=15)
        for f in files:
            f.close()


def dates(span: tuple[str, str]) -> list[str]:
    from conftest import all_dates
    return [d.isoformat() for d in all_dates(*span)]


def game_dates(st, span: tuple[str, str]) -> list[str]:
    return [r["game_date"] for r in st.rows("SELECT game_date FROM calendar_dates WHERE game_date BETWEEN ? AND ? "
                                             "ORDER BY 1", list(span))]


def trigger_counts(st, phase: int) -> dict[str, int]:
    return {r["game_date"]: r["n"] for r in st.rows(
        "SELECT game_date, count(*) AS n FROM phase_triggers WHERE target_phase = ? GROUP BY 1", [phase])}


def trigger_messages(st, phase: int) -> dict[str, int]:
    return {r["msg_key"]: r["n"] for r in st.rows(
        "SELECT msg_key, count(*) AS n FROM bus_messages WHERE topic = ? GROUP BY 1", [f"nba-phase{phase}-trigger"])}


def units(st, phase: int, span: tuple[str, str]) -> list[dict]:
    rows = ledger.latest(st, phase=phase, start=_d(span[0]), end=_d(span[1]))
    commands = {r["run_id"]: r["command"] for r in st.rows("SELECT run_id, command FROM runs")}
    return [dict(r, command=commands.get(r["run_id"])) for r in rows]


def _d(s: str):
    import datetime as dt
    return dt.date.fromisoformat(s)


def settled(st, phase: int) -> bool:
    """Every completion consumed and decided, every trigger published, and the triggers of
    `phase` (the workers' phase) done."""
    return (st.scalar("SELECT count(*) FROM bus_messages WHERE acked_at IS NULL AND dead_at IS NULL "
                      "AND (topic LIKE '%-complete' OR topic = ?)", [f"nba-phase{phase}-trigger"]) == 0
            and st.scalar("SELECT count(*) FROM phase_dates WHERE dirty = 1") == 0
            and st.scalar("SELECT count(*) FROM phase_triggers WHERE published_at IS NULL") == 0)


def worker_waiting(st) -> list[dict]:
    return st.rows("SELECT * FROM workers WHERE state = 'waiting for the warehouse'")


# --- Phase 2 -> 3 -------------------------------------------------------------------------------

def test_new_box_scores_lead_to_phase3_for_exactly_those_dates(tmp_path, data_dir):
    home = tmp_path / "home"
    # The schedule and crosswalks as a bulk historical load: no events.
    run(home, "ingest", str(data_dir / "nba_api" / "schedule_2021_22_to_2023_24.csv.gz"),
        str(data_dir / "bbref" / "games.csv.gz"), str(data_dir / "crosswalks"), "--skip-downstream-trigger")
    new = [write_slice(data_dir / "bbref" / f"{name}.csv.gz", tmp_path / "new" / f"{name}.csv", *NEW_WEEK)
           for name in ("player_box", "team_box", "inactives")]
    with services(home, tmp_path / "logs", phase=3), open_state(state_at(home)) as st:
        assert st.scalar("SELECT count(*) FROM bus_messages") == 0
        run(home, "ingest", *map(str, new))                   # the week's box scores arrive
        expected = game_dates(st, NEW_WEEK)
        wait_until(lambda: len({r["game_date"] for r in units(st, 3, NEW_WEEK) if r["status"] == "success"})
                   == len(expected) and settled(st, 3), TIMEOUT, "Phase 3 of the new week through the workers")
        p3 = units(st, 3, ("2021-10-01", "2022-06-30"))
        assert trigger_counts(st, 3) == {d: 1 for d in expected}
        assert trigger_messages(st, 3) == {d: 1 for d in expected}
        if 4 in registry.phases():                            # and Phase 4 is next, once per date
            assert trigger_counts(st, 4) == trigger_messages(st, 4) == {d: 1 for d in expected}
    assert expected == dates(NEW_WEEK)                        # every day of that week had games
    assert sorted({r["game_date"] for r in p3}) == expected   # no other date ran
    assert {(r["status"], r["command"]) for r in p3} == {("success", "worker")}
    assert len(p3) == 5 * len(expected)
    r = run(home, "sql", "SELECT player_full_name, points FROM nba_analytics.player_game_summary "
                         "WHERE game_date = '2021-10-19' ORDER BY points DESC, player_lookup LIMIT 2", "--json")
    assert json.loads(r.stdout) == [{"player_full_name": "LeBron James", "points": 34},
                                    {"player_full_name": "Anthony Davis", "points": 33}]


# --- Phase 3 -> 4 -------------------------------------------------------------------------------

@pytest.mark.skipif(4 not in registry.phases(), reason="Phase 4 processors are not in the registry yet")
def test_phase3_backfill_triggers_phase4_once_per_date_and_the_skip_flag_nothing(phase3_home, tmp_path):
    home = copy_home(phase3_home, tmp_path / "home")
    ws = Workspace.at(home)
    st = ws.state
    p4_processors = [n for n, p in registry.all_processors().items() if p.phase == 4]
    try:
        # The backfill before the services start: its completions wait on the bus. A manual job
        # in another terminal then holds the warehouse (the lease, DuckDB open) before the
        # workers start, so the week's triggers must wait for it (a worker drains a week's
        # triggers as one batch in a second: taken later, nothing might be left to wait).
        run(home, "backfill", "--phase", "3", "--start-date", WEEK[0], "--end-date", WEEK[1], "--no-resume")
        manual_job = ExitStack()
        manual_job.enter_context(ws.writer("a manual job in another terminal"))
        with manual_job, services(home, tmp_path / "logs", phase=4):
            with manual_job:
                wait_until(lambda: worker_waiting(st), TIMEOUT, "a worker waiting for the warehouse")
                manual = subprocess.Popen(nbapipe(home, "backfill", "--phase", "3", "--start-date", SKIPPED_WEEK[0],
                                                  "--end-date", SKIPPED_WEEK[1], "--no-resume",
                                                  "--skip-downstream-trigger"),
                                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                wait_until(lambda: any(h["purpose"] == "backfill phase 3" for h in leases.current(st)
                                       if h["state"] == "waiting"), TIMEOUT, "the manual backfill to wait")
                # Everything a second process reads comes from the state store, warehouse held or not.
                monitor = json.loads(run(home, "monitor", "--season", "2021-22", "--json").stdout)
                assert {p["phase"]: p["done"] for p in monitor["phases"]}[3] == 5 * 213   # Phase 3 complete
                shown = run(home, "status", "--start-date", WEEK[0], "--end-date", WEEK[0]).stdout
                assert "waiting warehouse: worker" in shown and "waiting warehouse: backfill phase 3" in shown
                rows = json.loads(run(home, "orchestrator", "status", "--start-date", WEEK[0], "--end-date",
                                      WEEK[1], "--phase", "4", "--json").stdout)
                assert any((r["trigger_state"] or "").startswith("waiting for the warehouse") for r in rows)
                # Waiting is not failing: no unit failed, no trigger was set aside.
                assert [r for r in ledger.latest(st, phase=4) if r["status"] == "failed"] == []
                assert st.scalar("SELECT count(*) FROM bus_messages WHERE dead_at IS NOT NULL") == 0
            _, err = manual.communicate(timeout=TIMEOUT)
            assert manual.returncode == 0, err[-3000:]
            assert "waiting for the warehouse" in err
            week = game_dates(st, WEEK)
            wait_until(lambda: len(units(st, 4, WEEK)) == len(week) * len(p4_processors) and settled(st, 4),
                       TIMEOUT, "Phase 4 of the week through the workers")
            status_rows = json.loads(run(home, "orchestrator", "status", "--start-date", WEEK[0], "--end-date",
                                         SKIPPED_WEEK[1], "--phase", "4", "--json").stdout)
        p4 = units(st, 4, WEEK)
        assert {(r["status"], r["command"]) for r in p4} == {("success", "worker")}
        assert sorted({r["game_date"] for r in p4}) == week == dates(WEEK)
        assert trigger_counts(st, 4) == {d: 1 for d in week}     # exactly one trigger per date
        assert trigger_messages(st, 4) == {d: 1 for d in week}
        by_date = {r["date"]: r for r in status_rows}
        assert all(by_date[d]["triggered"] and by_date[d]["trigger_count"] == 1 and by_date[d]["trigger_state"] == "acked"
                   for d in week)
        # The skipped week ran (fresh Phase 3 rows) but published nothing and Phase 4 stayed untouched.
        skipped = dates(SKIPPED_WEEK)
        manual_runs = {r["run_id"] for r in units(st, 3, SKIPPED_WEEK)}
        assert len(manual_runs) == 1 and {r["command"] for r in units(st, 3, SKIPPED_WEEK)} == {"backfill"}
        assert st.scalar(f"SELECT count(*) FROM bus_messages WHERE msg_key IN ({','.join('?' * 7)})", skipped) == 0
        assert units(st, 4, SKIPPED_WEEK) == []
        assert all(not by_date[d]["triggered"] and by_date[d]["reported"] == {} for d in skipped)
        if 5 in registry.phases():                            # the chain goes on: Phase 5 is next
            assert trigger_counts(st, 5) == trigger_messages(st, 5) == {d: 1 for d in week}
    finally:
        ws.close()
