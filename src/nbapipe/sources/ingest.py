"""`nbapipe ingest`: walk a folder, recognise each file by its header or JSON shape, load it
atomically, then rebuild the reference tables and the calendar copy."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nbapipe.sources import IngestError, Loader, LoadResult, all_loaders, loader_by_name
from nbapipe.sources.base import (csv_header, file_sha256, read_csv_text, read_head, read_json,
                                  records_table, register_team_aliases)
from nbapipe.warehouse import Warehouse, ensure_schema

DATA_SUFFIXES = (".csv", ".csv.gz", ".json", ".json.gz", ".gz", ".txt", ".tsv")


@dataclass
class FileOutcome:
    path: str
    status: str                      # loaded | unchanged | unrecognised | refused | not_data
    loaders: list[LoadResult] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"path": self.path, "status": self.status, "message": self.message,
                "seconds": round(self.seconds, 3), "loaders": [l.as_dict() for l in self.loaders]}


@dataclass
class Recognised:
    path: Path
    loaders: list[Loader]
    header: list[str] | None = None
    document: object = None


def _is_data_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in DATA_SUFFIXES)


def recognise(path: Path, fmt: str | None = None) -> Recognised | None:
    """Which loaders take this file (by header columns or JSON shape, never by name).
    None when no loader recognises it; IngestError when it is recognised but unusable."""
    head = read_head(path)
    stripped = head.lstrip()
    if stripped.startswith(("{", "[")):
        doc = read_json(path)
        candidates = [loader_by_name(fmt)] if fmt else [l for l in all_loaders() if l.kind == "json"]
        chosen = [l for l in candidates if l.matches and _safe_match(l, doc)]
        if fmt and not chosen:
            raise IngestError(path, f"does not have the JSON shape of format {fmt}")
        return Recognised(path, chosen, document=doc) if chosen else None
    header = csv_header(head)
    if not header:
        return None
    cols = set(header)
    if fmt:
        candidates = [loader_by_name(fmt)]
    else:
        candidates = [l for l in all_loaders() if l.kind == "csv" and l.signature
                      and l.signature <= cols and not (l.absent & cols)]
    if not candidates:
        return None
    for l in candidates:
        missing = sorted(l.required_sources() - cols)
        if missing:
            raise IngestError(path, f"recognised as {l.name} but required column(s) missing: "
                                    f"{', '.join(missing)}")
    return Recognised(path, candidates, header=header)


def _safe_match(loader: Loader, doc: object) -> bool:
    try:
        return bool(loader.matches(doc))
    except (KeyError, TypeError, IndexError, AttributeError):
        return False


def walk(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def ingest(wh: Warehouse, inputs: list[Path], *, fmt: str | None = None, force: bool = False,
           on_file: Callable[[FileOutcome], None] | None = None, replace: bool = False) -> list[FileOutcome]:
    """Load every recognised file under `inputs`. Refused files leave the warehouse unchanged
    and are reported; they do not stop the others."""
    ensure_schema(wh)
    register_team_aliases(wh)
    outcomes: list[FileOutcome] = []
    plan: list[Recognised] = []
    for root in inputs:
        for path in walk(root):
            if not _is_data_file(path) and not fmt:
                outcomes.append(FileOutcome(str(path), "not_data", message="not a data file (skipped)"))
                continue
            try:
                r = recognise(path, fmt)
            except IngestError as e:
                outcomes.append(FileOutcome(str(path), "refused", message=e.problem))
                continue
            if r is None:
                outcomes.append(FileOutcome(str(path), "unrecognised",
                                            message="no loader recognises its header or shape (skipped)"))
            else:
                plan.append(r)
    for o in outcomes:
        if on_file:
            on_file(o)
    plan.sort(key=lambda r: (min(l.order for l in r.loaders), str(r.path)))
    for r in plan:
        outcome = load_file(wh, r, force=force, replace=replace)
        outcomes.append(outcome)
        if on_file:
            on_file(outcome)
    return outcomes


def load_file(wh: Warehouse, r: Recognised, force: bool = False, replace: bool = False) -> FileOutcome:
    t0 = time.perf_counter()
    path = r.path
    sha = file_sha256(path)
    todo = [l for l in r.loaders if force or replace or not _already_loaded(wh, sha, l)]
    if not todo:
        return FileOutcome(str(path), "unchanged", [LoadResult(l.name, l.table, skipped_unchanged_file=True)
                                                   for l in r.loaders],
                           message="identical content already ingested", seconds=time.perf_counter() - t0)
    try:
        tables = {}
        for l in todo:
            if l.kind == "csv":
                if "csv" not in tables:
                    tables["csv"] = read_csv_text(path, r.header)
                tables[l.name] = tables["csv"]
            else:
                tables[l.name] = records_table(l.records(r.document))
        results = []
        with wh.transaction():
            for l in todo:
                res = l.load(wh, tables[l.name], path, sha, replace=replace)
                results.append(res)
                # This content's record, and that of an earlier version of the same file.
                wh.execute("DELETE FROM nba_raw.ingested_files WHERE (source_sha256 = ? OR source_file = ?) "
                           "AND loader = ?", [sha, str(path), l.name])
                wh.execute("INSERT INTO nba_raw.ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                           [str(path), sha, l.name, l.version, res.rows_read, res.inserted, res.updated,
                            res.unchanged, res.filtered, res.quarantined])
    except IngestError as e:
        return FileOutcome(str(path), "refused", message=e.problem, seconds=time.perf_counter() - t0)
    except Exception as e:  # a loader bug or a file DuckDB cannot take: refuse the file, keep going
        return FileOutcome(str(path), "refused", message=f"{e.__class__.__name__}: {e}",
                           seconds=time.perf_counter() - t0)
    return FileOutcome(str(path), "loaded", results, seconds=time.perf_counter() - t0)


def _already_loaded(wh: Warehouse, sha: str, loader: Loader) -> bool:
    """Identical content was loaded by this loader version, and none of its rows wait for
    another input (rows quarantined because their game was not yet in the schedule are
    retried on every ingest until they load)."""
    return bool(wh.scalar(
        "SELECT count(*) FROM nba_raw.ingested_files f WHERE f.source_sha256 = ? AND f.loader = ? "
        "AND f.loader_version = ? AND NOT EXISTS (SELECT 1 FROM nba_raw.quarantine q "
        "WHERE q.source_sha256 = f.source_sha256 AND q.loader = f.loader "
        "AND q.reason LIKE '%(ingest the schedule first)%')", [sha, loader.name, loader.version]))


@dataclass
class IngestSummary:
    outcomes: list[FileOutcome]
    reference: dict
    tables: dict[str, int]
    seconds: float
    # Per raw table, per ISO date: rows this ingest inserted or changed (Phase 2 completions).
    changed: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def refused(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "refused"]

    def as_dict(self) -> dict:
        return {"files": [o.as_dict() for o in self.outcomes], "reference": self.reference,
                "tables": self.tables, "seconds": round(self.seconds, 2),
                "refused": len(self.refused),
                "quarantined": sum(l.quarantined for o in self.outcomes for l in o.loaders)}


def run_ingest(ws, inputs: list[Path], *, fmt: str | None = None, force: bool = False,
               on_file: Callable[[FileOutcome], None] | None = None,
               on_wait: Callable[[dict], None] | None = None, replace: bool = False) -> IngestSummary:
    """Ingest under the warehouse lease, then rebuild nba_reference and the calendar copy."""
    from nbapipe.calendar import build_calendar, copy_to_state
    from nbapipe.config import engine_name, spark_warehouse
    from nbapipe.engines.mirror import mirror_tables
    from nbapipe.sources.registry import rebuild_reference
    t0 = time.perf_counter()
    with ws.writer("ingest", on_wait=on_wait) as wh:
        since = wh.scalar("SELECT CAST(now() AS TIMESTAMP)")
        outcomes = ingest(wh, inputs, fmt=fmt, force=force, on_file=on_file, replace=replace)
        with wh.transaction():
            reference = rebuild_reference(wh)
            build_calendar(wh, ws.settings.bootstrap_days)
        copy_to_state(wh, ws.state)
        if engine_name() == "spark":
            # Spark workers, on any host, read the raw tables from the Spark warehouse: refresh
            # it before the completions go out (DuckDB writes the Parquet; no Spark needed).
            mirror_tables(wh, spark_warehouse(ws.home))
        tables = raw_table_counts(wh)
        changed = changed_dates(wh, since)
    return IngestSummary(outcomes, reference, tables, time.perf_counter() - t0, changed)


def changed_dates(wh: Warehouse, since) -> dict[str, dict[str, int]]:
    """Rows inserted or changed since `since` per raw table and date: loaders stamp
    ingested_at only on rows they insert or whose values differ."""
    names = [r["t"] for r in wh.rows(
        "SELECT table_schema || '.' || table_name AS t FROM information_schema.columns "
        "WHERE table_schema = 'nba_raw' AND column_name IN ('game_date', 'ingested_at') "
        "GROUP BY 1 HAVING count(*) = 2 ORDER BY 1")]
    out: dict[str, dict[str, int]] = {}
    for t in names:
        per_date = {d.isoformat(): n for d, n in wh.tuples(
            f"SELECT game_date, count(*) FROM {t} WHERE ingested_at >= ? AND game_date IS NOT NULL "
            f"GROUP BY 1", [since])}
        if per_date:
            out[t] = per_date
    return out


def raw_table_counts(wh: Warehouse) -> dict[str, int]:
    names = [r["t"] for r in wh.rows(
        "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables "
        "WHERE table_schema IN ('nba_raw', 'nba_reference') AND table_type = 'BASE TABLE' ORDER BY 1")]
    return {t: wh.scalar(f"SELECT count(*) FROM {t}") for t in names}
