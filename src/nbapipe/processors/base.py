"""The processor contract: what a model is, stated once, next to its SQL.

Like a SQLMesh/dbt model: a name, a phase, an output table with its key and slice (date)
column, declared inputs (raw tables, fallback chains and upstream processors, each required or
optional), a lookback, and one SELECT in `<name>.sql` beside the module. The runner owns
dates, writes, ledger rows, events and retries; a processor only says what its rows are.

The SELECT computes every requested date at once. It may read:
  run_dates(game_date DATE)           the dates to produce (the output is filtered to them),
  run_bounds(start_date, end_date, lookback_start)   their range and the lookback start,
  src_<chain>                         the fallback chains of sources.py, resolved per game,
and any warehouse table. Anything computed for date D reads only games strictly before D,
except a Phase 3 box-score summary of D itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Callable


@dataclass(frozen=True)
class Input:
    """A declared input. `name` is a table (schema.table), a fallback chain (chain:<name>) or
    an upstream processor (its name). `when`: 'date' = must have rows on the unit's date,
    'lookback' = on every game date of the lookback strictly before it, 'both'."""
    name: str
    required: bool = True
    when: str = "date"

    @property
    def kind(self) -> str:
        if self.name.startswith("chain:"):
            return "chain"
        return "table" if "." in self.name else "processor"


@dataclass(frozen=True)
class NotComputed:
    """What a compute processor returns for a date it wrote nothing for on purpose or for want
    of an input: the unit's status (`warmup`, `upstream_missing`), why, and the inputs lacking."""
    status: str
    detail: str
    missing_inputs: dict | None = None


@dataclass(frozen=True)
class Processor:
    name: str
    phase: int
    table: str
    key: tuple[str, ...]
    inputs: tuple[Input, ...]
    slice_column: str = "game_date"
    # Days of history read before a date: an int, or "season" (from the season's first game).
    lookback: int | str = 0
    description: str = ""
    # Expected entities per date (success vs partial): a SELECT over run_dates returning
    # (game_date, expected). None: every game date expects at least one row.
    expected_sql: str | None = None
    # Phase 4: inside the bootstrap window the processor writes nothing (bootstrap_skip).
    bootstrap_skip: bool = False
    # Columns a processor reports as the source it used (for the ledger's source_used).
    source_column: str | None = "data_source"
    # A processor that is not one SELECT (e.g. Phase 5 model training and prediction):
    # compute(wh, dates, out_table, run_id) creates temp table `out_table` with its rows for
    # those dates. It may return {date: {input_name: [dates]}} for dates it could not compute
    # for want of an input (e.g. no trainable model): those units become upstream_missing;
    # or {date: NotComputed(...)} to name the status itself (warmup: too little history yet).
    # The runner still owns slices, ledger, events and resume.
    compute: Callable[..., dict | None] | None = field(default=None, compare=False)
    # Further files beside the module that a compute processor runs (its SQL, helper modules):
    # part of its code for the input fingerprint, so editing any of them makes its units stale.
    code_files: tuple[str, ...] = ()
    module: str = field(default="", compare=False)

    @property
    def sql(self) -> str:
        pkg, _, mod = self.module.rpartition(".")
        return resources.files(pkg).joinpath(f"{mod}.sql").read_text(encoding="utf-8")

    @property
    def code(self) -> str:
        """What the processor computes, for the input fingerprint: its SQL, else its module; a
        compute processor: its module, its SQL and its code_files."""
        pkg, _, mod = self.module.rpartition(".")
        files = resources.files(pkg)
        sql = files.joinpath(f"{mod}.sql")
        if not self.compute:
            return (sql if sql.is_file() else files.joinpath(f"{mod}.py")).read_text(encoding="utf-8")
        names = [f"{mod}.py", *([f"{mod}.sql"] if sql.is_file() else []), *self.code_files]
        return "\n".join(files.joinpath(n).read_text(encoding="utf-8") for n in names)

    @property
    def upstream(self) -> list[str]:
        return [i.name for i in self.inputs if i.kind == "processor"]

    @property
    def required_upstream(self) -> list[str]:
        return [i.name for i in self.inputs if i.kind == "processor" and i.required]

    @property
    def schema(self) -> str:
        return self.table.split(".")[0]


