"""Validation and monitoring commands: preflight, verify, checks, monitor, report.

Each tells the five cases apart: no games that day, bootstrap skip (neither is ever missing),
a gap (which input), failed (why), complete."""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nbapipe.cli import (ENGINE_HELP, JSON_HELP, SHORT, STATUS_STYLE, app, dates_option, emit_json, err, fail,
                         out, parse_date, synthetic_banner)
from nbapipe.calendar import date_runs
from nbapipe.cli.data import _engine

VERBOSE_HELP = "List every missing date with its reason."


def _range(date: Optional[str], start_date: Optional[str], end_date: Optional[str]) -> tuple[dt.date, dt.date]:
    if date and (start_date or end_date):
        fail("give either --date or --start-date/--end-date, not both")
    if date:
        d = parse_date(date, "--date")
        return d, d
    ds = dates_option(start_date, end_date, None)
    return ds[0], ds[-1]


def _scope(ws, season: Optional[str], start_date: Optional[str], end_date: Optional[str]):
    """--season, or a range, or every season in the calendar: (calendar, start, end)."""
    from nbapipe.validation.coverage import all_seasons_range
    from nbapipe.validation.preflight import ValidationError, load_calendar
    if season and (start_date or end_date):
        fail("give either --season or --start-date/--end-date, not both")
    from nbapipe.state.store import display, exists as state_exists
    if not state_exists(ws.settings.state_location):     # opening it would create an empty home
        fail(f"no state store at {display(ws.settings.state_location)}: run `nbapipe ingest` (or `nbapipe quickstart`) first")
    try:
        cal = load_calendar(ws)
    except ValidationError as e:
        fail(str(e))
    if season:
        try:
            return (cal, *cal.season_dates(season))
        except KeyError as e:
            fail(str(e.args[0]))
    if start_date or end_date:
        ds = dates_option(start_date, end_date, None)
        return cal, ds[0], ds[-1]
    return (cal, *all_seasons_range(cal))


def _warehouse_call(fn, *args, **kw):
    """Run a warehouse-reading tool; a busy warehouse, nothing ingested or an engine that
    cannot start (Spark without pyspark) is exit 2."""
    from nbapipe.engines import EngineError
    from nbapipe.validation.preflight import ValidationError
    from nbapipe.warehouse import WarehouseBusy
    try:
        return fn(*args, **kw)
    except WarehouseBusy as e:
        fail(f"the warehouse is busy: {e}\n(`nbapipe monitor` and `nbapipe status` read the state store and work meanwhile)")
    except (ValidationError, FileNotFoundError, EngineError) as e:
        fail(str(e))


def _why_summary(row: dict) -> str:
    """Missing dates grouped by reason, one line per reason."""
    if not row["missing"]:
        return "-"
    reasons: dict[str, list[str]] = {}
    for d in row["missing"]:
        reasons.setdefault(row["missing_reasons"][d], []).append(d)
    return "; ".join(f"{len(ds)} ({date_runs(ds)}): {why}" for why, ds in reasons.items())


def window_line(r: dict) -> str:
    return (f"window {r['start_date']}..{r['end_date']}: {r['days']} days, {len(r['game_dates'])} game dates, "
            f"{len(r['no_game_dates'])} without games ({date_runs(r['no_game_dates']) or '-'}), "
            f"{len(r['bootstrap_dates'])} bootstrap dates ({date_runs(r['bootstrap_dates']) or '-'})")


# --- preflight ---------------------------------------------------------------------------

