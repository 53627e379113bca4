"""Phase orchestrators: phase2->3, phase3->4, phase4->5 (DESIGN section 8).

Each consumes its upstream phase's completion topic, records every completion per date in the
state store, and publishes one trigger for the next phase once every expected processor of
the upstream phase is done for that date.

Done or not, per completion status (the latest completion of each processor counts; later
completions of the same processor replace earlier ones by their timestamp):
  success, partial, degraded, no_games, bootstrap_skip   done. `partial` and `degraded` wrote
      rows but lack some entities or lookback dates: gaps reported by status/verify, not
      failures, so they do not hold back the next phase (which writes what it can and
      reports its own gaps).
  failed, upstream_missing, stale (and anything else)  blocks that date, and only that date.
A date whose every completion is no_games triggers nothing (the next phase has nothing to do).

Exactly once per (phase, date, upstream generation). The generation is a hash of the run
ids of the completions that satisfied the requirements. A redelivered or duplicated message
carries the same run id and adds nothing; a rerun of the upstream phase brings new run ids,
hence a new generation and one more trigger. So that a rerun in progress (some processors
already re-reported, some not) does not trigger a mixed generation, a date is decided only
once it has settled: no run that contributed is still running (the runs table) and no
completion message for the date is still unacknowledged on the bus.

Crash safety: recording a completion happens before its message is acknowledged (a crash
redelivers it, recording is idempotent); the decision and the trigger row are written in one
transaction (unique per generation); the trigger row is then relayed to the bus with its id
as the message's dedup id, so relaying twice after a crash still stores one message."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

from nbapipe import cancel
from nbapipe import processors as registry
from nbapipe.config import DEFAULT_PHASE2_REQUIRED, host_name
from nbapipe.orchestration.events import (COMPLETION_TOPICS, TRIGGER_TOPICS, Envelope, EventBus,
                                          Message)
from nbapipe.state import ledger
from nbapipe.state.ledger import now_iso, run_dead
from nbapipe.state.store import StateStore

DONE = ("success", "partial", "degraded", "no_games", "bootstrap_skip")

# Date states, as `orchestrator status` shows them (READY is transient: all done, undecided).
WAITING, BLOCKED, READY, SETTLING, TRIGGERED, NO_GAMES, COMPLETE = (
    "waiting", "blocked", "ready", "settling", "triggered", "no_games", "complete")
# Not a decision: a date nobody triggered whose target phase is done in the ledger anyway (a
# backfill run by hand, e.g. with --skip-downstream-trigger), shown instead of `waiting`.
MANUAL = "manual"


@dataclass(frozen=True)
class Requirement:
    """One expected report: satisfied when any of `members` reported done (or, for the
    calendar requirement, when the calendar copy lists league games that date)."""
    name: str
    members: tuple[str, ...] = ()
    calendar: bool = False


@dataclass(frozen=True)
class Transition:
    source_phase: int
    target_phase: int
    requirements: tuple[Requirement, ...]
    downstream: bool                      # the target phase has processors to trigger

    @property
    def name(self) -> str:
        return f"phase{self.source_phase}->{self.target_phase}"

    @property
    def topic_in(self) -> str:
        return COMPLETION_TOPICS[self.source_phase]

    @property
    def topic_out(self) -> str:
        return TRIGGER_TOPICS[self.target_phase]


def phase2_requirements(spec: str = DEFAULT_PHASE2_REQUIRED) -> tuple[Requirement, ...]:
    """Parse the configured Phase 2 requirements (see config.DEFAULT_PHASE2_REQUIRED)."""
    from nbapipe.processors.sources import CHAINS
    out = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        if item == "calendar":
            out.append(Requirement("schedule", calendar=True))
        elif item.startswith("chain:"):
            chain = CHAINS.get(item[6:])
            if chain is None:
                raise ValueError(f"unknown chain in Phase 2 requirements: {item} (known: {', '.join(CHAINS)})")
            out.append(Requirement(chain.name, tuple(t.split(".")[-1] for t in chain.tables())))
        else:
            out.append(Requirement(item, tuple(t.strip().split(".")[-1] for t in item.split("|"))))
    return tuple(out)


def transitions(phase2_spec: str = DEFAULT_PHASE2_REQUIRED) -> list[Transition]:
    """The orchestrators the registry implies: the expected processors of phase N are the
    registry's processors of phase N; Phase 2's are configuration."""
    phases = registry.phases()
    by_phase: dict[int, list[str]] = {}
    for name, p in registry.all_processors().items():
        by_phase.setdefault(p.phase, []).append(name)
    out = [Transition(2, 3, phase2_requirements(phase2_spec), 3 in phases)]
    for n in sorted(by_phase):
        if n in COMPLETION_TOPICS and n + 1 in TRIGGER_TOPICS:
            reqs = tuple(Requirement(p, (p,)) for p in by_phase[n])
            out.append(Transition(n, n + 1, reqs, n + 1 in phases))
    return out


@dataclass
class Verdict:
    state: str
    detail: str = ""
    used: dict[str, dict] = field(default_factory=dict)     # processor -> completion row
    awaited: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)   # processor -> status


def generation_of(used: dict[str, dict]) -> str:
    text = "|".join(f"{p}={r['run_id']}" for p, r in sorted(used.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Orchestrator:
    """One phase transition over a state store and a bus."""

    def __init__(self, st: StateStore, bus: EventBus, transition: Transition,
                 visibility_timeout: float = 30.0, consumer: str = ""):
        self.st, self.bus, self.t = st, bus, transition
        self.visibility_timeout = visibility_timeout
        self.consumer = consumer or f"orchestrator {transition.name} {host_name()}:{os.getpid()}"
        if transition.downstream:
            # Dates completed while the next phase had no processors get their trigger now.
            with st.tx() as con:
                con.execute("UPDATE phase_dates SET dirty = 1 WHERE target_phase = ? AND state = ?",
                            [transition.target_phase, COMPLETE])

    # --- one step: relay, consume, decide, relay ------------------------------------------
    def step(self, max_messages: int = 200) -> dict:
        """Returns what happened: messages consumed, triggers published, dates still settling."""
        self.relay()
        msgs = self.bus.pull(self.t.topic_in, max_messages, self.visibility_timeout, self.consumer)
        for m in self.record(msgs):
            self.bus.ack(m)
        decided = self.decide_pending()
        published = self.relay()
        return {"consumed": len(msgs), "triggered": published,
                "settling": sum(v.state == SETTLING for v in decided.values())}

    def record(self, msgs: list[Message]) -> list[Message]:
        """Completion records for the messages (idempotent), and their dates marked for a
        decision, in one transaction. Returns the messages to acknowledge; one that is not a
        completion of the source phase is set aside with the reason."""
        good: list[tuple[Message, Envelope]] = []
        for m in msgs:
            try:
                env = m.envelope
                if env.phase != self.t.source_phase:
                    raise ValueError(f"phase {env.phase} message on the phase {self.t.source_phase} topic")
                good.append((m, env))
            except ValueError as e:
                self.bus.nack(m, error=str(e), final=True)
        if not good:
            return []
        received = now_iso()
        with self.st.tx() as con:
            con.executemany(
                "INSERT INTO phase_completions (target_phase, game_date, processor, run_id, status, "
                "record_count, correlation_id, completed_at, received_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [[self.t.target_phase, e.game_date, e.processor, e.run_id, e.status, e.record_count,
                  e.correlation_id, e.timestamp, received, m.id] for m, e in good])
            con.executemany(
                "INSERT INTO phase_dates (target_phase, game_date, state, dirty, updated_at) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT (target_phase, game_date) DO UPDATE SET dirty = 1, updated_at = excluded.updated_at",
                [[self.t.target_phase, d, WAITING, received] for d in sorted({e.game_date for _, e in good})])
        return [m for m, _ in good]

    # --- decisions -------------------------------------------------------------------------
    def decide_pending(self) -> dict[str, Verdict]:
        """Decide every date with new completions (or still settling), in one transaction."""
        out: dict[str, Verdict] = {}
        with self.st.tx() as con:
            dates = [r[0] for r in con.execute(
                "SELECT game_date FROM phase_dates WHERE target_phase = ? AND dirty = 1 ORDER BY game_date",
                [self.t.target_phase])]
            game_dates = self._game_dates(con, dates)
            for d in dates:
                out[d] = self._decide(con, d, d in game_dates)
        return out

    def _decide(self, con, d: str, is_game_date: bool) -> Verdict:
        v = self.evaluate(latest_completions(con, self.t.target_phase, d), is_game_date)
        generation = None
        if v.state == READY:
            why = self._unsettled(con, d, v)
            if why:
                v.state, v.detail = SETTLING, why
            elif not self.t.downstream:
                v.state, v.detail = COMPLETE, f"phase {self.t.target_phase} has no processors: nothing to trigger"
            else:
                generation = generation_of(v.used)
                self._trigger(con, d, generation, v.used)
                v.state = TRIGGERED
        con.execute("UPDATE phase_dates SET state = ?, detail = ?, generation = coalesce(?, generation), "
                    "dirty = ?, updated_at = ? WHERE target_phase = ? AND game_date = ?",
                    [v.state, v.detail or None, generation, int(v.state == SETTLING), now_iso(),
                     self.t.target_phase, d])
        return v

    def evaluate(self, latest: dict[str, dict], is_game_date: bool) -> Verdict:
        return evaluate(self.t, latest, is_game_date)

    def _unsettled(self, con, d: str, v: Verdict) -> str:
        """Why the date cannot be decided yet: a contributing run still runs, or a completion
        message for the date is not yet acknowledged (empty when settled)."""
        live = live_runs(con, {r["run_id"] for r in v.used.values()})
        if live:
            return f"waiting for run {', '.join(sorted(live))} to finish"
        inflight = self.bus.backlog(self.t.topic_in, [d])
        if inflight:
            return f"{inflight} completion message(s) for this date not yet acknowledged"
        return ""

    def _trigger(self, con, d: str, generation: str, used: dict[str, dict]) -> bool:
        """The trigger row, unique per (phase, date, generation): a second decision for the
        same generation inserts nothing."""
        latest = max(used.values(), key=lambda r: (r["completed_at"], r["run_id"]))
        cur = con.execute(
            "INSERT INTO phase_triggers (target_phase, game_date, generation, upstream_runs, "
            "correlation_id, triggered_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [self.t.target_phase, d, generation,
             json.dumps({p: r["run_id"] for p, r in sorted(used.items())}), latest["correlation_id"], now_iso()])
        return cur.rowcount == 1

    def relay(self) -> int:
        """Publish trigger rows not yet on the bus (after a crash too); the dedup id makes a
        second publish of the same row a no-op."""
        rows = self.st.rows("SELECT * FROM phase_triggers WHERE target_phase = ? AND published_at IS NULL "
                            "ORDER BY game_date, id", [self.t.target_phase])
        for r in rows:
            runs = json.loads(r["upstream_runs"])
            env = Envelope(processor=f"phase{self.t.source_phase}-to-phase{self.t.target_phase}-orchestrator",
                           phase=self.t.target_phase, game_date=r["game_date"], status="triggered",
                           record_count=len(runs), run_id=f"trigger-{r['id']}",
                           correlation_id=r["correlation_id"] or f"trigger-{r['id']}", timestamp=r["triggered_at"],
                           extra={"generation": r["generation"], "upstream_runs": runs, "trigger_id": r["id"]})
            mid = self.bus.publish(self.t.topic_out, env.as_dict(), key=r["game_date"], dedup_id=f"trigger-{r['id']}")
            with self.st.tx() as con:
                con.execute("UPDATE phase_triggers SET message_id = ?, published_at = ? WHERE id = ?",
                            [mid, now_iso(), r["id"]])
        return len(rows)

    def _game_dates(self, con, dates: list[str]) -> set[str]:
        if not dates:
            return set()
        return {r[0] for r in con.execute(
            f"SELECT game_date FROM calendar_dates WHERE game_date IN ({','.join('?' * len(dates))})", dates)}


def evaluate(t: Transition, latest: dict[str, dict], is_game_date: bool) -> Verdict:
    """Which requirements the latest completions satisfy: READY when all of them."""
    v = Verdict(READY)
    for req in t.requirements:
        if req.calendar:
            if not is_game_date:
                v.awaited.append(req.name)
            continue
        rows = [latest[m] for m in req.members if m in latest]
        done = [r for r in rows if r["status"] in DONE]
        if done:
            v.used.update({r["processor"]: r for r in done})
            continue
        v.awaited.append(req.name)            # awaiting a done report, blocked or not
        v.blocked.update({r["processor"]: r["status"] for r in rows})
    if v.blocked:
        v.state = BLOCKED
        v.detail = ", ".join(f"{p} {s}" for p, s in sorted(v.blocked.items()))
    elif not is_game_date and any(r.calendar for r in t.requirements):
        v.state, v.detail = NO_GAMES, "no league game that date in the calendar"
    elif v.awaited:
        v.state = WAITING
    elif all(r["status"] == "no_games" for r in v.used.values()):
        v.state, v.detail = NO_GAMES, "every processor reported no games"
    return v


def latest_completions(con, target_phase: int, d: str) -> dict[str, dict]:
    """The latest completion of every processor for the date (by its timestamp, then run id)."""
    rows = con.execute("SELECT * FROM phase_completions WHERE target_phase = ? AND game_date = ? "
                       "ORDER BY processor, completed_at DESC, run_id DESC", [target_phase, d]).fetchall()
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["processor"], dict(r))
    return out


def live_runs(con, run_ids: Iterable[str]) -> set[str]:
    """Runs still running: status running and not dead (ledger.run_dead: on this host, the
    process alive; elsewhere, its heartbeat recent). Unknown run ids (an ingest) are finished."""
    ids = sorted(set(run_ids))
    if not ids:
        return set()
    rows = con.execute(f"SELECT run_id, host, pid, updated_at FROM runs WHERE status = 'running' "
                       f"AND run_id IN ({','.join('?' * len(ids))})", ids).fetchall()
    return {r["run_id"] for r in rows if not run_dead(dict(r))}


# --- running all orchestrators --------------------------------------------------------------

def orchestrators(ws, bus: EventBus, visibility_timeout: float = 30.0) -> list[Orchestrator]:
    return [Orchestrator(ws.state, bus, t, visibility_timeout)
            for t in transitions(ws.settings.phase2_required)]


def run_orchestrators(ws, bus: EventBus, stop: threading.Event | None = None, once: bool = False,
                      poll: float = 0.5, on_step: Callable[[str, dict], None] | None = None) -> dict:
    """Step every orchestrator until `stop` is set or a stop is requested (or, with `once`,
    until a round does nothing). Returns the totals."""
    orch = orchestrators(ws, bus)
    stop = cancel.StopFlag(stop)          # also set by a stop request (SIGINT, SIGTERM)
    totals = {"consumed": 0, "triggered": 0, "settling": 0}
    while not stop.is_set():
        busy = False
        settling = 0
        for o in orch:
            with cancel.deferred():       # a step records and acknowledges a batch, or none of it
                r = o.step()
            totals["consumed"] += r["consumed"]
            totals["triggered"] += r["triggered"]
            settling += r["settling"]
            busy = busy or bool(r["consumed"] or r["triggered"])
            if on_step and (r["consumed"] or r["triggered"]):
                on_step(o.t.name, r)
        totals["settling"] = settling
        if once and not busy:
            break
        if not busy:
            bus.wait([o.t.topic_in for o in orch], poll, stop)
    return totals


# --- status ------------------------------------------------------------------------------

def status(st: StateStore, bus: EventBus, trans: list[Transition], dates: list[dt.date] | None = None) -> list[dict]:
    """Per date and transition: who reported (latest status each), who is awaited or blocks,
    whether and how often it triggered, and where the latest trigger is. Without dates: every
    date any completion was recorded for; with dates: those plus the calendar's game dates."""
    wanted = [d.isoformat() for d in dates] if dates is not None else None
    games = {r["game_date"] for r in st.rows("SELECT game_date FROM calendar_dates")}
    workers = {w["worker_id"]: w for w in st.rows("SELECT * FROM workers WHERE message_id IS NOT NULL")}
    out = []
    for t in trans:
        decided = {r["game_date"]: r for r in _rows_for(st, "phase_dates", t.target_phase, wanted)}
        triggers: dict[str, list[dict]] = {}
        for r in _rows_for(st, "phase_triggers", t.target_phase, wanted, order="id"):
            triggers.setdefault(r["game_date"], []).append(r)
        candidates = set(decided) | set(triggers) | (games & set(wanted) if wanted is not None else set())
        messages = bus.describe(ts[-1]["message_id"] for ts in triggers.values())
        by_hand = _done_by_hand(st, t.target_phase, sorted(candidates - set(triggers)))
        for d in sorted(candidates):
            row = _status_row(st, bus, t, d, d in games, decided.get(d), triggers.get(d, []), messages, workers)
            if row["state"] == WAITING and d in by_hand:
                row["state"], row["detail"] = MANUAL, by_hand[d]
            out.append(row)
    return sorted(out, key=lambda r: (r["date"], r["phase"]))


