"""The ingest mutation corpus (issue 15): real files, mutated as a user's files arrive, each
ingested in place of its clean original.

Every case declares the mutation, the exit code, a phrase of the message a user reads (the
refusal, or the first quarantine reason), the quarantine rules it expects and the dates whose
raw rows differ from a clean ingest (the dates the bad rows touch). For each case the mutated
file is ingested into a small home that holds the schedule and the corpus's other files but
not the file's clean original (a copy of a per-session base home), and compared with the same
base plus the clean file:
  - the exit code and the message;
  - every good row loaded: the table has the clean rows minus the bad ones, or, for a refused
    file, the warehouse is unchanged (nothing from the file, nothing quarantined);
  - the rules named in nba_raw.quarantine, with file and line;
  - the dates whose raw rows differ from the clean ingest are exactly the declared ones.
The row-level cases of the box-score files (rows quarantined, repeated or corrected to the
schedule) then run a Phase 3 backfill over the season and assert the dates whose Phase 3 rows
or statuses differ from the clean home's are exactly the dates the bad rows touch (none for a
row corrected to the schedule or a repeat quarantined beside its original).

The bbref files are cut to two months of 2022-23 (January and February 2023) and the
all-markets file to three snapshots, so that the corpus stays within a couple of minutes.
A subset is then healed: the corrected original, ingested after the bad file (from another
folder, under the same name), must leave the raw tables equal to a clean ingest.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Callable

import duckdb
import pytest

from conftest import backfill, copy_home

pytestmark = pytest.mark.realdata

SEASON_DATES = ("2022-10-01", "2023-06-30")        # the 2022-23 season
WINDOW = ("2023-01-01", "2023-02-28")              # the bbref files' rows kept for the corpus
PLAYER_TABLE = "nba_raw.nbac_gamebook_player_stats"
TEAM_TABLE = "nba_raw.nbac_team_boxscore"
POINTS_TABLE = "nba_raw.odds_api_player_points_props"
PROPS_TABLE = "nba_raw.odds_api_player_props"
# Columns that may differ between two ingests of the same rows, or two runs of a processor.
META = ("source_file", "ingested_at", "run_id", "processed_at")


# --- the corpus files ---------------------------------------------------------------------------

@dataclasses.dataclass
class CsvFile:
    """A CSV file as header + rows (lists of text), and its text form."""
    header: list[str]
    rows: list[list[str]]

    @classmethod
    def read(cls, path: Path, keep: Callable[[dict], bool] = lambda r: True) -> "CsvFile":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = [r for r in reader if keep(dict(zip(header, r)))]
        return cls(header, rows)

    @classmethod
    def from_bytes(cls, data: bytes) -> "CsvFile":
        rows = list(csv.reader(io.StringIO(gzip.decompress(data).decode(), newline="")))
        return cls(rows[0], rows[1:])

    def col(self, name: str) -> int:
        return self.header.index(name)

    def copy(self) -> "CsvFile":
        return CsvFile(list(self.header), [list(r) for r in self.rows])

    def text(self, newline: str = "\n") -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=newline).writerows([self.header, *self.rows])
        return buf.getvalue()

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def on(self, date: str, column: str = "game_date") -> list[int]:
        """Indices of the rows on `date`."""
        i = self.col(column)
        return [k for k, r in enumerate(self.rows) if r[i] == date]


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text, mtime=0)


@dataclasses.dataclass
class Source:
    """One corpus file: where its clean copy is, the table it loads, its date column there."""
    name: str
    clean: CsvFile
    table: str
    extra_tables: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table, *self.extra_tables)


def _sources(data_dir: Path) -> dict[str, Source]:
    season = lambda r: WINDOW[0] <= r["game_date"] <= WINDOW[1]
    return {
        "player_box": Source("player_box.csv.gz", CsvFile.read(data_dir / "bbref/player_box.csv.gz", season),
                             PLAYER_TABLE),
        "team_box": Source("team_box.csv.gz", CsvFile.read(data_dir / "bbref/team_box.csv.gz", season),
                           TEAM_TABLE),
        "threes": Source("player_threes.csv.gz", CsvFile.read(data_dir / "props/player_threes_2025_26.csv.gz"),
                         PROPS_TABLE),
        "points_2024": Source("player_points_2024.csv.gz",
                              CsvFile.read(data_dir / "props/player_points_2024_odds_api.csv.gz"), POINTS_TABLE),
        # Three daily snapshots of the all-markets file: points, assists, rebounds, threes, ...
        "all_markets": Source("all_markets.csv.gz", CsvFile.read(
            data_dir / "props/all_markets_2025_26_snapshots.csv.gz",
            lambda r: r["snapshot_utc"][:10] in ("2025-10-21", "2025-10-22", "2025-10-23")),
            POINTS_TABLE, (PROPS_TABLE,)),
    }


# --- mutations: CsvFile -> file bytes ----------------------------------------------------------

def unbalanced_quote(f: CsvFile) -> bytes:
    """One `"` opening the player field of the first row of 2023-01-20 (pyarrow used to
    swallow every line after it into that field, silently)."""
    lines = f.lines()
    k = f.on("2023-01-20")[0] + 1
    player = f.rows[k - 1][f.col("player")]
    lines[k] = lines[k].replace("," + player + ",", ',"' + player + ",", 1)
    return gz("\n".join(lines) + "\n")


def empty(f: CsvFile) -> bytes:
    return gz(b"")


def header_only(f: CsvFile) -> bytes:
    return gz(f.lines()[0] + "\n")


def set_cells(column: str, value: str, where: Callable[[CsvFile], list[int]]):
    def mutate(f: CsvFile) -> bytes:
        g = f.copy()
        for k in where(g):
            g.rows[k][g.col(column)] = value
        return gz(g.text())
    return mutate


def every_row(f: CsvFile) -> list[int]:
    return list(range(len(f.rows)))


def first_rows_on(date: str, n: int):
    return lambda f: f.on(date)[:n]


def game_rows(date: str):
    """The rows of the first game (by NBA id) of `date`: both teams."""
    def where(f: CsvFile) -> list[int]:
        first = f.rows[f.on(date)[0]][f.col("nba_game_id")]
        return [k for k in f.on(date) if f.rows[k][f.col("nba_game_id")] == first]
    return where


def team_rows(date: str):
    """One team's rows in the first game of `date`."""
    def where(f: CsvFile) -> list[int]:
        rows = game_rows(date)(f)
        team = f.rows[rows[0]][f.col("team")]
        return [k for k in rows if f.rows[k][f.col("team")] == team]
    return where