@app.command()
def preflight(ctx: typer.Context,
              date: Optional[str] = typer.Option(None, "--date", help="One date (YYYY-MM-DD)."),
              start_date: Optional[str] = typer.Option(None, "--start-date", help="First date."),
              end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
              phase: Optional[int] = typer.Option(None, "--phase", min=2, max=5, help="Only the tables of this phase (2, 3, 4 or 5)."),
              engine: Optional[str] = typer.Option(None, "--engine", help=ENGINE_HELP),
              verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
              as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Before a backfill: per table, game dates present / expected, rows, the missing dates and
    why (Phase 2: which a fallback source covers), and what a backfill of the range will do per
    phase (process, skip as bootstrap, lack inputs). Always exits 0: it reports."""
    from nbapipe.validation.preflight import preflight as run
    ws = ctx.obj.ws
    start, end = _range(date, start_date, end_date)
    r = _warehouse_call(run, ws, start, end, phase, _engine(engine))
    if as_json:
        emit_json(r)
        return
    synthetic_banner(ws)
    out.print(window_line(r))
    t = Table(title="tables (dates = expected game dates with rows)")
    for c in ("phase", "table", "dates", "%", "rows", "missing (why)"):
        t.add_column(c, justify="right" if c in ("phase", "dates", "%", "rows") else "left")
    for row in r["tables"]:
        why = _why_summary(row)
        if row.get("fallback_covers"):
            why += f" [fallback covers {len(row['fallback_covers'])}: {date_runs(row['fallback_covers'])}]"
        if row.get("bootstrap_dates"):
            why = f"{len(row['bootstrap_dates'])} bootstrap dates not expected; " + why
        pct = "" if row["pct"] is None else f"{row['pct']:.0f}%"
        t.add_row(str(row["phase"]), row["table"], f"{row['present']}/{row['expected']}", pct, f"{row['rows']:,}", why)
    out.print(t)
    _print_plan(r["plan"])
    if verbose:
        for row in r["tables"]:
            for d in row["missing"]:
                out.print(f"  {d} {row['table']}: {row['missing_reasons'][d]}")


def _print_plan(plan: list[dict]) -> None:
    t = Table(title="what `nbapipe backfill` will do over this range (dates per phase)")
    cols = ("run", "already_done", "bootstrap_skip", "upstream_missing", "no_games")
    t.add_column("phase", justify="right")
    t.add_column("processors", justify="right")
    for c in cols:
        t.add_column({"run": "will process", "upstream_missing": "lack inputs"}.get(c, SHORT.get(c, c)), justify="right")
    t.add_column("inputs lacking")
    for p in plan:
        if not p["built"]:
            t.add_row(str(p["phase"]), "0", *[""] * len(cols), "not built yet")
            continue
        t.add_row(str(p["phase"]), str(len(p["processors"])), *[str(p["counts"][c]) for c in cols],
                  "; ".join(f"{k} on {date_runs(v)}" for k, v in p["missing_inputs"].items()) or "-")
    out.print(t)
    for p in plan:
        if p["built"]:
            out.print(f"phase {p['phase']}: will process {p['counts']['run']}, already done {p['counts']['already_done']}, "
                      f"bootstrap skip {p['counts']['bootstrap_skip']}, lack inputs {p['counts']['upstream_missing']}, "
                      f"no games {p['counts']['no_games']}")


# --- verify ------------------------------------------------------------------------------

@app.command()
def verify(ctx: typer.Context,
           start_date: Optional[str] = typer.Option(None, "--start-date", help="First date (YYYY-MM-DD)."),
           end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
           phase: Optional[int] = typer.Option(None, "--phase", min=3, max=5, help="Only this phase (default: every phase that has processors)."),
           engine: Optional[str] = typer.Option(None, "--engine", help=ENGINE_HELP),
           verbose: bool = typer.Option(False, "--verbose", "-v", help="Every date of every problem."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """After a backfill: exit 0 when the range is complete, 1 naming each problem (missing
    dates per table, Phase 4 rows on bootstrap dates, duplicate keys, ledger failures, critical
    columns NULL or zero, implausible values), 2 when the warehouse is busy."""
    from nbapipe.validation.verify import verify as run
    ws = ctx.obj.ws
    start, end = _range(None, start_date, end_date)
    r = _warehouse_call(run, ws, start, end, [phase] if phase else None, _engine(engine))
    if as_json:
        emit_json(r)
        raise typer.Exit(0 if r["ok"] else 1)
    synthetic_banner(ws)
    out.print(f"verify: phases {', '.join(map(str, r['phases']))} over {r['start_date']}..{r['end_date']}")
    out.print(window_line(r))
    t = Table(title="tables (dates = expected game dates with rows)")
    for c in ("phase", "table", "dates", "rows"):
        t.add_column(c, justify="right" if c != "table" else "left")
    for row in r["tables"]:
        style = "green" if row["present"] == row["expected"] else "bold red"
        t.add_row(str(row["phase"]), row["table"], f"[{style}]{row['present']}/{row['expected']}[/]", f"{row['rows']:,}")
    out.print(t)
    for p in r["problems"]:
        dates = ", ".join(p["dates"]) if verbose else date_runs(p["dates"])
        out.print(f"[bold red]{p['kind']}[/] {p['table']}" + (f" on {dates}" if dates else "") + f": {p['detail']}")
    if r["ok"]:
        out.print(f"[green]verify: {r['start_date']}..{r['end_date']} is complete[/] (no games and bootstrap dates are not expected)")
    else:
        out.print(f"[bold red]verify: {len(r['problems'])} problem(s)[/] in {r['start_date']}..{r['end_date']}")
    raise typer.Exit(0 if r["ok"] else 1)


# --- checks ------------------------------------------------------------------------------

CHECK_STYLE = {"pass": "[green]PASS[/]", "warn": "[yellow]WARN[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]SKIP[/]"}


@app.command()
def checks(ctx: typer.Context,
           season: Optional[str] = typer.Option(None, "--season", help="Check this season only, e.g. 2021-22."),
           start_date: Optional[str] = typer.Option(None, "--start-date", help="First date of the scope."),
           end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date of the scope."),
           quick: bool = typer.Option(False, "--quick", help="Skip the dry runs and the monitor process."),
           engine: Optional[str] = typer.Option(None, "--engine", help=ENGINE_HELP),
           verbose: bool = typer.Option(False, "--verbose", "-v", help="Details of every check."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """The guide's pre-flight verification (14 checks and the ingest contracts). Default scope: every season whose
    schedule is complete. Exit 0 all pass, 1 a failure, 2 only warnings."""
    from nbapipe.validation.checks import run_checks
    ws = ctx.obj.ws
    engine = _engine(engine)
    if season and (start_date or end_date):
        fail("give either --season or --start-date/--end-date, not both")
    start = end = None
    if start_date or end_date:
        ds = dates_option(start_date, end_date, None)
        start, end = ds[0], ds[-1]

    def show(r) -> None:
        if as_json:
            return
        out.print(f"{CHECK_STYLE[r.status]} {r.name:<18} {r.summary}")
        for d in r.details if verbose or r.status == "fail" else []:
            out.print(f"       {d}")

    result = run_checks(ws, season, start, end, quick=quick, on_result=show, engine=engine)
    if as_json:
        emit_json(result)
    else:
        c = result["counts"]
        out.print(f"checks: {c['pass']} passed, {c['warn']} warnings, {c['fail']} failed, {c['skip']} skipped "
                  f"-> exit {result['exit_code']}")
    raise typer.Exit(result["exit_code"])


# --- monitor -----------------------------------------------------------------------------

@app.command()
def monitor(ctx: typer.Context,
            season: Optional[str] = typer.Option(None, "--season", help="One season, e.g. 2021-22 (default: every season)."),
            start_date: Optional[str] = typer.Option(None, "--start-date", help="First date of the scope."),
            end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date of the scope."),
            detailed: bool = typer.Option(False, "--detailed", help="Per table as well as per phase."),
            continuous: bool = typer.Option(False, "--continuous", help="Refresh every --interval seconds until Ctrl-C."),
            interval: float = typer.Option(30.0, "--interval", min=0.1, help="Seconds between refreshes."),
            count: Optional[int] = typer.Option(None, "--count", min=1, help="With --continuous: stop after N refreshes."),
            failures_only: bool = typer.Option(False, "--failures-only", help="Only the recent failures."),
            as_json: bool = typer.Option(False, "--json", help=JSON_HELP + " With --continuous: one JSON object per line.")):
    """Backfill progress per phase (done / expected, bootstrap and no-game dates apart), per
    season, per table with --detailed; processing rate and ETA; recent failures. Reads only the
    state store, so it works while a backfill runs in another process."""
    from nbapipe.validation.monitor import snapshot
    ws = ctx.obj.ws
    cal, start, end = _scope(ws, season, start_date, end_date)
    n = 0
    try:
        while True:
            snap = snapshot(ws.state, cal, start, end)
            if failures_only:
                snap = {k: snap[k] for k in ("generated_at", "start_date", "end_date", "failures")}
            if as_json:
                sys.stdout.write(json.dumps(snap, default=str, indent=None if continuous else 2) + "\n")
                sys.stdout.flush()
            else:
                _print_monitor(snap, season, detailed, failures_only, clear=continuous)
            n += 1
            if not continuous or (count and n >= count):
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass                        # Ctrl-C ends a continuous monitor normally


def _bar(done: int, expected: int, width: int = 30) -> str:
    fill = int(round(width * done / expected)) if expected else 0
    return "█" * fill + "░" * (width - fill)


def _print_monitor(s: dict, season: Optional[str], detailed: bool, failures_only: bool, clear: bool) -> None:
    if clear and out.is_terminal:
        out.clear()
    out.print(f"[bold]backfill progress[/] {season or ''} {s['start_date']}..{s['end_date']}  ({s['generated_at']})")
    if not failures_only:
        out.print(f"{s['days']} days: {s['game_dates']} game dates, {s['no_game_dates']} without games (never expected), "
                  f"{s['bootstrap_dates']} bootstrap dates (skipped by Phase 4 on purpose)")
        out.print(_progress_table("phase", s["phases"], "phase"))
        if detailed:
            out.print(_progress_table("table", s["tables"], "table"))
        if len(s["seasons"]) > 1 or detailed:
            t = Table(title="per season")
            t.add_column("season")
            for p in s["phases"]:
                t.add_column(f"phase {p['phase']}")
            for row in s["seasons"]:
                by = {p["phase"]: p for p in row["phases"]}
                t.add_row(row["season"], *[f"{by[p['phase']]['done']}/{by[p['phase']]['expected']}" if p["phase"] in by else "-"
                                           for p in s["phases"]])
            out.print(t)
        for r in s["runs"]:
            out.print(f"[blue]running[/] {r['command']} {r['run_id']} (phases {r['phases']}, pid {r['pid']}): "
                      f"{r['units']} units in {r['elapsed_s']}s, {r['rate_per_s']}/s")
        if s["eta_s"] is not None:
            per = "; ".join(f"phase {p['phase']} {p['remaining']} left at {p['rate_per_s']}/s"
                            for p in s["phases"] if p["remaining"] and p.get("rate_per_s"))
            out.print(f"rate {s['rate_per_s']} units/s, ETA {s['eta_s']:.0f}s for what remains in this scope"
                      + (f" ({per})" if per else ""))
        elif s["last_run"]:
            l = s["last_run"]
            out.print(f"no backfill running; last: {l['command']} {l['run_id']} {l['status']}, {l['units']} units "
                      f"in {l['seconds']}s ({l['rate_per_s']}/s), finished {l['finished_at']}")
        for h in s["leases"]:
            out.print(f"[yellow]{h['state']}[/] warehouse: {h.get('purpose')} (host {h['host']}, pid {h['pid']})")
    out.print(f"recent failures: {len(s['failures']) or 'none'}")
    for f in s["failures"]:
        out.print(f"  [bold red]failed[/] {f['date']} {f['processor']}: {f['error']}")


def _progress_table(title: str, rows: list[dict], key: str) -> Table:
    t = Table(title=f"per {title} (units = processor x date)")
    t.add_column(title)
    for c in ("done / expected", "", "%", "partial", "gap", "failed", "not run", "bootstrap", "warm-up"):
        t.add_column(c, justify="left" if c == "" else "right")
    for r in rows:
        pct = "" if r["pct"] is None else f"{r['pct']:.1f}"
        t.add_row(str(r[key]), f"{r['done']}/{r['expected']}", _bar(r["done"], r["expected"]), pct,
                  *[f"[{STATUS_STYLE[s]}]{r[k]}[/]" if r[k] else "" for k, s in
                    (("partial", "partial"), ("upstream_missing", "upstream_missing"), ("failed", "failed"))],
                  str(r["not_run"] or ""), f"[cyan]{r['bootstrap']}[/]" if r["bootstrap"] else "",
                  f"[cyan]{r['warmup']}[/]" if r.get("warmup") else "")
    return t


# --- report ------------------------------------------------------------------------------

@app.command()
def report(ctx: typer.Context,
           start_date: Optional[str] = typer.Option(None, "--start-date", help="First date."),
           end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
           season: Optional[str] = typer.Option(None, "--season", help="One season, e.g. 2021-22 (default: every season)."),
           out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for the files [default: <home>/reports]."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """A self-contained HTML page and a PNG coverage heatmap (dates x tables, one colour per
    status), with the per-phase summary and the failures. Reads the state store only."""
    from nbapipe.validation.report import build
    ws = ctx.obj.ws
    cal, start, end = _scope(ws, season, start_date, end_date)
    r = build(ws, cal, start, end, out_dir or ws.settings.reports_dir)
    if as_json:
        emit_json(r)
        return
    out.print(f"report: {r['html']}")
    out.print(f"heatmap: {r['png']}")
    for p in r["summary"]["phases"]:
        out.print(f"phase {p['phase']}: {p['done']}/{p['expected']} units complete, {p['bootstrap']} bootstrap skips, "
                  f"{p['upstream_missing'] + p['partial']} gaps, {p['failed']} failed")
