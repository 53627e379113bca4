"""`nbapipe checks`: the backfill guide's pre-flight verification, adapted to this system.

Fifteen checks, each PASS, WARN, FAIL or SKIP (SKIP: its prerequisite failed, or --quick).
A part of the system that does not exist yet (detected by import or registry, never assumed)
is a WARN saying "not built yet", so the check becomes a real one when the part lands.
Exit code: 0 all pass, 1 a failure, 2 only warnings (the guide's script convention).

Scope: every season whose schedule is complete in the warehouse (or --season / a range).
Partial seasons are left out and preseason games are not game dates, so neither counts as a gap."""
from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from nbapipe import processors as registry
from nbapipe.calendar import date_runs
from nbapipe.config import REPO_ROOT, SCHEMA_VERSION, SCHEMAS
from nbapipe.validation.verify import GUIDE_PHASES
from nbapipe.workspace import Workspace

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
DRY_RUN_BUDGET_S = 30.0
# import name -> distribution name
DEPENDENCIES = {"duckdb": "duckdb", "pyarrow": "pyarrow", "typer": "typer", "rich": "rich", "PIL": "pillow"}
GUIDE_SCRIPTS = ("bin/backfill/preflight_check.py", "bin/backfill/verify_backfill_range.py",
                 "bin/backfill/preflight_verification.sh",
                 "bin/infrastructure/monitoring/backfill_progress_monitor.py")


@dataclass
class Result:
    name: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Context:
    """What the checks share: the workspace, the scope, and what earlier checks established."""

    def __init__(self, ws: Workspace, season: str | None, start: dt.date | None, end: dt.date | None,
                 quick: bool, repo: Path, engine: str | None = None):
        self.ws, self.season, self.start, self.end, self.quick, self.repo = ws, season, start, end, quick, repo
        self.engine = engine          # where the Phase 3/4 tables live (None: the home's setting)
        self.state_ok = self.warehouse_ok = False
        self.cal = None
        self.seasons: list[str] = []

    def scope(self) -> tuple[dt.date, dt.date]:
        return self.start, self.end


def run_checks(ws: Workspace, season: str | None = None, start: dt.date | None = None,
               end: dt.date | None = None, quick: bool = False, repo: Path = REPO_ROOT,
               on_result: Callable[[Result], None] | None = None, engine: str | None = None) -> dict:
    ctx = Context(ws, season, start, end, quick, repo, engine)
    results = []
    for check in CHECKS:
        t0 = time.perf_counter()
        try:
            r = check(ctx)
        except Exception as e:            # a check that crashes is a failure, named
            r = Result(check.__doc__.split(":")[0], FAIL, f"{e.__class__.__name__}: {e}")
        r.seconds = round(time.perf_counter() - t0, 2)
        results.append(r)
        if on_result:
            on_result(r)
    statuses = {r.status for r in results}
    code = 1 if FAIL in statuses else 2 if WARN in statuses else 0
    return {"exit_code": code, "scope": {"seasons": ctx.seasons, "start_date": _iso(ctx.start), "end_date": _iso(ctx.end)},
            "quick": quick, "checks": [asdict(r) for r in results],
            "counts": {s: sum(r.status == s for r in results) for s in (PASS, WARN, FAIL, SKIP)}}


def _iso(d):
    return d.isoformat() if d else None


# --- the checks, in the guide's order ----------------------------------------------------

def check_environment(ctx: Context) -> Result:
    """environment: Python and the dependencies import"""
    details = [f"python {sys.version.split()[0]} ({sys.executable})"]
    missing = []
    for mod, dist in DEPENDENCIES.items():
        try:
            importlib.import_module(mod)
            details.append(f"{dist} {importlib.metadata.version(dist)}")
        except ImportError as e:
            missing.append(f"{mod}: {e}")
    if sys.version_info < (3, 11):
        missing.append("python >= 3.11 is required")
    if missing:
        return Result("environment", FAIL, "missing: " + "; ".join(missing) + " (run `make test` or `make demo`)", details)
    return Result("environment", PASS, f"python {sys.version_info.major}.{sys.version_info.minor}, "
                                       f"{len(DEPENDENCIES)} dependencies importable", details)


