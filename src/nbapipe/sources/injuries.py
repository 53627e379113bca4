"""Pro Sports Transactions injured-list moves (the `injuries/` folder) -> nba_raw.injury_transactions.

A player in `Relinquished` left the lineup (placed on the injured list or day-to-day): action
'placed'; a player in `Acquired` came back: action 'returned'. Teams are nicknames ('Blazers',
'76ers'); names carry a leading bullet ('• Joel Embiid').

Rows without a player are quarantined with a reason rather than loaded as action 'note': the
table is read per player (player_lookup is part of its key), such a row cannot be linked to a
player or a game, and quarantine keeps the raw row, file and line visible for a person to look
at. Placeholder names where the site's parser put something else in the name cell (a team
nickname, 'Yes') are treated the same way: a person's name here always has two words.
"""
from __future__ import annotations

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Date, Int, Team, Text

# Drop the leading bullet and collapse runs of spaces ('•  Tony Parker' -> 'Tony Parker').
CLEAN_NAME = r"regexp_replace(regexp_replace({}, '^[•\s]+', ''), '\s+', ' ', 'g')"
PLAYER = "coalesce(_acquired, _relinquished)"

transactions = Loader(
    name="prosports_injuries", family="prosports", table="nba_raw.injury_transactions",
    description="Pro Sports Transactions injured-list and day-to-day moves",
    signature=frozenset({"Date", "Team", "Acquired", "Relinquished", "Notes"}),
    optional=frozenset({"EstimatedDaysOut"}),
    columns={
        "transaction_date": Date("Date", required=True),
        "team_abbr": Team("Team", required=True),
        "_acquired": Text("Acquired", pre=CLEAN_NAME),
        "_relinquished": Text("Relinquished", pre=CLEAN_NAME),
        "notes": Text("Notes"),
        "estimated_days_out": Int("EstimatedDaysOut"),
    },
    derived={
        # One row names the player in both columns ('returned to lineup'): Acquired wins.
        "player_name": PLAYER,
        "player_lookup": ids.player_lookup_sql(PLAYER),
        "action": "CASE WHEN _acquired IS NOT NULL THEN 'returned' "
                  "WHEN _relinquished IS NOT NULL THEN 'placed' END",
    },
    checks=[
        (f"{PLAYER} IS NULL", "'no player named (Acquired and Relinquished are empty)'"),
        (f"NOT regexp_matches({PLAYER}, '\\S\\s+\\S')",
         f"'not a player name (one word): ' || {PLAYER}"),
    ],
    nullable_key=frozenset({"notes"}),
)

LOADERS = [transactions]