def unknown_team(date: str):
    """One team's rows of a game with a code that is no NBA team ('XYZ')."""
    def mutate(f: CsvFile) -> bytes:
        g = f.copy()
        for k in team_rows(date)(g):
            g.rows[k][g.col("team")] = g.rows[k][g.col("team_nba")] = "XYZ"
        return gz(g.text())
    return mutate


def opponent_is_team(date: str):
    """One team row of a game that names its own team as the opponent (home = away)."""
    def mutate(f: CsvFile) -> bytes:
        g = f.copy()
        k = team_rows(date)(g)[0]
        g.rows[k][g.col("opponent")] = g.rows[k][g.col("team")]
        return gz(g.text())
    return mutate


def bom(f: CsvFile) -> bytes:
    return gz(b"\xef\xbb\xbf" + f.text().encode())


def latin1(f: CsvFile) -> bytes:
    """The file re-saved as Latin-1 (names such as 'Nikola Jokić' lose their accents' bytes)."""
    return gz(f.text().encode("latin-1", errors="replace"))


def crlf(f: CsvFile) -> bytes:
    return gz(f.text(newline="\r\n"))


def reorder_columns(f: CsvFile) -> bytes:
    order = list(reversed(range(len(f.header))))
    g = CsvFile([f.header[i] for i in order], [[r[i] for i in order] for r in f.rows])
    return gz(g.text())


def extra_column(f: CsvFile) -> bytes:
    g = CsvFile(f.header + ["scraped_by"], [r + ["bot 7"] for r in f.rows])
    return gz(g.text())


def drop_columns(*names: str):
    def mutate(f: CsvFile) -> bytes:
        keep = [i for i, c in enumerate(f.header) if c not in names]
        return gz(CsvFile([f.header[i] for i in keep], [[r[i] for i in keep] for r in f.rows]).text())
    return mutate


def us_dates_on(date: str):
    """One date's rows written MM/DD/YYYY."""
    def mutate(f: CsvFile) -> bytes:
        g = f.copy()
        y, m, d = date.split("-")
        for k in g.on(date):
            g.rows[k][g.col("game_date")] = f"{m}/{d}/{y}"
        return gz(g.text())
    return mutate