def check_state_store(ctx: Context) -> Result:
    """state store: present, at the current schema version"""
    from nbapipe.state.store import STATE_SCHEMA_VERSION, display, exists
    where = display(ctx.ws.settings.state_location)
    if not exists(ctx.ws.settings.state_location):        # opening it would create it: look first
        return Result("state store", FAIL, f"no state store at {where}: run `nbapipe ingest` first")
    version = ctx.ws.state.schema_version()
    if version != STATE_SCHEMA_VERSION:
        return Result("state store", FAIL, f"{where} at schema version {version}, the code expects {STATE_SCHEMA_VERSION}")
    ctx.state_ok = True
    return Result("state store", PASS, f"{where} ({ctx.ws.state.kind}) at schema version {version}")


def check_warehouse(ctx: Context) -> Result:
    """warehouse: present, readable, at the current schema version"""
    from nbapipe.warehouse import WarehouseBusy, schema_version
    path = ctx.ws.settings.warehouse_path
    if not path.exists():
        return Result("warehouse", FAIL, f"no warehouse at {path}: run `nbapipe ingest` first")
    try:
        with ctx.ws.reader() as wh:
            version = schema_version(wh)
    except WarehouseBusy:
        return Result("warehouse", WARN, f"{path.name} is in use by a writer ({_holder(ctx)}): the checks that read it are skipped; rerun when it is done")
    if version != SCHEMA_VERSION:
        return Result("warehouse", FAIL, f"{path.name} at schema version {version}, the code expects {SCHEMA_VERSION}")
    ctx.warehouse_ok = True
    return Result("warehouse", PASS, f"{path} at schema version {version}, not in use by a writer")


def check_datasets(ctx: Context) -> Result:
    """datasets: every schema and declared table exists"""
    if not ctx.warehouse_ok:
        return _skip("datasets", "needs the warehouse")
    from nbapipe.engines import engine_session
    from nbapipe.warehouse import table_keys
    tables = [p.table for p in registry.all_processors().values() if p.phase in GUIDE_PHASES]
    with ctx.ws.reader() as wh:
        have = {f"{s}.{t}" for s, t in wh.tuples("SELECT table_schema, table_name FROM information_schema.tables")}
        schemas = {r[0] for r in wh.tuples("SELECT schema_name FROM information_schema.schemata")}
        # The output tables live with the engine that writes them (Spark: Parquet folders).
        with engine_session(ctx.ws, wh, ctx.engine, mirror=False) as eng:
            outputs = [t for t in tables if not eng.table_exists(t)]
    missing = [s for s in SCHEMAS if s not in schemas] + [t for t in table_keys() if t not in have]
    if missing:
        return Result("datasets", FAIL, f"missing: {', '.join(missing)}")
    if outputs:
        return Result("datasets", WARN, f"{len(SCHEMAS)} schemas, {len(table_keys())} raw/reference tables; "
                                        f"output tables not created yet (no backfill has written them): {', '.join(outputs)}")
    return Result("datasets", PASS, f"{len(SCHEMAS)} schemas ({', '.join(SCHEMAS)}), {len(table_keys())} "
                                    f"raw/reference tables, {len(tables)} Phase {'/'.join(map(str, GUIDE_PHASES))} tables")


def check_calendar(ctx: Context) -> Result:
    """calendar: seasons in the state store, the scope to check"""
    if not ctx.state_ok:
        return _skip("calendar", "needs the state store")
    from nbapipe.calendar import Calendar
    from nbapipe.validation.coverage import all_seasons_range
    cal = Calendar.from_state(ctx.ws.state)
    if not cal.seasons:
        return Result("calendar", FAIL, "the calendar is empty: run `nbapipe ingest` (it builds the calendar from the schedule)")
    partial = [s for s, r in cal.seasons.items() if not r["complete"]]
    if ctx.season:
        try:
            ctx.start, ctx.end = cal.season_dates(ctx.season)
        except KeyError as e:
            return Result("calendar", FAIL, str(e.args[0]))
    elif not ctx.start:
        span = all_seasons_range(cal, complete_only=True)
        if span is None:
            return Result("calendar", FAIL, f"no season with a complete schedule (partial: {', '.join(partial)})")
        ctx.start, ctx.end = span
    ctx.cal = cal                 # the checks that need a scope run only once it is known
    ctx.seasons = sorted({cal.season_of(d) for d in cal.game_dates(ctx.start, ctx.end)})
    n = len(cal.game_dates(ctx.start, ctx.end))
    note = f"; left out (schedule not complete): {', '.join(partial)}" if partial and not ctx.season else ""
    return Result("calendar", PASS, f"scope {ctx.start}..{ctx.end}: seasons {', '.join(ctx.seasons)}, {n} game dates{note}",
                  [f"{s}: starts {r['season_start']}, bootstrap to {r['bootstrap_end']}, {r['game_date_count']} game dates"
                   for s, r in cal.seasons.items()])


