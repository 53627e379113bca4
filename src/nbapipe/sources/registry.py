"""nba_reference, rebuilt from nba_raw after every ingest: teams, the schedule (one row per
game, best source first), the player registry, name aliases and the names nothing links.

Players are identified by `player_lookup`, one per person. A person is known by his
Basketball-Reference id, else his NBA id (the crosswalk joins the two), else, for a source
without ids, by his normalised name within the same game and team ("GG Jackson" in a feed
that drops the suffix is "GG Jackson II" of the box score). Each person's canonical spelling
is his latest Basketball-Reference name (else his latest name anywhere), and every spelling
seen maps to it in nba_reference.player_alias, so a player keeps one key across sources and
seasons ("Jimmy Butler" and "Jimmy Butler III"). What cannot be linked is listed with counts,
never dropped.
"""
from __future__ import annotations

from nbapipe import ids
from nbapipe.warehouse import Warehouse

# Schedule sources in order of trust (the scraped box-score pages, then NBA.com's feeds).
SCHEDULE_PRIORITY = ("bbref", "nba_api", "nbac")

# Name-bearing raw tables: (table, name column, has team column) -> linked or reported.
NAMED_SOURCES = [
    ("nba_raw.nbac_gamebook_player_stats", True),
    ("nba_raw.nbac_player_boxscores", True),
    ("nba_raw.bdl_player_boxscores", True),
    ("nba_raw.nbac_shot_chart", True),
    ("nba_raw.odds_api_player_points_props", False),
    ("nba_raw.odds_api_player_props", False),
    ("nba_raw.injury_transactions", False),
    ("nba_raw.nbac_injury_report", False),
]

# A lookup without its generational suffix, for matching "GG Jackson" to "GG Jackson II".
_BARE = "regexp_replace({}, '(jr|sr|ii|iii|iv|v)$', '')"


def rebuild_reference(wh: Warehouse) -> dict:
    _teams(wh)
    _schedule(wh)
    _registry(wh)
    return {
        "schedule_games": wh.scalar("SELECT count(*) FROM nba_reference.schedule"),
        "players": wh.scalar("SELECT count(*) FROM nba_reference.player_registry"),
        "aliases": wh.scalar("SELECT count(*) FROM nba_reference.player_alias WHERE how <> 'self'"),
        "unresolved_names": wh.scalar("SELECT count(*) FROM nba_reference.unresolved_player_names"),
    }


def _teams(wh: Warehouse) -> None:
    wh.execute("DELETE FROM nba_reference.teams")
    wh.con.executemany("INSERT INTO nba_reference.teams VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [list(t.values()) for t in ids.teams()])


def _schedule(wh: Warehouse) -> None:
    rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SCHEDULE_PRIORITY))
    wh.execute(f"""
        CREATE OR REPLACE TABLE nba_reference.schedule AS
        SELECT * EXCLUDE (source_rank) FROM (
            SELECT s.*, row_number() OVER (
                       PARTITION BY nba_game_id
                       ORDER BY CASE data_source {rank} ELSE 99 END, data_source) AS source_rank
            FROM nba_raw.nbac_schedule s)
        WHERE source_rank = 1
        ORDER BY game_date, nba_game_id""")


def _has(wh: Warehouse, table: str) -> bool:
    return wh.table_exists(table) and wh.scalar(f"SELECT count(*) > 0 FROM {table}")


def _empty(cols: str) -> str:
    return f"SELECT {cols} WHERE false"


def _registry(wh: Warehouse) -> None:
    xw = ("SELECT bbref_player_id, nba_player_id FROM nba_reference.player_id_crosswalk "
          "WHERE nba_player_id IS NOT NULL AND bbref_player_id IS NOT NULL"
          if _has(wh, "nba_reference.player_id_crosswalk")
          else _empty("NULL::VARCHAR bbref_player_id, NULL::VARCHAR nba_player_id"))
    wh.execute(f"CREATE OR REPLACE TEMP TABLE _xw AS {xw}")
    _sightings(wh)
    _people(wh)
    _alias_and_registry(wh)
    _unresolved(wh)


# Every place a player name appears with a game, team and the ids the source gives; rank 0 is
# the primary box score (Basketball-Reference pages), whose spelling is preferred.
_SIGHTING_SOURCES = {
    "nba_raw.nbac_gamebook_player_stats": "CAST(bbref_player_id AS VARCHAR), CAST(nba_player_id AS VARCHAR), "
                                          "CASE data_source WHEN 'bbref' THEN 0 ELSE 1 END",
    "nba_raw.nbac_player_boxscores": "NULL, CAST(nba_player_id AS VARCHAR), 2",
    "nba_raw.bdl_player_boxscores": "NULL, NULL, 3",
    "nba_raw.nbac_shot_chart": "NULL, CAST(nba_player_id AS VARCHAR), 4",
}


def _sightings(wh: Warehouse) -> None:
    parts = [f"SELECT DISTINCT player_lookup, player_name, game_id, game_date, team_abbr, {ids_sql}, data_source "
             f"FROM {t} WHERE player_lookup IS NOT NULL"
             for t, ids_sql in _SIGHTING_SOURCES.items() if _has(wh, t)]
    cols = ("player_lookup", "player_name", "game_id", "game_date", "team_abbr", "bbref_player_id",
            "nba_player_id", "source_rank", "data_source")
    body = " UNION ALL ".join(parts) or _empty(", ".join(f"NULL AS {c}" for c in cols))
    wh.execute(f"CREATE OR REPLACE TEMP TABLE _sightings AS SELECT * FROM ({body}) AS s({', '.join(cols)})")


