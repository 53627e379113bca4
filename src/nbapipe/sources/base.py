"""The loader contract and the one set-based load path every loader shares.

A loader is declarative (dlt-style): which file it recognises (CSV header columns or JSON
shape), which raw table it writes, and how each target column is computed from the source
text (see columns.py). `Loader.load` then, in SQL over the whole file at once:
  1. types every column and collects the reasons a row is bad,
  2. drops rows outside the loader's scope (counted as filtered, e.g. preseason),
  3. sends bad rows and in-file duplicate keys to nba_raw.quarantine with file, line, reason,
  4. upserts the good rows on the table's natural key: new keys inserted, changed rows
     updated, identical rows left alone (re-ingesting the same content changes nothing).
The caller wraps a whole file in one transaction, so a file loads completely or not at all.
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from nbapipe import ids
from nbapipe.sources import contracts
from nbapipe.sources.columns import Col, q
from nbapipe.warehouse import Warehouse, table_keys

META_COLUMNS = ("data_source", "source_file", "ingested_at")


class IngestError(Exception):
    """A recognised file that cannot be loaded at all; the warehouse stays unchanged for it."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class LoadResult:
    loader: str
    table: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    filtered: int = 0
    quarantined: int = 0
    corrected: int = 0               # rows a contract rule corrected before loading
    removed: int = 0                 # rows of an earlier version of the file it replaced
    skipped_unchanged_file: bool = False
    # Rows per rule: {rule: {"quarantined" | "corrected" | "filtered": n}}. Contract rules
    # (sources/contracts.py) go by their names; other quarantine reasons by the stem of the
    # row's first reason ("text in number column pts").
    rules: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        """Rows now in the table as the file has them (new, updated or already identical)."""
        return self.inserted + self.updated + self.unchanged

    def count_rule(self, rule: str, kind: str, n: int) -> None:
        if n:
            counts = self.rules.setdefault(rule, {})
            counts[kind] = counts.get(kind, 0) + n

    def as_dict(self) -> dict:
        return {**self.__dict__, "rules": {k: dict(v) for k, v in self.rules.items()}, "loaded": self.loaded}


