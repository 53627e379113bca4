"""Data commands: ingest, sql, calendar, quickstart."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nbapipe.cli import ENGINE_HELP, JSON_HELP, SHORT, app, emit_json, err, fail, lease_waiting, out, synthetic_banner
from nbapipe.calendar import date_runs, dates_text
from nbapipe.config import resolve_data_dir
from nbapipe.workspace import Workspace


# --- ingest ------------------------------------------------------------------------------

@app.command()
def ingest(ctx: typer.Context,
           paths: list[Path] = typer.Argument(None, help="Files or folders to load (default: the data folder)."),
           data: Optional[Path] = typer.Option(None, "--data", help="Data folder [env NBAPIPE_DATA, default ../shared/nba-data]"),
           fmt: Optional[str] = typer.Option(None, "--format", help="Load FILE as this format (a loader name) instead of recognising it."),
           force: bool = typer.Option(False, "--force", help="Reload files already ingested with identical content."),
           accept_partial: bool = typer.Option(False, "--accept-partial", help="Load the good rows of a file even when it loads none or quarantines more than half its rows (refused otherwise)."),
           replace: Optional[list[Path]] = typer.Option(None, "--replace", metavar="FILE", help="Load FILE (repeatable) so that its rows replace, for every game it covers, the rows its loader loaded from any file (a corrected file under another name)."),
           skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no Phase 2 completion events (bulk historical loads)."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
           verbose: bool = typer.Option(False, "--verbose", "-v", help="List every file, not only problems.")):
    """Load raw source files into nba_raw (recognised by header or JSON shape, not by name)."""
    ws = ctx.obj.ws
    if replace and paths:
        fail("--replace FILE loads FILE itself: pass no other paths")
    if replace:
        paths = list(replace)
        for p in paths:
            if not p.is_file():
                fail(f"--replace needs a file: {p}")
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
    summary = _run_ingest_with_progress(ws, inputs, fmt, force, accept_partial, quiet=as_json, verbose=verbose,
                                        replace=bool(replace))
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


def _run_ingest_with_progress(ws: Workspace, inputs, fmt, force, accept_partial: bool, quiet: bool,
                              verbose: bool, replace: bool = False):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from nbapipe.sources.ingest import run_ingest
    show = not quiet and err.is_terminal
    progress = Progress(TextColumn("ingest"), BarColumn(), TextColumn("{task.completed} files"),
                        TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                        transient=True, disable=not show)

    def on_file(o):
        progress.update(task, advance=1, description=Path(o.path).name)
        if not quiet and not show and verbose:
            err.print(f"{o.status:12} {o.path} {o.message}")

    from nbapipe import cancel
    with progress, cancel.on_signals():      # SIGINT/SIGTERM: exit 130/143, loaded files kept
        task = progress.add_task("", total=None)
        return run_ingest(ws, inputs, fmt=fmt, force=force, accept_partial=accept_partial, on_file=on_file,
                          on_wait=lease_waiting, replace=replace)


_COUNTS = ("read", "loaded", "new", "updated", "same", "filtered", "corrected", "quarantined", "s")


def _print_ingest_summary(summary, verbose: bool) -> None:
    """One row per file and loader (rows read, loaded, corrected, quarantined), then one
    indented row per rule that corrected or quarantined rows."""
    t = Table(title="files", show_lines=False)
    t.add_column("status")
    t.add_column("file")
    t.add_column("loader / rule")
    for c in _COUNTS:
        t.add_column(c, justify="right")
    for o in summary.outcomes:
        if not verbose and o.status in ("not_data",):
            continue
        name = _short(o.path)
        if not o.loaders:
            t.add_row(_status_style(o.status), name, o.message, *[""] * (len(_COUNTS) - 1), f"{o.seconds:.2f}")
        for l in o.loaders:
            t.add_row(_status_style(o.status), name, l.loader, *[f"{n:,}" for n in (
                l.rows_read, l.loaded, l.inserted, l.updated, l.unchanged, l.filtered, l.corrected,
                l.quarantined)], f"{o.seconds:.2f}")
            for rule, n in sorted(l.rules.items()):
                t.add_row("", "", f"  {rule}", *[""] * 6, _n(n.get("corrected")), _n(n.get("quarantined")), "")
    out.print(t)
    tt = Table(title="tables")
    tt.add_column("table")
    tt.add_column("rows", justify="right")
    for name, n in summary.tables.items():
        tt.add_row(name, f"{n:,}")
    out.print(tt)
    _print_rule_counts(summary)
    q = summary.as_dict()["quarantined"]
    out.print(f"ingested in {summary.seconds:.1f}s; players {summary.reference.get('players')}, "
              f"unresolved names {summary.reference.get('unresolved_names')}; "
              f"quarantined rows {q} (see nba_raw.quarantine)")
    for o in summary.outcomes:
        if o.status == "unrecognised":
            err.print(f"[yellow]skipped[/] {o.path}: {o.message}")
    for o in summary.refused:
        err.print(f"[bold red]refused[/] {o.path}: {o.message}")


def _n(v) -> str:
    return f"{v:,}" if v else ""


def _print_rule_counts(summary) -> None:
    """Rows quarantined, corrected or skipped per rule, over all files, in one line."""
    totals: dict[str, dict[str, int]] = {}
    for o in summary.outcomes:
        for l in o.loaders:
            for rule, counts in l.rules.items():
                for what, n in counts.items():
                    if n:
                        totals.setdefault(rule, {}).setdefault(what, 0)
                        totals[rule][what] += n
    if totals:
        out.print("rules: " + "; ".join(
            f"{rule} " + ", ".join(f"{n:,} {what}" for what, n in sorted(c.items())) for rule, c in sorted(totals.items()))
            + " (`nbapipe quarantine list`)")


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
        engine: Optional[str] = typer.Option(None, "--engine", help=ENGINE_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON list of row objects.")):
    """Run a read-only query against the warehouse (DuckDB's, or the Spark engine's tables:
    the query is written in DuckDB's dialect either way)."""
    ws = ctx.obj.ws
    rows = _spark_rows(ws, query) if _engine(engine) == "spark" else _duckdb_rows(ws, query)
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


def _engine(name: Optional[str]) -> str:
    from nbapipe.config import engine_name
    try:
        return engine_name(name)
    except ValueError as e:
        fail(str(e))
        raise  # unreachable


# What `sql` runs: queries and their relatives. Anything else (COPY ... TO, EXPORT, ATTACH,
# INSTALL/LOAD, SET, CREATE, INSERT...) is refused before it reaches DuckDB, which is opened
# read-only and sealed as well (no file access, settings locked) in case a query hides one.
SQL_ALLOWED = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}


