"""The event bus: completion messages and phase triggers (DESIGN section 8).

The interface is small on purpose (one implementation per state store backend):
  publish   put a message on a topic (optionally with a key and an idempotency id)
  pull      claim up to N available messages for a visibility timeout
  ack       the message is done: never delivered again
  nack      give it back (after a delay); with an error it counts as a failure
  extend    renew a claim (a heartbeat while a long unit runs)
  backlog   how many messages of a topic (for some keys) are not yet acknowledged
  describe  where given messages are (queued, claimed, acked, dead), for status
  wait      sleep until a message may have arrived (or a timeout)

Delivery is at least once: a claim that is not acknowledged before its visibility timeout
lapses and the message is delivered again, so every consumer must be idempotent. Each topic
is one queue shared by its consumers (competing consumers, as a Pub/Sub subscription).

`StateBus` keeps messages in the state store (table bus_messages). On SQLite, claims are taken
inside `BEGIN IMMEDIATE`, so two processes never claim the same message. `PostgresBus` claims
rows with FOR UPDATE SKIP LOCKED (consumers on many hosts pass each other's claims by, never
wait for them) and wakes consumers with LISTEN/NOTIFY instead of polling hard."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from nbapipe.state.ledger import UnitResult, new_run_id, now_iso
from nbapipe.state.store import StateStore

# Production topic names.
PHASE2_COMPLETE = "nba-phase2-raw-complete"
PHASE3_COMPLETE = "nba-phase3-analytics-complete"
PHASE4_COMPLETE = "nba-phase4-precompute-complete"
PHASE3_TRIGGER = "nba-phase3-trigger"
PHASE4_TRIGGER = "nba-phase4-trigger"
PHASE5_TRIGGER = "nba-phase5-trigger"

COMPLETION_TOPICS = {2: PHASE2_COMPLETE, 3: PHASE3_COMPLETE, 4: PHASE4_COMPLETE}
TRIGGER_TOPICS = {3: PHASE3_TRIGGER, 4: PHASE4_TRIGGER, 5: PHASE5_TRIGGER}

# Failed deliveries (nacks with an error, expired claims) before a message is set aside.
MAX_FAILURES = 5


@dataclass(frozen=True)
class Envelope:
    """What every completion and trigger message carries."""
    processor: str
    phase: int
    game_date: str
    status: str
    record_count: int
    run_id: str
    correlation_id: str
    timestamp: str
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Envelope":
        """Raises ValueError on a payload that is not an envelope (a message to set aside)."""
        try:
            env = cls(processor=str(d["processor"]), phase=int(d["phase"]),
                      game_date=dt.date.fromisoformat(d["game_date"]).isoformat(),
                      status=str(d["status"]), record_count=int(d.get("record_count") or 0),
                      run_id=str(d["run_id"]), correlation_id=str(d.get("correlation_id") or d["run_id"]),
                      timestamp=str(d["timestamp"]), extra=dict(d.get("extra") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a message envelope ({e.__class__.__name__}: {e})") from None
        return env


@dataclass(frozen=True)
class Message:
    id: int
    topic: str
    key: str | None
    payload: dict
    attempts: int
    token: str          # this delivery's claim: only its holder can ack, nack or extend it

    @property
    def envelope(self) -> Envelope:
        return Envelope.from_dict(self.payload)


class EventBus(ABC):
    @abstractmethod
    def publish(self, topic: str, payload: dict, key: str | None = None,
                dedup_id: str | None = None) -> int:
        """Put a message on `topic`; with `dedup_id`, publishing it again is a no-op that
        returns the first message's id."""

    def publish_many(self, topic: str, items: Sequence[tuple[dict, str | None, str | None]]) -> list[int]:
        """Several (payload, key, dedup_id) messages; implementations may make it atomic."""
        return [self.publish(topic, p, k, d) for p, k, d in items]

    @abstractmethod
    def pull(self, topics: str | Sequence[str], max_messages: int = 1, visibility_timeout: float = 30.0,
             consumer: str = "", batch: bool = False) -> list[Message]:
        """Claim up to `max_messages` available messages, earliest key first (keys are dates:
        earlier dates first), then in publish order. With `batch`: the first available message
        and every other available one of its topic (up to `max_messages` in all), in one claim,
        so a worker runs a phase's ready triggers as one run."""

    @abstractmethod
    def ack(self, msg: Message) -> bool:
        """Done with it. False when the claim had lapsed and another consumer holds it now."""

    @abstractmethod
    def nack(self, msg: Message, delay: float = 0.0, error: str | None = None, final: bool = False) -> bool:
        """Give it back, visible again after `delay` seconds. An `error` counts as a failed
        delivery (too many and the message is set aside); without one it is only released.
        `final`: set it aside now (it can never be processed, e.g. not an envelope)."""

    @abstractmethod
    def extend(self, msg: Message, visibility_timeout: float) -> bool:
        """Keep the claim for another `visibility_timeout` seconds from now."""

    @abstractmethod
    def backlog(self, topic: str, keys: Iterable[str] | None = None, other_than: Iterable[int] = ()) -> int:
        """Messages of `topic` (with one of `keys`) published but not yet acknowledged, leaving
        out the messages `other_than` (a consumer's own claims)."""

    @abstractmethod
    def describe(self, ids: Iterable[int]) -> dict[int, dict]:
        """Per message id: state (queued | claimed | acked | dead), claimed_by, attempts."""

    def wait(self, topics: Sequence[str], timeout: float, stop: threading.Event | None = None) -> None:
        """Return once a message may have been published on `topics`, after `timeout` seconds
        at most, or when `stop` is set. The default only sleeps."""
        (stop or threading.Event()).wait(timeout)

    @abstractmethod
    def reopen(self) -> "EventBus":
        """Another handle on the same bus with its own connection (for a heartbeat thread)."""

    def close(self) -> None:
        pass


