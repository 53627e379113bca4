"""Fallback chains as data (DESIGN section 7): for each kind of input, the sources in order of
preference with their quality tier. The runner turns each chain into a temporary view
`src_<chain>` that keeps, per game (the chain's grain; per game and player for points lines),
only the rows of the best source that has it, and labels every row with the source it came from
and its quality.

Changing a preference is an edit of this table, not of any processor's SQL."""
from __future__ import annotations

from dataclasses import dataclass

TIER_SCORE = {"gold": 100, "silver": 75, "bronze": 50}


@dataclass(frozen=True)
class Member:
    source: str                      # the name recorded in each row's data_source
    table: str | None = None         # a raw table ...
    data_source: str | None = None   # ... optionally only this loader family's rows
    sql: str | None = None           # ... or a SELECT (e.g. a reconstruction from other rows,
                                     # or a summary of `table`'s rows)
    tier: str = "gold"


@dataclass(frozen=True)
class Chain:
    name: str
    columns: tuple[str, ...]
    members: tuple[Member, ...]
    grain: tuple[str, ...] = ("game_id",)   # the unit a source is chosen for
    canonical_players: bool = False  # map player_lookup through nba_reference.player_alias

    @property
    def view(self) -> str:
        return f"src_{self.name}"

    def tables(self) -> list[str]:
        return sorted({m.table for m in self.members if m.table})


PLAYER_COLUMNS = (
    "game_id", "game_date", "season_year", "game_type", "team_abbr", "opponent_team_abbr",
    "home_away", "player_lookup", "player_name", "player_status", "dnp_reason", "starter_flag",
    "minutes_played", "points", "fg_makes", "fg_attempts", "three_pt_makes", "three_pt_attempts",
    "ft_makes", "ft_attempts", "offensive_rebounds", "defensive_rebounds", "total_rebounds",
    "assists", "steals", "blocks", "turnovers", "personal_fouls", "plus_minus",
)
TEAM_COLUMNS = (
    "game_id", "game_date", "season_year", "game_type", "team_abbr", "opponent_team_abbr",
    "home_away", "win_flag", "minutes", "points", "fg_makes", "fg_attempts", "three_pt_makes",
    "three_pt_attempts", "ft_makes", "ft_attempts", "offensive_rebounds", "defensive_rebounds",
    "total_rebounds", "assists", "steals", "blocks", "turnovers", "personal_fouls",
    "overtime_periods",
)

# Team totals rebuilt from the best player rows: the last resort when no team source has the game.
_TEAM_FROM_PLAYERS = """
SELECT game_id, min(game_date) AS game_date, min(season_year) AS season_year,
       min(game_type) AS game_type, team_abbr, min(opponent_team_abbr) AS opponent_team_abbr,
       min(home_away) AS home_away, CAST(NULL AS BOOLEAN) AS win_flag,
       CAST(round(sum(minutes_played)) AS INTEGER) AS minutes, sum(points) AS points,
       sum(fg_makes) AS fg_makes, sum(fg_attempts) AS fg_attempts,
       sum(three_pt_makes) AS three_pt_makes, sum(three_pt_attempts) AS three_pt_attempts,
       sum(ft_makes) AS ft_makes, sum(ft_attempts) AS ft_attempts,
       sum(offensive_rebounds) AS offensive_rebounds, sum(defensive_rebounds) AS defensive_rebounds,
       sum(total_rebounds) AS total_rebounds, sum(assists) AS assists, sum(steals) AS steals,
       sum(blocks) AS blocks, sum(turnovers) AS turnovers, sum(personal_fouls) AS personal_fouls,
       CAST(NULL AS INTEGER) AS overtime_periods
FROM src_player_boxscores
WHERE player_status = 'active'
GROUP BY game_id, team_abbr"""

POINTS_LINE_COLUMNS = ("game_id", "player_lookup", "points_line", "opening_points_line",
                       "line_books", "line_snapshot_at")


def _points_line(table: str) -> str:
    """One props source's points line per game and player, from its main lines seen before tip-off
    (the feed's commence time, else the scheduled Eastern tip-off in UTC): points_line = the median
    of each book's latest, opening_points_line = the median at the source's first snapshot. Players
    are mapped to the registry's identity before grouping (two spellings are one player). Only the
    run's own dates: no processor reads an earlier line. Subqueries, not a WITH: the Spark
    transpilation hoists every member's CTEs into the view's one WITH, where names would clash."""
    return f"""
SELECT game_id, player_lookup,
       median(CASE WHEN snapshot_at = book_last THEN points_line END) AS points_line,
       median(CASE WHEN snapshot_at = first_seen THEN points_line END) AS opening_points_line,
       count(DISTINCT bookmaker) AS line_books,
       max(snapshot_at) AS line_snapshot_at
FROM (SELECT o.*,
             max(o.snapshot_at) OVER (PARTITION BY o.game_id, o.player_lookup, o.bookmaker) AS book_last,
             min(o.snapshot_at) OVER (PARTITION BY o.game_id, o.player_lookup) AS first_seen
      FROM (SELECT l.game_id, coalesce(a.player_lookup, l.player_lookup) AS player_lookup, l.bookmaker,
                   l.snapshot_at, l.points_line
            FROM {table} l
            LEFT JOIN (SELECT game_id,
                              CAST(strptime(CAST(game_date AS VARCHAR) || ' ' || game_time_et, '%Y-%m-%d %I:%M %p') AS TIMESTAMP)
                                  AT TIME ZONE 'America/New_York' AT TIME ZONE 'UTC' AS tipoff_at
                       FROM nba_reference.schedule
                       WHERE game_date IN (SELECT game_date FROM run_dates) AND game_time_et IS NOT NULL) t
              ON t.game_id = l.game_id
            LEFT JOIN nba_reference.player_alias a ON a.alias_lookup = l.player_lookup
            WHERE l.game_date IN (SELECT game_date FROM run_dates) AND coalesce(l.is_main_line, true)
              AND l.snapshot_at <= coalesce(l.commence_time, t.tipoff_at, l.snapshot_at)
              -- a line whose snapshot time the file lacked (the slate's date stands in) is used
              -- only when that date is provably before a known tip-off
              AND (NOT coalesce(l.snapshot_imputed, false)
                   OR l.snapshot_at < coalesce(l.commence_time, t.tipoff_at))) o) r
GROUP BY game_id, player_lookup"""