def _refuse_writes(query: str) -> None:
    import duckdb
    try:
        kinds = [s.type.name for s in duckdb.extract_statements(query)]
    except duckdb.Error as e:
        fail(f"{e.__class__.__name__}: {str(e).strip().splitlines()[0]}")
    if not kinds:
        fail("no SQL statement given")
    refused = [k for k in kinds if k not in SQL_ALLOWED]
    if refused:
        fail(f"`nbapipe sql` is read-only: {refused[0].replace('_', ' ')} statements are refused (it writes no "
             f"file, attaches nothing, changes no setting). To save rows, use `nbapipe sql --json \"...\" > file`")


def _duckdb_rows(ws: Workspace, query: str) -> list[dict]:
    from nbapipe.warehouse import WarehouseBusy
    _refuse_writes(query)
    if not ws.has_warehouse():
        fail(f"no warehouse at {ws.settings.warehouse_path}: run `nbapipe ingest` or `nbapipe quickstart` first")
    try:
        with ws.reader(sealed=True) as wh:
            try:
                return wh.rows(query)
            except Exception as e:  # DuckDB parser/binder/permission errors
                fail(f"{e.__class__.__name__}: {str(e).strip().splitlines()[0]}")
    except WarehouseBusy as e:
        fail(str(e))
    raise AssertionError("unreachable")