def check_event_topics(ctx: Context) -> Result:
    """event topics: a completion topic per phase that feeds another, a trigger topic per phase"""
    try:
        events = importlib.import_module("nbapipe.orchestration.events")
    except ModuleNotFoundError as e:
        if e.name != "nbapipe.orchestration.events":
            raise
        return Result("event topics", WARN, "not built yet: nbapipe.orchestration.events does not exist "
                                            "(phases are run by hand with --skip-downstream-trigger)")
    completion = getattr(events, "COMPLETION_TOPICS", {})
    trigger = getattr(events, "TRIGGER_TOPICS", {})
    phases = registry.phases()
    # Phase 2 (ingest) feeds the first processor phase; each phase feeds the next one built.
    feeders = [2] + phases[:-1]
    missing = [f"completion topic of phase {p}" for p in feeders if p not in completion] + \
              [f"trigger topic of phase {p}" for p in phases if p not in trigger]
    topics = [completion[p] for p in feeders if p in completion] + [trigger[p] for p in phases if p in trigger]
    if missing:
        return Result("event topics", FAIL, f"nbapipe.orchestration.events lacks: {', '.join(missing)}")
    details = []
    if ctx.state_ok and hasattr(events, "open_bus"):
        bus = events.open_bus(ctx.ws)      # the embedded bus lives in the state store
        details = [f"{t}: {bus.backlog(t)} unacknowledged" for t in topics]
    return Result("event topics", PASS, f"{len(topics)} topics: {', '.join(topics)}", details)


def check_raw_completeness(ctx: Context) -> Result:
    """raw completeness: every game date has its required Phase 2 sources (or a fallback)"""
    if not (ctx.warehouse_ok and ctx.cal):
        return _skip("raw completeness", "needs the warehouse and the calendar")
    from nbapipe.validation.coverage import FALLBACKS, raw_coverage
    with ctx.ws.reader() as wh:
        rows = raw_coverage(wh, ctx.cal, ctx.start, ctx.end)
    fallbacks = {f for fs in FALLBACKS.values() for f in fs}
    gaps, notes = [], []
    for r in rows:
        uncovered = [d for d in r["missing"] if d not in r["fallback_covers"]]
        if "optional" in r["role"]:
            notes.append(f"{r['table']} ({r['role']}): {r['present']}/{r['expected']} dates")
        elif r["table"] in fallbacks and r["table"] not in FALLBACKS:
            continue                      # a fallback is needed only where its primary lacks a date
        elif uncovered:
            gaps.append(f"{r['table']} ({r['role']}): {len(uncovered)} dates with no source ({date_runs(uncovered)})")
        else:
            notes.append(f"{r['table']}: {r['present']}/{r['expected']} dates"
                         + (f", {len(r['fallback_covers'])} from a fallback" if r["fallback_covers"] else ""))
    if gaps:
        return Result("raw completeness", FAIL, f"{len(gaps)} required source(s) with gaps", gaps + notes)
    return Result("raw completeness", PASS, f"required sources cover all {len(ctx.cal.game_dates(ctx.start, ctx.end))} "
                                            f"game dates of {', '.join(ctx.seasons)}", notes)


