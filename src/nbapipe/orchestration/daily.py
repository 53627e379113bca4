"""`nbapipe daily`: one day of the live cycle, with the product's own parts (issue 16).

For day D, in this order:
  1. ingest    the files that arrived in the inbox (recognised as usual); loaded and unchanged
               files move to <inbox>/done/<D>/, refused and unrecognised ones stay (and are
               named); Phase 2 completions are published for the (table, date)s that changed.
  2. events    the phase orchestrators and a worker, in this process, until neither has
               anything left: last night's box scores trigger Phase 3 for D-1 (and the Phase 4
               and 5 triggers that follow); anything late or corrected triggers its own date.
  3. catch-up  late or corrected data (rows dated before D-1 that arrived today) make units of
               the dates after them stale through the ledger's fingerprints, which no trigger
               names: the runner resumes Phase 3-5 from the earliest changed date to D-1 and
               recomputes exactly the stale units (the rest are already done).
  4. pregame   D's games before tip-off: Phase 3's upcoming contexts, Phase 4 and the Phase 5
               predictions for D, by the runner (the same one backfills and workers use) with
               completion events. The orchestrators cannot trigger these: their Phase 3->4
               transition waits for every Phase 3 processor of D, box scores included, which
               exist only after the games. The box-score units of D wait (upstream_missing).
  5. grade     D-1 once its box scores are in (player_game_summary of D-1 written): the
               predictions of D-1 against the outcomes.
Every step says what it did and what it waits for. Units whose inputs did not change since
they were computed are already done (the ledger's fingerprints), so a rerun of the same day
recomputes nothing, and late or corrected data recompute exactly the units they feed.

`serve --inbox` is the same cycle, continuously (watch_inbox): a day's cycle runs when the
day starts and again whenever files arrive; between cycles the orchestrators and the worker
handle triggers published elsewhere."""
from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbapipe import cancel
from nbapipe import processors as registry
from nbapipe.calendar import dates_text
from nbapipe.orchestration.backfill import BackfillError, run_backfill
from nbapipe.orchestration.events import (PHASE2_COMPLETE, UnitPublisher, completion_dedup_id, open_bus,
                                          phase2_completions)
from nbapipe.orchestration.runner import Report, Request
from nbapipe.state import ledger

# Phase 3 units of a date that need that night's box scores; the rest of Phase 3 is pre-game.
POSTGAME_PHASE3 = ("team_offense_game_summary", "team_defense_game_summary", "player_game_summary")
GRADING = "prediction_accuracy"


@dataclass
class Step:
    name: str
    did: str
    waits: str = ""
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DailyReport:
    date: str
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0
    failed: int = 0
    started_at: str = ""
    finished_at: str = ""
    error: str = ""                 # why the cycle could not run (serve --inbox goes on)

    def as_dict(self) -> dict:
        return {"date": self.date, "seconds": round(self.seconds, 3), "failed": self.failed,
                "error": self.error, "started_at": self.started_at, "finished_at": self.finished_at,
                "steps": [s.as_dict() for s in self.steps]}


def pregame_processors() -> list[str]:
    """D's units computable before tip-off: Phase 3 less the box-score summaries, Phase 4, and
    the Phase 5 predictions (not the grading)."""
    return [n for n, p in registry.all_processors().items()
            if (p.phase == 3 and n not in POSTGAME_PHASE3) or p.phase == 4
            or (p.phase == 5 and n != GRADING)]


def run_daily(ws, day: dt.date, inbox: Path | None = None, *, pregame: bool = True,
              ingest_inbox: bool = True, changed_from: dt.date | None = None,
              engine: str | None = None, on_step=None, files: list[Path] | None = None) -> DailyReport:
    """`changed_from`: the earliest date of rows that arrived by other means than the inbox
    (replay reveals them itself). `files`: the inbox files to ingest (default: all of them)."""
    t0 = time.perf_counter()
    report = DailyReport(day.isoformat(), started_at=ledger.now_iso())

    def add(step: Step) -> None:
        report.steps.append(step)
        if on_step:
            on_step(step)

    # One writer session for the whole cycle: its runs share one lease and one open warehouse
    # (opening, checking the schema and checkpointing on close cost ~0.06 s a run).
    # One DuckDB thread for the cycle (Runner._threads_for): set once here instead of per run.
    with ws.writer(f"daily {day}") as wh, wh.threads(1):
        if ingest_inbox:
            step = ingest_step(ws, day, inbox or ws.home / "inbox", files)
            add(step)
            dates = [dt.date.fromisoformat(d) for per in step.detail.get("changed", {}).values() for d in per]
            changed_from = min([changed_from] * (changed_from is not None) + dates, default=None)
        add(events_step(ws, engine))
        yesterday = day - dt.timedelta(days=1)
        if changed_from is not None and changed_from < yesterday:
            add(catch_up_step(ws, changed_from, yesterday, engine, report))
        if pregame:
            add(pregame_step(ws, day, engine, report))
        add(grade_step(ws, day - dt.timedelta(days=1), engine, report))
    report.seconds = time.perf_counter() - t0
    report.finished_at = ledger.now_iso()
    return report


