"""The event bus and the phase orchestrators on a temporary state store: at-least-once
delivery, duplicated / reordered / concurrent completions (threads and processes), a crash
before acknowledgement, failed processors, reruns; then the publishers and a worker on the
real data."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import state_at
from typer.testing import CliRunner

from nbapipe.config import REPO_ROOT
from nbapipe.orchestration.events import (PHASE2_COMPLETE, PHASE3_COMPLETE, PHASE3_TRIGGER, PHASE4_TRIGGER,
                                          Envelope, bus_for, UnitPublisher, phase2_completions)
from nbapipe.orchestration.orchestrator import (Orchestrator, Requirement, Transition, phase2_requirements,
                                                status)
from nbapipe.state import open_state
from nbapipe.state.ledger import UnitResult, now_iso

pytestmark = pytest.mark.both_states

PHASE3 = ["team_offense_game_summary", "team_defense_game_summary", "upcoming_team_game_context",
          "player_game_summary", "upcoming_player_game_context"]
P34 = Transition(3, 4, tuple(Requirement(p, (p,)) for p in PHASE3), downstream=True)
P23 = Transition(2, 3, phase2_requirements("calendar,chain:player_boxscores"), downstream=True)
D1, D2, D3 = "2021-11-01", "2021-11-02", "2021-11-03"
SRC = str(REPO_ROOT / "src")


@pytest.fixture
def home(tmp_path):
    """A home whose state store has a calendar (game dates D1..D3, not 2021-11-04)."""
    h = tmp_path / "home"
    with open_state(state_at(h)) as st, st.tx() as con:
        con.executemany("INSERT INTO calendar_dates VALUES (?, '2021-22', 5, 'regular', 0)", [[D1], [D2], [D3]])
    return h


@pytest.fixture
def st(home):
    with open_state(state_at(home)) as s:
        yield s


def env(processor: str, date: str = D1, status: str = "success", run: str = "run-a", ts: str | None = None,
        phase: int = 3) -> dict:
    return Envelope(processor, phase, date, status, 42, run, f"corr-{run}", ts or now_iso()).as_dict()


def send(bus, envs, topic: str = PHASE3_COMPLETE) -> None:
    for e in envs:
        bus.publish(topic, e, key=e["game_date"])


def drain(orch: Orchestrator, rounds: int = 20) -> None:
    for _ in range(rounds):
        r = orch.step()
        if not r["consumed"] and not r["triggered"] and not r["settling"]:
            return


def triggers(st, topic: str = PHASE4_TRIGGER) -> list[dict]:
    """Trigger messages on the bus (read, not consumed) and the trigger rows, per date."""
    msgs = st.rows("SELECT msg_key, payload FROM bus_messages WHERE topic = ? ORDER BY id", [topic])
    return [dict(json.loads(m["payload"]), key=m["msg_key"]) for m in msgs]


def trigger_dates(st, topic: str = PHASE4_TRIGGER) -> list[str]:
    return [t["game_date"] for t in triggers(st, topic)]


# --- the bus ---------------------------------------------------------------------------------

def test_bus_claims_acks_and_redelivers_after_the_visibility_timeout(st):
    bus = bus_for(st)
    first = bus.publish("t", {"n": 1}, key="2021-11-02")
    bus.publish("t", {"n": 2}, key="2021-11-01")
    [a] = bus.pull("t", 1, visibility_timeout=0.3, consumer="c1")
    assert a.payload == {"n": 2} and a.attempts == 1          # earliest key first
    [b] = bus.pull("t", 5, visibility_timeout=0.3, consumer="c2")
    assert b.id == first and bus.pull("t", 5) == []           # both claimed: nothing left
    assert bus.ack(b) and bus.backlog("t") == 1 and bus.backlog("t", ["2021-11-02"]) == 0
    time.sleep(0.35)                                          # a's consumer "died"
    [again] = bus.pull("t", 5, visibility_timeout=5, consumer="c3")
    assert again.id == a.id and again.attempts == 2
    assert not bus.ack(a)                                     # the lapsed claim is no longer a's
    assert bus.describe([a.id])[a.id]["state"] == "claimed"
    assert bus.ack(again) and bus.backlog("t") == 0 and bus.pull("t", 5) == []
    assert bus.describe([a.id, b.id]) == {a.id: {"state": "acked", "claimed_by": None, "attempts": 2,
                                                 "last_error": "claim expired"},
                                          b.id: {"state": "acked", "claimed_by": None, "attempts": 1,
                                                 "last_error": None}}


def test_bus_extend_keeps_a_long_unit_from_being_redelivered(st):
    bus = bus_for(st)
    bus.publish("t", {"n": 1})
    [m] = bus.pull("t", 1, visibility_timeout=0.3)
    for _ in range(4):                                        # 0.6 s in all, twice the timeout
        time.sleep(0.15)
        assert bus.extend(m, 0.3)
        assert bus.pull("t", 1) == []
    assert bus.ack(m)


def test_bus_nack_release_failures_dead_letter_and_dedup(st):
    bus = bus_for(st, max_failures=2)
    i1 = bus.publish("t", {"n": 1}, dedup_id="x")
    assert bus.publish("t", {"n": 1}, dedup_id="x") == i1 and bus.backlog("t") == 1
    [m] = bus.pull("t")
    assert bus.nack(m, delay=0.2) and bus.pull("t") == []     # a release, visible again later
    time.sleep(0.25)
    [m] = bus.pull("t")
    assert bus.nack(m, error="boom")                          # failure 1
    [m] = bus.pull("t")
    assert m.attempts == 3 and bus.nack(m, error="boom again")  # failure 2: set aside
    assert bus.pull("t") == [] and bus.backlog("t") == 0
    assert bus.describe([i1])[i1]["state"] == "dead"


def test_bus_claims_are_exclusive_across_processes(home, st):
    """Three processes drain 150 messages: every message is acknowledged exactly once."""
    bus = bus_for(st)
    for i in range(150):
        bus.publish("t", {"n": i})
    code = f"""
        from nbapipe.state import connect
        from nbapipe.orchestration.events import bus_for
        bus = bus_for(connect({str(state_at(home))!r}))
        got = []
        while True:
            msgs = bus.pull("t", 2, visibility_timeout=30)
            if not msgs:
                break
            for m in msgs:
                assert bus.ack(m)
                got.append(m.payload["n"])
        print(",".join(map(str, got)))
    """
    procs = [_spawn(code) for _ in range(3)]
    seen = []
    for p in procs:
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0, e
        seen += [int(x) for x in o.strip().split(",") if x]
    assert sorted(seen) == list(range(150))


# --- the orchestrator: exactly one trigger ----------------------------------------------------

def test_all_processors_done_publishes_one_trigger_with_the_envelope(st):
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P34)
    send(bus, [env(p) for p in PHASE3[:4]])
    drain(orch)
    assert triggers(st) == []
    send(bus, [env(PHASE3[4], status="partial")])            # partial counts as done
    drain(orch)
    [t] = triggers(st)
    assert (t["processor"], t["phase"], t["game_date"], t["status"], t["record_count"]) == \
        ("phase3-to-phase4-orchestrator", 4, D1, "triggered", 5)
    assert t["correlation_id"] == "corr-run-a" and t["extra"]["upstream_runs"] == {p: "run-a" for p in PHASE3}
    assert t["run_id"] == f"trigger-{t['extra']['trigger_id']}" and t["timestamp"]


def test_duplicated_messages_give_one_trigger(st):
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P34)
    for _ in range(3):                                        # every message three times, across steps
        send(bus, [env(p) for p in PHASE3])
        drain(orch)
    assert trigger_dates(st) == [D1]
    assert st.scalar("SELECT count(*) FROM phase_completions") == 5


def test_reordered_messages_give_one_trigger(st):
    """Every order, and an older failed report arriving after its newer success."""
    rng = random.Random(7)
    early, late = "2021-11-02T10:00:00.000+00:00", "2021-11-02T11:00:00.000+00:00"
    msgs = [env(p, d, ts=late) for d in (D1, D2) for p in PHASE3]
    msgs += [env("player_game_summary", d, status="failed", run="run-old", ts=early) for d in (D1, D2)]
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P34)
    rng.shuffle(msgs)
    for m in msgs:                                            # one message per step
        send(bus, [m])
        orch.step()
    drain(orch)
    assert sorted(trigger_dates(st)) == [D1, D2]


def test_concurrent_orchestrator_threads_give_one_trigger_per_date(home, st):
    """Six orchestrators (own connections) consume while the messages, each sent twice, are
    still being published."""
    bus = bus_for(st)
    published, errors, steps = threading.Event(), [], []

    def consume():
        try:
            with open_state(state_at(home)) as mine:
                orch = Orchestrator(mine, bus_for(mine), P34)
                while not (published.is_set() and mine.scalar("SELECT count(*) FROM bus_messages WHERE "
                                                              "topic = ? AND acked_at IS NULL", [PHASE3_COMPLETE]) == 0):
                    steps.append(orch.step(max_messages=2))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for t in threads:
        t.start()
    msgs = [env(p, d) for d in (D1, D2, D3) for p in PHASE3] * 2
    random.Random(3).shuffle(msgs)
    for m in msgs:
        send(bus, [m])
        time.sleep(0.005)
    published.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors and sum(s["consumed"] for s in steps) == 30
    drain(Orchestrator(st, bus, P34))
    assert sorted(trigger_dates(st)) == [D1, D2, D3]


def test_concurrent_orchestrator_processes_give_one_trigger_per_date(home, st):
    bus = bus_for(st)
    send(bus, [env(p, d) for d in (D1, D2, D3) for p in PHASE3] * 2)
    code = f"""
        from nbapipe.state import connect
        from nbapipe.orchestration.events import bus_for
        from nbapipe.orchestration.orchestrator import Orchestrator, Requirement, Transition
        st = connect({str(state_at(home))!r})
        t = Transition(3, 4, tuple(Requirement(p, (p,)) for p in {PHASE3!r}), downstream=True)
        orch = Orchestrator(st, bus_for(st), t)
        for _ in range(30):
            orch.step(max_messages=1)
        print("ok")
    """
    procs = [_spawn(code) for _ in range(3)]
    for p in procs:
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0 and o.strip() == "ok", e
    drain(Orchestrator(st, bus, P34))
    assert sorted(trigger_dates(st)) == [D1, D2, D3]
    assert st.scalar("SELECT count(*) FROM phase_triggers") == 3


def test_crash_before_ack_redelivers_and_still_one_trigger(home, st):
    """A process records the last completion, then dies before acknowledging it."""
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P34, visibility_timeout=1.0)
    send(bus, [env(p) for p in PHASE3[:4]])
    drain(orch)
    send(bus, [env(PHASE3[4])])
    code = f"""
        import os
        from nbapipe.state import connect
        from nbapipe.orchestration.events import bus_for
        from nbapipe.orchestration.orchestrator import Orchestrator, Requirement, Transition
        st = connect({str(state_at(home))!r})
        bus = bus_for(st)
        bus.ack = lambda m: os._exit(3)        # the crash: after recording, before the ack
        t = Transition(3, 4, tuple(Requirement(p, (p,)) for p in {PHASE3!r}), downstream=True)
        Orchestrator(st, bus, t, visibility_timeout=1.0).step()
    """
    p = _spawn(code)
    p.communicate(timeout=60)
    assert p.returncode == 3
    assert st.scalar("SELECT count(*) FROM phase_completions") == 5   # it was recorded
    drain(orch)                                               # claimed by the dead process
    assert triggers(st) == []
    [row] = status(st, bus, [P34], [dt.date(2021, 11, 1)])
    assert row["state"] == "settling" and row["queued_completions"] == 1
    time.sleep(1.05)
    drain(orch)                                               # redelivered, recorded again
    assert trigger_dates(st) == [D1]
    assert bus.backlog(PHASE3_COMPLETE) == 0


def test_crash_between_decision_and_publish_neither_loses_nor_doubles(st):
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P34)
    send(bus, [env(p) for p in PHASE3])
    real_publish = bus.publish

    def publish_then_crash(*a, **kw):
        real_publish(*a, **kw)
        raise SystemExit("crash after publishing, before marking the trigger published")

    bus.publish = publish_then_crash
    with pytest.raises(SystemExit):
        orch.step()
    bus.publish = real_publish
    assert st.scalar("SELECT count(*) FROM phase_triggers WHERE published_at IS NULL") == 1
    drain(orch)                                               # the relay publishes it again
    assert trigger_dates(st) == [D1]
    assert st.scalar("SELECT count(*) FROM phase_triggers WHERE published_at IS NOT NULL") == 1


# --- blocked dates, skips, reruns ------------------------------------------------------------

def test_failed_processor_blocks_only_its_date_and_status_names_it(home, st):
    bus = bus_for(st)
    send(bus, [env(p, d, status="failed" if (d, p) == (D1, "player_game_summary") else
                   "upstream_missing" if (d, p) == (D1, "upcoming_player_game_context") else "success")
               for d in (D1, D2) for p in PHASE3])
    drain(Orchestrator(st, bus, P34))
    assert trigger_dates(st) == [D2]
    rows = _cli_json(home, "orchestrator", "status", "--start-date", D1, "--end-date", D2, "--phase", "4")
    by_date = {r["date"]: r for r in rows}
    assert by_date[D1]["state"] == "blocked" and not by_date[D1]["triggered"]
    assert by_date[D1]["blocked"] == {"player_game_summary": "failed", "upcoming_player_game_context": "upstream_missing"}
    assert by_date[D1]["awaited"] == ["player_game_summary", "upcoming_player_game_context"]
    assert by_date[D1]["reported"]["team_offense_game_summary"] == "success"
    assert by_date[D2]["state"] == "triggered" and by_date[D2]["trigger_count"] == 1
    assert by_date[D2]["triggered"] is True and by_date[D2]["triggered_at"] and by_date[D2]["awaited"] == []
    text = _cli(home, "orchestrator", "status", "--date", D1).stdout
    assert "blocked" in text and "player_game_summary (failed)" in text


def test_a_date_done_by_hand_shows_manual_not_waiting(home, st):
    """A backfill run with --skip-downstream-trigger publishes nothing: the phase2->3
    orchestrator never hears of its dates. Status says they were done by hand, naming the run;
    a date with a failed unit, or none, still waits."""
    import datetime as dt
    from nbapipe.state import ledger
    ledger.start_run(st, "bf-1", "backfill", "3", dt.date.fromisoformat(D1), dt.date.fromisoformat(D2), 10)
    ledger.finish_run(st, "bf-1", "failed")
    ledger.record(st, "bf-1", [UnitResult(p, 3, dt.date.fromisoformat(d), "failed" if (d, p) == (D2, PHASE3[0])
                                          else "success", rows=10)
                               for d in (D1, D2) for p in PHASE3])
    rows = _cli_json(home, "orchestrator", "status", "--start-date", D1, "--end-date", D3, "--phase", "3")
    by_date = {r["date"]: r for r in rows}
    assert by_date[D1]["state"] == "manual" and not by_date[D1]["triggered"]
    assert by_date[D1]["detail"] == "done by hand, not triggered: phase 3 ran in backfill bf-1"
    assert by_date[D2]["state"] == by_date[D3]["state"] == "waiting"
    assert "manual" in _cli(home, "orchestrator", "status", "--date", D1).stdout


def test_skips_count_as_done_and_a_day_without_games_triggers_nothing(st):
    bus = bus_for(st)
    send(bus, [env(p, D1, status="bootstrap_skip" if i % 2 else "success") for i, p in enumerate(PHASE3)])
    send(bus, [env(p, "2021-11-04", status="no_games") for p in PHASE3])
    drain(Orchestrator(st, bus, P34))
    assert trigger_dates(st) == [D1]
    assert st.scalar("SELECT state FROM phase_dates WHERE game_date = '2021-11-04'") == "no_games"


def test_a_rerun_is_a_new_generation_triggered_once_it_has_finished(st):
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P34)
    send(bus, [env(p) for p in PHASE3])
    drain(orch)
    with st.tx() as con:                                      # the rerun, running in this process
        con.execute("INSERT INTO runs (run_id, status, host, pid) VALUES ('run-b', 'running', ?, ?)",
                    [os.uname().nodename, os.getpid()])
    for p in PHASE3:                                          # its units report one at a time
        send(bus, [env(p, run="run-b")])
        orch.step()
        send(bus, [env(p, run="run-b")])                      # and a duplicate of each
        orch.step()
    assert len(triggers(st)) == 1
    [row] = status(st, bus, [P34], [dt.date(2021, 11, 1)])
    assert row["state"] == "settling" and "run-b" in row["detail"]
    with st.tx() as con:
        con.execute("UPDATE runs SET status = 'success' WHERE run_id = 'run-b'")
    drain(orch)
    gens = [t["extra"]["upstream_runs"] for t in triggers(st)]
    assert gens == [{p: "run-a" for p in PHASE3}, {p: "run-b" for p in PHASE3}]
    send(bus, [env(p, run="run-b") for p in PHASE3])          # replayed again later: nothing new
    drain(orch)
    assert len(triggers(st)) == 2
    [row] = status(st, bus, [P34], [dt.date(2021, 11, 1)])
    assert row["trigger_count"] == 2 and row["state"] == "triggered"


def test_a_dead_run_does_not_hold_a_date_back(st):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with st.tx() as con:
        con.execute("INSERT INTO runs (run_id, status, host, pid) VALUES ('run-a', 'running', ?, ?)",
                    [os.uname().nodename, dead.pid])
    bus = bus_for(st)
    send(bus, [env(p) for p in PHASE3])
    drain(Orchestrator(st, bus, P34))
    assert trigger_dates(st) == [D1]


def test_without_processors_downstream_nothing_is_triggered_until_they_exist(st):
    bus = bus_for(st)
    send(bus, [env(p) for p in PHASE3])
    drain(Orchestrator(st, bus, Transition(3, 4, P34.requirements, downstream=False)))
    assert triggers(st) == []
    assert st.scalar("SELECT state FROM phase_dates") == "complete"
    drain(Orchestrator(st, bus, P34))                         # phase 4 landed: the date triggers now
    assert trigger_dates(st) == [D1]


def test_phase2_needs_a_scheduled_game_and_a_box_score_source(home, st):
    bus = bus_for(st)
    orch = Orchestrator(st, bus, P23)
    p2 = lambda table, d: env(table, d, phase=2, run="ingest-1")
    send(bus, [p2("nbac_schedule", d) for d in (D1, D2, "2021-11-04")], topic=PHASE2_COMPLETE)
    send(bus, [p2("odds_api_player_points_props", D1)], topic=PHASE2_COMPLETE)
    drain(orch)
    assert triggers(st, PHASE3_TRIGGER) == []
    send(bus, [p2("bdl_player_boxscores", D1), p2("nbac_gamebook_player_stats", "2021-11-04")], topic=PHASE2_COMPLETE)
    drain(orch)
    assert trigger_dates(st, PHASE3_TRIGGER) == [D1]          # any member of the chain will do
    rows = {r["date"]: r for r in status(st, bus, [P23], [dt.date(2021, 11, d) for d in (1, 2, 4)])}
    assert rows[D2]["awaited"] == ["player_boxscores"] and rows[D2]["state"] == "waiting"
    assert rows["2021-11-04"]["state"] == "no_games"          # not a league game date in the calendar
    custom = Transition(2, 3, phase2_requirements("calendar,nbac_team_boxscore|nbac_team_game_logs"), True)
    assert [r.members for r in custom.requirements] == [(), ("nbac_team_boxscore", "nbac_team_game_logs")]


def test_a_message_that_is_not_an_envelope_is_set_aside(st):
    bus = bus_for(st)
    bad = bus.publish(PHASE3_COMPLETE, {"hello": "world"}, key=D1)
    wrong_phase = bus.publish(PHASE3_COMPLETE, env("x", phase=4), key=D1)
    drain(Orchestrator(st, bus, P34))
    states = bus.describe([bad, wrong_phase])
    assert states[bad]["state"] == states[wrong_phase]["state"] == "dead"
    assert "not a message envelope" in states[bad]["last_error"]


# --- publishers --------------------------------------------------------------------------------

def test_unit_publisher_one_completion_per_unit_and_none_for_the_last_phase(st):
    bus = bus_for(st)
    pub = UnitPublisher(bus, correlation_id="corr-1")
    d = dt.date(2021, 11, 1)
    r = UnitResult("player_game_summary", 3, d, "success", rows=217, run_id="run-x")
    pub(r)
    pub(r)                                                    # a retried publish stores nothing new
    pub(UnitResult("some_prediction_system", 5, d, "success", rows=3, run_id="run-x"))
    [m] = bus.pull(PHASE3_COMPLETE, 10)
    e = m.envelope
    assert (e.processor, e.phase, e.game_date, e.status, e.record_count, e.run_id, e.correlation_id) == \
        ("player_game_summary", 3, D1, "success", 217, "run-x", "corr-1")
    assert m.key == D1 and st.scalar("SELECT count(*) FROM bus_messages") == 1


def test_phase2_completions_one_per_table_and_date():
    envs = phase2_completions({"nba_raw.nbac_schedule": {D2: 5, D1: 6},
                               "nba_raw.nbac_gamebook_player_stats": {D1: 230}}, "ingest-9")
    assert [(e.processor, e.game_date, e.record_count) for e in envs] == [
        ("nbac_gamebook_player_stats", D1, 230), ("nbac_schedule", D1, 6), ("nbac_schedule", D2, 5)]
    assert {(e.phase, e.status, e.run_id, e.correlation_id) for e in envs} == {(2, "success", "ingest-9", "ingest-9")}


def test_status_cli_usage_errors(home):
    assert _cli(home, "orchestrator", "status", "--date", D1, "--start-date", D1).exit_code == 2
    assert _cli(home, "orchestrator", "status", "--start-date", D1).exit_code == 2
    assert _cli(home, "orchestrator", "status", "--date", "yesterday").exit_code == 2
    assert _cli(home, "orchestrator", "status", "--phase", "9").exit_code == 2
    assert _cli_json(home, "orchestrator", "status") == []


# --- a worker process: heartbeat while it waits, redelivery when it dies -----------------------

def test_worker_claim_is_renewed_while_it_waits_and_redelivered_after_it_dies(home, st):
    from nbapipe.state import leases
    from orchestration_support import wait_until
    bus = bus_for(st)
    mid = bus.publish(PHASE3_TRIGGER, env("phase2-to-phase3-orchestrator", D1, "triggered", phase=3), key=D1)
    with leases.hold(st, leases.WAREHOUSE, "a long backfill"):
        worker = subprocess.Popen([sys.executable, "-m", "nbapipe.cli", "--home", str(home), "worker", "--phase", "3",
                                   "--visibility-timeout", "1", "--poll", "0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", "")))
        try:
            wait_until(lambda: st.rows("SELECT * FROM workers WHERE state = 'waiting for the warehouse'"), 30,
                       "the worker to wait for the warehouse")
            time.sleep(2.5)                                   # 2.5 visibility timeouts
            state = bus.describe([mid])[mid]
            assert state["state"] == "claimed" and state["claimed_by"].startswith("worker ") and state["attempts"] == 1
            assert bus.pull(PHASE3_TRIGGER, 1) == []          # not redelivered to anyone else
            worker.kill()
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
        [again] = wait_until(lambda: bus.pull(PHASE3_TRIGGER, 1, consumer="a second worker"), 5,
                             "the dead worker's trigger to be redelivered")
    assert again.id == mid and again.attempts == 2
    assert st.scalar("SELECT count(*) FROM run_ledger") == 0  # nothing recorded, nothing failed


# --- on the real data: ingest and backfill publishing, a worker -----------------------------

@pytest.mark.realdata
def test_ingest_publishes_phase2_completions_per_changed_date_unless_skipped(tmp_path, data_dir):
    from orchestration_support import write_slice
    home = tmp_path / "home"
    r = _cli(home, "ingest", str(data_dir / "nba_api" / "schedule_2021_22_to_2023_24.csv.gz"), "--skip-downstream-trigger")
    assert r.exit_code == 0, r.output
    with open_state(state_at(home)) as st:
        assert st.scalar("SELECT count(*) FROM bus_messages") == 0
    box = write_slice(data_dir / "bbref" / "player_box.csv.gz", tmp_path / "new" / "player_box.csv", "2021-10-19", "2021-10-21")
    for _ in range(2):                                        # the second ingest changes nothing
        assert _cli(home, "ingest", str(box)).exit_code == 0
    with open_state(state_at(home)) as st:
        msgs = [json.loads(m["payload"]) for m in st.rows("SELECT payload FROM bus_messages WHERE topic = ? ORDER BY id",
                                                          [PHASE2_COMPLETE])]
    assert [(m["processor"], m["game_date"], m["status"]) for m in msgs] == [
        ("nbac_gamebook_player_stats", d, "success") for d in ("2021-10-19", "2021-10-20", "2021-10-21")]
    with open(box) as f:                                      # one row per player line of the file
        per_date = {}
        for line in list(f)[1:]:
            d = line.split(",")[3]
            per_date[d] = per_date.get(d, 0) + 1
    assert {m["game_date"]: m["record_count"] for m in msgs} == per_date
    assert len({m["run_id"] for m in msgs}) == 1


@pytest.mark.realdata
def test_backfill_publishes_one_completion_per_unit_it_ran_unless_skipped(real_home, tmp_path):
    from conftest import copy_home
    from nbapipe.cli.backfill import _unit_publisher
    from nbapipe.orchestration.backfill import run_backfill
    from nbapipe.orchestration.runner import Request
    from nbapipe.state import ledger
    from nbapipe.workspace import Workspace
    ws = Workspace.at(copy_home(real_home, tmp_path / "home"))
    days = [dt.date(2021, 10, 17) + dt.timedelta(days=i) for i in range(4)]     # 2 without games
    try:
        def run(**kw):
            req = Request(dates=days, phases=[3], **kw)
            return run_backfill(ws, req, unit_done=_unit_publisher(ws, req))

        run(skip_downstream_trigger=True)
        assert bus_for(ws.state).backlog(PHASE3_COMPLETE) == 0
        assert ledger.latest(ws.state, phase=3, start=days[0], end=days[1])[0]["status"] == "no_games"
        report = run(resume=False)
        run()                                                 # everything already done: silent
        msgs = [m.envelope for m in bus_for(ws.state).pull(PHASE3_COMPLETE, 100)]
    finally:
        ws.close()
    # The days without games were recorded by the first run: skips already recorded say nothing.
    assert sorted((e.game_date, e.processor, e.status) for e in msgs) == sorted(
        (d, p, "success") for d in ("2021-10-19", "2021-10-20") for p in PHASE3)
    assert {e.run_id for e in msgs} == {report.run_id}
    pgs = [e for e in msgs if e.processor == "player_game_summary" and e.game_date == "2021-10-19"]
    assert pgs[0].record_count == next(r.rows for r in report.results
                                       if r.processor == "player_game_summary" and r.game_date.day == 19)


@pytest.mark.realdata
def test_worker_runs_triggers_in_date_order_and_waits_for_the_warehouse(real_home, tmp_path):
    from conftest import copy_home
    from nbapipe.orchestration.worker import WAITING_WAREHOUSE, Worker
    from nbapipe.state import leases, ledger
    from nbapipe.workspace import Workspace
    ws = Workspace.at(copy_home(real_home, tmp_path / "home"))
    bus = bus_for(ws.state)
    for d in ("2021-10-20", "2021-10-19"):
        bus.publish(PHASE3_TRIGGER, env("phase2-to-phase3-orchestrator", d, "triggered", run="t", phase=3), key=d)
    worker = Worker(ws, bus, [3], poll=0.05)
    try:
        [first] = bus.pull(PHASE3_TRIGGER, 1, consumer="another worker")
        assert first.key == "2021-10-19"                      # earliest date first
        [second] = bus.pull(PHASE3_TRIGGER, 1)
        assert worker.handle(second) == "released"            # 10-20 reads 10-19's player summaries
        assert ledger.latest(ws.state, phase=3) == []
        bus.nack(first)                                       # the other worker gives 10-19 back
        time.sleep(0.2)                                       # 10-20's release delay (the poll) is over
        seen = []
        with leases.hold(ws.state, leases.WAREHOUSE, "a manual backfill"):
            t = threading.Thread(target=lambda: seen.append(worker.run(once=True)))
            t.start()
            with open_state(state_at(ws.home)) as st:
                from orchestration_support import wait_until
                wait_until(lambda: st.rows("SELECT * FROM workers WHERE state = ?", [WAITING_WAREHOUSE]), 20,
                           "the worker to wait for the warehouse")
                [waiter] = [h for h in leases.current(st) if h["state"] == "waiting"]
                assert waiter["purpose"].endswith("phase 3 2021-10-19..2021-10-20 (2 dates)"), waiter["purpose"]   # one batch
        t.join(timeout=60)
        rows = ledger.latest(ws.state, phase=3)
        runs = {r["run_id"]: r["command"] for r in ws.state.rows("SELECT run_id, command FROM runs")}
        msgs = [m.envelope for m in bus.pull(PHASE3_COMPLETE, 100)]
        triggers = ws.state.rows("SELECT msg_key, acked_at IS NOT NULL AS acked FROM bus_messages WHERE topic = ?",
                                 [PHASE3_TRIGGER])
    finally:
        ws.close()
    assert seen[0].done == 2 and seen[0].failed == 0
    assert {(r["game_date"], r["status"]) for r in rows} == {("2021-10-19", "success"), ("2021-10-20", "success")}
    assert len(rows) == 10 and {runs[r["run_id"]] for r in rows} == {"worker"}
    assert len(msgs) == 10 and {m.correlation_id for m in msgs} == {"corr-t"}
    # Both triggers, once available, were claimed together and ran as one run (a backfill of
    # the two dates), each acknowledged once.
    assert len({r["run_id"] for r in rows}) == 1
    assert sorted((t["msg_key"], t["acked"]) for t in triggers) == [("2021-10-19", 1), ("2021-10-20", 1)]


# --- helpers -----------------------------------------------------------------------------------

def _spawn(code: str) -> subprocess.Popen:
    envv = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=envv)


def _cli(home, *args):
    from nbapipe.cli import app
    return CliRunner().invoke(app, ["--home", str(home), *args])


def _cli_json(home, *args):
    r = _cli(home, *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)
