"""`nbapipe verify`: is a backfilled range complete and sound? Every problem is named with its
table and dates; no games and bootstrap skips are never problems.

Checks, each one set-based query per table over the whole range:
  missing         expected dates without rows (why, from the ledger)
  bootstrap_rows  rows on bootstrap dates of a processor that skips them
  off_calendar    rows on dates without scheduled games
  row_mismatch    the table's rows for a date differ from what the ledger recorded
  duplicate_keys  a key written twice
  failed/partial  the ledger's latest outcome
  critical        columns NULL or zero where they should not be (cascade contamination:
                  e.g. usage rate NULL because team possessions were missing upstream)
  implausible     spot checks of values (points, minutes, usage rate, ratings)"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass

from nbapipe import processors as registry
from nbapipe.engines import Engine, engine_session
from nbapipe.sources.contracts import suspect_dates
from nbapipe.state import ledger
from nbapipe.validation.coverage import dates_with_rows, processor_coverage, window
from nbapipe.validation.preflight import load_calendar
from nbapipe.workspace import Workspace


@dataclass(frozen=True)
class Rule:
    """A row-level rule: `bad` is a SQL condition true on a row that breaks it."""
    table: str
    name: str
    bad: str
    kind: str = "critical"


@dataclass(frozen=True)
class Spot:
    """A range-level spot check: `expr` over the range's rows must lie in [lo, hi]."""
    table: str
    name: str
    expr: str
    lo: float
    hi: float
    min_rows: int = 50


# The phases the guide's backfill jobs fill (`checks` looks at their state); `verify` checks
# every phase that has processors unless told otherwise.
GUIDE_PHASES = (3, 4)

PGS, TOGS, TDGS = "nba_analytics.player_game_summary", "nba_analytics.team_offense_game_summary", "nba_analytics.team_defense_game_summary"
UPGC, UTGC = "nba_analytics.upcoming_player_game_context", "nba_analytics.upcoming_team_game_context"
TDZA, PSZA = "nba_precompute.team_defense_zone_analysis", "nba_precompute.player_shot_zone_analysis"
PCF, PDC, MLFS = "nba_precompute.player_composite_factors", "nba_precompute.player_daily_cache", "nba_predictions.ml_feature_store"

# Columns that must be filled wherever their inputs exist. A missing optional input (shot
# zones, lines) legitimately gives NULL with a flag, so those columns are not listed.
RULES = (
    Rule(PGS, "points NULL for a player who played", "NOT is_dnp AND points IS NULL"),
    Rule(PGS, "minutes_played NULL for a player who played", "NOT is_dnp AND minutes_played IS NULL"),
    Rule(PGS, "usage_rate NULL or zero with minutes and possessions used",
         "minutes_played > 0 AND (usage_rate IS NULL OR (usage_rate = 0 AND fg_attempts + ft_attempts + turnovers > 0))"),
    Rule(TOGS, "possessions NULL or zero", "possessions IS NULL OR possessions = 0"),
    Rule(TOGS, "points_scored NULL or zero", "points_scored IS NULL OR points_scored = 0"),
    Rule(TDGS, "defensive_rating NULL or zero", "defensive_rating IS NULL OR defensive_rating = 0"),
    Rule(TDGS, "points_allowed NULL or zero", "points_allowed IS NULL OR points_allowed = 0"),
    Rule(UTGC, "game_number_in_season NULL or zero", "game_number_in_season IS NULL OR game_number_in_season = 0"),
    Rule(UPGC, "points_avg_last_10 NULL after games played", "games_played_season > 0 AND points_avg_last_10 IS NULL"),
    Rule(TDZA, "defensive_rating NULL or zero", "defensive_rating IS NULL OR defensive_rating = 0"),
    Rule(TDZA, "opp_points_per_game NULL or zero", "opp_points_per_game IS NULL OR opp_points_per_game = 0"),
    Rule(PSZA, "attempts_per_game_last_10 NULL after games played", "games_last_10 > 0 AND attempts_per_game_last_10 IS NULL"),
    Rule(PCF, "pace_score NULL", "pace_score IS NULL"),
    Rule(PCF, "opponent_pace_last_10 NULL or zero", "opponent_pace_last_10 IS NULL OR opponent_pace_last_10 = 0"),
    Rule(PDC, "points_avg_season NULL", "points_avg_season IS NULL"),
    Rule(PDC, "team_pace_last_10 NULL or zero", "team_pace_last_10 IS NULL OR team_pace_last_10 = 0"),
    Rule(MLFS, "opponent_def_rating NULL or zero", "opponent_def_rating IS NULL OR opponent_def_rating = 0"),
    Rule(MLFS, "opponent_pace NULL or zero", "opponent_pace IS NULL OR opponent_pace = 0"),
    Rule(MLFS, "team_pace NULL or zero", "team_pace IS NULL OR team_pace = 0"),
    Rule(MLFS, "feature_quality_score NULL or zero", "feature_quality_score IS NULL OR feature_quality_score = 0"),
    # Plausible values (the NBA record is 81 points; four overtimes make 68 minutes).
    Rule(PGS, "points outside 0..100", "points < 0 OR points > 100", "implausible"),
    Rule(PGS, "minutes_played outside 0..70", "minutes_played < 0 OR minutes_played > 70", "implausible"),
    Rule(PGS, "usage_rate outside 0..80 with 10+ minutes", "minutes_played >= 10 AND (usage_rate < 0 OR usage_rate > 80)", "implausible"),
    Rule(TOGS, "pace outside 70..140", "pace < 70 OR pace > 140", "implausible"),
    Rule(TOGS, "points_scored outside 50..200", "points_scored < 50 OR points_scored > 200", "implausible"),
    Rule(PDC, "points_avg_season outside 0..60", "points_avg_season < 0 OR points_avg_season > 60", "implausible"),
    Rule(MLFS, "feature_quality_score outside 0..100", "feature_quality_score < 0 OR feature_quality_score > 100", "implausible"),
)