def check_contracts(ctx: Context) -> Result:
    """ingest contracts: the table rules hold over the scope; rows refused or corrected per rule"""
    if not (ctx.warehouse_ok and ctx.cal):
        return _skip("ingest contracts", "needs the warehouse and the calendar")
    from nbapipe.sources import quarantine
    from nbapipe.sources.contracts import suspect_dates
    with ctx.ws.reader() as wh:
        suspects = suspect_dates(wh, ctx.start, ctx.end)
        per_rule: dict[str, list[int]] = {}
        for r in quarantine.summary(wh):
            n = per_rule.setdefault(r["rule"], [0, 0])
            n[0] += r["quarantined"]
            n[1] += r["corrected"]
    by_season: dict[str, set[str]] = {}
    for s in suspects:
        for d in s["dates"]:
            by_season.setdefault(ctx.cal.season_of(dt.date.fromisoformat(d)), set()).add(d)
    details = [f"{s['detail']} on {date_runs(s['dates'])}" for s in suspects] + \
              [f"season {season}: {len(ds)} suspect dates ({date_runs(sorted(ds))})" for season, ds in sorted(by_season.items())] + \
              [f"rule {rule}: {q} quarantined, {c} corrected" for rule, (q, c) in sorted(per_rule.items())]
    if suspects:
        dates = sorted({d for s in suspects for d in s["dates"]})
        return Result("ingest contracts", FAIL, f"{len(dates)} suspect dates break a table rule "
                                                f"({', '.join(s['detail'].split(':')[0][9:] for s in suspects)}): {date_runs(dates)}",
                      details)
    rows = sum(q for q, _ in per_rule.values())
    return Result("ingest contracts", PASS, f"table rules hold on every date of {', '.join(ctx.seasons)}; "
                                            f"{rows} rows quarantined at ingest (`nbapipe quarantine list`)", details)


def check_fallbacks(ctx: Context) -> Result:
    """fallback sources: every member of every fallback chain is configured"""
    if not ctx.warehouse_ok:
        return _skip("fallback sources", "needs the warehouse")
    from nbapipe.processors.sources import CHAINS
    from nbapipe.validation.coverage import FALLBACKS
    with ctx.ws.reader() as wh:
        # In order of preference; a member that is a SELECT (a reconstruction) needs no table.
        chains = {f"chain {c.name}": [(m.table or f"({m.source})", not m.table or wh.table_exists(m.table))
                                      for m in c.members] for c in CHAINS.values()}
        chains.update({p.split(".")[1]: [(t, wh.table_exists(t)) for t in [p, *fs]] for p, fs in FALLBACKS.items()})
    missing = [t for members in chains.values() for t, ok in members if not ok]
    details = [f"{name}: {' -> '.join(dict.fromkeys(t for t, _ in members))}" for name, members in chains.items()]
    if missing:
        return Result("fallback sources", FAIL, f"tables of fallback chains missing: {', '.join(sorted(set(missing)))}", details)
    return Result("fallback sources", PASS, f"{len(chains)} fallback chains, every member table present", details)


def _phase_state(ctx: Context, phase: int) -> Result:
    name = f"phase {phase} state"
    if phase not in registry.phases():
        return Result(name, WARN, f"not built yet: no Phase {phase} processor in the registry")
    if not (ctx.state_ok and ctx.cal):
        return _skip(name, "needs the state store and the calendar")
    from nbapipe.validation.coverage import processor_coverage
    rows = processor_coverage(ctx.ws.state, ctx.cal, ctx.start, ctx.end, phases=[phase])
    expected, done = sum(r["expected"] for r in rows), sum(r["present"] for r in rows)
    why: dict[str, int] = {}
    for r in rows:
        for status, n in r["missing_statuses"].items():
            why[status] = why.get(status, 0) + n
    boot = sum(len(r["bootstrap_dates"]) for r in rows)
    summary = (f"{done}/{expected} units complete ({len(rows)} processors)"
               + (f", {boot} bootstrap units skipped on purpose" if boot else "")
               + ("; missing: " + ", ".join(f"{k} {v}" for k, v in sorted(why.items())) if why else ""))
    details = [f"{r['table']}: {r['present']}/{r['expected']}" for r in rows]
    if why.get("failed"):
        return Result(name, FAIL, summary, details)
    return Result(name, PASS if done == expected else WARN, summary, details)


def check_phase3_state(ctx: Context) -> Result:
    """phase 3 state: the ledger's coverage of the scope"""
    return _phase_state(ctx, 3)


