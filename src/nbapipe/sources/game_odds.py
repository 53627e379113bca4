"""SportsbookReview game lines via Kaggle (the `game_odds/` folder) -> nba_raw.odds_api_game_lines.

Closing consensus lines with no snapshot time: bookmaker 'consensus', snapshot_at NULL. Team
codes are the odds datasets' lowercase codes (gs, no, ny, sa, utah, wsh), which ids maps.
The full-lines file and the spreads-only file describe the same games with the same spreads
(checked: they differ only where the spreads file has no spread), so both load under one
data_source and the spreads file's rows merge into the full rows (the base upserts only the
columns a loader declares)."""
from __future__ import annotations

from nbapipe import ids
from nbapipe.sources.base import Loader
from nbapipe.sources.columns import Date, NbaGameId, Num, Team, Text
from nbapipe.sources.props import AmericanOdds

FAMILY = "sbr"
TABLE = "nba_raw.odds_api_game_lines"


def _columns(spread_required: bool) -> dict:
    # `season` (the END year: 2022 = 2021-22) is not loaded: the schedule owns seasons.
    return {
        "game_date": Date("date", required=True),
        "away_team_abbr": Team("away", required=True),
        "home_team_abbr": Team("home", required=True),
        "nba_game_id": NbaGameId("nba_game_id"),
        "_favored": Text("whos_favored", required=True),
        "_spread": Num("spread", required=spread_required, minimum=0),
    }


DERIVED = {
    "game_id": ids.game_id_sql("game_date", "away_team_abbr", "home_team_abbr"),
    "bookmaker": "'consensus'",
    "snapshot_at": "CAST(NULL AS TIMESTAMP)",
    # SBR gives the favourite's margin; seen from the home team a favourite gives points (-).
    # 0 - x, not -x: a pick'em stays 0.0 instead of -0.0.
    "home_spread": "CASE _favored WHEN 'home' THEN 0 - _spread WHEN 'away' THEN _spread END",
}
CHECKS = [("_favored NOT IN ('home', 'away')", "'whos_favored must be home or away: ' || _favored")]

lines = Loader(
    name="sbr_game_lines", family=FAMILY, table=TABLE,
    description="SportsbookReview closing spread, total and moneylines per game (2007-08..2023-01)",
    signature=frozenset({"date", "away", "home", "whos_favored", "spread", "total",
                         "moneyline_away", "moneyline_home"}),
    optional=frozenset({"nba_game_id"}),
    columns={
        **_columns(spread_required=False),
        "total": Num("total", minimum=0),
        "home_moneyline": AmericanOdds("moneyline_home"),
        "away_moneyline": AmericanOdds("moneyline_away"),
    },
    derived=DERIVED,
    checks=CHECKS,
    nullable_key=frozenset({"snapshot_at"}),
)

spreads = Loader(
    name="sbr_game_spreads", family=FAMILY, table=TABLE,
    description="SportsbookReview closing spreads only, regular seasons 2007-08..2023-24",
    signature=frozenset({"date", "away", "home", "whos_favored", "spread"}),
    absent=frozenset({"total", "moneyline_home"}),
    optional=frozenset({"nba_game_id"}),
    # A row whose only payload is missing would blank the full file's spread: quarantine it.
    columns=_columns(spread_required=True),
    derived=DERIVED,
    checks=CHECKS,
    nullable_key=frozenset({"snapshot_at"}),
)

LOADERS = [lines, spreads]
