"""Processing commands: backfill and status."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import typer
from rich.table import Table

from nbapipe.cli import (ENGINE_HELP, JSON_HELP, SHORT, STATUS_STYLE, app, dates_option, emit_json, err, fail,
                         lease_waiting, out, registry_order, synthetic_banner)


# --- backfill & status ----------------------------------------------------------------------

@app.command()
def backfill(ctx: typer.Context,
             phase: str = typer.Option("all", "--phase", help="3, 4, 5 or all (every phase that exists, in order)."),
             processors: Optional[str] = typer.Option(None, "--processors", help="Comma-separated processor names (their missing required upstream of the same phase runs first)."),
             start_date: Optional[str] = typer.Option(None, "--start-date", help="First date (YYYY-MM-DD)."),
             end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
             dates: Optional[str] = typer.Option(None, "--dates", help="Explicit dates D1,D2,... instead of a range."),
             skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no completion events: the next phase is run by hand."),
             dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (date x processor, with why) and write nothing."),
             no_resume: bool = typer.Option(False, "--no-resume", help="Recompute units already done with unchanged inputs."),
             include_bootstrap: bool = typer.Option(False, "--include-bootstrap", help="Phase 4: compute the bootstrap window from whatever history exists."),
             workers: int = typer.Option(1, "--workers", min=1, max=16, help="Independent processors run concurrently up to N."),
             engine: Optional[str] = typer.Option(None, "--engine", help=ENGINE_HELP),
             verbose: bool = typer.Option(False, "--verbose", "-v", help="Every unit with its reason."),
             as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Plan and run (processor, date) units set-based over a date range, with resume."""
    from nbapipe.engines import EngineError
    from nbapipe.orchestration.backfill import BackfillError, parse_phases
    from nbapipe.orchestration.runner import Request
    from nbapipe.config import engine_name
    from nbapipe.workspace import WarehouseElsewhere
    ws = ctx.obj.ws
    ds = dates_option(start_date, end_date, dates)
    try:
        engine = engine_name(engine)
    except ValueError as e:
        fail(str(e))
    try:
        phases = parse_phases(phase)
        names = [p.strip() for p in processors.split(",")] if processors else None
        if names:
            from nbapipe import processors as reg
            for n in names:
                try:
                    reg.get(n)
                except KeyError as e:
                    fail(str(e.args[0]))
            phases = sorted({reg.get(n).phase for n in names})
        req = Request(dates=ds, phases=phases, processors=names, resume=not no_resume, dry_run=dry_run,
                      include_bootstrap=include_bootstrap, skip_downstream_trigger=skip_downstream_trigger,
                      workers=workers, command="backfill", engine=engine)
        synthetic_banner(ws)
        report = _run_with_progress(ws, req, quiet=as_json)
    except (BackfillError, EngineError, WarehouseElsewhere) as e:
        fail(str(e))
    finish(report, dry_run, verbose, as_json, ws)


def finish(report, dry_run: bool, verbose: bool, as_json: bool, ws=None) -> None:
    """A runner report as JSON, a plan or a summary; exit 1 when a unit failed, or when the
    run was asked for work and did none for want of inputs (saying what to run first)."""
    if as_json:
        emit_json(report.as_dict())
    elif dry_run:
        _print_plan(report, verbose)
    else:
        _print_backfill_summary(report, verbose)
    idle = not dry_run and nothing_done(report)
    if idle and not as_json:
        err.print(f"[bold red]nothing was done:[/] {why_nothing_done(report, ws)}")
    raise typer.Exit(1 if report.failed or idle else 0)


def nothing_done(report) -> bool:
    """No unit wrote or kept rows, and some lacked inputs (skips by design alone are fine)."""
    counts = report.counts()
    done = sum(counts.get(k, 0) for k in ("success", "partial", "already_done"))
    return done == 0 and counts.get("upstream_missing", 0) > 0


def why_nothing_done(report, ws) -> str:
    """The inputs the units lacked, and the backfill to run first: every phase up to the one
    that owns the missing input, from the season start (lookbacks and model training need the
    earlier dates) to the last date lacking it."""
    from nbapipe import processors as reg
    gaps = [r for r in report.results if r.status == "upstream_missing"]
    lacking: dict[str, set[str]] = {}
    for r in gaps:
        for name, ds in (r.missing_inputs or {}).items():
            lacking.setdefault(name, set()).update(ds)
    # An input this run plans itself (Phase 5 predictions before grading) is not the cause.
    planned = {u.processor for u in report.plan}
    names = [n for n in lacking if n != "model" and n not in planned] or list(lacking)
    text = f"{len(gaps)} units lack inputs ({', '.join(sorted(names))})"
    phases = sorted({reg.get(n).phase for n in names if n in reg.all_processors()})
    if not phases:
        return text + ": load the raw files for those dates first (`nbapipe ingest`)"
    dates = sorted(d for n in names if n in reg.all_processors() for d in lacking[n])
    start, season = dates[0], None
    if ws is not None:
        from nbapipe.calendar import Calendar
        cal = Calendar.from_state(ws.state)
        season = cal.season_of(dt.date.fromisoformat(dates[0]))
        start = cal.seasons.get(season, {}).get("first_game_date") or dates[0]
    todo = [p for p in reg.phases() if 3 <= p <= phases[-1]]
    label = ", ".join(map(str, todo[:-1])) + f" and {todo[-1]}" if len(todo) > 1 else str(todo[0])
    cmds = " then ".join(f"`nbapipe backfill --phase {p} --start-date {start} --end-date {dates[-1]}`" for p in todo)
    return (f"{text}. Run the Phase {label} backfill" + (f" of {season}" if season else "")
            + f" first: {cmds}")


