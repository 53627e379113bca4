"""`nbapipe`: the one command-line interface (commands live in the modules of this package).

Exit codes scripts can rely on: 0 ok, 1 problems found (refused files, failed units, verify
failures), 2 usage or environment errors (`checks` keeps the guide's 2 = warnings only)."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from nbapipe import __version__
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
STATE_HELP = ("State store on a PostgreSQL server shared by every host, e.g. postgresql://nbapipe@db:5432/nbapipe"
              "?schema=prod (extra nbapipe\\[postgres]); default <home>/state.sqlite")
JSON_HELP = "Print machine-readable JSON instead of tables."
ENGINE_HELP = "duckdb (the embedded default) or spark (extra nbapipe[spark]) [env NBAPIPE_ENGINE]"


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
          state: Optional[str] = typer.Option(None, "--state", help=STATE_HELP, envvar="NBAPIPE_STATE_URL"),
          version: bool = typer.Option(False, "--version", help="Print the version and exit.")):
    if version:
        out.print(f"nbapipe {__version__}")
        raise typer.Exit(0)
    if state:
        from nbapipe.state.store import is_url
        if not is_url(state):
            fail(f"--state takes a postgresql://user@host:port/database[?schema=name] URL, got {state!r} "
                 "(without it the state is the home's state.sqlite)")
        # The environment carries it to every process this one starts (workers, guide scripts).
        os.environ["NBAPIPE_STATE_URL"] = state
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


def lease_waiting(holder: dict) -> None:
    from nbapipe.state.leases import describe
    err.print(f"[yellow]waiting for the warehouse:[/] held by {describe(holder)}")


STATUS_STYLE = {"success": "green", "partial": "yellow", "degraded": "dark_orange", "no_games": "dim",
                "bootstrap_skip": "cyan", "upstream_missing": "magenta", "stale": "bold magenta",
                "failed": "bold red", "run": "blue", "already_done": "green",
                "waiting": "yellow", "running": "blue"}
SHORT = {"success": "ok", "partial": "partial", "degraded": "degraded", "no_games": "no games",
         "bootstrap_skip": "bootstrap", "upstream_missing": "missing", "stale": "STALE", "failed": "FAILED",
         "run": "will run", "already_done": "done"}


def dates_option(start_date: Optional[str], end_date: Optional[str], dates: Optional[str]):
    from nbapipe.orchestration.backfill import BackfillError, expand_dates
    s = parse_date(start_date, "--start-date") if start_date else None
    e = parse_date(end_date, "--end-date") if end_date else None
    ds = [parse_date(x.strip(), "--dates") for x in dates.split(",") if x.strip()] if dates else None
    try:
        return expand_dates(s, e, ds)
    except BackfillError as ex:
        fail(str(ex))


def registry_order(names) -> list[str]:
    from nbapipe import processors as reg
    order = {n: i for i, n in enumerate(reg.all_processors())}
    return sorted(names, key=lambda n: order.get(n, 99))


def main() -> None:
    from nbapipe.state.postgres import StateStoreUnavailable
    from nbapipe.workspace import WarehouseElsewhere
    try:
        app()
    # No server, no psycopg, or the DuckDB file is another host's: say so, not a traceback.
    except (StateStoreUnavailable, WarehouseElsewhere) as e:
        err.print(f"[bold red]error:[/] {e}")
        sys.exit(2)


def _register_commands() -> None:
    """Each module of this package adds its commands to `app` when imported."""
    import importlib
    for name in ("data", "backfill", "orchestration", "validation", "predictions", "state"):
        try:
            importlib.import_module(f"nbapipe.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"nbapipe.cli.{name}":
                raise


_register_commands()
