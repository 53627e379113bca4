"""Sportsbook player-prop lines as CSV (the `props/` folder).

Points lines -> nba_raw.odds_api_player_points_props; every other market (threes, rebounds,
points+rebounds+assists, ...) -> nba_raw.odds_api_player_props with its `market`.
The files carry player names only: every row gets player_lookup so it joins the registry,
and bookmakers are written as The Odds API keys whatever spelling the file uses.

Layouts: The Odds API points 2024 (one row per event, book, player, line), the 2025-26 daily
snapshots (points-only and all-markets files share one header: two loaders split it by
market), threes 2025-26, points+rebounds+assists 2023-24, and the 2021 betfinder scrape
(long format, one row per side: pivoted to one row per line before loading).
"""
from __future__ import annotations

from dataclasses import dataclass

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Bool, Date, Int, Num, Team, Text, Timestamp, et_date, q

FAMILY = "odds_api"
POINTS_TABLE = "nba_raw.odds_api_player_points_props"
PROPS_TABLE = "nba_raw.odds_api_player_props"


@dataclass(frozen=True)
class AmericanOdds(Num):
    """An American price (-110, +120). |odds| < 100 does not exist: it is a typo, not a price."""

    def checks(self, target: str) -> list[tuple[str, str]]:
        out = super().checks(target)
        out.append((f"abs({self._double()}) < 100",
                    f"'impossible American odds in column {self.src}: ' || {self.text}"))
        return out


# The Odds API bookmaker keys. Most display titles reduce to their key once lower-cased and
# stripped of punctuation ('BetOnline.ag' -> betonlineag, 'PointsBet (US)' -> pointsbetus);
# these four do not. One spelling per book, or a median over books counts a book twice.
_BOOK_TITLES = {"caesars": "williamhill_us", "unibet": "unibet_us", "pointsbet": "pointsbetus",
                "barstoolsportsbook": "barstool"}
BOOKMAKER = ("CASE regexp_replace(lower({0}), '[^a-z0-9]', '', 'g') "
             + " ".join(f"WHEN '{t}' THEN '{k}'" for t, k in _BOOK_TITLES.items())
             + " ELSE regexp_replace(lower(trim({0})), '[^a-z0-9_]', '', 'g') END")

# 'Houston Rockets @ Oklahoma City Thunder': away team before the '@', home team after it.
AWAY_OF_GAME = "split_part({}, ' @ ', 1)"
HOME_OF_GAME = "split_part({}, ' @ ', 2)"

LOOKUP = ids.player_lookup_sql("player_name")


def game_id(date_sql: str) -> str:
    return ids.game_id_sql(date_sql, "away_team_abbr", "home_team_abbr")


def slate_start(date_col: str) -> str:
    """00:00 US Eastern of a slate's date, as naive UTC: the stand-in snapshot time of a line
    whose file gives none (every line of a slate was listed on its date, so no later)."""
    return f"CAST(timezone('America/New_York', CAST({date_col} AS TIMESTAMP)) AS TIMESTAMP)"


def snapshot_or_slate(*snapshot_cols: str, date_col: str) -> dict[str, str]:
    """snapshot_at from the first snapshot column the row has, else the slate's start, with
    snapshot_imputed saying which: a missing optional time never quarantines a line. The
    points-line chain uses an imputed line only where that start is before a known tip-off."""
    known = ", ".join(snapshot_cols)
    return {"snapshot_at": f"coalesce({known}, {slate_start(date_col)})",
            "snapshot_imputed": f"coalesce({known}) IS NULL"}


def first_of_identical(*cols: str) -> str:
    """Scope filter that keeps the first of rows identical in every loaded column: an exact
    repeat adds nothing, so it is counted as filtered instead of quarantined as a clash."""
    return f"row_number() OVER (PARTITION BY {', '.join(q(c) for c in cols)} ORDER BY __line) = 1"


def _line_columns(player: str, over: str, under: str) -> dict:
    return {
        "player_name": Text(player, required=True),
        "over_price": AmericanOdds(over),
        "under_price": AmericanOdds(under),
    }


# --- The Odds API, points 2024 -----------------------------------------------------------------

POINTS_2024_SIGNATURE = frozenset({"game_date_et", "home_nba", "away_nba", "bookmaker", "player", "line",
                                   "is_main_line"})