@dataclass
class Loader:
    name: str
    family: str                                   # written to data_source
    table: str                                    # nba_raw.<production name>
    columns: dict[str, Col]                       # stage 1: typed columns (helper names start with _)
    derived: dict[str, str] = field(default_factory=dict)   # stage 2: SQL over stage-1 columns
    # Stage 2b: window columns over stage-2 columns, derived ones included. DuckDB partitions
    # by a column much faster than by an expression: derive the expression first.
    windows: dict[str, str] = field(default_factory=dict)
    join: str = ""                                # stage 2 join (stage 1 is aliased s1)
    where: str | None = None                      # stage 2 scope filter; NULL counts as in scope
    checks: list[tuple[str, str]] = field(default_factory=list)  # stage 2 (condition, reason SQL)
    signature: frozenset[str] = frozenset()       # CSV: these header columns identify the format
    absent: frozenset[str] = frozenset()          # CSV: ... and these must not be there
    optional: frozenset[str] = frozenset()        # source columns used when present, NULL otherwise
    matches: Callable[[Any], bool] | None = None  # JSON: shape test on the parsed document
    records: Callable[[Any], list[dict]] | None = None  # JSON: document -> flat records
    nullable_key: frozenset[str] = frozenset()    # key columns allowed to be NULL (matched null-safe)
    # A file that must be reshaped first (e.g. long to wide): one SELECT over `_file` (the file
    # as text, with __line) whose output the column specs read; source_columns are the file
    # columns it needs (for the required-column check). Counts are of the reshaped records.
    source_sql: str | None = None
    source_columns: frozenset[str] = frozenset()
    order: int = 50                               # load order within an ingest (schedules first)
    version: int = 1                              # bump when the mapping changes (forces reload)
    description: str = ""

    @property
    def kind(self) -> str:
        return "json" if self.matches else "csv"

    @property
    def key(self) -> tuple[str, ...]:
        return table_keys()[self.table]

    @property
    def identity(self) -> tuple[str, ...]:
        """What identifies this source's row (upsert and in-file duplicates): ids where the
        source has them, never an attribute it may correct (contracts.IDENTITY)."""
        return contracts.identity(self.table, self.family, self.key)

    def required_sources(self) -> set[str]:
        if self.source_sql:
            return set(self.source_columns)
        used: set[str] = set()
        for c in self.columns.values():
            used |= c.sources()
        return used - set(self.optional)

    # --- the load ------------------------------------------------------------------------
    def load(self, wh: Warehouse, src: pa.Table, path: Path, sha: str,
             unparsed: list[tuple[int | None, str, str]] = (), replace: bool = False) -> LoadResult:
        """Load `src`; `unparsed` are the file's lines that are not records (quarantined).
        `replace`: the file's rows replace, for every game it covers, the rows this loader
        loaded from any file (`ingest --replace`); without it only the rows an earlier version
        of the same file left (same path, other content) are replaced."""
        if self.source_sql:
            src = self._reshape(wh, src)
        res = LoadResult(self.name, self.table, rows_read=src.num_rows + len(unparsed))
        for col in self.optional - set(src.column_names):
            src = src.append_column(col, pa.nulls(src.num_rows, pa.string()))
        con = wh.con
        con.register("src", src)
        try:
            contracts.prepare_schedule(wh, self.table)
            self._stage(wh)
            self._mark_duplicates(wh)
            staged = _staged_counts(wh)
            # Contract rules that mark rows count them here; their quarantines are counted
            # with every other reason below, by each row's first reason.
            for rule, kind, _ in contracts.ROW_MARKS:
                res.count_rule(rule, kind, staged.marked[rule])
            res.corrected = sum(c.get("corrected", 0) for c in res.rules.values())
            contracts.record_corrections(wh, self.table, str(path), sha, self.name, res.corrected)
            res.filtered = staged.filtered
            res.quarantined = self._quarantine(wh, path, sha, sum(staged.rules.values()))
            res.quarantined += _quarantine_unparsed(wh, self, path, sha, unparsed)
            for rule, n in staged.rules.items():
                res.count_rule(rule, "quarantined", n)
            for _, reason, _ in unparsed:
                res.count_rule(reason.split(":")[0], "quarantined", 1)
            res.inserted, res.updated, res.unchanged = self._upsert(wh, path, staged.good)
            res.removed = self._replace(wh, path, replace)
            _check_accounted(path, res)
        finally:
            # In a transaction aborted by a failed statement unregister fails too: never let
            # that error replace the real one.
            with contextlib.suppress(duckdb.Error):
                con.unregister("src")
        return res

    def stage_columns(self) -> set[str]:
        return set(self.columns) | set(self.derived) | set(self.windows)

    def _reshape(self, wh: Warehouse, src: pa.Table) -> pa.Table:
        wh.con.register("_file", src)
        try:
            return wh.con.sql(self.source_sql).to_arrow_table()
        finally:
            with contextlib.suppress(duckdb.Error):
                wh.con.unregister("_file")

    def _stage(self, wh: Warehouse) -> None:
        """_stage2: the file's rows typed, derived and checked against the contracts, in one
        statement: its layers are CTEs that DuckDB runs as one pipeline, with no table in
        between and no statement per rule. A row's __reasons are those of its first failing
        layer: bad cells, loader checks, missing keys, contract rules (contracts.row_rule_layers);
        duplicate keys are marked after (_mark_duplicates)."""
        texts, sel, checks, joins = "", [], [], {}
        for name, col in self.columns.items():
            joins.update(dict.fromkeys(col.joins()))
            if col.src:                    # (an Sql column has no text of its own)
                texts += f", {col.text} AS {q('__t_' + name)}"
                col = col.reading(q("__t_" + name))
            sel.append(f"{col.expr()} AS {q(name)}")
            checks += col.checks(name)
        derived = "".join(f", {expr} AS {q(name)}" for name, expr in self.derived.items())
        key_cols = dict.fromkeys((*self.identity, *self.key))
        key_checks = [(f"{q(k)} IS NULL", f"'could not determine key column {k}'")
                      for k in key_cols if k not in ("data_source", *self.nullable_key)]
        scope = f"coalesce({self.where}, true)" if self.where else "true"
        windows = "".join(f", {expr} AS {q(name)}" for name, expr in self.windows.items())
        layers = [
            ("_texts", f"SELECT *{texts} FROM src"),
            ("_stage1", f"SELECT __line, {', '.join(sel)}, {_reason_list(checks)} AS __reasons "
                        f"FROM _texts {' '.join(joins)}"),
            ("_stage2_raw", f"SELECT s1.*{derived}, {_reason_list(self.checks)} AS __more FROM _stage1 s1 {self.join}"),
            ("_windowed", f"SELECT *{windows} FROM _stage2_raw"),
            ("_staged", f"SELECT * EXCLUDE (__more) REPLACE (CASE WHEN len(__reasons) > 0 THEN __reasons "
                        f"WHEN len(__more) > 0 THEN __more ELSE {_reason_list(key_checks)} END AS __reasons), "
                        f"{scope} AS __in_scope FROM _windowed"),
        ]
        layers += contracts.row_rule_layers(self.table, self.stage_columns(), layers[-1][0])
        ctes = ", ".join(f"{name} AS ({sql})" for name, sql in layers)
        wh.execute(f"CREATE OR REPLACE TEMP TABLE _stage2 AS WITH {ctes} SELECT * FROM {layers[-1][0]}")

    def _mark_duplicates(self, wh: Warehouse) -> None:
        # On the source identity (what the upsert matches) and on the table key (unique).
        self._mark_duplicates_on(wh, self.identity)
        if set(self.identity) != {k for k in self.key if k != "data_source"}:
            self._mark_duplicates_on(wh, self.key)

    def _mark_duplicates_on(self, wh: Warehouse, key: tuple[str, ...]) -> None:
        keys = ", ".join(q(k) for k in key if k != "data_source")
        wh.execute(f"""
            UPDATE _stage2 SET __reasons = ['duplicate key (' || {_key_text(key)} ||
                                            ') first seen at line ' || d.__first_line]
            FROM (SELECT __line AS __dup_line, min(__line) OVER (PARTITION BY {keys}) AS __first_line
                  FROM _stage2 WHERE __in_scope AND len(__reasons) = 0) d
            WHERE _stage2.__line = d.__dup_line AND d.__dup_line <> d.__first_line""")

    def _quarantine(self, wh: Warehouse, path: Path, sha: str, n: int) -> int:
        """The file's `n` bad rows for this loader, replacing those of an earlier load of the
        same content or of an earlier version of the same file (a row that loads now, e.g.
        once its game is in the schedule, leaves)."""
        wh.execute("DELETE FROM nba_raw.quarantine WHERE (source_sha256 = ? OR source_file = ?) AND loader = ?",
                   [sha, str(path), self.name])
        if n:
            wh.execute("""
                INSERT INTO nba_raw.quarantine
                SELECT ?, ?, ?, ?, s.__line, array_to_string(s.__reasons, '; '),
                       CAST(to_json(src) AS VARCHAR), now()
                FROM _stage2 s JOIN src ON src.__line = s.__line
                WHERE s.__in_scope AND len(s.__reasons) > 0""", [str(path), sha, self.name, self.table])
        return n

    def _upsert(self, wh: Warehouse, path: Path, good: int) -> tuple[int, int, int]:
        table_cols = set(wh.columns(self.table))
        stage_cols = [c for c in [*self.columns, *self.derived, *self.windows]
                      if c in table_cols and c not in META_COLUMNS]
        keys = list(self.identity)
        values = [c for c in stage_cols if c not in keys]
        # A view, not a copy: the statements below read the good rows of _stage2 directly.
        wh.execute(f"CREATE OR REPLACE TEMP VIEW _good AS SELECT {', '.join(q(c) for c in stage_cols)} "
                   "FROM _stage2 WHERE __in_scope AND len(__reasons) = 0")
        match = " AND ".join(f"t.{q(k)} IS NOT DISTINCT FROM g.{q(k)}" for k in keys) + " AND t.data_source = ?"
        differs = " OR ".join(f"t.{q(c)} IS DISTINCT FROM g.{q(c)}" for c in values) or "false"
        updated = wh.scalar(f"""
            UPDATE {self.table} t SET {', '.join(f'{q(c)} = g.{q(c)}' for c in values)}
                {',' if values else ''} source_file = ?, ingested_at = now()
            FROM _good g WHERE {match} AND ({differs})""", [str(path), self.family]) or 0
        inserted = wh.scalar(f"""
            INSERT INTO {self.table} ({', '.join(q(c) for c in stage_cols)}, data_source, source_file, ingested_at)
            SELECT {', '.join('g.' + q(c) for c in stage_cols)}, ?, ?, now() FROM _good g
            WHERE NOT EXISTS (SELECT 1 FROM {self.table} t WHERE {match})""",
                              [self.family, str(path), self.family]) or 0
        return inserted, updated, good - inserted - updated

    def _replace(self, wh: Warehouse, path: Path, replace_games: bool) -> int:
        """Delete this source's rows that the file's new content no longer has: those an
        earlier version of the same file loaded (the same path, or a file of the same name
        elsewhere, for the games this one covers: a corrected export saved in another folder)
        and, with `replace_games`, those any file of this loader loaded for the games the file
        covers. After bad-then-corrected ingests the table then holds what a clean ingest of
        the corrected file gives, even where the correction changed a key column (a snapshot
        time that was missing, then given)."""
        keys = list(self.identity)
        match = " AND ".join(f"t.{q(k)} IS NOT DISTINCT FROM g.{q(k)}" for k in keys)
        game = "nba_game_id" if "nba_game_id" in keys else "game_id"
        scope = "t.source_file = ?"
        params: list = [self.family, str(path)]
        if game in self.stage_columns():
            if replace_games:
                files = "SELECT source_file FROM nba_raw.ingested_files WHERE loader = ?"
                file_params = [self.name]
            else:
                files = ("SELECT source_file FROM nba_raw.ingested_files WHERE loader = ? "
                         "AND regexp_extract(source_file, '[^/]+$') = ?")
                file_params = [self.name, path.name]
            scope = f"(t.source_file = ? OR (t.{game} IN (SELECT {game} FROM _good) AND t.source_file IN ({files})))"
            params = [self.family, str(path), *file_params]
        removed = wh.scalar(f"""
            DELETE FROM {self.table} t WHERE t.data_source = ? AND {scope}
              AND NOT EXISTS (SELECT 1 FROM _good g WHERE {match})""", params) or 0
        if replace_games:     # the file now owns its rows, also those another file had identical
            wh.execute(f"UPDATE {self.table} t SET source_file = ? FROM _good g WHERE {match} "
                       f"AND t.data_source = ? AND t.source_file IS DISTINCT FROM ?",
                       [str(path), self.family, str(path)])
        return removed


