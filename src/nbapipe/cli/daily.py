"""The live cycle: `nbapipe daily` (one day) and `nbapipe replay` (a past range, day by day,
compared with the backfill)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from nbapipe.cli import JSON_HELP, app, emit_json, err, fail, out, parse_date, synthetic_banner


def _print_step(step) -> None:
    out.print(f"[bold]{step.name:<8}[/] {step.did}  [dim]({step.seconds:.2f}s)[/]")
    if step.waits:
        out.print(f"{'':<9}[yellow]waits for:[/] {step.waits}")


@app.command()
def daily(ctx: typer.Context,
          date: Optional[str] = typer.Option(None, "--date", help="The day to run (default: today, US Eastern)."),
          inbox: Optional[Path] = typer.Option(None, "--inbox", help="Folder where new source files arrive [default <home>/inbox]."),
          as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """One day of the live cycle: ingest the inbox, let the orchestrators and a worker run what
    it triggers, compute Phase 3-5 for the day's games before tip-off, and grade yesterday once
    its box scores are in. Exit 1 if a unit failed."""
    from nbapipe.orchestration.backfill import BackfillError
    from nbapipe.orchestration.daily import run_daily
    ws = ctx.obj.ws
    day = parse_date(date, "--date") if date else _today_eastern()
    if inbox is not None and not inbox.is_dir():
        fail(f"no such inbox folder: {inbox}")
    if not as_json:
        synthetic_banner(ws)
        out.print(f"daily {day}")
    try:
        report = run_daily(ws, day, inbox, on_step=None if as_json else _print_step)
    except BackfillError as e:
        fail(str(e))
        raise
    if as_json:
        emit_json(report.as_dict())
    else:
        out.print(f"done in {report.seconds:.2f}s" + (f"; [red]{report.failed} unit(s) failed[/]" if report.failed else ""))
    raise typer.Exit(1 if report.failed else 0)


def _today_eastern() -> dt.date:
    from zoneinfo import ZoneInfo
    return dt.datetime.now(ZoneInfo("America/New_York")).date()


@app.command()
def replay(ctx: typer.Context,
           start_date: str = typer.Option(..., "--start-date", help="First day to replay."),
           end_date: str = typer.Option(..., "--end-date", help="Last day to replay, inclusive."),
           data: Optional[Path] = typer.Option(None, "--data", help="Data folder to replay (ingested once into <home>/replay/staging)."),
           history_from: Optional[str] = typer.Option(
               None, "--history-from", help="First date both homes compute (default: the first game of the season "
                                            "before --start-date's, the history a production home holds)."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Simulate the daily loop day by day over a past range (each day sees only what existed
    by then: sources/cutoffs.py), then compare every Phase 3-5 table with a backfill of the
    same range on the same data. Exit 1 on any difference."""
    from nbapipe.orchestration.backfill import BackfillError
    from nbapipe.orchestration.replay import replay as run_replay
    s, e = parse_date(start_date, "--start-date"), parse_date(end_date, "--end-date")
    if data is not None and not data.is_dir():
        fail(f"no such data folder: {data}")
    work = ctx.obj.ws.home / "replay"
    # Progress goes to stderr in both modes (a season takes minutes; --json keeps stdout clean).
    note = err.print
    mornings = (e - s).days + 2          # the range and the morning after it (its grading)

    def on_day(t) -> None:
        k = (dt.date.fromisoformat(t.date) - s).days + 1
        err.print(f"{t.date} ({k}/{mornings}): {t.revealed_rows} row(s) revealed, pipeline {t.seconds:.2f}s"
                  + (f", [red]{t.report.failed} failed[/]" if t.report.failed else ""))
    try:
        h = parse_date(history_from, "--history-from") if history_from else None
        report = run_replay(work, s, e, data, history_from=h, on_day=on_day, on_note=note)
    except BackfillError as ex:
        fail(str(ex))
        raise
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_replay(report)
    raise typer.Exit(0 if report.identical else 1)


def _print_replay(r) -> None:
    t = r.timing()
    out.print(f"replay {r.start}..{r.end}: {t['days']} mornings in {t['total_s']:.2f}s of pipeline work "
              f"(median {t['median_s']:.3f}s, worst {t['worst_s']:.3f}s on {t['worst_date']}); "
              f"backfill {r.backfill_s:.2f}s; total {r.seconds:.1f}s")
    for table, n in r.tables.items():
        diffs = [d for d in r.differences if d.table == table]
        out.print(f"  {table}: {n} rows, " + ("[green]identical[/]" if not diffs else f"[red]{len(diffs)} difference(s)[/]"))
    for d in r.differences[:50]:
        out.print(f"  [red]{d.table} {d.column} {d.date}: {d.rows} row(s)[/] {d.note}")
    known = sum(r.known.values())
    out.print(f"known difference (both modes): {known} player-game(s) first listed in that night's box score, "
              f"not in its pre-game universe, on {len(r.known)} date(s)")
    out.print("[green]replay equals the backfill[/]" if r.identical else f"[red]{len(r.differences)} difference(s)[/]")
