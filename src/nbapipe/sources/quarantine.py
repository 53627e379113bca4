"""The quarantine as a repair tool (`nbapipe quarantine list | explain | drop`).

nba_raw.quarantine holds every row a loader refused, with file, line, reason (the contract
rule's name first where a rule refused it) and the raw row as JSON; nba_raw.contract_corrections
the rows a rule corrected. Listing groups them by file, loader and rule; explaining shows a rule's
description and the rows it caught; dropping forgets a file: its quarantined rows and, with
`loaded`, the rows it loaded and its ingest record (as if it had never been ingested).
"""
from __future__ import annotations

from nbapipe.sources import contracts
from nbapipe.warehouse import Warehouse

RULE_OF_REASON = ("CASE WHEN regexp_matches(reason, '^[a-z_0-9]+: ') THEN split_part(reason, ':', 1) "
                  "ELSE regexp_replace(reason, ' ?[:(].*$', '') END")


def summary(wh: Warehouse, file: str | None = None) -> list[dict]:
    """Quarantined and corrected rows per file, loader and rule."""
    where, params = ("WHERE source_file = ?", [file, file]) if file else ("", [])
    return wh.rows(f"""
        SELECT source_file, loader, rule, sum(quarantined) AS quarantined, sum(corrected) AS corrected,
               min(example) AS example
        FROM (SELECT source_file, loader, {RULE_OF_REASON} AS rule, 1 AS quarantined, 0 AS corrected,
                     'line ' || line || ': ' || reason AS example FROM nba_raw.quarantine {where}
              UNION ALL
              SELECT source_file, loader, rule, 0, 1, 'line ' || line || ': ' || detail
              FROM nba_raw.contract_corrections {where})
        GROUP BY ALL ORDER BY source_file, loader, rule""", params)


def explain(wh: Warehouse, what: str, file: str | None = None, line: int | None = None,
            limit: int = 5) -> dict:
    """A rule (by name) with its description and the rows it caught; or, with `file` and
    `line`, that quarantined row with its reasons and raw values."""
    if line is not None:
        rows = wh.rows("SELECT source_file, loader, target_table, line, reason, raw_row FROM nba_raw.quarantine "
                       "WHERE source_file = ? AND line = ? ORDER BY loader", [file or what, line])
        return {"file": file or what, "line": line, "rows": rows}
    rules = [r for r in contracts.all_rules() if r["rule"] == what or
             (r["rule"] == "range_<column>" and what.startswith("range_"))]
    caught = wh.rows(f"""
        SELECT source_file, loader, line, reason, raw_row FROM nba_raw.quarantine
        WHERE {RULE_OF_REASON} = ? ORDER BY source_file, line LIMIT ?""", [what, limit])
    corrected = wh.rows("""
        SELECT source_file, loader, line, detail FROM nba_raw.contract_corrections
        WHERE rule = ? ORDER BY source_file, line LIMIT ?""", [what, limit])
    counts = wh.rows(f"""
        SELECT (SELECT count(*) FROM nba_raw.quarantine WHERE {RULE_OF_REASON} = ?) AS quarantined,
               (SELECT count(*) FROM nba_raw.contract_corrections WHERE rule = ?) AS corrected""", [what, what])[0]
    return {"rule": what, "definitions": rules, **counts, "examples": caught, "corrections": corrected}


def drop(wh: Warehouse, file: str, loaded: bool = False) -> dict:
    """Forget `file`'s quarantined rows (and corrections); with `loaded`, also the rows it
    loaded into the raw tables and its ingest record."""
    out = {"file": file,
           "quarantine_rows": wh.scalar("DELETE FROM nba_raw.quarantine WHERE source_file = ?", [file]) or 0,
           "corrections": wh.scalar("DELETE FROM nba_raw.contract_corrections WHERE source_file = ?", [file]) or 0,
           "raw_rows": {}}
    if loaded:
        tables = [r[0] for r in wh.tuples(
            "SELECT table_schema || '.' || table_name FROM information_schema.columns "
            "WHERE table_schema IN ('nba_raw', 'nba_reference') AND column_name = 'source_file' "
            "AND table_name NOT IN ('quarantine', 'contract_corrections', 'ingested_files') ORDER BY 1")]
        for t in tables:
            n = wh.scalar(f"DELETE FROM {t} WHERE source_file = ?", [file]) or 0
            if n:
                out["raw_rows"][t] = n
        out["ingest_records"] = wh.scalar("DELETE FROM nba_raw.ingested_files WHERE source_file = ?", [file]) or 0
    return out
