"""The backfill runner: plan (processor, date) units from the DAG, the calendar and the ledger,
then execute each processor once over all of its dates (set-based) on an engine (DuckDB, or
Spark: engines/), replace exactly those date slices, and record one ledger row per unit.

Planning decides, per unit, one of:
  run               inputs present on the date and (resume) not already done with the same
                    inputs; a lookback lacking some dates still runs, from what exists, and
                    is recorded `degraded` naming them (`--strict-lookback`: upstream_missing)
  already_done      latest ledger row is success (or degraded) with the same input fingerprint
  no_games          no game scheduled that date
  bootstrap_skip    Phase 4 inside the season's bootstrap window
  upstream_missing  a required input lacks rows on the date (or, strict, inside its lookback)
Execution turns `run` units into success / partial / degraded / failed.

Containment (DESIGN section 3): a processor's dates are computed by one statement, then checked
per date; only the dates that fail (duplicate keys, no rows) are left out of the write, and an
error raised by the statement itself is bisected over the dates down to those that raise it.
Only a successful computation replaces a slice: a unit that failed or could not run keeps the
rows it had, and the ledger says so (`stale`, or `failed` with "kept N rows of run X").
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
import traceback
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import Callable

from nbapipe import cancel, config
from nbapipe import processors as registry
from nbapipe.calendar import Calendar, dates_text as _dates_text
from nbapipe.engines import Engine, EngineError, as_engine
from nbapipe.processors.base import Input, NotComputed, Processor
from nbapipe.processors.sources import CHAINS, chain_view_sql
from nbapipe.state import ledger
from nbapipe.state.ledger import UnitResult
from nbapipe.warehouse import Warehouse

RUN, DONE, NO_GAMES, BOOTSTRAP, UPSTREAM = "run", "already_done", "no_games", "bootstrap_skip", "upstream_missing"
WARMUP = "warmup"
DEGRADED, STALE, FAILED = "degraded", "stale", "failed"
# Keys named in a duplicate-key failure, per date.
MAX_KEYS_SHOWN = 10


@dataclass
class Request:
    dates: list[dt.date]
    phases: list[int]
    processors: list[str] | None = None
    resume: bool = True
    dry_run: bool = False
    include_bootstrap: bool = False
    skip_downstream_trigger: bool = False
    workers: int = 1
    command: str = "backfill"
    engine: str | None = None      # duckdb | spark; None: the home's setting (env NBAPIPE_ENGINE)
    strict_lookback: bool = False  # a lookback lacking dates makes the unit upstream_missing


@dataclass
class PlannedUnit:
    processor: str
    phase: int
    game_date: dt.date
    action: str
    reason: str = ""
    # upstream_missing: what the unit lacks; run: the lookback dates it will do without
    missing_inputs: dict | None = None
    fingerprint: str | None = None

    @property
    def degraded(self) -> bool:
        """Will run although its lookback lacks the dates in missing_inputs."""
        return self.action == RUN and bool(self.missing_inputs)

    def as_dict(self) -> dict:
        return {"processor": self.processor, "phase": self.phase, "date": self.game_date.isoformat(),
                "action": self.action, "reason": self.reason, "missing_inputs": self.missing_inputs}


@dataclass
class Report:
    run_id: str
    plan: list[PlannedUnit] = field(default_factory=list)
    results: list[UnitResult] = field(default_factory=list)
    auto_upstream: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[UnitResult]:
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        out["already_done"] = sum(u.action == DONE for u in self.plan)
        return out

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "seconds": round(self.seconds, 2), "counts": self.counts(),
                "auto_upstream": self.auto_upstream,
                "plan": [u.as_dict() for u in self.plan],
                "results": [r.as_dict() for r in self.results],
                "gaps": [r.as_dict() for r in self.results if r.status in ledger.GAPS],
                "failed": [r.as_dict() for r in self.failed]}


Events = Callable[[str, dict], None]


def _noop(kind: str, info: dict) -> None:
    pass


def resolve_processors(req: Request) -> tuple[list[str], list[str]]:
    """The processors to run in order, and those added as missing required upstream."""
    procs = registry.all_processors()
    if req.processors:
        for n in req.processors:
            registry.get(n)
        chosen = [n for n in procs if n in req.processors]
    else:
        chosen = [n for n, p in procs.items() if p.phase in req.phases]
    full = registry.with_required_upstream(chosen)
    return full, [n for n in full if n not in chosen]


class Runner:
    def __init__(self, wh: Warehouse | Engine, st, cal: Calendar, run_id: str | None = None,
                 on_event: Events = _noop, unit_done: Callable[[UnitResult], None] | None = None):
        # The engine that runs the SQL (a DuckDB warehouse is the DuckDB engine).
        self.wh, self.st, self.cal = as_engine(wh), st, cal
        self.run_id = run_id or ledger.new_run_id()
        self.on_event = on_event
        self.unit_done = unit_done
        # Outcomes known so far in this run (planned or executed), by (processor, date), and
        # the run id that produced each unit's rows.
        self.outcome: dict[tuple[str, dt.date], str] = {}
        self._run_ids: dict[tuple[str, dt.date], str] = {}
        # Raw table -> (lo, hi, {date: signature}) read once per run (see _raw_signatures).
        self._raw: dict[str, tuple[dt.date, dt.date, dict[dt.date, str]]] = {}
        # Upstream processor -> (lo, hi, {date: its latest ledger row}) as the run found it.
        self._ledger: dict[str, tuple[dt.date, dt.date, dict[dt.date, dict]]] = {}
        self._upstreams: set[str] = set()      # the processors the run's processors read
        self._season_dates: dict[str, list[dt.date]] = {}     # season -> its calendar dates, sorted

    # --- public -------------------------------------------------------------------------
    def run(self, req: Request) -> Report:
        t0 = time.perf_counter()
        names, auto = resolve_processors(req)
        self._upstreams = {i.name for n in names for i in registry.get(n).inputs if i.kind == "processor"}
        report = Report(self.run_id, auto_upstream=auto)
        if auto:
            self.on_event("auto_upstream", {"processors": auto})
        dates = sorted(set(req.dates))
        if not dates:
            return report
        ledger_rows = ledger.latest_map(self.st, start=dates[0], end=dates[-1], processors=names)
        self.prior = {k: v["status"] for k, v in ledger_rows.items()}
        self.prior_fp = {k: v["input_fingerprint"] for k, v in ledger_rows.items()}
        self.prior_run = {k: v["run_id"] for k, v in ledger_rows.items()}
        planned_total = 0
        beat = None
        if not req.dry_run:
            ledger.start_run(self.st, self.run_id, req.command, ",".join(map(str, req.phases)),
                             dates[0], dates[-1], 0)
            beat = ledger.RunHeartbeat(self.st, self.run_id)
            beat.start()
        status = "success"
        threads = ExitStack()
        try:
            threads.enter_context(self._threads_for(dates))
            for level in registry.topo_levels(names):
                cancel.check()                     # a stop request starts no new level
                plans = {n: self.plan(registry.get(n), dates, req, n in auto) for n in level}
                for n in level:
                    report.plan += plans[n]
                todo = {n: [u for u in plans[n] if u.action == RUN] for n in level}
                planned_total += sum(len(v) for v in todo.values())
                self.on_event("level", {"processors": level, "units": {n: len(v) for n, v in todo.items()}})
                if req.dry_run:
                    for n in level:
                        for u in plans[n]:
                            self.outcome[(n, u.game_date)] = (DEGRADED if u.degraded else "success") if u.action == RUN \
                                else self.prior[(n, u.game_date)] if u.action == DONE else u.action
                    continue
                skipped = [self._skip_result(u) for n in level for u in plans[n] if u.action not in (RUN, DONE)]
                self._record(report, skipped)
                for n in level:
                    for u in plans[n]:
                        if u.action == DONE:
                            self.outcome[(n, u.game_date)] = self.prior[(n, u.game_date)]
                results = self._execute_level(level, todo, req.workers)
                self._record(report, results)
                ledger.progress_run(self.st, self.run_id, len(report.results))
            if report.failed:
                status = "failed"
        except (cancel.Cancelled, KeyboardInterrupt) as e:
            # Units in flight were left as they were (no ledger row): a resume reruns them.
            status = "interrupted"
            if isinstance(e, cancel.Cancelled):
                e.summary = self._stopped_summary(names, dates, report, req)
            raise
        except BaseException:
            status = "crashed"
            raise
        finally:
            threads.close()
            report.seconds = time.perf_counter() - t0
            if beat is not None:
                beat.stop()
            if not req.dry_run:
                ledger.finish_run(self.st, self.run_id, status)
        return report

    def _threads_for(self, dates: list[dt.date]):
        """One DuckDB thread for a run of a few dates (a daily morning, a trigger): its many
        small statements lost more to the second thread's coordination than they gained (a
        late-season replay morning: median 1.16 -> 1.03 s). Longer runs get every thread, also
        inside a daily cycle that set one (a catch-up over weeks of late data)."""
        if not isinstance(self.wh, Warehouse):
            return nullcontext()
        return self.wh.threads(1 if len(dates) <= config.SINGLE_THREAD_MAX_DATES else None)

    def _stopped_summary(self, names: list[str], dates: list[dt.date], report: "Report", req: Request) -> str:
        """'N units done, M left; ...' for the line an interrupted command prints."""
        game_dates = {d for d in dates if self.cal.is_game_date(d)}
        done = sum(r.status in ("success", "partial") for r in report.results)
        settled = sum(1 for (n, d) in self.outcome if d in game_dates)
        left = max(len(names) * len(game_dates) - settled, 0)
        how = "rerun the same command to resume" if req.resume else "rerun it without --no-resume to resume"
        return f"{done} units done, {left} left; {how}"

    # --- planning -----------------------------------------------------------------------
    def plan(self, p: Processor, dates: list[dt.date], req: Request, auto: bool) -> list[PlannedUnit]:
        lo = self._lookback_start(p, dates[0])
        present = {i.name: self._present_dates(i, lo, dates[-1]) for i in p.inputs if i.required}
        warm = self._warmup_inputs(p, dates[0], dates[-1])
        fps = self._fingerprints(p, dates)
        resume = req.resume or auto        # added upstream only fills what is missing
        units = []
        for d in dates:
            key = (p.name, d)
            u = PlannedUnit(p.name, p.phase, d, RUN, fingerprint=fps.get(d))
            if not self.cal.is_game_date(d):
                u.action, u.reason = NO_GAMES, "no game scheduled"
            elif p.bootstrap_skip and self.cal.is_bootstrap(d) and not req.include_bootstrap:
                u.action, u.reason = BOOTSTRAP, f"inside the {self.cal.season_of(d)} bootstrap window"
            elif d in warm:
                u.action, u.reason = WARMUP, f"model warm-up: its input {warm[d]} has no model yet on this date"
            else:
                on_date, in_lookback = self._missing_inputs(p, d, present)
                if on_date or (in_lookback and req.strict_lookback):
                    missing = _merge(on_date, in_lookback)
                    u.action, u.missing_inputs = UPSTREAM, missing
                    u.reason = "missing " + _missing_text(missing)
                elif resume and self.prior.get(key) in ledger.DONE and self.prior_fp.get(key) == u.fingerprint:
                    u.action, u.reason = DONE, "already done with the same inputs"
                else:
                    u.reason = "will run" if key not in self.prior else \
                        f"will run (was {self.prior[key]}{', inputs changed' if self.prior[key] in ledger.DONE else ''})"
                    if in_lookback:
                        # Computed from what exists; the fingerprint changes when a gap is filled.
                        u.missing_inputs = in_lookback
                        u.reason += f"; degraded: its lookback lacks {_missing_text(in_lookback)}"
            units.append(u)
        return units

    def _lookback_start(self, p: Processor, first: dt.date) -> dt.date:
        if p.lookback == "season":
            season = self.cal.season_of(first)
            s = self.cal.seasons.get(season)
            return min(first, dt.date.fromisoformat(s["first_game_date"])) if s else first
        return first - dt.timedelta(days=int(p.lookback))

    def _window(self, p: Processor, d: dt.date) -> list[dt.date]:
        """Game dates of the lookback strictly before d (same season for 'season')."""
        if p.lookback == "season":
            season = self.cal.season_of(d)
            if season not in self._season_dates:    # (asked for every unit: sorted once, then bisected)
                self._season_dates[season] = sorted(g for g in self.cal.dates if self.cal.dates[g]["season"] == season)
            days = self._season_dates[season]
            return days[:bisect_left(days, d)]
        lo = d - dt.timedelta(days=int(p.lookback))
        return [g for g in self.cal.game_dates(lo, d) if g < d]

    def _upstream_ledger(self, name: str, lo: dt.date, hi: dt.date) -> dict[dt.date, dict]:
        """Latest ledger rows of an upstream processor, overridden by this run's outcomes. The
        ledger is read once per run and processor over the widest range asked (planning asks
        again and again, ~120 times a daily morning); what this run changes of it is in its
        outcomes."""
        got = self._ledger.get(name)
        if got is None or lo < got[0] or hi > got[1]:
            self._read_ledgers(name, lo, hi)
        rows = {d: v for d, v in self._ledger[name][2].items() if lo <= d <= hi}
        for (n, d), s in self.outcome.items():
            if n == name and lo <= d <= hi:
                rows[d] = {"status": s, "run_id": self._run_ids.get((n, d), rows.get(d, {}).get("run_id"))}
        return rows

    def _read_ledgers(self, name: str, lo: dt.date, hi: dt.date) -> None:
        """One ledger read for `name` and every other upstream processor of the run that has
        not been read over [lo, hi] yet (a morning's run plans ~7 of them: one read, not 7)."""
        names = {name} | {n for n in self._upstreams
                          if n not in self._ledger or lo < self._ledger[n][0] or hi > self._ledger[n][1]}
        first = min([lo] + [self._ledger[n][0] for n in names if n in self._ledger])
        last = max([hi] + [self._ledger[n][1] for n in names if n in self._ledger])
        by_name: dict[str, dict[dt.date, dict]] = {n: {} for n in names}
        for r in ledger.latest(self.st, start=first, end=last, processors=sorted(names)):
            by_name[r["processor"]][dt.date.fromisoformat(r["game_date"])] = {"status": r["status"], "run_id": r["run_id"]}
        for n, rows in by_name.items():
            self._ledger[n] = (first, last, rows)

    def _present_dates(self, i: Input, lo: dt.date, hi: dt.date) -> set[dt.date]:
        if i.kind == "processor":
            done = {d for d, r in self._upstream_ledger(i.name, lo, hi).items()
                    if r["status"] in ledger.WRITTEN}
            up = registry.get(i.name)
            return self.wh.confirm_slices(up.table, up.slice_column, done)
        tables = CHAINS[i.name[6:]].tables() if i.kind == "chain" else [i.name]
        out: set[dt.date] = set()
        for t in tables:
            out |= self._raw_signatures(t, lo, hi).keys()
        return out

    def _warmup_inputs(self, p: Processor, lo: dt.date, hi: dt.date) -> dict[dt.date, str]:
        """Dates on which a required upstream processor of the date itself is in warm-up: the
        unit has nothing to work on by design, so it is warm-up too (not a gap)."""
        out: dict[dt.date, str] = {}
        for i in p.inputs:
            if i.required and i.kind == "processor" and i.when in ("date", "both"):
                for d, r in self._upstream_ledger(i.name, lo, hi).items():
                    if r["status"] == WARMUP:
                        out.setdefault(d, i.name)
        return out

    def _missing_inputs(self, p: Processor, d: dt.date, present: dict[str, set]) -> tuple[dict, dict]:
        """The required inputs lacking rows on the date, and those lacking dates of the
        lookback: input -> ISO dates."""
        on_date: dict[str, list[str]] = {}
        in_lookback: dict[str, list[str]] = {}
        for i in p.inputs:
            if not i.required:
                continue
            have = present[i.name]
            if i.when in ("date", "both") and d not in have:
                on_date[i.name] = [d.isoformat()]
            if i.when in ("lookback", "both"):
                gaps = [g.isoformat() for g in self._window(p, d) if g not in have]
                if gaps:
                    in_lookback[i.name] = gaps
        return on_date, in_lookback

    def _fingerprints(self, p: Processor, dates: list[dt.date]) -> dict[dt.date, str]:
        """Per date: a hash of the processor's SQL and its inputs' signatures (raw tables: row
        count and last ingest time per date; processors: the run id of their unit) over the
        date and its lookback. A changed input or a recomputed upstream makes the unit stale.
        A lookback-only input counts strictly before the date (that is all the SQL reads), so
        the box scores of the night itself arriving after tip-off change nothing of it."""
        lo = self._lookback_start(p, dates[0])
        sig: dict[dt.date, list[str]] = {}
        same_day: dict[dt.date, list[str]] = {}
        for i in p.inputs:
            for d, s in self._signatures(i, lo, dates[-1]).items():
                sig.setdefault(d, []).append(f"{i.name}={s}")
                if i.when != "lookback":
                    same_day.setdefault(d, []).append(f"{i.name}={s}")
        code = hashlib.md5((self.wh.fingerprint_tag + p.code).encode()).hexdigest()
        day_sig = {d: "|".join(sorted(v)) for d, v in sig.items()}
        out = {}
        if p.lookback == "season":
            # A running hash over the season's input signatures, O(dates): it depends only on
            # the data dated before d (and d's own date inputs), never on which dates this run
            # was asked for.
            running: dict[str, str] = {}
            data_dates = sorted(day_sig)
            i = 0
            for d in sorted(dates):
                while i < len(data_dates) and data_dates[i] < d:
                    x = data_dates[i]
                    season = self.cal.season_of(x)
                    running[season] = hashlib.md5((running.get(season, code) + str(x) + day_sig[x]).encode()).hexdigest()
                    i += 1
                today = "|".join(sorted(same_day.get(d, [])))
                out[d] = hashlib.md5((running.get(self.cal.season_of(d), code) + str(d) + today).encode()).hexdigest()
        else:
            n = int(p.lookback)
            keyed = sorted(day_sig)     # each date's window found by bisection: O(dates x window)
            for d in dates:
                window = keyed[bisect_left(keyed, d - dt.timedelta(days=n)):bisect_left(keyed, d)]
                parts = [f"{x}:{day_sig[x]}" for x in window]
                parts.append(f"{d}:" + "|".join(sorted(same_day.get(d, []))))
                out[d] = hashlib.md5((code + ";".join(parts)).encode()).hexdigest()
        return {d: out[d] for d in dates}

    def _signatures(self, i: Input, lo: dt.date, hi: dt.date) -> dict[dt.date, str]:
        if i.kind == "processor":
            return {d: str(r["run_id"]) for d, r in self._upstream_ledger(i.name, lo, hi).items()
                    if r["status"] in ledger.WRITTEN}
        tables = CHAINS[i.name[6:]].tables() if i.kind == "chain" else [i.name]
        out: dict[dt.date, str] = {}
        for t in tables:
            for d, s in self._raw_signatures(t, lo, hi).items():
                out[d] = out.get(d, "") + s
        return out

    def _raw_signatures(self, t: str, lo: dt.date, hi: dt.date) -> dict[dt.date, str]:
        """Per date of raw table `t` in [lo, hi] that has rows: `table:rows:last ingest;`. Read
        once per run over the widest range asked: planning asks for the same tables again and
        again (each processor, for its dates and its lookback; a daily run is mostly this), and
        no raw table changes during a run (the runner writes processor tables only)."""
        def read(first: dt.date, last: dt.date) -> dict[dt.date, str]:
            if not self.wh.table_exists(t):
                return {}
            cols = set(self.wh.columns(t))
            stamp = "max(ingested_at)" if "ingested_at" in cols else ("max(run_id)" if "run_id" in cols else "''")
            return {d: f"{t}:{n}:{s};" for d, n, s in self.wh.tuples(
                f"SELECT game_date, count(*), CAST({stamp} AS VARCHAR) FROM {t} "
                f"WHERE game_date BETWEEN ? AND ? GROUP BY 1", [first, last])}
        return _read_widest(self._raw, t, lo, hi, read)

    # --- execution ----------------------------------------------------------------------
    def _execute_level(self, level: list[str], todo: dict[str, list[PlannedUnit]], workers: int) -> list[UnitResult]:
        jobs = [(registry.get(n), todo[n]) for n in level if todo[n]]
        if workers <= 1 or len(jobs) <= 1:
            return [r for p, units in jobs for r in self.execute(self.wh, p, units)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self._execute_on_cursor, p, units) for p, units in jobs]
            return [r for f in futures for r in f.result()]

    def _execute_on_cursor(self, p: Processor, units: list[PlannedUnit]) -> list[UnitResult]:
        cur = self.wh.cursor()
        try:
            return self.execute(cur, p, units)
        finally:
            cur.close()

    def execute(self, wh: Engine, p: Processor, units: list[PlannedUnit]) -> list[UnitResult]:
        """One SQL statement for all of the processor's dates, checks per date, then one write
        that replaces the slices of the dates that passed (one transaction in DuckDB). Only an
        error of the statement itself costs more statements: it is bisected over the dates."""
        t0 = time.perf_counter()
        self.on_event("processor_start", {"processor": p.name, "units": len(units)})
        started = ledger.now_iso()
        never = self._never_computed(wh, p)      # once per processor, not per bisected half
        results = ([self._not_yet(p, u, never, started) for u in units] if never
                   else self._attempt(wh, p, units, started))
        secs = time.perf_counter() - t0
        for r in results:
            r.duration_s = round(secs / len(units), 4)
        failed = [r for r in results if r.status == FAILED]
        if len(failed) < len(results):
            self.on_event("processor_done", {"processor": p.name, "units": len(results) - len(failed), "seconds": secs})
        if failed:
            self.on_event("processor_failed", {"processor": p.name, "units": len(failed), "error": failed[0].error,
                                               "dates": [r.game_date.isoformat() for r in failed]})
        return results

    def _attempt(self, wh: Engine, p: Processor, units: list[PlannedUnit], started: str) -> list[UnitResult]:
        """Compute, check and write `units`; if that raises, rerun each half of the dates
        (recursively), so an error is pinned to the dates that raise it and the rest are written."""
        try:
            return self._compute_and_write(wh, p, units, started)
        except Exception as e:
            # An interrupted statement is not a failure of its units: stop, leave them as they were.
            cancel.check()
            if len(units) == 1 or not _data_error(e):
                return [self._failure(p, u, e, started) for u in units]
            mid = len(units) // 2
            self.on_event("processor_bisect", {"processor": p.name, "units": len(units),
                                               "error": f"{e.__class__.__name__}: {_first_line(e)}"})
            out = []
            for half in (units[:mid], units[mid:]):
                cancel.check()
                out += self._attempt(wh, p, half, started)
            return out

    def _compute_and_write(self, wh: Engine, p: Processor, units: list[PlannedUnit], started: str) -> list[UnitResult]:
        cancel.check()                             # a stop request starts no new statement
        dates = [u.game_date for u in units]
        out = f"_out_{p.name}"
        self._prepare(wh, p, dates)
        missing: dict = {}
        if p.compute:
            # A compute processor names the dates it could not compute and the input
            # they lack (e.g. Phase 5 without a trainable model: {date: {"model": [...]}}).
            missing = p.compute(wh, dates, out, self.run_id) or {}
        else:
            wh.materialize(out, f"SELECT * FROM ({p.sql}) q "
                                f"WHERE {p.slice_column} IN (SELECT game_date FROM run_dates)")
        dupes = self._duplicates(wh, p, out)
        counts = dict(wh.tuples(f"SELECT {p.slice_column}, count(*) FROM {out} GROUP BY 1"))
        expected = self._expected(wh, p, out)
        sources = self._sources(wh, p, out)
        results = [self._outcome(p, u, counts.get(u.game_date, 0), expected.get(u.game_date, (None, None, None)),
                                 sources.get(u.game_date), dupes.get(u.game_date), missing.get(u.game_date), started)
                   for u in units]
        # Only a successful computation replaces a slice: the dates that failed or lack an
        # input are left out of the write and keep the rows they had.
        good = [r.game_date for r in results if r.status in ledger.WRITTEN]
        if good and len(good) < len(dates):
            wh.set_run(good, self._lookback_start(p, dates[0]), self.run_id)
            wh.materialize(f"{out}_ok", f"SELECT * FROM {out} WHERE {p.slice_column} IN (SELECT game_date FROM run_dates)")
            out = f"{out}_ok"
        if good:
            wh.write_slices(p, out, good)
        return results

    def _duplicates(self, wh: Engine, p: Processor, out: str) -> dict[dt.date, list[tuple]]:
        """The keys written more than once, per slice date (one GROUP BY over the output; no
        row comes back when there is none)."""
        key = list(p.key) if p.slice_column in p.key else [p.slice_column, *p.key]
        by_date: dict[dt.date, list[tuple]] = {}
        for row in wh.tuples(f"SELECT {', '.join(key)} FROM {out} GROUP BY {', '.join(key)} "
                             f"HAVING count(*) > 1 ORDER BY {', '.join(key)}"):
            by_date.setdefault(row[key.index(p.slice_column)], []).append(row)
        return by_date

    def _outcome(self, p: Processor, u: PlannedUnit, rows: int, exp: tuple, source: str | None,
                 dupes: list[tuple] | None, missing: dict | NotComputed | None, started: str) -> UnitResult:
        """A computed unit's result from its date's checks."""
        d = u.game_date
        base = dict(input_fingerprint=u.fingerprint, started_at=started, run_id=self.run_id)
        if dupes:
            key = list(p.key) if p.slice_column in p.key else [p.slice_column, *p.key]
            shown = ", ".join("(" + ", ".join(str(v) for v in k) + ")" for k in dupes[:MAX_KEYS_SHOWN])
            more = f" and {len(dupes) - MAX_KEYS_SHOWN} more" if len(dupes) > MAX_KEYS_SHOWN else ""
            err = (f"DuplicateKeys: {p.name} on {d}: {len(dupes)} duplicate key(s) ({', '.join(key)}) "
                   f"in the output: {shown}{more}")
            return UnitResult(p.name, p.phase, d, FAILED, error=err, detail=err, **base)
        if rows == 0 and isinstance(missing, NotComputed):
            return UnitResult(p.name, p.phase, d, missing.status, missing_inputs=missing.missing_inputs,
                              detail=missing.detail, **base)
        if rows == 0 and missing:
            return UnitResult(p.name, p.phase, d, UPSTREAM, missing_inputs=missing,
                              detail="missing " + _missing_text(missing), **base)
        if rows == 0:
            err = "produced no rows although its required inputs have rows"
            return UnitResult(p.name, p.phase, d, FAILED, error=err, detail=err, **base)
        expected, covered, entity = exp
        status, details = "success", []
        if expected is not None and covered is not None and covered < expected:
            status = "partial"
            details.append(f"{covered} of {expected} expected {entity} present; the rest lack a required input")
        if u.degraded:
            status = DEGRADED
            details.append("computed without lookback dates: " + _missing_text(u.missing_inputs))
        return UnitResult(p.name, p.phase, d, status, rows=rows, expected=expected, source_used=source,
                          missing_inputs=u.missing_inputs if u.degraded else None,
                          detail="; ".join(details) or None, **base)

    def _never_computed(self, wh: Engine, p: Processor) -> list[str]:
        """Upstream processors whose table this home does not have yet. Only a lookback input
        can be in that state when planning let the unit run (no earlier date to miss): the
        first pre-game run of a new home, before any box score was summarised."""
        ups = [registry.get(i.name) for i in p.inputs if i.kind == "processor" and i.required]
        return [u.name for u in ups if not wh.table_exists(u.table)]

    def _not_yet(self, p: Processor, u: PlannedUnit, never: list[str], started: str) -> UnitResult:
        detail = (f"nothing to compute from yet: {', '.join(never)} never computed in this home "
                  f"(no earlier date of it; the table does not exist)")
        return UnitResult(p.name, p.phase, u.game_date, UPSTREAM, missing_inputs={n: [] for n in never},
                          detail=detail, input_fingerprint=u.fingerprint, started_at=started, run_id=self.run_id)

    def _failure(self, p: Processor, u: PlannedUnit, e: Exception, started: str) -> UnitResult:
        err = f"{e.__class__.__name__}: {e}"
        tb = "".join(traceback.format_exception_only(type(e), e)).strip()
        return UnitResult(p.name, p.phase, u.game_date, FAILED, error=err, detail=tb[:2000],
                          input_fingerprint=u.fingerprint, started_at=started, run_id=self.run_id)

    def _prepare(self, wh: Engine, p: Processor, dates: list[dt.date]) -> None:
        wh.check_supported(p)
        wh.set_run(dates, self._lookback_start(p, dates[0]), self.run_id)
        for i in p.inputs:
            if i.kind == "chain":
                self._chain_view(wh, i.name[6:])

    def _chain_view(self, wh: Engine, name: str) -> None:
        chain = CHAINS[name]
        # A chain may be built on another (team totals reconstructed from player rows).
        if name == "team_boxscores":
            self._chain_view(wh, "player_boxscores")
        available = {t: set(wh.columns(t)) for t in chain.tables() if wh.table_exists(t)}
        wh.create_view(chain.view, chain_view_sql(chain, available))

    def _expected(self, wh: Engine, p: Processor, out: str) -> dict[dt.date, tuple]:
        if not p.expected_sql:
            return {}
        sql = p.expected_sql.replace("{out}", out)
        return {r[0]: (r[1], r[2], r[3]) for r in wh.tuples(sql)}

    def _sources(self, wh: Engine, p: Processor, out: str) -> dict[dt.date, str]:
        if not p.source_column:
            return {}
        return dict(wh.tuples(f"SELECT {p.slice_column}, string_agg(DISTINCT CAST({p.source_column} AS VARCHAR), ',' "
                              f"ORDER BY CAST({p.source_column} AS VARCHAR)) FROM {out} GROUP BY 1"))

    # --- bookkeeping --------------------------------------------------------------------
    def _skip_result(self, u: PlannedUnit) -> UnitResult:
        return UnitResult(u.processor, u.phase, u.game_date, u.action, detail=u.reason,
                          missing_inputs=u.missing_inputs, input_fingerprint=u.fingerprint,
                          run_id=self.run_id, started_at=ledger.now_iso(), duration_s=0.0)

    def _record(self, report: Report, results: list[UnitResult]) -> None:
        self._note_kept_rows(results)
        # A skip already recorded with the same outcome is not written again (reruns stay quiet).
        fresh = [r for r in results if not (r.status in (NO_GAMES, BOOTSTRAP)
                                            and self.prior.get((r.processor, r.game_date)) == r.status)]
        ledger.record(self.st, self.run_id, fresh)
        for r in results:
            self.outcome[(r.processor, r.game_date)] = r.status
            if r.status in ledger.WRITTEN:
                self._run_ids[(r.processor, r.game_date)] = self.run_id
            report.results.append(r)
            if self.unit_done and r in fresh:
                self.unit_done(r)

    def _note_kept_rows(self, results: list[UnitResult]) -> None:
        """A unit that failed or could not run wrote nothing: rows of an earlier run stay in
        its slice. Say so: upstream_missing with rows becomes `stale`; failed stays failed (a
        failure, exit 1) and its detail names the rows kept."""
        todo: dict[str, list[UnitResult]] = {}
        for r in results:
            if r.status in (UPSTREAM, FAILED):
                todo.setdefault(r.processor, []).append(r)
        for name, rs in todo.items():
            kept = self._kept_rows(registry.get(name), [r.game_date for r in rs])
            for r in rs:
                if r.game_date not in kept:
                    continue
                n, run = kept[r.game_date]
                note = f"kept {n} rows of run {run}"
                if r.status == UPSTREAM:
                    r.status = STALE
                    r.detail = f"{note}; {self._upstream_text(r)}"
                else:
                    r.detail = f"{note}; this unit failed: {r.error}" + (
                        f"\n{r.detail}" if r.detail and r.detail != r.error else "")

    def _kept_rows(self, p: Processor, dates: list[dt.date]) -> dict[dt.date, tuple[int, str]]:
        """Per date with rows in p's table: how many, and the run that wrote them."""
        if not self.wh.table_exists(p.table):
            return {}
        run = "max(run_id)" if "run_id" in self.wh.columns(p.table) else "NULL"
        marks = ",".join("?" * len(dates))
        rows = self.wh.tuples(f"SELECT {p.slice_column}, count(*), CAST({run} AS VARCHAR) FROM {p.table} "
                              f"WHERE {p.slice_column} IN ({marks}) GROUP BY 1", dates)
        return {d: (n, r or self.prior_run.get((p.name, d), "unknown")) for d, n, r in rows}

    def _upstream_text(self, r: UnitResult) -> str:
        """Why a unit could not run: the inputs it lacks, an upstream processor by its outcome."""
        parts = []
        for name, ds in (r.missing_inputs or {}).items():
            on = "on this date" if ds == [r.game_date.isoformat()] else f"on {_dates_text(ds)}"
            if name in registry.all_processors():
                status = self.outcome.get((name, dt.date.fromisoformat(ds[0])))
                parts.append(f"upstream {name} {_STATUS_WORDS.get(status, 'has no fresh rows')} {on}")
            else:
                parts.append(f"missing {_input_text(name)} on {_dates_text(ds)}")
        return "; ".join(parts) or (r.detail or "")


