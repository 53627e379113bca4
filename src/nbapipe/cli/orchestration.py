"""Event-driven orchestration commands: orchestrator run/status, worker, serve."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nbapipe import cancel
from nbapipe.config import TRIGGER_BATCH_MAX
from nbapipe.cli import ENGINE_HELP, JSON_HELP, app, emit_json, err, fail, out, parse_date, synthetic_banner

orchestrator_app = typer.Typer(no_args_is_help=True, help="Phase orchestrators: consume completion events, "
                               "publish one trigger per (phase, date, upstream generation).")
app.add_typer(orchestrator_app, name="orchestrator")

POLL_HELP = "Seconds to sleep when there is nothing to do."
VISIBILITY_HELP = "Seconds a claimed message stays invisible to others before it is redelivered (renewed while it runs)."


def _bus(ws):
    from nbapipe.orchestration.events import open_bus
    return open_bus(ws)


# --- orchestrator run ---------------------------------------------------------------------

@orchestrator_app.command("run")
def orchestrator_run(ctx: typer.Context,
                     once: bool = typer.Option(False, "--once", help="Consume what is queued now, decide, publish, then exit."),
                     poll: float = typer.Option(0.5, "--poll", min=0.05, help=POLL_HELP),
                     as_json: bool = typer.Option(False, "--json", help="Print the totals as JSON when done.")):
    """Consume completion events of phases 2, 3 and 4 and publish the next phase's triggers."""
    from nbapipe.orchestration.orchestrator import run_orchestrators
    ws = ctx.obj.ws

    def on_step(name: str, r: dict) -> None:
        if not as_json:
            err.print(f"{name}: consumed {r['consumed']}, triggered {r['triggered']}"
                      + (f", {r['settling']} date(s) settling" if r["settling"] else ""))

    # SIGINT/SIGTERM: the step in progress finishes, nothing claimed stays claimed, exit 130/143.
    with cancel.on_signals():
        try:
            totals = run_orchestrators(ws, _bus(ws), once=once, poll=poll, on_step=on_step)
            cancel.check()
        except cancel.Cancelled as e:
            e.summary = "completions not yet acknowledged stay queued; rerun it to go on"
            raise
    if as_json:
        emit_json(totals)
    elif once:
        out.print(f"consumed {totals['consumed']} completion(s), published {totals['triggered']} trigger(s)"
                  + (f"; {totals['settling']} date(s) still settling (a run in progress)" if totals["settling"] else ""))


# --- orchestrator status ------------------------------------------------------------------