def duplicate_rows(date: str, n: int):
    def mutate(f: CsvFile) -> bytes:
        g = f.copy()
        g.rows += [list(g.rows[k]) for k in g.on(date)[:n]]
        return gz(g.text())
    return mutate


def long_field(f: CsvFile) -> bytes:
    """A 200,000-character value in a column no loader reads (a scraper's stray page dump)."""
    g = f.copy()
    g.rows[g.on("2023-02-01")[0]][g.col("bpm")] = "x" * 200_000
    return gz(g.text())


def junk_lines(f: CsvFile) -> bytes:
    """A separator line, a blank line and a footer inside the file."""
    lines = f.lines()
    lines.insert(3000, "-" * 40)
    lines.insert(6000, "")
    lines.append("Total rows: %d" % len(f.rows))
    return gz("\n".join(lines) + "\n")


def ragged_row(date: str):
    def mutate(f: CsvFile) -> bytes:
        lines = f.lines()
        k = f.on(date)[0] + 1
        lines[k] = ",".join(lines[k].split(",")[:10])
        return gz("\n".join(lines) + "\n")
    return mutate


def random_bytes(f: CsvFile) -> bytes:
    return random.Random(15).randbytes(4096)


def truncated_gzip(f: CsvFile) -> bytes:
    data = gz(f.text())
    return data[: len(data) // 2]


def long_layout(f: CsvFile) -> bytes:
    """The wide 2024 points file as one row per side: `side` Over/Under, `american_odds`."""
    over, under = f.col("over_odds"), f.col("under_odds")
    keep = [i for i in range(len(f.header)) if i not in (over, under)]
    rows = []
    for r in f.rows:
        base = [r[i] for i in keep]
        rows.append(base + ["Over", r[over]])
        rows.append(base + ["Under", r[under]])
    return gz(CsvFile([f.header[i] for i in keep] + ["side", "american_odds"], rows).text())


def with_market_column(f: CsvFile) -> bytes:
    """The 2024 points file exported with a `market` column and Odds-API names, its first 500
    lines repeated as assists lines: the points rows must load as before, the assists rows into
    the all-markets table, none as points."""
    g = CsvFile([EXPORT_NAMES.get(c, c) for c in f.header] + ["market"],
                [r + ["player_points"] for r in f.rows] + [r + ["player_assists"] for r in f.rows[:500]])
    return gz(g.text())


EXPORT_NAMES = {"event_id": "odds_api_event_id", "over_odds": "over_price", "under_odds": "under_price",
                "game_time": "commence_time"}


def odds_api_export(f: CsvFile) -> bytes:
    """The all-markets snapshots as an Odds-API export names them."""
    return gz(CsvFile([EXPORT_NAMES.get(c, c) for c in f.header], f.rows).text())


# --- the cases ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    id: str
    source: str                          # key of _sources()
    mutate: Callable[[CsvFile], bytes]
    exit: int
    message: str                         # in the refusal, else in the first quarantine reason
    rules: frozenset[str] = frozenset()  # quarantine rules expected (exit 0)
    dates: frozenset[str] = frozenset()  # dates whose raw rows differ from the clean ingest
    bad_rows: int | Callable[[CsvFile], int] = 0   # rows of the clean file that do not load
    quarantined: int | None = None       # quarantine rows, when not bad_rows (junk lines, repeats)
    fmt: str | None = None
    same_except: tuple[str, ...] = ()    # columns allowed to differ from the clean rows
    phase3: bool = False                 # also compare a Phase 3 backfill of the season
    subprocess: bool = False             # run `nbapipe ingest` as a separate process
    imputed: bool = False                # every snapshot time stands in for a missing one
    corrected: int | Callable[[CsvFile], int] = 0   # rows corrected to the schedule (contract_corrections)
    # (processor, date, text): that Phase 3 unit is partial and its detail names the gap.
    phase3_gap: Callable[[CsvFile], tuple[str, str, str]] | None = None
    other_rows: dict[str, int] = dataclasses.field(default_factory=dict)   # rows in tables the clean file leaves empty


def _ds(*d: str) -> frozenset[str]:
    return frozenset(d)


ALL = frozenset({"*"})                   # every date of the file
CASES = [
    Case("unbalanced_quote", "player_box", unbalanced_quote, 0, 'unbalanced quote (")',
         frozenset({'unbalanced quote (")'}), _ds("2023-01-20"), bad_rows=1, phase3=True, subprocess=True),
    Case("empty_file", "player_box", empty, 1, "empty file", dates=ALL),
    Case("empty_file_with_format", "team_box", empty, 1, "empty file", dates=ALL, fmt="bbref_team_box"),
    Case("header_only", "player_box", header_only, 1, "no rows: the file has a header but no records",
         dates=ALL, subprocess=True),
    Case("all_rows_bad", "team_box", set_cells("pts", "n/a", every_row), 1,
         "rows quarantined (text in number column pts: ", dates=ALL),
    Case("mostly_bad", "team_box", set_cells("fga", "?", lambda f: every_row(f)[:len(f.rows) * 6 // 10]), 1,
         "rows quarantined (60%, over the 50% limit; --accept-partial loads the rest)", dates=ALL),
    Case("bom", "player_box", bom, 0, ""),
    Case("latin1", "player_box", latin1, 1, "not UTF-8 text: line ", dates=ALL),
    Case("crlf", "team_box", crlf, 0, ""),
    Case("reordered_columns", "player_box", reorder_columns, 0, ""),
    Case("extra_column", "team_box", extra_column, 0, ""),
    Case("missing_optional_columns", "player_box", drop_columns("usg_pct", "plus_minus"), 0, "",
         same_except=("bbref_usage_rate", "plus_minus")),
    Case("missing_required_column", "player_box", drop_columns("pts"), 1,
         "recognised as bbref_player_box but required column(s) missing: pts", dates=ALL),
    Case("numbers_as_words", "player_box", set_cells("pts", "twelve", first_rows_on("2023-02-05", 3)), 0,
         "text in number column pts: 'twelve'", frozenset({"text in number column pts"}), _ds("2023-02-05"),
         bad_rows=3, phase3=True),
    Case("us_date_format", "team_box", us_dates_on("2023-02-15"), 0,
         "impossible date in column game_date: '02/15/2023'", frozenset({"impossible date in column game_date"}),
         _ds("2023-02-15"), bad_rows=lambda f: len(f.on("2023-02-15")), phase3=True),
    Case("duplicate_rows", "player_box", duplicate_rows("2023-02-10", 4), 0, "duplicate key",
         frozenset({"duplicate key"}), quarantined=4, phase3=True),
    Case("very_long_field", "player_box", long_field, 0, ""),
    Case("junk_lines", "player_box", junk_lines, 0, "ragged row: 1 field(s)",
         frozenset({"ragged row"}), quarantined=2),
    Case("ragged_row", "team_box", ragged_row("2023-01-16"), 0, "ragged row: 10 field(s) where the header has",
         frozenset({"ragged row"}), _ds("2023-01-16"), bad_rows=1, phase3=True),
    Case("random_bytes_gz", "player_box", random_bytes, 1, "not gzip", dates=ALL, subprocess=True),
    Case("truncated_gzip", "team_box", truncated_gzip, 1, "cannot decompress", dates=ALL),
    # snapshot_at is part of the props key: the corrected file (same name) replaces the stand-ins
    # of the games it covers.
    Case("empty_snapshot_times", "threes", set_cells("market_last_update", "", every_row), 0, "",
         same_except=("snapshot_at", "snapshot_imputed")),
    Case("empty_snapshot_times_both", "threes",
         lambda f: set_cells("bookmaker_last_update", "", every_row)(
             CsvFile.from_bytes(set_cells("market_last_update", "", every_row)(f))),
         0, "", same_except=("snapshot_at", "snapshot_imputed"), imputed=True),
    # Impossible values: each row breaks the LIMITS table and is quarantined under its rule.
    Case("impossible_points", "player_box", set_cells("pts", "900", first_rows_on("2023-02-03", 1)), 0,
         "range_points", frozenset({"range_points"}), _ds("2023-02-03"), bad_rows=1, phase3=True),
    Case("impossible_minutes", "player_box", set_cells("minutes", "4000", first_rows_on("2023-02-07", 1)), 0,
         "range_minutes_played", frozenset({"range_minutes_played"}), _ds("2023-02-07"), bad_rows=1, phase3=True),
    Case("impossible_team_points", "team_box", set_cells("pts", "900", first_rows_on("2023-01-25", 1)), 0,
         "range_points", frozenset({"range_points"}), _ds("2023-01-25"), bad_rows=1, phase3=True),
    Case("impossible_line", "points_2024", set_cells("line", "900.5", lambda f: [0]), 0,
         "range_points_line", frozenset({"range_points_line"}), _ds("2024-02-29"), bad_rows=1),
    # A game dated years ahead, or on a day it was not played: the NBA id joins the schedule,
    # which decides the date; the rows load corrected (recorded), identical to the clean ones.
    Case("game_dated_2030", "player_box", set_cells("game_date", "2030-01-20", game_rows("2023-02-09")), 0, "",
         corrected=lambda f: len(game_rows("2023-02-09")(f)), phase3=True),
    Case("game_on_wrong_date", "team_box", set_cells("game_date", "2023-02-12", game_rows("2023-02-11")), 0, "",
         corrected=lambda f: len(game_rows("2023-02-11")(f)), phase3=True),
    # A team row whose opponent is its own team: the schedule decides the opponent.
    Case("home_equals_away", "team_box", opponent_is_team("2023-01-18"), 0, "", corrected=1, phase3=True),
    # A team code that is no NBA team: that team's rows are quarantined, the rest of the game loads.
    Case("unknown_team", "player_box", unknown_team("2023-01-27"), 0, "unknown team in column team_nba: 'XYZ'",
         frozenset({"unknown team in column team_nba"}), _ds("2023-01-27"), bad_rows=lambda f: len(team_rows("2023-01-27")(f)),
         phase3=True, phase3_gap=lambda f: ("player_game_summary", "2023-01-27",
                                            "missing: " + f.rows[team_rows("2023-01-27")(f)[0]][f.col("team")] + " in ")),
    # A spelling the source corrects later: the raw key is the source's player id, not the name.
    Case("player_name_misspelt", "player_box",
         set_cells("player", "Nic Claxtonn", lambda f: [k for k, r in enumerate(f.rows) if r[f.col("bbref_player_id")] == "claxtni01"]),
         0, "", same_except=("player_name", "player_lookup")),
    Case("long_layout", "points_2024", long_layout, 0, ""),
    Case("odds_api_export_with_market_column", "all_markets", odds_api_export, 0, ""),
    Case("points_2024_with_market_column", "points_2024", with_market_column, 0, "",
         other_rows={PROPS_TABLE: 500}),
]



# --- homes ---------------------------------------------------------------------------------------

def _ingest(home: Path, paths: list[Path], fmt: str | None = None, accept_partial: bool = False):
    from nbapipe.sources.ingest import run_ingest
    from nbapipe.workspace import Workspace
    ws = Workspace.at(home)
    try:
        return run_ingest(ws, paths, fmt=fmt, accept_partial=accept_partial)
    finally:
        ws.close()


@dataclasses.dataclass
class Corpus:
    root: Path
    sources: dict[str, Source]
    base: dict[str, Path]                # per source: schedule + the other bbref file, not it
    clean: dict[str, Path]               # base + the clean file
    clean_files: dict[str, Path]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, data_dir) -> Corpus:
    root = tmp_path_factory.mktemp("mutations")
    sources = _sources(data_dir)
    files = {}
    for key, s in sources.items():
        files[key] = root / "clean" / key / s.name
        files[key].parent.mkdir(parents=True)
        files[key].write_bytes(gz(s.clean.text()))
    schedule = root / "schedule-home"
    assert not _ingest(schedule, [data_dir / "bbref/games.csv.gz"]).refused
    base, clean = {}, {}
    other = {"player_box": ["team_box"], "team_box": ["player_box"]}
    for key in sources:
        base[key] = copy_home(schedule, root / f"base-{key}")
        if other.get(key):
            assert not _ingest(base[key], [files[k] for k in other[key]]).refused
        clean[key] = copy_home(base[key], root / f"clean-{key}")
        summary = _ingest(clean[key], [files[key]])
        assert not summary.refused, [o.as_dict() for o in summary.refused]
    return Corpus(root, sources, base, clean, files)


def _connect(*homes: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for i, h in enumerate(homes):
        con.execute(f"ATTACH '{h / 'warehouse.duckdb'}' AS h{i} (READ_ONLY)")
    return con


def _columns(con, table: str, exclude: tuple[str, ...]) -> str:
    schema, name = table.split(".")
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'h0' "
        "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()]
    return ", ".join(c for c in cols if c not in (*META, *exclude))


def differing_dates(a: Path, b: Path, table: str, exclude: tuple[str, ...] = ()) -> set[str]:
    """Dates whose rows of `table` differ between two homes (metadata aside)."""
    con = _connect(a, b)
    try:
        cols = _columns(con, table, exclude)
        rows = con.execute(f"""
            SELECT DISTINCT CAST(game_date AS VARCHAR) FROM (
                (SELECT {cols} FROM h0.{table} EXCEPT ALL SELECT {cols} FROM h1.{table})
                UNION ALL
                (SELECT {cols} FROM h1.{table} EXCEPT ALL SELECT {cols} FROM h0.{table}))""").fetchall()
        return {r[0] for r in rows}
    finally:
        con.close()


def count(home: Path, sql: str) -> int:
    con = _connect(home)
    try:
        return con.execute(sql.replace("nba_", "h0.nba_")).fetchone()[0]
    finally:
        con.close()


def file_dates(home: Path, table: str) -> set[str]:
    con = _connect(home)
    try:
        return {r[0] for r in con.execute(f"SELECT DISTINCT CAST(game_date AS VARCHAR) FROM h0.{table}").fetchall()}
    finally:
        con.close()


def run_case(corpus: Corpus, case: Case, tmp_path: Path) -> tuple[Path, int, str, dict]:
    """Ingest the mutated file in place of its original: (home, exit code, message, rules)."""
    src = corpus.sources[case.source]
    path = tmp_path / "in" / src.name
    path.parent.mkdir(parents=True)
    path.write_bytes(case.mutate(src.clean))
    home = copy_home(corpus.base[case.source], tmp_path / "home")
    if case.subprocess:
        args = [sys.executable, "-m", "nbapipe.cli", "--home", str(home), "ingest", str(path),
                "--json", "--skip-downstream-trigger"] + (["--format", case.fmt] if case.fmt else [])
        p = subprocess.run(args, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "COLUMNS": "200"})
        doc = json.loads(p.stdout)
        [f] = doc["files"]
        rules = {}
        for l in f["loaders"]:
            for r, n in l["rules"].items():
                rules[r] = rules.get(r, 0) + n.get("quarantined", 0)
        return home, p.returncode, _message(home, f["message"]), {r: n for r, n in rules.items() if n}
    summary = _ingest(home, [path], fmt=case.fmt)
    [o] = summary.outcomes
    rules = {}
    for l in o.loaders:
        for r, n in l.rules.items():
            rules[r] = rules.get(r, 0) + n.get("quarantined", 0)
    return home, 1 if summary.refused else 0, _message(home, o.message), {r: n for r, n in rules.items() if n}


def _message(home: Path, outcome_message: str) -> str:
    """What the user reads first: the refusal, else the first quarantine reason by line."""
    if outcome_message:
        return outcome_message
    con = _connect(home)
    try:
        row = con.execute("SELECT reason FROM h0.nba_raw.quarantine ORDER BY line LIMIT 1").fetchone()
        return row[0] if row else ""
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mutation(corpus, case, tmp_path):
    src = corpus.sources[case.source]
    home, code, message, rules = run_case(corpus, case, tmp_path)
    assert code == case.exit, message
    assert case.message in message.splitlines()[0] if case.message else True, message
    clean = corpus.clean[case.source]
    table = src.table
    clean_rows = count(clean, f"SELECT count(*) FROM {table}")
    if case.exit:
        # Refused: the warehouse is as the base home left it, nothing quarantined.
        for t in src.tables:
            assert count(home, f"SELECT count(*) FROM {t}") == count(corpus.base[case.source], f"SELECT count(*) FROM {t}")
        assert count(home, "SELECT count(*) FROM nba_raw.quarantine") == 0
        expected_dates = file_dates(clean, table) if case.dates == ALL else case.dates
        assert differing_dates(clean, home, table) == expected_dates
        return
    # Every good row loaded; the bad ones are in quarantine under the rule, with file and line.
    bad_rows = case.bad_rows(src.clean) if callable(case.bad_rows) else case.bad_rows
    assert bad_rows < clean_rows
    assert count(home, f"SELECT count(*) FROM {table}") == clean_rows - bad_rows
    assert set(rules) == set(case.rules), rules
    n_quarantined = bad_rows if case.quarantined is None else case.quarantined
    assert count(home, "SELECT count(*) FROM nba_raw.quarantine") == n_quarantined
    assert count(home, "SELECT count(*) FROM nba_raw.quarantine WHERE line IS NULL "
                       "OR source_file NOT LIKE '%" + src.name + "'") == 0
    for t in src.tables:
        assert differing_dates(clean, home, t, case.same_except) == set(case.dates), t
    for t, n in case.other_rows.items():
        assert count(home, f"SELECT count(*) FROM {t}") - count(clean, f"SELECT count(*) FROM {t}") == n, t
    corrected = case.corrected(src.clean) if callable(case.corrected) else case.corrected
    assert count(home, "SELECT count(*) FROM nba_raw.contract_corrections") == corrected
    if case.imputed:
        assert count(home, f"SELECT count(*) FROM {table} WHERE NOT snapshot_imputed") == 0
        assert count(home, f"SELECT count(*) FROM {table} WHERE snapshot_at > commence_time") == 0


# --- Phase 3 over the season: the blast radius is the bad rows' dates -------------------------

PHASE3_GAME_TABLES = ("nba_analytics.player_game_summary", "nba_analytics.team_offense_game_summary",
                      "nba_analytics.team_defense_game_summary")


@pytest.fixture(scope="session")
def clean_phase3(corpus, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The clean homes of the Phase 3 cases' sources, with Phase 3 backfilled over the season,
    and each unit's status."""
    out = {}
    for key in sorted({c.source for c in CASES if c.phase3}):
        home = copy_home(corpus.clean[key], tmp_path_factory.mktemp(f"p3-{key}") / "home")
        report = backfill(home, *SEASON_DATES, phases=(3,), skip_downstream_trigger=True)
        out[key] = (home, _statuses(report))
    return out


def _statuses(report) -> dict[tuple[str, str], str]:
    return {(r.processor, r.game_date.isoformat()): r.status for r in report.results}


@pytest.mark.parametrize("case", [c for c in CASES if c.phase3], ids=[c.id for c in CASES if c.phase3])
def test_mutation_phase3_blast_radius(corpus, clean_phase3, case, tmp_path):
    home, code, message, _ = run_case(corpus, dataclasses.replace(case, subprocess=False), tmp_path)
    assert code == case.exit, message
    report = backfill(home, *SEASON_DATES, phases=(3,), skip_downstream_trigger=True)
    statuses = _statuses(report)
    clean, clean_statuses = clean_phase3[case.source]
    if case.phase3_gap:      # the hole the quarantine left is named, not recorded as success
        processor, date, text = case.phase3_gap(corpus.sources[case.source].clean)
        [unit] = [r for r in report.results if (r.processor, r.game_date.isoformat()) == (processor, date)]
        assert unit.status == "partial" and text in (unit.detail or ""), unit.as_dict()
    assert any(s == "success" for s in clean_statuses.values())
    status_changed = {d for (p, d), s in statuses.items() if clean_statuses.get((p, d)) != s}
    changed = set()
    for t in PHASE3_GAME_TABLES:
        changed |= differing_dates(clean, home, t)
    assert changed | status_changed == set(case.dates), (sorted(changed), sorted(status_changed))


# --- heal: a bad file, then its corrected original, equals a clean ingest ---------------------

# A representative subset: rows quarantined, lines not records, refused files, other layouts.
HEALS = [c for c in CASES if c.id in (
    "unbalanced_quote", "numbers_as_words", "us_date_format", "duplicate_rows", "junk_lines",
    "ragged_row", "all_rows_bad", "random_bytes_gz", "long_layout", "empty_snapshot_times",
    "empty_snapshot_times_both", "impossible_points", "unknown_team", "game_dated_2030", "game_on_wrong_date",
    "player_name_misspelt")]


@pytest.mark.parametrize("case", HEALS, ids=[c.id for c in HEALS])
def test_bad_then_corrected_file_equals_clean_ingest(corpus, case, tmp_path):
    src = corpus.sources[case.source]
    home, code, message, _ = run_case(corpus, dataclasses.replace(case, subprocess=False), tmp_path)
    summary = _ingest(home, [corpus.clean_files[case.source]])
    assert not summary.refused, [o.as_dict() for o in summary.refused]
    clean = corpus.clean[case.source]
    for t in src.tables:
        assert differing_dates(clean, home, t) == set(), t
        assert count(home, f"SELECT count(*) FROM {t}") == count(clean, f"SELECT count(*) FROM {t}")
    # The corrected file's rows load; the bad file's quarantine rows stay listed under its
    # own content (they are the record of what was wrong with that file).
    assert count(home, "SELECT count(*) FROM nba_raw.quarantine WHERE source_file LIKE '%/clean/%'") == 0