def _read_widest(cache: dict, key: str, lo: dt.date, hi: dt.date,
                 read: Callable[[dt.date, dt.date], dict]) -> dict:
    """What `read(first, last)` gives by date, read once per run over the widest range asked
    (cache[key] = (first, last, by date)); the dates of [lo, hi], as a new dict."""
    got = cache.get(key)
    if got is None or lo < got[0] or hi > got[1]:
        first, last = (lo, hi) if got is None else (min(lo, got[0]), max(hi, got[1]))
        got = cache[key] = (first, last, read(first, last))
    return {d: v for d, v in got[2].items() if lo <= d <= hi}


_STATUS_WORDS = {FAILED: "failed", STALE: "is stale", UPSTREAM: "lacks its inputs", NO_GAMES: "has no games",
                 BOOTSTRAP: "skipped the bootstrap window"}


def _merge(a: dict, b: dict) -> dict:
    return {k: sorted(set(a.get(k, [])) | set(b.get(k, []))) for k in {**a, **b}}


def _missing_text(missing: dict) -> str:
    return "; ".join(f"{_input_text(k)} on {_dates_text(v)}" for k, v in missing.items())


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0]


def _data_error(e: Exception) -> bool:
    """An error the rows can cause (a cast, a constraint), which bisecting the dates can pin
    down; not one of the statement's text or of the engine (parse, bind, missing table)."""
    if isinstance(e, EngineError):
        return False
    return not any(w in type(e).__name__ for w in ("Parser", "Binder", "Catalog", "Analysis", "Syntax"))


def _input_text(name: str) -> str:
    """A chain is named by its sources in order of preference."""
    if name.startswith("chain:"):
        return f"{name[6:]} (no rows in any of {', '.join(CHAINS[name[6:]].tables())})"
    return name

