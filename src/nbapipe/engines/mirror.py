"""Raw and reference tables made available to Spark from the same loaders: the loaders write DuckDB
as always (one ingestion code path), and before a Spark run every nba_raw / nba_reference table
is copied to Parquet under the Spark warehouse, `<schema>/<table>/data.parquet`.

These mirrors are replaced whole, not by slice (a loader may change any date), and only when
the table's content signature (row count and a sum of row hashes) changed since the last copy.
A copy is written beside the old one and swapped in by rename, so a reader never sees half."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from nbapipe.warehouse import Warehouse

MIRRORED_SCHEMAS = ("nba_raw", "nba_reference")
MANIFEST = "_mirror.json"


def mirror_tables(wh: Warehouse, root: Path) -> list[str]:
    """Copy changed raw/reference tables from DuckDB to Parquet under `root`; returns their names."""
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    copied = []
    for table in _tables(wh):
        sig = _signature(wh, table)
        target = root.joinpath(*table.split("."))
        if manifest.get(table) == sig and (target / "data.parquet").exists():
            continue
        _copy(wh, table, target)
        manifest[table] = sig
        copied.append(table)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return copied


def _tables(wh: Warehouse) -> list[str]:
    marks = ",".join("?" * len(MIRRORED_SCHEMAS))
    return [f"{s}.{t}" for s, t in wh.tuples(
        f"SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_schema IN ({marks}) ORDER BY 1, 2", list(MIRRORED_SCHEMAS))]


def _signature(wh: Warehouse, table: str) -> str:
    n, h = wh.tuples(f"SELECT count(*), sum(hash(x)) FROM {table} x")[0]
    return f"{n}:{h}"


def _copy(wh: Warehouse, table: str, target: Path) -> None:
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # COPY takes no bound file name; the path is ours (the warehouse folder), quotes escaped.
    path = str(staging / "data.parquet").replace("'", "''")
    wh.execute(f"COPY (SELECT * FROM {table}) TO '{path}' (FORMAT parquet)")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