# --- 1. ingest ---------------------------------------------------------------------------------

def ingest_step(ws, day: dt.date, inbox: Path, files: list[Path] | None = None) -> Step:
    from nbapipe.orchestration.events import publish_phase2_completions
    from nbapipe.sources.ingest import run_ingest
    t0 = time.perf_counter()
    done_dir = inbox / "done"
    files = inbox_files(inbox) if files is None else files
    if not files:
        return Step("ingest", f"inbox {inbox}: no new files", "new files in the inbox",
                    time.perf_counter() - t0)
    summary = run_ingest(ws, files)
    published = publish_phase2_completions(ws, summary)
    moved, stayed = _file_away(summary, inbox, done_dir / day.isoformat())
    rows = sum(n for per in summary.changed.values() for n in per.values())
    dates = sorted({d for per in summary.changed.values() for d in per})
    did = (f"{len(files)} file(s): {moved} moved to {done_dir / day.isoformat()}; {rows} row(s) new or changed"
           + (f" on {dates_text([dt.date.fromisoformat(d) for d in dates])}" if dates else "")
           + f"; {published} Phase 2 completion(s) published")
    waits = "; ".join(f"{Path(o.path).name}: {o.status}{' (' + o.message + ')' if o.message else ''}"
                      for o in stayed)
    return Step("ingest", did, waits, time.perf_counter() - t0,
                {"files": len(files), "moved": moved, "left_in_inbox": [o.path for o in stayed],
                 "changed": summary.changed, "completions": published})


def inbox_files(inbox: Path) -> list[Path]:
    """The files waiting in the inbox (what was filed away under done/ aside)."""
    from nbapipe.sources.ingest import walk
    done_dir = inbox / "done"
    return [p for p in walk(inbox) if done_dir not in p.parents] if inbox.is_dir() else []


def _file_away(summary, inbox: Path, dest: Path) -> tuple[int, list]:
    moved, stayed = 0, []
    for o in summary.outcomes:
        src = Path(o.path)
        if o.status in ("loaded", "unchanged") and src.exists():
            target = dest / src.relative_to(inbox) if inbox in src.parents else dest / src.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), target)
            moved += 1
        elif o.status in ("refused", "unrecognised"):
            stayed.append(o)
    return moved, stayed


# --- 2. events -----------------------------------------------------------------------------------

def events_step(ws, engine: str | None = None) -> Step:
    """The orchestrators and one worker, in turn, until a round of both does nothing."""
    from nbapipe.orchestration.orchestrator import run_orchestrators
    from nbapipe.orchestration.worker import Worker, worker_phases
    t0 = time.perf_counter()
    bus = open_bus(ws)
    triggered, ran = 0, {"done": 0, "failed": 0}
    runs: list[str] = []

    def seen(kind: str, info: dict) -> None:
        if kind in ("done", "failed"):
            span = info["date"] if info["date"] == info["last_date"] else f"{info['date']}..{info['last_date']}"
            runs.append(f"phase {info['phase']} {span}: {kind}")

    worker = Worker(ws, bus, worker_phases(), poll=0.05, on_event=seen, engine=engine)
    while True:
        totals = run_orchestrators(ws, bus, once=True, poll=0.05)
        before = worker.stats.done + worker.stats.failed
        worker.run(once=True)
        triggered += totals["triggered"]
        if not totals["triggered"] and worker.stats.done + worker.stats.failed == before:
            break
    ran = {"done": worker.stats.done, "failed": worker.stats.failed}
    did = (f"orchestrators published {triggered} trigger(s); the worker ran {ran['done'] + ran['failed']}"
           + (f" ({'; '.join(runs)})" if runs else ""))
    return Step("events", did, "", time.perf_counter() - t0,
                {"triggers": triggered, "runs": runs, "failed": ran["failed"]})


# --- 3. catch-up ---------------------------------------------------------------------------------

def catch_up_step(ws, first: dt.date, last: dt.date, engine: str | None, daily: DailyReport) -> Step:
    t0 = time.perf_counter()
    dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rep = run_backfill(ws, Request(dates=dates, phases=[3, 4, 5], command="daily", engine=engine),
                       unit_done=UnitPublisher(open_bus(ws)), purpose=f"daily catch-up {first}..{last}")
    daily.failed += len(rep.failed)
    ran = [r for r in rep.results if r.status in ("success", "partial", "failed")]
    done = sum(u.action == "already_done" for u in rep.plan)
    by_proc: dict[str, list[dt.date]] = {}
    for r in ran:
        by_proc.setdefault(r.processor, []).append(r.game_date)
    did = (f"data changed from {first}: recomputed {len(ran)} stale unit(s)"
           + (" (" + "; ".join(f"{p} {dates_text(ds)}" for p, ds in by_proc.items()) + ")" if ran else "")
           + f"; {done} already done with the same inputs")
    return Step("catch-up", did, "", time.perf_counter() - t0,
                {"recomputed": [[r.processor, r.game_date.isoformat()] for r in ran], "already_done": done})


