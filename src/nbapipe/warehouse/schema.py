"""Schemas and DDL, created idempotently; the schema version the code expects."""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from nbapipe.config import SCHEMA_VERSION, SCHEMAS
from nbapipe.warehouse.connection import Warehouse


@lru_cache(maxsize=1)
def _ddl() -> str:
    return resources.files("nbapipe.warehouse").joinpath("schema.sql").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def table_keys() -> dict[str, tuple[str, ...]]:
    """Natural key of every table in schema.sql, from its `-- key:` line."""
    keys: dict[str, tuple[str, ...]] = {}
    pending: tuple[str, ...] | None = None
    for line in _ddl().splitlines():
        m = re.match(r"--\s*key:\s*(.+)$", line.strip())
        if m:
            pending = tuple(c.strip() for c in m.group(1).split(","))
            continue
        m = re.match(r"CREATE TABLE IF NOT EXISTS (\S+)", line.strip())
        if m and pending:
            keys[m.group(1)] = pending
            pending = None
    return keys


def ensure_schema(wh: Warehouse) -> None:
    """Create schemas and tables that do not exist yet, add columns a newer schema.sql
    declares (the migration path: additive only), and record the schema version."""
    if _up_to_date(wh):
        return
    for schema in SCHEMAS:
        wh.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    wh.execute(_ddl())
    _add_missing_columns(wh)
    wh.execute("CREATE TABLE IF NOT EXISTS nba_reference.schema_version "
               "(version INTEGER, applied_at TIMESTAMP)")
    if wh.scalar("SELECT max(version) FROM nba_reference.schema_version") != SCHEMA_VERSION:
        wh.execute("INSERT INTO nba_reference.schema_version VALUES (?, now())", [SCHEMA_VERSION])


@lru_cache(maxsize=1)
def _declared_columns() -> tuple[tuple[str, str, str, str], ...]:
    """The columns schema.sql declares (built once per process: every writer checks them)."""
    import duckdb
    ref = duckdb.connect(":memory:")
    try:
        for schema in SCHEMAS:
            ref.execute(f"CREATE SCHEMA {schema}")
        ref.execute(_ddl())
        return tuple(ref.execute("SELECT table_schema, table_name, column_name, data_type "
                                 "FROM information_schema.columns ORDER BY table_schema, table_name, "
                                 "ordinal_position").fetchall())
    finally:
        ref.close()


def _up_to_date(wh: Warehouse) -> bool:
    """Every table and column schema.sql declares exists and this version is recorded: one
    catalog read (kept for the session's table_exists) instead of the whole DDL script, which
    every writer session ran (~25 ms, and a catalog change that made the next read start over)."""
    if not all(c in wh.columns(f"{s}.{t}") for s, t, c, _ in _declared_columns()):
        return False
    return (wh.table_exists("nba_reference.schema_version")
            and wh.scalar("SELECT max(version) FROM nba_reference.schema_version") == SCHEMA_VERSION)


def _add_missing_columns(wh: Warehouse) -> None:
    have = set(wh.tuples("SELECT table_schema, table_name, column_name FROM information_schema.columns"))
    for schema, table, column, dtype in _declared_columns():
        if (schema, table, column) not in have:
            wh.execute(f'ALTER TABLE {schema}.{table} ADD COLUMN "{column}" {dtype}')


def schema_version(wh: Warehouse) -> int | None:
    if not wh.table_exists("nba_reference.schema_version"):
        return None
    return wh.scalar("SELECT max(version) FROM nba_reference.schema_version")