def processor(module: str, **kw) -> Processor:
    """Declare a processor from its module (the .sql file sits beside it)."""
    return Processor(module=module, **kw)


# Expected entities shared by the team-grain Phase 3 processors: both teams of every scheduled
# league game of the date (covered = the output's rows that date).
EXPECTED_TEAM_GAMES = """
        WITH want AS (
            SELECT d.game_date, 2 * count(DISTINCT s.game_id) AS expected
            FROM run_dates d JOIN nba_reference.schedule s ON s.game_date = d.game_date
            WHERE s.game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')
            GROUP BY d.game_date),
        got AS (SELECT game_date, count(*) AS covered FROM {out} GROUP BY game_date)
        SELECT w.game_date, w.expected, coalesce(g.covered, 0), 'team-games'
        FROM want w LEFT JOIN got g ON g.game_date = w.game_date"""


# Expected entities of player_game_summary: every team of every scheduled league game of the
# date, each with at least MIN_PLAYED players who played. Counting games would let one team's
# whole roster go missing (e.g. its rows quarantined) while the date reads success; the
# entity text names the missing teams and their games.
MIN_PLAYED = 5
EXPECTED_TEAM_ROSTERS = f"""
        WITH games AS (
            SELECT s.game_date, s.game_id, s.home_team_abbr, s.away_team_abbr
            FROM run_dates d JOIN nba_reference.schedule s ON s.game_date = d.game_date
            WHERE s.game_type IN ('regular', 'play-in', 'playoffs', 'in-season-final')),
        want AS (
            SELECT game_date, game_id, home_team_abbr AS team_abbr FROM games
            UNION ALL
            SELECT game_date, game_id, away_team_abbr AS team_abbr FROM games),
        got AS (
            SELECT game_id, team_abbr FROM {{out}} WHERE minutes_played > 0
            GROUP BY game_id, team_abbr HAVING count(*) >= {MIN_PLAYED})
        SELECT game_date, expected, covered,
               'team rosters' || CASE
                   WHEN covered = expected THEN ''
                   WHEN expected - covered = 1 THEN ' (missing: ' || first_missing || ')'
                   ELSE ' (missing: ' || first_missing || ', ' || last_missing ||
                        CASE WHEN expected - covered > 2
                             THEN ' and ' || CAST(expected - covered - 2 AS VARCHAR) || ' more' ELSE '' END || ')'
               END
        FROM (  -- the first and last missing by name: portable (no ordered string aggregate)
            SELECT w.game_date, count(*) AS expected, count(g.team_abbr) AS covered,
                   min(CASE WHEN g.team_abbr IS NULL THEN w.team_abbr || ' in ' || w.game_id END) AS first_missing,
                   max(CASE WHEN g.team_abbr IS NULL THEN w.team_abbr || ' in ' || w.game_id END) AS last_missing
            FROM want w LEFT JOIN got g ON g.game_id = w.game_id AND g.team_abbr = w.team_abbr
            GROUP BY w.game_date) x"""


def expected_players(slice_column: str = "game_date", min_games_played: int = 0) -> str:
    """Expected entities of the player-grain Phase 4 processors: the players with a game that
    date (Phase 3's upcoming_player_game_context) who have played at least `min_games_played`
    games this season; covered = those with an output row."""
    floor = f" AND u.games_played_season >= {int(min_games_played)}" if min_games_played else ""
    return f"""
        SELECT d.game_date, count(u.player_lookup), count(o.player_lookup), 'players'
        FROM run_dates d
        JOIN nba_analytics.upcoming_player_game_context u ON u.game_date = d.game_date{floor}
        LEFT JOIN {{out}} o ON o.{slice_column} = u.game_date AND o.player_lookup = u.player_lookup
        GROUP BY d.game_date"""