SPOTS = (
    Spot(PGS, "mean points of players who played", "avg(points) FILTER (WHERE NOT is_dnp)", 6, 16),
    Spot(PGS, "mean minutes of players who played", "avg(minutes_played) FILTER (WHERE NOT is_dnp)", 15, 30),
    Spot(PGS, "mean usage_rate with 10+ minutes", "avg(usage_rate) FILTER (WHERE minutes_played >= 10)", 15, 25),
    Spot(TOGS, "mean team points", "avg(points_scored)", 90, 130),
)


@dataclass
class Problem:
    kind: str
    table: str
    dates: list[str]
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def verify(ws: Workspace, start: dt.date, end: dt.date, phases: list[int] | None = None,
           engine: str | None = None) -> dict:
    """Every problem of [start, end] (raises WarehouseBusy while a writer has the file). The
    tables are read on `engine` (--engine, else the home's setting): the one that wrote them."""
    cal = load_calendar(ws)
    phases = phases or registry.phases()
    procs = [p for p in registry.all_processors().values() if p.phase in phases]
    latest = ledger.latest(ws.state, start=start, end=end, processors=[p.name for p in procs])
    # Only processor outputs are read: Spark needs no fresh copy of the raw tables.
    with ws.reader() as duck, engine_session(ws, duck, engine, mirror=False) as wh:
        coverage = processor_coverage(ws.state, cal, start, end, phases=phases, wh=wh)
        if wh.name != "duckdb":
            _other_engine_reasons(coverage, duck, start, end)
        problems = _coverage_problems(coverage, latest) + _ledger_problems(latest, procs)
        for p in procs:
            if wh.table_exists(p.table):
                problems += _duplicates(wh, p, start, end) + _rules(wh, p, start, end) + _spots(wh, p, start, end)
        # The ingest contracts' table rules over the raw tables: dates whose inputs are suspect.
        problems += [Problem(**x) for x in suspect_dates(duck, start, end)]
    return {**window(cal, start, end), "phases": phases, "ok": not problems,
            "problems": [x.as_dict() for x in problems],
            "tables": [{k: t[k] for k in ("table", "processor", "phase", "expected", "present", "rows")}
                       for t in coverage]}


def _coverage_problems(coverage: list[dict], latest: list[dict]) -> list[Problem]:
    failed = {(r["processor"], r["game_date"]) for r in latest if r["status"] == "failed"}
    out = []
    for t in coverage:
        # A failed unit is reported once, with its error, by _ledger_problems.
        missing = [d for d in t["missing"] if (t["processor"], d) not in failed]
        by_reason: dict[str, list[str]] = {}
        for d in missing:
            by_reason.setdefault(t["missing_reasons"][d], []).append(d)
        for reason, ds in by_reason.items():
            out.append(Problem("missing", t["table"], ds, f"{len(ds)} expected date(s) without rows: {reason}"))
        if t["bootstrap_rows"]:
            out.append(Problem("bootstrap_rows", t["table"], sorted(t["bootstrap_rows"]),
                               f"{sum(t['bootstrap_rows'].values())} rows inside the bootstrap window, which "
                               f"{t['processor']} skips (written with --include-bootstrap?)"))
        if t["off_calendar_rows"]:
            out.append(Problem("off_calendar", t["table"], sorted(t["off_calendar_rows"]),
                               f"{sum(t['off_calendar_rows'].values())} rows on dates without scheduled games"))
        for d, n in sorted(t["row_mismatches"].items()):
            out.append(Problem("row_mismatch", t["table"], [d],
                               f"{n['table']} rows in the table, {n['ledger']} recorded by the ledger: changed since the run"))
    return out