# --- 4. pre-game ---------------------------------------------------------------------------------

def pregame_step(ws, day: dt.date, engine: str | None, daily: DailyReport) -> Step:
    t0 = time.perf_counter()
    rep = _run(ws, [day], pregame_processors(), [3, 4, 5], engine)
    daily.failed += len(rep.failed)
    did, waits = _summary(rep, day)
    return Step("pregame", did, waits, time.perf_counter() - t0, {"counts": rep.counts(), "run_id": rep.run_id})


# --- 5. grading ----------------------------------------------------------------------------------

def grade_step(ws, day: dt.date, engine: str | None, daily: DailyReport) -> Step:
    t0 = time.perf_counter()
    latest = ledger.latest_map(ws.state, start=day, end=day, processors=["player_game_summary", GRADING])
    box = latest.get(("player_game_summary", day), {}).get("status")
    if box not in ("success", "partial"):
        why = "no game scheduled" if box == "no_games" else "its box scores (player_game_summary)"
        return Step("grade", f"{day}: not graded", why if box != "no_games" else "", time.perf_counter() - t0)
    rep = _run(ws, [day], [GRADING], [5], engine)
    daily.failed += len(rep.failed)
    did, waits = _summary(rep, day)
    return Step("grade", did, waits, time.perf_counter() - t0, {"counts": rep.counts(), "run_id": rep.run_id})


def _run(ws, dates: list[dt.date], procs: list[str], phases: list[int], engine: str | None) -> Report:
    publisher = UnitPublisher(open_bus(ws))
    return run_backfill(ws, Request(dates=dates, phases=phases, processors=procs, command="daily",
                                    engine=engine), unit_done=publisher,
                        purpose=f"daily {dates[0]}")


def _summary(rep: Report, day: dt.date) -> tuple[str, str]:
    done = [u for u in rep.plan if u.action == "already_done"]
    ran = [r for r in rep.results if r.status in ("success", "partial", "failed")]
    did_parts = [f"{r.processor} {r.status} ({r.rows} rows)" for r in ran]
    did = f"{day}: " + (", ".join(did_parts) if did_parts else "nothing to recompute")
    if done:
        did += f"; {len(done)} unit(s) already done with the same inputs"
    waits = [f"{r.processor}: {r.detail}" for r in rep.results
             if r.status not in ("success", "partial", "failed") and r.detail]
    return did, "; ".join(waits)


def publish_changed(ws, changed: dict[str, dict[str, int]]) -> int:
    """Phase 2 completions for rows made visible by other means than ingest (replay)."""
    envs = phase2_completions(changed, ledger.new_run_id())
    if envs:
        open_bus(ws).publish_many(PHASE2_COMPLETE, [(e.as_dict(), e.game_date, completion_dedup_id(e))
                                                    for e in envs])
    return len(envs)


# --- serve --inbox -------------------------------------------------------------------------------

# A file is taken once it has not changed for this long: one still being copied in is left for
# the next look (and one taken too early is refused whole, then retried once it changes).
SETTLE_SECONDS = 2.0


def watch_inbox(ws, inbox: Path, today, *, interval: float = 10.0, engine: str | None = None,
                on_step=None, on_cycle=None) -> None:
    """`serve --inbox`: run the day's cycle when the day (`today()`) starts and whenever settled
    files arrive; in between, let the orchestrators and a worker run what others triggered.
    A file left in the inbox (refused, unrecognised, not data) is not tried again until it changes.
    Runs until a stop is requested (cancel.Cancelled)."""
    tried: dict[Path, tuple[int, int]] = {}     # file left in the inbox -> its stamp then
    last_day = None
    while True:
        cancel.check()
        day = today()
        files = [p for p in settled(inbox_files(inbox)) if tried.get(p) != _stamp(p)]
        if files or day != last_day:
            last_day = day
            try:
                report = run_daily(ws, day, inbox, files=files, engine=engine, on_step=on_step)
            except BackfillError as e:      # e.g. no schedule yet: the next files may bring it
                report = DailyReport(day.isoformat(), failed=1, error=str(e))
            tried.update({p: _stamp(p) for p in files if p.exists()})     # not filed away
            if on_cycle:
                on_cycle(report)
        else:
            step = events_step(ws, engine)
            if step.detail["triggers"] or step.detail["runs"]:
                on_step and on_step(step)
        cancel.sleep(interval)


def settled(files: list[Path]) -> list[Path]:
    now = time.time()
    return [p for p in files if p.exists() and now - p.stat().st_mtime >= SETTLE_SECONDS]


def _stamp(p: Path) -> tuple[int, int]:
    try:
        st = p.stat()
    except FileNotFoundError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)
