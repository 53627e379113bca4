"""Contracts beside each raw table: named rules anyone can read (dbt tests / Dagster asset checks).

Row rules run inside `Loader.load`, set-based over the whole file, before any processor sees a
row: a row that breaks one goes to nba_raw.quarantine with the rule's name first in its reason
(`range_points: points 900 outside 0..100`); a row that contradicts the schedule on something
the schedule decides (date, home/away, opponent) is corrected to it, and the correction is
recorded in nba_raw.contract_corrections. Table rules run over the loaded tables afterwards
(`table_violations`): their failures mark a date suspect, and `checks` and `verify` name it.

`IDENTITY` says what identifies a raw row of each source: the NBA game id plus the player or
team id where the source has ids, else the file's own record key; never an attribute the source
may correct (date, opponent, name), so a corrected file updates its rows instead of adding
rows beside the stale ones.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from nbapipe import ids

# --- plausible ranges: one table of limits ------------------------------------------------
# column -> (low, high), inclusive; per kind of raw table. A NULL value is not checked here
# (required columns say so themselves).
PLAYER_LIMITS = {
    "minutes_played": (0, 70), "points": (0, 100), "fg_makes": (0, 40), "fg_attempts": (0, 70),
    "three_pt_makes": (0, 20), "three_pt_attempts": (0, 40), "ft_makes": (0, 40),
    "ft_attempts": (0, 50), "offensive_rebounds": (0, 30), "defensive_rebounds": (0, 35),
    "total_rebounds": (0, 45), "assists": (0, 35), "steals": (0, 15), "blocks": (0, 20),
    "turnovers": (0, 20), "personal_fouls": (0, 10), "plus_minus": (-80, 80),
}
TEAM_LIMITS = {
    "minutes": (200, 440), "points": (50, 200), "fg_makes": (15, 90), "fg_attempts": (40, 160),
    "three_pt_makes": (0, 50), "three_pt_attempts": (0, 100), "ft_makes": (0, 70),
    "ft_attempts": (0, 90), "offensive_rebounds": (0, 50), "defensive_rebounds": (5, 80),
    "total_rebounds": (10, 110), "assists": (0, 70), "steals": (0, 40), "blocks": (0, 40),
    "turnovers": (0, 50), "personal_fouls": (0, 60), "plus_minus": (-100, 100),
    "q1_points": (0, 80), "q2_points": (0, 80), "q3_points": (0, 80), "q4_points": (0, 80),
    "ot_points": (0, 120), "overtime_periods": (0, 8),
}
SCHEDULE_LIMITS = {"home_team_score": (50, 200), "away_team_score": (50, 200), "overtime_periods": (0, 8)}
PROP_LIMITS = {"points_line": (0, 80), "line": (0, 80)}
GAME_LINE_LIMITS = {"home_spread": (-40, 40), "total": (120, 320)}

LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "nba_raw.nbac_gamebook_player_stats": PLAYER_LIMITS,
    "nba_raw.nbac_player_boxscores": PLAYER_LIMITS,
    "nba_raw.bdl_player_boxscores": PLAYER_LIMITS,
    "nba_raw.nbac_team_boxscore": TEAM_LIMITS,
    "nba_raw.nbac_team_game_logs": TEAM_LIMITS,
    "nba_raw.nbac_schedule": SCHEDULE_LIMITS,
    "nba_raw.odds_api_player_points_props": PROP_LIMITS,
    "nba_raw.bettingpros_player_points_props": PROP_LIMITS,
    "nba_raw.odds_api_player_props": PROP_LIMITS,
    "nba_raw.odds_api_game_lines": GAME_LINE_LIMITS,
}
FIRST_SEASON_DAY = dt.date(1946, 11, 1)       # the league's first game
# A game's rows may be dated up to the schedule's last game, or (for sources ahead of the
# schedule we hold, e.g. lines for tomorrow's slate) up to this many days after today.
FUTURE_DAYS = 2

# --- identity keys ---------------------------------------------------------------------------
# (table, data_source) -> the columns that identify a source's row. Absent: the table's key.
IDENTITY: dict[tuple[str, str], tuple[str, ...]] = {
    ("nba_raw.nbac_gamebook_player_stats", "bbref"): ("nba_game_id", "bbref_player_id"),
    ("nba_raw.nbac_team_boxscore", "bbref"): ("nba_game_id", "team_abbr"),
    ("nba_raw.nbac_team_boxscore", "nbac"): ("nba_game_id", "team_abbr"),
    ("nba_raw.nbac_team_game_logs", "nba_api"): ("nba_game_id", "team_abbr"),
    ("nba_raw.nbac_player_boxscores", "nbac"): ("nba_game_id", "nba_player_id"),
    ("nba_raw.nbac_player_boxscores", "nbac_gamelog"): ("nba_game_id", "nba_player_id"),
    # PlayerGameLog exports without GAME_ID: the file's own record key is player and date.
    ("nba_raw.nbac_player_boxscores", "nba_api"): ("nba_player_id", "game_date"),
    # BDL box-score responses carry no game id: the game is its date and teams there.
    ("nba_raw.bdl_player_boxscores", "bdl"): ("game_id", "bdl_player_id"),
    ("nba_raw.nbac_play_by_play", "nbac"): ("nba_game_id", "event_number"),
}


def identity(table: str, family: str, table_key: tuple[str, ...]) -> tuple[str, ...]:
    return IDENTITY.get((table, family)) or tuple(k for k in table_key if k != "data_source")


# --- the rules, as data ----------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    name: str
    level: str            # row (at load: quarantine/correct/skip) | table (after load: suspect date)
    action: str           # quarantine | correct | skip | suspect
    description: str
    needs: tuple[str, ...] = ()     # stage columns the rule reads (a row rule applies when present)


TRICODES = tuple(t["team_abbr"] for t in ids.teams())
_TRICODES_RE = "|".join(TRICODES)

ROW_RULES = (
    Rule("nba_game_id_well_formed", "row", "quarantine",
         "the NBA game id has 10 digits and a known type digit (third) matching the row's game type",
         ("nba_game_id",)),
    Rule("game_id_well_formed", "row", "quarantine",
         "game_id is YYYYMMDD_AWAY_HOME, both one of the 30 tricodes, AWAY != HOME, and its date is the row's",
         ("game_id",)),
    Rule("teams_distinct", "row", "quarantine",
         "a row's team and opponent (or away and home) are two different teams",
         ()),
    Rule("agrees_with_schedule", "row", "correct",
         "joined on the NBA game id, the schedule decides date, home/away, opponent and game_id: "
         "a contradicting row is corrected (recorded in nba_raw.contract_corrections); a team "
         "that is not in the scheduled game is quarantined as team_in_game",
         ("nba_game_id",)),
    Rule("sides_agree_with_schedule", "row", "quarantine",
         "a game line's away/home teams are the schedule's (its spread and moneylines depend on the side)",
         ("away_team_abbr", "home_team_abbr")),
    Rule("team_in_game", "row", "quarantine",
         "the row's team is one of the two teams of the scheduled game (NBA game id)",
         ("nba_game_id", "team_abbr")),
    Rule("not_after_last_game", "row", "quarantine",
         f"game_date is not after the schedule's last game (or today + {FUTURE_DAYS} days when "
         f"the schedule ends earlier) nor before {FIRST_SEASON_DAY}",
         ("game_date",)),
    Rule("range_<column>", "row", "quarantine",
         "every number of the LIMITS table is within its plausible range (see `nbapipe contracts`)"),
    Rule("exhibition_non_nba", "row", "skip",
         "a preseason exhibition against a club outside the NBA is skipped (filtered, not bad)",
         ()),
)

TABLE_RULES = (
    Rule("two_teams_per_game", "table", "suspect",
         "every team-game of nbac_team_boxscore / nbac_team_game_logs has exactly its two teams"),
    Rule("player_points_sum_to_team", "table", "suspect",
         "the players' points of a team-game sum to the team's points where both exist"),
    Rule("five_starters", "table", "suspect",
         "every team-game of the primary box scores (bbref) has exactly five starters"),
)


def all_rules() -> list[dict]:
    """Every rule, for `nbapipe contracts`: rules then the limits table, per raw table."""
    out = [{"rule": r.name, "level": r.level, "action": r.action, "applies_to": "rows with " +
            (", ".join(r.needs) if r.needs else "the columns named"), "description": r.description}
           for r in ROW_RULES + TABLE_RULES]
    for table, limits in LIMITS.items():
        for col, (lo, hi) in limits.items():
            out.append({"rule": f"range_{col}", "level": "row", "action": "quarantine",
                        "applies_to": table, "description": f"{col} within {lo:g}..{hi:g}"})
    for (table, family), cols in IDENTITY.items():
        out.append({"rule": "identity", "level": "row", "action": "upsert key", "applies_to": f"{table} ({family})",
                    "description": ", ".join(cols)})
    return out


# --- applying the row rules: layers of the one statement that stages a file -------------------
# Loader.load stages a file in one SQL statement (base.Loader._stage); the row rules are layers
# of it, each a SELECT over the one before, in this order: preseason exhibitions skipped,
# corrections to the schedule, row checks. A rule costs an expression, not a pass over the
# file: no temporary table, no UPDATE of the staged rows, no statement per rule.

SCHEDULE_PRIORITY = ("bbref", "nba_api", "nbac")      # as nba_reference.schedule ranks them


def prepare_schedule(wh, table: str) -> None:
    """_contract_schedule: one row per NBA game id (best source), from nba_raw.nbac_schedule
    as it stands now (schedules load first). Built once per connection and again after a
    schedule loader wrote (or when a rolled-back file took the temp table with it).
    reversed_first marks one game (the lowest id) per reversed game_id, so a row matched by
    its reversed game_id meets one scheduled game, never two."""
    fresh = getattr(wh, "_contract_schedule_fresh", False) and wh.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_contract_schedule'")
    wh._contract_schedule_fresh = table != "nba_raw.nbac_schedule"
    if fresh:
        return
    rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SCHEDULE_PRIORITY))
    wh.execute(f"""
        CREATE OR REPLACE TEMP TABLE _contract_schedule AS
        SELECT *, row_number() OVER (PARTITION BY reversed_game_id ORDER BY nba_game_id) = 1 AS reversed_first
        FROM (SELECT nba_game_id, game_id, game_date, home_team_abbr, away_team_abbr,
                     {_REVERSED.format('game_id')} AS reversed_game_id FROM (
                  SELECT *, row_number() OVER (PARTITION BY nba_game_id
                                               ORDER BY CASE data_source {rank} ELSE 99 END, data_source) AS r
                  FROM nba_raw.nbac_schedule WHERE nba_game_id IS NOT NULL) WHERE r = 1)""")


def _has(cols: set[str], *names: str) -> bool:
    return all(n in cols for n in names)


def row_checks(table: str, cols: set[str]) -> list[tuple[str, str, str]]:
    """(rule, condition that breaks it, reason SQL) for a stage with columns `cols`."""
    out: list[tuple[str, str, str]] = []
    # Written for speed (they run on every row of every file): one regular expression for
    # the game_id's shape and tricodes, integer arithmetic for its date. nba_game_id comes
    # from NbaGameId (digits, zero-padded), so its length and type digit are what can be wrong.
    if "nba_game_id" in cols:
        cond = (f"length(nba_game_id) <> 10 OR substr(nba_game_id, 3, 1) "
                f"NOT IN ({', '.join(repr(k) for k in ids.GAME_TYPES)})")
        if "game_type" in cols:
            cond += f" OR (game_type IS NOT NULL AND game_type <> {ids.game_type_sql('nba_game_id')})"
        out.append(("nba_game_id_well_formed", cond,
                    "'NBA game id ' || nba_game_id || ' is malformed or its type digit does not match game type ' "
                    "|| coalesce(game_type, '?')" if "game_type" in cols else
                    "'NBA game id ' || nba_game_id || ' is malformed'"))
    if "game_id" in cols:
        date_part = (" OR TRY_CAST(left(game_id, 8) AS INTEGER) <> "
                     "year(game_date) * 10000 + month(game_date) * 100 + day(game_date)") if "game_date" in cols else ""
        out.append(("game_id_well_formed",
                    f"NOT regexp_matches(game_id, '^[0-9]{{8}}_({_TRICODES_RE})_({_TRICODES_RE})$') "
                    f"OR substr(game_id, 10, 3) = substr(game_id, 14, 3){date_part}",
                    "'game id ' || game_id || ' is not YYYYMMDD_AWAY_HOME with two different NBA teams'"
                    + (" || ' dated ' || CAST(game_date AS VARCHAR)" if date_part else "")))
    if _has(cols, "team_abbr", "opponent_team_abbr"):
        out.append(("teams_distinct", "team_abbr = opponent_team_abbr",
                    "'team and opponent are both ' || team_abbr"))
    if _has(cols, "away_team_abbr", "home_team_abbr"):
        out.append(("teams_distinct", "away_team_abbr = home_team_abbr",
                    "'away and home team are both ' || home_team_abbr"))
    if _has(cols, "nba_game_id", "team_abbr") and table != "nba_raw.nbac_schedule":
        out.append(("team_in_game", "_c_home IS NOT NULL AND team_abbr NOT IN (_c_home, _c_away)",
                    "'team ' || team_abbr || ' did not play scheduled game ' || nba_game_id"))
    if table in SIDED_VALUES and _has(cols, "away_team_abbr", "home_team_abbr"):
        out.append(("sides_agree_with_schedule",
                    "_cs_home IS NOT NULL AND (_cs_away <> away_team_abbr OR _cs_home <> home_team_abbr)",
                    "'away/home ' || away_team_abbr || '/' || home_team_abbr || ' contradict the schedule "
                    "(its spread and moneylines would be the other side''s)'"))
    if "game_date" in cols:
        out.append(("not_after_last_game",
                    f"game_date > _last_day OR game_date < DATE '{FIRST_SEASON_DAY}'",
                    "'game date ' || CAST(game_date AS VARCHAR) || ' is after the last scheduled game "
                    "and in the future (or before the league began)'"))
    for col, (lo, hi) in LIMITS.get(table, {}).items():
        if col in cols:
            out.append((f"range_{col}", f"{col} NOT BETWEEN {lo} AND {hi}",
                        f"'{col} ' || CAST({col} AS VARCHAR) || ' outside {lo:g}..{hi:g}'"))
    return out


# Game-level rows whose values depend on which side is home (spreads, moneylines): a row
# whose sides contradict the schedule is quarantined, never corrected (its numbers would
# then be the wrong side's).
SIDED_VALUES = frozenset({"nba_raw.odds_api_game_lines"})
_REVERSED = "split_part({0}, '_', 1) || '_' || split_part({0}, '_', 3) || '_' || split_part({0}, '_', 2)"


def check_joins(table: str, cols: set[str]) -> str:
    """The schedule columns the row checks read, joined to the staged rows `s` once (a
    correlated subquery per rule would scan the schedule per row). Each join meets at most
    one scheduled game, so no staged row is repeated."""
    j = (f" CROSS JOIN (SELECT greatest(max(game_date), current_date + {FUTURE_DAYS}) AS _last_day "
         f"FROM _contract_schedule) _lim")
    if _has(cols, "nba_game_id", "team_abbr") and table != "nba_raw.nbac_schedule":
        j += (" LEFT JOIN (SELECT nba_game_id AS _c_id, home_team_abbr AS _c_home, away_team_abbr AS _c_away "
              "FROM _contract_schedule) _c ON _c._c_id = s.nba_game_id")
    if table in SIDED_VALUES and _has(cols, "away_team_abbr", "home_team_abbr"):
        on = "_cs._cs_id = s.nba_game_id" if "nba_game_id" in cols else "_cs._cs_game = s.game_id AND _cs._cs_first"
        j += (" LEFT JOIN (SELECT nba_game_id AS _cs_id, reversed_game_id AS _cs_game, reversed_first AS _cs_first, "
              f"home_team_abbr AS _cs_home, away_team_abbr AS _cs_away FROM _contract_schedule) _cs ON {on}")
    return j


# The scheduled game's columns a correction reads, carried on the staged row as __c_<column>.
_GAME_COLUMNS = ("nba_game_id", "game_id", "game_date", "home_team_abbr", "away_team_abbr")


# What the schedule decides, per stage column: (column, SQL of the schedule's value).
def _schedule_values(cols: set[str], sided: bool = False) -> list[tuple[str, str]]:
    vals = []
    if "game_date" in cols:
        vals.append(("game_date", "__c_game_date"))
    if "game_id" in cols:
        vals.append(("game_id", "__c_game_id"))
    if _has(cols, "team_abbr", "home_away"):
        vals.append(("home_away", "CASE WHEN team_abbr = __c_home_team_abbr THEN 'home' ELSE 'away' END"))
    if _has(cols, "team_abbr", "opponent_team_abbr"):
        vals.append(("opponent_team_abbr",
                     "CASE WHEN team_abbr = __c_home_team_abbr THEN __c_away_team_abbr ELSE __c_home_team_abbr END"))
    if _has(cols, "away_team_abbr", "home_team_abbr") and not sided:
        vals += [("away_team_abbr", "__c_away_team_abbr"), ("home_team_abbr", "__c_home_team_abbr")]
    return vals


def exhibition_condition(cols: set[str]) -> str | None:
    """A preseason row (by NBA id type digit or game type) whose only problem is an unknown team."""
    parts = []
    if "nba_game_id" in cols:
        parts.append("substr(nba_game_id, 3, 1) = '1'")
    if "game_type" in cols:
        parts.append("game_type = 'preseason'")
    if "_season_id" in cols:
        parts.append("substr(_season_id, 1, 1) = '1'")
    if not parts:
        return None
    return (f"({' OR '.join(parts)}) AND len(__reasons) > 0 AND "
            f"len(list_filter(__reasons, lambda r: NOT starts_with(r, 'unknown team'))) = 0")


# The rules that mark rows without quarantining them: (rule, what the row counts as, the
# column of the staged rows that marks it). Loader.load counts them per file.
ROW_MARKS = (("exhibition_non_nba", "filtered", "__exhibition"),
             ("agrees_with_schedule", "corrected", "__correction IS NOT NULL"))


def row_rule_layers(table: str, cols: set[str], source: str) -> list[tuple[str, str]]:
    """The row rules over the staged rows `source` (columns `cols` plus __line, __reasons,
    __in_scope) as (name, SELECT) layers, each reading the one before; the last is the result.
    They add __exhibition (a skipped exhibition row) and __correction (what the schedule
    corrected, recorded by record_corrections)."""
    layers = [("_exhibition", _exhibition_layer(cols, source))]
    layers += _correction_layers(table, cols, layers[-1][0])
    layers.append(("_checked", _check_layer(table, cols, layers[-1][0])))
    return layers


def _exhibition_layer(cols: set[str], source: str) -> str:
    cond = exhibition_condition(cols)
    skip = f"__in_scope AND coalesce({cond}, false)" if cond else "false"
    return f"SELECT * REPLACE (__in_scope AND NOT ({skip}) AS __in_scope), {skip} AS __exhibition FROM {source}"


def _correction_layers(table: str, cols: set[str], source: str) -> list[tuple[str, str]]:
    """Rows of a scheduled game take the schedule's date, sides and game_id (agrees_with_schedule);
    only rows in scope with no reason yet are corrected, and __correction says what changed."""
    sided = table in SIDED_VALUES
    vals = _schedule_values(cols, sided)
    joins = _game_joins(cols, sided) if table != "nba_raw.nbac_schedule" and vals else []
    if not joins:
        return [("_corrected", f"SELECT *, CAST(NULL AS VARCHAR) AS __correction FROM {source}")]
    if "c2" in dict(joins) and "nba_game_id" in cols:   # matched by game_id: the NBA id too
        vals = vals + [("nba_game_id", "__c_nba_game_id")]

    def game(col: str) -> str:    # the matched game's column (no row matches both joins)
        if len(joins) == 1:
            return f"{joins[0][0]}.{col}"
        return f"CASE WHEN c1.nba_game_id IS NOT NULL THEN c1.{col} ELSE c2.{col} END"
    scheduled = (f"SELECT s.*, {', '.join(f'{game(c)} AS __c_{c}' for c in _GAME_COLUMNS)} FROM {source} s "
                 + " ".join(f"LEFT JOIN _contract_schedule {alias} ON {on}" for alias, on in joins))
    fix = "__in_scope AND len(__reasons) = 0 AND __c_nba_game_id IS NOT NULL"
    if "team_abbr" in cols:
        fix += " AND team_abbr IN (__c_home_team_abbr, __c_away_team_abbr)"
    if sided:   # only the date: sides that contradict are quarantined instead
        fix += " AND away_team_abbr = __c_away_team_abbr AND home_team_abbr = __c_home_team_abbr"
    fix += " AND (" + " OR ".join(f"{c} IS DISTINCT FROM {v}" for c, v in vals) + ")"
    detail = ", ".join(f"CASE WHEN {c} IS DISTINCT FROM {v} THEN '{c} ' || coalesce(CAST({c} AS VARCHAR), 'NULL') "
                       f"|| ' -> ' || CAST({v} AS VARCHAR) END" for c, v in vals)
    corrected = (f"SELECT * EXCLUDE (__fix, {', '.join(f'__c_{c}' for c in _GAME_COLUMNS)}) REPLACE ("
                 + ", ".join(f"CASE WHEN __fix THEN {v} ELSE {c} END AS {c}" for c, v in vals)
                 + f"), CASE WHEN __fix THEN concat_ws('; ', {detail}) END AS __correction "
                 f"FROM (SELECT *, {fix} AS __fix FROM _scheduled)")
    return [("_scheduled", scheduled), ("_corrected", corrected)]


def _game_joins(cols: set[str], sided: bool) -> list[tuple[str, str]]:
    """How a staged row finds its scheduled game: (alias, join condition). By its NBA id; a row
    without one (or whose id the source did not give) whose sides are the reverse of a
    scheduled game's on the same date (a neutral-site game written from the other side), by
    that game_id. A team plays once a day: a game_id equal to a scheduled game's reversed one
    is never itself scheduled."""
    joins = []
    if "nba_game_id" in cols:
        joins.append(("c1", "c1.nba_game_id = s.nba_game_id"))
    if "game_id" in cols and not sided:
        joins.append(("c2", "c2.reversed_game_id = s.game_id AND c2.reversed_first"
                            + (" AND s.nba_game_id IS NULL" if "nba_game_id" in cols else "")))
    return joins


def _check_layer(table: str, cols: set[str], source: str) -> str:
    """Rows in scope with no reason yet that break row rules get those rules' reasons, each
    starting with the rule's name. Each rule's condition is a flag computed once (the
    reasons read stage columns only, not the schedule's)."""
    checks = row_checks(table, cols)
    if not checks:
        return f"SELECT * FROM {source}"
    flags = ", ".join(f"coalesce({c}, false) AS __broken{i}" for i, (_, c, _) in enumerate(checks))
    items = ", ".join(f"CASE WHEN __broken{i} THEN '{rule}: ' || coalesce({reason}, '?') END"
                      for i, (rule, _, reason) in enumerate(checks))
    broken = " OR ".join(f"__broken{i}" for i in range(len(checks)))
    return (f"SELECT * EXCLUDE ({', '.join(f'__broken{i}' for i in range(len(checks)))}) REPLACE ("
            f"CASE WHEN __in_scope AND len(__reasons) = 0 AND ({broken}) "
            f"THEN list_filter([{items}], lambda x: x IS NOT NULL) ELSE __reasons END AS __reasons) "
            f"FROM (SELECT s.*, {flags} FROM {source} s {check_joins(table, cols)})")


def record_corrections(wh, table: str, path: str, sha: str, loader: str, corrected: int) -> None:
    """The file's corrected rows (_stage2.__correction) into nba_raw.contract_corrections,
    replacing those of an earlier load of the same content or version of the file."""
    wh.execute("DELETE FROM nba_raw.contract_corrections WHERE (source_sha256 = ? OR source_file = ?) "
               "AND loader = ?", [sha, path, loader])
    if corrected:
        wh.execute("INSERT INTO nba_raw.contract_corrections SELECT ?, ?, ?, ?, __line, "
                   "'agrees_with_schedule', __correction, now() FROM _stage2 WHERE __correction IS NOT NULL",
                   [path, sha, loader, table])


# --- table rules (after load) -------------------------------------------------------------

def table_violations(wh, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """Every broken table rule as {rule, game_date, game_id, team_abbr, detail}, set-based over
    the raw tables (restricted to [start, end] when given)."""
    where = "game_date BETWEEN ? AND ?" if start and end else "true"
    params = [start, end] if start and end else []
    sql = f"""
        WITH teams AS (
            SELECT 'two_teams_per_game' AS rule, game_date, nba_game_id AS game, NULL AS team_abbr,
                   table_name || ' (' || data_source || ') has ' || n || ' team rows' AS detail
            FROM (SELECT 'nbac_team_boxscore' AS table_name, data_source, game_date, nba_game_id,
                         count(*) AS n FROM nba_raw.nbac_team_boxscore WHERE {where}
                  GROUP BY ALL
                  UNION ALL
                  SELECT 'nbac_team_game_logs', data_source, game_date, nba_game_id, count(*)
                  FROM nba_raw.nbac_team_game_logs WHERE {where} GROUP BY ALL)
            WHERE n <> 2),
        players AS (
            SELECT nba_game_id, team_abbr, min(game_date) AS game_date, sum(points) AS pts,
                   count(*) FILTER (WHERE starter_flag) AS starters
            FROM nba_raw.nbac_gamebook_player_stats WHERE data_source = 'bbref' AND {where}
            GROUP BY nba_game_id, team_abbr),
        sums AS (
            SELECT 'player_points_sum_to_team', p.game_date, p.nba_game_id, p.team_abbr,
                   'players ' || p.pts || ' vs team ' || t.points
            FROM players p JOIN nba_raw.nbac_team_boxscore t
              ON t.nba_game_id = p.nba_game_id AND t.team_abbr = p.team_abbr AND t.data_source = 'bbref'
            WHERE p.pts IS NOT NULL AND t.points IS NOT NULL AND p.pts <> t.points),
        starters AS (
            SELECT 'five_starters', game_date, nba_game_id, team_abbr, starters || ' starters'
            FROM players WHERE starters <> 5)
        SELECT * FROM teams UNION ALL SELECT * FROM sums UNION ALL SELECT * FROM starters
        ORDER BY 2, 3, 4, 1"""
    cols = ("rule", "game_date", "game", "team_abbr", "detail")
    return [dict(zip(cols, r)) for r in wh.tuples(sql, params * 3)]   # `where` is used three times


RULE_TABLES = {"two_teams_per_game": "nba_raw.nbac_team_boxscore",
               "player_points_sum_to_team": "nba_raw.nbac_gamebook_player_stats",
               "five_starters": "nba_raw.nbac_gamebook_player_stats"}


def suspect_dates(wh, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """The table rules' failures grouped per rule: the suspect dates and a few examples, as
    `verify` problems ({kind, table, dates, detail})."""
    by_rule: dict[str, list[dict]] = {}
    for v in table_violations(wh, start, end):
        by_rule.setdefault(v["rule"], []).append(v)
    out = []
    for rule, vs in by_rule.items():
        dates = sorted({v["game_date"].isoformat() for v in vs if v["game_date"]})
        examples = "; ".join(f"{v['game_date']} {v['game']}{' ' + v['team_abbr'] if v['team_abbr'] else ''}: "
                             f"{v['detail']}" for v in vs[:3])
        out.append({"kind": "suspect", "table": RULE_TABLES.get(rule, "nba_raw"), "dates": dates,
                    "detail": f"contract {rule}: {len(vs)} team-game(s) break it ({examples})"})
    return out