def _spark_rows(ws: Workspace, query: str) -> list[dict]:
    """The Spark engine's Parquet tables, read-only: only a query is accepted."""
    from nbapipe.config import spark_warehouse
    from nbapipe.engines import EngineError
    from nbapipe.engines.transpile import is_query
    root = spark_warehouse(ws.home)
    if not root.is_dir():
        fail(f"no Spark warehouse at {root}: run `nbapipe backfill --engine spark` first")
    try:
        query_only = is_query(query)
    except Exception as e:  # SQLGlot parse errors
        fail(f"{e.__class__.__name__}: {str(e).strip().splitlines()[0]}")
    if not query_only:
        fail("only queries (SELECT ...) run against the Spark tables")
    try:
        from nbapipe.engines.spark import SparkEngine
        return SparkEngine.for_home(ws.home).query(query)
    except EngineError as e:
        fail(str(e))
    except Exception as e:  # Spark analysis errors (unknown table or column, ...)
        fail(f"{e.__class__.__name__}: {str(e).strip().splitlines()[0]}")
    raise AssertionError("unreachable")


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
                  f"{len(r['playoff_dates'])} dates ({date_runs(r['playoff_dates'])})"
                  if r["playoff_dates"] else "", "yes" if r["complete"] else "no")
    out.print(t)




# --- contracts and quarantine -------------------------------------------------------------

