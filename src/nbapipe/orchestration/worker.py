"""Phase workers: consume `nba-phaseN-trigger` messages and run phase N for the messages'
dates with the backfill runner, under the warehouse lease (DESIGN section 3).

A worker claims a batch: the earliest available trigger and every other available trigger of
the same phase, in one claim (FOR UPDATE SKIP LOCKED on PostgreSQL, one transaction on SQLite),
and runs them as one set-based run over their dates, as a backfill of those dates would. So a
season's 400 triggers cost one run, not 400. Per batch a worker:
  - waits while a trigger of an earlier date of the same season, outside its batch, is still
    pending for a phase whose rows this phase reads over its lookback (Phase 3's upcoming
    context reads every earlier player_game_summary date): it releases its batch and takes
    the earliest triggers again later;
  - runs the phase for those dates, taking the warehouse lease for the run and releasing it
    after; while a backfill or another worker holds it, it waits (status shows it waiting)
    and its messages' claims are renewed by a heartbeat, so they are never redelivered meanwhile;
  - publishes a completion per unit it ran, and acknowledges each trigger once.
A run that could not get the warehouse (interrupted while waiting, or the DuckDB file held
by a process outside the lease) releases its triggers for redelivery, never acknowledged as
failed. Units that end `failed` are recorded in the ledger and published as failed completions
(the orchestrator holds the next phase back for that date); the triggers themselves are done.
SIGINT/SIGTERM (nbapipe.cancel) stop the worker: the run in progress stops as a backfill's
does (nothing recorded failed) and the triggers in hand go back to the queue at once, not
counted as failed deliveries, so the next worker (or the next start) runs them."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
import uuid
from typing import Callable

from nbapipe import cancel
from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.config import TRIGGER_BATCH_MAX, host_name
from nbapipe.orchestration.backfill import BackfillError, run_backfill
from nbapipe.orchestration.events import TRIGGER_TOPICS, Envelope, EventBus, Message, UnitPublisher
from nbapipe.orchestration.runner import Request
from nbapipe.state.leases import process_gone
from nbapipe.state.ledger import now_iso
from nbapipe.state.store import upsert
from nbapipe.warehouse import WarehouseBusy

IDLE, WAITING_EARLIER, WAITING_WAREHOUSE, RUNNING = (
    "idle", "waiting for earlier dates", "waiting for the warehouse", "running")


def worker_phases(requested: int | None = None) -> list[int]:
    """Phases a worker serves: the requested one, or every phase with processors and a
    trigger topic. ValueError when the requested phase cannot be served."""
    existing = [p for p in registry.phases() if p in TRIGGER_TOPICS]
    if requested is None:
        return existing
    if requested not in existing:
        raise ValueError(f"phase {requested} has no processors or no trigger topic; "
                         f"workers serve: {', '.join(map(str, existing)) or 'none'}")
    return [requested]


def lookback_phases(phase: int) -> set[int]:
    """Phases whose rows of earlier dates some processor of `phase` requires (lookback)."""
    procs = registry.all_processors()
    return {procs[i.name].phase for p in procs.values() if p.phase == phase for i in p.inputs
            if i.kind == "processor" and i.required and i.when in ("lookback", "both")}


@dataclasses.dataclass
class WorkerStats:
    done: int = 0
    failed: int = 0          # triggers whose run recorded failed units
    released: int = 0        # given back: waiting for earlier dates or the warehouse
    retried: int = 0         # errors before the run finished: redelivered later
    rejected: int = 0        # not a trigger this worker can ever run: set aside

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Heartbeat(threading.Thread):
    """Renews the messages' claims and the worker's heartbeat, from its own connections."""

    def __init__(self, ws, bus: EventBus, msgs: list[Message], timeout: float, worker_id: str):
        super().__init__(daemon=True, name=f"message-heartbeat-{msgs[0].id}")
        self.st, self.bus, self.msgs = ws.state, bus, msgs
        self.timeout, self.worker_id = timeout, worker_id
        self.stop_event = threading.Event()
        self.lost = False

    def run(self) -> None:
        bus, st = self.bus.reopen(), self.st.reopen()
        try:
            while not self.stop_event.wait(self.timeout / 3):
                for m in self.msgs:
                    if not bus.extend(m, self.timeout):
                        self.lost = True      # the claim lapsed: the final ack will fail
                with st.tx() as con:
                    con.execute("UPDATE workers SET heartbeat_at = ? WHERE worker_id = ?",
                                [time.time(), self.worker_id])
        finally:
            bus.close()
            st.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


class Worker:
    def __init__(self, ws, bus: EventBus, phases: list[int], *, poll: float = 0.5,
                 visibility_timeout: float = 30.0, publish: bool = True,
                 on_event: Callable[[str, dict], None] | None = None, engine: str | None = None,
                 batch_max: int = TRIGGER_BATCH_MAX):
        self.ws, self.bus, self.phases, self.engine = ws, bus, phases, engine
        self.batch_max = batch_max
        self.poll, self.visibility_timeout, self.publish = poll, visibility_timeout, publish
        self.on_event = on_event or (lambda kind, info: None)
        self.id = f"worker {host_name()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.topics = [TRIGGER_TOPICS[p] for p in phases]
        self.stats = WorkerStats()

    # --- the loop ------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, once: bool = False) -> WorkerStats:
        """Consume triggers until `stop` is set or a stop is requested (SIGINT, SIGTERM: see
        nbapipe.cancel; with `once`: until none is available). Triggers in hand when it is
        interrupted go back to the queue at once, for another worker or the next start."""
        stop = cancel.StopFlag(stop)
        self._register()
        try:
            while not stop.is_set():
                msgs: list[Message] = []
                try:
                    with cancel.deferred():     # claimed and held in `msgs`, or not claimed
                        msgs = self.bus.pull(self.topics, self.batch_max, self.visibility_timeout,
                                             self.id, batch=True)
                    if not msgs:
                        if once:
                            break
                        self.bus.wait(self.topics, self.poll, stop)
                        continue
                    outcome = self.handle(*msgs)
                except BaseException:
                    for m in msgs:              # a no-op once acknowledged or given back
                        self.bus.nack(m)
                    raise
                if outcome == "released":
                    stop.wait(self.poll)
        finally:
            self._unregister()
        return self.stats

    def handle(self, *msgs: Message) -> str:
        """A batch of triggers of one phase: done | failed | released | retried | rejected
        (the outcome of the batch's run; a message that is no trigger is set aside alone)."""
        batch: list[tuple[Message, Envelope]] = []
        for msg in msgs:
            try:
                env = msg.envelope
                if env.phase not in self.phases or TRIGGER_TOPICS.get(env.phase) != msg.topic:
                    raise ValueError(f"a phase {env.phase} message on {msg.topic}")
            except ValueError as e:
                self.bus.nack(msg, error=str(e), final=True)
                self._count("rejected", [(msg, None)])
                continue
            batch.append((msg, env))
        if not batch:
            return "rejected"
        if self._earlier_pending(batch):
            self._state(WAITING_EARLIER, batch)
            for msg, _ in batch:
                self.bus.nack(msg, delay=self.poll)
            return self._count("released", batch)
        beat = _Heartbeat(self.ws, self.bus, [m for m, _ in batch], self.visibility_timeout, self.id)
        beat.start()
        try:
            outcome = self._run(batch)
        finally:
            beat.stop()
            self._state(IDLE)
        return self._count(outcome, batch)

    def _run(self, batch: list[tuple[Message, Envelope]]) -> str:
        phase = batch[0][1].phase
        dates = sorted({dt.date.fromisoformat(env.game_date) for _, env in batch})
        label = dates[0].isoformat() if len(dates) == 1 else f"{dates[0]}..{dates[-1]} ({len(dates)} dates)"
        msgs = [m for m, _ in batch]
        started = []

        def on_event(kind: str, info: dict) -> None:
            if not started:                   # the first event comes once the lease is held
                started.append(kind)
                self._state(RUNNING, batch)

        self._state(RUNNING, batch)
        publisher = (UnitPublisher(self.bus, batch[0][1].correlation_id,
                                   by_date={env.game_date: env.correlation_id for _, env in batch})
                     if self.publish else None)
        try:
            report = run_backfill(
                self.ws, Request(dates=dates, phases=[phase], command="worker",
                                 skip_downstream_trigger=not self.publish, engine=self.engine),
                on_event=on_event, on_wait=lambda holder: self._state(WAITING_WAREHOUSE, batch),
                unit_done=publisher, purpose=f"{self.id} phase {phase} {label}")
        except BackfillError as e:            # cannot be planned, now or later
            self._nack_all(msgs, error=str(e), final=True)
            return "rejected"
        except WarehouseBusy:                 # not a failure of the units: try again later
            self._nack_all(msgs, delay=max(self.poll, 1.0))
            return "released"
        except Exception as e:
            if cancel.requested():            # the stop made it fail: not the triggers' error
                self._nack_all(msgs)
                cancel.check()
            self._nack_all(msgs, delay=min(30.0, 2.0 ** (max(m.attempts for m in msgs) - 1)),
                           error=f"{e.__class__.__name__}: {e}")
            return "retried"
        except BaseException:                 # interrupted (SIGTERM, Ctrl-C): another worker takes them
            self._nack_all(msgs)
            raise
        for m in msgs:
            self.bus.ack(m)
        return "failed" if report.failed else "done"

    def _nack_all(self, msgs: list[Message], **kw) -> None:
        for m in msgs:
            self.bus.nack(m, **kw)

    def _earlier_pending(self, batch: list[tuple[Message, Envelope]]) -> bool:
        """A trigger of a date of the season before one of the batch's, outside the batch, is
        still pending for a phase whose rows this phase reads over its lookback: that one runs
        first (a date between two of the batch's counts too: the later one reads it)."""
        phases = [p for p in lookback_phases(batch[0][1].phase) if p in TRIGGER_TOPICS]
        if not phases:
            return False
        cal = Calendar.from_state(self.ws.state)
        earlier: set[str] = set()
        for season, last in _last_date_per_season(cal, [env.game_date for _, env in batch]).items():
            earlier |= {g.isoformat() for g, r in cal.dates.items() if g < last and r["season"] == season}
        mine = [m.id for m, _ in batch]
        return any(self.bus.backlog(TRIGGER_TOPICS[p], sorted(earlier), other_than=mine) for p in phases)

    # --- bookkeeping ----------------------------------------------------------------------
    def _count(self, outcome: str, batch: list[tuple[Message, Envelope | None]]) -> str:
        """Counted per trigger; one event for the batch."""
        setattr(self.stats, outcome, getattr(self.stats, outcome) + len(batch))
        msg, env = batch[0]
        dates = sorted({e.game_date for _, e in batch if e})
        self.on_event(outcome, {"message": msg.id, "messages": len(batch), "phase": env.phase if env else None,
                                "date": dates[0] if dates else None, "last_date": dates[-1] if dates else None,
                                "attempt": max(m.attempts for m, _ in batch)})
        return outcome

    def _register(self) -> None:
        with self.ws.state.tx() as con:
            upsert(con, "workers", ["worker_id"], {
                "worker_id": self.id, "host": host_name(), "pid": os.getpid(),
                "phases": ",".join(map(str, self.phases)), "state": IDLE, "message_id": None, "phase": None,
                "game_date": None, "since": now_iso(), "heartbeat_at": time.time()})

    def _unregister(self) -> None:
        with self.ws.state.tx() as con:
            con.execute("DELETE FROM workers WHERE worker_id = ?", [self.id])

    def _state(self, state: str, batch: list[tuple[Message, Envelope]] | None = None) -> None:
        """The worker's row shows its batch's first trigger (status finds the rest by claimant)."""
        msg, env = batch[0] if batch else (None, None)
        with self.ws.state.tx() as con:
            con.execute("UPDATE workers SET state = ?, message_id = ?, phase = ?, game_date = ?, since = ?, "
                        "heartbeat_at = ? WHERE worker_id = ?",
                        [state, msg.id if msg else None, env.phase if env else None,
                         env.game_date if env else None, now_iso(), time.time(), self.id])


def _last_date_per_season(cal: Calendar, dates: list[str]) -> dict:
    last: dict = {}
    for d in map(dt.date.fromisoformat, dates):
        s = cal.season_of(d)
        last[s] = max(last.get(s, d), d)
    return last


def live_workers(st) -> list[dict]:
    """Registered workers whose process is alive (this host) or seen within the hour."""
    return [r for r in st.rows("SELECT * FROM workers ORDER BY worker_id")
            if not process_gone(r["host"], r["pid"])
            and (r["host"] == host_name() or time.time() - (r["heartbeat_at"] or 0) < 3600)]