def _run_with_progress(ws, req, quiet: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from nbapipe.orchestration.backfill import run_backfill
    show = not quiet and err.is_terminal and not req.dry_run
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} units"),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err, disable=not show)
    tasks: dict[int, int] = {}
    auto: set[str] = set()              # required upstream added to the request
    started: dict[str, int] = {}        # units per processor, as it starts

    def on_event(kind: str, info: dict) -> None:
        from nbapipe import processors as reg
        if kind == "auto_upstream":
            auto.update(info["processors"])
        if kind == "level":
            # Named only when it has units to run: upstream already done is not "missing".
            todo = {n: k for n, k in info["units"].items() if n in auto and k}
            if todo and not quiet and not req.dry_run:
                err.print("[yellow]first running missing required upstream:[/] "
                          + ", ".join(f"{n} ({k} units)" for n, k in todo.items()))
            for name, n in info["units"].items():
                ph = reg.get(name).phase
                if ph not in tasks:
                    tasks[ph] = progress.add_task(f"phase {ph}", total=0)
                progress.update(tasks[ph], total=progress.tasks[tasks[ph]].total + n)
        elif kind == "processor_start":
            started[info["processor"]] = info.get("units", 0)
        elif kind in ("processor_done", "processor_failed"):
            name = info["processor"]
            ph = reg.get(name).phase
            n = info.get("units", started.get(name, 0))
            if ph in tasks and kind == "processor_done":
                progress.update(tasks[ph], advance=n)
            if not show and not quiet and not req.dry_run:
                msg = f"{info.get('seconds', 0):.2f}s" if kind == "processor_done" else info.get("error", "")
                err.print(f"phase {ph} {name}: {kind.split('_')[1]} ({n} units) {msg}")

    # SIGINT/SIGTERM stop the run cleanly (exit 130/143, see nbapipe.cancel), not mid-unit.
    from nbapipe import cancel
    with progress, cancel.on_signals():
        return run_backfill(ws, req, on_event=on_event, on_wait=lease_waiting,
                            unit_done=_unit_publisher(ws, req))


def _unit_publisher(ws, req):
    """Completion events per unit that ran (issue: orchestration); None until the bus exists."""
    if req.skip_downstream_trigger or req.dry_run:
        return None
    try:
        from nbapipe.orchestration.events import unit_publisher
    except ImportError:
        return None
    return unit_publisher(ws)


def _print_plan(report, verbose: bool) -> None:
    by_date: dict = {}
    procs: list[str] = []
    for u in report.plan:
        by_date.setdefault(u.game_date, {})[u.processor] = u
        if u.processor not in procs:
            procs.append(u.processor)
    procs = registry_order(procs)
    t = Table(title="plan (nothing written)")
    t.add_column("date")
    for p in procs:
        t.add_column(p)
    for d in sorted(by_date):
        cells = []
        for p in procs:
            u = by_date[d].get(p)
            if not u:
                cells.append("")
                continue
            label = SHORT.get(u.action, u.action)
            if u.action == "upstream_missing":
                label += ": " + ", ".join(u.missing_inputs or {})
            cells.append(f"[{STATUS_STYLE.get(u.action, '')}]{label}[/]")
        t.add_row(d.isoformat(), *cells)
    out.print(t)
    counts: dict[str, int] = {}
    for u in report.plan:
        counts[u.action] = counts.get(u.action, 0) + 1
    out.print("plan: " + ", ".join(f"{SHORT.get(k, k)} {v}" for k, v in sorted(counts.items())))
    first = [n for n in report.auto_upstream if any(u.processor == n and u.action == "run" for u in report.plan)]
    if first:
        out.print(f"missing required upstream runs first: {', '.join(first)}")
    if verbose:
        for u in report.plan:
            out.print(f"{u.game_date} {u.processor}: {u.action} - {u.reason}")