def check_phase4_state(ctx: Context) -> Result:
    """phase 4 state: the ledger's coverage of the scope"""
    return _phase_state(ctx, 4)


def check_entry_points(ctx: Context) -> Result:
    """entry points: every guide script and backfill job exists"""
    want = list(GUIDE_SCRIPTS)
    for p in registry.all_processors().values():
        if p.phase not in GUIDE_PHASES:      # the guide has jobs for analytics and precompute only
            continue
        kind = p.module.split(".")[-2]       # analytics / precompute
        want.append(f"backfill_jobs/{kind}/{p.name}/{p.name}_{kind}_backfill.py")
    missing = [w for w in want if not (ctx.repo / w).is_file()]
    if missing:
        return Result("entry points", FAIL, f"{len(missing)} of {len(want)} missing", missing)
    return Result("entry points", PASS, f"all {len(want)} present ({len(GUIDE_SCRIPTS)} guide scripts, "
                                        f"{len(want) - len(GUIDE_SCRIPTS)} backfill jobs)")


def _dry_run(ctx: Context, phase: int) -> Result:
    name = f"phase {phase} dry run"
    if phase not in registry.phases():
        return Result(name, WARN, f"not built yet: no Phase {phase} processor in the registry")
    if ctx.quick:
        return _skip(name, "--quick")
    if not (ctx.warehouse_ok and ctx.cal):
        return _skip(name, "needs the warehouse and the calendar")
    from nbapipe.engines import engine_session
    from nbapipe.orchestration.runner import Request, Runner
    from nbapipe.validation.coverage import days_between
    t0 = time.perf_counter()
    # Planned on the engine a backfill would use (as `backfill --dry-run` does): its tables
    # and fingerprints decide what is already done.
    with ctx.ws.reader() as wh, engine_session(ctx.ws, wh, ctx.engine) as eng:
        plan = Runner(eng, ctx.ws.state, ctx.cal).run(Request(dates=days_between(ctx.start, ctx.end),
                                                              phases=[phase], dry_run=True)).plan
    secs = time.perf_counter() - t0
    actions: dict[str, int] = {}
    for u in plan:
        actions[u.action] = actions.get(u.action, 0) + 1
    summary = f"planned {len(plan)} units in {secs:.1f}s (budget {DRY_RUN_BUDGET_S:.0f}s): " + \
              ", ".join(f"{k} {v}" for k, v in sorted(actions.items()))
    return Result(name, PASS if secs < DRY_RUN_BUDGET_S else FAIL, summary)


def check_phase3_dry_run(ctx: Context) -> Result:
    """phase 3 dry run: plans the scope within 30 s"""
    return _dry_run(ctx, 3)


def check_phase4_dry_run(ctx: Context) -> Result:
    """phase 4 dry run: plans the scope within 30 s"""
    return _dry_run(ctx, 4)


def check_monitor(ctx: Context) -> Result:
    """monitor: `nbapipe monitor --json` runs in its own process"""
    if ctx.quick:
        return _skip("monitor", "--quick")
    if not (ctx.state_ok and ctx.cal):
        return _skip("monitor", "needs the state store and the calendar")
    cmd = [sys.executable, "-m", "nbapipe.cli", "--home", str(ctx.ws.home), "monitor", "--json",
           "--start-date", ctx.start.isoformat(), "--end-date", ctx.end.isoformat()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return Result("monitor", FAIL, f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
    snap = json.loads(r.stdout)
    return Result("monitor", PASS, "reads the state store: " + ", ".join(
        f"phase {p['phase']} {p['done']}/{p['expected']}" for p in snap["phases"]))


def _skip(name: str, why: str) -> Result:
    return Result(name, SKIP, f"skipped: {why}")


def _holder(ctx: Context) -> str:
    from nbapipe.state import leases
    held = [leases.describe(h) for h in leases.current(ctx.ws.state) if h["state"] == "held"] if ctx.state_ok else []
    return held[0] if held else "another process"


CHECKS = (check_environment, check_state_store, check_warehouse, check_datasets, check_calendar,
          check_event_topics, check_raw_completeness, check_contracts, check_fallbacks, check_phase3_state,
          check_phase4_state, check_entry_points, check_phase3_dry_run,
          check_phase4_dry_run, check_monitor)
