"""`nbapipe ingest`: walk a folder, recognise each file by its header or JSON shape, load it
atomically, then rebuild the reference tables and the calendar copy."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nbapipe import config
from nbapipe.sources import IngestError, Loader, LoadResult, all_loaders, loader_by_name
from nbapipe.sources.base import (csv_header, file_sha256, read_csv_records, read_head, read_json,
                                  records_table, register_team_aliases)
from nbapipe.sources.layouts import Layout, closest, fit, recognises, shape
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
    layouts: dict[str, Layout] = field(default_factory=dict)     # CSV: per loader name


class Unrecognised(Exception):
    """No loader takes the file; the message names what the nearest formats would need."""


def _is_data_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in DATA_SUFFIXES)


def recognise(path: Path, fmt: str | None = None) -> Recognised | None:
    """Which loaders take this file (by header columns or JSON shape, never by name).
    None when no loader recognises it; IngestError when it is recognised but unusable."""
    try:
        return _recognise(path, fmt)
    except Unrecognised:
        return None


def _recognise(path: Path, fmt: str | None) -> Recognised:
    head = read_head(path)
    stripped = head.lstrip()
    if not stripped:
        raise IngestError(path, "empty file: no header and no rows")
    if stripped.startswith(("{", "[")):
        doc = read_json(path)
        candidates = [loader_by_name(fmt)] if fmt else [l for l in all_loaders() if l.kind == "json"]
        chosen = [l for l in candidates if l.matches and _safe_match(l, doc)]
        if fmt and not chosen:
            raise IngestError(path, f"does not have the JSON shape of format {fmt}")
        if not chosen:
            raise Unrecognised("no loader recognises its JSON shape")
        return Recognised(path, chosen, document=doc)
    header = csv_header(head)
    if not header:
        raise Unrecognised("neither a CSV header nor JSON")
    csv_loaders = [l for l in all_loaders() if l.kind == "csv"]
    layouts = {l.name: fit(l, header) for l in ([loader_by_name(fmt)] if fmt else csv_loaders)}
    if fmt:
        candidates = [loader_by_name(fmt)]
    else:
        candidates = [l for l in csv_loaders if recognises(l, header, layouts[l.name])]
    if not candidates:
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise Unrecognised(f"no loader recognises its columns ({shown}); the nearest formats: "
                           f"{closest(csv_loaders, header)}")
    for l in candidates:
        if layouts[l.name].missing:
            raise IngestError(path, f"recognised as {l.name} but required column(s) missing: "
                                    f"{', '.join(layouts[l.name].missing)}")
    return Recognised(path, candidates, header=header,
                      layouts={l.name: layouts[l.name] for l in candidates})


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
           accept_partial: bool = False,
           on_file: Callable[[FileOutcome], None] | None = None, replace: bool = False) -> list[FileOutcome]:
    """Load every recognised file under `inputs`. Refused files leave the warehouse unchanged
    and are reported; they do not stop the others. A file named on its own (not found in a
    folder) that no loader takes is refused: it was asked for."""
    ensure_schema(wh)
    register_team_aliases(wh)
    outcomes: list[FileOutcome] = []
    plan: list[Recognised] = []
    for root in inputs:
        named = root.is_file()
        for path in walk(root):
            if not _is_data_file(path) and not fmt and not named:
                outcomes.append(FileOutcome(str(path), "not_data", message="not a data file (skipped)"))
                continue
            try:
                plan.append(_recognise(path, fmt))
            except IngestError as e:
                outcomes.append(FileOutcome(str(path), "refused", message=e.problem))
            except Unrecognised as e:
                outcomes.append(FileOutcome(str(path), "refused" if named else "unrecognised",
                                            message=f"{e} ({'nothing loaded' if named else 'skipped'})"))
    for o in outcomes:
        if on_file:
            on_file(o)
    plan.sort(key=lambda r: (min(l.order for l in r.loaders), str(r.path)))
    for r in plan:
        outcome = load_file(wh, r, force=force, accept_partial=accept_partial, replace=replace)
        outcomes.append(outcome)
        if on_file:
            on_file(outcome)
    return outcomes


def load_file(wh: Warehouse, r: Recognised, force: bool = False,
              accept_partial: bool = False, replace: bool = False) -> FileOutcome:
    t0 = time.perf_counter()
    path = r.path
    sha = file_sha256(path)
    todo = [l for l in r.loaders if force or replace or not _already_loaded(wh, sha, l)]
    if not todo:
        return FileOutcome(str(path), "unchanged", [LoadResult(l.name, l.table, skipped_unchanged_file=True)
                                                   for l in r.loaders],
                           message="identical content already ingested", seconds=time.perf_counter() - t0)
    try:
        inputs = _loader_inputs(wh, r, todo)
        results = []
        with wh.transaction():
            for l in todo:
                table, unparsed = inputs[l.name]
                res = l.load(wh, table, path, sha, unparsed, replace=replace)
                results.append(res)
                # This content's record, and that of an earlier version of the same file.
                wh.execute("DELETE FROM nba_raw.ingested_files WHERE (source_sha256 = ? OR source_file = ?) "
                           "AND loader = ?", [sha, str(path), l.name])
                wh.execute("INSERT INTO nba_raw.ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                           [str(path), sha, l.name, l.version, res.rows_read, res.inserted, res.updated,
                            res.unchanged, res.filtered, res.quarantined])
            problem = completeness_problem(results, accept_partial)
            if problem:
                raise IngestError(path, problem)          # rolls the whole file back
    except IngestError as e:
        return FileOutcome(str(path), "refused", message=e.problem, seconds=time.perf_counter() - t0)
    except Exception as e:  # a loader bug or a file DuckDB cannot take: refuse the file, keep going
        return FileOutcome(str(path), "refused", message=f"{e.__class__.__name__}: {e}",
                           seconds=time.perf_counter() - t0)
    message = _partial_note(results) if accept_partial else ""
    if _waiting(results):
        message = (f"{_waiting(results):,} rows wait for their game in the schedule (ingest the "
                   f"schedule, then this file again) " + message).strip()
    return FileOutcome(str(path), "loaded", results, message=message, seconds=time.perf_counter() - t0)


def _loader_inputs(wh: Warehouse, r: Recognised, todo: list[Loader]) -> dict[str, tuple]:
    """Each loader's table and the lines it quarantines as unparsed. The file's own unparsed
    lines (ragged, unbalanced quote) go to its first loader only, so they count once."""
    out: dict[str, tuple] = {}
    records = None
    for l in todo:
        if l.kind != "csv":
            out[l.name] = (records_table(l.records(r.document)), [])
            continue
        first = records is None
        if first:
            records = read_csv_records(r.path, r.header)
        table, unplaced = shape(wh, records.table, r.layouts.get(l.name) or Layout())
        out[l.name] = (table, (records.unparsed if first else []) + unplaced)
    return out


def completeness_problem(results: list[LoadResult], accept_partial: bool = False) -> str | None:
    """Why a file that parsed must still be refused: it loads nothing, or quarantines more
    than the allowed share of its rows (config.MAX_QUARANTINE_SHARE; --accept-partial)."""
    read = sum(r.rows_read for r in results)
    if read == 0:
        return "no rows: the file has a header but no records (0 rows loaded)"
    loaded = sum(r.loaded for r in results)
    # Rows waiting for their game in the schedule are not bad: they stay in quarantine and load
    # on a later ingest, once the schedule has them (see _already_loaded).
    waiting = _waiting(results)
    quarantined = sum(r.quarantined for r in results) - waiting
    in_scope = read - sum(r.filtered for r in results) - waiting
    if accept_partial and loaded + quarantined + waiting:
        return None
    if loaded == 0 and not quarantined:
        if waiting:
            return None
        return f"0 rows loaded: all {read:,} rows are outside the loader's scope (filtered)"
    if loaded == 0:
        return f"0 rows loaded: all {quarantined:,} rows quarantined ({_top_rules(results)})"
    limit = config.MAX_QUARANTINE_SHARE
    if quarantined > limit * in_scope:
        return (f"{quarantined:,} of {in_scope:,} rows quarantined ({quarantined / in_scope:.0%}, over "
                f"the {limit:.0%} limit; --accept-partial loads the rest): {_top_rules(results)}")
    return None


WAITING_RULE_MARK = "(ingest the schedule first)"


def _waiting(results: list[LoadResult]) -> int:
    return sum(c.get("quarantined", 0) for r in results for rule, c in r.rules.items()
               if WAITING_RULE_MARK in rule)


def _top_rules(results: list[LoadResult], n: int = 3) -> str:
    counts: dict[str, int] = {}
    for r in results:
        for rule, c in r.rules.items():
            counts[rule] = counts.get(rule, 0) + c.get("quarantined", 0)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return "; ".join(f"{rule}: {c:,}" for rule, c in top if c) or "see nba_raw.quarantine"


def _partial_note(results: list[LoadResult]) -> str:
    q = sum(r.quarantined for r in results)
    return f"partial (--accept-partial): {q:,} rows quarantined ({_top_rules(results)})" if q else ""


def _already_loaded(wh: Warehouse, sha: str, loader: Loader) -> bool:
    """Identical content was loaded by this loader version, and none of its rows wait for
    another input (rows quarantined because their game was not yet in the schedule are
    retried on every ingest until they load)."""
    return bool(wh.scalar(
        "SELECT count(*) FROM nba_raw.ingested_files f WHERE f.source_sha256 = ? AND f.loader = ? "
        "AND f.loader_version = ? AND NOT EXISTS (SELECT 1 FROM nba_raw.quarantine q "
        "WHERE q.source_sha256 = f.source_sha256 AND q.loader = f.loader "
        "AND q.reason LIKE '%' || ? || '%')", [sha, loader.name, loader.version, WAITING_RULE_MARK]))


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
               accept_partial: bool = False, on_file: Callable[[FileOutcome], None] | None = None,
               on_wait: Callable[[dict], None] | None = None, replace: bool = False) -> IngestSummary:
    """Ingest under the warehouse lease, then rebuild nba_reference and the calendar copy."""
    from nbapipe.calendar import build_calendar, copy_to_state
    from nbapipe.config import engine_name, spark_warehouse
    from nbapipe.engines.mirror import mirror_tables
    from nbapipe.sources.registry import rebuild_reference
    t0 = time.perf_counter()
    with ws.writer("ingest", on_wait=on_wait) as wh:
        since = wh.scalar("SELECT CAST(now() AS TIMESTAMP)")
        outcomes = ingest(wh, inputs, fmt=fmt, force=force, accept_partial=accept_partial, on_file=on_file,
                          replace=replace)
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