def _done_by_hand(st, phase: int, dates: list[str]) -> dict[str, str]:
    """Dates whose every processor of `phase` has a done latest unit in the ledger: what ran
    them and when (the run ids of the latest units, by command)."""
    names = {n for n, p in registry.all_processors().items() if p.phase == phase}
    if not names or not dates:
        return {}
    per_date: dict[str, list[dict]] = {}
    for r in ledger.latest(st, phase=phase, dates=[dt.date.fromisoformat(d) for d in dates]):
        per_date.setdefault(r["game_date"], []).append(r)
    commands = {r["run_id"]: r["command"] for r in st.rows("SELECT run_id, command FROM runs")}
    out = {}
    for d, rows in per_date.items():
        if {r["processor"] for r in rows} >= names and all(r["status"] in DONE for r in rows):
            runs = sorted({r["run_id"] for r in rows})
            out[d] = (f"done by hand, not triggered: phase {phase} ran in "
                      + ", ".join(f"{commands.get(r, 'run')} {r}" for r in runs))
    return out


def _status_row(st, bus, t: Transition, d: str, is_game_date: bool, decided: dict | None,
                triggers: list[dict], messages: dict, workers: dict) -> dict:
    latest = latest_completions(st, t.target_phase, d)
    v = evaluate(t, latest, is_game_date)
    state = decided["state"] if decided else (WAITING if v.state == READY else v.state)
    last = triggers[-1] if triggers else None
    return {
        "date": d, "phase": t.target_phase, "upstream_phase": t.source_phase, "state": state,
        "detail": (decided or {}).get("detail") or v.detail or None,
        "reported": {p: r["status"] for p, r in sorted(latest.items())},
        "awaited": v.awaited, "blocked": v.blocked,
        "errors": _errors(st, t, d, v.blocked, latest),
        "triggered": bool(triggers), "trigger_count": len(triggers),
        "triggered_at": last["triggered_at"] if last else None,
        "generation": last["generation"] if last else None,
        "trigger_state": _trigger_state(last, messages, workers),
        "queued_completions": bus.backlog(t.topic_in, [d]),
    }


