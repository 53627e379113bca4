"""`nbapipe`: the one command-line interface.

Exit codes scripts can rely on: 0 ok, 1 problems found (refused files, failed units, verify
failures), 2 usage or environment errors (`checks` keeps the guide's 2 = warnings only)."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from nbapipe import __version__
from nbapipe.config import resolve_data_dir
from nbapipe.workspace import Workspace

app = typer.Typer(
    name="nbapipe", no_args_is_help=True, add_completion=False, rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    help="Backfill-safe NBA player-points props pipeline: Phase 2 raw sources -> Phase 3 "
         "analytics -> Phase 4 precompute features -> Phase 5 predictions.",
)
def _console(stderr: bool = False) -> Console:
    # Piped output (scripts, logs, CI) gets wide tables instead of rich's 80-column default.
    c = Console(stderr=stderr, soft_wrap=True)
    if not c.is_terminal:
        c = Console(stderr=stderr, soft_wrap=True, width=160)
    return c


out = _console()
err = _console(stderr=True)

HOME_HELP = "Home directory with warehouse.duckdb and state.sqlite [env NBAPIPE_HOME, default ./.nbapipe]"
JSON_HELP = "Print machine-readable JSON instead of tables."


class Ctx:
    def __init__(self, home: Optional[Path]):
        self.home = home
        self._ws: Workspace | None = None

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = Workspace.at(self.home)
        return self._ws


@app.callback()
def _main(ctx: typer.Context,
          home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP, envvar="NBAPIPE_HOME"),
          version: bool = typer.Option(False, "--version", help="Print the version and exit.")):
    if version:
        out.print(f"nbapipe {__version__}")
        raise typer.Exit(0)
    ctx.obj = Ctx(home)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Path):
        return str(v)
    if hasattr(v, "as_dict"):
        return v.as_dict()
    return str(v)


def parse_date(value: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{flag} must be a date like 2021-10-19, got {value!r}")
        raise  # unreachable


def synthetic_banner(ws: Workspace) -> None:
    """Every command says so when the home holds the generated sample league."""
    from nbapipe.synthetic import is_synthetic
    if is_synthetic(ws.state):
        err.print("[bold yellow]SYNTHETIC DATA:[/] this home holds the generated sample league, "
                  "not real NBA data (no data folder was found at quickstart).")


def _lease_waiting(holder: dict) -> None:
    from nbapipe.state.leases import describe
    err.print(f"[yellow]waiting for the warehouse:[/] held by {describe(holder)}")


# --- ingest ------------------------------------------------------------------------------

@app.command()
def ingest(ctx: typer.Context,
           paths: list[Path] = typer.Argument(None, help="Files or folders to load (default: the data folder)."),
           data: Optional[Path] = typer.Option(None, "--data", help="Data folder [env NBAPIPE_DATA, default ../shared/nba-data]"),
           fmt: Optional[str] = typer.Option(None, "--format", help="Load FILE as this format (a loader name) instead of recognising it."),
           force: bool = typer.Option(False, "--force", help="Reload files already ingested with identical content."),
           skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no Phase 2 completion events (bulk historical loads)."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
           verbose: bool = typer.Option(False, "--verbose", "-v", help="List every file, not only problems.")):
    """Load raw source files into nba_raw (recognised by header or JSON shape, not by name)."""
    from nbapipe.sources.ingest import run_ingest
    ws = ctx.obj.ws
    if paths:
        inputs = list(paths)
        for p in inputs:
            if not p.exists():
                fail(f"no such file or folder: {p}")
    else:
        try:
            folder = resolve_data_dir(data)
        except FileNotFoundError as e:
            fail(str(e))
        if folder is None:
            fail("no data folder: pass --data DIR or set NBAPIPE_DATA (or run `nbapipe quickstart`, "
                 "which generates a synthetic sample league)")
        inputs = [folder]
    if fmt and (len(inputs) != 1 or not inputs[0].is_file()):
        fail("--format applies to a single FILE")
    if fmt:
        from nbapipe.sources import loader_by_name
        try:
            loader_by_name(fmt)
        except KeyError as e:
            fail(str(e.args[0]))
    summary = _run_ingest_with_progress(ws, inputs, fmt, force, quiet=as_json, verbose=verbose)
    if not skip_downstream_trigger:
        _publish_phase2(ws, summary)
    if as_json:
        emit_json(summary.as_dict())
    else:
        _print_ingest_summary(summary, verbose)
    raise typer.Exit(1 if summary.refused else 0)


def _publish_phase2(ws: Workspace, summary) -> None:
    """Phase 2 completion events (issue: orchestration); a no-op until the bus exists."""
    try:
        from nbapipe.orchestration.events import publish_phase2_completions
    except ImportError:
        return
    publish_phase2_completions(ws, summary)


def _run_ingest_with_progress(ws: Workspace, inputs, fmt, force, quiet: bool, verbose: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from nbapipe.sources.ingest import run_ingest
    show = not quiet and err.is_terminal
    progress = Progress(TextColumn("ingest"), BarColumn(), TextColumn("{task.completed} files"),
                        TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                        transient=True, disable=not show)

    def on_file(o):
        progress.update(task, advance=1, description=Path(o.path).name)
        if not quiet and not show and (verbose or o.status in ("refused",)):
            err.print(f"{o.status:12} {o.path} {o.message}")

    with progress:
        task = progress.add_task("", total=None)
        return run_ingest(ws, inputs, fmt=fmt, force=force, on_file=on_file, on_wait=_lease_waiting)


def _print_ingest_summary(summary, verbose: bool) -> None:
    t = Table(title="files", show_lines=False)
    for c in ("status", "file", "loader", "read", "new", "updated", "same", "filtered", "quarantined", "s"):
        t.add_column(c, justify="right" if c in ("read", "new", "updated", "same", "filtered", "quarantined", "s") else "left")
    for o in summary.outcomes:
        if not verbose and o.status in ("not_data",):
            continue
        name = _short(o.path)
        if not o.loaders:
            t.add_row(_status_style(o.status), name, o.message, "", "", "", "", "", "", f"{o.seconds:.2f}")
        for l in o.loaders:
            t.add_row(_status_style(o.status), name, l.loader, str(l.rows_read), str(l.inserted),
                      str(l.updated), str(l.unchanged), str(l.filtered), str(l.quarantined), f"{o.seconds:.2f}")
    out.print(t)
    tt = Table(title="tables")
    tt.add_column("table")
    tt.add_column("rows", justify="right")
    for name, n in summary.tables.items():
        tt.add_row(name, f"{n:,}")
    out.print(tt)
    q = summary.as_dict()["quarantined"]
    out.print(f"ingested in {summary.seconds:.1f}s; players {summary.reference.get('players')}, "
              f"unresolved names {summary.reference.get('unresolved_names')}; "
              f"quarantined rows {q} (see nba_raw.quarantine)")
    for o in summary.refused:
        err.print(f"[bold red]refused[/] {o.path}: {o.message}")


def _short(path: str) -> str:
    p = Path(path)
    return str(Path(p.parent.name) / p.name)


def _status_style(status: str) -> str:
    color = {"loaded": "green", "unchanged": "dim", "refused": "bold red", "unrecognised": "yellow",
             "not_data": "dim"}.get(status, "")
    return f"[{color}]{status}[/]" if color else status


# --- sql ---------------------------------------------------------------------------------

@app.command()
def sql(ctx: typer.Context,
        query: str = typer.Argument(..., help="A read-only SQL query against the warehouse."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON list of row objects.")):
    """Run a read-only query against the warehouse."""
    from nbapipe.warehouse import WarehouseBusy
    ws = ctx.obj.ws
    if not ws.has_warehouse():
        fail(f"no warehouse at {ws.settings.warehouse_path}: run `nbapipe ingest` or `nbapipe quickstart` first")
    try:
        with ws.reader() as wh:
            try:
                rows = wh.rows(query)
            except Exception as e:  # DuckDB parser/binder/permission errors
                fail(f"{e.__class__.__name__}: {e}")
    except WarehouseBusy as e:
        fail(str(e))
    if as_json:
        emit_json(rows)
        return
    t = Table()
    for c in (rows[0].keys() if rows else []):
        t.add_column(str(c))
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r.values()])
    out.print(t)
    out.print(f"{len(rows)} row(s)")


# --- calendar ----------------------------------------------------------------------------

@app.command()
def calendar(ctx: typer.Context,
             season: Optional[str] = typer.Option(None, "--season", help="e.g. 2021-22 (default: all seasons)"),
             as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Seasons from the schedule: start, regular-season end, bootstrap window, game dates."""
    from nbapipe.calendar import season_rows
    ws = ctx.obj.ws
    rows = season_rows(ws.state, season)
    if season and not rows:
        known = ", ".join(r["season"] for r in season_rows(ws.state, None)) or "none (run nbapipe ingest)"
        fail(f"season {season!r} is not in the calendar; known seasons: {known}", 1)
    if as_json:
        emit_json(rows[0] if season else rows)
        return
    synthetic_banner(ws)
    t = Table(title="season calendar")
    for c in ("season", "season_start", "bootstrap_end", "regular_season_end", "last_game_date",
              "game_date_count", "play_in_dates", "playoff_dates", "complete"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["season"], r["season_start"], r["bootstrap_end"], r["regular_season_end"],
                  r["last_game_date"], str(r["game_date_count"]), ", ".join(r["play_in_dates"]),
                  f"{len(r['playoff_dates'])} dates ({r['playoff_dates'][0]}..{r['playoff_dates'][-1]})"
                  if r["playoff_dates"] else "", "yes" if r["complete"] else "no")
    out.print(t)