@orchestrator_app.command("status")
def orchestrator_status(ctx: typer.Context,
                        date: Optional[str] = typer.Option(None, "--date", help="One date (YYYY-MM-DD)."),
                        start_date: Optional[str] = typer.Option(None, "--start-date", help="First date of a range."),
                        end_date: Optional[str] = typer.Option(None, "--end-date", help="Last date of a range, inclusive."),
                        phase: Optional[int] = typer.Option(None, "--phase", help="Only the orchestrator that triggers this phase (3, 4 or 5)."),
                        as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Per date and phase: which processors reported, which are awaited or block, whether the
    next phase was triggered, how many times and when. Reads only the state store, so it works
    while a backfill or a worker writes the warehouse."""
    from nbapipe.orchestration.orchestrator import status, transitions
    ws = ctx.obj.ws
    dates = _status_dates(date, start_date, end_date)
    trans = [t for t in transitions(ws.settings.phase2_required) if phase is None or t.target_phase == phase]
    if phase is not None and not trans:
        fail(f"no orchestrator triggers phase {phase}; known: 3, 4, 5")
    rows = status(ws.state, _bus(ws), trans, dates)
    if as_json:
        emit_json(rows)
        return
    synthetic_banner(ws)
    _print_status(ws, rows, trans)


def _status_dates(date: Optional[str], start_date: Optional[str], end_date: Optional[str]) -> list[dt.date] | None:
    if date and (start_date or end_date):
        fail("give either --date or --start-date/--end-date, not both")
    if date:
        return [parse_date(date, "--date")]
    if bool(start_date) != bool(end_date):
        fail("give both --start-date and --end-date")
    if not start_date:
        return None
    s, e = parse_date(start_date, "--start-date"), parse_date(end_date, "--end-date")
    if e < s:
        fail(f"--end-date {e} is before --start-date {s}")
    return [s + dt.timedelta(days=i) for i in range((e - s).days + 1)]


STATE_STYLE = {"triggered": "green", "blocked": "bold red", "waiting": "yellow", "settling": "blue",
               "no_games": "dim", "complete": "green", "manual": "cyan"}


def _print_status(ws, rows: list[dict], trans) -> None:
    from nbapipe.orchestration.worker import live_workers
    need = {t.target_phase: len(t.requirements) for t in trans}
    t = Table(title="orchestrators (phase = the phase a trigger starts)")
    for c in ("date", "phase", "state", "done", "awaited (blocking status)", "triggers", "last trigger", "trigger state"):
        t.add_column(c)
    for r in rows:
        n = need.get(r["phase"], 0)
        awaited = [f"{a} ({r['blocked'][a]})" if a in r["blocked"] else a for a in r["awaited"]]
        awaited += [f"{p} ({s})" for p, s in r["blocked"].items() if p not in r["awaited"]]
        style = STATE_STYLE.get(r["state"], "")
        t.add_row(r["date"], f"{r['upstream_phase']}->{r['phase']}", f"[{style}]{r['state']}[/]",
                  f"{n - len(r['awaited'])}/{n}", ", ".join(awaited) or "-", str(r["trigger_count"]),
                  r["triggered_at"] or "-", r["trigger_state"] or "-")
    out.print(t)
    if not rows:
        out.print("nothing recorded for these dates (no completion event has been consumed yet)")
    for r in rows:
        for p, e in r["errors"].items():
            out.print(f"[red]{r['date']} {p}:[/] {e}")
    for w in live_workers(ws.state):
        what = f" phase {w['phase']} {w['game_date']}" if w["game_date"] else ""
        out.print(f"{w['worker_id']} (phases {w['phases']}): {w['state']}{what} since {w['since']}")


# --- worker and serve ---------------------------------------------------------------------

def _worker_phases(phase: Optional[int]) -> list[int]:
    from nbapipe.orchestration.worker import worker_phases
    try:
        return worker_phases(phase)
    except ValueError as e:
        fail(str(e))
        raise


def _print_worker_event(quiet: bool):
    def on_event(kind: str, info: dict) -> None:
        if not quiet:
            what = (f"trigger {info['message']} phase {info['phase']} {info['date']}" if info["messages"] == 1 else
                    f"{info['messages']} triggers phase {info['phase']} {info['date']}..{info['last_date']}")
            err.print(f"{what} (attempt {info['attempt']}): {kind}")
    return on_event


@app.command()
def worker(ctx: typer.Context,
           phase: Optional[int] = typer.Option(None, "--phase", help="Only this phase's triggers (default: every phase with processors)."),
           once: bool = typer.Option(False, "--once", help="Run the triggers queued now, then exit (exit 1 if a unit failed)."),
           poll: float = typer.Option(0.5, "--poll", min=0.05, help=POLL_HELP),
           visibility_timeout: float = typer.Option(30.0, "--visibility-timeout", min=1.0, help=VISIBILITY_HELP),
           skip_downstream_trigger: bool = typer.Option(False, "--skip-downstream-trigger", help="Publish no completion events for the units it runs."),
           engine: Optional[str] = typer.Option(None, "--engine", help=ENGINE_HELP),
           batch_max: int = typer.Option(TRIGGER_BATCH_MAX, "--batch-max", min=1,
                                         help="Claim at most this many ready triggers of a phase and run them as one run (1: one date per run)."),
           as_json: bool = typer.Option(False, "--json", help="Print the totals as JSON when done.")):
    """Consume phase triggers and run that phase for their dates with the backfill runner:
    every ready trigger of a phase is claimed at once and run as one run over its dates,
    taking the warehouse lease for the run (waiting for it, never failing for it)."""
    from nbapipe.config import engine_name
    from nbapipe.orchestration.worker import Worker
    from nbapipe.workspace import WarehouseElsewhere
    ws = ctx.obj.ws
    phases = _worker_phases(phase)
    try:
        engine = engine_name(engine)
    except ValueError as e:
        fail(str(e))
    if engine == "duckdb":      # say so now, not on the first trigger
        try:
            ws.check_duckdb_host()
        except WarehouseElsewhere as e:
            fail(str(e))
    w = Worker(ws, _bus(ws), phases, poll=poll, visibility_timeout=visibility_timeout,
               publish=not skip_downstream_trigger, on_event=_print_worker_event(as_json), engine=engine,
               batch_max=batch_max)
    if not as_json:
        err.print(f"{w.id}: consuming triggers of phase {', '.join(map(str, phases))}")
    with cancel.on_signals():
        try:
            stats = w.run(once=once)
            cancel.check()
        except cancel.Cancelled as e:
            _worker_stopped(e, w, as_json)
    if as_json:
        emit_json(stats.as_dict())
    raise typer.Exit(1 if once and stats.failed else 0)


@app.command()
def serve(ctx: typer.Context,
          phase: Optional[int] = typer.Option(None, "--phase", help="The worker runs only this phase (default: every phase with processors)."),
          poll: float = typer.Option(0.5, "--poll", min=0.05, help=POLL_HELP),
          ui: bool = typer.Option(False, "--ui", help="Also serve the live dashboard (read-only web page + JSON API over the state store)."),
          ui_only: bool = typer.Option(False, "--ui-only", help="Serve only the dashboard: no orchestrators, no worker (this process writes nothing)."),
          host: str = typer.Option("127.0.0.1", "--host", help="Dashboard address; anything but loopback requires --token."),
          port: int = typer.Option(8765, "--port", min=0, max=65535, help="Dashboard port (0: any free port)."),
          token: Optional[str] = typer.Option(None, "--token", envvar="NBAPIPE_UI_TOKEN",
                                              help="Every dashboard request must carry `Authorization: Bearer <token>` [env NBAPIPE_UI_TOKEN]."),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every dashboard request."),
          inbox: Optional[Path] = typer.Option(None, "--inbox", help="Run `daily` continuously: the day's cycle when the day starts (US Eastern) and whenever files arrive in this folder."),
          interval: float = typer.Option(10.0, "--interval", min=0.1, help="With --inbox: seconds between looks at the folder.")):
    """The orchestrators and one worker in one process, until Ctrl-C or SIGTERM; with --ui the
    live dashboard beside them (--ui-only: the dashboard alone); with --inbox the daily cycle,
    continuously, as `nbapipe daily` runs it."""
    ws = ctx.obj.ws
    if inbox is not None and not inbox.is_dir():
        fail(f"no such inbox folder: {inbox}")
    dashboard = _start_dashboard(ws, host, port, token, verbose) if ui or ui_only else None
    # A service's normal end is a signal: it stops as worker and orchestrator do (the trigger
    # in flight back in the queue), then exits 0.
    with cancel.on_signals():
        try:
            if ui_only:
                cancel.StopFlag().wait()      # until Ctrl-C / SIGTERM
            elif inbox is not None:
                _serve_inbox(ws, inbox, interval)
            else:
                _serve_pipeline(ws, phase, poll)
            cancel.check()
        except cancel.Cancelled as e:
            err.print(f"{e.reason}: stopped" + ("" if ui_only else "; a trigger in flight went back to the queue"))
        finally:
            if dashboard is not None:
                dashboard.shutdown()
                dashboard.server_close()


def _worker_stopped(e: cancel.Cancelled, w, as_json: bool) -> None:
    """A worker stopped by a signal: its totals (--json), then the one line and exit code."""
    if as_json:
        emit_json(w.stats.as_dict())
    e.summary = (f"{w.stats.done} trigger(s) done, {w.stats.failed} with failed units; "
                 f"a trigger in flight went back to the queue")
    raise e


def _start_dashboard(ws, host: str, port: int, token: Optional[str], verbose: bool):
    from nbapipe.ui.server import Dashboard, start_in_thread
    try:
        server = Dashboard(ws.settings.state_location, ws.settings.phase2_required, host, port, token,
                           log=err.print if verbose else None)
    except (ValueError, FileNotFoundError, OSError) as e:
        fail(f"dashboard: {e}")
        raise
    start_in_thread(server)
    err.print(f"dashboard: {server.url} (read-only; JSON under /api/)" + (" - token required" if token else ""))
    return server


def _serve_inbox(ws, inbox: Path, interval: float) -> None:
    from nbapipe.cli.daily import _print_step, _today_eastern
    from nbapipe.orchestration.daily import watch_inbox
    err.print(f"serving: the daily cycle, watching {inbox} every {interval:g}s")

    def cycle(report) -> None:
        if report.error:
            err.print(f"daily {report.date}: [red]{report.error}[/]; waiting for files")
            return
        out.print(f"daily {report.date} done in {report.seconds:.2f}s"
                  + (f"; [red]{report.failed} unit(s) failed[/]" if report.failed else ""))
    watch_inbox(ws, inbox, _today_eastern, interval=interval, on_step=_print_step, on_cycle=cycle)


def _serve_pipeline(ws, phase: Optional[int], poll: float) -> None:
    from nbapipe.orchestration.orchestrator import run_orchestrators
    from nbapipe.orchestration.worker import Worker
    from nbapipe.workspace import Workspace
    phases = _worker_phases(phase)
    stop = threading.Event()
    # The orchestrators get their own workspace: a state store connection per thread.
    ows = Workspace(ws.settings)
    thread = threading.Thread(target=run_orchestrators, name="orchestrators", daemon=True,
                              args=(ows, _bus(ows), stop), kwargs={"poll": poll})
    thread.start()
    w = Worker(ws, _bus(ws), phases, poll=poll, on_event=_print_worker_event(False))
    err.print(f"serving: orchestrators for phases 2->3, 3->4, 4->5 and {w.id} for phase {', '.join(map(str, phases))}")
    try:
        w.run(stop)
    finally:
        stop.set()
        thread.join(timeout=10)
        ows.close()