class StateBus(EventBus):
    """The bus kept in the state store (SQLite: the embedded default)."""

    def __init__(self, st: StateStore, max_failures: int = MAX_FAILURES, owns_store: bool = False):
        self.st = st
        self.max_failures = max_failures
        self._owns = owns_store

    def publish(self, topic, payload, key=None, dedup_id=None) -> int:
        return self.publish_many(topic, [(payload, key, dedup_id)])[0]

    def publish_many(self, topic, items) -> list[int]:
        """One transaction: a batch (an ingest's completions) becomes visible all at once."""
        now = time.time()
        ids = []
        with self.st.tx() as con:
            for payload, key, dedup_id in items:
                new = con.execute(
                    "INSERT INTO bus_messages (topic, msg_key, dedup_id, payload, published_at, visible_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                    [topic, key, dedup_id, json.dumps(payload, sort_keys=True), now, now]).fetchone()
                ids.append(new[0] if new else con.execute(
                    "SELECT id FROM bus_messages WHERE topic = ? AND dedup_id = ?", [topic, dedup_id]).fetchone()[0])
            self._notify(con, topic)
        return ids

    def _notify(self, con, topic: str) -> None:
        """Wake the topic's waiting consumers when the transaction commits (PostgreSQL)."""

    def pull(self, topics, max_messages=1, visibility_timeout=30.0, consumer="", batch=False) -> list[Message]:
        topics = [topics] if isinstance(topics, str) else list(topics)
        marks = ",".join("?" * len(topics))
        now = time.time()
        token = uuid.uuid4().hex
        with self.st.tx() as con:
            # A claim that lapsed is a failed delivery (its consumer died or hung).
            con.execute(f"UPDATE bus_messages SET failures = failures + 1, claim_token = NULL, "
                        f"last_error = coalesce(last_error, 'claim expired') WHERE topic IN ({marks}) "
                        f"AND acked_at IS NULL AND dead_at IS NULL AND claim_token IS NOT NULL AND visible_at <= ?",
                        [*topics, now])
            con.execute(f"UPDATE bus_messages SET dead_at = ? WHERE topic IN ({marks}) AND acked_at IS NULL "
                        f"AND dead_at IS NULL AND failures >= ?", [now, *topics, self.max_failures])
        # The claim: a transaction of its own, which on PostgreSQL locks only the rows it takes.
        with self._claim_tx() as con:
            rows = self._available(con, topics, now, 1 if batch else max_messages)
            if batch and rows:          # the rest of that topic, in the same claim
                rows += self._available(con, [rows[0]["topic"]], now, max_messages - 1, rows[0]["id"])
            con.executemany("UPDATE bus_messages SET claim_token = ?, claimed_by = ?, visible_at = ?, "
                            "attempts = attempts + 1 WHERE id = ?",
                            [[token, consumer, now + visibility_timeout, r["id"]] for r in rows])
        return [Message(r["id"], r["topic"], r["msg_key"], json.loads(r["payload"]), r["attempts"] + 1, token)
                for r in rows]

    def _available(self, con, topics: list[str], now: float, limit: int, other_than: int | None = None) -> list:
        if limit <= 0:
            return []
        return con.execute(
            f"SELECT id, topic, msg_key, payload, attempts FROM bus_messages WHERE topic IN ({','.join('?' * len(topics))}) "
            f"AND acked_at IS NULL AND dead_at IS NULL AND visible_at <= ? AND id <> ? "
            f"ORDER BY msg_key, topic, id LIMIT ?{self.SKIP_LOCKED}",
            [*topics, now, -1 if other_than is None else other_than, limit]).fetchall()

    SKIP_LOCKED = ""          # SQLite: the claim transaction already excludes every other writer

    def _claim_tx(self):
        return self.st.tx()

    def ack(self, msg) -> bool:
        return self._update(msg, "acked_at = ?, claim_token = NULL", [time.time()])

    def nack(self, msg, delay=0.0, error=None, final=False) -> bool:
        now = time.time()
        if final:
            return self._update(msg, "dead_at = ?, claim_token = NULL, failures = failures + 1, last_error = ?",
                                [now, (error or "set aside")[:2000]])
        if error:
            return self._update(msg, "visible_at = ?, claim_token = NULL, failures = failures + 1, last_error = ?",
                                [now + delay, error[:2000]])
        return self._update(msg, "visible_at = ?, claim_token = NULL", [now + delay])

    def extend(self, msg, visibility_timeout) -> bool:
        return self._update(msg, "visible_at = ?", [time.time() + visibility_timeout])

    def _update(self, msg: Message, sets: str, params: list) -> bool:
        with self.st.tx() as con:
            cur = con.execute(f"UPDATE bus_messages SET {sets} WHERE id = ? AND claim_token = ? "
                              f"AND acked_at IS NULL AND dead_at IS NULL", [*params, msg.id, msg.token])
            return cur.rowcount == 1

    def backlog(self, topic, keys=None, other_than=()) -> int:
        sql = "SELECT count(*) FROM bus_messages WHERE topic = ? AND acked_at IS NULL AND dead_at IS NULL"
        ids = list(other_than)
        if ids:
            sql += f" AND id NOT IN ({','.join('?' * len(ids))})"
        if keys is None:
            return self.st.scalar(sql, [topic, *ids])
        ks = list(keys)
        if not ks:
            return 0
        return self.st.scalar(sql + f" AND msg_key IN ({','.join('?' * len(ks))})", [topic, *ids, *ks])

    def describe(self, ids) -> dict[int, dict]:
        ids = [i for i in ids if i is not None]
        if not ids:
            return {}
        now = time.time()
        rows = self.st.rows(f"SELECT id, claimed_by, claim_token, visible_at, attempts, acked_at, dead_at, last_error "
                            f"FROM bus_messages WHERE id IN ({','.join('?' * len(ids))})", ids)
        out = {}
        for r in rows:
            state = ("acked" if r["acked_at"] else "dead" if r["dead_at"]
                     else "claimed" if r["claim_token"] and r["visible_at"] > now else "queued")
            out[r["id"]] = {"state": state, "claimed_by": r["claimed_by"] if state == "claimed" else None,
                            "attempts": r["attempts"], "last_error": r["last_error"]}
        return out

    def reopen(self) -> "StateBus":
        return type(self)(self.st.reopen(), self.max_failures, owns_store=True)

    def close(self) -> None:
        if self._owns:
            self.st.close()


class PostgresBus(StateBus):
    """The bus in a PostgreSQL state store: row-locking claims, NOTIFY on publish."""
    CHANNEL = "nbapipe_bus"
    SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(self, st: StateStore, max_failures: int = MAX_FAILURES, owns_store: bool = False):
        super().__init__(st, max_failures, owns_store)
        self._listener = None

    def _claim_tx(self):
        # Not the store-wide write lock: claims lock only the rows they take.
        return self.st.tx(serialise=False)

    def _notify(self, con, topic: str) -> None:
        con.execute("SELECT pg_notify(?, ?)", [self.CHANNEL, topic])

    # NOTIFY wakes a waiting consumer at once, so an idle one need not look more often than
    # this: only messages given back with a delay (nack) become visible without a notification.
    IDLE_WAIT = 5.0

    def wait(self, topics, timeout, stop=None) -> None:
        if self._listener is None:
            self._listener = self.st.listen(self.CHANNEL)
        deadline = time.monotonic() + max(timeout, self.IDLE_WAIT)
        wanted = set(topics)
        # Slices of a second, so that `stop` is seen promptly; no query runs while waiting.
        while not (stop and stop.is_set()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                for n in self._listener.notifies(timeout=min(left, 0.5), stop_after=1):
                    if n.payload in wanted:
                        return
            except Exception:         # the server dropped the listener: pull now, listen anew next time
                self._listener.close()
                self._listener = None
                return

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        super().close()


def bus_for(st: StateStore, max_failures: int = MAX_FAILURES) -> EventBus:
    """The bus kept in the state store `st`, for its backend."""
    return (PostgresBus if st.kind == "postgresql" else StateBus)(st, max_failures)


def open_bus(ws) -> EventBus:
    """The workspace's bus, on the workspace's state store."""
    return bus_for(ws.state)


# --- publishing completions ----------------------------------------------------------------

def completion(r: UnitResult, correlation_id: str | None = None) -> Envelope:
    return Envelope(processor=r.processor, phase=r.phase, game_date=r.game_date.isoformat(), status=r.status,
                    record_count=r.rows, run_id=r.run_id or "", correlation_id=correlation_id or r.run_id or "",
                    timestamp=now_iso())


def completion_dedup_id(env: Envelope) -> str:
    """One message per (processor, date, run): a publisher retry stores nothing new."""
    return f"{env.processor}|{env.game_date}|{env.run_id}"


class UnitPublisher:
    """The runner's `unit_done` callback: one completion per unit it ran or freshly recorded
    (units skipped as already done never reach it), on the topic of the unit's phase."""

    def __init__(self, bus: EventBus, correlation_id: str | None = None, by_date: dict[str, str] | None = None):
        self.bus = bus
        self.correlation_id = correlation_id
        self.by_date = by_date or {}      # a batch of triggers: each date keeps its trigger's id
        self.published = 0

    def __call__(self, r: UnitResult) -> None:
        topic = COMPLETION_TOPICS.get(r.phase)
        if topic is None:            # the last phase: nothing downstream listens
            return
        env = completion(r, self.by_date.get(r.game_date.isoformat(), self.correlation_id))
        self.bus.publish(topic, env.as_dict(), key=env.game_date, dedup_id=completion_dedup_id(env))
        self.published += 1


def unit_publisher(ws, correlation_id: str | None = None) -> UnitPublisher:
    return UnitPublisher(open_bus(ws), correlation_id)


def phase2_completions(changed: dict[str, dict[str, int]], run_id: str) -> list[Envelope]:
    """One success per (raw table, date) whose rows this ingest inserted or changed. The
    processor is the table's production name without its schema (nbac_schedule, ...)."""
    stamp = now_iso()
    return [Envelope(processor=table.split(".")[-1], phase=2, game_date=d, status="success", record_count=n,
                     run_id=run_id, correlation_id=run_id, timestamp=stamp)
            for table, per_date in sorted(changed.items()) for d, n in sorted(per_date.items())]


def publish_phase2_completions(ws, summary) -> int:
    """`nbapipe ingest` without --skip-downstream-trigger: Phase 2 completions per date,
    published in one transaction after the calendar copy is refreshed. Unchanged content
    publishes nothing."""
    envs = phase2_completions(getattr(summary, "changed", {}) or {}, new_run_id())
    if envs:
        open_bus(ws).publish_many(PHASE2_COMPLETE, [(e.as_dict(), e.game_date, completion_dedup_id(e))
                                                    for e in envs])
    return len(envs)