# --- quickstart ---------------------------------------------------------------------------

@app.command()
def quickstart(ctx: typer.Context,
               data: Optional[Path] = typer.Option(None, "--data", help="Data folder [env NBAPIPE_DATA, default ../shared/nba-data]; without one a synthetic sample league is generated."),
               as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """The main job on the embedded default: ingest, run every phase over the guide's test
    window (2021-10-15..2021-10-28), and summarise what is complete, missing and why."""
    from nbapipe.quickstart import run_quickstart
    ws = ctx.obj.ws
    try:
        result = run_quickstart(ws, data, on_step=(lambda s: None) if as_json else (lambda s: err.print(f"[bold]>[/] {s}")),
                                on_wait=_lease_waiting)
    except FileNotFoundError as e:
        fail(str(e))
    if as_json:
        emit_json(result)
    else:
        _print_quickstart(result)
    raise typer.Exit(1 if result["ingest"]["refused"] or result["backfill"]["failed"] else 0)


def _print_quickstart(r: dict) -> None:
    w = r["window"]
    if r["synthetic"]:
        out.print("[bold yellow]SYNTHETIC SAMPLE LEAGUE[/] (no real data folder found): numbers below are generated.")
    out.print(f"data: {r['data_folder']}  (ingest {r['ingest']['seconds']}s, files loaded "
              f"{r['ingest']['files_loaded']}, unchanged {r['ingest']['files_unchanged']}, "
              f"quarantined rows {r['ingest']['quarantined_rows']})")
    out.print(f"window {w['start_date']}..{w['end_date']}: {w['days']} days, {len(w['game_dates'])} game dates, "
              f"{len(w['no_game_dates'])} without games ({', '.join(w['no_game_dates']) or '-'}), "
              f"{len(w['bootstrap_dates'])} bootstrap dates")
    b = r["backfill"]
    out.print(f"backfill {b['run_id']}: {b['seconds']}s, " + ", ".join(f"{SHORT.get(k, k)} {v}" for k, v in b["counts"].items() if v))
    t = Table(title="tables over the window (dates = game dates with rows / expected)")
    for c in ("phase", "table", "dates", "rows", "missing (why)"):
        t.add_column(c, justify="right" if c in ("dates", "rows", "phase") else "left")
    for row in r["tables"]:
        why = _missing_summary(row)
        if row.get("bootstrap_dates"):
            why = (f"{len(row['bootstrap_dates'])} bootstrap dates skipped on purpose; " + why).rstrip("; -")
        t.add_row(str(row["phase"]), row["table"], f"{row['present']}/{row['expected']}", f"{row['rows']:,}", why)
    out.print(t)
    for f in r["ingest"]["refused"]:
        err.print(f"[bold red]refused[/] {f['path']}: {f['message']}")


def _missing_summary(row: dict) -> str:
    if not row["missing"]:
        return "-"
    reasons: dict[str, list[str]] = {}
    for d, why in row["missing_reasons"].items():
        reasons.setdefault(why, []).append(d)
    return "; ".join(f"{len(ds)} dates ({ds[0]}..{ds[-1]}): {why}" for why, ds in reasons.items())


# --- backfill & status ----------------------------------------------------------------------

STATUS_STYLE = {"success": "green", "partial": "yellow", "no_games": "dim", "bootstrap_skip": "cyan",
                "upstream_missing": "magenta", "failed": "bold red", "run": "blue", "already_done": "green",
                "waiting": "yellow", "running": "blue"}
SHORT = {"success": "ok", "partial": "partial", "no_games": "no games", "bootstrap_skip": "bootstrap",
         "upstream_missing": "missing", "failed": "FAILED", "run": "will run", "already_done": "done"}


def _dates_option(start_date: Optional[str], end_date: Optional[str], dates: Optional[str]):
    from nbapipe.orchestration.backfill import BackfillError, expand_dates
    s = parse_date(start_date, "--start-date") if start_date else None
    e = parse_date(end_date, "--end-date") if end_date else None
    ds = [parse_date(x.strip(), "--dates") for x in dates.split(",") if x.strip()] if dates else None
    try:
        return expand_dates(s, e, ds)
    except BackfillError as ex:
        fail(str(ex))


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
             verbose: bool = typer.Option(False, "--verbose", "-v", help="Every unit with its reason."),
             as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Plan and run (processor, date) units set-based over a date range, with resume."""
    from nbapipe.orchestration.backfill import BackfillError, parse_phases, run_backfill
    from nbapipe.orchestration.runner import Request
    ws = ctx.obj.ws
    ds = _dates_option(start_date, end_date, dates)
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
                      workers=workers, command="backfill")
        synthetic_banner(ws)
        report = _run_with_progress(ws, req, quiet=as_json)
    except BackfillError as e:
        fail(str(e))
    if as_json:
        emit_json(report.as_dict())
    elif dry_run:
        _print_plan(report, verbose)
    else:
        _print_backfill_summary(report, verbose)
    raise typer.Exit(1 if report.failed else 0)


def _run_with_progress(ws, req, quiet: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from nbapipe.orchestration.backfill import run_backfill
    show = not quiet and err.is_terminal and not req.dry_run
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} units"),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err, disable=not show)
    tasks: dict[int, int] = {}

    def on_event(kind: str, info: dict) -> None:
        from nbapipe import processors as reg
        if kind == "auto_upstream" and not quiet:
            err.print(f"[yellow]first running missing required upstream:[/] {', '.join(info['processors'])}")
        if kind == "level":
            for name, n in info["units"].items():
                ph = reg.get(name).phase
                if ph not in tasks:
                    tasks[ph] = progress.add_task(f"phase {ph}", total=0)
                progress.update(tasks[ph], total=progress.tasks[tasks[ph]].total + n)
        elif kind in ("processor_done", "processor_failed"):
            name = info["processor"]
            ph = reg.get(name).phase
            n = info.get("units", 0)
            if ph in tasks and kind == "processor_done":
                progress.update(tasks[ph], advance=n)
            if not show and not quiet and not req.dry_run:
                msg = f"{info.get('seconds', 0):.2f}s" if kind == "processor_done" else info.get("error", "")
                err.print(f"phase {ph} {name}: {kind.split('_')[1]} ({n} units) {msg}")

    with progress:
        return run_backfill(ws, req, on_event=on_event, on_wait=_lease_waiting,
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
    procs = _registry_order(procs)
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
    if report.auto_upstream:
        out.print(f"missing required upstream runs first: {', '.join(report.auto_upstream)}")
    if verbose:
        for u in report.plan:
            out.print(f"{u.game_date} {u.processor}: {u.action} - {u.reason}")


def _registry_order(names) -> list[str]:
    from nbapipe import processors as reg
    order = {n: i for i, n in enumerate(reg.all_processors())}
    return sorted(names, key=lambda n: order.get(n, 99))


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
    cols = ["success", "partial", "already_done", "no_games", "bootstrap_skip", "upstream_missing", "failed"]
    t.add_column("processor")
    for c in cols:
        t.add_column(SHORT.get(c, c), justify="right")
    t.add_column("rows", justify="right")
    for name in _registry_order(rows):
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
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """The ledger's latest outcome per (processor, date), and who holds or waits for the warehouse.
    Reads only the state store, so it works while a backfill runs."""
    from nbapipe.state import leases, ledger
    ws = ctx.obj.ws
    ds = _dates_option(start_date, end_date, dates)
    rows = ledger.latest(ws.state, dates=ds, phase=phase)
    items = [{"processor": r["processor"], "phase": r["phase"], "date": r["game_date"], "status": r["status"],
              "rows": r["rows"], "expected": r["expected"], "source_used": r["source_used"],
              "missing_inputs": r["missing_inputs"], "detail": r["detail"], "error": r["error"],
              "run_id": r["run_id"], "finished_at": r["finished_at"]} for r in rows]
    held = leases.current(ws.state)
    if as_json:
        emit_json(items)
        return
    synthetic_banner(ws)
    for h in held:
        out.print(f"[yellow]{h['state']}[/] warehouse: {h.get('purpose')} (host {h['host']}, pid {h['pid']})")
    procs = _registry_order(dict.fromkeys(r["processor"] for r in items))
    grid: dict[str, dict[str, dict]] = {}
    for r in items:
        grid.setdefault(r["date"], {})[r["processor"]] = r
    t = Table(title="status (latest ledger outcome)")
    t.add_column("date")
    for p in procs:
        t.add_column(p)
    for d in sorted(grid):
        t.add_row(d, *[(f"[{STATUS_STYLE.get(c['status'], '')}]{SHORT.get(c['status'], c['status'])}"
                        f"{' ' + str(c['rows']) if c['rows'] else ''}[/]") if (c := grid[d].get(p)) else "-"
                       for p in procs])
    out.print(t)
    if not items:
        out.print("no ledger rows in this range (nothing has run yet)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