@app.command()
def contracts(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """The ingest contracts: the named rules every raw row and table must keep, the table of
    plausible ranges, and each source's identity key (sources/contracts.py)."""
    from nbapipe.sources.contracts import all_rules
    rules = all_rules()
    if as_json:
        emit_json(rules)
        return
    t = Table(title="ingest contracts")
    for c in ("rule", "level", "action", "applies to", "description"):
        t.add_column(c)
    for r in rules:
        t.add_row(r["rule"], r["level"], r["action"], r["applies_to"], r["description"])
    out.print(t)


quarantine_app = typer.Typer(no_args_is_help=True, help="Rows refused or corrected at ingest: list them, "
                                                        "explain a rule or a row, drop a file's rows.")
app.add_typer(quarantine_app, name="quarantine")


def _reading(ws: Workspace):
    from nbapipe.warehouse import WarehouseBusy
    if not ws.has_warehouse():
        fail(f"no warehouse at {ws.settings.warehouse_path}: run `nbapipe ingest` first")
    try:
        return ws.reader()
    except WarehouseBusy as e:
        fail(str(e))


@quarantine_app.command("list")
def quarantine_list(ctx: typer.Context,
                    file: Optional[str] = typer.Option(None, "--file", help="Only this file (its path as ingested)."),
                    as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Quarantined and corrected rows per file, loader and rule (exit 1 when there are any)."""
    from nbapipe.sources import quarantine
    with _reading(ctx.obj.ws) as wh:
        rows = quarantine.summary(wh, file)
    if as_json:
        emit_json(rows)
    else:
        t = Table(title="nba_raw.quarantine and nba_raw.contract_corrections")
        for c in ("file", "loader", "rule", "quarantined", "corrected", "example"):
            t.add_column(c, justify="right" if c in ("quarantined", "corrected") else "left")
        for r in rows:
            t.add_row(_short(r["source_file"]), r["loader"], r["rule"], str(r["quarantined"]),
                      str(r["corrected"]), (r["example"] or "")[:90])
        out.print(t)
        out.print(f"{sum(r['quarantined'] for r in rows)} quarantined, {sum(r['corrected'] for r in rows)} corrected")
    raise typer.Exit(1 if any(r["quarantined"] for r in rows) else 0)


@quarantine_app.command("explain")
def quarantine_explain(ctx: typer.Context,
                       what: str = typer.Argument(..., help="A rule name (e.g. range_points), or a FILE with --line."),
                       line: Optional[int] = typer.Option(None, "--line", help="The quarantined row of FILE at this line."),
                       as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """What a rule checks and the rows it caught, or why one row of a file was quarantined."""
    from nbapipe.sources import quarantine
    with _reading(ctx.obj.ws) as wh:
        r = quarantine.explain(wh, what, line=line)
    if line is not None and not r["rows"]:
        fail(f"no quarantined row at line {line} of {what}", 1)
    if line is None and not r["definitions"] and not r["quarantined"] and not r["corrected"]:
        fail(f"unknown rule {what!r}: `nbapipe contracts` lists them")
    if as_json:
        emit_json(r)
        return
    if line is not None:
        for row in r["rows"]:
            out.print(f"{row['source_file']} line {row['line']} ({row['loader']} -> {row['target_table']}): {row['reason']}")
            out.print(f"  {row['raw_row']}")
        return
    for d in r["definitions"]:
        out.print(f"[bold]{r['rule']}[/] ({d['level']}, {d['action']}, {d['applies_to']}): {d['description']}")
    out.print(f"{r['quarantined']} rows quarantined, {r['corrected']} corrected")
    for e in r["examples"]:
        out.print(f"  {_short(e['source_file'])} line {e['line']}: {e['reason']}")
    for e in r["corrections"]:
        out.print(f"  {_short(e['source_file'])} line {e['line']}: corrected {e['detail']}")


@quarantine_app.command("drop")
def quarantine_drop(ctx: typer.Context,
                    file: str = typer.Argument(..., help="The file's path as ingested (see `quarantine list`)."),
                    loaded: bool = typer.Option(False, "--loaded", help="Also delete the rows FILE loaded into the raw tables and its ingest record."),
                    as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Forget a file's quarantined rows (with --loaded: the file entirely, as if never ingested)."""
    from nbapipe.calendar import build_calendar, copy_to_state
    from nbapipe.sources import quarantine
    from nbapipe.sources.registry import rebuild_reference
    ws = ctx.obj.ws
    if not ws.has_warehouse():
        fail(f"no warehouse at {ws.settings.warehouse_path}: run `nbapipe ingest` first")
    with ws.writer("quarantine drop", on_wait=lease_waiting) as wh:
        with wh.transaction():
            r = quarantine.drop(wh, file, loaded=loaded)
            if r["raw_rows"]:
                rebuild_reference(wh)
                build_calendar(wh, ws.settings.bootstrap_days)
        if r["raw_rows"]:
            copy_to_state(wh, ws.state)
    if as_json:
        emit_json(r)
    else:
        out.print(f"{file}: dropped {r['quarantine_rows']} quarantined rows, {r['corrections']} corrections"
                  + (f", raw rows {r['raw_rows'] or 0}" if loaded else ""))
    if not (r["quarantine_rows"] or r["corrections"] or r["raw_rows"] or r.get("ingest_records")):
        raise typer.Exit(1)


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
                                on_wait=lease_waiting)
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
              f"{len(w['no_game_dates'])} without games ({date_runs(w['no_game_dates']) or '-'}), "
              f"{len(w['bootstrap_dates'])} bootstrap dates")
    b = r["backfill"]
    out.print(f"backfill {b['run_id']}: {b['seconds']}s, " + ", ".join(f"{SHORT.get(k, k)} {v}" for k, v in b["counts"].items() if v))
    t = Table(title="tables over the window (dates = game dates with rows / expected)")
    for c in ("phase", "table", "dates", "rows", "missing (why)"):
        t.add_column(c, justify="right" if c in ("dates", "rows", "phase") else "left")
    for row in r["tables"]:
        why = _missing_summary(row)
        if row.get("warmup_dates"):
            why = (f"{len(row['warmup_dates'])} dates in {row['warmup_why']}; " + why).rstrip("; -")
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
    return "; ".join(f"{dates_text(ds)}: {why}" for why, ds in reasons.items())
