"""`nbapipe replay`: the daily loop over a past range, proven equal to the backfill (issue 16).

Three homes under one work folder, all built from one ingest of the data folder:
  staging   the data folder ingested once (every raw row, the reference tables, the calendar)
  live      the replay: its raw tables show only what was visible on the morning of each day
            (sources/cutoffs.py, one rule per raw table); it is warmed with a backfill of the
            history (default: from the previous season's first game; history_start) up to
            the day before the range (on what was visible then), then every day
            of the range reveals that morning's rows (one INSERT ... SELECT per table),
            publishes their Phase 2 completions and runs `daily`; one last morning after the
            range brings its last box scores and grades it
  backfill  the same data, backfilled in one go over the same history up to the range's end
Then every Phase 3-5 table is compared between live and backfill, ignoring only run_id and
*_at columns: identical, or each difference by table, column and date. Players first listed
in a night's box score (not in that date's pre-game universe) are a known, counted difference
of both modes alike: listed, never a failure."""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.config import load_settings
from nbapipe.orchestration.backfill import BackfillError, run_backfill
from nbapipe.orchestration.daily import DailyReport, publish_changed, run_daily
from nbapipe.orchestration.runner import Request
from nbapipe.sources.cutoffs import CUTOFFS
from nbapipe.warehouse import open_warehouse
from nbapipe.workspace import Workspace

IGNORED_TABLES = ("nba_raw.ingested_files", "nba_raw.quarantine")
# A hook run on the morning of a day after the reveal, inside the live home's writer (tests
# inject late and corrected data with it): (warehouse, day) -> {table: {iso date: rows}}.
Hook = Callable[[object, dt.date], dict]


@dataclass
class DayTiming:
    date: str
    reveal_s: float
    daily_s: float
    revealed_rows: int
    report: DailyReport

    @property
    def seconds(self) -> float:
        return self.reveal_s + self.daily_s


@dataclass
class Difference:
    table: str
    column: str          # a column name, or `row` for a row on one side only
    date: str
    rows: int
    note: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class ReplayReport:
    start: str
    end: str
    days: list[DayTiming] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)     # iso date -> players first seen that night
    tables: dict[str, int] = field(default_factory=dict)    # table -> rows compared
    seconds: float = 0.0
    backfill_s: float = 0.0

    @property
    def identical(self) -> bool:
        return not self.differences

    def timing(self) -> dict:
        per = [d.seconds for d in self.days]
        return {"days": len(per), "total_s": round(sum(per), 3),
                "median_s": round(statistics.median(per), 3) if per else 0.0,
                "worst_s": round(max(per), 3) if per else 0.0,
                "worst_date": max(self.days, key=lambda d: d.seconds).date if per else None}

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "identical": self.identical,
                "seconds": round(self.seconds, 2), "backfill_s": round(self.backfill_s, 2),
                "per_day": self.timing(), "tables": self.tables,
                "differences": [d.as_dict() for d in self.differences],
                "known_differences": {"players_first_listed_that_night": sum(self.known.values()),
                                      "by_date": self.known},
                "days": [{"date": d.date, "seconds": round(d.seconds, 3), "revealed_rows": d.revealed_rows,
                          "failed": d.report.failed} for d in self.days]}


def _sqlite_ws(home: Path) -> Workspace:
    """Replay homes keep their state beside their warehouse (never a shared server)."""
    return Workspace(dataclasses.replace(load_settings(home), state_url=None))


def stage(work: Path, data: Path | None, on_note=print) -> Path:
    """The staging home: the data folder ingested once (reused when already there)."""
    from nbapipe.sources.ingest import run_ingest
    staging = work / "staging"
    if (staging / "warehouse.duckdb").exists():
        return staging
    if data is None:
        raise BackfillError("no staging home yet: give --data DIR (the folder to replay)")
    ws = _sqlite_ws(staging)
    try:
        on_note(f"staging: ingesting {data} once into {staging}")
        summary = run_ingest(ws, [data])
        if summary.refused:
            raise BackfillError(f"{len(summary.refused)} file(s) refused while staging: "
                                + "; ".join(f"{o.path}: {o.message}" for o in summary.refused[:3]))
    finally:
        ws.close()
    return staging