def _quarantine_unparsed(wh: Warehouse, loader: Loader, path: Path, sha: str,
                         unparsed: list[tuple[int | None, str, str]]) -> int:
    """The lines that are not records (ragged, unbalanced quote), with their text."""
    if unparsed:
        wh.con.executemany(
            "INSERT INTO nba_raw.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, now())",
            [[str(path), sha, loader.name, loader.table, line, reason, json.dumps({"__text": text})]
             for line, reason, text in unparsed])
    return len(unparsed)


# The rule a quarantine reason belongs to: its text before the value (": 'twelve'") and with
# ids and keys left out, so one rule counts every row it caught.
_RULE_OF_REASON = ("CASE WHEN r LIKE 'duplicate key%' THEN 'duplicate key' "
                   "ELSE regexp_replace(split_part(r, ':', 1), '[0-9]{5,}', '<id>', 'g') END")


@dataclass
class _Staged:
    rules: dict[str, int]          # quarantined rows per rule
    filtered: int                  # rows out of scope
    good: int                      # rows to load
    marked: dict[str, int]         # rows per contracts.ROW_MARKS rule


def _staged_counts(wh: Warehouse) -> _Staged:
    """What _stage2 holds, in one scan: quarantined rows per rule (each row by its first
    reason), filtered and good rows, and the rows each contract mark caught."""
    marks = "".join(f", count(*) FILTER (WHERE {cond})" for _, _, cond in contracts.ROW_MARKS)
    rows = wh.tuples(f"""
        SELECT {_RULE_OF_REASON} AS rule, count(*) FILTER (WHERE NOT __in_scope),
               count(*) FILTER (WHERE __in_scope AND len(__reasons) = 0),
               count(*) FILTER (WHERE __in_scope AND len(__reasons) > 0){marks}
        FROM (SELECT *, CASE WHEN __in_scope AND len(__reasons) > 0 THEN __reasons[1] END AS r FROM _stage2)
        GROUP BY rule ORDER BY rule""")
    staged = _Staged({}, 0, 0, {rule: 0 for rule, _, _ in contracts.ROW_MARKS})
    for rule, filtered, good, quarantined, *marked in rows:
        if rule is not None:
            staged.rules[rule] = quarantined
        staged.filtered += filtered
        staged.good += good
        for (name, _, _), n in zip(contracts.ROW_MARKS, marked):
            staged.marked[name] += n
    return staged