def _print_backfill_summary(report, verbose: bool) -> None:
    counts = report.counts()
    rows: dict[str, dict[str, int]] = {}
    for r in report.results:
        rows.setdefault(r.processor, {}).setdefault(r.status, 0)
        rows[r.processor][r.status] += 1
    for u in report.plan:
        if u.action == "already_done":
            rows.setdefault(u.processor, {}).setdefault("already_done", 0)
            rows[u.processor]["already_done"] += 1
    t = Table(title=f"backfill {report.run_id} ({report.seconds:.1f}s)")
    cols = ["success", "partial", "already_done", "no_games", "bootstrap_skip", "warmup", "upstream_missing", "failed"]
    t.add_column("processor")
    for c in cols:
        t.add_column(SHORT.get(c, c), justify="right")
    t.add_column("rows", justify="right")
    for name in registry_order(rows):
        c = rows[name]
        n_rows = sum(r.rows for r in report.results if r.processor == name)
        t.add_row(name, *[str(c.get(k, "")) for k in cols], f"{n_rows:,}")
    out.print(t)
    gaps = [r for r in report.results if r.status in ("upstream_missing", "partial")]
    if gaps:
        out.print(f"[magenta]gaps ({len(gaps)} units):[/]")
        for r in gaps[: None if verbose else 10]:
            why = r.detail or ", ".join(f"{k} on {len(v)} date(s)" for k, v in (r.missing_inputs or {}).items())
            out.print(f"  {r.game_date} {r.processor}: {r.status} - {why}")
        if len(gaps) > 10 and not verbose:
            out.print(f"  ... {len(gaps) - 10} more (-v lists all; `nbapipe status` shows them)")
    for r in report.failed[: None if verbose else 10]:
        err.print(f"[bold red]failed[/] {r.game_date} {r.processor}: {r.error}")
    out.print("summary: " + ", ".join(f"{SHORT.get(k, k)} {v}" for k, v in counts.items() if v))


@app.command()
def status(ctx: typer.Context,
           start_date: Optional[str] = typer.Option(None, "--start-date", help="First date (YYYY-MM-DD)."),
           end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date, inclusive."),
           dates: Optional[str] = typer.Option(None, "--dates", help="Explicit dates D1,D2,..."),
           phase: Optional[int] = typer.Option(None, "--phase", help="Only this phase."),
           wide: bool = typer.Option(False, "--wide", help="One row per date, one column per processor "
                                     "(the default on a terminal; piped output lists one row per unit)."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """The ledger's latest outcome per (processor, date), and who holds or waits for the warehouse.
    Reads only the state store, so it works while a backfill runs."""
    from nbapipe.state import leases, ledger
    ws = ctx.obj.ws
    ds = dates_option(start_date, end_date, dates)
    ledger.close_dead_runs(ws.state)         # a run killed without closing its row is crashed
    rows = ledger.latest(ws.state, dates=ds, phase=phase)
    items = [{"processor": r["processor"], "phase": r["phase"], "date": r["game_date"], "status": r["status"],
              "rows": r["rows"], "expected": r["expected"], "source_used": r["source_used"],
              "missing_inputs": r["missing_inputs"], "detail": r["detail"], "error": r["error"],
              "run_id": r["run_id"], "finished_at": r["finished_at"]} for r in rows]
    held = leases.current(ws.state)
    if as_json:
        emit_json({"units": items, "lease_holders": [h for h in held if h["state"] == "held"],
                   "lease_waiters": [h for h in held if h["state"] == "waiting"]})
        return
    synthetic_banner(ws)
    for h in held:
        out.print(f"[yellow]{h['state']}[/] warehouse: {h.get('purpose')} (host {h['host']}, pid {h['pid']})")
    if not items:
        out.print("no ledger rows in this range (nothing has run yet)")
        return
    out.print(_status_grid(items) if wide or out.is_terminal else _status_units(items))


def _status_grid(items: list[dict]) -> Table:
    """date x processor: the date column is never cut (the cells fold instead)."""
    procs = registry_order(dict.fromkeys(r["processor"] for r in items))
    grid: dict[str, dict[str, dict]] = {}
    for r in items:
        grid.setdefault(r["date"], {})[r["processor"]] = r
    t = Table(title="status (latest ledger outcome)")
    t.add_column("date", no_wrap=True, min_width=10)
    for p in procs:
        t.add_column(p, overflow="fold")
    for d in sorted(grid):
        t.add_row(d, *[(f"[{STATUS_STYLE.get(c['status'], 'default')}]{SHORT.get(c['status'], c['status'])}"
                        f"{' ' + str(c['rows']) if c['rows'] else ''}[/]") if (c := grid[d].get(p)) else "-"
                       for p in procs])
    return t


def _status_units(items: list[dict]) -> Table:
    """One row per (processor, date) with whole values: what a script or grep reads."""
    t = Table(title="status (latest ledger outcome, one row per unit)")
    for c in ("date", "phase", "processor", "status", "rows", "why"):
        t.add_column(c, justify="right" if c in ("phase", "rows") else "left", no_wrap=True)
    order = {n: i for i, n in enumerate(registry_order(dict.fromkeys(r["processor"] for r in items)))}
    for r in sorted(items, key=lambda r: (r["date"], order[r["processor"]])):
        why = r["error"] or r["detail"] or ""
        t.add_row(r["date"], str(r["phase"]), r["processor"],
                  f"[{STATUS_STYLE.get(r['status'], 'default')}]{r['status']}[/]", f"{r['rows'] or 0:,}",
                  why.splitlines()[0] if why else "")
    return t
