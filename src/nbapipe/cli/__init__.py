"""`nbapipe`: the one command-line interface (commands live in the modules of this package).

Exit codes scripts can rely on: 0 ok, 1 problems found (refused files, failed units, verify
failures), 2 usage or environment errors (`checks` keeps the guide's 2 = warnings only), 130 and
143 stopped by SIGINT and SIGTERM (nothing half done; rerun to resume)."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from nbapipe import __version__
from nbapipe.workspace import Workspace

# The options of `nbapipe` itself, which may also follow the command (`nbapipe status --home X`).
GLOBAL_OPTIONS = ("--home", "--state")


class _Root(TyperGroup):
    """The root command: global options written after the command are moved before it, so
    `nbapipe status --home X` means `nbapipe --home X status` (the guide's scripts write it so)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


def hoist_global_options(args: list[str]) -> list[str]:
    """--home/--state (with their value, or as --home=X) found after the command, moved to the
    front. Nothing after `--` moves, and the value of another option is never taken for one."""
    front, rest = [], []
    i, seen_command = 0, False
    while i < len(args):
        a = args[i]
        if a == "--":
            rest += args[i:]
            break
        name = a.split("=", 1)[0]
        if seen_command and name in GLOBAL_OPTIONS:
            if "=" in a or i + 1 >= len(args):
                front.append(a)
                i += 1
            else:
                front += args[i:i + 2]
                i += 2
            continue
        if not seen_command and name in GLOBAL_OPTIONS and "=" not in a:
            rest += args[i:i + 2]            # before the command: where it belongs already
            i += 2
            continue
        seen_command = seen_command or not a.startswith("-")
        rest.append(a)
        i += 1
    return front + rest


# Plain click help (no rich markup): it rewraps paragraphs instead of breaking lines where the
# docstring does, shows flags without a `<bool>` metavar, and prints [brackets] as written.
app = typer.Typer(
    name="nbapipe", cls=_Root, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    help="Backfill-safe NBA player-points props pipeline: Phase 2 raw sources -> Phase 3 "
         "analytics -> Phase 4 precompute features -> Phase 5 predictions.",
)
# Piped or redirected output (scripts, logs, CI, grep) keeps whole values: tables take the
# width their cells need instead of a fixed width that cuts dates to `2021-10-…`.
PIPED_WIDTH = 10_000


def _console(stderr: bool = False) -> Console:
    c = Console(stderr=stderr, soft_wrap=True)
    if not c.is_terminal:
        c = Console(stderr=stderr, soft_wrap=True, width=PIPED_WIDTH)
    return c


out = _console()
err = _console(stderr=True)

HOME_HELP = "Home directory with warehouse.duckdb and state.sqlite [default ./.nbapipe]"
STATE_HELP = ("State store on a PostgreSQL server shared by every host, e.g. postgresql://nbapipe@db:5432/nbapipe"
              "?schema=prod (extra nbapipe[postgres]); default <home>/state.sqlite")
JSON_HELP = "Print machine-readable JSON instead of tables."
ENGINE_HELP = "duckdb (the embedded default) or spark (extra nbapipe[spark]) [env NBAPIPE_ENGINE]"


# Commands that only read: they open the state store read-only (a read-only home works) and,
# like those that only act on an existing home, exit 2 on a folder that is not a home instead
# of creating one there. Every other command (ingest, quickstart, backfill, worker, predict,
# orchestrator run, state copy, serve) may create a home.
READING_COMMANDS = {"status", "monitor", "verify", "preflight", "calendar", "report", "sql", "checks",
                    "orchestrator status", "state info", "serve --ui-only"}
EXISTING_HOME_COMMANDS = {"grade", "state claim-warehouse", "serve --ui"}


def _command_name() -> str:
    """The running (sub)command as typed without options, e.g. `orchestrator status`."""
    try:                    # typer >= 0.25 ships its own copy of click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context
    c = get_current_context(silent=True)
    params: dict = {}
    names = []
    while c is not None and c.parent is not None:
        names.append(c.info_name or "")
        params = c.params
        c = c.parent
    name = " ".join(reversed(names))
    if name == "serve":
        name += " --ui-only" if params.get("ui_only") else " --ui" if params.get("ui") else ""
    return name


class Ctx:
    def __init__(self, home: Optional[Path]):
        self.home = home
        self._ws: Workspace | None = None

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            name = _command_name()
            ws = Workspace.at(self.home, reading=name in READING_COMMANDS)
            # `checks` reports a missing store as its first check (exit 1) instead.
            if name in (READING_COMMANDS | EXISTING_HOME_COMMANDS) - {"checks"}:
                from nbapipe.workspace import NotAHome
                try:
                    ws.require_home()
                except NotAHome as e:
                    fail(str(e))
            self._ws = ws
        return self._ws


def _print_version(value: bool) -> None:
    # Eager: runs while the options are parsed, before click asks for a command.
    if value:
        sys.stdout.write(f"nbapipe {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _main(ctx: typer.Context,
          home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP, envvar="NBAPIPE_HOME"),
          state: Optional[str] = typer.Option(None, "--state", help=STATE_HELP, envvar="NBAPIPE_STATE_URL"),
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="Print the version and exit.")):
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
                "bootstrap_skip": "cyan", "warmup": "cyan", "upstream_missing": "magenta", "stale": "bold magenta",
                "failed": "bold red", "run": "blue", "already_done": "green",
                "waiting": "yellow", "running": "blue"}
SHORT = {"success": "ok", "partial": "partial", "degraded": "degraded", "no_games": "no games",
         "bootstrap_skip": "bootstrap", "warmup": "warm-up", "upstream_missing": "missing", "stale": "STALE",
         "failed": "FAILED", "run": "will run", "already_done": "done"}


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
    from nbapipe import cancel
    from nbapipe.state.store import StateStoreError
    from nbapipe.warehouse import WarehouseError
    from nbapipe.workspace import WarehouseElsewhere
    try:
        app()
    except cancel.Cancelled as e:       # a signal, a lost lease: one line, its exit code (130, 143, 2)
        sys.exit(stopped(e))
    # No server, a corrupt or full store, not a home, the DuckDB file another host's or
    # unreadable: one line that says what to do, not a traceback.
    except (StateStoreError, WarehouseError, WarehouseElsewhere) as e:
        stop = cancel.requested()       # tidying up after a stop request failed: the stop is the news
        if stop is not None:
            sys.exit(stopped(stop))
        err.print(f"[bold red]error:[/] {e}")
        sys.exit(2)


def stopped(e) -> int:
    """A command stopped by SIGINT/SIGTERM (or a lost lease): one line, its exit code (130, 143)."""
    err.print(f"[bold yellow]{e.line()}[/]", highlight=False)
    return e.exit_code


def _register_commands() -> None:
    """Each module of this package adds its commands to `app` when imported."""
    import importlib
    for name in ("data", "backfill", "orchestration", "validation", "predictions", "state", "daily"):
        try:
            importlib.import_module(f"nbapipe.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"nbapipe.cli.{name}":
                raise


_register_commands()