def _check_accounted(path: Path, res: LoadResult) -> None:
    """Every row read is loaded, filtered out of scope, or quarantined: nothing vanishes."""
    accounted = res.loaded + res.filtered + res.quarantined
    if accounted != res.rows_read:
        raise IngestError(path, f"{res.loader} read {res.rows_read:,} rows but accounts for {accounted:,} "
                                f"(loaded {res.loaded:,}, filtered {res.filtered:,}, quarantined "
                                f"{res.quarantined:,})")


def _reason_list(checks: list[tuple[str, str]]) -> str:
    if not checks:
        return "CAST([] AS VARCHAR[])"
    items = ", ".join(f"CASE WHEN {cond} THEN {reason} END" for cond, reason in checks)
    return f"list_filter([{items}], lambda x: x IS NOT NULL)"


def _key_text(key: tuple[str, ...]) -> str:
    parts = [f"coalesce(CAST({q(k)} AS VARCHAR), '')" for k in key if k != "data_source"]
    return " || ', ' || ".join(parts)


# --- reading files ---------------------------------------------------------------------------

def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_gzip(path: Path) -> bool:
    """Whether the file is gzip-compressed (its signature, not its name). A file named .gz
    without the signature is refused as "not gzip" rather than read as text."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return True
    if path.name.lower().endswith(".gz") and magic:
        raise IngestError(path, f"not gzip: named .gz but does not start with the gzip signature "
                                f"(first bytes {magic.hex(' ')})")
    return False


def open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def read_head(path: Path, size: int = 64 * 1024) -> str:
    """The first characters of a (possibly gzipped) text file; raises IngestError when the
    file is not readable text."""
    try:
        with open_text(path) as f:
            return f.read(size)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise IngestError(path, f"cannot decompress/read ({e.__class__.__name__}: {e})") from e
    except UnicodeDecodeError as e:
        with (gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")) as raw:
            data = raw.read(size * 4 + 8)
        problem = _not_utf8(data) if data else "not UTF-8 text"
        raise IngestError(path, problem) from e


def csv_header(head: str) -> list[str] | None:
    first = head.splitlines()[0] if head else ""
    if not first or first.lstrip().startswith(("{", "[")):
        return None
    try:
        return [c.strip() for c in next(csv.reader([first]))]
    except (csv.Error, StopIteration):
        return None


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip."""
    try:
        if _is_gzip(path):
            return gzip.decompress(path.read_bytes())
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise IngestError(path, f"cannot decompress/read ({e.__class__.__name__}: {e})") from e