# Markets of nba_raw.odds_api_player_props that are points + rebounds + assists.
PRA_MARKETS = ("player_points_rebounds_assists", "points_rebounds_assists", "pra")
_PRA_ROWS = f"""(SELECT game_id, game_date, player_lookup, bookmaker, snapshot_at, line AS points_line,
        is_main_line, commence_time, snapshot_imputed
 FROM nba_raw.odds_api_player_props WHERE lower(market) IN {PRA_MARKETS})"""


def _props(source: str, table: str, tier: str = "gold") -> Member:
    """A props source as a member: its rows summarised to one line per game and player."""
    return Member(source, table, sql=_points_line(table), tier=tier)


CHAINS: dict[str, Chain] = {c.name: c for c in (
    Chain("player_boxscores", PLAYER_COLUMNS, canonical_players=True, members=(
        # The Basketball-Reference pages stand in for the gamebook here: complete for every season
        # and cross-checked; the parsed gamebook PDF (last names only for inactives) comes next.
        Member("nbac_gamebook_player_stats", "nba_raw.nbac_gamebook_player_stats", data_source="bbref"),
        Member("nbac_gamebook", "nba_raw.nbac_gamebook_player_stats", data_source="nbac_gamebook"),
        Member("nbac_player_boxscores", "nba_raw.nbac_player_boxscores", tier="silver"),
        Member("bdl_player_boxscores", "nba_raw.bdl_player_boxscores", tier="silver"),
    )),
    Chain("team_boxscores", TEAM_COLUMNS, members=(
        Member("nbac_team_boxscore", "nba_raw.nbac_team_boxscore"),
        Member("nbac_team_game_logs", "nba_raw.nbac_team_game_logs", tier="silver"),
        Member("reconstructed_from_players", sql=_TEAM_FROM_PLAYERS, tier="bronze"),
    )),
    # A player's points line for a game (player_game_summary, upcoming_player_game_context): the
    # best source is chosen per game and player, and the line comes from that source's books only.
    Chain("points_lines", POINTS_LINE_COLUMNS, grain=("game_id", "player_lookup"), members=(
        _props("odds_api", "nba_raw.odds_api_player_points_props"),
        _props("bettingpros", "nba_raw.bettingpros_player_points_props", tier="silver"),
    )),
    # The points + rebounds + assists line, the same way (its column is named points_line like
    # the chain above's): a market view of the player's scoring where no points line is posted.
    Chain("pra_lines", POINTS_LINE_COLUMNS, grain=("game_id", "player_lookup"), members=(
        Member("odds_api", "nba_raw.odds_api_player_props", sql=_points_line(_PRA_ROWS)),
    )),
)}

# Columns a member lacks are NULL in the view (e.g. DNP status in the NBA.com player logs).
_DEFAULTS = {"player_status": "'active'", "starter_flag": "CAST(NULL AS BOOLEAN)"}


def chain_view_sql(chain: Chain, available: dict[str, set[str]]) -> str:
    """The SELECT of view src_<chain>: every member's rows within the run bounds, then per
    grain (game) only the best-ranked member's rows. `available` maps table -> its columns
    (a member whose table does not exist is left out)."""
    parts = []
    for rank, m in enumerate(chain.members):
        if m.table and m.table not in available:
            continue
        if m.sql:
            body = f"SELECT * FROM ({m.sql})"
            cols = set(chain.columns)
        else:
            cols = available[m.table]
            where = f" AND data_source = '{m.data_source}'" if m.data_source else ""
            body = (f"SELECT * FROM {m.table} WHERE game_date BETWEEN "
                    f"(SELECT lookback_start FROM run_bounds) AND (SELECT end_date FROM run_bounds){where}")
        select = ", ".join(c if c in cols else f"{_DEFAULTS.get(c, 'NULL')} AS {c}" for c in chain.columns)
        parts.append(f"SELECT {select}, '{m.source}' AS data_source, '{m.tier}' AS quality_tier, "
                     f"{TIER_SCORE[m.tier]} AS quality_score, {rank} AS source_rank FROM ({body})")
    union = " UNION ALL ".join(parts)
    cols = ", ".join(f"u.{c}" for c in chain.columns if c != "player_lookup" or not chain.canonical_players)
    meta = "u.data_source, u.quality_tier, u.quality_score"
    grain = ", ".join(chain.grain)
    on = " AND ".join(f"b.{c} = u.{c}" for c in chain.grain)
    if chain.canonical_players:
        # One identity per player across sources: fallback spellings map to the registry's.
        cols += ", coalesce(a.player_lookup, u.player_lookup) AS player_lookup"
        alias = "LEFT JOIN nba_reference.player_alias a ON a.alias_lookup = u.player_lookup"
    else:
        alias = ""
    return f"""WITH u AS ({union}),
        best AS (SELECT {grain}, min(source_rank) AS best_rank FROM u GROUP BY {grain})
        SELECT {cols}, {meta} FROM u
        JOIN best b ON {on} AND b.best_rank = u.source_rank {alias}"""
