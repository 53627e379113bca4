"""nba_reference, rebuilt from nba_raw after every ingest: teams, the schedule (one row per
game, best source first), the player registry, name aliases and the names nothing links.

Players are identified by `player_lookup`. The registry's canonical spelling is the one of the
primary box-score source (the gamebook table); other sources' spellings are linked to it by
NBA id where the crosswalk gives one, else by normalised name within the same game and team
("GG Jackson" -> "GG Jackson II"). What cannot be linked is listed with counts, never dropped.
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


def _registry(wh: Warehouse) -> None:
    crosswalk = _has(wh, "nba_reference.player_id_crosswalk")
    # Canonical players: everyone in a box-score source; the gamebook's spelling wins.
    box_sources = [t for t, _ in NAMED_SOURCES[:3] if _has(wh, t)]
    id_cols = {
        "nba_raw.nbac_gamebook_player_stats": ("bbref_player_id", "nba_player_id"),
        "nba_raw.nbac_player_boxscores": ("NULL", "nba_player_id"),
        "nba_raw.bdl_player_boxscores": ("NULL", "NULL"),
    }
    union = " UNION ALL ".join(
        f"SELECT player_lookup, player_name, game_id, game_date, team_abbr, "
        f"CAST({id_cols[t][0]} AS VARCHAR) AS bbref_player_id, CAST({id_cols[t][1]} AS VARCHAR) AS nba_player_id, "
        # Within the gamebook table the bbref pages rank first: they cover every season.
        f"{i * 10} + CASE data_source WHEN 'bbref' THEN 0 ELSE 1 END AS source_rank, data_source "
        f"FROM {t} WHERE player_lookup IS NOT NULL"
        for i, t in enumerate(box_sources)) or \
        ("SELECT NULL::VARCHAR player_lookup, NULL::VARCHAR player_name, NULL::VARCHAR game_id, NULL::DATE game_date, "
         "NULL::VARCHAR team_abbr, NULL::VARCHAR bbref_player_id, NULL::VARCHAR nba_player_id, 0 source_rank, "
         "NULL::VARCHAR data_source WHERE false")
    wh.execute(f"CREATE OR REPLACE TEMP TABLE _box_players AS {union}")
    xw = ("SELECT bbref_player_id, nba_player_id FROM nba_reference.player_id_crosswalk "
          "WHERE nba_player_id IS NOT NULL") if crosswalk else \
        "SELECT NULL::VARCHAR bbref_player_id, NULL::VARCHAR nba_player_id WHERE false"
    wh.execute(f"CREATE OR REPLACE TEMP TABLE _xw AS {xw}")
    # The primary spelling of each game/team roster: rows of the best-ranked source per game.
    wh.execute("""
        CREATE OR REPLACE TEMP TABLE _primary AS
        SELECT b.* FROM _box_players b
        JOIN (SELECT game_id, min(source_rank) r FROM _box_players GROUP BY game_id) m
          ON m.game_id = b.game_id AND m.r = b.source_rank""")
    bare = _BARE.format
    wh.execute(f"""
        CREATE OR REPLACE TABLE nba_reference.player_alias AS
        WITH names AS (   -- every (spelling, game, team, nba id) seen in a box-score or shot source
            SELECT DISTINCT player_lookup, game_id, team_abbr, nba_player_id FROM _box_players
            UNION
            SELECT DISTINCT player_lookup, game_id, team_abbr, CAST(nba_player_id AS VARCHAR)
            FROM nba_raw.nbac_shot_chart),
        canon AS (SELECT DISTINCT player_lookup FROM _primary),
        by_id AS (        -- NBA id -> bbref id (crosswalk) -> the primary spelling
            SELECT DISTINCT n.player_lookup AS alias_lookup, p.player_lookup, 'crosswalk_id' AS how
            FROM names n JOIN _xw ON _xw.nba_player_id = n.nba_player_id
            JOIN (SELECT DISTINCT player_lookup, bbref_player_id FROM _primary) p
              ON p.bbref_player_id = _xw.bbref_player_id
            WHERE n.player_lookup NOT IN (SELECT player_lookup FROM canon)
              AND p.player_lookup <> n.player_lookup),
        by_name AS (      -- same game and team, equal once a generational suffix is dropped
            SELECT n.player_lookup AS alias_lookup, min(p.player_lookup) AS player_lookup,
                   'name_in_game' AS how
            FROM names n JOIN _primary p
              ON p.game_id = n.game_id AND p.team_abbr = n.team_abbr
             AND {bare('p.player_lookup')} = {bare('n.player_lookup')}
             AND p.player_lookup <> n.player_lookup
            WHERE n.player_lookup NOT IN (SELECT player_lookup FROM canon)
              AND n.player_lookup NOT IN (SELECT alias_lookup FROM by_id)
            GROUP BY n.player_lookup HAVING count(DISTINCT p.player_lookup) = 1)
        SELECT player_lookup AS alias_lookup, player_lookup, 'self' AS how FROM canon
        UNION ALL SELECT * FROM by_id
        UNION ALL SELECT * FROM by_name
        ORDER BY alias_lookup""")
    wh.execute("""
        CREATE OR REPLACE TABLE nba_reference.player_registry AS
        WITH linked AS (
            SELECT coalesce(a.player_lookup, b.player_lookup) AS player_lookup, b.*
                   EXCLUDE (player_lookup)
            FROM _box_players b LEFT JOIN nba_reference.player_alias a ON a.alias_lookup = b.player_lookup)
        SELECT l.player_lookup,
               arg_min(l.player_name, l.source_rank * 100000000 - epoch(l.game_date)::BIGINT) AS player_name,
               max(l.bbref_player_id) AS bbref_player_id,
               coalesce(max(_xw.nba_player_id), max(l.nba_player_id)) AS nba_player_id,
               min(l.game_date) AS first_game_date, max(l.game_date) AS last_game_date,
               count(DISTINCT l.game_id) AS games_listed,
               list(DISTINCT l.data_source ORDER BY l.data_source) AS sources
        FROM linked l LEFT JOIN _xw ON _xw.bbref_player_id = l.bbref_player_id
        GROUP BY l.player_lookup
        ORDER BY l.player_lookup""")
    # Names of every source that resolve to no registry player: listed, never dropped.
    parts = []
    for table, _ in NAMED_SOURCES:
        if _has(wh, table):
            parts.append(f"""
                SELECT '{table}' AS source_table, player_lookup, min(player_name) AS example_name,
                       count(*) AS rows
                FROM {table} t
                WHERE player_lookup IS NOT NULL
                  AND player_lookup NOT IN (SELECT alias_lookup FROM nba_reference.player_alias)
                  AND player_lookup NOT IN (SELECT player_lookup FROM nba_reference.player_registry)
                GROUP BY player_lookup""")
    body = " UNION ALL ".join(parts) or \
        "SELECT NULL::VARCHAR source_table, NULL::VARCHAR player_lookup, NULL::VARCHAR example_name, 0::BIGINT rows WHERE false"
    wh.execute(f"CREATE OR REPLACE TABLE nba_reference.unresolved_player_names AS "
               f"SELECT * FROM ({body}) ORDER BY source_table, rows DESC, player_lookup")