@dataclass
class CsvRecords:
    """A CSV file read as text and counted.

    `table` holds every column as text plus __line (the 1-based line of the record; the header
    is line 1). `unparsed` lists the lines that are not records of the header's shape (ragged
    rows, an unbalanced quote) as (line, reason, text): the loader quarantines them, so a line
    never vanishes. `data_lines` counts the non-blank lines after the header: every one of them
    is either a row of `table` or an entry of `unparsed`."""
    table: pa.Table
    unparsed: list[tuple[int | None, str, str]]
    data_lines: int


def read_csv_records(path: Path, header: list[str]) -> CsvRecords:
    data = read_bytes(path)
    return _parse_counted(path, data, header, [])


def read_csv_text(path: Path, header: list[str]) -> pa.Table:
    """The records as an all-text table (see CsvRecords; unparsed lines are left out)."""
    return read_csv_records(path, header).table


def _parse_counted(path: Path, data: bytes, header: list[str],
                   unparsed: list[tuple[int | None, str, str]]) -> CsvRecords:
    """Parse, then check that every data line is a record or was reported: pyarrow swallows
    the lines after an unbalanced quote into one field without a word, so the count of
    records is compared with the count of lines. Quoted values spanning lines do not occur in
    these sources; a line with an odd number of quotes is quarantined and the rest re-parsed."""
    ragged: list[tuple[str, int]] = []
    table = _pyarrow_csv(path, data, header, ragged)
    fast = _one_record_per_line(data, table, ragged)
    if fast is not None:
        return CsvRecords(fast, unparsed, table.num_rows)
    lines = _LineIndex(data)
    data_rows = lines.data_rows()
    bad = lines.locate([t for t, _ in ragged])
    rows = np.setdiff1d(data_rows, np.array([i for i in bad if i is not None], np.int64))
    if len(rows) == table.num_rows and None not in bad:
        for (text, fields), idx in zip(ragged, bad):
            unparsed.append((idx + 1, f"ragged row: {fields} field(s) where the header has {len(header)}", text))
        table = table.append_column("__line", pa.array(rows + 1, pa.int64()))
        n_data = len(data_rows) + sum(1 for u in unparsed if u[1].startswith("unbalanced quote"))
        return CsvRecords(table, sorted(unparsed, key=lambda u: u[0] or 0), n_data)
    # A "ragged row" that is no line of the file spans lines: a quote opened and not closed.
    odd = [i for i in lines.odd_quote_lines() if i > 0]
    if not odd or any(u[1].startswith("unbalanced quote") for u in unparsed):
        raise IngestError(path, f"the CSV parser read {table.num_rows:,} records from {len(rows):,} "
                                f"data lines (a quoted value spanning lines?)")
    for i in odd:
        unparsed.append((i + 1, "unbalanced quote (\"): the line is not a record", lines.text(i)))
    return _parse_counted(path, lines.without(odd), header, unparsed)


