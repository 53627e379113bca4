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
    """Create schemas and tables that do not exist yet, and record the schema version."""
    for schema in SCHEMAS:
        wh.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    wh.execute(_ddl())
    wh.execute("CREATE TABLE IF NOT EXISTS nba_reference.schema_version "
               "(version INTEGER, applied_at TIMESTAMP)")
    if wh.scalar("SELECT max(version) FROM nba_reference.schema_version") != SCHEMA_VERSION:
        wh.execute("INSERT INTO nba_reference.schema_version VALUES (?, now())", [SCHEMA_VERSION])


def schema_version(wh: Warehouse) -> int | None:
    if not wh.table_exists("nba_reference.schema_version"):
        return None
    return wh.scalar("SELECT max(version) FROM nba_reference.schema_version")