# A `market` column, when the file has one, routes its rows: points to the points table, every
# other market to the all-markets table (odds_api_markets_csv).
POINTS_MARKETS = ("player_points", "points")
_IS_POINTS = f"lower(_market) IN {POINTS_MARKETS}"


def _points_2024_columns(line_col: str) -> dict:
    return {
        "game_date": Date("game_date_et", required=True),
        "event_id": Text("event_id"),
        "commence_time": Timestamp("commence_time"),          # empty for the oldest snapshot
        "_market_update": Timestamp("market_last_update"),
        "bookmaker": Text("bookmaker", required=True, pre=BOOKMAKER),
        "away_team_abbr": Team("away_nba", required=True),
        "home_team_abbr": Team("home_nba", required=True),
        line_col: Num("line", required=True, minimum=0),
        "is_main_line": Bool("is_main_line"),                 # BetRivers/Unibet post ladders
        "_market": Text("market"),
        **_line_columns("player", "over_odds", "under_odds"),
    }


_POINTS_2024_DERIVED = {"game_id": game_id("game_date"), "player_lookup": LOOKUP,
                        **snapshot_or_slate("_market_update", date_col="game_date")}

points_2024 = Loader(
    name="odds_api_points_csv", family=FAMILY, table=POINTS_TABLE,
    description="The Odds API points lines, one row per event, book, player and line (2024 layout)",
    signature=POINTS_2024_SIGNATURE,
    optional=frozenset({"commence_time", "event_id", "market_last_update", "market"}),
    columns=_points_2024_columns("points_line"),
    derived=_POINTS_2024_DERIVED,
    where=f"_market IS NULL OR {_IS_POINTS}",
)

markets_2024 = Loader(
    name="odds_api_markets_csv", family=FAMILY, table=PROPS_TABLE,
    description="The 2024 layout with a market column: every market except points",
    signature=POINTS_2024_SIGNATURE | {"market"},
    optional=frozenset({"commence_time", "event_id", "market_last_update"}),
    columns={**_points_2024_columns("line"), "_market": Text("market", required=True)},
    derived={**_POINTS_2024_DERIVED, "market": "_market"},
    # A row without a market is the points loader's (a points-only file has no market column).
    where=f"_market IS NOT NULL AND NOT {_IS_POINTS}",
)


# --- The Odds API, 2025-26 daily snapshots (points file and all-markets file) ------------------

SNAPSHOT_SIGNATURE = frozenset({"snapshot_utc", "event_id", "player", "market", "line", "bookmaker",
                                "game", "game_time", "is_main_line"})


def _snapshot_columns() -> dict:
    return {
        "event_id": Text("event_id"),
        "commence_time": Timestamp("game_time", required=True),
        "snapshot_at": Timestamp("snapshot_utc", required=True),
        "bookmaker": Text("bookmaker", required=True, pre=BOOKMAKER),
        "away_team_abbr": Team("game", required=True, pre=AWAY_OF_GAME),
        "home_team_abbr": Team("game", required=True, pre=HOME_OF_GAME),
        "is_main_line": Bool("is_main_line"),
        "_market": Text("market", required=True),
        **_line_columns("player", "over_odds", "under_odds"),
    }


# game_time is UTC: the game's date is its Eastern date (a 02:00Z tip-off is the evening before).
_SNAPSHOT_DATE = et_date("commence_time")
YES_NO_MARKETS = ("player_double_double", "player_triple_double")

snapshot_points = Loader(
    name="odds_api_snapshots_points", family=FAMILY, table=POINTS_TABLE,
    description="The Odds API 2025-26 snapshots: the player_points rows",
    signature=SNAPSHOT_SIGNATURE,
    columns={**_snapshot_columns(), "points_line": Num("line", required=True, minimum=0)},
    derived={"game_date": _SNAPSHOT_DATE, "game_id": game_id(_SNAPSHOT_DATE), "player_lookup": LOOKUP},
    # A row without a market is the other loader's to quarantine, not both loaders'.
    where="coalesce(_market = 'player_points', false)",
)