def _other_engine_reasons(coverage: list[dict], duck, start: dt.date, end: dt.date) -> None:
    """A date the ledger recorded as done but that has no rows on the engine read here was, when
    the DuckDB warehouse has its rows, built on the other engine (the ledger is shared, the
    tables are not): say so instead of "deleted since?"."""
    for t in coverage:
        done = [d for d in t["missing"] if "ledger recorded success" in t["missing_reasons"][d]]
        if not done:
            continue
        p = registry.get(t["processor"])
        there = {d.isoformat() for d in dates_with_rows(duck, t["table"], start, end, p.slice_column)}
        for d in done:
            if d in there:
                t["missing_reasons"][d] = ("built on the other engine: the DuckDB warehouse has these rows and the "
                                           "Spark tables do not (verify with --engine duckdb, or backfill with "
                                           "--engine spark --no-resume)")


def _ledger_problems(latest: list[dict], procs) -> list[Problem]:
    tables = {p.name: p.table for p in procs}
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in latest:
        if r["status"] in ("failed", "partial"):
            why = ((r["error"] or r["detail"] or "").splitlines() or [""])[0]
            groups.setdefault((r["status"], r["processor"], why), []).append(r["game_date"])
    return [Problem(status, tables[proc], ds, f"{proc} {status} on {len(ds)} date(s): {why}")
            for (status, proc, why), ds in groups.items()]


def _duplicates(wh: Engine, p, start: dt.date, end: dt.date) -> list[Problem]:
    key = ", ".join(p.key)
    rows = wh.tuples(f"""
        SELECT {p.slice_column}, count(*) FROM (
            SELECT {key}, {p.slice_column} FROM {p.table} WHERE {p.slice_column} BETWEEN ? AND ?
            GROUP BY ALL HAVING count(*) > 1) GROUP BY 1 ORDER BY 1""", [start, end])
    if not rows:
        return []
    return [Problem("duplicate_keys", p.table, [d.isoformat() for d, _ in rows],
                    f"{sum(n for _, n in rows)} keys ({key}) written more than once")]


def _rules(wh: Engine, p, start: dt.date, end: dt.date) -> list[Problem]:
    cols = set(wh.columns(p.table))
    rules = [r for r in RULES if r.table == p.table and _uses_only(r.bad, cols)]
    if not rules:
        return []
    counts = ", ".join(f"count(*) FILTER (WHERE {r.bad}) AS r{i}" for i, r in enumerate(rules))
    per_date = wh.tuples(f"SELECT {p.slice_column}, {counts} FROM {p.table} "
                         f"WHERE {p.slice_column} BETWEEN ? AND ? GROUP BY 1 ORDER BY 1", [start, end])
    out = []
    for i, r in enumerate(rules):
        hits = [(row[0], row[i + 1]) for row in per_date if row[i + 1]]
        if hits:
            out.append(Problem(r.kind, p.table, [d.isoformat() for d, _ in hits],
                               f"{r.name}: {sum(n for _, n in hits)} rows on {len(hits)} date(s)"))
    return out


def _spots(wh: Engine, p, start: dt.date, end: dt.date) -> list[Problem]:
    cols = set(wh.columns(p.table))
    spots = [s for s in SPOTS if s.table == p.table and _uses_only(s.expr, cols)]
    if not spots:
        return []
    values = wh.tuples(f"SELECT count(*), {', '.join(s.expr for s in spots)} FROM {p.table} "
                       f"WHERE {p.slice_column} BETWEEN ? AND ?", [start, end])[0]
    if values[0] < min(s.min_rows for s in spots):
        return []            # too few rows for a mean to say anything
    return [Problem("implausible", p.table, [], f"{s.name} is {v:.2f}, outside {s.lo}..{s.hi}")
            for s, v in zip(spots, values[1:]) if v is not None and not s.lo <= v <= s.hi]


def _uses_only(sql: str, cols: set[str]) -> bool:
    """A rule applies only when its table has every column it names (schemas evolve)."""
    words = set(re.findall(r"[a-z_][a-z0-9_]*", sql.lower()))
    keywords = {"and", "or", "not", "is", "null", "avg", "filter", "where", "count"}
    return words - keywords <= cols
