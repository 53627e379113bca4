"""Identifier crosswalks (the `crosswalks/` folder) -> nba_reference.

team_codes.csv -> team_code_crosswalk; player_id_crosswalk.csv -> player_id_crosswalk
(Basketball-Reference player id -> NBA.com person id; unmatched players keep a NULL NBA id,
which says "looked for and not found" rather than "not looked at")."""
from __future__ import annotations

from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Int, Team, Text

FAMILY = "crosswalks"

team_codes = Loader(
    name="team_code_crosswalk", family=FAMILY, table="nba_reference.team_code_crosswalk", order=5,
    description="NBA / Basketball-Reference / odds-dataset team codes",
    signature=frozenset({"nba", "bbref", "odds_dataset"}),
    columns={
        "team_abbr": Team("nba", required=True),
        "bbref_code": Text("bbref", required=True),
        "odds_code": Text("odds_dataset", required=True),
        "_nba": Text("nba"),
        "_bbref_team": Team("bbref"),
        "_odds_team": Team("odds_dataset"),
    },
    # Loaders map codes with ids (the one normalisation); a file that disagrees with it is
    # quarantined so the disagreement is seen instead of two mappings drifting apart.
    checks=[
        ("upper(_nba) <> team_abbr", "'not an NBA tricode: ' || _nba"),
        ("_bbref_team IS DISTINCT FROM team_abbr",
         "'bbref code ' || bbref_code || ' is not ' || team_abbr || ' in nbapipe.ids'"),
        ("_odds_team IS DISTINCT FROM team_abbr",
         "'odds code ' || odds_code || ' is not ' || team_abbr || ' in nbapipe.ids'"),
    ],
)

player_ids = Loader(
    name="player_id_crosswalk", family=FAMILY, table="nba_reference.player_id_crosswalk", order=5,
    description="Basketball-Reference player id -> NBA.com person id",
    signature=frozenset({"bbref_player_id", "bbref_name", "nba_player_id", "games_matched"}),
    optional=frozenset({"nba_name", "how"}),
    columns={
        "bbref_player_id": Text("bbref_player_id", required=True),
        "bbref_name": Text("bbref_name"),
        "nba_player_id": Text("nba_player_id"),
        "nba_name": Text("nba_name"),
        "games_matched": Int("games_matched"),
        "how": Text("how"),                      # name+game | fga+game | empty when unmatched
    },
    checks=[("NOT regexp_matches(nba_player_id, '^[0-9]+$')",
             "'not an NBA person id: ' || nba_player_id")],
)

LOADERS = [team_codes, player_ids]