snapshot_markets = Loader(
    name="odds_api_snapshots_markets", family=FAMILY, table=PROPS_TABLE,
    description="The Odds API 2025-26 snapshots: every market except player_points",
    signature=SNAPSHOT_SIGNATURE,
    columns={**_snapshot_columns(), "line": Num("line", minimum=0)},
    derived={"game_date": _SNAPSHOT_DATE, "game_id": game_id(_SNAPSHOT_DATE), "player_lookup": LOOKUP,
             "market": "_market"},
    where="_market IS DISTINCT FROM 'player_points'",
    # Double/triple-double are yes/no markets: no line (and, in this file, no price either).
    nullable_key=frozenset({"line"}),
    checks=[(f"line IS NULL AND _market NOT IN {YES_NO_MARKETS}", "'missing value in column line'")],
)


# --- The Odds API, threes 2025-26 (one snapshot per slate) -------------------------------------

threes = Loader(
    name="odds_api_threes_csv", family=FAMILY, table=PROPS_TABLE,
    description="The Odds API threes-made lines, one snapshot per slate",
    signature=frozenset({"slate_date", "player", "game", "game_time", "market", "line", "bookmaker"}),
    optional=frozenset({"market_last_update", "bookmaker_last_update"}),
    columns={
        "_slate_date": Date("slate_date", required=True),
        "commence_time": Timestamp("game_time", required=True),
        "_market_update": Timestamp("market_last_update"),
        "_book_update": Timestamp("bookmaker_last_update"),
        "market": Text("market", required=True),
        "bookmaker": Text("bookmaker", required=True, pre=BOOKMAKER),
        "away_team_abbr": Team("game", required=True, pre=AWAY_OF_GAME),
        "home_team_abbr": Team("game", required=True, pre=HOME_OF_GAME),
        "line": Num("line", required=True, minimum=0),
        **_line_columns("player", "over_odds", "under_odds"),
    },
    derived={"game_date": _SNAPSHOT_DATE, "game_id": game_id(_SNAPSHOT_DATE), "player_lookup": LOOKUP,
             # The player_threes market holds one line per book and player (alternates are a
             # separate market the file does not have), so every row is the main line.
             "is_main_line": "true",
             **snapshot_or_slate("_market_update", "_book_update", date_col="_slate_date")},
)


# --- The Odds API, points+rebounds+assists 2023-24 ---------------------------------------------

_PRA_COLUMNS = {
    "event_id": Text("event_id"),
    "game_date": Date("event_date", required=True),
    "snapshot_at": Timestamp("timestamp", required=True),
    "bookmaker": Text("bookmaker", required=True, pre=BOOKMAKER),    # display titles here
    "home_team_abbr": Team("home_team", required=True),
    "away_team_abbr": Team("away_team", required=True),
    "line": Num("line", required=True, minimum=0),
    **_line_columns("player_name", "over_price", "under_price"),
}

pra = Loader(
    name="odds_api_pra_csv", family=FAMILY, table=PROPS_TABLE,
    description="The Odds API points+rebounds+assists lines (2023-24 layout)",
    signature=frozenset({"player_name", "event_id", "event_date", "home_team", "away_team",
                         "bookmaker", "line", "timestamp", "over_price", "under_price"}),
    columns=_PRA_COLUMNS,
    derived={"game_id": game_id("game_date"), "player_lookup": LOOKUP,
             "market": "'player_points_rebounds_assists'",
             "is_main_line": "true"},                         # one line per book, player, time
    # The file repeats 823 rows verbatim; a repeat is not a conflicting line.
    where=first_of_identical(*_PRA_COLUMNS),
)


# --- betfinder 2021 scrape: long format, one row per side ---------------------------------------

# One row per (game, player, market, book, line, snapshot) with the over and under prices side
# by side; the side counts let the loader quarantine a line with two prices for one side.
_SIDE = "lower(trim(side))"
BETFINDER_PIVOT = f"""
SELECT min(__line) AS __line,
       game_date_et, tipoff_utc, tipoff_string, home_team, away_team, player, market, book, line,
       commit_time,
       max(american_odds) FILTER (WHERE {_SIDE} = 'over')  AS over_odds,
       max(american_odds) FILTER (WHERE {_SIDE} = 'under') AS under_odds,
       CAST(count(*) FILTER (WHERE {_SIDE} = 'over') AS VARCHAR)  AS n_over,
       CAST(count(*) FILTER (WHERE {_SIDE} = 'under') AS VARCHAR) AS n_under,
       CAST(count(*) FILTER (WHERE {_SIDE} IS NULL OR {_SIDE} NOT IN ('over', 'under')) AS VARCHAR) AS n_other
FROM _file
GROUP BY ALL
"""