def _one_record_per_line(data: bytes, table: pa.Table, ragged: list) -> pa.Table | None:
    """The common case, checked without indexing lines: no blank or ragged line, and one
    record per line after the header. None when the slow path must count line by line."""
    if ragged:
        return None
    # One scan: a record needs at least one line and a skipped blank line none, so as many
    # records as lines after the header means one record per line and no blank line.
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines - 1 != table.num_rows:
        return None
    return table.append_column("__line", pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64)))


def _pyarrow_csv(path: Path, data: bytes, header: list[str], ragged: list) -> pa.Table:
    def on_invalid(row) -> str:          # a row with the wrong number of fields
        ragged.append((row.text, row.actual_columns))
        return "skip"
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
        )
    except pa.ArrowInvalid as e:
        msg = str(e)
        if "UTF8" in msg or "utf8" in msg.lower():
            raise IngestError(path, _not_utf8(data)) from e
        raise IngestError(path, f"unparseable CSV: {msg.splitlines()[0]}") from e


def _not_utf8(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return (f"not UTF-8 text: line {line}, byte 0x{data[e.start]:02x} ({e.reason}); "
                f"re-save the file as UTF-8")
    return "not UTF-8 text"


class _LineIndex:
    """Where each physical line of a file starts and ends (numpy over the bytes: fast)."""

    def __init__(self, data: bytes):
        self.data = data
        arr = np.frombuffer(data, np.uint8)
        self.arr = arr
        nl = np.flatnonzero(arr == 10)
        self.nl = nl
        self.starts = np.concatenate(([0], nl + 1)).astype(np.int64)
        self.ends = np.concatenate((nl, [len(data)])).astype(np.int64)
        if len(data) and data.endswith(b"\n"):          # no line after the last newline
            self.starts, self.ends = self.starts[:-1], self.ends[:-1]
        length = self.ends - self.starts
        first = arr[np.minimum(self.starts, max(len(data) - 1, 0))] if len(data) else np.array([], np.uint8)
        self.blank = (length == 0) | ((length == 1) & (first == 13))

    def data_rows(self) -> np.ndarray:
        """0-based indices of the non-blank lines after the header (pyarrow skips blank ones)."""
        return np.flatnonzero(~self.blank[1:]) + 1

    def locate(self, texts: list[str]) -> list[int | None]:
        """The line index of each text (repeats take the next occurrence)."""
        out, after = [], {}
        for t in texts:
            out.append(self._find_line(t.rstrip("\r").encode(), after))
        return out

    def _find_line(self, needle: bytes, after: dict) -> int | None:
        """The next line (after the header) that is exactly `needle` (CR aside)."""
        start = after.get(needle, int(self.ends[0]) if len(self.ends) else 0)
        while True:
            pos = self.data.find(b"\n" + needle, start)
            if pos < 0:
                return None
            end = pos + 1 + len(needle)
            start = end
            if self.data[end:end + 1] in (b"", b"\n") or self.data[end:end + 2] == b"\r\n":
                after[needle] = end
                return int(np.searchsorted(self.nl, pos + 1))

    def odd_quote_lines(self) -> list[int]:
        counts = np.add.reduceat((self.arr == 34).astype(np.int32), self.starts) if len(self.arr) else []
        # reduceat gives a wrong count for empty lines (start == next start): those have no quotes.
        return [int(i) for i in np.flatnonzero((np.asarray(counts) % 2 == 1) & ~self.blank)]

    def text(self, i: int) -> str:
        return self.data[self.starts[i]:self.ends[i]].decode("utf-8", "replace").rstrip("\r")

    def without(self, drop: list[int]) -> bytes:
        """The data with these lines emptied (their newlines kept, so line numbers stay)."""
        parts, pos = [], 0
        for i in sorted(drop):
            parts.append(self.data[pos:self.starts[i]])
            pos = int(self.ends[i])
        parts.append(self.data[pos:])
        return b"".join(parts)


def read_json(path: Path) -> Any:
    try:
        with open_text(path) as f:
            return json.load(f)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise IngestError(path, f"cannot decompress/read ({e.__class__.__name__}: {e})") from e
    except UnicodeDecodeError as e:
        raise IngestError(path, f"not UTF-8 text (byte {e.start}: {e.reason})") from e
    except json.JSONDecodeError as e:
        raise IngestError(path, f"unparseable JSON at line {e.lineno} column {e.colno}: {e.msg}") from e


def records_table(records: list[dict]) -> pa.Table:
    """JSON records as an all-text table; __line is the record number (1-based)."""
    cols: dict[str, list] = {}
    for r in records:
        for k in r:
            cols.setdefault(k, [])
    data = {k: [None if r.get(k) is None else _text(r.get(k)) for r in records] for k in cols}
    table = pa.table({k: pa.array(v, pa.string()) for k, v in data.items()}) if cols else \
        pa.table({"__empty": pa.array([], pa.string())})
    return table.append_column("__line", pa.array(range(1, len(records) + 1), pa.int64()))


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def register_team_aliases(wh: Warehouse) -> None:
    wh.execute("CREATE OR REPLACE TEMP TABLE _team_alias (alias VARCHAR, team_abbr VARCHAR)")
    wh.con.executemany("INSERT INTO _team_alias VALUES (?, ?)", ids.team_aliases())