def _trigger_state(last: dict | None, messages: dict, workers: dict) -> str | None:
    if last is None:
        return None
    if last["message_id"] is None:
        return "decided, not yet published"
    m = messages.get(last["message_id"], {})
    w = workers.get(m.get("claimed_by"))      # by claimant: a worker holds a batch of triggers
    if m.get("state") == "claimed" and w:
        return f"{w['state']} ({w['worker_id']})"
    if m.get("state") == "claimed":
        return f"claimed by {m.get('claimed_by')}"
    if m.get("state") == "dead":
        return f"set aside: {m.get('last_error')}"
    return m.get("state")


def _errors(st, t: Transition, d: str, blocked: dict, latest: dict) -> dict[str, str]:
    """The ledger's error or reason for each blocking processor's unit (Phase 3+)."""
    out = {}
    for p in blocked:
        r = st.rows("SELECT error, detail FROM run_ledger WHERE processor = ? AND game_date = ? AND run_id = ? "
                    "ORDER BY id DESC LIMIT 1", [p, d, latest[p]["run_id"]])
        if r and (r[0]["error"] or r[0]["detail"]):
            out[p] = r[0]["error"] or r[0]["detail"]
    return out


def _rows_for(st, table: str, phase: int, wanted: list[str] | None, order: str = "game_date") -> list[dict]:
    if wanted is None:
        return st.rows(f"SELECT * FROM {table} WHERE target_phase = ? ORDER BY {order}", [phase])
    if not wanted:
        return []
    return st.rows(f"SELECT * FROM {table} WHERE target_phase = ? AND game_date IN "
                   f"({','.join('?' * len(wanted))}) ORDER BY {order}", [phase, *wanted])
