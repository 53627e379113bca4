"""`nbapipe state`: where the state store is, and moving it to a PostgreSQL server."""
from __future__ import annotations

import typer

from nbapipe.cli import JSON_HELP, app, emit_json, fail, out

state_app = typer.Typer(no_args_is_help=True, help="The state store (ledger, leases, bus, orchestrator records): "
                        "SQLite in the home, or PostgreSQL with --state / NBAPIPE_STATE_URL.")
app.add_typer(state_app, name="state")


@state_app.command("info")
def info(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Backend, location, schema version and row counts of the state store."""
    from nbapipe.state.store import declared_columns, display, exists
    ws = ctx.obj.ws
    location = ws.settings.state_location
    if not exists(location):
        fail(f"no state store at {display(location)}: run `nbapipe ingest` (or `nbapipe quickstart`) first")
    st = ws.state
    r = {"backend": st.kind, "location": st.location, "schema_version": st.schema_version(),
         "duckdb_host": st.get_meta("duckdb_host"),
         "rows": {t: st.scalar(f"SELECT count(*) FROM {t}") for t in declared_columns()}}
    if as_json:
        emit_json(r)
        return
    out.print(f"{r['backend']} state store at {r['location']} (schema version {r['schema_version']})")
    if r["duckdb_host"]:
        out.print(f"DuckDB warehouse written on host {r['duckdb_host']}")
    for t, n in r["rows"].items():
        out.print(f"  {t:<18} {n:>9,}")


@state_app.command("copy")
def copy(ctx: typer.Context,
         to: str = typer.Option(..., "--to", help="The postgresql:// URL to copy this home's state into (its tables are emptied first)."),
         as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Copy the home's state (state.sqlite, or the --state store) into another store: a home
    that grows from one machine to several keeps its ledger, calendar and history."""
    from nbapipe.state.postgres import copy_store
    from nbapipe.state.store import connect, display, exists, is_url
    ws = ctx.obj.ws
    src = ws.settings.state_location
    if not is_url(to):
        fail(f"--to takes a postgresql:// URL, got {to!r}")
    if not exists(src):
        fail(f"no state store at {display(src)} to copy")
    if display(src) == display(to):
        fail("--to is the store being copied")
    dst = connect(to)
    try:
        counts = copy_store(ws.state, dst)
    finally:
        dst.close()
    if as_json:
        emit_json({"from": display(src), "to": display(to), "rows": counts})
        return
    out.print(f"copied {sum(counts.values()):,} rows in {len(counts)} tables from {display(src)} to {display(to)}")


@state_app.command("claim-warehouse")
def claim_warehouse(ctx: typer.Context):
    """Make this host the one that writes the home's DuckDB warehouse (after moving it here).
    Only a shared (PostgreSQL) state store records which host that is."""
    from nbapipe.config import host_name
    ws = ctx.obj.ws
    st = ws.state
    if st.kind == "sqlite":
        fail("the state store is the home's state.sqlite: the warehouse is written wherever the home is")
    before = st.get_meta("duckdb_host")
    with st.tx() as con:
        st.set_meta(con, "duckdb_host", host_name())
    out.print(f"the DuckDB warehouse is now written on host {host_name()}" + (f" (was {before})" if before else ""))