def _people(wh: Warehouse) -> None:
    """The person of every spelling, strongest evidence first: a Basketball-Reference id (direct
    or through the crosswalk); else a same-game, same-team sighting of such a person whose name
    equals it once a generational suffix is dropped (unique match only); else an NBA id the
    crosswalk does not know; else the spelling is its own person."""
    bare = _BARE.format
    wh.execute("""
        CREATE OR REPLACE TEMP TABLE _by_id AS
        SELECT s.*, coalesce('bbref:' || s.bbref_player_id, 'bbref:' || x.bbref_player_id) AS person
        FROM _sightings s LEFT JOIN _xw x ON x.nba_player_id = s.nba_player_id""")
    wh.execute(f"""
        CREATE OR REPLACE TEMP TABLE _person_of AS
        WITH known AS (SELECT * FROM _by_id WHERE person IS NOT NULL),
        by_spelling AS (   -- a spelling's person: the one it is most often seen with
            SELECT player_lookup, person FROM (
                SELECT player_lookup, person, row_number() OVER (
                           PARTITION BY player_lookup ORDER BY count(*) DESC, min(source_rank), person) AS r
                FROM known GROUP BY player_lookup, person) WHERE r = 1),
        unknown AS (SELECT DISTINCT player_lookup, game_id, team_abbr, nba_player_id FROM _by_id
                    WHERE person IS NULL AND player_lookup NOT IN (SELECT player_lookup FROM by_spelling)),
        matched AS (
            SELECT u.player_lookup, min(k.person) AS person, count(DISTINCT k.person) AS n
            FROM unknown u JOIN known k
              ON k.game_id = u.game_id AND k.team_abbr = u.team_abbr
             AND {bare('k.player_lookup')} = {bare('u.player_lookup')}
            GROUP BY u.player_lookup),
        named AS (SELECT player_lookup, person FROM matched WHERE n = 1),
        by_nba_id AS (
            SELECT player_lookup, 'nba:' || min(nba_player_id) AS person FROM unknown
            WHERE nba_player_id IS NOT NULL AND player_lookup NOT IN (SELECT player_lookup FROM named)
            GROUP BY player_lookup)
        SELECT player_lookup, person, 'id' AS how FROM by_spelling
        UNION ALL SELECT player_lookup, person, 'name_in_game' FROM named
        UNION ALL SELECT player_lookup, person, 'nba_id' FROM by_nba_id
        UNION ALL           -- nothing links it: the spelling is its own person
        SELECT DISTINCT player_lookup, 'name:' || player_lookup, 'own_name' FROM unknown
        WHERE player_lookup NOT IN (SELECT player_lookup FROM named)
          AND player_lookup NOT IN (SELECT player_lookup FROM by_nba_id)""")


def _alias_and_registry(wh: Warehouse) -> None:
    wh.execute("""
        CREATE OR REPLACE TEMP TABLE _canonical AS
        SELECT person, player_lookup, player_name FROM (
            SELECT p.person, s.player_lookup, s.player_name,
                   row_number() OVER (PARTITION BY p.person
                                      ORDER BY CASE WHEN s.source_rank = 0 THEN 0 ELSE 1 END,
                                               s.game_date DESC, s.player_lookup) AS r
            FROM _sightings s JOIN _person_of p ON p.player_lookup = s.player_lookup) WHERE r = 1""")
    wh.execute("""
        CREATE OR REPLACE TABLE nba_reference.player_alias AS
        SELECT p.player_lookup AS alias_lookup, c.player_lookup,
               CASE WHEN p.player_lookup = c.player_lookup THEN 'self' ELSE p.how END AS how
        FROM _person_of p JOIN _canonical c ON c.person = p.person
        ORDER BY alias_lookup""")
    wh.execute("""
        CREATE OR REPLACE TABLE nba_reference.player_registry AS
        SELECT c.player_lookup,
               min(c.player_name) AS player_name,
               max(s.bbref_player_id) AS bbref_player_id,
               coalesce(max(x.nba_player_id), max(s.nba_player_id)) AS nba_player_id,
               min(s.game_date) AS first_game_date, max(s.game_date) AS last_game_date,
               count(DISTINCT s.game_id) AS games_listed,
               list(DISTINCT s.data_source ORDER BY s.data_source) AS sources,
               list(DISTINCT s.player_lookup ORDER BY s.player_lookup) AS spellings
        FROM _canonical c
        JOIN _person_of p ON p.person = c.person
        JOIN _sightings s ON s.player_lookup = p.player_lookup
        LEFT JOIN _xw x ON x.bbref_player_id = s.bbref_player_id
        WHERE s.source_rank < 4            -- box-score sightings make a player; shots alone do not
        GROUP BY c.player_lookup
        ORDER BY c.player_lookup""")


def _unresolved(wh: Warehouse) -> None:
    """Names of every source that resolve to no registry player: listed, never dropped."""
    parts = []
    for table, _ in NAMED_SOURCES:
        if _has(wh, table):
            parts.append(f"""
                SELECT '{table}' AS source_table, t.player_lookup, min(t.player_name) AS example_name,
                       count(*) AS rows
                FROM {table} t
                LEFT JOIN nba_reference.player_alias a ON a.alias_lookup = t.player_lookup
                WHERE t.player_lookup IS NOT NULL
                  AND coalesce(a.player_lookup, t.player_lookup) NOT IN
                      (SELECT player_lookup FROM nba_reference.player_registry)
                GROUP BY t.player_lookup""")
    body = " UNION ALL ".join(parts) or _empty(
        "NULL::VARCHAR source_table, NULL::VARCHAR player_lookup, NULL::VARCHAR example_name, 0::BIGINT rows")
    wh.execute(f"CREATE OR REPLACE TABLE nba_reference.unresolved_player_names AS "
               f"SELECT * FROM ({body}) ORDER BY source_table, rows DESC, player_lookup")