def _displayed_date(year: str) -> str:
    return f"TRY_CAST(TRY_STRPTIME({year} || '-' || _tipoff_md, '%Y-%m-%d') AS DATE)"


# The scraper converted the books' Eastern wall-clock times to UTC with a fixed -05:00 (EST) in
# October and early November, and PointsBet lists tip-offs 30 minutes late: a 10:30 PM game
# became 04:00Z and its game_date_et the next day. The date the book displayed
# ('Sun 10-31 11:00 PM EST') is the real game date; its year is game_date_et's, or the one before
# when the displayed day would fall after game_date_et (a game on 31 December).
_THIS_YEAR = _displayed_date("CAST(year(_game_date_et) AS VARCHAR)")
_LAST_YEAR = _displayed_date("CAST(year(_game_date_et) - 1 AS VARCHAR)")
BETFINDER_DATE = (f"coalesce(CASE WHEN {_THIS_YEAR} > _game_date_et THEN {_LAST_YEAR} "
                  f"ELSE {_THIS_YEAR} END, _game_date_et)")


def _implied(price: str) -> str:
    """Implied probability of an American price."""
    return f"CASE WHEN {price} < 0 THEN -{price} / (100 - {price}) ELSE 100 / ({price} + 100) END"


# DraftKings sometimes shows two over/under lines for a player: the main one is the most
# balanced (over and under closest to even), the lower line on a tie.
BETFINDER_MAIN = (
    "row_number() OVER (PARTITION BY _market, _game_date_et, away_team_abbr, home_team_abbr, "
    f"bookmaker, {LOOKUP}, snapshot_at "
    f"ORDER BY abs(({_implied('over_price')}) - ({_implied('under_price')})) NULLS LAST, "
    "points_line) = 1")

betfinder = Loader(
    name="betfinder_points_csv", family="betfinder", table=POINTS_TABLE,
    description="DraftKings/FanDuel/PointsBet points markets scraped in 2021 (one row per side)",
    signature=frozenset({"game_date_et", "tipoff_utc", "player", "market", "book", "line", "side",
                         "american_odds", "commit_time"}),
    source_sql=BETFINDER_PIVOT,
    source_columns=frozenset({"game_date_et", "tipoff_utc", "tipoff_string", "home_team", "away_team",
                              "player", "market", "book", "line", "side", "american_odds",
                              "commit_time"}),
    columns={
        "_game_date_et": Date("game_date_et", required=True),
        "_tipoff_md": Text("tipoff_string", pre="split_part(trim({}), ' ', 2)"),   # '10-31'
        "commence_time": Timestamp("tipoff_utc"),
        "snapshot_at": Timestamp("commit_time", required=True),                   # '... -0500'
        "away_team_abbr": Team("away_team", required=True),
        "home_team_abbr": Team("home_team", required=True),
        "_market": Text("market", required=True),
        "bookmaker": Text("book", required=True, pre=BOOKMAKER),
        "points_line": Num("line", required=True, minimum=0),
        "_n_over": Int("n_over"),
        "_n_under": Int("n_under"),
        "_n_other": Int("n_other"),
        **_line_columns("player", "over_odds", "under_odds"),
    },
    derived={"game_date": BETFINDER_DATE, "game_id": game_id(BETFINDER_DATE),
             "player_lookup": LOOKUP, "is_main_line": BETFINDER_MAIN},
    checks=[
        ("_n_over > 1 OR _n_under > 1", "'several prices for one side of the line'"),
        ("_n_other > 0", "'side is neither over nor under'"),
        (f"abs(date_diff('day', _game_date_et, {BETFINDER_DATE})) > 1",
         "'displayed date ' || _tipoff_md || ' is not near game_date_et'"),
    ],
    # points_ou is the main over/under market; points_alt and points_tiers are alternates.
    where="_market = 'points_ou'",
)

LOADERS = [points_2024, markets_2024, snapshot_points, snapshot_markets, threes, pra, betfinder]