def _fresh_copy(staging: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(staging, dest, ignore=shutil.ignore_patterns("*.lock", "models", "inbox", "reports"))
    return dest


def history_start(staging: Path, day: dt.date) -> dt.date:
    """Where the replay's homes start computing by default: the first game of the season
    before `day`'s (or of `day`'s own when the schedule has none earlier). A production home
    holds last season too, and a season's first nights need it: the pre-game universe is each
    team's players of its last games, the first models train on earlier months."""
    ws = _sqlite_ws(staging)
    try:
        cal = Calendar.from_state(ws.state)
    finally:
        ws.close()
    season = cal.seasons.get(cal.season_of(day))
    if not season:
        raise BackfillError(f"{day} is in no season of the staged schedule")
    earlier = [s for s in cal.seasons.values() if s["last_game_date"] < season["first_game_date"]]
    chosen = max(earlier, key=lambda s: s["first_game_date"]) if earlier else season
    return dt.date.fromisoformat(chosen["first_game_date"])


def raw_tables(wh) -> list[str]:
    return [r[0] for r in wh.tuples(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE schema_name = 'nba_raw' ORDER BY 1")
            if r[0] not in IGNORED_TABLES]


def hide_after(wh, day: dt.date) -> None:
    """Keep only what was visible on the morning of `day` (tables without a rule: nothing)."""
    for t in raw_tables(wh):
        cut = CUTOFFS.get(t)
        if cut is None:
            wh.execute(f"DELETE FROM {t}")
        elif cut.rule != "always":
            wh.execute(f"DELETE FROM {t} WHERE NOT coalesce(({cut.visible()}), false)", cut.params(day))


def reveal(wh, staging_db: Path, day: dt.date) -> dict[str, dict[str, int]]:
    """Insert the rows that became visible on the morning of `day` (visible now, not the day
    before), stamped as ingested now. Returns them per table and date (Phase 2 completions)."""
    wh.execute(f"ATTACH '{staging_db}' AS stg (READ_ONLY)")
    changed: dict[str, dict[str, int]] = {}
    try:
        for t, cut in CUTOFFS.items():
            if cut.rule == "always" or not wh.table_exists(t):
                continue
            new = (f"FROM stg.{t} WHERE coalesce(({cut.visible()}), false) "
                   f"AND NOT coalesce(({cut.visible()}), false)")
            params = cut.params(day) + cut.params(day - dt.timedelta(days=1))
            per = {d.isoformat(): n for d, n in wh.tuples(f"SELECT {cut.column}, count(*) {new} GROUP BY 1", params)}
            if not per:
                continue
            cols = wh.columns(t)
            stamp = " REPLACE (CAST(current_timestamp AS TIMESTAMP) AS ingested_at)" if "ingested_at" in cols else ""
            wh.execute(f"INSERT INTO {t} BY NAME SELECT *{stamp} {new}", params)
            # Completions are per game date, and only for dates whose rows are complete (D's
            # inactive list, visible before tip-off, is not D's box score).
            per = {d: n for d, n in per.items() if cut.completes(dt.date.fromisoformat(d), day)}
            if cut.column == "game_date" and per:
                changed[t] = per
    finally:
        wh.execute("DETACH stg")
    return changed


def replay(work: Path, start: dt.date, end: dt.date, data: Path | None = None, *,
           history_from: dt.date | None = None, hook: Hook | None = None, final: Callable[[object], None] | None = None, on_day: Callable[[DayTiming], None] | None = None,
           on_note=print) -> ReplayReport:
    t0 = time.perf_counter()
    if end < start:
        raise BackfillError(f"--end-date {end} is before --start-date {start}")
    staging = stage(work, data, on_note)
    first = history_from or history_start(staging, start)
    if first > start:
        raise BackfillError(f"--history-from {first} is after --start-date {start}")
    report = ReplayReport(start.isoformat(), end.isoformat())

    live = _fresh_copy(staging, work / "live")
    ws = _sqlite_ws(live)
    try:
        with ws.writer("replay: the morning of the first day") as wh:
            hide_after(wh, start)
        if first < start:
            on_note(f"live: warm start, backfill {first}..{start - dt.timedelta(days=1)} on what was visible by {start}")
            _backfill(ws, first, start - dt.timedelta(days=1))
        day = start
        while day <= end + dt.timedelta(days=1):
            t1 = time.perf_counter()
            # One writer session for the morning: the reveal and the day's cycle share one
            # opening of the warehouse (and one checkpoint when it closes).
            with ws.writer(f"replay: the morning of {day}") as wh:
                # The first morning's rows are there since the warm start.
                changed = reveal(wh, staging / "warehouse.duckdb", day) if day > start else {}
                if hook:
                    for t, per in (hook(wh, day) or {}).items():
                        for d, n in per.items():
                            changed.setdefault(t, {})[d] = changed.get(t, {}).get(d, 0) + n
                publish_changed(ws, changed)
                t2 = time.perf_counter()
                # The morning after the range only brings its last box scores and grades them.
                dates = [dt.date.fromisoformat(d) for per in changed.values() for d in per]
                daily = run_daily(ws, day, ingest_inbox=False, pregame=day <= end,
                                  changed_from=min(dates, default=None))
            # The day's time includes closing the session (its checkpoint).
            timing = DayTiming(day.isoformat(), t2 - t1, time.perf_counter() - t2,
                               sum(n for per in changed.values() for n in per.values()), daily)
            report.days.append(timing)
            if on_day:
                on_day(timing)
            day += dt.timedelta(days=1)
    finally:
        ws.close()

    t3 = time.perf_counter()
    bws = _sqlite_ws(_fresh_copy(staging, work / "backfill"))
    try:
        if final:        # the data as it ended up (late and corrected rows the hook brought)
            with bws.writer("replay: the data as it ended up") as wh:
                final(wh)
        on_note(f"backfill: {first}..{end} in one run on the same data")
        _backfill(bws, first, end)
    finally:
        bws.close()
    report.backfill_s = time.perf_counter() - t3
    compare(live, work / "backfill", first, end, report)
    report.seconds = time.perf_counter() - t0
    return report


def _backfill(ws, first: dt.date, last: dt.date) -> None:
    dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rep = run_backfill(ws, Request(dates=dates, phases=[3, 4, 5], command="replay",
                                   skip_downstream_trigger=True))
    if rep.failed:
        raise BackfillError(f"{len(rep.failed)} unit(s) failed in the backfill: "
                            + "; ".join(f"{r.processor} {r.game_date}: {r.error}" for r in rep.failed[:3]))


# --- the comparison --------------------------------------------------------------------------

def compare(live: Path, backfill: Path, first: dt.date, last: dt.date, report: ReplayReport) -> None:
    with open_warehouse(None) as wh:
        wh.execute(f"ATTACH '{live / 'warehouse.duckdb'}' AS live (READ_ONLY)")
        wh.execute(f"ATTACH '{backfill / 'warehouse.duckdb'}' AS back (READ_ONLY)")
        for p in registry.all_processors().values():
            report.differences += _table_differences(wh, p, first, last, report)
        report.known = {d.isoformat(): n for d, n in wh.tuples(
            "SELECT s.game_date, count(*) FROM live.nba_analytics.player_game_summary s "
            "WHERE s.game_date BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM live.nba_analytics.upcoming_player_game_context u "
            "WHERE u.game_date = s.game_date AND u.player_lookup = s.player_lookup) GROUP BY 1 ORDER BY 1",
            [first, last])}


def _table_differences(wh, p, first, last, report: ReplayReport) -> list[Difference]:
    schema, name = p.table.split(".")
    # A table's columns in each home; none: the table does not exist there.
    side_cols = {side: [r[0] for r in wh.tuples(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? AND table_name = ? "
        "ORDER BY column_index", [side, schema, name])] for side in ("live", "back")}
    if not any(side_cols.values()):     # computed by neither (every date of the range skipped)
        report.tables[p.table] = 0
        return []
    if not all(side_cols.values()):
        only = "only in the replay" if side_cols["live"] else "only in the backfill"
        return [Difference(p.table, "table", f"{first}..{last}", 0, f"the table exists {only}")]
    cols = [c for c in side_cols["back"] if c != "run_id" and not c.endswith("_at")]
    values = [c for c in cols if c not in p.key]
    sc = p.slice_column
    where = f"{sc} BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)"
    report.tables[p.table] = wh.scalar(f"SELECT count(*) FROM back.{p.table} WHERE {where}", [first, last])
    keys = ", ".join(p.key)
    on = " AND ".join(f"a.{k} = b.{k}" for k in p.key)
    out: list[Difference] = []
    for side, other, note in (("live", "back", "only in the replay"), ("back", "live", "only in the backfill")):
        for d, n in wh.tuples(f"SELECT {sc}, count(*) FROM (SELECT {keys} FROM {side}.{p.table} WHERE {where} "
                              f"EXCEPT SELECT {keys} FROM {other}.{p.table} WHERE {where}) GROUP BY 1 ORDER BY 1",
                              [first, last, first, last]):
            out.append(Difference(p.table, "row", d.isoformat(), n, note))
    if values:
        diff_cols = ", ".join(f"count(*) FILTER (WHERE a.{c} IS DISTINCT FROM b.{c}) AS {c}" for c in values)
        for r in wh.rows(f"SELECT a.{sc} AS d, {diff_cols} FROM live.{p.table} a JOIN back.{p.table} b ON {on} "
                         f"WHERE a.{where} GROUP BY 1 ORDER BY 1", [first, last]):
            out += [Difference(p.table, c, r["d"].isoformat(), r[c]) for c in values if r[c]]
    return out
